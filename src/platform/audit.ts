/**
 * The audit log: who did what to which records, written in the same transaction as the change (so a change and
 * its audit row commit or roll back together), and for refused attempts in a transaction of their own.
 */
import type { Sql } from './sql-transaction';
import type { DbAccess } from './db-access';
import { requestContext } from './request-context';
import { toPgArray } from './pg-array';
import { eventsInsert, type NewEvent } from './outbox';

/** ok: done; denied: refused by access rules; failed: a maintenance job that ended with an error */
export type AuditResult = 'ok' | 'denied' | 'failed';

export interface AuditEntry {
  /** the GraphQL field or command, e.g. submitOrder, apikey revoke */
  operation: string;
  table?: string | null;
  recordIds?: readonly string[];
  result: AuditResult;
  details?: Record<string, unknown>;
}

/** Who acted: a key (its id and role), or the system itself (background work, the command line) when none. */
export async function writeAudit(tx: Sql, actor: Pick<DbAccess, 'keyId' | 'role'> | undefined, entry: AuditEntry): Promise<void> {
  const insert = auditInsert(actor, entry);
  await tx.execute(insert.sql, insert.params, 'run');
}

/**
 * writeAudit's insert as SQL (knex `?` parameters) and its parameters, to be a sub-statement of a caller's statement;
 * `where` (SQL) makes the row conditional on what that statement did.
 */
export function auditInsert(actor: Pick<DbAccess, 'keyId' | 'role'> | undefined, entry: AuditEntry, where = ''): { sql: string; params: unknown[] } {
  return {
    sql: `insert into logging.audit_log (key_id, role, operation, table_name, record_ids, result, correlation_id, details)
     select ?, ?, ?, ?, ?::text[], ?, ?, ?::jsonb ${where}`,
    params: [
      actor?.keyId ?? null,
      actor?.role ?? 'system',
      entry.operation,
      entry.table ?? null,
      toPgArray(entry.recordIds ?? []),
      entry.result,
      requestContext.getStore()?.requestId ?? null,
      entry.details ? JSON.stringify(entry.details) : null,
    ],
  };
}

/** A change's outbox events and its audit row in one statement: writeEvents and writeAudit in one round trip. */
export async function writeEventsAndAudit(tx: Sql, events: NewEvent[], actor: Pick<DbAccess, 'keyId' | 'role'> | undefined, entry: AuditEntry): Promise<void> {
  if (!events.length) return writeAudit(tx, actor, entry);
  const ev = eventsInsert(events);
  const au = auditInsert(actor, entry);
  await tx.execute(`with e as (${ev.sql}) ${au.sql}`, [...ev.params, ...au.params], 'run');
}
