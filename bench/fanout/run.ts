/** One run of the bench, from the setup to the results file; the steps are in bench/README.md. */
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { clock } from './shared';
import type { Options } from './options';
import { BenchError, out, progress, sleep } from './lifecycle';
import { createDatabase } from './database';
import { gateways, startGateways } from './gateways';
import { checkChannelFree, channelAnalysis, channelListeners } from './channel';
import { startBaseline } from './baseline';
import { createOrders } from './fills';
import { collect, connectSubscribers, measure } from './workers';
import { drain, planFills, sendFills, warmUp, WARMUP_FILLS } from './load';
import { gatewayRss, startUsage } from './usage';
import { clockOffset, outboxSummary, tradeEventTimes } from './outbox';
import { buildResult, problemsOf } from './results';
import { mb, printTable, reportShutdown, saveResult } from './report';
import { cleanup } from './cleanup';

/** Returns the exit code: 0 when nothing was lost, duplicated or reordered and every fill succeeded, else 1. */
export async function run(opts: Options): Promise<number> {
  const startedAt = new Date();
  const origin = clock();
  progress(`fan-out bench: ${opts.subscribers} subscribers, ${opts.fills} fills at ${opts.rate}/s via gateway ${opts.via}`);

  await checkChannelFree(opts.redisUrl, opts.force);
  const databaseUrl = await createDatabase(opts.pgUrl, `tradeql_bench_${process.pid}`);
  const [a, b] = await startGateways(databaseUrl, opts.redisUrl);

  // the baseline listens from before the run's first event
  const accountPrefix = `BENCH-${process.pid}`;
  const baseline = await startBaseline(opts.redisUrl, accountPrefix);

  // the accounts and one order per fill (warm-up fills first), all before any subscriber exists
  const orderIds = await createOrders(a, accountPrefix, WARMUP_FILLS + opts.fills);
  await sleep(1000); // the relay publishes the orders' events; the gateways settle
  const rssBefore = gatewayRss(a, b);
  progress(`setup: gateway RSS before subscribers: A ${mb(rssBefore.A)}, B ${mb(rssBefore.B)}`);

  // subscribers: one worker per gateway, half each
  const perGateway = { A: Math.ceil(opts.subscribers / 2), B: Math.floor(opts.subscribers / 2) };
  await connectSubscribers([{ gateway: a, count: perGateway.A }, { gateway: b, count: perGateway.B }]);
  const warmups = await warmUp(a, orderIds, opts.subscribers);
  await sleep(1000);
  const rssAfter = gatewayRss(a, b);
  progress(`all ${opts.subscribers} subscriptions live; gateway RSS: A ${mb(rssAfter.A)}, B ${mb(rssAfter.B)}`);

  const clockSkew = await clockOffset(databaseUrl);

  // the load, and the drain until its deliveries arrived
  const fills = planFills(opts, orderIds);
  measure();
  const usageSpan = startUsage(a, b);
  const loadStartedAt = clock();
  await sendFills(fills, { A: a, B: b }, opts.rate, usageSpan.started);
  const loadMs = performance.now() - usageSpan.started;
  const failed = fills.filter((f) => f.error);
  for (const f of failed.slice(0, 5)) progress(`fill ${f.index} failed: ${f.error}`);
  const ok = fills.filter((f) => f.tradeId);
  await drain(ok, opts.subscribers, baseline);
  const usage = usageSpan.stop();
  const listenersDuring = await channelListeners(opts.redisUrl).catch(() => -1);
  const [ca, cb] = await collect(ok.map((f) => f.tradeId!));

  // each fill's commit time from the outbox row of its trade event (written by the same transaction)
  const times = await tradeEventTimes(databaseUrl, accountPrefix);
  for (const f of ok) {
    const t = times.get(f.tradeId!);
    if (t) f.commitAt = t.created;
  }
  const noEvent = ok.filter((f) => f.commitAt === undefined);
  if (noEvent.length) throw new BenchError(`${noEvent.length} committed fills have no TRADE_EXECUTED outbox row (first: trade ${noEvent[0].tradeId})`);
  const channel = channelAnalysis(baseline.channelOrder, origin);
  const outbox = await outboxSummary(databaseUrl, channel.anomalies.slice(0, 10).map((x) => x.got));

  const result = buildResult({
    opts, startedAt, warmupFills: warmups.length, gateways: { A: a, B: b }, subscribersPerGateway: perGateway, rssBefore, rssAfter,
    clockSkew, fills, loadStartedAt, loadMs, usage, listenersDuring, collected: [ca, cb], baseline, channel, outbox,
  });
  printTable(result);
  const problems = problemsOf(result);
  // the gateways' shutdown is part of the record
  await cleanup();
  const shutdown = reportShutdown(gateways);
  const file = saveResult(result, { shutdown, problems });
  out(`results: ${path.relative(process.cwd(), file)}\n`);
  if (problems.length) {
    out(`FAILED: ${problems.join(', ')}\n`);
    return 1;
  }
  return 0;
}
