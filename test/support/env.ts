import { Client } from 'pg';
import { initOrm, migrate } from '../../src/platform/orm';
import { entities } from '../../src/entities';

/** Where the tests find PostgreSQL: the local primary (5432) and the streaming replica the setup starts (5433). */
export interface TestEnv {
  adminUrl: string;
  replicaAdminUrl: string;
  primaryPort: number;
  replicaPort: number;
}

export function testEnv(): TestEnv {
  const adminUrl = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const replicaPort = Number(process.env.TEST_REPLICA_PORT ?? 5433);
  const replica = new URL(adminUrl);
  replica.port = String(replicaPort);
  return { adminUrl, replicaAdminUrl: replica.toString(), primaryPort: Number(new URL(adminUrl).port || 5432), replicaPort };
}

export function withDatabase(url: string, dbName: string): string {
  const u = new URL(url);
  u.pathname = `/${dbName}`;
  return u.toString();
}

/** The URLs of this run's migrated database, set by the global setup. */
export function testDatabase(): { databaseUrl: string; replicaUrl: string } {
  const databaseUrl = process.env.TQ_TEST_DATABASE_URL;
  const replicaUrl = process.env.TQ_TEST_REPLICA_URL;
  if (!databaseUrl || !replicaUrl) throw new Error('integration tests need the global setup (run them through jest)');
  return { databaseUrl, replicaUrl };
}

/**
 * A migrated database of a test file's own (primary only), for tests that must not share the run's database: e.g. a
 * gateway on a private Redis would publish, and so take, the shared outbox's events.
 */
export async function createOwnDatabase(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}`;
  await adminSql(`create database ${name}`);
  const url = withDatabase(testEnv().adminUrl, name);
  const orm = await initOrm({ databaseUrl: url, replicaUrls: [], entities, poolSize: 2, poolOverflow: 0, acquireTimeoutMs: 10_000,
    recycleMs: 3_600_000, statementTimeoutMs: 60_000, replicaConnectTimeoutMs: 1000 });
  try {
    await migrate(orm);
  } finally {
    await orm.close(true);
  }
  return { url, drop: () => adminSql(`drop database if exists ${name} with (force)`) };
}

/** One statement as the admin, on the server's `postgres` database. */
export async function adminSql(sql: string): Promise<void> {
  const c = new Client({ connectionString: testEnv().adminUrl });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/**
 * The primary "away" for one database of a test file's own: it refuses new connections and its open ones are ended.
 * Returns how to let connections in again (safe to call twice).
 */
export async function cutOff(url: string): Promise<() => Promise<void>> {
  const name = new URL(url).pathname.slice(1);
  await adminSql(`alter database ${name} with allow_connections false`);
  await adminSql(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${name}'`);
  return () => adminSql(`alter database ${name} with allow_connections true`);
}

/** Waits until a replica has the database and its schema (they arrive a moment after commit, or later if it lags). */
export async function waitForSchemaOnReplica(replicaUrl: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const client = new Client({ connectionString: replicaUrl });
    try {
      await client.connect();
      const r = await client.query(`select to_regclass('execution.orders') is not null as ready,
        (select status from pg_stat_wal_receiver) as receiver, pg_last_wal_replay_lsn()::text as replayed`);
      if (r.rows[0].ready) return;
      last = `receiver ${r.rows[0].receiver ?? 'none'}, replayed up to ${r.rows[0].replayed}`;
    } catch (err) {
      last = (err as Error).message; // not there yet
    } finally {
      await client.end().catch(() => undefined);
    }
    if (Date.now() > deadline) throw new Error(`the replica never got the database (${replicaUrl}): ${last}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
