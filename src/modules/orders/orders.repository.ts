/** Order and trade SQL: keyset-paged lists, batched lookups for DataLoaders, and the idempotent insert. */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { ReadSession } from '../../platform/read-session';
import { toPgArray } from '../../platform/pg-array';
import type { NewOrder, OrderStatus } from './order-lifecycle';

/** An order as GraphQL shows it (plain row, camelCase); `cursorTs` is created_at in epoch microseconds. */
export interface OrderRow {
  orderId: string;
  clientOrderId: string;
  accountId: string;
  symbol: string;
  side: string;
  type: string;
  timeInForce: string;
  quantity: string;
  limitPrice: string | null;
  stopPrice: string | null;
  filledQuantity: string;
  averageFillPrice: string | null;
  status: OrderStatus;
  strategy: string | null;
  version: number;
  createdAt: string | Date;
  updatedAt: string | Date;
  cursorTs?: string;
}

export interface TradeRow {
  tradeId: string;
  orderId: string;
  accountId: string;
  symbol: string;
  side: string;
  quantity: string;
  price: string;
  executedAt: string | Date;
  strategy: string | null;
  cursorTs?: string;
}

export const ORDER_COLUMNS = `o.order_id as "orderId", o.client_order_id as "clientOrderId", o.account_id as "accountId",
  o.symbol, o.side, o.type, o.time_in_force as "timeInForce", o.quantity, o.limit_price as "limitPrice",
  o.stop_price as "stopPrice", o.filled_quantity as "filledQuantity", o.average_fill_price as "averageFillPrice",
  o.status, o.strategy, o.version, o.created_at as "createdAt", o.updated_at as "updatedAt",
  (extract(epoch from o.created_at) * 1000000)::bigint::text as "cursorTs"`;

const TRADE_COLUMNS = `t.trade_id::text as "tradeId", t.order_id as "orderId", t.account_id as "accountId", t.symbol,
  t.side, t.quantity, t.price, t.executed_at as "executedAt", t.strategy,
  (extract(epoch from t.executed_at) * 1000000)::bigint::text as "cursorTs"`;

/** Keyset position: (timestamp in epoch microseconds, id). */
export type Keyset = [string, string] | null;

export interface OrderFilter {
  accountId?: string | null;
  /** only these accounts (a key's own, when it names none) */
  accountIds?: readonly string[] | null;
  symbol?: string | null;
  status?: OrderStatus[] | null;
  strategy?: string | null;
}

export interface TradeFilter {
  accountId?: string | null;
  /** only these accounts (a key's own, when it names none) */
  accountIds?: readonly string[] | null;
  symbol?: string | null;
  strategy?: string | null;
  fromMs?: number | null;
  toMs?: number | null;
}

const EPOCH_MICROS = `(timestamptz 'epoch' + ?::bigint * interval '1 microsecond')`;

export class OrdersRepository {
  async listOrders(reads: ReadSession, f: OrderFilter, after: Keyset, limit: number): Promise<OrderRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (f.accountId) (where.push('o.account_id = ?'), params.push(f.accountId));
    if (f.accountIds) (where.push('o.account_id = any(?::text[])'), params.push(toPgArray(f.accountIds)));
    if (f.symbol) (where.push('o.symbol = ?'), params.push(f.symbol));
    if (f.strategy) (where.push('o.strategy = ?'), params.push(f.strategy));
    if (f.status?.length) (where.push('o.status = any(?::text[])'), params.push(toPgArray(f.status)));
    if (after) (where.push(`(o.created_at, o.order_id) < (${EPOCH_MICROS}, ?::uuid)`), params.push(after[0], after[1]));
    params.push(limit);
    return reads.all<OrderRow>(
      `select ${ORDER_COLUMNS} from execution.orders o ${where.length ? `where ${where.join(' and ')}` : ''}
       order by o.created_at desc, o.order_id desc limit ?`,
      params,
    );
  }

  /** Pages of several accounts' orders in one statement (Account.orders through a DataLoader). */
  async ordersOfAccounts(reads: ReadSession, accountIds: readonly string[], status: OrderStatus[] | null, after: Keyset, limit: number): Promise<OrderRow[]> {
    const conds: string[] = ['o.account_id = a.id'];
    const params: unknown[] = [toPgArray(accountIds)];
    if (status?.length) (conds.push('o.status = any(?::text[])'), params.push(toPgArray(status)));
    if (after) (conds.push(`(o.created_at, o.order_id) < (${EPOCH_MICROS}, ?::uuid)`), params.push(after[0], after[1]));
    params.push(limit);
    return reads.all<OrderRow>(
      `select o.* from unnest(?::text[]) as a(id) cross join lateral (
         select ${ORDER_COLUMNS} from execution.orders o where ${conds.join(' and ')}
         order by o.created_at desc, o.order_id desc limit ?) o`,
      params,
    );
  }

  async ordersByIds(reads: ReadSession, orderIds: readonly string[]): Promise<OrderRow[]> {
    return reads.all<OrderRow>(`select ${ORDER_COLUMNS} from execution.orders o where o.order_id = any(?::uuid[])`, [toPgArray(orderIds)]);
  }

  async orderByClientOrderId(reads: ReadSession, accountId: string, clientOrderId: string): Promise<OrderRow | null> {
    return reads.one<OrderRow>(
      `select ${ORDER_COLUMNS} from execution.orders o where o.account_id = ? and o.client_order_id = ?`,
      [accountId, clientOrderId],
    );
  }

  async listTrades(reads: ReadSession, f: TradeFilter, after: Keyset, limit: number): Promise<TradeRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (f.accountId) (where.push('t.account_id = ?'), params.push(f.accountId));
    if (f.accountIds) (where.push('t.account_id = any(?::text[])'), params.push(toPgArray(f.accountIds)));
    if (f.symbol) (where.push('t.symbol = ?'), params.push(f.symbol));
    if (f.strategy) (where.push('t.strategy = ?'), params.push(f.strategy));
    if (f.fromMs != null) (where.push('t.executed_at >= ?'), params.push(new Date(f.fromMs)));
    if (f.toMs != null) (where.push('t.executed_at < ?'), params.push(new Date(f.toMs)));
    if (after) (where.push(`(t.executed_at, t.trade_id) < (${EPOCH_MICROS}, ?::bigint)`), params.push(after[0], after[1]));
    params.push(limit);
    return reads.all<TradeRow>(
      `select ${TRADE_COLUMNS} from execution.trades t ${where.length ? `where ${where.join(' and ')}` : ''}
       order by t.executed_at desc, t.trade_id desc limit ?`,
      params,
    );
  }

  /** Fills of several orders, oldest first (Order.trades through a DataLoader). */
  async tradesOfOrders(reads: ReadSession, orderIds: readonly string[]): Promise<TradeRow[]> {
    return reads.all<TradeRow>(
      `select ${TRADE_COLUMNS} from execution.trades t where t.order_id = any(?::uuid[]) order by t.order_id, t.trade_id`,
      [toPgArray(orderIds)],
    );
  }

  /** Inserts unless (account, clientOrderId) exists; concurrent duplicates wait for the first and insert nothing. */
  async insertOrderIfNew(tx: EntityManager, orderId: string, o: NewOrder): Promise<OrderRow | null> {
    const rows = await tx.execute<OrderRow[]>(
      `insert into execution.orders as o (order_id, client_order_id, account_id, symbol, side, type, time_in_force,
         quantity, limit_price, stop_price, strategy)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (account_id, client_order_id) do nothing
       returning ${ORDER_COLUMNS}`,
      [orderId, o.clientOrderId, o.accountId, o.symbol, o.side, o.type, o.timeInForce, o.quantity, o.limitPrice, o.stopPrice, o.strategy],
      'all',
    );
    return rows[0] ?? null;
  }

  async lockedOrderByClientOrderId(tx: EntityManager, accountId: string, clientOrderId: string): Promise<OrderRow | null> {
    const rows = await tx.execute<OrderRow[]>(
      `select ${ORDER_COLUMNS} from execution.orders o where o.account_id = ? and o.client_order_id = ?`,
      [accountId, clientOrderId],
      'all',
    );
    return rows[0] ?? null;
  }

  async cancelOpenOrders(tx: EntityManager, accountId: string, symbol: string | null): Promise<OrderRow[]> {
    const rows = await tx.execute<OrderRow[]>(
      `update execution.orders as o set status = 'CANCELED', version = o.version + 1, updated_at = now()
       where o.account_id = ? and o.status in ('NEW', 'PARTIALLY_FILLED') ${symbol ? 'and o.symbol = ?' : ''}
       returning ${ORDER_COLUMNS}`,
      symbol ? [accountId, symbol] : [accountId],
      'all',
    );
    return rows.sort((a, b) => (a.cursorTs! < b.cursorTs! ? -1 : a.cursorTs! > b.cursorTs! ? 1 : a.orderId.localeCompare(b.orderId)));
  }
}
