/**
 * What every part of the suite shares while it runs: progress output, the fatal condition that ends every wait
 * (a server that died), and whether the run is stopping (from then on, children exiting is expected).
 */
import { performance } from 'node:perf_hooks';

export class BenchError extends Error {}

export const state: { stopping: boolean; fatal?: string } = { stopping: false };

const t0 = performance.now();
let stdoutGone = false;

export function out(text: string): void {
  if (!stdoutGone) process.stdout.write(text);
}

export function progress(message: string): void {
  out(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
}

export function keepGoingWithoutStdout(): void {
  process.stdout.on('error', () => {
    stdoutGone = true; // a closed pipe (| head): keep going quietly, the results file still gets written
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A child process exited on its own: unless the run is stopping, nothing it was part of can finish. */
export function childExited(message: string): void {
  if (state.stopping) return;
  state.fatal = message;
  progress(message);
}

/** Throws once a child died or the run was aborted, so no loop waits for something that cannot come. */
export function checkAlive(): void {
  if (state.fatal) throw new BenchError(state.fatal);
}

export async function waitFor(done: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    checkAlive();
    if (await done()) return true;
    if (performance.now() > deadline) return false;
    await sleep(everyMs);
  }
}
