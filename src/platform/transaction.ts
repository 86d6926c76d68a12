/**
 * Units of work on the primary: em.transactional() with an isolation level, retries of serialization failures and
 * deadlocks (the whole unit re-runs on a fresh fork, so the work must only touch the database and its own locals),
 * savepoints for nested work, and read-only transactions.
 */
import { IsolationLevel } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { isRetryableTransactionError } from './db-errors';
import { ACCESS_PRELUDE, accessParams, type DbAccess } from './db-access';

export type Isolation = 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';

export interface TransactionOptions {
  isolation?: Isolation;
  /** re-runs after a serialization failure or deadlock; default 3 */
  retries?: number;
  /** SET TRANSACTION READ ONLY */
  readOnly?: boolean;
  /** a request's key: the transaction runs as the request role under row-level security (see db-access.ts) */
  access?: DbAccess;
}

const LEVELS: Record<Isolation, IsolationLevel> = {
  'READ COMMITTED': IsolationLevel.READ_COMMITTED,
  'REPEATABLE READ': IsolationLevel.REPEATABLE_READ,
  SERIALIZABLE: IsolationLevel.SERIALIZABLE,
};

export async function inTransaction<T>(
  em: EntityManager,
  work: (tx: EntityManager) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const retries = options.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    try {
      const access = options.access;
      const unit = access
        ? async (tx: EntityManager) => {
            await tx.execute(ACCESS_PRELUDE, accessParams(access), 'run');
            return work(tx);
          }
        : work;
      return await em.fork({ clear: true }).transactional(unit, {
        isolationLevel: LEVELS[options.isolation ?? 'READ COMMITTED'],
        readOnly: options.readOnly,
      });
    } catch (error) {
      if (attempt >= retries || !isRetryableTransactionError(error)) throw error;
      // Jittered backoff so the retried transactions do not collide again in lockstep.
      await new Promise((resolve) => setTimeout(resolve, 5 * 2 ** attempt + Math.random() * 10));
    }
  }
}

/** Runs nested work under a savepoint: if it throws, only its changes roll back and the error is rethrown. */
export async function savepoint<T>(tx: EntityManager, work: (inner: EntityManager) => Promise<T>): Promise<T> {
  return tx.transactional(work);
}
