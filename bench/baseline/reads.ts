/**
 * The read side of the "limit" baseline: the gateway's SQL (copied from src/modules/<module>/<module>.repository.ts, with `$n`
 * placeholders), run through `pg`, shaped into the same JSON the gateway returns for the bench's queries
 * (bench/suite/queries.ts). The suite checks that both answer alike before measuring.
 */
import type { Pool } from 'pg';
import DecimalJs from 'decimal.js';

/** Counts statements sent; the server reports it on GET /stats. */
export const counters = { statements: 0 };

async function all<T>(pool: Pool, sql: string, params: unknown[]): Promise<T[]> {
  counters.statements++;
  return (await pool.query(sql, params)).rows as T[];
}

// ---- the gateway's serialisation: Decimal and DateTime scalars, cursors ------------------------------------------

/** decimalText: no exponent, no trailing zeros. */
export function dec(text: string | null): string | null {
  if (text === null) return null;
  if (!text.includes('.')) return text === '-0' ? '0' : text;
  const trimmed = text.replace(/0+$/, '').replace(/\.$/, '');
  return trimmed === '-0' ? '0' : trimmed;
}

const PG_UTC = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(\.\d+)?)\+00$/;
/** toIsoUtc of PostgreSQL's timestamptz text in a UTC session. */
export function iso(text: string | Date): string {
  if (text instanceof Date) return text.toISOString();
  const m = PG_UTC.exec(text);
  return m ? `${m[1]}T${m[2]}Z` : new Date(text).toISOString();
}

const cursor = (parts: string[]) => Buffer.from(parts.join('|'), 'utf8').toString('base64url');
const msOf = (text: string) => Date.parse(iso(text));

// ---- marketData ------------------------------------------------------------------------------------------------

const TIMEFRAMES: Record<string, { interval: string; ms: number }> = {
  M1: { interval: '1 minute', ms: 60_000 },
  M5: { interval: '5 minutes', ms: 300_000 },
  M15: { interval: '15 minutes', ms: 900_000 },
  H1: { interval: '1 hour', ms: 3_600_000 },
  D1: { interval: '1 day', ms: 86_400_000 },
};

interface BarRow { symbol: string; timestamp: string; open: string; high: string; low: string; close: string; volume: string }

const MINUTE_BARS = `select symbol, "timestamp", open, high, low, close, volume from data_ingestion.market_data
  where symbol = $1 and "timestamp" >= $2 and "timestamp" < $3 order by "timestamp" limit $4`;
const AGGREGATED_BARS = `select symbol, date_bin($1::interval, "timestamp", timestamptz 'epoch') as "timestamp",
  (array_agg(open order by "timestamp"))[1] as open, max(high) as high, min(low) as low,
  (array_agg(close order by "timestamp" desc))[1] as close, sum(volume) as volume
  from data_ingestion.market_data
  where symbol = $2 and "timestamp" >= $3 and "timestamp" < $4
  group by symbol, 2 order by 2 limit $5`;
const NEXT_BAR_TIME = `select (extract(epoch from "timestamp") * 1000)::bigint as ms from data_ingestion.market_data
  where symbol = $1 and "timestamp" >= $2 and "timestamp" < $3 order by "timestamp" limit 1`;

/** marketData(symbol, from, to, timeframe, first): MarketDataService.bars with `from` and `to` given. */
export async function marketData(pool: Pool, v: { symbol: string; from: string; to: string; timeframe?: string; first?: number }) {
  const timeframe = v.timeframe ?? 'M1';
  const size = v.first ?? 100;
  const fromMs = Date.parse(v.from);
  const toMs = Date.parse(v.to);
  let rows: BarRow[];
  if (timeframe === 'M1') {
    rows = await all<BarRow>(pool, MINUTE_BARS, [v.symbol, new Date(fromMs), new Date(toMs), size + 1]);
  } else {
    // the gateway's window loop: a window spans the buckets still wanted; a gap is skipped with one probe
    const width = TIMEFRAMES[timeframe].ms;
    const want = size + 1;
    rows = [];
    let start = fromMs;
    for (let i = 0; i < 64 && rows.length < want && start < toMs; i++) {
      const windowEnd = Math.min(toMs, Math.floor(start / width) * width + (want - rows.length) * width);
      rows.push(...(await all<BarRow>(pool, AGGREGATED_BARS, [TIMEFRAMES[timeframe].interval, v.symbol, new Date(start), new Date(windowEnd), want - rows.length])));
      if (rows.length >= want || windowEnd >= toMs) break;
      const [next] = await all<{ ms: string }>(pool, NEXT_BAR_TIME, [v.symbol, new Date(windowEnd), new Date(toMs)]);
      if (!next) break;
      start = Math.floor(Number(next.ms) / width) * width;
    }
  }
  const page = rows.length > size ? rows.slice(0, size) : rows;
  const edges = page.map((r) => ({
    cursor: cursor([String(msOf(r.timestamp))]),
    node: { symbol: r.symbol, timestamp: iso(r.timestamp), open: dec(r.open), high: dec(r.high), low: dec(r.low), close: dec(r.close), volume: dec(r.volume) },
  }));
  return { data: { marketData: { edges, pageInfo: { hasNextPage: rows.length > size, endCursor: edges.length ? edges[edges.length - 1].cursor : null } } } };
}

// ---- orders with trades and account ------------------------------------------------------------------------------

const LIST_ORDERS = `select o.order_id as "orderId", o.client_order_id as "clientOrderId", o.account_id as "accountId",
  o.symbol, o.side, o.type, o.time_in_force as "timeInForce", o.quantity, o.limit_price as "limitPrice",
  o.stop_price as "stopPrice", o.filled_quantity as "filledQuantity", o.average_fill_price as "averageFillPrice",
  o.status, o.strategy, o.version, o.created_at as "createdAt", o.updated_at as "updatedAt",
  (extract(epoch from o.created_at) * 1000000)::bigint::text as "cursorTs"
  from execution.orders o order by o.created_at desc, o.order_id desc limit $1`;
const TRADES_OF_ORDERS = `select t.trade_id::text as "tradeId", t.order_id as "orderId", t.account_id as "accountId", t.symbol,
  t.side, t.quantity, t.price, t.executed_at as "executedAt", t.strategy,
  (extract(epoch from t.executed_at) * 1000000)::bigint::text as "cursorTs"
  from execution.trades t where t.order_id = any($1::uuid[]) order by t.order_id, t.trade_id`;
const ACCOUNTS_BY_IDS = `select account_id as "accountId", name, created_at as "createdAt" from execution.accounts where account_id = any($1::text[])`;

/** orders(first) { ... trades { ... } account { ... } }: the list, then both batches at once (as the DataLoaders do). */
export async function orders(pool: Pool, v: { first?: number }) {
  const size = v.first ?? 100;
  const rows = await all<any>(pool, LIST_ORDERS, [size + 1]);
  const page = rows.length > size ? rows.slice(0, size) : rows;
  const ids = page.map((o) => o.orderId);
  const accountIds = [...new Set(page.map((o) => o.accountId as string))];
  const [trades, accounts] = await Promise.all([
    ids.length ? all<any>(pool, TRADES_OF_ORDERS, [ids]) : Promise.resolve([]),
    accountIds.length ? all<any>(pool, ACCOUNTS_BY_IDS, [accountIds]) : Promise.resolve([]),
  ]);
  const tradesOf = new Map<string, any[]>();
  for (const t of trades) {
    const list = tradesOf.get(t.orderId);
    if (list) list.push(t);
    else tradesOf.set(t.orderId, [t]);
  }
  const accountOf = new Map(accounts.map((a) => [a.accountId, a]));
  const edges = page.map((o) => ({
    cursor: cursor([o.cursorTs, o.orderId]),
    node: {
      orderId: o.orderId, clientOrderId: o.clientOrderId, accountId: o.accountId, symbol: o.symbol, side: o.side, type: o.type,
      status: o.status, quantity: dec(o.quantity), limitPrice: dec(o.limitPrice), filledQuantity: dec(o.filledQuantity),
      averageFillPrice: dec(o.averageFillPrice), createdAt: iso(o.createdAt),
      trades: (tradesOf.get(o.orderId) ?? []).map((t) => ({ tradeId: t.tradeId, quantity: dec(t.quantity), price: dec(t.price), executedAt: iso(t.executedAt) })),
      account: { accountId: o.accountId, name: accountOf.get(o.accountId)?.name },
    },
  }));
  return { data: { orders: { edges, pageInfo: { hasNextPage: rows.length > size, endCursor: edges.length ? edges[edges.length - 1].cursor : null } } } };
}

// ---- portfolioSummary --------------------------------------------------------------------------------------------

const POSITIONS_OF_ACCOUNTS = `select account_id as "accountId", symbol, quantity, average_price as "averagePrice", realized_pnl as "realizedPnl",
  version, last_updated as "lastUpdated"
  from execution.positions where account_id = any($1::text[]) order by account_id, symbol`;
const LATEST_CLOSES = `select s.symbol, b.close from unnest($1::text[]) as s(symbol)
  cross join lateral (select close from data_ingestion.market_data m where m.symbol = s.symbol order by "timestamp" desc limit 1) b`;

const Wide = DecimalJs.clone({ precision: 100, rounding: DecimalJs.ROUND_HALF_EVEN, toExpNeg: -100, toExpPos: 100 });
const round8 = (x: DecimalJs) => x.toDecimalPlaces(8, DecimalJs.ROUND_HALF_EVEN);

/** portfolioSummary(accountId): PositionsService.portfolio, the same two statements and the same exact arithmetic. */
export async function portfolio(pool: Pool, v: { accountId: string }) {
  const positions = await all<any>(pool, POSITIONS_OF_ACCOUNTS, [[v.accountId]]);
  const closes = positions.length
    ? new Map((await all<{ symbol: string; close: string }>(pool, LATEST_CLOSES, [positions.map((p) => p.symbol)])).map((r) => [r.symbol, r.close]))
    : new Map<string, string>();
  let mv = new Wide(0);
  let upnl = new Wide(0);
  let rpnl = new Wide(0);
  const lines = positions.map((p) => {
    const last = closes.get(p.symbol) ?? null;
    let marketValue: string | null = null;
    let unrealizedPnl: string | null = null;
    if (last !== null) {
      const held = new Wide(p.quantity);
      marketValue = dec(round8(held.times(last)).toFixed());
      unrealizedPnl = dec(round8(new Wide(last).minus(p.averagePrice).times(held)).toFixed());
    }
    mv = mv.plus(marketValue ?? 0);
    upnl = upnl.plus(unrealizedPnl ?? 0);
    rpnl = rpnl.plus(p.realizedPnl);
    return { symbol: p.symbol, quantity: dec(p.quantity), averagePrice: dec(p.averagePrice), lastPrice: dec(last), marketValue, unrealizedPnl, realizedPnl: dec(p.realizedPnl) };
  });
  return {
    data: {
      portfolioSummary: {
        accountId: v.accountId, positions: lines, totalMarketValue: dec(mv.toFixed()), totalUnrealizedPnl: dec(upnl.toFixed()),
        totalRealizedPnl: dec(rpnl.toFixed()), asOf: new Date().toISOString(),
      },
    },
  };
}
