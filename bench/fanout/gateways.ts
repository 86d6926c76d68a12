/** The two gateway processes (`tradeql serve`): start, health wait, their warn/error log lines, stop. */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import net from 'node:net';
import { BenchError, childExited, onLines, progress, waitFor } from './lifecycle';
import { ROOT, tradeqlArgs, tradeqlEnv } from './tradeql';

const LOG_LINES_KEPT = 200; // per gateway

export interface GatewayProcess {
  name: 'A' | 'B';
  port: number;
  url: string;
  wsUrl: string;
  child: ChildProcess;
  exited?: { code: number | null; signal: NodeJS.Signals | null };
  /** warn and above (pino JSON lines on stdout), and anything on stderr */
  logs: string[];
  logsDropped: number;
  stopMs?: number;
  killed?: boolean;
}

/** Every gateway started, for the cleanup. */
export const gateways: GatewayProcess[] = [];

function freePort(): Promise<number> {
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

function keepLog(gw: GatewayProcess, line: string): void {
  if (gw.logs.length < LOG_LINES_KEPT) gw.logs.push(line);
  else gw.logsDropped++;
}

function startGateway(name: 'A' | 'B', port: number, databaseUrl: string, redisUrl: string): GatewayProcess {
  const env = tradeqlEnv({
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    SYNC_ENABLED: 'false',
    // The bench's one key sends far more than a client's budget.
    RATE_LIMIT_READS_PER_SEC: '0',
    RATE_LIMIT_MUTATIONS_PER_SEC: '0',
  });
  const child = spawn(process.execPath, tradeqlArgs('serve'), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const gw: GatewayProcess = {
    name, port, child, logs: [], logsDropped: 0, url: `http://127.0.0.1:${port}/graphql`, wsUrl: `ws://127.0.0.1:${port}/graphql`,
  };
  // stdout: pino JSON (LOG_LEVEL=warn: warn and above) and the start banner, which is skipped
  onLines(child.stdout!, (line) => {
    if (!line.startsWith('{')) return;
    try {
      if (((JSON.parse(line) as { level?: number }).level ?? 0) >= 40) keepLog(gw, line);
    } catch {
      keepLog(gw, line);
    }
  });
  onLines(child.stderr!, (line) => keepLog(gw, `[stderr] ${line}`));
  child.on('exit', (code, signal) => {
    gw.exited = { code, signal };
    childExited(`gateway ${name} (pid ${child.pid}) exited during the run: code ${code}, signal ${signal}`);
  });
  gateways.push(gw);
  return gw;
}

async function waitHealthy(gw: GatewayProcess, timeoutMs: number): Promise<void> {
  const healthy = await waitFor(async () => {
    try {
      return (await fetch(`http://127.0.0.1:${gw.port}/healthz`, { signal: AbortSignal.timeout(1000) })).ok;
    } catch {
      return false; // not listening yet
    }
  }, timeoutMs, 100);
  if (!healthy) throw new BenchError(`gateway ${gw.name} did not answer /healthz within ${timeoutMs / 1000} s`);
}

/** Gateways A and B on two free ports of 127.0.0.1, both answering /healthz. */
export async function startGateways(databaseUrl: string, redisUrl: string): Promise<[GatewayProcess, GatewayProcess]> {
  const [portA, portB] = [await freePort(), await freePort()];
  const a = startGateway('A', portA, databaseUrl, redisUrl);
  const b = startGateway('B', portB, databaseUrl, redisUrl);
  await Promise.all([waitHealthy(a, 60_000), waitHealthy(b, 60_000)]);
  progress(`setup: gateway A on :${portA} (pid ${a.child.pid}), gateway B on :${portB} (pid ${b.child.pid}) healthy`);
  return [a, b];
}

/**
 * SIGTERM, which `tradeql serve` answers by exiting within a fraction of a second. The SIGKILL after 10 s is a
 * safety net, so that a shutdown that hangs (as it did before serve stopped Apollo from handling SIGTERM too) can
 * neither leave a gateway running nor hold up the bench; `killed` in the results says when it was needed.
 */
async function stopGateway(gw: GatewayProcess): Promise<void> {
  if (gw.exited || gw.child.exitCode !== null || gw.child.signalCode !== null) return;
  const started = performance.now();
  const exited = new Promise<void>((resolve) => gw.child.once('exit', () => resolve()));
  gw.child.kill('SIGTERM');
  const timer = setTimeout(() => {
    gw.killed = true;
    progress(`cleanup: gateway ${gw.name} still running 10 s after SIGTERM: SIGKILL`);
    gw.child.kill('SIGKILL');
  }, 10_000);
  await exited;
  clearTimeout(timer);
  gw.stopMs = Math.round(performance.now() - started);
}

export async function stopGateways(): Promise<void> {
  if (gateways.length) progress('cleanup: stopping the gateways (SIGTERM)');
  await Promise.all(gateways.map(stopGateway));
}
