/**
 * The paper venue's fill rules (pure): given a working order and a bar, what fills, at what price, and what happens
 * to the rest. Decimal strings in and out, arithmetic in Decimal; nothing here reads a clock or a database.
 *
 * - On arrival an order meets the latest bar's close: MARKET fills there; LIMIT fills there when the close is at or
 *   better than the limit; STOP / STOP_LIMIT trigger when the close is at or through the stop, then act as MARKET /
 *   LIMIT. With no bar yet, nothing fills.
 * - A working order meets each later bar: MARKET at the open; a LIMIT buy fills when the low reaches the limit, at
 *   the limit or the open if the bar opened below it (sells: the high, the limit or a higher open). A stop triggers
 *   when the bar trades at or through it, at the stop or the open if it gapped through: a STOP fills at that price; a
 *   STOP_LIMIT fills there only if that price satisfies its limit, else it works as a LIMIT from the next bar on.
 * - One bar offers its volume: a fill takes at most the bar's volume (each order on its own; volume 0 fills nothing).
 *   IOC fills what it can and expires the rest; FOK fills everything or nothing and expires; DAY and GTC keep working.
 */
import { Decimal, decimalText } from '../../platform/decimal';
import type { OrderSide, OrderType, TimeInForce } from '../orders/order-lifecycle';

export interface WorkingOrder {
  side: OrderSide;
  type: OrderType;
  timeInForce: TimeInForce;
  quantity: string;
  filledQuantity: string;
  limitPrice: string | null;
  stopPrice: string | null;
  /** a STOP / STOP_LIMIT whose stop has traded (a triggered STOP_LIMIT works as a LIMIT) */
  triggered: boolean;
}

export interface Quote {
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
}

export interface Decision {
  /** what to execute now, if anything */
  fill: { quantity: string; price: string } | null;
  /** the stop state after this bar */
  triggered: boolean;
  /** the rest of the order expires now (IOC, FOK) */
  expire: boolean;
}

const d = (text: string) => new Decimal(text);
const isStop = (type: OrderType) => type === 'STOP' || type === 'STOP_LIMIT';
const isImmediate = (tif: TimeInForce) => tif === 'IOC' || tif === 'FOK';

/** An order as it arrives, against the latest bar (null: the symbol has no bar yet). */
export function onArrival(order: WorkingOrder, latest: Quote | null): Decision {
  if (!latest) return { fill: null, triggered: order.triggered, expire: isImmediate(order.timeInForce) };
  const close = d(latest.close);
  let triggered = order.triggered;
  if (isStop(order.type) && !triggered) triggered = order.side === 'BUY' ? close.gte(d(order.stopPrice!)) : close.lte(d(order.stopPrice!));
  let price: Decimal | null = null;
  if (order.type === 'MARKET' || (order.type === 'STOP' && triggered)) price = close;
  else if (order.type === 'LIMIT' || (order.type === 'STOP_LIMIT' && triggered)) price = satisfiesLimit(order, close) ? close : null;
  return settle(order, price, latest.volume, triggered);
}

/** A working order against a bar that arrived after it. */
export function onBar(order: WorkingOrder, bar: Quote): Decision {
  const open = d(bar.open);
  if (isStop(order.type) && !order.triggered) {
    const stop = d(order.stopPrice!);
    const reached = order.side === 'BUY' ? d(bar.high).gte(stop) : d(bar.low).lte(stop);
    if (!reached) return settle(order, null, bar.volume, false);
    // Triggered inside this bar: at the stop, or at the open when the bar opened through it.
    const at = order.side === 'BUY' ? Decimal.max(open, stop) : Decimal.min(open, stop);
    // The path after the trigger inside the bar is unknown: a stop-limit fills in this bar only at the trigger price.
    const price = order.type === 'STOP' || satisfiesLimit(order, at) ? at : null;
    return settle(order, price, bar.volume, true);
  }
  if (order.type === 'MARKET' || order.type === 'STOP') return settle(order, open, bar.volume, order.triggered);
  const limit = d(order.limitPrice!);
  const reached = order.side === 'BUY' ? d(bar.low).lte(limit) : d(bar.high).gte(limit);
  if (!reached) return settle(order, null, bar.volume, order.triggered);
  // At the limit, or better when the bar opened through it.
  const price = order.side === 'BUY' ? Decimal.min(open, limit) : Decimal.max(open, limit);
  return settle(order, price, bar.volume, order.triggered);
}

function satisfiesLimit(order: WorkingOrder, price: Decimal): boolean {
  const limit = d(order.limitPrice!);
  return order.side === 'BUY' ? price.lte(limit) : price.gte(limit);
}

/** The quantity the bar's volume allows, FOK's all-or-nothing, and whether the rest expires. */
function settle(order: WorkingOrder, price: Decimal | null, volume: string, triggered: boolean): Decision {
  const remaining = d(order.quantity).minus(d(order.filledQuantity));
  let quantity = price ? Decimal.min(remaining, d(volume)) : new Decimal(0);
  if (order.timeInForce === 'FOK' && quantity.lt(remaining)) quantity = new Decimal(0);
  const fill = price && quantity.gt(0) ? { quantity: decimalText(quantity), price: decimalText(price) } : null;
  const expire = isImmediate(order.timeInForce) && remaining.minus(quantity).gt(0);
  return { fill, triggered, expire };
}

/** What is left of an order after a fill (the caller's copy, until it reads the order again). */
export function afterFill(order: WorkingOrder, decision: Decision): WorkingOrder {
  const filled = decision.fill ? decimalText(d(order.filledQuantity).plus(d(decision.fill.quantity))) : order.filledQuantity;
  return { ...order, filledQuantity: filled, triggered: decision.triggered };
}

export function isDone(order: WorkingOrder): boolean {
  return d(order.filledQuantity).gte(d(order.quantity));
}
