/**
 * The write side of the "limit" baseline: submitOrder and executeTrade as the gateway performs them (the same rows
 * in execution.orders / trades / positions, and the same number of event rows, into bench.outbox so that no relay
 * publishes them), in two forms:
 * - `raw`: a `pg` transaction of one statement per step, the fill's average-cost math in SQL (7 round trips a fill);
 * - `fn`: one call of a plpgsql function (bench.submit_order / bench.execute_trade), one round trip.
 */
import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { counters, dec, iso } from './reads';
import { UPSERT_POSITION } from '../suite/bench-sql';

export interface SubmitInput { accountId: string; clientOrderId: string; symbol: string; side: string; type: string; timeInForce?: string; quantity: string; strategy?: string }
export interface FillInput { orderId: string; price: string; quantity?: string; executedAt?: string }

/** Thrown for a request the gateway would refuse (unknown order, order not open): HTTP 200 with `errors`. */
export class RequestError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

async function q<T = any>(client: PoolClient | Pool, sql: string, params: unknown[] = []): Promise<T[]> {
  counters.statements++;
  return (await client.query(sql, params)).rows as T[];
}

async function transaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await q(client, 'begin');
    const result = await work(client);
    await q(client, 'commit');
    return result;
  } catch (error) {
    await q(client, 'rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

const ORDER_COLUMNS = `o.order_id as "orderId", o.client_order_id as "clientOrderId", o.account_id as "accountId",
  o.symbol, o.side, o.type, o.time_in_force as "timeInForce", o.quantity, o.limit_price as "limitPrice",
  o.stop_price as "stopPrice", o.filled_quantity as "filledQuantity", o.filled_notional as "filledNotional",
  o.average_fill_price as "averageFillPrice", o.status, o.strategy, o.version, o.created_at as "createdAt", o.updated_at as "updatedAt"`;

const OUTBOX_INSERT = `insert into bench.outbox (event_id, topic, account_id, symbol, payload, created_at)
  select e.event_id, e.topic, e.account_id, e.symbol, e.payload, clock_timestamp() + e.ord * interval '1 microsecond'
  from rows from (jsonb_to_recordset($1::jsonb) as (event_id uuid, topic text, account_id text, symbol text, payload jsonb))
       with ordinality as e(event_id, topic, account_id, symbol, payload, ord)`;

function event(topic: string, accountId: string, symbol: string, payload: unknown) {
  return { event_id: randomUUID(), topic, account_id: accountId, symbol, payload };
}

function orderPayload(o: any) {
  return { ...o, filledNotional: undefined, quantity: dec(o.quantity), filledQuantity: dec(o.filledQuantity), averageFillPrice: dec(o.averageFillPrice),
    createdAt: iso(o.createdAt), updatedAt: iso(o.updatedAt) };
}

/** submitOrder as one transaction: the idempotent insert and its event (the existing order when the id was used). */
export async function rawSubmit(pool: Pool, i: SubmitInput) {
  const order = await transaction(pool, async (c) => {
    const [created] = await q(c, `insert into execution.orders as o (order_id, client_order_id, account_id, symbol, side, type, time_in_force,
        quantity, limit_price, stop_price, strategy)
      values ($1, $2, $3, $4, $5, $6, $7, $8, null, null, $9)
      on conflict (account_id, client_order_id) do nothing
      returning ${ORDER_COLUMNS}`, [randomUUID(), i.clientOrderId, i.accountId, i.symbol, i.side, i.type, i.timeInForce ?? 'DAY', i.quantity, i.strategy ?? null]);
    if (!created) {
      const [existing] = await q(c, `select ${ORDER_COLUMNS} from execution.orders o where o.account_id = $1 and o.client_order_id = $2`, [i.accountId, i.clientOrderId]);
      return existing;
    }
    await q(c, OUTBOX_INSERT, [JSON.stringify([event('ORDER_UPDATED', created.accountId, created.symbol, { type: 'SUBMITTED', order: orderPayload(created) })])]);
    return created;
  });
  return { data: { submitOrder: { orderId: order.orderId, status: order.status, version: order.version } } };
}

/** executeTrade as one transaction: lock the order, insert the trade, move the order, upsert the position, 3 events. */
export async function rawFill(pool: Pool, i: FillInput) {
  const trade = await transaction(pool, async (c) => {
    const [order] = await q(c, `select ${ORDER_COLUMNS} from execution.orders o where o.order_id = $1 for update`, [i.orderId]);
    if (!order) throw new RequestError('NOT_FOUND', `order ${i.orderId} not found`);
    if (order.status !== 'NEW' && order.status !== 'PARTIALLY_FILLED') throw new RequestError('CONFLICT', `order ${i.orderId} is ${order.status}`);
    const [t] = await q(c, `insert into execution.trades (order_id, account_id, symbol, side, quantity, price, executed_at, strategy)
      values ($1, $2, $3, $4, coalesce($5::numeric, $6::numeric - $7::numeric), $8, coalesce($9::timestamptz, now()), $10)
      returning trade_id::text as "tradeId", order_id as "orderId", account_id as "accountId", symbol, side, quantity, price,
                executed_at as "executedAt", strategy`,
    [order.orderId, order.accountId, order.symbol, order.side, i.quantity ?? null, order.quantity, order.filledQuantity, i.price, i.executedAt ?? null, order.strategy]);
    const [updated] = await q(c, `update execution.orders o set filled_quantity = filled_quantity + $2, filled_notional = filled_notional + $2 * $3::numeric,
        average_fill_price = round((filled_notional + $2 * $3::numeric) / (filled_quantity + $2), 8),
        status = case when filled_quantity + $2 >= quantity then 'FILLED' else 'PARTIALLY_FILLED' end,
        version = version + 1, updated_at = now()
      where order_id = $1 returning ${ORDER_COLUMNS}`, [order.orderId, t.quantity, i.price]);
    const signed = order.side === 'BUY' ? t.quantity : `-${t.quantity}`;
    const [position] = await q(c, UPSERT_POSITION, [order.accountId, order.symbol, signed, i.price]);
    const pos = { ...position, lastUpdated: iso(position.lastUpdated) };
    const trade = { ...t, executedAt: iso(t.executedAt) };
    await q(c, OUTBOX_INSERT, [JSON.stringify([
      event('TRADE_EXECUTED', order.accountId, order.symbol, { trade, position: pos }),
      event('POSITION_UPDATED', order.accountId, order.symbol, { position: pos }),
      event('ORDER_UPDATED', order.accountId, order.symbol, { type: updated.status, order: orderPayload(updated) }),
    ])]);
    return trade;
  });
  return { data: { executeTrade: { tradeId: trade.tradeId, quantity: dec(trade.quantity), price: dec(trade.price) } } };
}

/** submitOrder as one plpgsql call. */
export async function fnSubmit(pool: Pool, i: SubmitInput) {
  const [row] = await q(pool, 'select bench.submit_order($1, $2, $3, $4, $5, $6, $7, $8) as o',
    [i.accountId, i.clientOrderId, i.symbol, i.side, i.type, i.timeInForce ?? 'DAY', i.quantity, i.strategy ?? null]);
  return { data: { submitOrder: { orderId: row.o.orderId, status: row.o.status, version: row.o.version } } };
}

/** executeTrade as one plpgsql call. */
export async function fnFill(pool: Pool, i: FillInput) {
  let row: any;
  try {
    [row] = await q(pool, 'select bench.execute_trade($1, $2, $3) as t', [i.orderId, i.price, i.executedAt ?? null]);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'P0002') throw new RequestError('NOT_FOUND', (error as Error).message);
    if (code === 'P0001') throw new RequestError('CONFLICT', (error as Error).message);
    throw error;
  }
  return { data: { executeTrade: { tradeId: row.t.tradeId, quantity: dec(String(row.t.quantity)), price: dec(String(row.t.price)) } } };
}

// ---- ingestion: COPY -----------------------------------------------------------------------------------------------

interface Bar { symbol: string; timestamp: string; open: string; high: string; low: string; close: string; volume: string }

/** ingestMarketData's bars by COPY ... FROM STDIN (text format), one statement. */
export async function copyBars(pool: Pool, bars: Bar[]) {
  const client = await pool.connect();
  try {
    counters.statements++;
    const stream = client.query(copyFrom(`copy data_ingestion.market_data (symbol, "timestamp", open, high, low, close, volume) from stdin`));
    let i = 0;
    const CHUNK = 500;
    const feed = async function* () {
      while (i < bars.length) {
        let text = '';
        for (const end = Math.min(bars.length, i + CHUNK); i < end; i++) {
          const b = bars[i];
          text += `${b.symbol}\t${b.timestamp}\t${b.open}\t${b.high}\t${b.low}\t${b.close}\t${b.volume}\n`;
        }
        yield text;
      }
    };
    await pipeline(feed, stream);
  } finally {
    client.release();
  }
  return { data: { ingestMarketData: { inserted: bars.length, updated: 0 } } };
}
