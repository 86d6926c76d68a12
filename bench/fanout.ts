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
import { runGuarded } from './fanout/lifecycle';
import { gateways } from './fanout/gateways';
import { cleanup } from './fanout/cleanup';
import { run } from './fanout/run';

async function main(): Promise<void> {
  let opts: Options;
  try {
    opts = options();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${HELP}\n`);
    process.exit(2);
  }
  // Whatever ends this process early still stops the gateways and drops the database.
  await runGuarded({
    name: 'fan-out bench',
    timeoutS: opts.timeoutS,
    run: () => run(opts),
    cleanup,
    serverLogs: () => gateways.filter((gw) => gw.logs.length)
      .map((gw) => `gateway ${gw.name} warn/error log lines:\n${gw.logs.map((l) => `  ${l}`).join('\n')}\n`).join(''),
  });
}

void main();
