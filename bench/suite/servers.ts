/**
 * The servers under test, each a process of its own started from `node` directly (so the pid is the server's):
 * the gateway (`tradeql serve`, production mode) and the limit baseline (bench/baseline/server.ts), both compiled
 * (build.ts), and the PostGraphile peer. Start, readiness, kept warn/error log lines, statement counters, stop.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { BenchError, childExited, onLines, progress, waitFor } from './lifecycle';
import { baselineScript, gatewayScript } from './build';
import { ROOT, tradeqlArgs, tradeqlEnv } from './tradeql';

const LOG_LINES_KEPT = 100;

export type ServerName = 'gateway' | 'baseline' | 'peer';

export interface ServerProcess {
  name: ServerName;
  child: ChildProcess;
  port: number;
  baseUrl: string;
  logs: string[];
  exited?: { code: number | null; signal: NodeJS.Signals | null };
  /** SQL statements the process has sent and requests it has served since it started (the gateway's: by operation) */
  counters(): Promise<Counters>;
}

export interface Counters {
  statements: number;
  requests: number;
  /** the gateway's requests per GraphQL operation name */
  byOperation?: Map<string, number>;
}

export const servers: ServerProcess[] = [];

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function track(name: ServerName, child: ChildProcess, port: number, counters: (s: ServerProcess) => Promise<Counters>, keep: (line: string) => boolean): ServerProcess {
  const server: ServerProcess = { name, child, port, baseUrl: `http://127.0.0.1:${port}`, logs: [], counters: () => counters(server) };
  const keepLine = (line: string) => {
    if (server.logs.length < LOG_LINES_KEPT && keep(line)) server.logs.push(line.slice(0, 2000));
  };
  onLines(child.stdout!, keepLine);
  onLines(child.stderr!, (line) => keepLine(`[stderr] ${line}`));
  child.on('exit', (code, signal) => {
    server.exited = { code, signal };
    childExited(`${name} (pid ${child.pid}) exited during the run: code ${code}, signal ${signal}${server.logs.length ? `; last lines:\n  ${server.logs.slice(-5).join('\n  ')}` : ''}`);
  });
  servers.push(server);
  return server;
}

async function getJson(url: string): Promise<any> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new BenchError(`${url}: HTTP ${res.status}`);
  return res.json();
}

async function waitReady(server: ServerProcess, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const ready = await waitFor(async () => {
    try {
      return await probe();
    } catch {
      return false; // not listening yet
    }
  }, timeoutMs, 200);
  if (!ready) throw new BenchError(`${server.name} was not ready within ${timeoutMs / 1000} s${server.logs.length ? `:\n  ${server.logs.slice(-10).join('\n  ')}` : ''}`);
}

/** Pino JSON lines at warn and above, and anything that is not JSON but the start banner. */
const warnOrWorse = (line: string) => {
  if (!line.startsWith('{')) return line.startsWith('[stderr]');
  try {
    return ((JSON.parse(line) as { level?: number }).level ?? 0) >= 40;
  } catch {
    return true;
  }
};

export interface GatewaySettings {
  databaseUrl: string;
  replicaUrl?: string;
  redisUrl: string;
  channel: string;
  sync: boolean;
  /** write a V8 CPU profile of the gateway into this directory when it stops (--cpu-prof) */
  cpuProfDir?: string;
  /** extra flags for its node process (--node-flags) */
  nodeFlags?: string[];
}

/** The environment the gateway runs with (also recorded in the results). */
export function gatewayEnv(s: GatewaySettings, port: number): Record<string, string> {
  return {
    NODE_ENV: 'production',
    DATABASE_URL: s.databaseUrl,
    DATABASE_REPLICA_URLS: s.replicaUrl ?? '',
    REDIS_URL: s.redisUrl,
    EVENTS_CHANNEL: s.channel,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    SYNC_ENABLED: String(s.sync),
    METRICS_ENABLED: 'true',
    RATE_LIMIT_READS_PER_SEC: '0',
    RATE_LIMIT_MUTATIONS_PER_SEC: '0',
  };
}

/**
 * From the gateway's GET /metrics: statements = the sum of `tradeql_sql_statement_duration_seconds_count` (every
 * connection), requests = `tradeql_graphql_requests_total` by operation.
 */
async function gatewayCounters(s: ServerProcess): Promise<Counters> {
  const text = await (await fetch(`${s.baseUrl}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  const c: Counters = { statements: 0, requests: 0, byOperation: new Map() };
  for (const line of text.split('\n')) {
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('tradeql_sql_statement_duration_seconds_count')) c.statements += value;
    else if (line.startsWith('tradeql_graphql_requests_total{')) {
      const op = /operation="([^"]*)"/.exec(line)?.[1] ?? '';
      c.requests += value;
      c.byOperation!.set(op, (c.byOperation!.get(op) ?? 0) + value);
    }
  }
  return c;
}

export async function startGateway(s: GatewaySettings): Promise<ServerProcess> {
  const port = await freePort();
  const env = tradeqlEnv(gatewayEnv(s, port));
  const prof = s.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${s.cpuProfDir}`] : [];
  const child = spawn(process.execPath, [...(s.nodeFlags ?? []), ...prof, gatewayScript, 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const server = track('gateway', child, port, gatewayCounters, warnOrWorse);
  await waitReady(server, async () => (await fetch(`${server.baseUrl}/healthz`, { signal: AbortSignal.timeout(1_000) })).ok, 90_000);
  progress(`servers: gateway on :${port} (pid ${child.pid}${s.replicaUrl ? ', reads on the replica' : ''})`);
  return server;
}

export async function startBaseline(databaseUrl: string, readUrl: string | undefined, poolMax: number): Promise<ServerProcess> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl, READ_URL: readUrl ?? '', PORT: String(port), HOST: '127.0.0.1', POOL_MAX: String(poolMax), NODE_ENV: 'production' };
  delete env.NODE_OPTIONS;
  if (!readUrl) delete env.READ_URL;
  const child = spawn(process.execPath, [baselineScript], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const server = track('baseline', child, port, async (s) => getJson(`${s.baseUrl}/stats`), (line) => !line.startsWith('baseline listening'));
  await waitReady(server, async () => (await fetch(`${server.baseUrl}/healthz`, { signal: AbortSignal.timeout(1_000) })).ok, 30_000);
  progress(`servers: limit baseline on :${port} (pid ${child.pid})`);
  return server;
}

export const PEER_SCHEMAS = 'execution,data_ingestion,bench_peer';

export async function startPeer(databaseUrl: string): Promise<ServerProcess> {
  const port = await freePort();
  const statsPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    // Node 20: Promise.withResolvers, and the statement counter (bench/peer/preload.cjs)
    NODE_OPTIONS: `--require ${path.join(ROOT, 'bench', 'peer', 'preload.cjs')}`,
    BENCH_STATS_PORT: String(statsPort),
  };
  const cli = path.join(ROOT, 'node_modules', 'postgraphile', 'dist', 'cli-run.js');
  const child = spawn(process.execPath, [cli, '-P', 'postgraphile/presets/amber', '-c', databaseUrl, '-s', PEER_SCHEMAS, '-p', String(port), '-n', '127.0.0.1'],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const server = track('peer', child, port, async () => getJson(`http://127.0.0.1:${statsPort}/`),
    (line) => /error|warn|fail/i.test(line));
  await waitReady(server, async () => {
    const res = await fetch(`${server.baseUrl}/graphql`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }), signal: AbortSignal.timeout(2_000),
    });
    return res.ok && !(await res.text()).includes('"errors"');
  }, 60_000);
  progress(`servers: PostGraphile peer on :${port} (pid ${child.pid})`);
  return server;
}

async function stopServer(s: ServerProcess): Promise<void> {
  if (s.exited || s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => s.child.once('exit', () => resolve()));
  s.child.kill('SIGTERM');
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export async function stopServers(): Promise<void> {
  const running = servers.filter((s) => !s.exited && s.child.exitCode === null);
  if (running.length) progress(`cleanup: stopping ${running.map((s) => s.name).join(', ')}`);
  await Promise.all(running.map(stopServer));
}

/** An API key of the role, from `tradeql apikey create` (the key is alone on stdout's last line). */
export function createApiKey(databaseUrl: string, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, tradeqlArgs('apikey', 'create', '--role', 'admin', '--name', name), {
      cwd: ROOT, env: tradeqlEnv({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' }), timeout: 60_000,
    }, (error, stdout, stderr) => {
      if (error) return reject(new BenchError(`tradeql apikey create failed: ${error.message}\n${stderr}`));
      const key = stdout.trim().split('\n').pop()?.trim();
      if (!key) return reject(new BenchError('tradeql apikey create printed no key'));
      resolve(key);
    });
  });
}

/** Whether the local replica streams (scripts/replica.sh status). */
export function replicaStreaming(): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('bash', [path.join(ROOT, 'scripts', 'replica.sh'), 'status'], { cwd: ROOT, timeout: 20_000 }, (error, stdout) => {
      resolve(!error && /streaming/.test(stdout));
    });
  });
}
