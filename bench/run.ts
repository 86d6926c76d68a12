/**
 * The benchmark suite of issue 6: the gateway against the physical limit (node:http + pg with the same SQL, a raw pg
 * transaction and a plpgsql function for writes, COPY for ingestion) and against PostGraphile 5, on the same data
 * set, interleaved in one run. See bench/README.md.
 *
 *   npm run bench -- --quick            about 2-3 minutes on a small data set
 *   npm run bench                       the full run (3.3 M bars; concurrency 1, 16, 64)
 *   npm run bench -- --help
 *
 * Processes: this one (orchestration, checks, measurements), the load worker (autocannon, bench/suite/load-worker.ts),
 * the gateway (`tradeql serve`), the baseline (bench/baseline/server.ts) and PostGraphile. This file is the runner:
 * the options, the exit paths, and the cleanup on every one of them; the run is bench/suite/run.ts.
 */
import { parseOptions, type Options } from './suite/options';
import { keepGoingWithoutStdout, progress, state } from './suite/lifecycle';
import { servers } from './suite/servers';
import { cleanup, run } from './suite/run';

function exitAfterCleanup(code: number): void {
  void cleanup().finally(() => process.exit(code));
}

async function main(): Promise<void> {
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (error) {
    const e = error as { code?: string; exitCode?: number; message: string };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') process.exit(0);
    process.exit(2);
  }
  const abort = (why: string, code: number) => {
    state.fatal ??= why;
    process.stderr.write(`bench: ${why}: stopping\n`);
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
    state.fatal = `the run took longer than ${opts.timeoutS} s`;
    progress(`${state.fatal}: stopping`);
    exitAfterCleanup(3);
  }, opts.timeoutS * 1000);
  overall.unref();

  let code = 1;
  try {
    code = await run(opts);
  } catch (error) {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? (error as Error).message}\n`);
    for (const s of servers) {
      if (s.logs.length) process.stderr.write(`${s.name} warn/error lines:\n${s.logs.slice(0, 20).map((l) => `  ${l}`).join('\n')}\n`);
    }
    code = 1;
  } finally {
    await cleanup();
    clearTimeout(overall);
  }
  process.exit(code);
}

void main();
