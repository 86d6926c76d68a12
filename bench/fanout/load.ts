/** The load generator: the warm-up fills, the paced fills of the measurement, and the wait for their deliveries. */
import { performance } from 'node:perf_hooks';
import type { Options } from './options';
import type { GatewayProcess } from './gateways';
import type { Baseline } from './baseline';
import { sendFill, type Fill } from './fills';
import { counts } from './workers';
import { BenchError, checkAlive, progress, sleep, waitFor } from './lifecycle';

export const WARMUP_FILLS = 10; // at most this many fills until every subscription is live
const MAX_IN_FLIGHT = 50; // executeTrade requests in flight at once

/**
 * Fills (the first orders) until one fill reaches every subscriber, so that every subscription is live before
 * measuring: the gateway doesn't acknowledge a subscription, and it only receives events committed after it started.
 */
export async function warmUp(gw: GatewayProcess, orderIds: string[], subscribers: number): Promise<Fill[]> {
  const warmups: Fill[] = [];
  let live = false;
  for (let w = 0; w < WARMUP_FILLS && !live; w++) {
    const fill: Fill = { index: -1 - w, orderId: orderIds[w], via: 'A' };
    warmups.push(fill);
    await sendFill(fill, gw, '100');
    if (fill.error) throw new BenchError(`warm-up fill failed: ${fill.error}`);
    let have = 0;
    live = await waitFor(async () => (have = (await counts([fill.tradeId!]))[0]) === subscribers, 5_000, 100);
    progress(`warm-up fill ${w + 1}: reached ${have}/${subscribers} subscribers`);
  }
  if (!live) throw new BenchError(`after ${WARMUP_FILLS} warm-up fills some subscriptions still receive nothing`);
  return warmups;
}

/** The measured fills: the orders after the warm-up's, each sent through the gateway `--via` names. */
export function planFills(opts: Options, orderIds: string[]): Fill[] {
  return Array.from({ length: opts.fills }, (_, i) => ({
    index: i,
    orderId: orderIds[WARMUP_FILLS + i],
    via: opts.via === 'AB' ? (i % 2 ? 'B' : 'A') : opts.via,
  }));
}

/**
 * Open loop: each fill at its scheduled time (`rate` per second from `started`, a performance.now()), whether or not
 * the previous one has answered. Returns once every fill has answered.
 */
export async function sendFills(fills: Fill[], gateways: Record<'A' | 'B', GatewayProcess>, rate: number, started: number): Promise<void> {
  const intervalMs = 1000 / rate;
  const inFlight = new Set<Promise<void>>();
  let nextReport = 0.1;
  for (const fill of fills) {
    checkAlive();
    const wait = started + fill.index * intervalMs - performance.now();
    if (wait > 0) await sleep(wait);
    while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
    const p = sendFill(fill, gateways[fill.via], (100 + (fill.index % 100) / 100).toFixed(2)).finally(() => inFlight.delete(p));
    inFlight.add(p);
    const sent = fill.index + 1;
    if (sent / fills.length >= nextReport || sent === fills.length) {
      progress(`fills sent ${sent}/${fills.length}`);
      while (nextReport <= sent / fills.length) nextReport += 0.1;
    }
  }
  await Promise.all(inFlight);
}

/** Waits until every subscriber and the baseline have every fill in `ok`, or nothing new came for 10 s (at most 60 s). */
export async function drain(ok: Fill[], subscribers: number, baseline: Baseline): Promise<void> {
  const okIds = ok.map((f) => f.tradeId!);
  const expectedGateway = ok.length * subscribers;
  let lastTotal = -1;
  let lastChange = performance.now();
  const drainDeadline = performance.now() + 60_000;
  for (;;) {
    checkAlive();
    const n = (await counts(okIds)).reduce((x, y) => x + y, 0);
    const nb = okIds.filter((t) => baseline.arrivals.has(t)).length;
    if (n === expectedGateway && nb === ok.length) break;
    if (n + nb !== lastTotal) (lastTotal = n + nb), (lastChange = performance.now());
    if (performance.now() - lastChange > 10_000 || performance.now() > drainDeadline) {
      progress(`drain: stopped waiting with ${n}/${expectedGateway} subscriber deliveries and ${nb}/${ok.length} baseline deliveries`);
      break;
    }
    await sleep(200);
  }
}
