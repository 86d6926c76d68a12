/**
 * Keeps market-data partitions ahead of the clock: the current month and the next N months get their partition
 * through data_ingestion.create_market_data_partition (idempotent; it also moves that month's rows out of the
 * default partition). Rows still in the default partition afterwards belong to months with no partition: they are
 * reported, since every query over them scans the default partition and a later partition for their month has to
 * move them.
 */
import type { Database } from '../../platform/database';
import { inTransaction } from '../../platform/transaction';

export interface PartitionOptions {
  /** months after the current one; default 3 */
  ahead?: number;
  /** the "current" month is the one containing this instant (UTC); default now */
  from?: Date;
}

export interface PartitionReport {
  /** every partition this run ensured, oldest first */
  partitions: string[];
  created: string[];
  existed: string[];
  /** rows left in the default partition (> 0: months without a partition) */
  defaultRows: number;
  /** those rows' months (YYYY-MM), at most 24 */
  defaultMonths: string[];
}

/** The first day (UTC) of each month from `from`'s month to `ahead` months later, as YYYY-MM-DD. */
export function monthsAhead(from: Date, ahead: number): string[] {
  const months: string[] = [];
  for (let i = 0; i <= ahead; i++) {
    const d = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + i, 1));
    months.push(d.toISOString().slice(0, 10));
  }
  return months;
}

/** The partition's name as the SQL function builds it (market_data_YYYY_MM). */
export function partitionName(month: string): string {
  return `market_data_${month.slice(0, 4)}_${month.slice(5, 7)}`;
}

export async function ensurePartitions(db: Database, options: PartitionOptions = {}): Promise<PartitionReport> {
  const ahead = options.ahead ?? 3;
  if (!Number.isInteger(ahead) || ahead < 0) throw new Error(`ahead must be a whole number >= 0, not ${ahead}`);
  const report: PartitionReport = { partitions: [], created: [], existed: [], defaultRows: 0, defaultMonths: [] };

  for (const month of monthsAhead(options.from ?? new Date(), ahead)) {
    // One transaction per month: the function's move out of the default partition and the attach commit together,
    // and a long run holds no lock on months it has finished.
    const { name, existed } = await inTransaction(db.em(), async (tx) => {
      const expected = partitionName(month);
      const [before] = await tx.execute<{ present: boolean }[]>('select to_regclass(?) is not null as present', [`data_ingestion.${expected}`]);
      const [made] = await tx.execute<{ name: string }[]>('select data_ingestion.create_market_data_partition(?::date) as name', [month]);
      return { name: made.name, existed: before.present };
    });
    report.partitions.push(name);
    (existed ? report.existed : report.created).push(name);
  }

  const [left] = await db.em().execute<{ n: number }[]>('select count(*)::int as n from data_ingestion.market_data_default');
  report.defaultRows = left.n;
  if (left.n > 0) {
    const months = await db.em().execute<{ month: string }[]>(
      `select distinct to_char(date_trunc('month', "timestamp" at time zone 'UTC'), 'YYYY-MM') as month
       from data_ingestion.market_data_default order by 1 limit 24`,
    );
    report.defaultMonths = months.map((m) => m.month);
  }
  return report;
}
