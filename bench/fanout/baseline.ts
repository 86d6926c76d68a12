/** The bare Redis baseline: an ioredis subscriber on the gateways' channel, in the bench process. */
import type Redis from 'ioredis';
import { clock, SYMBOL } from './shared';
import { CHANNEL, redisClient } from './channel';

export interface Baseline {
  redis: Redis;
  /** tradeId -> clock() at the first arrival */
  arrivals: Map<string, number>;
  duplicates: number;
  messages: number;
  foreign: number;
  /** every event of this run's account, in the order the channel delivered them */
  channelOrder: { sequence: string; topic: string; at: number }[];
}

/** The one started, for the cleanup. */
let current: Baseline | undefined;

/** Keeps the trade events of the accounts `<prefix>-...`. */
export async function startBaseline(redisUrl: string, prefix: string): Promise<Baseline> {
  const redis = redisClient(redisUrl);
  const baseline: Baseline = { redis, arrivals: new Map(), duplicates: 0, messages: 0, foreign: 0, channelOrder: [] };
  current = baseline;
  await redis.connect();
  redis.on('message', (channel: string, message: string) => {
    const at = clock();
    if (channel !== CHANNEL) return;
    baseline.messages++;
    let event: { sequence?: string; topic?: string; accountId?: string; symbol?: string; payload?: { trade?: { tradeId?: string | number } } };
    try {
      event = JSON.parse(message);
    } catch {
      baseline.foreign++;
      return;
    }
    if (typeof event.accountId !== 'string' || !event.accountId.startsWith(`${prefix}-`)) {
      baseline.foreign++;
      return;
    }
    if (baseline.channelOrder.length < 1_000_000) baseline.channelOrder.push({ sequence: String(event.sequence), topic: String(event.topic), at });
    if (event.topic !== 'TRADE_EXECUTED' || event.symbol !== SYMBOL || event.payload?.trade?.tradeId === undefined) return;
    const tradeId = String(event.payload.trade.tradeId);
    if (baseline.arrivals.has(tradeId)) baseline.duplicates++;
    else baseline.arrivals.set(tradeId, at);
  });
  await redis.subscribe(CHANNEL);
  return baseline;
}

export function closeBaseline(): void {
  current?.redis.disconnect();
}
