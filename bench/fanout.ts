/**
 * Fan-out latency: from the commit of a fill to its arrival at N GraphQL subscribers spread over two gateway
 * processes, next to a bare Redis subscriber on the gateways' channel as the baseline. See bench/README.md.
 *
 *   npx tsx bench/fanout.ts [--subscribers 1000] [--fills 200] [--rate 20] [--via A|B|AB] [--timeout 600]
 *   npm run bench:fanout -- --subscribers 100 --fills 50
 *
 * Processes: this one (orchestration, the fills over HTTP, the Redis baseline), two gateways (`tradeql serve`), and
 * one subscriber worker per gateway (bench/fanout/worker.ts) holding that gateway's graphql-ws clients. This file is
 * the runner: the options, the exit paths, and the cleanup on every one of them; the run is bench/fanout/run.ts.
 */
import { HELP, options, type Options } from './fanout/options';
import { keepGoingWithoutStdout, progress, state } from './fanout/lifecycle';
import { gateways } from './fanout/gateways';
import { cleanup } from './fanout/cleanup';
import { run } from './fanout/run';

/** Stops the gateways and drops the database before exiting. */
function exitAfterCleanup(code: number): void {
  void cleanup().finally(() => process.exit(code));
}

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
    state.fatal ??= why;
    process.stderr.write(`fan-out bench: ${why}: stopping\n`);
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
