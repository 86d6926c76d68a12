/**
 * What every part of the bench shares while it runs: the progress output, the fatal condition that ends every wait,
 * and whether the run is being stopped (from then on, children exiting is expected).
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

/** Calls `onLine` with each non-blank line a child process writes. */
export function onLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
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

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A child process exited on its own: unless the run is being stopped, nothing it was part of can finish. */
export function childExited(message: string): void {
  if (state.stopping) return;
  state.fatal = message;
  progress(message);
}

/** Throws once a child died or the run was aborted, so no loop waits for something that cannot come. */
export function checkAlive(): void {
  if (state.fatal) throw new BenchError(state.fatal);
}

export async function waitFor(done: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    checkAlive();
    if (await done()) return true;
    if (performance.now() > deadline) return false;
    await sleep(everyMs);
  }
}

export interface GuardedRun {
  /** how the bench names itself in messages */
  name: string;
  /** the whole run may take this long */
  timeoutS: number;
  /** the run itself: its exit code */
  run(): Promise<number>;
  /** stops every server and removes what the run added; called on every exit path */
  cleanup(): Promise<void>;
  /** the servers' warn/error lines, shown when the run failed */
  serverLogs(): string;
}

/**
 * Runs a bench so that whatever ends it (an error, an uncaught one, SIGINT/SIGTERM, the overall timeout) still
 * stops its servers and cleans up before the process exits: 0/1 from the run, 1 on an error, 130 on a signal, 3 on
 * the timeout.
 */
export async function runGuarded(g: GuardedRun): Promise<never> {
  const exitAfterCleanup = (code: number) => void g.cleanup().finally(() => process.exit(code));
  const abort = (why: string, code: number) => {
    state.fatal ??= why;
    process.stderr.write(`${g.name}: ${why}: stopping\n`);
    exitAfterCleanup(code);
  };
  keepGoingWithoutStdout();
  process.on('uncaughtException', (error) => abort(`uncaught ${error.stack ?? error.message}`, 1));
  process.on('unhandledRejection', (error) => abort(`unhandled rejection ${(error as Error)?.stack ?? String(error)}`, 1));
  const onSignal = (signal: NodeJS.Signals) => {
    progress(`${signal}: stopping`);
    state.fatal = `interrupted by ${signal}`;
    exitAfterCleanup(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const overall = setTimeout(() => {
    state.fatal = `the run took longer than ${g.timeoutS} s`;
    progress(`${state.fatal}: stopping`);
    exitAfterCleanup(3);
  }, g.timeoutS * 1000);
  overall.unref();

  let code = 1;
  try {
    code = await g.run();
  } catch (error) {
    process.stderr.write(`${g.name} failed: ${(error as Error).stack ?? (error as Error).message}\n${g.serverLogs()}`);
    code = 1;
  } finally {
    await g.cleanup();
    clearTimeout(overall);
  }
  process.exit(code);
}
