/** `tradeql sync`: the analytics synchronizer alone, with its own event hub, until SIGINT or SIGTERM. */
import type { Config } from './config';
import type { Logger } from './platform/logger';
import { EventHub } from './platform/event-hub';
import { createPubSub } from './platform/pubsub';
import { applyMigrations, assertMigrated, openDatabase } from './app';
import { AnalyticsSynchronizer } from './modules/analytics/synchronizer';

export async function runSynchronizer(config: Config, log: Logger): Promise<void> {
  const runtime = await openDatabase(config, log);
  if (runtime.embedded) await applyMigrations(runtime.db, log);
  else await assertMigrated(runtime.db);
  const pubsub = createPubSub(config.REDIS_URL, log.child({ component: 'pubsub' }), config.EVENTS_CHANNEL);
  const hub = new EventHub(runtime.db, pubsub, log.child({ component: 'event-hub' }), config.SUBSCRIBER_QUEUE_LIMIT);
  await hub.start();
  // Without Redis nothing published by other processes reaches this one: read the outbox every second instead.
  const sync = new AnalyticsSynchronizer(runtime.db, hub, log.child({ component: 'analytics-sync' }), { pollMs: config.REDIS_URL ? undefined : 1_000 });
  sync.start();
  log.info({ pubsub: pubsub.kind }, 'analytics synchronizer running');
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  log.info({ signal, applied: sync.applied, lastSequence: sync.lastSequence }, 'analytics synchronizer stopping');
  await sync.stop();
  await hub.stop();
  await pubsub.close();
  await runtime.close();
}
