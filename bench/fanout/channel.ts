/** The gateways' Redis channel: who else listens on it, and the order in which it delivered the run's events. */
import Redis from 'ioredis';
import { BenchError } from './lifecycle';

export const CHANNEL = 'tradeql.events'; // fixed by the gateway (src/platform/outbox.ts)

/** A client that fails fast instead of reconnecting; the commands that fail report it. */
export function redisClient(redisUrl: string): Redis {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined);
  return redis;
}

/** How many clients subscribe to the channel. */
export async function channelListeners(redisUrl: string): Promise<number> {
  const redis = redisClient(redisUrl);
  try {
    await redis.connect();
    const [, n] = (await redis.pubsub('NUMSUB', CHANNEL)) as [string, number];
    return Number(n);
  } finally {
    redis.disconnect();
  }
}

/** Redis is reachable, and no other gateway is on the channel (its events and ours would mix) unless `force`. */
export async function checkChannelFree(redisUrl: string, force: boolean): Promise<void> {
  let listeners: number;
  try {
    listeners = await channelListeners(redisUrl);
  } catch (error) {
    throw new BenchError(`Redis at ${redisUrl} is not reachable: ${(error as Error).message}`);
  }
  if (listeners > 0 && !force) {
    throw new BenchError(`${listeners} client(s) already subscribe to ${CHANNEL} on ${redisUrl}: another gateway (or a test) uses ` +
      'this Redis, and its events and the bench\'s would mix; stop it, set REDIS_URL to another Redis, or pass --force');
  }
}

/**
 * What the gateways' event hubs see: every event of the run on the one channel. Sequences should come 1, 2, 3, ...
 * with none skipped, repeated or reordered (a gateway that sees a jump logs "gap in the event sequence").
 */
export function channelAnalysis(order: { sequence: string; topic: string; at: number }[], origin: number) {
  const anomalies: { kind: 'gap' | 'out-of-order' | 'repeat'; after: string; got: string; topic: string; atMs: number }[] = [];
  const seen = new Set<string>();
  let max = -1n;
  let gaps = 0;
  let reordered = 0;
  let repeats = 0;
  for (const m of order) {
    const seq = BigInt(m.sequence);
    let kind: 'gap' | 'out-of-order' | 'repeat' | undefined;
    if (seen.has(m.sequence)) (kind = 'repeat'), repeats++;
    else if (max >= 0n && seq < max) (kind = 'out-of-order'), reordered++;
    else if (max >= 0n && seq > max + 1n) (kind = 'gap'), gaps++;
    if (kind && anomalies.length < 50) anomalies.push({ kind, after: max.toString(), got: m.sequence, topic: m.topic, atMs: Math.round(m.at - origin) });
    seen.add(m.sequence);
    if (seq > max) max = seq;
  }
  return { events: order.length, lastSequence: max.toString(), gaps, outOfOrder: reordered, repeats, anomalies };
}
