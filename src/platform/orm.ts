/** MikroORM setup: the primary for writes, read replicas for reads, migrations from an explicit list. */
import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import type { EntitySchema } from '@mikro-orm/core';
import type { Logger } from './logger';
import { migrationsList } from '../../migrations';

export interface OrmSettings {
  databaseUrl: string;
  replicaUrls: string[];
  entities: EntitySchema<any, any>[];
  poolSize: number;
  poolOverflow: number;
  acquireTimeoutMs: number;
  recycleMs: number;
  statementTimeoutMs: number;
  replicaConnectTimeoutMs: number;
  logger?: Logger;
}

/** Session settings sent at connect: UTC so timestamptz text is unambiguous, a statement timeout as a backstop. */
function sessionOptions(statementTimeoutMs: number): string {
  return `-c TimeZone=UTC -c statement_timeout=${statementTimeoutMs}`;
}

/** knex's own warnings (e.g. a dropped connection) go to our log, not to the console. */
function knexLog(logger?: Logger) {
  const log = logger?.child({ component: 'knex' });
  const write = (level: 'warn' | 'error' | 'debug') => (message: unknown) => log?.[level]({ detail: String(message) }, 'knex');
  return { warn: write('warn'), error: write('error'), deprecate: write('debug'), debug: write('debug') };
}

export function ormOptions(s: OrmSettings): Options {
  const pool = {
    min: 0,
    // The seed's pool: 10 kept warm plus 20 overflow. knex/tarn has no "overflow", so the cap is their sum and
    // idle connections above nothing are reaped after 30 s.
    max: s.poolSize + s.poolOverflow,
    acquireTimeoutMillis: s.acquireTimeoutMs,
    idleTimeoutMillis: 30_000,
    maxConnectionLifetimeMillis: s.recycleMs,
    maxConnectionLifetimeJitterMillis: Math.floor(s.recycleMs / 10),
  } as Options['pool'];
  return {
    driver: PostgreSqlDriver,
    clientUrl: s.databaseUrl,
    entities: s.entities,
    discovery: { warnWhenNoEntities: false },
    extensions: [Migrator],
    pool,
    driverOptions: { connection: { options: sessionOptions(s.statementTimeoutMs) }, log: knexLog(s.logger) },
    replicas: s.replicaUrls.map((clientUrl, i) => ({
      name: `replica-${i + 1}`,
      clientUrl,
      // A dead replica must fail fast so the read can fall back to the primary.
      pool: { ...pool, acquireTimeoutMillis: s.replicaConnectTimeoutMs + 500 },
      driverOptions: {
        connection: { options: sessionOptions(s.statementTimeoutMs), connectionTimeoutMillis: s.replicaConnectTimeoutMs },
        log: knexLog(s.logger),
      },
    })),
    preferReadReplicas: true,
    forceUtcTimezone: true,
    migrations: { migrationsList, transactional: true, allOrNothing: true, silent: true, snapshot: false },
    debug: false,
    allowGlobalContext: false,
    logger: (message) => s.logger?.debug({ component: 'orm' }, message),
  };
}

export async function initOrm(s: OrmSettings): Promise<MikroORM> {
  return MikroORM.init(ormOptions(s));
}

/**
 * Applies pending migrations; several instances starting at once take turns on an advisory lock (held on a
 * connection of its own, so the pool needs at least two).
 *
 * That lock is per database, but roles and their settings are per server: two databases of one server migrating at
 * once (tests, or several deployments on one server) can collide on them, and PostgreSQL then fails one
 * `alter role ... set` with "tuple concurrently updated" (or one of two `create role`s on a unique index). The
 * migrations run in one transaction, so that run has rolled back whole: it is run again, a few times at most.
 */
export async function migrate(orm: MikroORM): Promise<string[]> {
  const knex = orm.em.getConnection('write').getKnex();
  const lockKey = 7_421_113; // fixed key: "tradeql migrations"
  const conn = await knex.client.acquireConnection();
  try {
    await conn.query('select pg_advisory_lock($1)', [lockKey]);
    for (let attempt = 1; ; attempt++) {
      try {
        const applied = await orm.getMigrator().up();
        return applied.map((m) => m.name);
      } catch (error) {
        if (attempt >= MIGRATE_ATTEMPTS || !isServerCatalogRace(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 80 * attempt));
      }
    }
  } finally {
    await conn.query('select pg_advisory_unlock($1)', [lockKey]).catch(() => undefined);
    await knex.client.releaseConnection(conn);
  }
}

// Eight databases migrating at once (the test suite) have used up five attempts.
const MIGRATE_ATTEMPTS = 10;

/** A collision on the server-wide catalogs of roles (see migrate), anywhere in the error's causes. */
function isServerCatalogRace(error: unknown): boolean {
  for (let e = error as { message?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (/tuple concurrently updated|pg_authid_rolname_index|pg_auth_members_\w+_index/.test(String(e.message))) return true;
  }
  return false;
}

/** Names of migrations not applied yet (readiness checks and `migrate --check`). */
export async function pendingMigrations(orm: MikroORM): Promise<string[]> {
  return (await orm.getMigrator().getPendingMigrations()).map((m) => m.name);
}
