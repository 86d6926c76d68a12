/**
 * The analytics tables recomputed from execution.trades (`tradeql sync --rebuild`), and the pure fold both the rebuild
 * and the tests use: each (account, symbol)'s fills in trade_id order through the same average-cost math as the live
 * positions, giving the final position and each fill's realized PnL.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Database } from '../../platform/database';
import type { Logger } from '../../platform/logger';
import { Decimal, decimalText, roundToScale } from '../../platform/decimal';
import { inTransaction } from '../../platform/transaction';
import { toPgArray } from '../../platform/pg-array';
import { FLAT, applyFill, type PositionState } from '../positions/position-math';

/** The consumer name of the analytics synchronizer in analytics.processed_events. */
export const ANALYTICS_CONSUMER = 'analytics';

export interface TradeRecord {
  tradeId: string;
  accountId: string;
  symbol: string;
  side: 'BUY' | 'SELL';
  quantity: string;
  price: string;
  executedAt: string | Date;
  strategy: string | null;
}

export interface SummaryRow {
  accountId: string;
  symbol: string;
  quantity: string;
  totalValue: string;
  realizedPnl: string;
}

export interface MetricRow {
  strategy: string;
  date: string;
  totalTrades: number;
  winningTrades: number;
  winRate: string;
}

/** A position's value at its latest fill: quantity x fill price, rounded half-even to the column's 8 places. */
export function positionValue(quantity: string, price: string): string {
  return decimalText(roundToScale(new Decimal(quantity).times(price), 8));
}

/** The UTC calendar day (YYYY-MM-DD) of a fill. */
export function utcDate(executedAt: string | Date | null): string {
  const date = executedAt instanceof Date ? executedAt : new Date(executedAt ?? NaN);
  if (Number.isNaN(date.getTime())) throw new Error(`not a time: ${String(executedAt)}`);
  return date.toISOString().slice(0, 10);
}

export function isWin(realizedDelta: string): boolean {
  return new Decimal(realizedDelta).gt(0);
}

/** winning / total to 4 places, half away from zero: what PostgreSQL stores in numeric(7,4) for the live upsert. */
export function winRate(winning: number, total: number): string {
  if (total <= 0) return '0';
  return decimalText(new Decimal(winning).div(total).toDecimalPlaces(4, Decimal.ROUND_HALF_UP));
}

/** Folds fills, given in trade_id order, into the rows of both tables. */
export class AnalyticsFold {
  private readonly positions = new Map<string, { accountId: string; symbol: string; state: PositionState; lastPrice: string }>();
  private readonly metrics = new Map<string, { strategy: string; date: string; total: number; winning: number }>();
  trades = 0;

  add(trade: TradeRecord): void {
    const key = `${trade.accountId}\u0000${trade.symbol}`;
    const position = this.positions.get(key) ?? { accountId: trade.accountId, symbol: trade.symbol, state: FLAT, lastPrice: '0' };
    const next = applyFill(position.state, trade);
    position.state = { quantity: next.quantity, averagePrice: next.averagePrice, realizedPnl: next.realizedPnl };
    position.lastPrice = trade.price;
    this.positions.set(key, position);
    this.trades++;
    if (!trade.strategy) return;
    const date = utcDate(trade.executedAt);
    const mkey = `${trade.strategy}\u0000${date}`;
    const metric = this.metrics.get(mkey) ?? { strategy: trade.strategy, date, total: 0, winning: 0 };
    metric.total++;
    if (isWin(next.realizedDelta)) metric.winning++;
    this.metrics.set(mkey, metric);
  }

  summaries(): SummaryRow[] {
    return [...this.positions.values()].map((p) => ({
      accountId: p.accountId,
      symbol: p.symbol,
      quantity: p.state.quantity,
      totalValue: positionValue(p.state.quantity, p.lastPrice),
      realizedPnl: p.state.realizedPnl,
    }));
  }

  metricRows(): MetricRow[] {
    return [...this.metrics.values()].map((m) => ({
      strategy: m.strategy, date: m.date, totalTrades: m.total, winningTrades: m.winning, winRate: winRate(m.winning, m.total),
    }));
  }
}

export function foldTrades(trades: Iterable<TradeRecord>): AnalyticsFold {
  const fold = new AnalyticsFold();
  for (const trade of trades) fold.add(trade);
  return fold;
}

type Query = (sql: string, params: unknown[]) => Promise<TradeRecord[]>;

/** One keyset page of trades after `afterTradeId`, in trade_id order; optionally only some accounts' (tests). */
export function tradesPage(query: Query, afterTradeId: string, limit: number, accountIds?: readonly string[]): Promise<TradeRecord[]> {
  const params: unknown[] = [afterTradeId];
  let where = 'trade_id > ?::bigint';
  if (accountIds) (where += ' and account_id = any(?::text[])'), params.push(toPgArray(accountIds));
  return query(
    `select trade_id::text as "tradeId", account_id as "accountId", symbol, side, quantity::text as quantity, price::text as price,
            executed_at as "executedAt", strategy
     from execution.trades where ${where} order by trade_id limit ${Number(limit)}`,
    params,
  );
}

export interface RebuildReport {
  trades: number;
  portfolioRows: number;
  metricRows: number;
  /** TRADE_EXECUTED events recorded as applied, so live processing does not count them again */
  processedEvents: number;
  lastSequence: string;
}

const PAGE = 5_000;
const INSERT_CHUNK = 1_000;

/**
 * Replaces both tables with what the trades say, in one REPEATABLE READ transaction (one snapshot of trades, outbox and
 * outbox_state), and sets the checkpoint so live processing continues exactly after it:
 *  - every TRADE_EXECUTED outbox row in the snapshot is the event of a trade in the snapshot (one transaction wrote
 *    both), so all of them are recorded in processed_events: a synchronizer meeting one later skips it;
 *  - rows the relay has not numbered yet (committed, sequence still null) are recorded too, by event id, with the
 *    snapshot's last sequence as a stand-in: their real number will be higher, and the event id is what dedupes;
 *  - anything committed after the snapshot gets a sequence above outbox_state.last_sequence, is not in the rebuild,
 *    and is applied live; summary rows carry last_sequence = that value, so those newer events overwrite them.
 * The analytics tables are locked first (EXCLUSIVE: reads go on, writes wait), before the snapshot is taken, so no
 * synchronizer commits in between; processed_events comes first because synchronizers write it first (no deadlock).
 */
export async function rebuildAnalytics(db: Database, log: Logger): Promise<RebuildReport> {
  return inTransaction(
    db.em(),
    async (tx) => {
      await tx.execute('lock table analytics.processed_events, analytics.portfolio_summary, analytics.performance_metrics in exclusive mode');
      const [{ last }] = await tx.execute<{ last: string }[]>('select last_sequence::text as last from execution.outbox_state where id = 1');
      const fold = new AnalyticsFold();
      for (let after = '0'; ; ) {
        const page = await tradesPage((sql, params) => tx.execute<TradeRecord[]>(sql, params, 'all'), after, PAGE);
        for (const trade of page) {
          fold.add(trade);
          if (fold.trades % 10_000 === 0) log.info({ trades: fold.trades }, 'rebuilding analytics');
        }
        if (page.length < PAGE) break;
        after = page[page.length - 1].tradeId;
      }
      const summaries = fold.summaries();
      const metrics = fold.metricRows();
      await tx.execute('delete from analytics.portfolio_summary');
      await tx.execute('delete from analytics.performance_metrics');
      for (let i = 0; i < summaries.length; i += INSERT_CHUNK) await insertSummaries(tx, summaries.slice(i, i + INSERT_CHUNK), last);
      for (let i = 0; i < metrics.length; i += INSERT_CHUNK) await insertMetrics(tx, metrics.slice(i, i + INSERT_CHUNK));
      const [{ n }] = await tx.execute<{ n: number }[]>(
        `with marked as (
           insert into analytics.processed_events (consumer, event_id, sequence)
           select ?, event_id, coalesce(sequence, ?::bigint) from execution.outbox where topic = 'TRADE_EXECUTED'
           on conflict do nothing returning 1)
         select count(*)::int as n from marked`,
        [ANALYTICS_CONSUMER, last],
      );
      const report = { trades: fold.trades, portfolioRows: summaries.length, metricRows: metrics.length, processedEvents: n, lastSequence: last };
      log.info(report, 'analytics rebuilt');
      return report;
    },
    { isolation: 'REPEATABLE READ' },
  );
}

async function insertSummaries(tx: EntityManager, rows: SummaryRow[], lastSequence: string): Promise<void> {
  await tx.execute(
    `insert into analytics.portfolio_summary (account_id, symbol, quantity, total_value, realized_pnl, last_updated, last_sequence)
     select r."accountId", r.symbol, r.quantity, r."totalValue", r."realizedPnl", now(), ?::bigint
     from jsonb_to_recordset(?::jsonb) as r("accountId" text, symbol text, quantity numeric, "totalValue" numeric, "realizedPnl" numeric)`,
    [lastSequence, JSON.stringify(rows)],
  );
}

async function insertMetrics(tx: EntityManager, rows: MetricRow[]): Promise<void> {
  await tx.execute(
    `insert into analytics.performance_metrics (strategy, date, total_trades, winning_trades, win_rate, last_updated)
     select r.strategy, r.date, r."totalTrades", r."winningTrades", r."winRate", now()
     from jsonb_to_recordset(?::jsonb) as r(strategy text, date date, "totalTrades" integer, "winningTrades" integer, "winRate" numeric)`,
    [JSON.stringify(rows)],
  );
}
