/**
 * HTTP and WebSocket wiring on one port and path: Express 5 + Apollo Server for POST /graphql, graphql-ws on the same
 * /graphql for subscriptions, one context factory for both (read session, DataLoaders, request id), the outbox relay
 * and the event hub, health and readiness endpoints.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import express from 'express';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { Database, ReadTarget } from '../platform/database';
import type { Logger } from '../platform/logger';
import { ReadSession, type ConsistencyOptions } from '../platform/read-session';
import { CONSISTENCY_HEADER, ConsistencyMemory, consistencyFrom, consistencyTokenPlugin } from './consistency';
import { authenticate, INVALID_KEY_MESSAGE, validKeyIds } from '../modules/accounts/api-keys.service';
import { isAdmin, type Principal } from '../modules/accounts/api-keys';
import type { DbAccess } from '../platform/db-access';
import { applyAccessPolicy } from './access-policy';
import { applyInputGuard } from './input-guard';
import { PrincipalCache } from './principal-cache';
import { WsKeyWatch } from './ws-key-watch';
import { AuthFailureLimiter, isAuthRateLimited } from './auth-failures';
import { clientAddress } from './client-address';
import { RateLimiter, rateLimitPlugin, type RateLimits } from './rate-limits';
import { AppError } from '../platform/errors';
import { mapDatabaseError } from '../platform/db-errors';
import { getOperationAST, GraphQLError } from 'graphql';
import { createPubSub } from '../platform/pubsub';
import { OutboxRelay } from '../platform/outbox-relay';
import { EventHub } from '../platform/event-hub';
import { AnalyticsSynchronizer } from '../modules/analytics/synchronizer';
import { PaperVenue } from '../modules/venue/paper-venue';
import { createLoaders, createServices, type RequestContext, type Services } from '../modules';
import { buildResolvers, loadTypeDefs } from './schema';
import { createFormatError } from './format-error';
import { mountHealth } from './health';
import { mountWeb } from './web';
import { Drain } from './drain';
import { DEFAULT_QUERY_LIMITS, costLimitPlugin, limitRules, wsOperationGuard, type QueryLimits } from './query-limits';
import { DEFAULT_MAX_BODY_BYTES, httpSecurity } from './http-security';
import { GatewayMetrics, StatementTimer } from '../platform/metrics';
import { background, contextualExecution, operationDescriber, requestContext, rootFieldServices } from '../platform/request-context';
import { QueryPerformance } from '../platform/query-performance';
import { SystemLog } from '../platform/system-log';
import { accountsResolvers } from '../modules/accounts/accounts.resolvers';
import { analyticsResolvers } from '../modules/analytics/analytics.resolvers';
import { marketDataResolvers } from '../modules/market-data/market-data.resolvers';
import { opsResolvers } from '../modules/ops/ops.resolvers';
import { ordersResolvers } from '../modules/orders/orders.resolvers';
import { positionsResolvers } from '../modules/positions/positions.resolvers';
import { subscriptionResolvers } from '../modules/subscriptions.resolvers';
import { metricsPlugin, withWsMetrics } from './metrics-plugin';
import { combineRequestPlugins } from './request-plugins';
import { compiledExecutionGateway } from './compiled-execution';
import { graphqlHttpHandler, isGraphqlPost, type NodeMiddleware } from './graphql-http';

export interface GatewayOptions {
  db: Database;
  log: Logger;
  redisUrl?: string;
  /** how long a read with a consistency token waits for the replica before using the primary */
  consistencyWaitMs?: number;
  /** how long the last consistency token of an API key is remembered */
  consistencyMemoryMs?: number;
  /** Redis channel of this deployment's events */
  eventsChannel?: string;
  outboxPollMs?: number;
  outboxRetentionMs?: number;
  subscriberQueueLimit?: number;
  wsKeepAliveMs?: number;
  /** run the analytics synchronizer in this process */
  syncEnabled?: boolean;
  /** paper: this process may run the paper venue (one instance per database at a time); default off */
  venue?: 'paper' | 'off';
  /** the paper venue's session close, HH:MM UTC: DAY orders expire there (default 21:00) */
  sessionClose?: string;
  /** NODE_ENV=production: no introspection unless `introspection`, no field suggestions in validation errors */
  production?: boolean;
  /** default: on outside production, off in production */
  introspection?: boolean;
  queryLimits?: QueryLimits;
  /** origins allowed cross-origin; default none (same-origin only); ['*'] for any */
  corsOrigins?: string[];
  maxBodyBytes?: number;
  /** GET /metrics (Prometheus); default on. It has no authentication: not for the public network. */
  metricsEnabled?: boolean;
  /** statements slower than this count as slow (metrics, the warn log and logging.performance_logs) */
  slowQueryMs?: number;
  /** how often slow statements and warnings are written to the logging tables (default 500 ms) */
  monitoringFlushMs?: number;
  /** per-key budgets; default: no limits */
  rateLimits?: RateLimits;
  /** how long an authenticated key is remembered (ms); a revocation takes effect within it; 0: check every request */
  apiKeyCacheMs?: number;
  /** failed authentications per client address and minute before it is refused (RATE_LIMITED); default 0: no limit */
  authFailuresPerMinute?: number;
  /** proxies in front that append the client to X-Forwarded-For (default 0: the peer is the client) */
  trustedProxies?: number;
  /** statement timeout of request transactions (ms); default 5000 */
  requestStatementTimeoutMs?: number;
  /**
   * The resolver layer of access control (src/server/access-policy.ts); default on. Tests switch it off to prove
   * that row-level security alone keeps accounts apart. Never off in a deployment.
   */
  accessChecks?: boolean;
  /** browser pages: GraphiQL at GET /graphql (default: on outside production) and the dashboard (default: on) */
  web?: { graphiql?: boolean; dashboard?: boolean };
}

export interface Gateway {
  httpServer: http.Server;
  relay: OutboxRelay;
  hub: EventHub;
  synchronizer?: AnalyticsSynchronizer;
  /** with venue: 'paper' */
  venue?: PaperVenue;
  services: Services;
  /** statement counts and slow statements (logging.performance_logs) */
  performance: QueryPerformance;
  /** warnings and errors into logging.system_logs */
  systemLog: SystemLog;
  listen(port: number, host: string): Promise<{ port: number; url: string }>;
  stop(): Promise<void>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * A key whose lookup failed for another reason than the key (the primary unreachable, a timeout): never "invalid API
 * key", which a client would take for a verdict on its key. A database error the client may retry is answered with
 * its retryable error and 503 + Retry-After; anything else goes on as an unexpected error (500, masked).
 */
function keyNotChecked(error: unknown): unknown {
  const mapped = mapDatabaseError(error);
  if (!mapped?.details?.retryable) return error;
  return new GraphQLError(mapped.message, { originalError: mapped, extensions: { code: mapped.code, http: { status: 503, headers: new Map([['retry-after', '1']]) } } });
}

/** What graphql-ws keeps per socket: the key that opened it. */
interface WsExtra {
  principal?: Principal;
}

/** Which module serves each root field: the `service` of query-performance entries. */
const serviceOf = rootFieldServices({
  accounts: accountsResolvers, analytics: analyticsResolvers, 'market-data': marketDataResolvers, ops: opsResolvers,
  orders: ordersResolvers, positions: positionsResolvers, subscriptions: subscriptionResolvers,
});
const describeOperation = operationDescriber(serviceOf);

/** Names the request's context (set by the /graphql middleware) after its operation, once Apollo has found it. */
const operationContextPlugin: ApolloServerPlugin<RequestContext> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ document, operationName }) {
        const store = requestContext.getStore();
        if (store) Object.assign(store, describeOperation(document, operationName));
      },
    };
  },
};

/** Tells the client where its reads were served (replica / primary). */
const readSourcePlugin: ApolloServerPlugin<RequestContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ response, contextValue }) {
        if (response.body.kind !== 'single') return;
        const servedBy = [...contextValue.scope.reads.servedBy].sort();
        if (!servedBy.length) return;
        response.body.singleResult.extensions = { ...(response.body.singleResult.extensions ?? {}), readFrom: servedBy };
      },
    };
  },
};

export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const { db, log } = options;
  const services = createServices();
  // Warnings and errors to logging.system_logs; every statement timed once, for metrics and query performance.
  const monitoringFlushMs = options.monitoringFlushMs;
  const systemLog = new SystemLog(db, log, { intervalMs: monitoringFlushMs });
  const statements = new StatementTimer(db);
  const slowQueryMs = options.slowQueryMs ?? 1000;
  const performance = new QueryPerformance({ db, statements, log: log.child({ component: 'query-performance' }), slowQueryMs, flushMs: monitoringFlushMs });
  // Background components run in contexts of their own, so their statements are theirs, not a request's.
  const pubsub = requestContext.run(background('event-hub'), () => createPubSub(options.redisUrl, log.child({ component: 'pubsub' }), options.eventsChannel));
  const relay = new OutboxRelay(db, pubsub, log.child({ component: 'outbox-relay' }), {
    pollMs: options.outboxPollMs ?? 200,
    retentionMs: options.outboxRetentionMs ?? 24 * 3_600_000,
  });
  const hub = new EventHub(db, pubsub, log.child({ component: 'event-hub' }), options.subscriberQueueLimit);
  await requestContext.run(background('event-hub'), () => hub.start());
  requestContext.run(background('outbox-relay'), () => relay.start());
  // A request's commit wakes the relay: the publishing that follows is the relay's.
  const outbox = { wake: () => requestContext.run(background('outbox-relay'), () => relay.wake()) };
  const synchronizer = options.syncEnabled ? new AnalyticsSynchronizer(db, hub, log.child({ component: 'analytics-sync' })) : undefined;
  requestContext.run(background('analytics-sync'), () => synchronizer?.start());
  const venue = options.venue === 'paper'
    ? new PaperVenue(db, hub, services, log.child({ component: 'paper-venue' }), outbox, { sessionClose: options.sessionClose ?? '21:00' })
    : undefined;
  requestContext.run(background('paper-venue'), () => venue?.start());

  const statementTimeoutMs = options.requestStatementTimeoutMs ?? 5000;
  /** How the database sees a key: its accounts under row-level security, or the admin bypass. */
  const accessOf = (principal: Principal): DbAccess => ({
    keyId: principal.keyId,
    role: principal.role,
    accountIds: [...principal.accountIds],
    bypass: isAdmin(principal),
    statementTimeoutMs,
  });
  const context = (principal: Principal, requestId: string, cache: boolean, consistency: ConsistencyOptions = {}, prefer: ReadTarget = 'replica'): RequestContext => {
    const access = accessOf(principal);
    // The request's logger is made when something logs: most requests never do, and a pino child costs its bindings
    // and redaction setup.
    let requestLog: Logger | undefined;
    const scope = {
      db, reads: new ReadSession(db, prefer, consistency, access), outbox, access,
      get log(): Logger {
        return (requestLog ??= log.child({ requestId, keyId: principal.keyId }));
      },
    };
    return { scope, services, loaders: createLoaders(scope, services, { cache }), hub, requestId, principal };
  };
  const consistencyMemory = new ConsistencyMemory(options.consistencyMemoryMs ?? 10_000);
  const principals = new PrincipalCache(options.apiKeyCacheMs ?? 1000);
  // Open sockets lose a revoked key as HTTP requests do: within the cache's time (at least a second).
  const keyWatch = new WsKeyWatch((keyIds) => validKeyIds(db, keyIds), Math.max(1000, options.apiKeyCacheMs ?? 1000), log.child({ component: 'ws-keys' }));
  /**
   * A key's lookup on the primary, unless the client's address has failed too often; a key not found counts as a
   * failure. The address is worked out here only: a remembered key needs none.
   */
  const lookUp = async (authorization: string, addressOf: () => string): Promise<Principal> => {
    const address = addressOf();
    await authFailures.assertAllowed(address);
    try {
      return await authenticate(db, authorization, { log });
    } catch (error) {
      if (error instanceof AppError && error.message === INVALID_KEY_MESSAGE) await authFailures.recordFailure(address);
      throw error;
    }
  };
  /** Every request needs a valid key: UNAUTHENTICATED (401) without one, RATE_LIMITED (429) after too many bad ones. */
  const principalOf = async (authorization: string | undefined, addressOf: () => string): Promise<Principal> => {
    try {
      if (!authorization) throw new AppError('UNAUTHENTICATED', 'an API key is required (Authorization: Bearer tq_…)');
      return await principals.get(authorization, () => lookUp(authorization, addressOf));
    } catch (error) {
      if (isAuthRateLimited(error)) throw error;
      if (error instanceof AppError && error.code === 'UNAUTHENTICATED') {
        throw new GraphQLError(error.message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers: new Map([['www-authenticate', 'Bearer']]) } } });
      }
      throw keyNotChecked(error);
    }
  };
  const requestIdOf = (header: string | string[] | undefined) =>
    typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();

  const executable = makeExecutableSchema({ typeDefs: loadTypeDefs(), resolvers: buildResolvers() });
  // The access policy wraps the resolvers first, so the input guard (outermost) runs before any access check.
  const schema = applyInputGuard(options.accessChecks === false ? executable : applyAccessPolicy(executable));
  const formatError = createFormatError(log);
  const production = options.production ?? false;
  const introspection = options.introspection ?? !production;
  const limits = options.queryLimits ?? DEFAULT_QUERY_LIMITS;
  const security = httpSecurity({ corsOrigins: options.corsOrigins ?? [], maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES }, log);
  const app = express();
  app.disable('x-powered-by');
  // No ETag: responses are per request, and hashing every body (57 KB for a day of bars) cost CPU for nothing.
  app.set('etag', false);
  app.use(security.headers);
  // POST /graphql (every API call) goes to its handler without Express (see graphql-http.ts); the rest to Express.
  let graphqlPost: (req: http.IncomingMessage, res: http.ServerResponse) => void = () => undefined;
  const httpServer = http.createServer((req, res) => (isGraphqlPost(req) ? graphqlPost(req, res) : app(req, res)));

  const wsGuard = wsOperationGuard(schema, { limits, introspection, hideSuggestions: production });
  const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql' });
  const metrics = options.metricsEnabled === false ? undefined
    : new GatewayMetrics({ db, log: log.child({ component: 'metrics' }), relay, hub, wsServer, statements, slowQueryMs });
  const rateLimiter = new RateLimiter(options.rateLimits ?? { readsPerSecond: 0, mutationsPerSecond: 0 }, pubsub.commands, `tradeql:ratelimit:${pubsub.channel}`, metrics);
  const authFailures = new AuthFailureLimiter(options.authFailuresPerMinute ?? 0, pubsub.commands, `tradeql:authfail:${pubsub.channel}`, () => metrics?.rateLimited('auth'));
  const trustedProxies = options.trustedProxies ?? 0;
  const wsCleanup = useServer(
    withWsMetrics(metrics, {
      schema,
      // Each operation, and each event of a subscription, runs in its request's context.
      ...contextualExecution((args) => ({ requestId: (args.contextValue as RequestContext).requestId, ...describeOperation(args.document, args.operationName) })),
      // The key comes in connection_init's payload ({ authorization: "Bearer tq_…" }); the socket closes before any
      // subscription starts without one (4401) or with one that is not valid (4403).
      onConnect: async (ctx) => {
        const authorization = ctx.connectionParams?.authorization;
        const socket = ctx.extra.socket;
        if (typeof authorization !== 'string' || !authorization) {
          socket.close(4401, 'Unauthorized: connection_init needs { "authorization": "Bearer <key>" }');
          return false;
        }
        try {
          const principal = await principals.get(authorization, () => lookUp(authorization, () => clientAddress(ctx.extra.request, trustedProxies)));
          (ctx.extra as WsExtra).principal = principal;
          keyWatch.add(socket, principal.keyId);
          return true;
        } catch (error) {
          if (isAuthRateLimited(error)) socket.close(4429, `Too many failed authentications: retry in ${error.extensions.retryAfterMs} ms`);
          else if (error instanceof AppError && error.code === 'UNAUTHENTICATED') socket.close(4403, 'Forbidden: the API key is not valid');
          else {
            // The key could not be checked (the primary is away): 1011, which clients retry, not a verdict on the key.
            log.warn({ err: { message: (error as Error).message } }, 'WebSocket refused: its API key could not be checked');
            socket.close(1011, 'Service unavailable: the API key could not be checked; retry');
          }
          return false;
        }
      },
      // Parse, validate and cost with the same limits as HTTP, then the key's rate limit (a new subscription spends
      // a read, a mutation a mutation); errors go back to the client, nothing runs.
      onSubscribe: async (ctx, _id, payload) => {
        const checked = wsGuard(payload);
        if (Array.isArray(checked)) return checked;
        const operation = getOperationAST(checked.document, checked.operationName);
        try {
          await rateLimiter.consume((ctx.extra as WsExtra).principal!.keyId, operation?.operation === 'mutation' ? 'mutation' : 'read');
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        return checked;
      },
      // One context per subscription; loaders without a cache, since it lives as long as the subscription.
      // Subscriptions read nested fields from the primary: an event arrives right after its commit, and a lagging
      // replica would show an order older than the event that carries it.
      context: (ctx) => context((ctx.extra as WsExtra).principal!, requestIdOf(ctx.extra.request.headers['x-request-id']), false, {}, 'primary'),
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: result.errors.map((e) => formatError(e.toJSON(), e)) } : undefined,
      // A stream that failed (a subscriber that fell behind, missed events that could not be read) ends with the
      // error it threw, formatted as every other (its code; anything unexpected masked). GraphQL's own errors
      // (validation, limits) wrap nothing and go as they are.
      onError: (_ctx, _id, _payload, errors) =>
        errors.map((e) => (e.originalError ? formatError(e.toJSON(), e) : e.toJSON())),
    }),
    wsServer,
    options.wsKeepAliveMs ?? 12_000,
  );

  const apollo = new ApolloServer<RequestContext>({
    // The schema, with queries run compiled (see compiled-execution.ts).
    gateway: compiledExecutionGateway(schema),
    formatError,
    includeStacktraceInErrorResponses: false,
    // Explicit rather than read from process.env, so each gateway (and test) decides.
    nodeEnv: production ? 'production' : 'development',
    introspection,
    hideSchemaDetailsFromClientErrors: production,
    parseOptions: { maxTokens: limits.maxTokens },
    validationRules: limitRules(limits),
    // serve.ts owns SIGINT/SIGTERM: with Apollo's own handler too, stop() ran twice and the second never resolved.
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      // Closes the WebSocket server (and its subscriptions) when Apollo stops.
      { async serverWillStart() { return { async drainServer() { keyWatch.stop(); await wsCleanup.dispose(); } }; } },
      // The cache-control plugin wraps every field resolver; we set no cache hints.
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginLandingPageDisabled(),
      // Ours, as one listener (see request-plugins.ts), in this order.
      combineRequestPlugins<RequestContext>([
        readSourcePlugin,
        operationContextPlugin,
        consistencyTokenPlugin(db, consistencyMemory),
        costLimitPlugin(limits.maxCost),
        rateLimitPlugin(rateLimiter),
        ...(metrics ? [metricsPlugin<RequestContext>(metrics)] : []),
      ]),
    ],
  });
  await apollo.start();

  const drain = new Drain();
  mountHealth(app, db, pubsub, () => drain.draining);

  if (metrics) {
    app.get('/metrics', async (_req, res) => {
      try {
        const body = await metrics.scrape();
        res.type(metrics.contentType).send(body);
      } catch (error) {
        log.warn({ err: { message: (error as Error).message } }, 'metrics scrape failed');
        res.status(500).type('text/plain').send('metrics unavailable\n');
      }
    });
  }

  // GraphiQL for browsers at GET /graphql, the dashboard, their assets; POST and other GETs go on to Apollo.
  mountWeb(app, { graphiql: options.web?.graphiql ?? !production, dashboard: options.web?.dashboard ?? true, log });

  // The steps of /graphql, in order: draining, CORS, the JSON body, then the request's context, from here to the
  // response (its id for every statement and log line it causes).
  const graphqlSteps: NodeMiddleware[] = [
    drain.middleware,
    security.cors,
    security.json,
    (req, _res, next) => requestContext.run({ requestId: requestIdOf(req.headers['x-request-id']), service: 'gateway', operation: 'unknown' }, next),
  ];
  const graphqlHttp = (steps: NodeMiddleware[]) => graphqlHttpHandler<RequestContext>({
    apollo,
    steps,
    onError: security.answerError,
    context: async (req, res) => {
      const requestId = requestContext.getStore()?.requestId ?? requestIdOf(req.headers['x-request-id']);
      res.setHeader('x-request-id', requestId);
      const authorization = req.headers.authorization;
      const principal = await principalOf(authorization, () => clientAddress(req, trustedProxies));
      const waitMs = options.consistencyWaitMs ?? 100;
      // The token sent with the request, else the one this instance remembers for the key's last write.
      const remembered = principal ? consistencyMemory.recall(principal.keyId) : undefined;
      const sentToken = req.headers[CONSISTENCY_HEADER];
      const consistency = consistencyFrom((typeof sentToken === 'string' ? sentToken : undefined) ?? remembered, waitMs);
      return context(principal, requestId, true, consistency);
    },
  });
  // Express answered every request before, so its security headers come first here too.
  graphqlPost = graphqlHttp([security.headers, ...graphqlSteps]);
  app.use('/graphql', graphqlHttp(graphqlSteps));
  app.use(security.errors);

  return {
    httpServer,
    relay,
    hub,
    synchronizer,
    venue,
    services,
    performance,
    systemLog,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          const address = httpServer.address();
          const actual = typeof address === 'object' && address ? address.port : port;
          const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
          resolve({ port: actual, url: `http://${shownHost}:${actual}/graphql` });
        });
      });
    },
    /**
     * Graceful: first drain (readiness fails, new requests get 503 + Retry-After, running ones finish); then Apollo
     * closes the listener and the WebSockets (1001, going away: clients reconnect elsewhere and resume with
     * afterSequence); then the relay publishes what was committed before it stops. The caller closes the pools.
     */
    async stop() {
      drain.begin();
      await drain.settled();
      await apollo.stop();
      await synchronizer?.stop();
      await venue?.stop();
      await relay.runOnce();
      await relay.stop();
      await hub.stop();
      await pubsub.close();
      metrics?.close();
      // Last, so that what stopping logged is written too; the caller closes the pools after this.
      await performance.stop();
      statements.close();
      await systemLog.stop();
    },
  };
}
