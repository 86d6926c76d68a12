/** Order and trade SQL: keyset-paged lists, batched lookups for DataLoaders, and the idempotent insert. */
import type { Sql } from '../../platform/sql-transaction';
import type { ReadSession } from '../../platform/read-session';
import { toPgArray } from '../../platform/pg-array';
import { Decimal } from '../../platform/decimal';
import type { LockedPosition } from '../positions/positions.repository';
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

/** An order as a fill finds it, locked: `filledNotional` for the average price, `createdAt` as PostgreSQL's text. */
export interface LockedOrder extends Omit<OrderRow, 'cursorTs'> {
  filledNotional: string;
}

/** A fill's trade row as written (and as executeTrade returns it). */
export interface NewTrade extends Omit<TradeRow, 'executedAt' | 'cursorTs'> {
  executedAt: Date;
  createdAt: Date;
}

/** What a fill writes, in one statement: the trade, the order's progress and the position, all already computed. */
export interface FillWrite {
  trade: NewTrade;
  order: { orderId: string; readVersion: number; filledQuantity: string; filledNotional: string; averageFillPrice: string; status: OrderStatus; updatedAt: Date };
  position: { accountId: string; symbol: string; readVersion: number; quantity: string; averagePrice: string; realizedPnl: string; lastUpdated: Date };
  /** further sub-statements of the same statement (the outbox rows, the audit row) */
  also: SubStatement[];
}

/** A data-modifying sub-statement (`with sN as (...)`) of a write's statement, with knex `?` parameters. */
export interface SubStatement {
  sql: string;
  params: unknown[];
}

/**
 * An order as insertOrderIfNew stores it, as the inserted row reads back (decimals as numeric(20,8) text, the column
 * defaults), but for its timestamps, which PostgreSQL gives it: empty here, see withInsertedTimes.
 */
export function insertedOrder(orderId: string, o: NewOrder): Omit<OrderRow, 'cursorTs'> {
  const stored = (text: string | null) => (text === null ? null : new Decimal(text).toFixed(8));
  return {
    orderId, clientOrderId: o.clientOrderId, accountId: o.accountId, symbol: o.symbol, side: o.side, type: o.type, timeInForce: o.timeInForce,
    quantity: stored(o.quantity)!, limitPrice: stored(o.limitPrice), stopPrice: stored(o.stopPrice), filledQuantity: stored('0')!,
    averageFillPrice: null, status: 'NEW', strategy: o.strategy, version: 1, createdAt: '', updatedAt: '',
  };
}

/** A timestamptz as toIsoUtc shows PostgreSQL's UTC text: microseconds without trailing zeros, and Z. */
const isoUtc = (column: string) => `rtrim(rtrim(to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '0'), '.') || 'Z'`;

/** Completes the first event of an eventsInsert with the inserted order's (`o`) timestamps; null (no event) when none was inserted. */
export const withInsertedTimes = (events: string) => `(select jsonb_set(jsonb_set(${events},
    '{0,payload,order,createdAt}', to_jsonb(${isoUtc('o."createdAt"')})), '{0,payload,order,updatedAt}', to_jsonb(${isoUtc('o."updatedAt"')})) from o)`;

/** The trade ids' sequence: a fill draws its id once it holds its locks, so ids follow the order fills were applied. */
const NEXT_TRADE_ID = `nextval('execution.trades_trade_id_seq')::text`;

interface PositionColumns {
  positionQuantity: string | null;
  positionAveragePrice: string | null;
  positionRealizedPnl: string | null;
  positionVersion: number | null;
}

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

  /**
   * Inserts unless (account, clientOrderId) exists; concurrent duplicates wait for the first and insert nothing.
   * `also` are sub-statements of the same statement (events, audit); they see the inserted row as `o`.
   */
  async insertOrderIfNew(tx: Sql, orderId: string, o: NewOrder, also: SubStatement[] = []): Promise<OrderRow | null> {
    const rows = await tx.execute<OrderRow[]>(
      `with o as (
         insert into execution.orders as o (order_id, client_order_id, account_id, symbol, side, type, time_in_force,
           quantity, limit_price, stop_price, strategy)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         on conflict (account_id, client_order_id) do nothing
         returning ${ORDER_COLUMNS}
       )${also.map((s, i) => `, s${i} as (${s.sql})`).join('')}
       select * from o`,
      [orderId, o.clientOrderId, o.accountId, o.symbol, o.side, o.type, o.timeInForce, o.quantity, o.limitPrice, o.stopPrice, o.strategy,
        ...also.flatMap((s) => s.params)],
      'all',
    );
    return rows[0] ?? null;
  }

  async lockedOrderByClientOrderId(tx: Sql, accountId: string, clientOrderId: string): Promise<OrderRow | null> {
    const rows = await tx.execute<OrderRow[]>(
      `select ${ORDER_COLUMNS} from execution.orders o where o.account_id = ? and o.client_order_id = ?`,
      [accountId, clientOrderId],
      'all',
    );
    return rows[0] ?? null;
  }

  async cancelOpenOrders(tx: Sql, accountId: string, symbol: string | null): Promise<OrderRow[]> {
    const rows = await tx.execute<OrderRow[]>(
      `update execution.orders as o set status = 'CANCELED', version = o.version + 1, updated_at = now()
       where o.account_id = ? and o.status in ('NEW', 'PARTIALLY_FILLED') ${symbol ? 'and o.symbol = ?' : ''}
       returning ${ORDER_COLUMNS}`,
      symbol ? [accountId, symbol] : [accountId],
      'all',
    );
    return rows.sort((a, b) => (a.cursorTs! < b.cursorTs! ? -1 : a.cursorTs! > b.cursorTs! ? 1 : a.orderId.localeCompare(b.orderId)));
  }

  /**
   * The start of a fill, in one round trip: locks the order (FOR UPDATE), then, if it is open, its position, and
   * only then draws the trade id. The order is always locked before the position, so fills cannot deadlock; the
   * position is null when the account has none in the symbol yet (see lockNewPosition).
   */
  async lockForFill(tx: Sql, orderId: string): Promise<{ order: LockedOrder; position: LockedPosition | null; tradeId: string | null } | null> {
    const rows = await tx.execute<(LockedOrder & PositionColumns & { tradeId: string | null })[]>(
      `with o as materialized (
         select o.order_id as "orderId", o.client_order_id as "clientOrderId", o.account_id as "accountId", o.symbol, o.side,
           o.type, o.time_in_force as "timeInForce", o.quantity, o.limit_price as "limitPrice", o.stop_price as "stopPrice",
           o.filled_quantity as "filledQuantity", o.filled_notional as "filledNotional", o.average_fill_price as "averageFillPrice",
           o.status, o.strategy, o.version, o.created_at as "createdAt", o.updated_at as "updatedAt"
         from execution.orders o where o.order_id = ? for update
       )
       select o.*, p.quantity as "positionQuantity", p.average_price as "positionAveragePrice",
         p.realized_pnl as "positionRealizedPnl", p.version as "positionVersion",
         case when p.version is null then null else ${NEXT_TRADE_ID} end as "tradeId"
       from o left join lateral (
         select p.quantity, p.average_price, p.realized_pnl, p.version from execution.positions p
         where p.account_id = o."accountId" and p.symbol = o.symbol and o.status in ('NEW', 'PARTIALLY_FILLED')
         for update
       ) p on true`,
      [orderId],
      'all',
    );
    if (!rows.length) return null;
    const { positionQuantity, positionAveragePrice, positionRealizedPnl, positionVersion, tradeId, ...order } = rows[0];
    const position = positionVersion === null ? null
      : { quantity: positionQuantity!, averagePrice: positionAveragePrice!, realizedPnl: positionRealizedPnl!, version: positionVersion };
    return { order, position, tradeId };
  }

  /**
   * The first fill of an account in a symbol: creates the flat position row and locks it (a concurrent first fill
   * may have created it since: then its row is locked and returned), then draws the trade id.
   */
  async lockNewPosition(tx: Sql, accountId: string, symbol: string): Promise<{ position: LockedPosition; tradeId: string }> {
    const rows = await tx.execute<(LockedPosition & { tradeId: string })[]>(
      `with p as (
         insert into execution.positions as p (account_id, symbol) values (?, ?)
         on conflict (account_id, symbol) do update set symbol = excluded.symbol
         returning p.quantity, p.average_price as "averagePrice", p.realized_pnl as "realizedPnl", p.version
       )
       select p.*, ${NEXT_TRADE_ID} as "tradeId" from p`,
      [accountId, symbol],
      'all',
    );
    const { tradeId, ...position } = rows[0];
    return { position, tradeId };
  }

  /**
   * Writes a fill in one statement while the order and the position are locked: the trade, the order's progress,
   * the position and the caller's sub-statements (outbox, audit). Both updates check the version read under the
   * lock and bump it, as every change of these rows does. Both rows are locked by this transaction, so an update
   * that finds no row is a bug: the statement then fails (a division by zero), so that nothing is written even when
   * COMMIT travels with it.
   */
  async writeFill(tx: Sql, w: FillWrite): Promise<void> {
    const { trade: t, order: o, position: p } = w;
    await tx.execute(
      `with t as (
         insert into execution.trades (trade_id, order_id, account_id, symbol, side, quantity, price, executed_at, strategy, created_at)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ), o as (
         update execution.orders set filled_quantity = ?, filled_notional = ?, average_fill_price = ?, status = ?,
           version = version + 1, updated_at = ?
         where order_id = ? and version = ? returning 1
       ), p as (
         update execution.positions set quantity = ?, average_price = ?, realized_pnl = ?, version = version + 1, last_updated = ?
         where account_id = ? and symbol = ? and version = ? returning 1
       )${w.also.map((s, i) => `, s${i} as (${s.sql})`).join('')}
       select 1 / ((select count(*) from o) * (select count(*) from p))::int as "bothUpdated"`,
      [
        t.tradeId, t.orderId, t.accountId, t.symbol, t.side, t.quantity, t.price, t.executedAt, t.strategy, t.createdAt,
        o.filledQuantity, o.filledNotional, o.averageFillPrice, o.status, o.updatedAt, o.orderId, o.readVersion,
        p.quantity, p.averagePrice, p.realizedPnl, p.lastUpdated, p.accountId, p.symbol, p.readVersion,
        ...w.also.flatMap((s) => s.params),
      ],
      'all',
    );
  }
}
