/**
 * What the paper venue does with an arriving order or an arriving bar: reads the working orders, asks the fill rules,
 * and carries the decisions out through the orders service (executeTrade, expire), so events, positions, analytics
 * and audit follow exactly as for a fill reported from outside. Runs as the system: no request, no API key.
 *
 * Idempotent, so a bar or an order seen again after a crash changes nothing twice: a fill is stamped with its bar's
 * time and an order gets at most one fill per bar; an order that already has a fill has had its arrival.
 */
import { Decimal } from '../../platform/decimal';
import { AppError } from '../../platform/errors';
import type { Scope } from '../../platform/scope';
import { toIsoUtc } from '../../platform/time';
import type { BarRow } from '../market-data/market-data.repository';
import type { OrdersService } from '../orders/orders.service';
import { afterFill, isDone, onArrival, onBar, type Decision, type WorkingOrder } from './fill-rules';
import { fillKey, type VenueOrderRow, VenueRepository } from './venue.repository';

export interface VenueCounters {
  fills: number;
  expired: number;
}

const isStop = (type: string) => type === 'STOP' || type === 'STOP_LIMIT';
const isImmediate = (tif: string) => tif === 'IOC' || tif === 'FOK';

export class VenueBook {
  /** Stops that have traded, by order id; rebuilt from the bars after a restart (VenueRepository.stopTraded). */
  private readonly triggered = new Map<string, boolean>();

  constructor(
    private readonly scope: Scope,
    private readonly repo: VenueRepository,
    private readonly services: { orders: OrdersService },
    readonly counters: VenueCounters = { fills: 0, expired: 0 },
  ) {}

  /** A new order meets the latest bar stored before it; IOC and FOK end here whatever happens. */
  async arrive(orderId: string): Promise<void> {
    const row = await this.repo.openOrder(orderId);
    if (!row) return;
    if (new Decimal(row.filledQuantity).gt(0)) {
      // Its arrival was carried out before a restart: only the expiry of an IOC / FOK remainder may be left.
      if (isImmediate(row.timeInForce)) await this.expire(row.orderId);
      return;
    }
    if (isStop(row.type)) this.triggered.set(row.orderId, false);
    const latest = await this.repo.latestBarBefore(row.symbol, row.createdAt);
    const at = latest ? barTime(latest) : null;
    await this.attempt(row, (o) => onArrival(o, latest), at);
  }

  /** Bars of one symbol (oldest first) meet the orders accepted before they were ingested (`ingestedAt`), in priority order. */
  async bars(symbol: string, bars: BarRow[], ingestedAt: Date): Promise<void> {
    let orders = await this.repo.openOrdersOf(symbol, ingestedAt);
    if (!orders.length || !bars.length) return;
    const done = await this.repo.fillsAt(orders.map((o) => o.orderId), bars.map(barTime));
    for (const bar of bars) {
      const at = barTime(bar);
      const next: VenueOrderRow[] = [];
      for (const row of orders) {
        // Applied before a restart: the row read above already includes that fill.
        if (done.has(fillKey(row.orderId, at.getTime()))) {
          next.push(row);
          continue;
        }
        const after = await this.attempt(row, (o) => onBar(o, bar), at);
        if (after) next.push(after);
      }
      orders = next;
      if (!orders.length) return;
    }
  }

  /**
   * Working orders the venue never saw arrive (its first start on a database, or events pruned from the outbox while
   * it was down) meet the newest bar of their symbol now, as if they arrived now; in priority order.
   */
  async sweep(now = new Date()): Promise<number> {
    let swept = 0;
    for (const row of await this.repo.openOrders()) {
      const latest = await this.repo.latestBarBefore(row.symbol, now);
      const at = latest ? barTime(latest) : null;
      if (at && (await this.repo.fillsAt([row.orderId], [at])).size) continue;
      await this.attempt(row, (o) => onArrival(o, latest), at);
      swept++;
    }
    return swept;
  }

  /** Expires what is left of an order; an order that ended meanwhile is left as it is. */
  async expire(orderId: string): Promise<void> {
    try {
      await this.services.orders.expire(this.scope, orderId);
      this.counters.expired++;
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      this.scope.log.debug({ orderId, err: { message: error.message } }, 'order not expired: it ended meanwhile');
    } finally {
      this.triggered.delete(orderId);
    }
  }

  /**
   * Decides and carries out; when the order changed under us (canceled, amended: the service refuses with an
   * AppError) it is read again and decided once more. Returns the order as it now works, or null once it ended.
   */
  private async attempt(row: VenueOrderRow, decide: (o: WorkingOrder) => Decision, at: Date | null): Promise<VenueOrderRow | null> {
    for (let tries = 0; ; tries++) {
      const order = await this.working(row);
      const decision = decide(order);
      try {
        return await this.carryOut(row, order, decision, at);
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        const fresh = await this.repo.openOrder(row.orderId);
        if (!fresh || tries > 0) {
          if (fresh) this.scope.log.warn({ orderId: row.orderId, err: { message: error.message } }, 'paper venue could not fill an order; it keeps working');
          else this.triggered.delete(row.orderId);
          return fresh;
        }
        row = fresh;
      }
    }
  }

  private async carryOut(row: VenueOrderRow, order: WorkingOrder, decision: Decision, at: Date | null): Promise<VenueOrderRow | null> {
    if (isStop(row.type)) this.triggered.set(row.orderId, decision.triggered);
    let after = order;
    if (decision.fill && at) {
      await this.services.orders.executeTrade(this.scope, { orderId: row.orderId, quantity: decision.fill.quantity, price: decision.fill.price, executedAt: at });
      this.counters.fills++;
      after = afterFill(order, decision);
    }
    if (isDone(after)) {
      this.triggered.delete(row.orderId);
      return null;
    }
    if (decision.expire) {
      await this.expire(row.orderId);
      return null;
    }
    return { ...row, filledQuantity: after.filledQuantity };
  }

  private async working(row: VenueOrderRow): Promise<WorkingOrder> {
    return {
      side: row.side, type: row.type, timeInForce: row.timeInForce, quantity: row.quantity, filledQuantity: row.filledQuantity,
      limitPrice: row.limitPrice, stopPrice: row.stopPrice, triggered: await this.stopState(row),
    };
  }

  private async stopState(row: VenueOrderRow): Promise<boolean> {
    if (!isStop(row.type)) return false;
    const known = this.triggered.get(row.orderId);
    if (known !== undefined) return known;
    // A stop with a fill has triggered; otherwise ask the bars (the venue restarted and forgot).
    const traded = new Decimal(row.filledQuantity).gt(0) || (await this.repo.stopTraded(row));
    this.triggered.set(row.orderId, traded);
    return traded;
  }
}

/** A bar's minute, which also stamps the fills it causes. */
export function barTime(bar: Pick<BarRow, 'timestamp'>): Date {
  return new Date(toIsoUtc(bar.timestamp)!);
}
