/**
 * Short write transactions in plain SQL, for the hot writes (submitting an order, recording a fill) whose work is a
 * few statements and no entities. Same guarantees as `inTransaction` (READ COMMITTED on the primary, the request's
 * access prelude first, retries of serialization failures and deadlocks), without the unit of work: no entity
 * manager fork, no flush, and BEGIN travels with the prelude in one round trip. Measured: about 0.3-0.45 ms less
 * CPU and one round trip less per transaction than em.transactional().
 *
 * Statements go through knex on one pooled connection, so statement metrics and query performance see them as any
 * other; parameters are inlined exactly as MikroORM's em.execute inlines them, so SQL behaves the same in both.
 */
import { DriverException } from '@mikro-orm/core';
import type { EntityManager, Knex } from '@mikro-orm/postgresql';
import type { Database } from './database';
import { isRetryableTransactionError } from './db-errors';
import { ACCESS_PRELUDE, accessParams, type DbAccess } from './db-access';

/** What plain-SQL work needs: em.execute, so the same repository code runs in either kind of transaction. */
export type Sql = Pick<EntityManager, 'execute'>;

export interface SqlTransactionOptions {
  /** the request's key: the transaction runs as its role under row-level security */
  access?: DbAccess;
  /** re-runs after a serialization failure or deadlock; default 3 */
  retries?: number;
}

type PgResult = { rows: Record<string, any>[]; rowCount: number | null };

export async function inSqlTransaction<T>(db: Database, work: (sql: Sql) => Promise<T>, options: SqlTransactionOptions = {}): Promise<T> {
  const retries = options.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    try {
      return await once(db, work, options.access);
    } catch (error) {
      if (attempt >= retries || !isRetryableTransactionError(error)) throw error;
      // Jittered backoff so the retried transactions do not collide again in lockstep.
      await new Promise((resolve) => setTimeout(resolve, 5 * 2 ** attempt + Math.random() * 10));
    }
  }
}

async function once<T>(db: Database, work: (sql: Sql) => Promise<T>, access: DbAccess | undefined): Promise<T> {
  const connection = db.orm.em.getConnection('write');
  const knex: Knex = connection.getKnex();
  const platform = connection.getPlatform();
  const conn = await knex.client.acquireConnection();
  // Driver errors become MikroORM's DriverExceptions, as em.execute throws them (db-errors.ts maps those).
  const run = (sql: string) => (knex.raw(sql).connection(conn) as unknown as Promise<PgResult>).catch((error: unknown) => {
    throw error instanceof DriverException || !(error instanceof Error) ? error : platform.getExceptionConverter().convertException(error);
  });
  // Whether a failure must roll back: until COMMIT is sent.
  let open = true;
  try {
    await run(access ? `begin; ${platform.formatQuery(ACCESS_PRELUDE, accessParams(access))}` : 'begin');
    // em.execute's results: rows ('all'), the first row ('get'), or the affected count with the rows ('run').
    const execute = async (sql: string, params: unknown[] = [], method: 'all' | 'get' | 'run' = 'all') => {
      const res = await run(platform.formatQuery(sql, params));
      if (method === 'all') return res.rows;
      if (method === 'get') return res.rows[0];
      return { affectedRows: res.rowCount ?? 0, row: res.rows[0], rows: res.rows };
    };
    const result = await work({ execute: execute as Sql['execute'] });
    open = false;
    await run('commit');
    return result;
  } catch (error) {
    // A failed COMMIT has ended the transaction already; anything else is rolled back here.
    if (open) await run('rollback').catch(() => undefined);
    throw error;
  } finally {
    await knex.client.releaseConnection(conn);
  }
}
