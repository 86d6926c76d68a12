/** Builds the running pieces from the config: database (embedded when no DATABASE_URL), ORM, gateway. */
import type { Config } from './config';
import { Database } from './platform/database';
import type { Logger } from './platform/logger';
import { initOrm, migrate, pendingMigrations } from './platform/orm';
import { entities } from './entities';
import { startEmbeddedPostgres } from './platform/embedded-postgres';

export interface Runtime {
  db: Database;
  embedded: boolean;
  close(): Promise<void>;
}

/** Connects to PostgreSQL (starting the embedded one if DATABASE_URL is unset). */
export async function openDatabase(config: Config, log: Logger): Promise<Runtime> {
  let databaseUrl = config.DATABASE_URL;
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (!databaseUrl) {
    const embedded = await startEmbeddedPostgres({ dataDir: config.EMBEDDED_DATA_DIR, port: config.EMBEDDED_PORT, log });
    databaseUrl = embedded.url;
    stopEmbedded = embedded.stop;
  }
  const orm = await initOrm({
    databaseUrl: databaseUrl as string,
    replicaUrls: config.DATABASE_REPLICA_URLS,
    entities,
    poolSize: config.DB_POOL_SIZE,
    poolOverflow: config.DB_POOL_OVERFLOW,
    acquireTimeoutMs: config.DB_POOL_ACQUIRE_TIMEOUT_MS,
    recycleMs: config.DB_POOL_RECYCLE_MS,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    replicaConnectTimeoutMs: config.REPLICA_CONNECT_TIMEOUT_MS,
    logger: log,
  });
  const db = new Database(orm, log.child({ component: 'database' }), {
    hasReplicas: config.DATABASE_REPLICA_URLS.length > 0,
    replicaRetryMs: config.REPLICA_RETRY_MS,
  });
  return {
    db,
    embedded: Boolean(stopEmbedded),
    async close() {
      await db.close();
      await stopEmbedded?.();
    },
  };
}

export async function applyMigrations(db: Database, log: Logger): Promise<void> {
  const applied = await migrate(db.orm);
  log.info({ applied }, applied.length ? 'migrations applied' : 'schema is up to date');
}

export async function assertMigrated(db: Database): Promise<void> {
  const pending = await pendingMigrations(db.orm);
  if (pending.length) throw new Error(`the database has ${pending.length} pending migration(s): run \`npx tradeql migrate\` first`);
}
