/** Starts a real gateway in this test process, on a free port, against this run's database and replica. */
import { loadConfig } from '../../src/config';
import { openDatabase, type Runtime } from '../../src/app';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/server/gateway';
import { gatewayOptions } from '../../src/serve';
import { createLogger } from '../../src/platform/logger';
import { testDatabase } from './env';
import { create as createApiKey } from '../../src/modules/accounts/api-keys.service';

export interface TestGateway {
  url: string;
  wsUrl: string;
  runtime: Runtime;
  gateway: Gateway;
  /** an admin key, sent by `gql` and `post` unless the headers carry an `authorization` of their own ('' for none) */
  adminKey: string;
  /** `{ authorization: 'Bearer <admin key>' }`: headers, or graphql-ws connectionParams */
  auth: { authorization: string };
  /** a new key of that role for those accounts (which must exist) */
  createKey(role: 'viewer' | 'trader' | 'admin', accountIds?: string[]): Promise<string>;
  gql<T = any>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GqlResult<T>>;
  /** The same without waiting for the replica first. */
  post<T = any>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GqlResult<T>>;
  stop(): Promise<void>;
}

export interface GqlResult<T> {
  status: number;
  data?: T;
  errors?: { message: string; extensions?: Record<string, any>; path?: (string | number)[] }[];
  extensions?: Record<string, any>;
}

/**
 * Waits until the replica has replayed everything the primary has written so far. Reads go to the replica, which
 * lags by a few milliseconds; functional tests that read right after a write sync first (read-your-writes across
 * requests is the consistency token's job, tested on its own).
 */
export async function syncReplica(runtime: Runtime, timeoutMs = 10_000): Promise<void> {
  const db = runtime.db;
  if (!db.hasReplicas) return;
  const [{ lsn }] = await db.read<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn', [], 'primary');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [{ caught }] = await db.read<{ caught: boolean }>('select pg_last_wal_replay_lsn() >= ?::pg_lsn as caught', [lsn], 'replica');
    if (caught) return;
    if (Date.now() > deadline) throw new Error('replica did not catch up');
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function startTestGateway(
  env: Record<string, string> = {},
  options: { syncReads?: boolean; overrides?: Partial<GatewayOptions> } = {},
): Promise<TestGateway> {
  const syncReads = options.syncReads ?? true;
  const { databaseUrl, replicaUrl } = testDatabase();
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    DATABASE_REPLICA_URLS: replicaUrl,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DB_POOL_SIZE: '10',
    // Every gateway on the shared database publishes through the same Redis, as one deployment does: a relay on an
    // in-process bus would take the shared outbox's events where no other gateway can hear them.
    REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    // No rate limits unless a test sets them: tests fire hundreds of operations a second with one key.
    RATE_LIMIT_READS_PER_SEC: '0',
    RATE_LIMIT_MUTATIONS_PER_SEC: '0',
    // Test files share Redis and send bad keys on purpose from 127.0.0.1: the limit is tested on its own.
    AUTH_FAILURES_PER_MIN: '0',
    // Tests queue 50 fills on one row lock on a busy machine: lock waits count toward the statement timeout.
    REQUEST_STATEMENT_TIMEOUT_MS: '30000',
    // A gateway on a database of its own gets a channel of its own, as a separate deployment would.
    ...(env.DATABASE_URL && env.DATABASE_URL !== databaseUrl ? { EVENTS_CHANNEL: `tradeql.events.${new URL(env.DATABASE_URL).pathname.slice(1)}` } : {}),
    ...env,
  });
  const log = createLogger(config.LOG_LEVEL);
  const runtime = await openDatabase(config, log);
  const gateway: Gateway = await createGateway({ ...gatewayOptions(config, runtime.db, log), ...options.overrides });
  const { port } = await gateway.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}/graphql`;
  const createKey: TestGateway['createKey'] = async (role, accountIds = []) =>
    (await createApiKey(runtime.db, { role, accountIds, name: `test ${role}` })).key;
  const adminKey = await createKey('admin');
  const auth = { authorization: `Bearer ${adminKey}` };
  const post: TestGateway['post'] = async (query, variables, headers) => {
    const all: Record<string, string> = { 'content-type': 'application/json', ...auth, ...(headers ?? {}) };
    if (!all.authorization) delete all.authorization;
    const res = await fetch(url, {
      method: 'POST',
      headers: all,
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as GqlResult<any>;
    return { ...body, status: res.status };
  };
  return {
    url,
    wsUrl: url.replace('http://', 'ws://'),
    runtime,
    gateway,
    adminKey,
    auth,
    createKey,
    post,
    async gql(query, variables, headers) {
      if (syncReads && !/^\s*mutation\b/.test(query)) await syncReplica(runtime);
      return post(query, variables, headers);
    },
    async stop() {
      await gateway.stop();
      await runtime.close();
    },
  };
}

/** A unique id for this test file's records, so files can share the database and run in parallel. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
