/** `tradeql serve`: the gateway on PORT; with no DATABASE_URL, on an embedded PostgreSQL with demo data. */
import type { Config } from './config';
import type { Logger } from './platform/logger';
import { applyMigrations, assertMigrated, openDatabase } from './app';
import { createGateway, type Gateway, type GatewayOptions } from './server/gateway';
import type { Database } from './platform/database';
import { DEFAULT_SYMBOLS, seedDemo } from './modules/ops/demo-seed';
import { replayBars } from './modules/ops/replay';
import { createDemoKeys, type DemoKeys } from './modules/ops/demo-keys';
import { ReadSession } from './platform/read-session';
import { background, requestContext } from './platform/request-context';
import type { Scope } from './platform/scope';

const EXAMPLE = `{ marketData(symbol: "AAPL", timeframe: M5, first: 3) { edges { node { timestamp open high low close volume } } } }`;

/** GraphiQL: on outside production; in production only when GRAPHIQL_ENABLED=true. */
const graphiqlEnabled = (config: Config) => config.GRAPHIQL_ENABLED ?? config.NODE_ENV !== 'production';

/** The gateway's settings from the config. */
export function gatewayOptions(config: Config, db: Database, log: Logger): GatewayOptions {
  return {
    db,
    log,
    redisUrl: config.REDIS_URL,
    consistencyWaitMs: config.CONSISTENCY_WAIT_MS,
    consistencyMemoryMs: config.CONSISTENCY_MEMORY_MS,
    eventsChannel: config.EVENTS_CHANNEL,
    outboxPollMs: config.OUTBOX_POLL_MS,
    outboxRetentionMs: config.OUTBOX_RETENTION_HOURS * 3_600_000,
    subscriberQueueLimit: config.SUBSCRIBER_QUEUE_LIMIT,
    wsKeepAliveMs: config.WS_KEEPALIVE_MS,
    syncEnabled: config.SYNC_ENABLED,
    venue: config.VENUE ?? (config.DATABASE_URL ? 'off' : 'paper'),
    sessionClose: config.SESSION_CLOSE,
    production: config.NODE_ENV === 'production',
    introspection: config.GRAPHQL_INTROSPECTION,
    queryLimits: {
      maxDepth: config.QUERY_MAX_DEPTH,
      maxAliases: config.QUERY_MAX_ALIASES,
      maxTokens: config.QUERY_MAX_TOKENS,
      maxDirectives: config.QUERY_MAX_DIRECTIVES,
      maxCost: config.QUERY_MAX_COST,
    },
    corsOrigins: config.CORS_ORIGINS,
    maxBodyBytes: config.MAX_BODY_BYTES,
    metricsEnabled: config.METRICS_ENABLED,
    slowQueryMs: config.SLOW_QUERY_MS,
    web: { graphiql: graphiqlEnabled(config), dashboard: config.DASHBOARD_ENABLED },
    rateLimits: { readsPerSecond: config.RATE_LIMIT_READS_PER_SEC, mutationsPerSecond: config.RATE_LIMIT_MUTATIONS_PER_SEC },
    requestStatementTimeoutMs: config.REQUEST_STATEMENT_TIMEOUT_MS,
    apiKeyCacheMs: config.API_KEY_CACHE_MS,
    authFailuresPerMinute: config.AUTH_FAILURES_PER_MIN,
    trustedProxies: config.TRUSTED_PROXIES,
  };
}

export async function serve(config: Config, log: Logger): Promise<void> {
  const runtime = await openDatabase(config, log);
  if (runtime.embedded) {
    await applyMigrations(runtime.db, log);
    const [{ n }] = await runtime.db.read<{ n: string }>('select count(*)::text as n from execution.accounts', [], 'primary');
    if (n === '0') {
      log.info('empty embedded database: loading the demo data');
      await seedDemo(runtime.db, log, { progress: process.stderr.isTTY });
    }
  } else {
    await assertMigrated(runtime.db);
  }
  // Every request needs a key: the embedded demo makes two to start with.
  const demoKeys: DemoKeys | undefined = runtime.embedded ? await createDemoKeys(runtime.db) : undefined;
  const gateway = await createGateway(gatewayOptions(config, runtime.db, log));
  const { url } = await gateway.listen(config.PORT, config.HOST);
  log.info({ url, embedded: runtime.embedded, replicas: config.DATABASE_REPLICA_URLS.length, pubsub: config.REDIS_URL ? 'redis' : 'in-process' }, 'tradeql is listening');
  const stopReplay = (config.REPLAY ?? runtime.embedded) ? startReplay(config, runtime.db, gateway, log) : undefined;
  // Humans starting it by hand want to know where it is and what to ask.
  const pages = [
    ...(config.DASHBOARD_ENABLED ? [`  Dashboard:  ${url.replace(/\/graphql$/, '/dashboard')}\n`] : []),
    ...(graphiqlEnabled(config) ? [`  GraphiQL:   ${url} (in a browser)\n`] : []),
  ].join('');
  const keys = demoKeys
    ? `\nDemo API keys (new at each start):\n  admin:             ${demoKeys.admin}\n  trader (${demoKeys.traderAccount}):  ${demoKeys.trader}\n`
    : `\nCreate an API key:  npx tradeql apikey create --role admin --name ops\n`;
  const auth = demoKeys ? demoKeys.admin : '<key>';
  process.stdout.write(`\ntradeql GraphQL API on ${url}\n${pages ? `\n${pages}` : ''}${keys}\nTry:\n  curl -s ${url} -H 'content-type: application/json' -H 'authorization: Bearer ${auth}' \\\n    -d '${JSON.stringify({ query: EXAMPLE })}'\n\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, 15_000);
    timer.unref();
    try {
      await stopReplay?.();
      await gateway.stop();
      await runtime.close();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // graphql-js 16 can leave a sibling's rejected promise unhandled after a list item failed (its answer already
  // carries the error): logged, never a crash of every client's gateway.
  process.on('unhandledRejection', (reason) => {
    const err = reason as Error;
    log.error({ err: { name: err?.name, message: err?.message, stack: err?.stack } }, 'unhandled promise rejection');
  });
}

/**
 * The embedded demo's moving market: the stored bars replayed in a loop, a bar a second at speed 60, until shutdown
 * (src/modules/ops/replay.ts). Returns what stops it.
 */
function startReplay(config: Config, db: Database, gateway: Gateway, log: Logger): () => Promise<void> {
  const controller = new AbortController();
  const replayLog = log.child({ component: 'replay' });
  // Its commits wake this process's relay, as a request's do.
  const outbox = { wake: () => requestContext.run(background('outbox-relay'), () => gateway.relay.wake()) };
  const scope: Scope = { db, reads: new ReadSession(db, 'primary'), log: replayLog, outbox };
  const symbols = config.REPLAY_SYMBOLS.length ? config.REPLAY_SYMBOLS : DEFAULT_SYMBOLS;
  replayLog.info({ symbols, speed: config.REPLAY_SPEED }, 'replaying the stored bars');
  const done = requestContext
    .run(background('replay'), () => replayBars(scope, gateway.services.marketData, { symbols, speed: config.REPLAY_SPEED, loop: true, signal: controller.signal }))
    .then((report) => replayLog.info({ report }, 'replay stopped'), (error) => replayLog.error({ err: error }, 'replay failed'));
  return async () => {
    controller.abort();
    await done;
  };
}
