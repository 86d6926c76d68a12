/** The paper venue's SQL: working orders, fills already made, its checkpoint. Every read is on the primary. */
import type { Database } from '../../platform/database';
import { toPgArray } from '../../platform/pg-array';
import type { BarRow } from '../market-data/market-data.repository';
import type { OrderSide, OrderType, TimeInForce } from '../orders/order-lifecycle';

/** An open order as the venue sees it. */
export interface VenueOrderRow {
  orderId: string;
  symbol: string;
  side: OrderSide;
  type: OrderType;
  timeInForce: TimeInForce;
  quantity: string;
  filledQuantity: string;
  limitPrice: string | null;
  stopPrice: string | null;
  createdAt: Date;
}

const COLUMNS = `order_id as "orderId", symbol, side, type, time_in_force as "timeInForce", quantity::text as quantity,
  filled_quantity::text as "filledQuantity", limit_price::text as "limitPrice", stop_price::text as "stopPrice", created_at as "createdAt"`;
const OPEN = `status in ('NEW', 'PARTIALLY_FILLED')`;
/** The venue's row in analytics.processed_events (a consumer checkpoint table): one row holding its last sequence. */
const CONSUMER = 'paper-venue';
const CHECKPOINT_ID = '00000000-0000-4000-8000-0000000000a0';

export class VenueRepository {
  constructor(private readonly db: Database) {}

  async openOrder(orderId: string): Promise<VenueOrderRow | null> {
    const rows = await this.db.read<VenueOrderRow>(`select ${COLUMNS} from execution.orders where order_id = ? and ${OPEN}`, [orderId], 'primary');
    return rows[0] ?? null;
  }

  /** Every working order, in priority order (the partial index of open orders keeps this small). */
  async openOrders(): Promise<VenueOrderRow[]> {
    return this.db.read<VenueOrderRow>(`select ${COLUMNS} from execution.orders where ${OPEN} order by created_at, order_id`, [], 'primary');
  }

  /** Working orders of a symbol accepted before `before`, in priority order: oldest first, then by id. */
  async openOrdersOf(symbol: string, before: Date): Promise<VenueOrderRow[]> {
    return this.db.read<VenueOrderRow>(
      `select ${COLUMNS} from execution.orders where symbol = ? and ${OPEN} and created_at < ? order by created_at, order_id`,
      [symbol, before], 'primary');
  }

  /** DAY orders still working that were accepted before a session close. */
  async dayOrdersBefore(close: Date): Promise<string[]> {
    const rows = await this.db.read<{ orderId: string }>(
      `select order_id as "orderId" from execution.orders where ${OPEN} and time_in_force = 'DAY' and created_at < ? order by created_at, order_id`,
      [close], 'primary');
    return rows.map((r) => r.orderId);
  }

  /**
   * The bar an order met on arrival: the newest of its symbol stored before the order was accepted (a bar that came
   * later is met as a bar, even when the venue reads the order late, e.g. after a restart). Scans the primary key
   * backwards: normally the first row is it.
   */
  async latestBarBefore(symbol: string, before: Date): Promise<BarRow | null> {
    const rows = await this.db.read<BarRow>(
      `select symbol, "timestamp", open::text as open, high::text as high, low::text as low, close::text as close, volume::text as volume
       from data_ingestion.market_data where symbol = ? and created_at < ? order by "timestamp" desc limit 1`,
      [symbol, before], 'primary');
    return rows[0] ?? null;
  }

  /**
   * Which of these orders already have a fill stamped at one of these bar times: the venue stamps a fill with its
   * bar's time, so this is how a replayed bar knows it was applied before (at most one fill per order and bar).
   */
  async fillsAt(orderIds: string[], times: Date[]): Promise<Set<string>> {
    if (!orderIds.length || !times.length) return new Set();
    const rows = await this.db.read<{ orderId: string; ms: string }>(
      `select order_id as "orderId", (extract(epoch from executed_at) * 1000)::bigint::text as ms from execution.trades
       where order_id = any(?::uuid[]) and executed_at = any(?::timestamptz[])`,
      [toPgArray(orderIds), toPgArray(times.map((t) => t.toISOString()))], 'primary');
    return new Set(rows.map((r) => fillKey(r.orderId, Number(r.ms))));
  }

  /** When an event was written (its transaction's commit is at or after it): orders accepted before it meet its bars. */
  async eventTime(eventId: string): Promise<Date | null> {
    const rows = await this.db.read<{ at: Date }>('select created_at as at from execution.outbox where event_id = ?', [eventId], 'primary');
    return rows[0]?.at ?? null;
  }

  /**
   * Whether a stop-limit's stop traded since it was accepted (after a restart, where the venue's memory is gone): a
   * bar first stored after the order reached it, or the latest bar stored before it closed at or through it.
   */
  async stopTraded(o: VenueOrderRow): Promise<boolean> {
    const buy = o.side === 'BUY';
    const rows = await this.db.read<{ hit: boolean }>(
      `select exists (select 1 from data_ingestion.market_data where symbol = ? and created_at > ? and ${buy ? 'high >=' : 'low <='} ?::numeric)
           or coalesce((select ${buy ? 'close >=' : 'close <='} ?::numeric from data_ingestion.market_data
                        where symbol = ? and created_at <= ? order by "timestamp" desc limit 1), false) as hit`,
      [o.symbol, o.createdAt, o.stopPrice, o.stopPrice, o.symbol, o.createdAt], 'primary');
    return rows[0].hit;
  }

  /** The last sequence the venue finished, or null on its first start. */
  async checkpoint(): Promise<bigint | null> {
    const rows = await this.db.read<{ last: string }>(
      'select sequence::text as last from analytics.processed_events where consumer = ? and event_id = ?', [CONSUMER, CHECKPOINT_ID], 'primary');
    return rows.length ? BigInt(rows[0].last) : null;
  }

  async saveCheckpoint(sequence: bigint): Promise<void> {
    await this.db.em().execute(
      `insert into analytics.processed_events as p (consumer, event_id, sequence) values (?, ?, ?::bigint)
       on conflict (consumer, event_id) do update set sequence = greatest(p.sequence, excluded.sequence), processed_at = now()`,
      [CONSUMER, CHECKPOINT_ID, sequence.toString()]);
  }

  /** The oldest event still in the outbox (older ones were pruned), or null when it is empty. */
  async oldestSequence(): Promise<bigint | null> {
    const [row] = await this.db.read<{ oldest: string | null }>('select min(sequence)::text as oldest from execution.outbox', [], 'primary');
    return row.oldest === null ? null : BigInt(row.oldest);
  }

  /** The newest sequence handed out: where a first start begins (history before it is not the venue's). */
  async lastSequence(): Promise<bigint> {
    const [row] = await this.db.read<{ last: string }>('select last_sequence::text as last from execution.outbox_state where id = 1', [], 'primary');
    return BigInt(row.last);
  }
}

export function fillKey(orderId: string, ms: number): string {
  return `${orderId}|${ms}`;
}
