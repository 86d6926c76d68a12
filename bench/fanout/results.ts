/** The run's result, as printed and saved: the measurements turned into statistics, plus what they were taken under. */
import os from 'node:os';
import type { Collected } from './shared';
import type { Options } from './options';
import type { GatewayProcess } from './gateways';
import type { Baseline } from './baseline';
import type { Fill } from './fills';
import type { Usage } from './usage';
import type { channelAnalysis } from './channel';
import type { clockOffset, outboxSummary } from './outbox';
import { addWorker, dist, round, Samples, type LatencyStats } from './stats';

type PerGateway<T> = Record<'A' | 'B', T>;

export interface Measurements {
  opts: Options;
  startedAt: Date;
  warmupFills: number;
  gateways: PerGateway<GatewayProcess>;
  subscribersPerGateway: PerGateway<number>;
  rssBefore: PerGateway<number>;
  rssAfter: PerGateway<number>;
  clockSkew: Awaited<ReturnType<typeof clockOffset>>;
  /** the measured fills; the ones that succeeded carry their outbox times */
  fills: Fill[];
  loadStartedAt: number;
  loadMs: number;
  usage: Usage;
  listenersDuring: number;
  /** the workers' arrivals of the fills that succeeded, A's then B's */
  collected: [Collected, Collected];
  baseline: Baseline;
  channel: ReturnType<typeof channelAnalysis>;
  outbox: Awaited<ReturnType<typeof outboxSummary>>;
}

const ratioOf = (gateway: LatencyStats['fromCommitMs'], baseline: LatencyStats['fromCommitMs']) =>
  ({ p50: round(gateway.p50! / baseline.p50!), p99: round(gateway.p99! / baseline.p99!) });

export function buildResult(m: Measurements) {
  const { opts, fills, baseline, usage, subscribersPerGateway: perGateway, rssBefore, rssAfter } = m;
  const { A: a, B: b } = m.gateways;
  const [ca, cb] = m.collected;
  const ok = fills.filter((f) => f.tradeId);
  const failed = fills.filter((f) => f.error);

  const sAll = new Samples();
  const sA = new Samples();
  const sB = new Samples();
  const wa = addWorker(ok, ca, [sAll, sA]);
  const wb = addWorker(ok, cb, [sAll, sB]);
  const all = sAll.stats(ok.length * opts.subscribers, ca.duplicates + cb.duplicates);
  const sRedis = new Samples();
  for (const f of ok) {
    const at = baseline.arrivals.get(f.tradeId!);
    if (at !== undefined) sRedis.add(at, f);
  }
  const redis = sRedis.stats(ok.length, baseline.duplicates);
  // per fill: from its commit until the last of all N subscribers had it (only fills that reached everyone)
  const lastOfN = dist(ok.map((f, t) => Math.max(wa.perFillLast[t], wb.perFillLast[t]) - f.commitAt!).filter((x) => !Number.isNaN(x)));
  const responseAfterCommit = dist(ok.map((f) => f.respAt! - f.commitAt!));
  const ratio = {
    fromCommit: ratioOf(all.fromCommitMs, redis.fromCommitMs),
    fromResponse: ratioOf(all.fromResponseMs, redis.fromResponseMs),
  };
  const memory = Object.fromEntries((['A', 'B'] as const).map((g) => [g, {
    subscribers: perGateway[g], rssBeforeKb: rssBefore[g], rssAfterKb: rssAfter[g], rssEndKb: usage.rssEnd[g],
    perSubscriberKb: round((rssAfter[g] - rssBefore[g]) / perGateway[g], 1),
  }])) as PerGateway<{ subscribers: number; rssBeforeKb: number; rssAfterKb: number; rssEndKb: number; perSubscriberKb: number | null }>;
  // per fill, every time relative to its commit
  const timeline = ok.map((f, t) => ({
    index: f.index, via: f.via, tradeId: f.tradeId,
    sentMs: round(f.sentAt! - m.loadStartedAt), executeTradeMs: round(f.respAt! - f.sentAt!), commitAfterSendMs: round(f.commitAt! - f.sentAt!),
    responseAfterCommitMs: round(f.respAt! - f.commitAt!),
    baselineMs: round((baseline.arrivals.get(f.tradeId!) ?? NaN) - f.commitAt!),
    firstSubscriberMs: round(Math.min(wa.perFillFirst[t], wb.perFillFirst[t]) - f.commitAt!),
    lastSubscriberMs: round(Math.max(wa.perFillLast[t], wb.perFillLast[t]) - f.commitAt!),
  }));
  const workerEventLoop = (c: Collected) => ({ utilization: c.eventLoopUtilization, delayP99Ms: c.eventLoopDelayP99Ms, delayMaxMs: c.eventLoopDelayMaxMs });
  const gatewayCpu = usage.gatewayCpuPercent();

  return {
    startedAt: m.startedAt.toISOString(),
    options: { subscribers: opts.subscribers, fills: opts.fills, rate: opts.rate, via: opts.via, warmupFills: m.warmupFills },
    environment: {
      node: process.version, cpus: os.cpus().length, loadavg: os.loadavg().map((x) => round(x)), channelListenersDuringRun: m.listenersDuring,
      databaseClockOffset: m.clockSkew,
    },
    method: {
      clock: 'clock() = performance.timeOrigin + performance.now() in every bench process; the database clock for outbox times (same machine)',
      fromCommitMs: 'arrival - created_at of the trade event\'s outbox row, inserted by the fill\'s transaction as its last statement before COMMIT: ' +
        'above the true commit -> arrival by the duration of the COMMIT',
      fromResponseMs: 'arrival - arrival of the executeTrade HTTP response at the bench: below the true value (the response follows the commit)',
      fromSendMs: 'arrival - the executeTrade request was sent: includes the queue on the position row lock',
    },
    load: {
      durationMs: Math.round(m.loadMs), achievedRate: round((fills.length / m.loadMs) * 1000, 1), fillsOk: ok.length, fillsFailed: failed.length,
      fillErrors: failed.slice(0, 5).map((f) => f.error),
      executeTradeMs: dist(ok.map((f) => f.respAt! - f.sentAt!)),
      responseAfterCommitMs: responseAfterCommit,
    },
    subscribers: {
      all, A: sA.stats(ok.length * ca.subscribers, ca.duplicates), B: sB.stats(ok.length * cb.subscribers, cb.duplicates),
      lastOfNFromCommitMs: lastOfN,
      outOfOrder: ca.outOfOrder + cb.outOfOrder,
      errors: ca.errorCount + cb.errorCount,
      sampleErrors: [...ca.errors, ...cb.errors].slice(0, 20),
    },
    redisBaseline: { ...redis, messagesOnChannel: baseline.messages, foreignMessages: baseline.foreign },
    ratio,
    memory: { ...memory, seriesKb: usage.rssSeries },
    cpuPercentOfOneCore: {
      bench: usage.benchCpuPercent, workerA: ca.cpuPercent, workerB: cb.cpuPercent,
      gatewayA: gatewayCpu.A, gatewayB: gatewayCpu.B,
      machineBusy: usage.machineBusyPercent,
      machineCapacity: usage.machineCapacityPercent,
    },
    eventLoops: { bench: usage.benchEventLoop, workerA: workerEventLoop(ca), workerB: workerEventLoop(cb) },
    channel: m.channel,
    outbox: m.outbox,
    gatewayLogs: { A: a.logs, B: b.logs, droppedLines: { A: a.logsDropped, B: b.logsDropped } },
    timeline,
  };
}
export type Result = ReturnType<typeof buildResult>;

/** Why the run failed, if it did: nothing may be lost, duplicated or reordered, and every fill must succeed. */
export function problemsOf(r: Result): string[] {
  const lost = r.subscribers.all.lost + r.redisBaseline.lost;
  const problems: string[] = [];
  if (lost) problems.push(`${lost} deliveries lost`);
  if (r.load.fillsFailed) problems.push(`${r.load.fillsFailed} fills failed`);
  if (r.subscribers.errors) problems.push(`${r.subscribers.errors} subscriber errors`);
  if (r.subscribers.all.duplicates || r.redisBaseline.duplicates) problems.push('duplicate deliveries');
  if (r.subscribers.outOfOrder) problems.push(`${r.subscribers.outOfOrder} out-of-order deliveries`);
  return problems;
}
