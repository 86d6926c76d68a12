/**
 * Database errors by category, mapped in one place to the API's typed errors. The mapped message names the
 * constraint's meaning, never the SQL; the original goes to the log.
 */
import { DriverException, OptimisticLockError } from '@mikro-orm/core';
import { AppError, ConflictError, DatabaseUnavailableError, ValidationError } from './errors';

export type DbErrorCategory = 'unique' | 'foreign-key' | 'check' | 'not-null' | 'serialization' | 'data' | 'connection' | 'timeout' | 'privilege' | 'other';

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', '57P01', '57P02', '57P03']);

function sqlState(error: unknown): string | undefined {
  const e = error as { code?: unknown; sqlState?: unknown; previous?: unknown; cause?: unknown };
  if (typeof e?.sqlState === 'string') return e.sqlState;
  if (typeof e?.code === 'string') return e.code;
  if (e?.previous) return sqlState(e.previous);
  if (e?.cause) return sqlState(e.cause);
  return undefined;
}

export function categorize(error: unknown): DbErrorCategory {
  const code = sqlState(error);
  const name = (error as Error)?.name ?? '';
  const message = (error as Error)?.message ?? '';
  // (55000 "database … is not currently accepting connections": ALLOW_CONNECTIONS false, e.g. during maintenance; the
  // code alone also means other things)
  if (name === 'KnexTimeoutError' || /Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect|is not currently accepting connections/i.test(message)) {
    return 'connection';
  }
  if (!code) return 'other';
  if (CONNECTION_CODES.has(code) || code.startsWith('08')) return 'connection';
  if (code === '23505') return 'unique';
  if (code === '23503') return 'foreign-key';
  if (code === '23514') return 'check';
  if (code === '23502') return 'not-null';
  // 40001 serialization failure (also a replica's "conflict with recovery"), 40P01 deadlock
  if (code === '40001' || code === '40P01') return 'serialization';
  if (code.startsWith('22')) return 'data';
  // 57014: canceled by statement_timeout (a request's statements are bounded, see db-access.ts)
  if (code === '57014') return 'timeout';
  // 42501: the request role may not do this (a bug in our SQL, or row-level security refusing a write)
  if (code === '42501') return 'privilege';
  return 'other';
}

export function isConnectionError(error: unknown): boolean {
  return categorize(error) === 'connection';
}

export function isRetryableTransactionError(error: unknown): boolean {
  return categorize(error) === 'serialization';
}

/** Maps a database error to an AppError; undefined when it is not a database error we can describe. */
export function mapDatabaseError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  if (error instanceof OptimisticLockError) {
    return new ConflictError('the record was changed by someone else; reload it and retry');
  }
  if (!(error instanceof DriverException) && !isConnectionError(error)) return undefined;
  switch (categorize(error)) {
    case 'unique':
      return new ConflictError('a record with the same key already exists');
    case 'foreign-key':
      return new ValidationError('a referenced record does not exist');
    case 'check':
    case 'not-null':
      return new ValidationError('a value is out of its allowed range');
    case 'data':
      return new ValidationError('a value does not fit its column (too large or malformed)');
    case 'serialization':
      return new ConflictError('a concurrent transaction changed the same data; retry', { retryable: true });
    case 'connection':
      return new DatabaseUnavailableError();
    case 'timeout':
      return new AppError('INTERNAL_SERVER_ERROR', 'the operation took longer than the statement timeout; retry, or ask for less', { retryable: true, reason: 'STATEMENT_TIMEOUT' });
    case 'privilege':
      return new AppError('FORBIDDEN', 'this key may not change these records');
    default:
      return undefined;
  }
}
