/** The subscriber workers (worker.ts): one child process per gateway, holding that gateway's graphql-ws clients. */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Collected, FromWorker, ToWorker } from './shared';
import type { GatewayProcess } from './gateways';
import { BenchError, checkAlive, childExited, progress, waitFor } from './lifecycle';
import { ROOT } from './tradeql';

const CONNECT_BATCH = 50; // WebSocket handshakes in flight at once, per worker

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

/** Every worker started, for the cleanup. */
const workers: Worker[] = [];
let requestId = 0;

function startWorker(gateway: GatewayProcess, count: number, firstIndex: number): Worker {
  // execArgv is inherited: the worker runs under tsx like this process
  const child = fork(path.join(__dirname, 'worker.ts'), [], { cwd: ROOT, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
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
    childExited(`the subscriber worker of gateway ${gateway.name} exited during the run: code ${code}, signal ${signal}`);
  });
  const start: ToWorker = { type: 'start', gateway: gateway.name, wsUrl: gateway.wsUrl, count, firstIndex, connectBatch: CONNECT_BATCH, ackTimeoutMs: 15_000 };
  workers.push(worker);
  tell(worker, start);
  return worker;
}

/** A message to a worker; throws instead once the run is failing or the worker is gone. */
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

/** Starts one worker per gateway with its share of the subscribers, and waits until all of them are subscribed. */
export async function connectSubscribers(shares: { gateway: GatewayProcess; count: number }[]): Promise<void> {
  const total = shares.reduce((n, s) => n + s.count, 0);
  let firstIndex = 0;
  for (const { gateway, count } of shares) {
    startWorker(gateway, count, firstIndex);
    firstIndex += count;
  }
  let reported = 0;
  const allReady = await waitFor(() => {
    const failed = workers.find((w) => w.failed);
    if (failed) throw new BenchError(`subscribers of gateway ${failed.gateway.name}: ${failed.failed}`);
    const connected = workers.reduce((n, w) => n + w.connected, 0);
    if (connected >= reported + total / 10 || (connected === total && reported < connected)) {
      progress(`subscribers connected ${connected}/${total}`);
      reported = connected;
    }
    return workers.every((w) => w.ready !== undefined);
  }, 120_000);
  if (!allReady) throw new BenchError('the subscribers did not all connect within 120 s');
}

/** Per tradeId, how many subscribers (of all workers) have it. */
export async function counts(tradeIds: string[]): Promise<number[]> {
  const answers = await Promise.all(workers.map((w) => {
    const id = ++requestId;
    return ask<number[]>(w, { type: 'count', id, tradeIds }, (resolve) => w.pending.set(id, resolve));
  }));
  return tradeIds.map((_, i) => answers.reduce((n, a) => n + a[i], 0));
}

/** The workers start measuring their CPU and event loop (until `collect`). */
export function measure(): void {
  for (const w of workers) tell(w, { type: 'measure' });
}

/** Each worker's arrival times of `tradeIds` and its measurements, in the order the workers were started. */
export function collect(tradeIds: string[]): Promise<Collected[]> {
  return Promise.all(workers.map((w) => ask<Collected>(w, { type: 'collect', tradeIds }, (resolve) => (w.collected = resolve))));
}

/** Asks every worker to close its subscribers and exit; SIGKILL after 10 s. */
export async function closeWorkers(): Promise<void> {
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
}
