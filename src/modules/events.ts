/**
 * The events the trading modules publish through the outbox: topics, and payloads in the shape GraphQL returns
 * (decimals as strings, times as ISO 8601), so a subscriber or a replay needs no database read to show them.
 */
import type { NewEvent } from '../platform/outbox';
import { toIsoUtc } from '../platform/time';
import type { BarRow } from './market-data/market-data.repository';
import type { OrderRow, TradeRow } from './orders/orders.repository';
import type { PositionRow } from './positions/positions.repository';

/** The shapes events are built from: repository rows, or entities with the same fields (whose nullables may be undefined). */
type Loose<T> = { [K in keyof T]: null extends T[K] ? T[K] | undefined : T[K] };
type OrderLike = Loose<Omit<OrderRow, 'status' | 'cursorTs'>> & { status: string };
export type TradeLike = Loose<Omit<TradeRow, 'cursorTs'>>;
export type PositionLike = PositionRow;
export type BarLike = BarRow;

export const TOPIC = {
  trade: 'TRADE_EXECUTED',
  order: 'ORDER_UPDATED',
  position: 'POSITION_UPDATED',
  bars: 'MARKET_DATA_UPDATED',
} as const;

export type OrderEventType = 'SUBMITTED' | 'AMENDED' | 'CANCELED' | 'PARTIALLY_FILLED' | 'FILLED' | 'EXPIRED';

export function orderPayload(o: OrderLike) {
  return {
    orderId: o.orderId, clientOrderId: o.clientOrderId, accountId: o.accountId, symbol: o.symbol, side: o.side, type: o.type,
    timeInForce: o.timeInForce, quantity: o.quantity, limitPrice: o.limitPrice ?? null, stopPrice: o.stopPrice ?? null,
    filledQuantity: o.filledQuantity, averageFillPrice: o.averageFillPrice ?? null, status: o.status, strategy: o.strategy ?? null,
    version: o.version, createdAt: toIsoUtc(o.createdAt), updatedAt: toIsoUtc(o.updatedAt),
  };
}

export function orderEvent(type: OrderEventType, order: OrderLike): NewEvent {
  return { topic: TOPIC.order, accountId: order.accountId, symbol: order.symbol, payload: { type, order: orderPayload(order) } };
}

export function positionPayload(p: PositionLike) {
  return { accountId: p.accountId, symbol: p.symbol, quantity: p.quantity, averagePrice: p.averagePrice, realizedPnl: p.realizedPnl,
    version: p.version, lastUpdated: toIsoUtc(p.lastUpdated) };
}

/** A fill, with what it did to the position (the analytics synchronizer needs both). */
export interface TradeEventPayload {
  trade: ReturnType<typeof tradePayload>;
  position: ReturnType<typeof positionPayload>;
  realizedDelta: string;
}

export function tradePayload(t: TradeLike) {
  return { tradeId: String(t.tradeId), orderId: t.orderId, accountId: t.accountId, symbol: t.symbol, side: t.side, quantity: t.quantity,
    price: t.price, executedAt: toIsoUtc(t.executedAt), strategy: t.strategy ?? null };
}

export function tradeEvents(trade: TradeLike, position: PositionLike, realizedDelta: string): NewEvent[] {
  const payload: TradeEventPayload = { trade: tradePayload(trade), position: positionPayload(position), realizedDelta };
  return [
    { topic: TOPIC.trade, accountId: trade.accountId, symbol: trade.symbol, payload },
    { topic: TOPIC.position, accountId: position.accountId, symbol: position.symbol, payload: { position: payload.position } },
  ];
}

/**
 * The bars of one symbol from one ingestion, oldest first, one comma-separated text per column (decimal and ISO 8601
 * texts hold no comma). The outbox stores the payload, the relay reads it back and publishes it, every gateway
 * parses it: six long strings cost a fraction of 6,000 short ones, or of a list of bar objects, at each of these steps.
 */
export type BarColumns = Omit<BarLike, 'symbol'>;

/** A market-data event's payload: columns; events written before them carry a list of bars. */
export type BarsPayload = { columns: BarColumns } | { bars: BarLike[] };

const COLUMNS = ['timestamp', 'open', 'high', 'low', 'close', 'volume'] as const;

/** One event per symbol of an ingested batch (symbols in the order they first appear), its bars oldest first. */
export function barEvents(bars: BarLike[]): NewEvent[] {
  const bySymbol = new Map<string, BarLike[]>();
  for (const bar of bars) {
    const list = bySymbol.get(bar.symbol);
    if (list) list.push(bar);
    else bySymbol.set(bar.symbol, [bar]);
  }
  return [...bySymbol].map(([symbol, list]) => {
    const sorted = oldestFirst(list);
    const columns = Object.fromEntries(COLUMNS.map((c) => [c, sorted.map((bar) => bar[c]).join(',')])) as unknown as BarColumns;
    const payload: BarsPayload = { columns };
    return { topic: TOPIC.bars, symbol, payload };
  });
}

/**
 * Bars of one symbol by time. They usually come in order: then nothing is sorted, and the ISO texts of years
 * 0000-9999 (24 characters) compare as their times, without parsing them.
 */
function oldestFirst(list: BarLike[]): BarLike[] {
  const ordered = list.every((b, i) => b.timestamp.length === 24 && (i === 0 || list[i - 1].timestamp < b.timestamp));
  if (ordered) return list;
  return list.map((bar) => ({ bar, t: Date.parse(bar.timestamp) })).sort((a, b) => a.t - b.t).map((x) => x.bar);
}

/** The columns split into values, once per payload: every subscriber of a symbol reads the same event object. */
const splitColumns = new WeakMap<BarColumns, string[][]>();
function valuesOf(columns: BarColumns): string[][] {
  let values = splitColumns.get(columns);
  if (!values) splitColumns.set(columns, (values = COLUMNS.map((c) => (columns[c] === '' ? [] : columns[c].split(',')))));
  return values;
}

/** How many bars a market-data event carries. */
export function barCount(payload: BarsPayload): number {
  return 'columns' in payload ? valuesOf(payload.columns)[0].length : payload.bars.length;
}

/** The i-th bar (oldest first) of a market-data event of `symbol`, in the shape GraphQL returns. */
export function barAt(symbol: string, payload: BarsPayload, i: number): BarLike {
  if (!('columns' in payload)) return payload.bars[i];
  const [timestamp, open, high, low, close, volume] = valuesOf(payload.columns);
  return { symbol, timestamp: timestamp[i], open: open[i], high: high[i], low: low[i], close: close[i], volume: volume[i] };
}

/** Every bar of a market-data event, oldest first. */
export function eventBars(event: { symbol: string | null; payload: BarsPayload }): BarLike[] {
  return Array.from({ length: barCount(event.payload) }, (_, i) => barAt(event.symbol!, event.payload, i));
}
