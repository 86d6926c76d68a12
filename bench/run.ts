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
import { runGuarded } from './suite/lifecycle';
import { servers } from './suite/servers';
import { cleanup, run } from './suite/run';

async function main(): Promise<void> {
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (error) {
    const e = error as { code?: string; exitCode?: number; message: string };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') process.exit(0);
    process.exit(2);
  }
  await runGuarded({
    name: 'bench',
    timeoutS: opts.timeoutS,
    run: () => run(opts),
    cleanup,
    serverLogs: () => servers.filter((s) => s.logs.length)
      .map((s) => `${s.name} warn/error lines:\n${s.logs.slice(0, 20).map((l) => `  ${l}`).join('\n')}\n`).join(''),
  });
}

void main();
