/** Environment -> one typed, validated config object. A bad value stops the process with a clear message. */
import { z } from 'zod';

const urlList = z
  .string()
  .optional()
  .transform((value) => (value ?? '').split(',').map((s) => s.trim()).filter(Boolean));

const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

const postgresUrl = z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL');

const ConfigSchema = z.object({
  DATABASE_URL: postgresUrl.optional(),
  DATABASE_REPLICA_URLS: urlList.pipe(z.array(postgresUrl)),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Pool defaults from the seed design: 10 kept, 20 overflow, 30 s acquire timeout, recycled after an hour.
  DB_POOL_SIZE: z.coerce.number().int().min(1).default(10),
  DB_POOL_OVERFLOW: z.coerce.number().int().min(0).default(20),
  DB_POOL_ACQUIRE_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  DB_POOL_RECYCLE_MS: z.coerce.number().int().min(1000).default(3_600_000),
  DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(0).default(30_000),
  // How long a replica that failed is left alone before reads try it again.
  REPLICA_RETRY_MS: z.coerce.number().int().min(0).default(5_000),
  // A read with a consistency token waits this long for the replica to reach it, then reads from the primary.
  CONSISTENCY_WAIT_MS: z.coerce.number().int().min(0).default(100),
  // How long this instance remembers an API key's last consistency token (its next reads need not send it).
  CONSISTENCY_MEMORY_MS: z.coerce.number().int().min(0).default(10_000),
  REPLICA_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).default(2_000),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL').optional(),
  // The relay is woken after each local commit; polling only catches rows of other processes or crashed ones.
  // Deployments sharing one Redis must not share a channel: each would publish into the other's sequence.
  EVENTS_CHANNEL: z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/).default('tradeql.events'),
  OUTBOX_POLL_MS: z.coerce.number().int().min(10).default(200),
  OUTBOX_RETENTION_HOURS: z.coerce.number().min(0).default(24),
  SUBSCRIBER_QUEUE_LIMIT: z.coerce.number().int().min(10).default(10_000),
  WS_KEEPALIVE_MS: z.coerce.number().int().min(100).default(12_000),
  SYNC_ENABLED: z.enum(['true', 'false', '1', '0']).default('true').transform((v) => v === 'true' || v === '1'),
  // paper: the gateway fills orders itself against the bars it ingests (src/modules/venue); off: an execution service
  // reports fills with executeTrade. Unset: paper on the embedded database, off with DATABASE_URL.
  VENUE: z.enum(['paper', 'off']).optional(),
  // The paper venue's session close (UTC): DAY orders accepted before it expire there.
  SESSION_CLOSE: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (UTC)').default('21:00'),
  // Replay of stored bars inside `serve` (src/modules/ops/replay.ts), so the demo market moves. Unset: on for the
  // embedded database, off with DATABASE_URL. Speed: market minutes per minute (60: a bar a second).
  REPLAY: flag.optional(),
  REPLAY_SPEED: z.coerce.number().positive().max(1_000_000).default(60),
  REPLAY_SYMBOLS: urlList.pipe(z.array(z.string().regex(/^[A-Z0-9.\-/]{1,20}$/, 'must be symbols like AAPL,BTC-USD'))),
  // production: no introspection (unless GRAPHQL_INTROSPECTION=true), no field suggestions in validation errors.
  NODE_ENV: z.string().default('development'),
  GRAPHQL_INTROSPECTION: flag.optional(),
  // Per-operation limits (src/server/query-limits.ts): the documented queries stay well below them.
  QUERY_MAX_DEPTH: z.coerce.number().int().min(1).default(12),
  QUERY_MAX_ALIASES: z.coerce.number().int().min(0).default(30),
  QUERY_MAX_TOKENS: z.coerce.number().int().min(10).default(3000),
  QUERY_MAX_DIRECTIVES: z.coerce.number().int().min(0).default(20),
  QUERY_MAX_COST: z.coerce.number().int().min(1).default(50_000),
  // Origins allowed to call the API from a browser on another origin; none: same-origin only; "*": any.
  CORS_ORIGINS: urlList.pipe(z.array(z.string().regex(/^(\*|https?:\/\/[^/\s]+)$/, 'must be "*" or an origin like https://app.example.com (no path, no trailing slash)'))),
  // A 10,000-bar ingestMarketData request is about 1.5 MB of JSON.
  MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(10 * 1024 * 1024),
  // GET /metrics (Prometheus) has no authentication: keep it off the public network, or turn it off.
  METRICS_ENABLED: flag.default(true),
  // Statements slower than this count as slow (tradeql_sql_slow_statements_total).
  SLOW_QUERY_MS: z.coerce.number().int().min(1).default(1000),
  // Per-key budgets (src/server/rate-limits.ts), shared through Redis by every gateway of a deployment; 0: no limit.
  RATE_LIMIT_READS_PER_SEC: z.coerce.number().int().min(0).default(200),
  RATE_LIMIT_MUTATIONS_PER_SEC: z.coerce.number().int().min(0).default(50),
  // An authenticated key is remembered this long (a revocation takes effect within it); 0: looked up on every request.
  API_KEY_CACHE_MS: z.coerce.number().int().min(0).default(1000),
  // Failed authentications (unknown or revoked key) a client address may have per minute before it is refused; 0: no limit.
  AUTH_FAILURES_PER_MIN: z.coerce.number().int().min(0).default(30),
  // Proxies in front of the gateway that append the client to X-Forwarded-For (1 behind one load balancer); 0: none,
  // the peer's address is the client's.
  TRUSTED_PROXIES: z.coerce.number().int().min(0).max(10).default(0),
  // No statement of a request runs longer than this (set per request transaction, as the request role).
  REQUEST_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(1).default(5000),
  // GraphiQL at GET /graphql for browsers: on outside production, off in production unless set to true.
  GRAPHIQL_ENABLED: flag.optional(),
  // The live dashboard at GET /dashboard (it asks the user for an API key).
  DASHBOARD_ENABLED: flag.default(true),
  EMBEDDED_DATA_DIR: z.string().default('.tradeql'),
  EMBEDDED_PORT: z.coerce.number().int().min(1).max(65535).default(5488),
});

export type Config = Omit<z.infer<typeof ConfigSchema>, 'DATABASE_URL' | 'REDIS_URL'> & { DATABASE_URL?: string; REDIS_URL?: string };

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable (FOO= in a compose file or a shell) means "not set".
  const given = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = ConfigSchema.safeParse(given);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
