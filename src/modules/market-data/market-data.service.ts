/** Market-data reads (keyset pages of bars at any timeframe) and batch ingestion. */
import { decodeCursor, encodeNumberCursor, isDigits, pageSize, toConnection, type Connection } from '../../platform/pagination';
import { inTransaction } from '../../platform/transaction';
import { auditInsert } from '../../platform/audit';
import { eventsInsert } from '../../platform/outbox';
import { barEvents } from '../events';
import type { Scope } from '../../platform/scope';
import { ValidationError } from '../../platform/errors';
import { validateSymbol } from '../orders/order-lifecycle';
import { validateBars, type BarInput } from './bar-rules';
import { BarsStoredMeanwhile, EARLIEST_MS, LATEST_MS, MarketDataRepository, type BarRow } from './market-data.repository';
import { TIMEFRAMES, bucketStart, type Timeframe } from './timeframes';
import { utcMillis } from '../../platform/time';

export interface BarQuery {
  symbol: string;
  from?: Date | null;
  to?: Date | null;
  timeframe?: Timeframe | null;
  first?: number | null;
  after?: string | null;
}

/** Gap skips per page: each is one index probe; a page of 1000 daily bars over weekends needs few. */
const MAX_WINDOWS = 64;

export class MarketDataService {
  constructor(private readonly repo = new MarketDataRepository()) {}

  async bars(scope: Scope, q: BarQuery): Promise<Connection<BarRow>> {
    validateSymbol('symbol', q.symbol);
    const timeframe = q.timeframe ?? 'M1';
    const size = pageSize(q.first);
    const cursor = decodeCursor(q.after, 1, ([ms]) => isDigits(ms));
    const toMs = q.to ? q.to.getTime() : LATEST_MS;
    let fromMs = q.from ? q.from.getTime() : EARLIEST_MS;
    if (q.from && q.to && fromMs >= toMs) throw ValidationError.field('to', 'must be after from');
    // The cursor is the start of the last bucket returned: the next page starts one bucket later.
    if (cursor) fromMs = Math.max(fromMs, Number(cursor[0]) + TIMEFRAMES[timeframe].ms);
    if (fromMs === EARLIEST_MS) {
      const first = await this.repo.firstBarTime(scope.reads, q.symbol);
      if (first === null) return toConnection([], size, cursorOf);
      fromMs = first;
    }
    const rows = timeframe === 'M1'
      ? await this.repo.minuteBars(scope.reads, q.symbol, fromMs, toMs, size + 1)
      : await this.aggregated(scope, q.symbol, timeframe, fromMs, toMs, size + 1);
    return toConnection(rows, size, cursorOf);
  }

  /**
   * Aggregates window by window: a window spans exactly the buckets still wanted, so PostgreSQL reads only the
   * 1-minute bars it needs; a gap (night, weekend) is skipped with one index probe instead of being scanned.
   */
  private async aggregated(scope: Scope, symbol: string, timeframe: Timeframe, fromMs: number, toMs: number, want: number): Promise<BarRow[]> {
    const width = TIMEFRAMES[timeframe].ms;
    const rows: BarRow[] = [];
    let start = fromMs;
    for (let i = 0; i < MAX_WINDOWS && rows.length < want && start < toMs; i++) {
      const windowEnd = Math.min(toMs, bucketStart(start, timeframe) + (want - rows.length) * width);
      rows.push(...(await this.repo.aggregatedBars(scope.reads, symbol, timeframe, start, windowEnd, want - rows.length)));
      if (rows.length >= want || windowEnd >= toMs) break;
      const next = await this.repo.nextBarTime(scope.reads, symbol, windowEnd, toMs);
      if (next === null) break;
      start = bucketStart(next, timeframe);
    }
    return rows;
  }

  async latestBar(scope: Scope, symbol: string): Promise<BarRow | null> {
    validateSymbol('symbol', symbol);
    return this.repo.latestBar(scope.reads, symbol);
  }

  /** Latest close per symbol, for valuations (a DataLoader batches the symbols of one request). */
  latestCloses(scope: Scope, symbols: readonly string[]): Promise<Map<string, string>> {
    return this.repo.latestCloses(scope.reads, symbols);
  }

  async ingest(scope: Scope, input: BarInput[]): Promise<{ inserted: number; updated: number }> {
    const bars = validateBars(input);
    // One event per symbol, carrying its bars: the symbols are the audit row's records.
    const events = barEvents(bars);
    const write = (upsert: boolean) => inTransaction(scope.db.em(), async (tx) => {
      const counts = !upsert && (await this.repo.insertNewBars(tx, bars)) ? { inserted: bars.length, updated: 0 } : await this.repo.upsertBars(tx, bars);
      await this.repo.writeEventsAndAudit(tx, eventsInsert(events), auditInsert(scope.access, {
        operation: 'ingestMarketData', table: 'data_ingestion.market_data', recordIds: events.map((e) => e.symbol!), result: 'ok',
        details: { bars: bars.length, ...counts },
      }));
      return counts;
    }, { access: scope.access });
    let result: { inserted: number; updated: number };
    try {
      result = await write(false);
    } catch (error) {
      // A concurrent ingestion stored some of these minutes first: nothing was written, write them as upserts.
      if (!(error instanceof BarsStoredMeanwhile)) throw error;
      result = await write(true);
    }
    scope.reads.preferPrimary();
    scope.outbox.wake();
    return result;
  }
}

function cursorOf(row: BarRow): string {
  return encodeNumberCursor(utcMillis(row.timestamp));
}
