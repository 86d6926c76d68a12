/** The load worker seen from the suite: start it, hand it runs, stop it. */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { BenchError, childExited } from './lifecycle';
import { ROOT } from './tradeql';
import type { RunSpec } from './scenarios';
import type { FromLoadWorker, LoadResult, ToLoadWorker } from './load-worker';

let child: ChildProcess | undefined;
let nextId = 0;
const pending = new Map<number, { resolve: (r: LoadResult) => void; reject: (e: Error) => void }>();

export function startLoadWorker(): ChildProcess {
  child = fork(path.join(__dirname, 'load-worker.ts'), [], {
    cwd: ROOT,
    execArgv: ['--require', 'tsx/cjs'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  child.on('message', (m: FromLoadWorker) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.type === 'result') p.resolve(m.result);
    else p.reject(new BenchError(`load worker: ${m.message}`));
  });
  child.on('exit', (code, signal) => {
    for (const p of pending.values()) p.reject(new BenchError(`the load worker exited: code ${code}, signal ${signal}`));
    pending.clear();
    childExited(`the load worker exited during the run: code ${code}, signal ${signal}`);
  });
  return child;
}

export function load(spec: RunSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    if (!child?.connected) return reject(new BenchError('the load worker is not running'));
    const id = ++nextId;
    pending.set(id, { resolve, reject });
    child.send({ type: 'run', id, spec } satisfies ToLoadWorker);
  });
}

export function loadWorkerPid(): number | undefined {
  return child?.pid;
}

export async function stopLoadWorker(): Promise<void> {
  const c = child;
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => c.kill('SIGKILL'), 5_000);
    c.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    c.disconnect();
  });
}
