/**
 * One publish/subscribe interface over Redis (graphql-redis-subscriptions' RedisPubSub on ioredis) when REDIS_URL is
 * set, or in-process (graphql-subscriptions' PubSub) for a single instance. `onResubscribed` fires when the Redis
 * subscriber connection comes back after a drop: messages published meanwhile were never delivered to it, so
 * listeners catch up from the database.
 */
import { PubSub, type PubSubEngine } from 'graphql-subscriptions';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import Redis from 'ioredis';
import type { Logger } from './logger';

/** Deployments that share one Redis need channels of their own (EVENTS_CHANNEL). */
export const DEFAULT_EVENTS_CHANNEL = 'tradeql.events';

export interface PubSubHandle {
  engine: PubSubEngine;
  /** The one channel every event is published on: every gateway sees the whole sequence and can notice a gap. */
  channel: string;
  kind: 'redis' | 'memory';
  onResubscribed(listener: () => void): void;
  /** a command connection (fails fast while Redis is down), for other shared state such as rate limits */
  commands?: Redis;
  /** Whether a publish can reach subscribers right now. */
  ready(): boolean;
  close(): Promise<void>;
}

export function createPubSub(redisUrl: string | undefined, log: Logger, channel = DEFAULT_EVENTS_CHANNEL): PubSubHandle {
  if (!redisUrl) {
    return { engine: new PubSub(), channel, kind: 'memory', onResubscribed: () => undefined, ready: () => true, close: async () => undefined };
  }
  const retryStrategy = (attempt: number) => Math.min(50 * 2 ** attempt, 2000);
  // The publisher fails fast while Redis is down (no offline queue): the relay keeps the events in the outbox and
  // tries again, instead of piling them up in memory.
  const publisher = new Redis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy, lazyConnect: false });
  const subscriber = new Redis(redisUrl, { retryStrategy, autoResubscribe: true });
  const listeners: (() => void)[] = [];
  let everReady = false;
  subscriber.on('ready', () => {
    if (everReady) {
      log.info('redis subscriber reconnected; catching up from the outbox');
      for (const listener of listeners) listener();
    }
    everReady = true;
  });
  for (const [name, client] of [['publisher', publisher], ['subscriber', subscriber]] as const) {
    let down = false;
    client.on('error', (err) => {
      if (!down) log.warn({ client: name, err: { message: err.message } }, 'redis unavailable');
      down = true;
    });
    client.on('ready', () => {
      if (down) log.info({ client: name }, 'redis available again');
      down = false;
    });
  }
  const engine = new RedisPubSub({ publisher, subscriber });
  return {
    engine,
    channel,
    kind: 'redis',
    commands: publisher,
    onResubscribed: (listener) => listeners.push(listener),
    ready: () => publisher.status === 'ready',
    async close() {
      publisher.disconnect();
      subscriber.disconnect();
    },
  };
}
