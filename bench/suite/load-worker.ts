/**
 * The load generator, a child process of the suite (started by load.ts), so that the client's work does not share
 * an event loop with the orchestrator. Driven over IPC: one autocannon run per `run` message, answered with its
 * summary. Never runs on its own.
 */
import autocannon from 'autocannon';
import { performance } from 'node:perf_hooks';
import { requestsFor, type ResponseTally, type RunSpec } from './scenarios';

export interface LoadResult {
  requests: number;
  durationS: number;
  rps: number;
  latencyMs: { p50: number; p90: number; p99: number; mean: number; max: number };
  tally: ResponseTally;
  non2xx: number;
  socketErrors: number;
  timeouts: number;
  bytesPerSecond: number;
  /** the load process's own CPU over the run, % of one core */
  clientCpuPercent: number;
}

export type ToLoadWorker = { type: 'run'; id: number; spec: RunSpec };
export type FromLoadWorker = { type: 'result'; id: number; result: LoadResult } | { type: 'failed'; id: number; message: string };

async function run(spec: RunSpec): Promise<LoadResult> {
  const tally: ResponseTally = { ok: 0, errorCodes: {}, pairs: 0, bars: 0 };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await autocannon({
    url: spec.baseUrl,
    connections: spec.connections,
    duration: spec.durationS,
    ...(spec.amount ? { amount: spec.amount } : {}),
    requests: requestsFor(spec, tally),
    timeout: 30,
    // no pipelining: one request at a time per connection, as a client waiting for its answer
    pipelining: 1,
  });
  const spanMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const l = result.latency as unknown as Record<string, number>;
  // a run of `amount` calls lasts as long as they take (autocannon's own duration is in whole seconds)
  // (autocannon checks for the end once a second): from the first request to the last answer
  const durationS = spec.amount && tally.firstAt !== undefined && tally.lastAt !== undefined ? (tally.lastAt - tally.firstAt) / 1000 : result.duration;
  return {
    requests: result.requests.total,
    durationS,
    rps: result.requests.total / durationS,
    latencyMs: { p50: l.p50, p90: l.p90, p99: l.p99, mean: l.average, max: l.max },
    tally,
    non2xx: result.non2xx,
    socketErrors: result.errors,
    timeouts: result.timeouts,
    bytesPerSecond: result.throughput.average,
    clientCpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / spanMs) * 1000) / 10,
  };
}

if (!process.send) {
  process.stderr.write('bench/suite/load-worker.ts is started by bench/run.ts\n');
  process.exit(2);
}
process.on('disconnect', () => process.exit(0));
process.on('SIGINT', () => undefined); // Ctrl+C reaches the whole group: the suite stops us in order
process.on('message', (m: ToLoadWorker) => {
  if (m.type !== 'run') return;
  run(m.spec).then(
    (result) => process.send!({ type: 'result', id: m.id, result } satisfies FromLoadWorker),
    (error: Error) => process.send!({ type: 'failed', id: m.id, message: error.stack ?? error.message } satisfies FromLoadWorker),
  );
});
