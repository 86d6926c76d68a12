/**
 * Fan-out latency: from the commit of a fill to its arrival at N GraphQL subscribers spread over two gateway
 * processes, next to a bare Redis subscriber on the gateways' channel as the baseline. See bench/README.md.
 *
 *   npx tsx bench/fanout.ts [--subscribers 1000] [--fills 200] [--rate 20] [--via A|B|AB] [--timeout 600]
 *   npm run bench:fanout -- --subscribers 100 --fills 50
 *
 * Processes: this one (orchestration, the fills over HTTP, the Redis baseline), two gateways (`tradeql serve`), and
 * one subscriber worker per gateway (bench/fanout-worker.ts) holding that gateway's graphql-ws clients.
 */
import { spawn, fork, execFile, type ChildProcess } from 'node:child_process';
import { performance, monitorEventLoopDelay, type EventLoopUtilization } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import net from 'node:net';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { Client as PgClient } from 'pg';
import Redis from 'ioredis';
import { clock, SYMBOL, type Collected, type FromWorker, type ToWorker } from './fanout-shared';

const ROOT = path.resolve(__dirname, '..');
const RESULTS_DIR = path.join(__dirname, 'results');
const CHANNEL = 'tradeql.events'; // fixed by the gateway (src/platform/outbox.ts)
const WARMUP_FILLS = 10; // at most this many fills until every subscription is live
const CONNECT_BATCH = 50; // WebSocket handshakes in flight at once, per worker
const MAX_IN_FLIGHT = 50; // executeTrade requests in flight at once
const LOG_LINES_KEPT = 200; // per gateway

// ---------------------------------------------------------------------------------------------------------------
// options

const HELP = `usage: npx tsx bench/fanout.ts [options]     (or: npm run bench:fanout -- [options])
  --subscribers N   graphql-ws subscribers, split evenly over the two gateways (1000)
  --fills F         measured fills (200)
  --rate R          fills per second (20)
  --via A|B|AB      the gateway that receives executeTrade: A, B, or alternating (A)
  --timeout S       the whole run stops after S seconds (600)
  --pg URL          PostgreSQL admin URL (BENCH_PG_URL, else postgres://postgres@127.0.0.1:5432/postgres)
  --redis URL       Redis (REDIS_URL, else redis://127.0.0.1:6379)
  --force           run even if something already subscribes to ${CHANNEL} on that Redis`;

class UsageError extends Error {}
class BenchError extends Error {}

function options() {
  const { values } = parseArgs({
    options: {
      subscribers: { type: 'string', default: '1000' },
      fills: { type: 'string', default: '200' },
      rate: { type: 'string', default: '20' },
      via: { type: 'string', default: 'A' },
      timeout: { type: 'string', default: '600' },
      pg: { type: 'string', default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
      redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const int = (name: string, value: string, min: number, max: number) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`);
    return n;
  };
  const rate = Number(values.rate);
  if (!(rate > 0 && rate <= 1000)) throw new UsageError('--rate must be a number > 0 and <= 1000');
  const via = String(values.via).toUpperCase();
  if (!['A', 'B', 'AB'].includes(via)) throw new UsageError('--via must be A, B or AB');
  return {
    subscribers: int('subscribers', values.subscribers!, 2, 20_000),
    fills: int('fills', values.fills!, 1, 10_000),
    rate,
    via: via as 'A' | 'B' | 'AB',
    timeoutS: int('timeout', values.timeout!, 10, 3600),
    pgUrl: values.pg!,
    redisUrl: values.redis!,
    force: values.force!,
  };
}
type Options = ReturnType<typeof options>;

// ---------------------------------------------------------------------------------------------------------------
// small helpers

const t0 = performance.now();
let stdoutGone = false;
function out(text: string): void {
  if (!stdoutGone) process.stdout.write(text);
}
function progress(message: string): void {
  out(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const round = (x: number, digits = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : null);

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

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Nearest-rank percentile of a sorted array. */
function percentile(sorted: Float64Array, p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** Resident set size of a process, in KB (VmRSS). */
function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new BenchError(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** The whole machine's CPU time so far, in seconds: busy (everything but idle and iowait) and total. */
function machineCpu(): { busy: number; total: number } {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const total = fields.reduce((x, y) => x + y, 0);
  return { busy: (total - fields[3] - fields[4]) / 100, total: total / 100 };
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // after "pid (comm) " come state (field 3) ... utime (14) and stime (15): indexes 11 and 12 here
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ = 100 on Linux
}

// ---------------------------------------------------------------------------------------------------------------
// state shared with the cleanup

let stopping = false;
let fatal: string | undefined;

/** Throws once a child died or the run was aborted, so no loop waits for something that cannot come. */
function checkAlive(): void {
  if (fatal) throw new BenchError(fatal);
}

async function waitFor(done: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    checkAlive();
    if (await done()) return true;
    if (performance.now() > deadline) return false;
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// the gateway processes

interface GatewayProcess {
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

const gateways: GatewayProcess[] = [];

function keepLog(gw: GatewayProcess, line: string): void {
  if (gw.logs.length < LOG_LINES_KEPT) gw.logs.push(line);
  else gw.logsDropped++;
}

function onLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim()) onLine(line);
    }
  });
}

function startGateway(name: 'A' | 'B', port: number, databaseUrl: string, redisUrl: string): GatewayProcess {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    SYNC_ENABLED: 'false',
  };
  delete env.DATABASE_REPLICA_URLS;
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'tradeql.js'), 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
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
    if (!stopping) {
      fatal = `gateway ${name} (pid ${child.pid}) exited during the run: code ${code}, signal ${signal}`;
      progress(fatal);
    }
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

/** SIGTERM, then SIGKILL after 10 s. */
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

// ---------------------------------------------------------------------------------------------------------------
// the subscriber workers

interface Worker {
  gateway: GatewayProcess;
  child: ChildProcess;
  count: number;
  connected: number;
  ready?: number;
  failed?: string;
  pending: Map<number, (have: number[]) => void>;
  collected?: (c: Collected) => void;
}

const workers: Worker[] = [];
let requestId = 0;

function startWorker(gateway: GatewayProcess, count: number, firstIndex: number): Worker {
  // execArgv is inherited: the worker runs under tsx like this process
  const child = fork(path.join(__dirname, 'fanout-worker.ts'), [], { cwd: ROOT, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const worker: Worker = { gateway, child, count, connected: 0, pending: new Map() };
  child.on('message', (m: FromWorker) => {
    switch (m.type) {
      case 'connected': worker.connected = m.connected; break;
      case 'ready': worker.ready = m.connectMs; break;
      case 'failed': worker.failed = m.message; break;
      case 'count': worker.pending.get(m.id)?.(m.have); worker.pending.delete(m.id); break;
      case 'collected': worker.collected?.(m); break;
    }
  });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      fatal = `the subscriber worker of gateway ${gateway.name} exited during the run: code ${code}, signal ${signal}`;
      progress(fatal);
    }
  });
  const start: ToWorker = { type: 'start', gateway: gateway.name, wsUrl: gateway.wsUrl, count, firstIndex, connectBatch: CONNECT_BATCH, ackTimeoutMs: 15_000 };
  workers.push(worker);
  tell(worker, start);
  return worker;
}

/** A message to a worker; once the run is being stopped (or the worker is gone) it is dropped. */
function tell(worker: Worker, message: ToWorker): void {
  checkAlive();
  if (!worker.child.connected) throw new BenchError(`the subscriber worker of gateway ${worker.gateway.name} is gone`);
  worker.child.send(message);
}

function ask<T>(worker: Worker, message: ToWorker, register: (resolve: (value: T) => void) => void, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new BenchError(`the subscriber worker of gateway ${worker.gateway.name} did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
    register((value) => {
      clearTimeout(timer);
      resolve(value);
    });
    try {
      tell(worker, message);
    } catch (error) {
      clearTimeout(timer);
      reject(error);
    }
  });
}

/** Per tradeId, how many subscribers (of all workers) have it. */
async function counts(tradeIds: string[]): Promise<number[]> {
  const answers = await Promise.all(workers.map((w) => {
    const id = ++requestId;
    return ask<number[]>(w, { type: 'count', id, tradeIds }, (resolve) => w.pending.set(id, resolve));
  }));
  return tradeIds.map((_, i) => answers.reduce((n, a) => n + a[i], 0));
}

// ---------------------------------------------------------------------------------------------------------------
// GraphQL over HTTP

async function gql<T = any>(url: string, query: string, variables: Record<string, unknown>): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await res.json()) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
  if (body.errors?.length) throw new BenchError(`${body.errors[0].extensions?.code ?? 'ERROR'}: ${body.errors[0].message}`);
  return body.data as T;
}

const CREATE_ACCOUNT = `mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`;
const SUBMIT = `mutation($i: SubmitOrderInput!) { submitOrder(input: $i) { orderId } }`;
const FILL = `mutation($i: ExecuteTradeInput!) { executeTrade(input: $i) { tradeId } }`;

interface Fill {
  index: number;
  orderId: string;
  via: 'A' | 'B';
  /** clock() when the request was handed to fetch, and when its response arrived */
  sentAt?: number;
  respAt?: number;
  /** the database's clock when the trade event's outbox row was inserted: the transaction's last statement before COMMIT */
  commitAt?: number;
  /** the database's clock when the relay marked the event published (after Redis acknowledged the publish) */
  publishedAt?: number;
  tradeId?: string;
  error?: string;
}

async function sendFill(fill: Fill, gw: GatewayProcess, price: string): Promise<void> {
  fill.sentAt = clock();
  try {
    const res = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: FILL, variables: { i: { orderId: fill.orderId, price, executedAt: new Date().toISOString() } } }),
      signal: AbortSignal.timeout(30_000),
    });
    // The transaction committed before the gateway answered: this moment is later than the commit.
    fill.respAt = clock();
    const body = (await res.json()) as { data?: { executeTrade: { tradeId: string } }; errors?: { message: string }[] };
    if (body.errors?.length || !body.data) fill.error = body.errors?.[0]?.message ?? `HTTP ${res.status}`;
    else fill.tradeId = String(body.data.executeTrade.tradeId);
  } catch (error) {
    fill.error = (error as Error).message;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// the bare Redis baseline

interface Baseline {
  redis: Redis;
  /** tradeId -> clock() at the first arrival */
  arrivals: Map<string, number>;
  duplicates: number;
  messages: number;
  foreign: number;
  /** every event of this run's account, in the order the channel delivered them */
  channelOrder: { sequence: string; topic: string; at: number }[];
}

async function startBaseline(redisUrl: string, accountId: string): Promise<Baseline> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  const baseline: Baseline = { redis, arrivals: new Map(), duplicates: 0, messages: 0, foreign: 0, channelOrder: [] };
  redis.on('error', () => undefined); // the commands that fail report it
  await redis.connect();
  redis.on('message', (channel: string, message: string) => {
    const at = clock();
    if (channel !== CHANNEL) return;
    baseline.messages++;
    let event: { sequence?: string; topic?: string; accountId?: string; symbol?: string; payload?: { trade?: { tradeId?: string | number } } };
    try {
      event = JSON.parse(message);
    } catch {
      baseline.foreign++;
      return;
    }
    if (event.accountId !== accountId) {
      baseline.foreign++;
      return;
    }
    if (baseline.channelOrder.length < 1_000_000) baseline.channelOrder.push({ sequence: String(event.sequence), topic: String(event.topic), at });
    if (event.topic !== 'TRADE_EXECUTED' || event.symbol !== SYMBOL || event.payload?.trade?.tradeId === undefined) return;
    const tradeId = String(event.payload.trade.tradeId);
    if (baseline.arrivals.has(tradeId)) baseline.duplicates++;
    else baseline.arrivals.set(tradeId, at);
  });
  await redis.subscribe(CHANNEL);
  return baseline;
}

async function channelListeners(redisUrl: string): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const [, n] = (await redis.pubsub('NUMSUB', CHANNEL)) as [string, number];
    return Number(n);
  } finally {
    redis.disconnect();
  }
}

/**
 * What the gateways' event hubs see: every event of the run on the one channel. Sequences should come 1, 2, 3, ...
 * with none skipped, repeated or reordered (a gateway that sees a jump logs "gap in the event sequence").
 */
function channelAnalysis(order: Baseline['channelOrder'], origin: number) {
  const anomalies: { kind: 'gap' | 'out-of-order' | 'repeat'; after: string; got: string; topic: string; atMs: number }[] = [];
  const seen = new Set<string>();
  let max = -1n;
  let gaps = 0;
  let reordered = 0;
  let repeats = 0;
  for (const m of order) {
    const seq = BigInt(m.sequence);
    let kind: 'gap' | 'out-of-order' | 'repeat' | undefined;
    if (seen.has(m.sequence)) (kind = 'repeat'), repeats++;
    else if (max >= 0n && seq < max) (kind = 'out-of-order'), reordered++;
    else if (max >= 0n && seq > max + 1n) (kind = 'gap'), gaps++;
    if (kind && anomalies.length < 50) anomalies.push({ kind, after: max.toString(), got: m.sequence, topic: m.topic, atMs: Math.round(m.at - origin) });
    seen.add(m.sequence);
    if (seq > max) max = seq;
  }
  return { events: order.length, lastSequence: max.toString(), gaps, outOfOrder: reordered, repeats, anomalies };
}

/** The outbox as the database has it at the end, and the rows around the first anomalies on the channel. */
async function outboxSummary(databaseUrl: string, around: string[]) {
  const pg = new PgClient({ connectionString: databaseUrl });
  await pg.connect();
  try {
    const { rows: [totals] } = await pg.query(
      `select count(*)::int as rows, count(*) filter (where sequence is null)::int as unsequenced,
              count(*) filter (where published_at is null)::int as unpublished, max(sequence)::text as "maxSequence",
              (count(sequence) - count(distinct sequence))::int as "repeatedSequences",
              (select last_sequence::text from execution.outbox_state where id = 1) as "lastSequence"
       from execution.outbox`,
    );
    const neighbourhood = around.length
      ? (await pg.query(
        `select o.sequence::text as seq, o.topic, o.created_at as "createdAt", o.published_at as "publishedAt" from execution.outbox o
         where exists (select 1 from unnest($1::bigint[]) a where o.sequence between a - 3 and a + 3) order by o.sequence`,
        [around],
      )).rows
      : [];
    return { ...totals, neighbourhood };
  } finally {
    await pg.end();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// statistics

interface Dist {
  p50: number | null;
  p99: number | null;
  max: number | null;
  min: number | null;
}

interface LatencyStats {
  expected: number;
  received: number;
  lost: number;
  duplicates: number;
  /** arrival - insert of the event's outbox row (just before COMMIT, database clock): slightly above commit -> arrival */
  fromCommitMs: Dist;
  /** arrival - arrival of the executeTrade response at the bench: below commit -> arrival */
  fromResponseMs: Dist;
  /** arrival - the executeTrade request was sent: includes the wait for the position's row lock */
  fromSendMs: Dist;
}

function dist(values: number[]): Dist {
  const a = Float64Array.from(values).sort();
  return { p50: round(percentile(a, 0.5), 3), p99: round(percentile(a, 0.99), 3), max: round(a[a.length - 1], 3), min: round(a[0], 3) };
}

/** Latency samples of one population against the three reference times of each fill. */
class Samples {
  readonly commit: number[] = [];
  readonly response: number[] = [];
  readonly send: number[] = [];

  add(at: number, fill: Fill): void {
    this.commit.push(at - fill.commitAt!);
    this.response.push(at - fill.respAt!);
    this.send.push(at - fill.sentAt!);
  }

  stats(expected: number, duplicates: number): LatencyStats {
    return {
      expected, received: this.commit.length, lost: expected - this.commit.length, duplicates,
      fromCommitMs: dist(this.commit), fromResponseMs: dist(this.response), fromSendMs: dist(this.send),
    };
  }
}

/** One worker's arrivals (a subscriber-major matrix over the `ok` fills) into `into` and per-fill first/last. */
function addWorker(ok: Fill[], c: Collected, into: Samples[]): { perFillFirst: Float64Array; perFillLast: Float64Array } {
  const perFillLast = new Float64Array(ok.length).fill(-Infinity);
  const perFillFirst = new Float64Array(ok.length).fill(Infinity);
  for (let s = 0; s < c.subscribers; s++) {
    for (let t = 0; t < ok.length; t++) {
      const at = c.arrivals[s * ok.length + t];
      if (Number.isNaN(at)) {
        perFillLast[t] = NaN; // not everyone had it
        continue;
      }
      for (const samples of into) samples.add(at, ok[t]);
      if (at > perFillLast[t]) perFillLast[t] = at;
      if (at < perFillFirst[t]) perFillFirst[t] = at;
    }
  }
  return { perFillFirst, perFillLast };
}

/** The database's clock minus this process's clock(), from the probe with the shortest round trip (same machine: ~0). */
async function clockOffset(databaseUrl: string): Promise<{ offsetMs: number | null; roundTripMs: number | null }> {
  const pg = new PgClient({ connectionString: databaseUrl });
  await pg.connect();
  try {
    let best = { offsetMs: NaN, roundTripMs: Infinity };
    for (let i = 0; i < 20; i++) {
      const before = clock();
      const { rows: [row] } = await pg.query(`select (extract(epoch from clock_timestamp()) * 1000)::text as t`);
      const after = clock();
      if (after - before < best.roundTripMs) best = { offsetMs: Number(row.t) - (before + after) / 2, roundTripMs: after - before };
    }
    return { offsetMs: round(best.offsetMs, 3), roundTripMs: round(best.roundTripMs, 3) };
  } finally {
    await pg.end();
  }
}

/** The outbox times of the run's trade events, by tradeId. */
async function tradeEventTimes(databaseUrl: string, accountId: string): Promise<Map<string, { created: number; published: number }>> {
  const pg = new PgClient({ connectionString: databaseUrl });
  await pg.connect();
  try {
    const { rows } = await pg.query(
      `select payload->'trade'->>'tradeId' as "tradeId", (extract(epoch from created_at) * 1000)::text as created,
              (extract(epoch from published_at) * 1000)::text as published
       from execution.outbox where topic = 'TRADE_EXECUTED' and account_id = $1`,
      [accountId],
    );
    return new Map(rows.map((r: { tradeId: string; created: string; published: string | null }) =>
      [String(r.tradeId), { created: Number(r.created), published: r.published === null ? NaN : Number(r.published) }]));
  } finally {
    await pg.end();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// cleanup

let cleanupPromise: Promise<void> | undefined;
let adminUrl = '';
let dbName = '';
let dbCreated = false;
let baselineRef: Baseline | undefined;

function cleanup(): Promise<void> {
  cleanupPromise ??= (async () => {
    stopping = true;
    if (workers.length) progress('cleanup: closing the subscribers');
    await Promise.all(workers.map((w) => new Promise<void>((resolve) => {
      if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve();
      const timer = setTimeout(() => w.child.kill('SIGKILL'), 10_000);
      w.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      try {
        w.child.send({ type: 'close' } satisfies ToWorker);
      } catch {
        w.child.kill('SIGTERM');
      }
    })));
    baselineRef?.redis.disconnect();
    if (gateways.length) progress('cleanup: stopping the gateways (SIGTERM)');
    await Promise.all(gateways.map(stopGateway));
    if (dbCreated) {
      progress(`cleanup: dropping database ${dbName}`);
      const pg = new PgClient({ connectionString: adminUrl });
      try {
        await pg.connect();
        await pg.query(`drop database if exists "${dbName}" with (force)`);
        dbCreated = false;
      } catch (error) {
        progress(`cleanup: could not drop ${dbName}: ${(error as Error).message}`);
      } finally {
        await pg.end().catch(() => undefined);
      }
    }
  })();
  return cleanupPromise;
}

function migrate(databaseUrl: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' };
    delete env.DATABASE_REPLICA_URLS;
    delete env.NODE_OPTIONS;
    execFile(process.execPath, [path.join(ROOT, 'bin', 'tradeql.js'), 'migrate'], { cwd: ROOT, env, timeout: 120_000 }, (error, _stdout, stderr) => {
      if (error) reject(new BenchError(`migrate failed: ${error.message}\n${stderr}`));
      else resolve();
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// the run

async function run(opts: Options): Promise<number> {
  const startedAt = new Date();
  const origin = clock();
  progress(`fan-out bench: ${opts.subscribers} subscribers, ${opts.fills} fills at ${opts.rate}/s via gateway ${opts.via}`);

  // Redis: reachable, and no other gateway on the channel (its events and ours would mix)
  let listenersBefore: number;
  try {
    listenersBefore = await channelListeners(opts.redisUrl);
  } catch (error) {
    throw new BenchError(`Redis at ${opts.redisUrl} is not reachable: ${(error as Error).message}`);
  }
  if (listenersBefore > 0 && !opts.force) {
    throw new BenchError(`${listenersBefore} client(s) already subscribe to ${CHANNEL} on ${opts.redisUrl}: another gateway (or a test) uses ` +
      'this Redis, and its events and the bench\'s would mix; stop it, set REDIS_URL to another Redis, or pass --force');
  }

  // the database
  adminUrl = opts.pgUrl;
  dbName = `tradeql_bench_${process.pid}`;
  const databaseUrl = withDatabase(adminUrl, dbName);
  const pg = new PgClient({ connectionString: adminUrl });
  await pg.connect();
  try {
    await pg.query(`drop database if exists "${dbName}" with (force)`);
    await pg.query(`create database "${dbName}"`);
    dbCreated = true;
  } finally {
    await pg.end();
  }
  progress(`setup: database ${dbName} created; migrating`);
  await migrate(databaseUrl);

  // the gateways
  const [portA, portB] = [await freePort(), await freePort()];
  const a = startGateway('A', portA, databaseUrl, opts.redisUrl);
  const b = startGateway('B', portB, databaseUrl, opts.redisUrl);
  await Promise.all([waitHealthy(a, 60_000), waitHealthy(b, 60_000)]);
  progress(`setup: gateway A on :${portA} (pid ${a.child.pid}), gateway B on :${portB} (pid ${b.child.pid}) healthy`);

  // the baseline listens from before the run's first event
  const accountId = `BENCH-${process.pid}`;
  const baseline = (baselineRef = await startBaseline(opts.redisUrl, accountId));

  // the account and one order per fill (warm-up fills first), all before any subscriber exists
  await gql(a.url, CREATE_ACCOUNT, { i: { accountId, name: 'fan-out bench' } });
  const orderCount = WARMUP_FILLS + opts.fills;
  const orderIds: string[] = new Array(orderCount);
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    for (let i = next++; i < orderCount; i = next++) {
      checkAlive();
      const data = await gql<{ submitOrder: { orderId: string } }>(a.url, SUBMIT, {
        i: { accountId, clientOrderId: `bench-${i}`, symbol: SYMBOL, side: i % 2 ? 'SELL' : 'BUY', type: 'MARKET', timeInForce: 'GTC', quantity: '1', strategy: 'bench' },
      });
      orderIds[i] = data.submitOrder.orderId;
    }
  }));
  progress(`setup: account ${accountId}, ${orderCount} orders on ${SYMBOL}`);
  await sleep(1000); // the relay publishes the orders' events; the gateways settle
  const rssBefore = { A: rssKb(a.child.pid!), B: rssKb(b.child.pid!) };
  progress(`setup: gateway RSS before subscribers: A ${(rssBefore.A / 1024).toFixed(1)} MB, B ${(rssBefore.B / 1024).toFixed(1)} MB`);

  // subscribers: one worker per gateway, half each
  const perGateway = { A: Math.ceil(opts.subscribers / 2), B: Math.floor(opts.subscribers / 2) };
  startWorker(a, perGateway.A, 0);
  startWorker(b, perGateway.B, perGateway.A);
  let reported = 0;
  const allReady = await waitFor(() => {
    const failed = workers.find((w) => w.failed);
    if (failed) throw new BenchError(`subscribers of gateway ${failed.gateway.name}: ${failed.failed}`);
    const connected = workers.reduce((n, w) => n + w.connected, 0);
    if (connected >= reported + opts.subscribers / 10 || (connected === opts.subscribers && reported < connected)) {
      progress(`subscribers connected ${connected}/${opts.subscribers}`);
      reported = connected;
    }
    return workers.every((w) => w.ready !== undefined);
  }, 120_000);
  if (!allReady) throw new BenchError('the subscribers did not all connect within 120 s');

  // warm-up: fill until one fill reaches every subscriber, so that every subscription is live before measuring
  const warmups: Fill[] = [];
  let live = false;
  for (let w = 0; w < WARMUP_FILLS && !live; w++) {
    const fill: Fill = { index: -1 - w, orderId: orderIds[w], via: 'A' };
    warmups.push(fill);
    await sendFill(fill, a, '100');
    if (fill.error) throw new BenchError(`warm-up fill failed: ${fill.error}`);
    let have = 0;
    live = await waitFor(async () => (have = (await counts([fill.tradeId!]))[0]) === opts.subscribers, 5_000, 100);
    progress(`warm-up fill ${w + 1}: reached ${have}/${opts.subscribers} subscribers`);
  }
  if (!live) throw new BenchError(`after ${WARMUP_FILLS} warm-up fills some subscriptions still receive nothing`);
  await sleep(1000);
  const rssAfter = { A: rssKb(a.child.pid!), B: rssKb(b.child.pid!) };
  progress(`all ${opts.subscribers} subscriptions live; gateway RSS: A ${(rssAfter.A / 1024).toFixed(1)} MB, B ${(rssAfter.B / 1024).toFixed(1)} MB`);

  const clockSkew = await clockOffset(databaseUrl);

  // the load: open loop, each fill at its scheduled time whether or not the previous one has answered
  const fills: Fill[] = Array.from({ length: opts.fills }, (_, i) => ({
    index: i,
    orderId: orderIds[WARMUP_FILLS + i],
    via: opts.via === 'AB' ? (i % 2 ? 'B' : 'A') : opts.via,
  }));
  for (const w of workers) tell(w, { type: 'measure' });
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const elu0: EventLoopUtilization = performance.eventLoopUtilization();
  const cpu0 = { bench: process.cpuUsage(), A: cpuSeconds(a.child.pid!), B: cpuSeconds(b.child.pid!), machine: machineCpu() };
  const loadStarted = performance.now();
  const loadStartedAt = clock();
  // the gateways' RSS every 500 ms through the load and the drain
  const rssSeries: { ms: number; A: number; B: number }[] = [];
  const rssTimer = setInterval(() => {
    try {
      rssSeries.push({ ms: Math.round(performance.now() - loadStarted), A: rssKb(a.child.pid!), B: rssKb(b.child.pid!) });
    } catch {
      // a gateway is gone: reported by its exit
    }
  }, 500);
  const intervalMs = 1000 / opts.rate;
  const inFlight = new Set<Promise<void>>();
  let nextReport = 0.1;
  for (const fill of fills) {
    checkAlive();
    const wait = loadStarted + fill.index * intervalMs - performance.now();
    if (wait > 0) await sleep(wait);
    while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
    const p = sendFill(fill, fill.via === 'A' ? a : b, (100 + (fill.index % 100) / 100).toFixed(2)).finally(() => inFlight.delete(p));
    inFlight.add(p);
    const sent = fill.index + 1;
    if (sent / fills.length >= nextReport || sent === fills.length) {
      progress(`fills sent ${sent}/${fills.length}`);
      while (nextReport <= sent / fills.length) nextReport += 0.1;
    }
  }
  await Promise.all(inFlight);
  const loadMs = performance.now() - loadStarted;
  const failed = fills.filter((f) => f.error);
  for (const f of failed.slice(0, 5)) progress(`fill ${f.index} failed: ${f.error}`);

  // drain: until everything arrived, or nothing new for 10 s (at most 60 s)
  const ok = fills.filter((f) => f.tradeId);
  const okIds = ok.map((f) => f.tradeId!);
  const expectedGateway = ok.length * opts.subscribers;
  let lastTotal = -1;
  let lastChange = performance.now();
  const drainDeadline = performance.now() + 60_000;
  for (;;) {
    checkAlive();
    const n = (await counts(okIds)).reduce((x, y) => x + y, 0);
    const nb = okIds.filter((t) => baseline.arrivals.has(t)).length;
    if (n === expectedGateway && nb === ok.length) break;
    if (n + nb !== lastTotal) (lastTotal = n + nb), (lastChange = performance.now());
    if (performance.now() - lastChange > 10_000 || performance.now() > drainDeadline) {
      progress(`drain: stopped waiting with ${n}/${expectedGateway} subscriber deliveries and ${nb}/${ok.length} baseline deliveries`);
      break;
    }
    await sleep(200);
  }
  delay.disable();
  clearInterval(rssTimer);
  const spanMs = performance.now() - loadStarted;
  const benchCpu = process.cpuUsage(cpu0.bench);
  const elu = performance.eventLoopUtilization(elu0);
  const cpuPct = (seconds: number) => round((seconds * 1000 * 100) / spanMs, 1);
  const machine = machineCpu();
  const rssEnd = { A: rssKb(a.child.pid!), B: rssKb(b.child.pid!) };
  const listenersDuring = await channelListeners(opts.redisUrl).catch(() => -1);
  const collected = await Promise.all(workers.map((w) => ask<Collected>(w, { type: 'collect', tradeIds: okIds }, (resolve) => (w.collected = resolve))));

  // results: each fill's commit time from the outbox row of its trade event (written by the same transaction)
  const times = await tradeEventTimes(databaseUrl, accountId);
  for (const f of ok) {
    const t = times.get(f.tradeId!);
    if (t) (f.commitAt = t.created), (f.publishedAt = t.published);
  }
  const noEvent = ok.filter((f) => f.commitAt === undefined);
  if (noEvent.length) throw new BenchError(`${noEvent.length} committed fills have no TRADE_EXECUTED outbox row (first: trade ${noEvent[0].tradeId})`);
  const [ca, cb] = collected;
  const sAll = new Samples();
  const sA = new Samples();
  const sB = new Samples();
  const wa = addWorker(ok, ca, [sAll, sA]);
  const wb = addWorker(ok, cb, [sAll, sB]);
  const all = sAll.stats(expectedGateway, ca.duplicates + cb.duplicates);
  const sRedis = new Samples();
  for (const f of ok) {
    const at = baseline.arrivals.get(f.tradeId!);
    if (at !== undefined) sRedis.add(at, f);
  }
  const redis = sRedis.stats(ok.length, baseline.duplicates);
  // per fill: from its commit until the last of all N subscribers had it (only fills that reached everyone)
  const lastOfN = dist(ok.map((f, t) => Math.max(wa.perFillLast[t], wb.perFillLast[t]) - f.commitAt!).filter((x) => !Number.isNaN(x)));
  const relay = dist(ok.map((f) => f.publishedAt! - f.commitAt!).filter((x) => !Number.isNaN(x)));
  const responseAfterCommit = dist(ok.map((f) => f.respAt! - f.commitAt!));
  const channel = channelAnalysis(baseline.channelOrder, origin);
  const outbox = await outboxSummary(databaseUrl, channel.anomalies.slice(0, 10).map((x) => x.got));
  const ratio = {
    fromCommit: { p50: round(all.fromCommitMs.p50! / redis.fromCommitMs.p50!), p99: round(all.fromCommitMs.p99! / redis.fromCommitMs.p99!) },
    fromResponse: { p50: round(all.fromResponseMs.p50! / redis.fromResponseMs.p50!), p99: round(all.fromResponseMs.p99! / redis.fromResponseMs.p99!) },
  };
  const memory = Object.fromEntries((['A', 'B'] as const).map((g) => [g, {
    subscribers: perGateway[g], rssBeforeKb: rssBefore[g], rssAfterKb: rssAfter[g], rssEndKb: rssEnd[g],
    perSubscriberKb: round((rssAfter[g] - rssBefore[g]) / perGateway[g], 1),
  }])) as Record<'A' | 'B', { subscribers: number; rssBeforeKb: number; rssAfterKb: number; rssEndKb: number; perSubscriberKb: number | null }>;
  // per fill, every time relative to its commit
  const timeline = ok.map((f, t) => ({
    index: f.index, via: f.via, tradeId: f.tradeId,
    sentMs: round(f.sentAt! - loadStartedAt), executeTradeMs: round(f.respAt! - f.sentAt!), commitAfterSendMs: round(f.commitAt! - f.sentAt!),
    responseAfterCommitMs: round(f.respAt! - f.commitAt!), publishedAfterCommitMs: round(f.publishedAt! - f.commitAt!),
    baselineMs: round((baseline.arrivals.get(f.tradeId!) ?? NaN) - f.commitAt!),
    firstSubscriberMs: round(Math.min(wa.perFillFirst[t], wb.perFillFirst[t]) - f.commitAt!),
    lastSubscriberMs: round(Math.max(wa.perFillLast[t], wb.perFillLast[t]) - f.commitAt!),
  }));

  const result = {
    startedAt: startedAt.toISOString(),
    options: { subscribers: opts.subscribers, fills: opts.fills, rate: opts.rate, via: opts.via, warmupFills: warmups.length },
    environment: {
      node: process.version, cpus: os.cpus().length, loadavg: os.loadavg().map((x) => round(x)), channelListenersDuringRun: listenersDuring,
      databaseClockOffset: clockSkew,
    },
    method: {
      clock: 'clock() = performance.timeOrigin + performance.now() in every bench process; the database clock for outbox times (same machine)',
      fromCommitMs: 'arrival - created_at of the trade event\'s outbox row, inserted by the fill\'s transaction as its last statement before COMMIT: ' +
        'above the true commit -> arrival by the duration of the COMMIT',
      fromResponseMs: 'arrival - arrival of the executeTrade HTTP response at the bench: below the true value (the response follows the commit)',
      fromSendMs: 'arrival - the executeTrade request was sent: includes the queue on the position row lock',
    },
    load: {
      durationMs: Math.round(loadMs), achievedRate: round((fills.length / loadMs) * 1000, 1), fillsOk: ok.length, fillsFailed: failed.length,
      fillErrors: failed.slice(0, 5).map((f) => f.error),
      executeTradeMs: dist(ok.map((f) => f.respAt! - f.sentAt!)),
      responseAfterCommitMs: responseAfterCommit,
      relayPublishedAfterCommitMs: relay,
    },
    subscribers: {
      all, A: sA.stats(ok.length * ca.subscribers, ca.duplicates), B: sB.stats(ok.length * cb.subscribers, cb.duplicates),
      lastOfNFromCommitMs: lastOfN,
      outOfOrder: ca.outOfOrder + cb.outOfOrder,
      errors: ca.errorCount + cb.errorCount,
      sampleErrors: [...ca.errors, ...cb.errors].slice(0, 20),
    },
    redisBaseline: { ...redis, messagesOnChannel: baseline.messages, foreignMessages: baseline.foreign },
    ratio,
    memory: { ...memory, seriesKb: rssSeries },
    cpuPercentOfOneCore: {
      bench: cpuPct((benchCpu.user + benchCpu.system) / 1e6), workerA: ca.cpuPercent, workerB: cb.cpuPercent,
      gatewayA: cpuPct(cpuSeconds(a.child.pid!) - cpu0.A), gatewayB: cpuPct(cpuSeconds(b.child.pid!) - cpu0.B),
      // every process of the machine (PostgreSQL, Redis, and whatever else runs) over the same span
      machineBusy: cpuPct(machine.busy - cpu0.machine.busy),
      machineCapacity: cpuPct(machine.total - cpu0.machine.total),
    },
    eventLoops: {
      bench: { utilization: round(elu.utilization, 3), delayP99Ms: round(delay.percentile(99) / 1e6), delayMaxMs: round(delay.max / 1e6) },
      workerA: { utilization: ca.eventLoopUtilization, delayP99Ms: ca.eventLoopDelayP99Ms, delayMaxMs: ca.eventLoopDelayMaxMs },
      workerB: { utilization: cb.eventLoopUtilization, delayP99Ms: cb.eventLoopDelayP99Ms, delayMaxMs: cb.eventLoopDelayMaxMs },
    },
    channel,
    outbox,
    gatewayLogs: { A: a.logs, B: b.logs, droppedLines: { A: a.logsDropped, B: b.logsDropped } },
    timeline,
  };
  printTable(result);

  const lost = all.lost + redis.lost;
  const problems: string[] = [];
  if (lost) problems.push(`${lost} deliveries lost`);
  if (failed.length) problems.push(`${failed.length} fills failed`);
  if (result.subscribers.errors) problems.push(`${result.subscribers.errors} subscriber errors`);
  if (all.duplicates || redis.duplicates) problems.push('duplicate deliveries');
  if (result.subscribers.outOfOrder) problems.push(`${result.subscribers.outOfOrder} out-of-order deliveries`);
  const save = (extra: Record<string, unknown>) => {
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    const stamp = startedAt.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z'); // ISO 8601 basic format
    const file = path.join(RESULTS_DIR, `fanout-${stamp}.json`);
    fs.writeFileSync(`${file}.tmp`, `${JSON.stringify({ ...result, ...extra }, null, 2)}\n`);
    fs.renameSync(`${file}.tmp`, file);
    return file;
  };
  // the gateways' shutdown is part of the record
  await cleanup();
  const shutdown = Object.fromEntries(gateways.map((g) => [g.name, { stopMs: g.stopMs, killed: Boolean(g.killed), exit: g.exited }]));
  for (const g of gateways) {
    out(`gateway ${g.name} stop: ${g.killed ? 'did not exit within 10 s of SIGTERM, killed' : `exited ${g.stopMs} ms after SIGTERM`} ` +
      `(code ${g.exited?.code}, signal ${g.exited?.signal})\n`);
  }
  const file = save({ shutdown, problems });
  out(`results: ${path.relative(process.cwd(), file)}\n`);
  if (problems.length) {
    out(`FAILED: ${problems.join(', ')}\n`);
    return 1;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// output

function printTable(r: any): void {
  const f = (x: number | null) => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(2));
  const rows: string[][] = [
    ['', '', '', '', '', 'from commit', '', '', 'from response', '', ''],
    ['', 'expected', 'received', 'lost', 'dup', 'p50 ms', 'p99 ms', 'max ms', 'p50 ms', 'p99 ms', 'max ms'],
  ];
  const row = (name: string, s: LatencyStats) => rows.push([name, String(s.expected), String(s.received), String(s.lost), String(s.duplicates),
    f(s.fromCommitMs.p50), f(s.fromCommitMs.p99), f(s.fromCommitMs.max), f(s.fromResponseMs.p50), f(s.fromResponseMs.p99), f(s.fromResponseMs.max)]);
  row('gateway subscribers', r.subscribers.all);
  row('  on gateway A', r.subscribers.A);
  row('  on gateway B', r.subscribers.B);
  row('redis baseline', r.redisBaseline);
  const widths = rows[1].map((_, c) => Math.max(...rows.slice(1).map((x) => x[c].length)));
  const line = (x: string[]) => x.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  const groupAt = (c: number) => widths.slice(0, c).reduce((n, w) => n + w + 2, 0);
  const header = `${' '.repeat(groupAt(5))}${rows[0][5].padEnd(groupAt(8) - groupAt(5))}${rows[0][8]}`;
  const cpu = r.cpuPercentOfOneCore;
  const el = r.eventLoops;
  const l = r.load;
  const lines: string[] = [''];
  lines.push(`fan-out: ${r.options.subscribers} subscribers (A ${r.memory.A.subscribers}, B ${r.memory.B.subscribers}), ${r.options.fills} fills ` +
    `at ${r.options.rate}/s via ${r.options.via} (achieved ${l.achievedRate}/s, ${l.fillsFailed} failed)`);
  lines.push('latency of each delivery = arrival - the fill\'s commit (its outbox row insert, just before COMMIT: a tight upper bound)');
  lines.push('                          and arrival - the executeTrade response at the bench (after the commit: a lower bound)');
  lines.push(header);
  lines.push(line(rows[1]));
  lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const x of rows.slice(2)) lines.push(line(x));
  lines.push('');
  lines.push(`ratio gateway / baseline: from commit p50 ${r.ratio.fromCommit.p50}x, p99 ${r.ratio.fromCommit.p99}x; ` +
    `from response p50 ${r.ratio.fromResponse.p50}x, p99 ${r.ratio.fromResponse.p99}x`);
  lines.push(`per fill, commit -> the last of ${r.options.subscribers} subscribers: p50 ${f(r.subscribers.lastOfNFromCommitMs.p50)} ms, ` +
    `p99 ${f(r.subscribers.lastOfNFromCommitMs.p99)} ms, max ${f(r.subscribers.lastOfNFromCommitMs.max)} ms`);
  lines.push(`per fill, commit -> relay marked it published: p50 ${f(l.relayPublishedAfterCommitMs.p50)} ms, p99 ${f(l.relayPublishedAfterCommitMs.p99)} ms, ` +
    `max ${f(l.relayPublishedAfterCommitMs.max)} ms`);
  lines.push(`executeTrade round trip: p50 ${f(l.executeTradeMs.p50)} ms, p99 ${f(l.executeTradeMs.p99)} ms, max ${f(l.executeTradeMs.max)} ms; ` +
    `response after commit: p50 ${f(l.responseAfterCommitMs.p50)} ms, p99 ${f(l.responseAfterCommitMs.p99)} ms`);
  for (const g of ['A', 'B'] as const) {
    const m = r.memory[g];
    lines.push(`memory gateway ${g}: RSS ${(m.rssBeforeKb / 1024).toFixed(1)} MB before, ${(m.rssAfterKb / 1024).toFixed(1)} MB with ${m.subscribers} subscribers ` +
      `-> ${m.perSubscriberKb} KB per subscriber (${(m.rssEndKb / 1024).toFixed(1)} MB after the load)`);
  }
  lines.push(`cpu during the load, % of one core: gateway A ${cpu.gatewayA}, gateway B ${cpu.gatewayB}, bench ${cpu.bench}, workers ${cpu.workerA} + ${cpu.workerB}; ` +
    `whole machine ${cpu.machineBusy} of ${cpu.machineCapacity} (${r.environment.cpus} cores, load average ${r.environment.loadavg[0]})`);
  lines.push(`event loop utilization: bench ${el.bench.utilization} (delay p99 ${el.bench.delayP99Ms} ms), workers ${el.workerA.utilization} / ${el.workerB.utilization} ` +
    `(delay p99 ${el.workerA.delayP99Ms} / ${el.workerB.delayP99Ms} ms); database clock - bench clock ${r.environment.databaseClockOffset.offsetMs} ms`);
  lines.push(`subscribers: ${r.subscribers.outOfOrder} out-of-order deliveries, ${r.subscribers.errors} errors`);
  for (const e of r.subscribers.sampleErrors) lines.push(`  ${e}`);
  const c = r.channel;
  lines.push(`channel ${CHANNEL}: ${c.events} events up to sequence ${c.lastSequence}; ${c.gaps} gaps, ${c.outOfOrder} out of order, ${c.repeats} repeats` +
    (c.anomalies.length ? ` (${c.anomalies.slice(0, 4).map((x: any) => `${x.kind}: ${x.got} after ${x.after}`).join('; ')})` : ''));
  for (const g of ['A', 'B'] as const) {
    const logs: string[] = r.gatewayLogs[g];
    lines.push(`gateway ${g} warn/error log lines: ${logs.length + r.gatewayLogs.droppedLines[g]}`);
    for (const x of logs.slice(0, 10)) lines.push(`  ${x}`);
  }
  lines.push('');
  out(`${lines.join('\n')}\n`);
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  let opts: Options;
  try {
    opts = options();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${HELP}\n`);
    process.exit(2);
  }
  // Whatever ends this process early still stops the gateways and drops the database.
  const abort = (why: string, code: number) => {
    fatal ??= why;
    process.stderr.write(`fan-out bench: ${why}: stopping\n`);
    void cleanup().finally(() => process.exit(code));
  };
  process.stdout.on('error', () => {
    stdoutGone = true; // a closed pipe (| head): keep going quietly, the results file still gets written
  });
  process.on('uncaughtException', (error) => abort(`uncaught ${error.stack ?? error.message}`, 1));
  process.on('unhandledRejection', (error) => abort(`unhandled rejection ${(error as Error)?.stack ?? String(error)}`, 1));
  const onSignal = (signal: NodeJS.Signals) => {
    progress(`${signal}: stopping`);
    fatal = `interrupted by ${signal}`;
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const overall = setTimeout(() => {
    fatal = `the run took longer than ${opts.timeoutS} s`;
    progress(`${fatal}: stopping`);
    void cleanup().finally(() => process.exit(3));
  }, opts.timeoutS * 1000);
  overall.unref();

  let code = 1;
  try {
    code = await run(opts);
  } catch (error) {
    process.stderr.write(`fan-out bench failed: ${(error as Error).message}\n`);
    for (const gw of gateways) {
      if (gw.logs.length) process.stderr.write(`gateway ${gw.name} warn/error log lines:\n${gw.logs.map((l) => `  ${l}`).join('\n')}\n`);
    }
    code = 1;
  } finally {
    await cleanup();
    clearTimeout(overall);
  }
  process.exit(code);
}

void main();
