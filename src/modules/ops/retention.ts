/**
 * Retention of the growing tables, in short batches so no run ever holds a long lock or a long transaction:
 *  - logging.system_logs older than `days` move to logging.archived_system_logs (ids kept). Each batch is ONE
 *    statement in its own transaction: `delete ... returning` feeds the insert, so the archived rows are exactly
 *    the deleted rows; a failure rolls the whole batch back (nothing lost, nothing doubled).
 *  - execution.outbox rows published (at or below the relay's watermark, outbox_state.published_sequence) and
 *    written more than `outboxHours` ago are deleted, lowest sequences first (see OutboxRelay.prune). Unpublished
 *    rows are never touched; outbox_state keeps the last sequence, so pruning cannot make the relay reuse a number.
 *  - logging.audit_log rows older than `auditDays` are deleted (not archived: the audit trail's retention is a policy
 *    decision, so it only happens when asked for explicitly).
 * The cutoffs are taken once, at the start, from the database clock: rows that age past them during the run are
 * left for the next one, so the loops always end.
 */
import type { Database } from '../../platform/database';
import type { Logger } from '../../platform/logger';
import { inTransaction } from '../../platform/transaction';

export interface RetentionOptions {
  /** system_logs older than this many days are archived */
  days: number;
  /** published outbox rows written more than this many hours ago are deleted; omitted: the outbox is left alone */
  outboxHours?: number;
  /** audit_log rows older than this many days are deleted; omitted: the audit log is left alone */
  auditDays?: number;
  /** rows per batch (one transaction each); default 5000 */
  batchSize?: number;
  /** progress per batch, at debug */
  log?: Logger;
}

export interface TableCount {
  rows: number;
  batches: number;
}

export interface RetentionReport {
  systemLogsArchived: TableCount;
  outboxDeleted: TableCount | null;
  auditDeleted: TableCount | null;
  cutoffs: { systemLogs: string; outbox: string | null; audit: string | null };
}

const LOG_COLUMNS = 'id, "timestamp", level, service, event_type, message, correlation_id, details';

export async function applyRetention(db: Database, options: RetentionOptions): Promise<RetentionReport> {
  const batchSize = options.batchSize ?? 5000;
  for (const [name, value] of Object.entries({ days: options.days, outboxHours: options.outboxHours, auditDays: options.auditDays, batchSize })) {
    if (value !== undefined && (!Number.isFinite(value) || value < 0)) throw new Error(`${name} must be a number >= 0, not ${value}`);
  }
  if (batchSize < 1) throw new Error('batchSize must be >= 1');

  const [cut] = await db.em().execute<{ logs: string; outbox: string | null; audit: string | null }[]>(
    `select (now() - ?::float8 * interval '1 day')::text as logs,
            (now() - ?::float8 * interval '1 hour')::text as outbox,
            (now() - ?::float8 * interval '1 day')::text as audit`,
    [options.days, options.outboxHours ?? 0, options.auditDays ?? 0],
  );
  const report: RetentionReport = {
    systemLogsArchived: { rows: 0, batches: 0 },
    outboxDeleted: null,
    auditDeleted: null,
    cutoffs: { systemLogs: cut.logs, outbox: options.outboxHours === undefined ? null : cut.outbox, audit: options.auditDays === undefined ? null : cut.audit },
  };

  // SKIP LOCKED: two runs at once take disjoint batches instead of queueing behind each other's rows.
  report.systemLogsArchived = await inBatches(db, 'system_logs', options.log, () => [
    `with moved as (
       delete from logging.system_logs where id in (
         select id from logging.system_logs where "timestamp" < ?::timestamptz order by id limit ? for update skip locked)
       returning ${LOG_COLUMNS}),
     archived as (
       insert into logging.archived_system_logs (${LOG_COLUMNS}) select ${LOG_COLUMNS} from moved returning 1)
     select count(*)::int as n from archived`,
    [cut.logs, batchSize],
  ]);

  if (options.outboxHours !== undefined) {
    report.outboxDeleted = await inBatches(db, 'outbox', options.log, () => [
      `with gone as (
         delete from execution.outbox where event_id = any(array(
           select event_id from (
             select event_id, created_at from execution.outbox
             where sequence <= (select published_sequence from execution.outbox_state where id = 1)
             order by sequence limit ? for update skip locked) lowest
           where created_at < ?::timestamptz))
         returning 1)
       select count(*)::int as n from gone`,
      [batchSize, cut.outbox],
    ]);
  }

  if (options.auditDays !== undefined) {
    report.auditDeleted = await inBatches(db, 'audit_log', options.log, () => [
      `with gone as (
         delete from logging.audit_log where id in (
           select id from logging.audit_log where "timestamp" < ?::timestamptz order by id limit ? for update skip locked)
         returning 1)
       select count(*)::int as n from gone`,
      [cut.audit, batchSize],
    ]);
  }
  return report;
}

/** Runs one batch statement per transaction until a batch touches no row. */
async function inBatches(db: Database, table: string, log: Logger | undefined, batch: () => [string, unknown[]]): Promise<TableCount> {
  const total: TableCount = { rows: 0, batches: 0 };
  for (;;) {
    const [sql, params] = batch();
    const n = await inTransaction(db.em(), async (tx) => {
      const [row] = await tx.execute<{ n: number }[]>(sql, params);
      return row.n;
    });
    if (n === 0) return total;
    total.rows += n;
    total.batches++;
    log?.debug({ table, batch: total.batches, rows: n, total: total.rows }, 'retention batch');
  }
}
