/**
 * Maintenance jobs in the audit log, as mutations are: retention deletes history (and, with --audit-days, audit rows
 * themselves), so who ran which job, with what, and what it did must stay on record. The command line has no API key:
 * the row's role is `system` and its details name the operating-system user and host that ran it.
 */
import os from 'node:os';
import type { Database } from '../../platform/database';
import { inTransaction } from '../../platform/transaction';
import { writeAudit } from '../../platform/audit';

export interface JobRun {
  /** e.g. retention */
  job: string;
  /** the job's arguments and options */
  args: Record<string, unknown>;
  /** its report, or its error's message */
  outcome: { report: unknown } | { error: string };
  ms: number;
}

export async function auditJob(db: Database, run: JobRun): Promise<void> {
  let by: string;
  try {
    by = `${os.userInfo().username}@${os.hostname()}`;
  } catch {
    by = `uid ${process.getuid?.() ?? '?'}@${os.hostname()}`;
  }
  await inTransaction(db.em(), (tx) => writeAudit(tx, undefined, {
    operation: `maintain ${run.job}`,
    result: 'error' in run.outcome ? 'failed' : 'ok',
    details: { by, args: run.args, ms: run.ms, ...run.outcome },
  }));
}
