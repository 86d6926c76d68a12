/**
 * Market-data SQL. Hot reads return plain rows (no entity hydration: about 3x cheaper on large lists). Higher
 * timeframes aggregate 1-minute bars with date_bin over the (symbol, timestamp) primary key.
 */
import type { EntityManager, Knex } from '@mikro-orm/postgresql';
import { toPgArray } from '../../platform/pg-array';
import type { ReadSession } from '../../platform/read-session';
import type { ValidBar } from './bar-rules';
import { TIMEFRAMES, type Timeframe } from './timeframes';

export interface BarRow {
  symbol: string;
  timestamp: string;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
}

const TABLE = 'data_ingestion.market_data';

/** Open bounds of a time range, inside what both JavaScript and PostgreSQL timestamps can hold. */
export const EARLIEST_MS = Date.UTC(1800, 0, 1);
export const LATEST_MS = Date.UTC(9000, 0, 1);

export class MarketDataRepository {
  /** 1-minute bars in [fromMs, toMs), oldest first. */
  async minuteBars(reads: ReadSession, symbol: string, fromMs: number, toMs: number, limit: number): Promise<BarRow[]> {
    return reads.allPublic<BarRow>(
      `select symbol, "timestamp", open, high, low, close, volume from ${TABLE}
       where symbol = ? and "timestamp" >= ? and "timestamp" < ? order by "timestamp" limit ?`,
      [symbol, new Date(fromMs), new Date(toMs), limit],
    );
  }

  /** Aggregated bars whose bucket starts in [fromMs, toMs): first open, max high, min low, last close, sum volume. */
  async aggregatedBars(reads: ReadSession, symbol: string, timeframe: Timeframe, fromMs: number, toMs: number, limit: number): Promise<BarRow[]> {
    return reads.allPublic<BarRow>(
      `select symbol, date_bin(?::interval, "timestamp", timestamptz 'epoch') as "timestamp",
              (array_agg(open order by "timestamp"))[1] as open, max(high) as high, min(low) as low,
              (array_agg(close order by "timestamp" desc))[1] as close, sum(volume) as volume
       from ${TABLE}
       where symbol = ? and "timestamp" >= ? and "timestamp" < ?
       group by symbol, 2 order by 2 limit ?`,
      [TIMEFRAMES[timeframe].interval, symbol, new Date(fromMs), new Date(toMs), limit],
    );
  }

  /** Time of the first bar at or after `fromMs` (and before `toMs`), to skip gaps without scanning them. */
  async nextBarTime(reads: ReadSession, symbol: string, fromMs: number, toMs: number): Promise<number | null> {
    const row = await reads.onePublic<{ ms: string }>(
      `select (extract(epoch from "timestamp") * 1000)::bigint as ms from ${TABLE}
       where symbol = ? and "timestamp" >= ? and "timestamp" < ? order by "timestamp" limit 1`,
      [symbol, new Date(fromMs), new Date(toMs)],
    );
    return row ? Number(row.ms) : null;
  }

  /** Time of the first bar of a symbol, where a list with no `from` starts. */
  async firstBarTime(reads: ReadSession, symbol: string): Promise<number | null> {
    return this.nextBarTime(reads, symbol, EARLIEST_MS, LATEST_MS);
  }

  async latestBar(reads: ReadSession, symbol: string): Promise<BarRow | null> {
    return reads.onePublic<BarRow>(
      `select symbol, "timestamp", open, high, low, close, volume from ${TABLE}
       where symbol = ? order by "timestamp" desc limit 1`,
      [symbol],
    );
  }

  /** Latest close of each symbol (one index probe per symbol and partition, batched in one statement). */
  async latestCloses(reads: ReadSession, symbols: readonly string[]): Promise<Map<string, string>> {
    const rows = await reads.allPublic<{ symbol: string; close: string }>(
      `select s.symbol, b.close from unnest(?::text[]) as s(symbol)
       cross join lateral (select close from ${TABLE} m where m.symbol = s.symbol order by "timestamp" desc limit 1) b`,
      [toPgArray(symbols)],
    );
    return new Map(rows.map((r) => [r.symbol, r.close]));
  }

  /**
   * Upserts bars in one statement, with `also` (the outbox rows) as its sub-statements. The columns travel as seven
   * text-array parameters: exact decimal text, nothing to escape into the SQL, no JSON for PostgreSQL to parse.
   * PostgreSQL cannot return xmax from a partitioned table, so a row counts as updated when it kept its created_at:
   * an inserted row gets this transaction's now().
   */
  async upsertBars(em: EntityManager, bars: ValidBar[], also: { sql: string; params: unknown[] }[] = []): Promise<{ inserted: number; updated: number }> {
    const column = (key: keyof ValidBar) => textArray(bars.map((b) => b[key]));
    // Through knex with bound parameters: em.execute() would inline megabytes of escaped literals into the SQL.
    const knex = em.getTransactionContext<Knex.Transaction>() ?? em.getKnex();
    const { rows } = await knex.raw<{ rows: { inserted: number; updated: number }[] }>(
      `with upserted as (
         insert into ${TABLE} (symbol, "timestamp", open, high, low, close, volume)
         select * from unnest(?::text[], ?::timestamptz[], ?::numeric[], ?::numeric[], ?::numeric[], ?::numeric[], ?::bigint[])
         on conflict (symbol, "timestamp") do update
           set open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close, volume = excluded.volume
         returning created_at = now() as fresh
       )${also.map((s, i) => `, s${i} as (${s.sql})`).join('')}
       select (count(*) filter (where fresh))::int as inserted, (count(*) filter (where not fresh))::int as updated from upserted`,
      [column('symbol'), column('timestamp'), column('open'), column('high'), column('low'), column('close'), column('volume'),
        ...(also.flatMap((s) => s.params) as Knex.Value[])],
    );
    return rows[0];
  }
}

/**
 * A text[] literal of validated values (symbols, ISO times, decimal text), which hold no quote or backslash: checked,
 * not escaped value by value as toPgArray does (ten times faster on 70,000 values).
 */
export function textArray(values: string[]): string {
  if (/["\\]/.test(values.join(''))) throw new Error('market-data values must not contain quotes or backslashes');
  return `{"${values.join('","')}"}`;
}
