/**
 * Orders and fills: idempotent submission, optimistic-locked cancel and amend, and fills that move the order and the
 * position in one transaction.
 */
import { randomUUID } from 'node:crypto';
import { LockMode, OptimisticLockError } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Scope } from '../../platform/scope';
import { ConflictError, NotFoundError, ValidationError } from '../../platform/errors';
import { categorize } from '../../platform/db-errors';
import { inTransaction } from '../../platform/transaction';
import { inSqlTransaction } from '../../platform/sql-transaction';
import { eventsInsert } from '../../platform/outbox';
import { auditInsert, writeAudit, writeEventsAndAudit } from '../../platform/audit';
import { orderEvent, tradeEvents, type OrderEventType } from '../events';
import { decodeCursor, encodeCursor, isDigits, isUuid, pageSize, toConnection, type Connection } from '../../platform/pagination';
import { validateAccountId } from '../accounts/account-rules';
import type { PositionsService } from '../positions/positions.service';
import {
  assertCancelable, isTerminal, planAmend, planFill, samePayload, validateSubmitOrder, validateSymbol,
  type NewOrder, type OrderSide, type OrderStatus, type SubmitOrderInput,
} from './order-lifecycle';
import { OrderEntity, type Order } from './order.entity';
import { insertedOrder, withInsertedTimes, OrdersRepository, type Keyset, type NewTrade, type OrderFilter, type OrderRow, type TradeFilter, type TradeRow } from './orders.repository';

export interface ExecuteTradeInput {
  orderId: string;
  quantity?: string | null;
  price: string;
  executedAt?: Date | null;
}

export interface AmendInput {
  orderId: string;
  expectedVersion: number;
  quantity?: string | null;
  limitPrice?: string | null;
  stopPrice?: string | null;
}

export class OrdersService {
  constructor(private readonly positions: PositionsService, private readonly repo = new OrdersRepository()) {}

  // ---- reads ------------------------------------------------------------------------------------------------------

  async orders(scope: Scope, filter: OrderFilter & { first?: number | null; after?: string | null }): Promise<Connection<OrderRow>> {
    if (filter.accountId) validateAccountId(filter.accountId);
    if (filter.symbol) validateSymbol('symbol', filter.symbol);
    const size = pageSize(filter.first);
    const rows = await this.repo.listOrders(scope.reads, filter, orderKeyset(filter.after), size + 1);
    return toConnection(rows, size, orderCursor);
  }

  /** Account.orders for many accounts at once; one page per account. */
  async ordersOfAccounts(scope: Scope, accountIds: readonly string[], args: { first?: number | null; after?: string | null; status?: OrderStatus[] | null }): Promise<Map<string, Connection<OrderRow>>> {
    const size = pageSize(args.first);
    const rows = await this.repo.ordersOfAccounts(scope.reads, accountIds, args.status ?? null, orderKeyset(args.after), size + 1);
    const byAccount = groupBy(rows, (r) => r.accountId);
    return new Map(accountIds.map((id) => [id, toConnection(byAccount.get(id) ?? [], size, orderCursor)]));
  }

  async order(scope: Scope, orderId: string): Promise<OrderRow | null> {
    if (!isUuid(orderId)) return null;
    return (await this.repo.ordersByIds(scope.reads, [orderId]))[0] ?? null;
  }

  async ordersByIds(scope: Scope, orderIds: readonly string[]): Promise<Map<string, OrderRow>> {
    const valid = uuidsOf(orderIds);
    const rows = valid.length ? await this.repo.ordersByIds(scope.reads, valid) : [];
    return new Map(rows.map((r) => [r.orderId, r]));
  }

  /**
   * The account an order belongs to, for the access check that runs before the request's work: read on the primary
   * as the owner (row-level security would hide another account's order, and the check must tell it apart).
   */
  async accountOfOrder(scope: Scope, orderId: string): Promise<string | null> {
    if (!isUuid(orderId)) return null;
    const rows = await scope.db.read<{ accountId: string }>('select account_id as "accountId" from execution.orders where order_id = ?', [orderId], 'primary');
    return rows[0]?.accountId ?? null;
  }

  async orderByClientOrderId(scope: Scope, accountId: string, clientOrderId: string): Promise<OrderRow | null> {
    validateAccountId(accountId);
    return this.repo.orderByClientOrderId(scope.reads, accountId, clientOrderId);
  }

  async trades(scope: Scope, filter: TradeFilter & { first?: number | null; after?: string | null }): Promise<Connection<TradeRow>> {
    if (filter.accountId) validateAccountId(filter.accountId);
    if (filter.symbol) validateSymbol('symbol', filter.symbol);
    if (filter.fromMs != null && filter.toMs != null && filter.fromMs >= filter.toMs) throw ValidationError.field('to', 'must be after from');
    const size = pageSize(filter.first);
    const after = decodeCursor(filter.after, 2, ([ts, id]) => isDigits(ts) && isDigits(id)) as Keyset;
    const rows = await this.repo.listTrades(scope.reads, filter, after, size + 1);
    return toConnection(rows, size, (r) => encodeCursor([r.cursorTs!, r.tradeId]));
  }

  async tradesOfOrders(scope: Scope, orderIds: readonly string[]): Promise<Map<string, TradeRow[]>> {
    const valid = uuidsOf(orderIds);
    const rows = valid.length ? await this.repo.tradesOfOrders(scope.reads, valid) : [];
    return groupBy(rows, (r) => r.orderId);
  }

  // ---- writes -----------------------------------------------------------------------------------------------------

  /**
   * Idempotent on (accountId, clientOrderId): INSERT ... ON CONFLICT DO NOTHING lets exactly one of any number of
   * concurrent submissions insert; the others wait for it to commit, find its row, and return it when the payload
   * matches (CONFLICT when it differs). The insert travels with its COMMIT, so a new order is one round trip; a
   * replay, which inserted nothing, is answered by a second transaction.
   */
  async submit(scope: Scope, raw: SubmitOrderInput): Promise<OrderRow> {
    const input = validateSubmitOrder(raw);
    try {
      const created = await inSqlTransaction(scope.db, (tx) => {
        // One statement: the insert, and only if it inserted, its event and audit row.
        const orderId = randomUUID();
        return this.repo.insertOrderIfNew(tx.committing(), orderId, input, [
          eventsInsert([orderEvent('SUBMITTED', insertedOrder(orderId, input))], withInsertedTimes),
          auditInsert(scope.access, { operation: 'submitOrder', table: 'execution.orders', recordIds: [orderId], result: 'ok' }, 'where exists (select from o)'),
        ]);
      }, { access: scope.access });
      const order = created ?? (await this.replay(scope, input));
      scope.reads.preferPrimary();
      if (created) scope.outbox.wake();
      return order;
    } catch (error) {
      if (categorize(error) === 'foreign-key') throw new NotFoundError('account', input.accountId);
      throw error;
    }
  }

  /** A submission whose (accountId, clientOrderId) is taken: the order, when the payload is the same, audited as a replay. */
  private replay(scope: Scope, input: NewOrder): Promise<OrderRow> {
    return inSqlTransaction(scope.db, async (tx) => {
      const existing = await this.repo.lockedOrderByClientOrderId(tx, input.accountId, input.clientOrderId);
      if (!existing) throw new ConflictError('the order was removed concurrently; retry');
      if (!samePayload(existing, input)) {
        throw new ConflictError(`clientOrderId ${input.clientOrderId} was already used for a different order`, {
          orderId: existing.orderId,
          clientOrderId: input.clientOrderId,
        });
      }
      await writeAudit(tx, scope.access, {
        operation: 'submitOrder', table: 'execution.orders', recordIds: [existing.orderId], result: 'ok', details: { replayed: true },
      });
      return existing;
    }, { access: scope.access });
  }

  async cancel(scope: Scope, orderId: string, expectedVersion?: number | null): Promise<Order> {
    return this.changeOrder(scope, 'cancelOrder', orderId, expectedVersion, (order) => {
      assertCancelable(asState(order));
      order.status = 'CANCELED';
      return 'CANCELED';
    });
  }

  /**
   * Ends a working order whose time in force ran out: the paper venue's IOC / FOK remainder, DAY orders at the session
   * close. The row is locked (FOR UPDATE) as a fill locks it, so an expiry and a fill of one order queue, never race.
   */
  async expire(scope: Scope, orderId: string): Promise<Order> {
    if (!isUuid(orderId)) throw new NotFoundError('order', orderId);
    const order = await inTransaction(scope.db.em(), async (tx) => {
      const order = await tx.findOne(OrderEntity, { orderId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!order) throw new NotFoundError('order', orderId);
      if (isTerminal(order.status as OrderStatus)) throw new ValidationError(`order is already ${order.status} and cannot expire`);
      order.status = 'EXPIRED';
      await tx.flush();
      await writeEventsAndAudit(tx, [orderEvent('EXPIRED', order)], scope.access, { operation: 'expireOrder', table: 'execution.orders', recordIds: [orderId], result: 'ok' });
      return order;
    }, { access: scope.access });
    scope.reads.preferPrimary();
    scope.outbox.wake();
    return order;
  }

  async amend(scope: Scope, input: AmendInput): Promise<Order> {
    return this.changeOrder(scope, 'amendOrder', input.orderId, input.expectedVersion, (order) => {
      const plan = planAmend(asState(order), input);
      order.quantity = plan.quantity;
      order.limitPrice = plan.limitPrice;
      order.stopPrice = plan.stopPrice;
      order.status = plan.status;
      return 'AMENDED';
    });
  }

  /**
   * Cancels every open order of an account (of one symbol if given) with one set-based UPDATE: it waits for rows that
   * concurrent fills hold and re-checks their status afterwards (READ COMMITTED), so an order filled meanwhile is left
   * alone, and each canceled order's version moves on as any other change would.
   */
  async cancelAll(scope: Scope, accountId: string, symbol?: string | null): Promise<OrderRow[]> {
    validateAccountId(accountId);
    if (symbol) validateSymbol('symbol', symbol);
    const orders = await inTransaction(scope.db.em(), async (tx) => {
      const exists = await tx.execute('select 1 from execution.accounts where account_id = ?', [accountId], 'all');
      if (!exists.length) throw new NotFoundError('account', accountId);
      const canceled = await this.repo.cancelOpenOrders(tx, accountId, symbol ?? null);
      await writeEventsAndAudit(tx, canceled.map((o) => orderEvent('CANCELED', o)), scope.access, {
        operation: 'cancelAllOrders', table: 'execution.orders', recordIds: canceled.map((o) => o.orderId), result: 'ok', details: { accountId, symbol: symbol ?? null },
      });
      return canceled;
    }, { access: scope.access });
    scope.reads.preferPrimary();
    if (orders.length) scope.outbox.wake();
    return orders;
  }

  /**
   * Records a fill in one transaction: the trade, the order's filled quantity / average price / status, and the
   * position. The order row is locked (FOR UPDATE) for the duration: concurrent fills of one order queue on it instead
   * of failing a version check, and each sees the previous fill's result, so 50 fills at once equal 50 in a row.
   * Two statements: the locks (order, then position, then the trade id), then every write at once with the COMMIT
   * in the same round trip. A hot position stays locked from the first statement to the end of the second: one
   * round trip back here, the decimal math, and the second statement, with no COMMIT round trip after it.
   */
  async executeTrade(scope: Scope, input: ExecuteTradeInput): Promise<NewTrade> {
    if (!isUuid(input.orderId)) throw new NotFoundError('order', input.orderId);
    const trade = await inSqlTransaction(scope.db, async (tx) => {
      const locked = await this.repo.lockForFill(tx, input.orderId);
      if (!locked) throw new NotFoundError('order', input.orderId);
      const { order } = locked;
      const plan = planFill(asState(order), { quantity: input.quantity, price: input.price });
      const { position: current, tradeId } = locked.position
        ? { position: locked.position, tradeId: locked.tradeId! }
        : await this.repo.lockNewPosition(tx, order.accountId, order.symbol);
      const now = new Date();
      const position = this.positions.applyFill(order.accountId, order.symbol, current, { side: order.side as OrderSide, quantity: plan.quantity, price: plan.price }, now);
      const fill: NewTrade = {
        tradeId, orderId: order.orderId, accountId: order.accountId, symbol: order.symbol, side: order.side,
        quantity: plan.quantity, price: plan.price, executedAt: input.executedAt ?? now, strategy: order.strategy, createdAt: now,
      };
      // The order as its event shows it: unchanged columns as stored, created_at to the millisecond (as it always was).
      const filled = {
        ...order, createdAt: new Date(order.createdAt), filledQuantity: plan.filledQuantity, averageFillPrice: plan.averageFillPrice,
        status: plan.status, version: order.version + 1, updatedAt: now,
      };
      await this.repo.writeFill(tx.committing(), {
        trade: fill,
        order: { orderId: order.orderId, readVersion: order.version, filledQuantity: plan.filledQuantity, filledNotional: plan.filledNotional,
          averageFillPrice: plan.averageFillPrice, status: plan.status, updatedAt: now },
        position: { accountId: order.accountId, symbol: order.symbol, readVersion: current.version, quantity: position.quantity,
          averagePrice: position.averagePrice, realizedPnl: position.realizedPnl, lastUpdated: now },
        also: [
          eventsInsert([...tradeEvents(fill, position, position.realizedDelta), orderEvent(plan.status as 'FILLED' | 'PARTIALLY_FILLED', filled)]),
          auditInsert(scope.access, { operation: 'executeTrade', table: 'execution.trades', recordIds: [tradeId], result: 'ok', details: { orderId: order.orderId } }),
        ],
      });
      return fill;
    }, { access: scope.access });
    scope.reads.preferPrimary();
    scope.outbox.wake();
    return trade;
  }

  /**
   * Loads an order, checks the client's expected version, applies a change and flushes with the version check
   * (UPDATE ... WHERE version = <read>). A lost race is CONFLICT with the current version, never an overwrite.
   */
  private async changeOrder(scope: Scope, operation: string, orderId: string, expectedVersion: number | null | undefined, change: (order: Order) => OrderEventType): Promise<Order> {
    if (!isUuid(orderId)) throw new NotFoundError('order', orderId);
    try {
      const order = await inTransaction(scope.db.em(), async (tx: EntityManager) => {
        const order = await tx.findOne(OrderEntity, { orderId });
        if (!order) throw new NotFoundError('order', orderId);
        if (expectedVersion != null && order.version !== expectedVersion) throw staleVersion(orderId, order.version, expectedVersion);
        const type = change(order);
        await tx.flush();
        await writeEventsAndAudit(tx, [orderEvent(type, order)], scope.access,
          { operation, table: 'execution.orders', recordIds: [orderId], result: 'ok', details: { version: order.version } });
        return order;
      }, { access: scope.access });
      scope.reads.preferPrimary();
      scope.outbox.wake();
      return order;
    } catch (error) {
      if (!(error instanceof OptimisticLockError)) throw error;
      const current = await scope.db.read<{ version: number; status: string }>(
        'select version, status from execution.orders where order_id = ?', [orderId], 'primary',
      );
      throw staleVersion(orderId, current[0]?.version ?? null, expectedVersion ?? null);
    }
  }
}

function staleVersion(orderId: string, currentVersion: number | null, expectedVersion: number | null): ConflictError {
  return new ConflictError(`order ${orderId} was changed concurrently: current version is ${currentVersion}`, {
    orderId,
    currentVersion,
    expectedVersion,
  });
}

function asState(order: Pick<Order, 'status' | 'type' | 'quantity' | 'filledQuantity' | 'filledNotional' | 'limitPrice' | 'stopPrice'>) {
  return {
    status: order.status as OrderStatus,
    type: order.type as 'MARKET' | 'LIMIT' | 'STOP' | 'STOP_LIMIT',
    quantity: order.quantity,
    filledQuantity: order.filledQuantity,
    filledNotional: order.filledNotional,
    limitPrice: order.limitPrice ?? null,
    stopPrice: order.stopPrice ?? null,
  };
}

function orderKeyset(after: string | null | undefined): Keyset {
  return decodeCursor(after, 2, ([ts, id]) => isDigits(ts) && isUuid(id)) as Keyset;
}

function orderCursor(row: OrderRow): string {
  return encodeCursor([row.cursorTs!, row.orderId]);
}

/**
 * Rows by key, in the order they come. The batched reads return each key's rows together (ordered by it): each such
 * run becomes one slice of its exact size rather than an array grown row by row.
 */
function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (let start = 0, end = 1; start < rows.length; start = end++) {
    const k = key(rows[start]);
    while (end < rows.length && key(rows[end]) === k) end++;
    const list = map.get(k);
    if (!list) map.set(k, rows.slice(start, end));
    else for (let i = start; i < end; i++) list.push(rows[i]);
  }
  return map;
}

/** The ids that can be order ids; the list itself when all are (the usual case: ids from our own rows). */
function uuidsOf(ids: readonly string[]): readonly string[] {
  return ids.every(isUuid) ? ids : ids.filter(isUuid);
}

