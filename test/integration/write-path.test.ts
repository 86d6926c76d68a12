/**
 * What submitOrder and executeTrade leave behind, beyond their GraphQL results: the outbox events (topics, order,
 * payloads exactly as subscribers, the synchronizer and the venue read them), the audit rows, and under many fills
 * of one hot position at once, the position, the versions and the trade ids in the order fills were applied.
 */
import { toIsoUtc } from '../../src/platform/time';
import { Client as PgClient } from 'pg';
import { startTestGateway, uniqueId, type TestGateway } from '../support/gateway';
import { testDatabase } from '../support/env';
import { ORDER_COLUMNS, OrdersRepository, type FillWrite } from '../../src/modules/orders/orders.repository';
import { inSqlTransaction } from '../../src/platform/sql-transaction';
import { orderPayload, positionPayload, tradePayload } from '../../src/modules/events';
import { applyFill, FLAT, type PositionState } from '../../src/modules/positions/position-math';
import { decimalText } from '../../src/platform/decimal';

const SUBMIT = `mutation($input: SubmitOrderInput!) { submitOrder(input: $input) { orderId version } }`;
const FILL = `mutation($input: ExecuteTradeInput!) { executeTrade(input: $input) { tradeId } }`;

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({ SYNC_ENABLED: 'false' });
});
afterAll(async () => {
  await gw.stop();
});

const primary = <T extends Record<string, any>>(sql: string, params: unknown[] = []) => gw.runtime.db.read<T>(sql, params, 'primary');

async function newAccount(): Promise<string> {
  const id = uniqueId('wp');
  const r = await gw.gql(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`, { i: { accountId: id, name: 'write path' } });
  expect(r.errors).toBeUndefined();
  return id;
}

async function submit(input: Record<string, unknown>): Promise<string> {
  const r = await gw.gql(SUBMIT, { input: { type: 'MARKET', timeInForce: 'GTC', ...input } });
  expect(r.errors).toBeUndefined();
  return r.data.submitOrder.orderId;
}

const events = (accountId: string) =>
  primary<{ topic: string; payload: any }>('select topic, payload from execution.outbox where account_id = ? order by created_at, event_id', [accountId]);

const audit = (ids: string[]) =>
  primary<{ operation: string; record_ids: string[]; details: any; role: string }>(
    'select operation, record_ids, details, role from logging.audit_log where record_ids && ?::text[] order by id', [`{${ids.join(',')}}`]);

const storedOrder = async (orderId: string) => (await primary<any>(`select ${ORDER_COLUMNS} from execution.orders o where o.order_id = ?`, [orderId]))[0];

describe('submitOrder', () => {
  it('writes one SUBMITTED event with the order exactly as stored, and one audit row; a replay writes only a replayed audit row', async () => {
    const acc = await newAccount();
    const inputs = [
      { accountId: acc, clientOrderId: uniqueId('c'), symbol: 'WPA', side: 'BUY', quantity: '10.5', strategy: 's1' },
      { accountId: acc, clientOrderId: uniqueId('c'), symbol: 'WPA', side: 'SELL', type: 'LIMIT', quantity: '0.00000001', limitPrice: '123456789012.12345678' },
      { accountId: acc, clientOrderId: uniqueId('c'), symbol: 'WPA', side: 'BUY', type: 'STOP_LIMIT', timeInForce: 'DAY', quantity: '999999999999.99999999', limitPrice: '10.1', stopPrice: '9' },
    ];
    const ids: string[] = [];
    for (const input of inputs) ids.push(await submit(input));
    expect(await submit(inputs[0])).toBe(ids[0]);

    const stored = await Promise.all(ids.map(storedOrder));
    expect(await events(acc)).toEqual(stored.map((o) => ({ topic: 'ORDER_UPDATED', payload: { type: 'SUBMITTED', order: orderPayload(o) } })));
    // microseconds, as PostgreSQL stores them
    expect(stored[0].createdAt).toMatch(/\.\d{1,6}\+00$/);
    expect((await events(acc))[0].payload.order.createdAt).toBe(stored[0].createdAt.replace(' ', 'T').replace('+00', 'Z'));
    expect(await audit(ids)).toEqual([
      { operation: 'submitOrder', record_ids: [ids[0]], details: null, role: 'admin' },
      { operation: 'submitOrder', record_ids: [ids[1]], details: null, role: 'admin' },
      { operation: 'submitOrder', record_ids: [ids[2]], details: null, role: 'admin' },
      { operation: 'submitOrder', record_ids: [ids[0]], details: { replayed: true }, role: 'admin' },
    ]);
  });

  it('writes nothing for a refused submission (unknown account: NOT_FOUND)', async () => {
    const acc = uniqueId('nobody');
    const r = await gw.gql(SUBMIT, { input: { accountId: acc, clientOrderId: 'c', symbol: 'WPA', side: 'BUY', type: 'MARKET', quantity: '1' } });
    expect(r.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    expect(await events(acc)).toEqual([]);
  });
});

describe('executeTrade', () => {
  it('writes TRADE_EXECUTED, POSITION_UPDATED, ORDER_UPDATED in that order with the rows as stored, and one audit row', async () => {
    const acc = await newAccount();
    const a = await submit({ accountId: acc, clientOrderId: uniqueId('c'), symbol: 'WPB', side: 'BUY', type: 'LIMIT', quantity: '10.5', limitPrice: '101', strategy: 's' });
    const b = await submit({ accountId: acc, clientOrderId: uniqueId('c'), symbol: 'WPB', side: 'SELL', quantity: '20' });
    const fills = [
      { orderId: a, quantity: '0.25', price: '100.125', executedAt: '2026-11-26T10:00:00.123456Z' }, // first fill: a new position
      { orderId: a, price: '101' }, // the rest
      { orderId: b, price: '99.5' }, // crosses zero
    ];
    const tradeIds: string[] = [];
    for (const input of fills) {
      const r = await gw.gql(FILL, { input });
      expect(r.errors).toBeUndefined();
      tradeIds.push(r.data.executeTrade.tradeId);
    }
    const got = (await events(acc)).filter((e) => !(e.topic === 'ORDER_UPDATED' && e.payload.type === 'SUBMITTED'));
    expect(got.map((e) => e.topic)).toEqual(Array(3).fill(['TRADE_EXECUTED', 'POSITION_UPDATED', 'ORDER_UPDATED']).flat());

    const trades = await primary<any>(`select trade_id::text as "tradeId", order_id as "orderId", account_id as "accountId", symbol, side, quantity, price,
      executed_at as "executedAt", strategy from execution.trades where account_id = ? order by trade_id`, [acc]);
    expect(trades.map((t) => t.tradeId)).toEqual(tradeIds);
    expect(trades[0].executedAt).toBe('2026-11-26 10:00:00.123+00');
    let position: PositionState = FLAT;
    const orderVersions = new Map<string, number>();
    for (const [i, t] of trades.entries()) {
      const next = applyFill(position, t);
      position = next;
      const [trade, pos, order] = got.slice(3 * i, 3 * i + 3).map((e) => e.payload);
      // decimals as the math gives them (no trailing zeros), times to the millisecond, the versions after the change
      expect(trade.trade).toEqual({ ...tradePayload(t), quantity: decimalText(t.quantity), price: decimalText(t.price), executedAt: toIsoUtc(new Date(t.executedAt)) });
      expect(trade.realizedDelta).toBe(next.realizedDelta);
      expect(trade.position).toEqual({ accountId: acc, symbol: 'WPB', quantity: next.quantity, averagePrice: next.averagePrice,
        realizedPnl: next.realizedPnl, version: i + 2, lastUpdated: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z$/) });
      expect(pos).toEqual({ position: trade.position });
      orderVersions.set(t.orderId, (orderVersions.get(t.orderId) ?? 1) + 1);
      expect(order.order.version).toBe(orderVersions.get(t.orderId));
      expect(order.type).toBe(order.order.status);
    }
    // the last event of each order is the order as stored; its created_at to the millisecond, as fills always showed it
    for (const orderId of [a, b]) {
      const o = await storedOrder(orderId);
      const last = got.filter((e) => e.topic === 'ORDER_UPDATED' && e.payload.order.orderId === orderId).at(-1)!.payload.order;
      expect(last).toEqual({ ...orderPayload(o), filledQuantity: decimalText(o.filledQuantity), averageFillPrice: decimalText(o.averageFillPrice),
        // the event's updatedAt is the fill's JS time, written as the row's text is: no trailing zeros (".62", not ".620")
        createdAt: toIsoUtc(new Date(o.createdAt)), updatedAt: toIsoUtc(new Date(o.updatedAt)) });
      expect(last.quantity).toMatch(/\.\d{8}$/);
    }
    const stored = (await primary<any>('select quantity, average_price, realized_pnl, version, last_updated from execution.positions where account_id = ?', [acc]))[0];
    expect(got.at(-2)!.payload.position).toEqual(positionPayload({ accountId: acc, symbol: 'WPB', quantity: decimalText(stored.quantity),
      averagePrice: decimalText(stored.average_price), realizedPnl: decimalText(stored.realized_pnl), version: stored.version, lastUpdated: new Date(stored.last_updated) }));
    expect(await audit(tradeIds)).toEqual(tradeIds.map((id, i) => ({ operation: 'executeTrade', record_ids: [id], details: { orderId: fills[i].orderId }, role: 'admin' })));
  });

  it('rolls back everything of a refused fill', async () => {
    const acc = await newAccount();
    const orderId = await submit({ accountId: acc, clientOrderId: uniqueId('c'), symbol: 'WPC', side: 'BUY', quantity: '1' });
    const before = await events(acc);
    const r = await gw.gql(FILL, { input: { orderId, quantity: '2', price: '10' } });
    expect(r.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(await events(acc)).toEqual(before);
    expect(await primary('select * from execution.positions where account_id = ?', [acc])).toEqual([]);
    expect(await primary('select * from execution.trades where account_id = ?', [acc])).toEqual([]);
  });

  it('writes nothing of a fill whose locked order or position is not updated, though COMMIT travels with the write', async () => {
    const acc = await newAccount();
    const orderId = await submit({ accountId: acc, clientOrderId: uniqueId('c'), symbol: 'WPD', side: 'BUY', quantity: '2' });
    expect((await gw.gql(FILL, { input: { orderId, quantity: '1', price: '10' } })).errors).toBeUndefined();
    const [order, position] = [await storedOrder(orderId), (await primary<any>('select version from execution.positions where account_id = ?', [acc]))[0]];
    const now = new Date();
    // What only a bug could send: the position's version as it is not (the service reads it under the lock).
    const write = (positionVersion: number): FillWrite => ({
      trade: { tradeId: '9' + String(Date.now()).slice(-12), orderId, accountId: acc, symbol: 'WPD', side: 'BUY', quantity: '1', price: '11', executedAt: now, strategy: null, createdAt: now },
      order: { orderId, readVersion: order.version, filledQuantity: '2', filledNotional: '21', averageFillPrice: '10.5', status: 'FILLED', updatedAt: now },
      position: { accountId: acc, symbol: 'WPD', readVersion: positionVersion, quantity: '2', averagePrice: '10.5', realizedPnl: '0', lastUpdated: now },
      also: [],
    });
    const failed = inSqlTransaction(gw.runtime.db, (tx) => new OrdersRepository().writeFill(tx.committing(), write(position.version + 7)));
    await expect(failed).rejects.toThrow(/division by zero/);
    expect(await storedOrder(orderId)).toEqual(order);
    expect(await primary('select trade_id from execution.trades where account_id = ?', [acc])).toHaveLength(1);
    expect((await primary<any>('select version from execution.positions where account_id = ?', [acc]))[0].version).toBe(position.version);
  });
});

describe('a fill waiting for its position lock', () => {
  it('gives up at the request statement timeout (STATEMENT_TIMEOUT), having changed nothing', async () => {
    const short = await startTestGateway({ REQUEST_STATEMENT_TIMEOUT_MS: '300', SYNC_ENABLED: 'false' });
    const pg = new PgClient({ connectionString: testDatabase().databaseUrl });
    await pg.connect();
    try {
      const acc = await newAccount();
      const first = await submit({ accountId: acc, clientOrderId: uniqueId('c'), symbol: 'WPT', side: 'BUY', quantity: '2' });
      expect((await gw.gql(FILL, { input: { orderId: first, quantity: '1', price: '10' } })).errors).toBeUndefined();
      await pg.query('begin');
      await pg.query('select 1 from execution.positions where account_id = $1 for update', [acc]);
      const started = Date.now();
      const r = await short.post(FILL, { input: { orderId: first, price: '11' } });
      const took = Date.now() - started;
      await pg.query('rollback');
      expect(r.errors?.[0].extensions).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', reason: 'STATEMENT_TIMEOUT', retryable: true });
      expect(took).toBeGreaterThanOrEqual(250);
      expect(await primary('select version, filled_quantity::text as filled from execution.orders where order_id = ?', [first])).toEqual([{ version: 2, filled: '1.00000000' }]);
      expect(await primary('select count(*)::int as n from execution.trades where account_id = ?', [acc])).toEqual([{ n: 1 }]);
    } finally {
      await pg.end();
      await short.stop();
    }
  });
});

describe('one hot position', () => {
  it('takes 120 concurrent fills of 40 orders (the first ones racing to create it): the position is their sum, in trade id order', async () => {
    const acc = await newAccount();
    const orders: { id: string; side: 'BUY' | 'SELL' }[] = [];
    for (let i = 0; i < 40; i++) {
      const side = i % 3 === 1 ? 'SELL' : 'BUY';
      orders.push({ side, id: await submit({ accountId: acc, clientOrderId: uniqueId('c'), symbol: 'WPH', side, quantity: '3' }) });
    }
    // each order filled three times, 1 each, at different prices, all at once
    const fills = orders.flatMap((o, i) => [0, 1, 2].map((k) => ({ orderId: o.id, quantity: '1', price: `${100 + ((i * 7 + k * 3) % 23)}.${k}5` })));
    const results = await Promise.all(fills.map((input) => gw.gql(FILL, { input })));
    expect(results.filter((r) => r.errors)).toEqual([]);

    const trades = await primary<{ tradeId: string; orderId: string; side: 'BUY' | 'SELL'; quantity: string; price: string }>(
      'select trade_id::text as "tradeId", order_id as "orderId", side, quantity::text, price::text from execution.trades where account_id = ? order by trade_id', [acc]);
    expect(trades).toHaveLength(120);
    let expected: PositionState = FLAT;
    for (const t of trades) expected = applyFill(expected, t);
    const [p] = await primary<any>('select quantity, average_price, realized_pnl, version from execution.positions where account_id = ?', [acc]);
    expect({ quantity: decimalText(p.quantity), averagePrice: decimalText(p.average_price), realizedPnl: decimalText(p.realized_pnl), version: p.version })
      .toEqual({ quantity: expected.quantity, averagePrice: expected.averagePrice, realizedPnl: expected.realizedPnl, version: 121 });
    expect(expected.quantity).toBe(String(3 * orders.filter((o) => o.side === 'BUY').length - 3 * orders.filter((o) => o.side === 'SELL').length));

    // Trade ids follow the order the fills were applied in: the position versions of the events, by trade id, are 2..121.
    const tradeEvents = (await events(acc)).filter((e) => e.topic === 'TRADE_EXECUTED').map((e) => e.payload);
    tradeEvents.sort((x, y) => Number(x.trade.tradeId) - Number(y.trade.tradeId));
    expect(tradeEvents.map((e) => e.position.version)).toEqual(Array.from({ length: 120 }, (_, i) => i + 2));
    // and the events' positions are the fold of the trades so far
    let fold: PositionState = FLAT;
    for (const [i, e] of tradeEvents.entries()) {
      fold = applyFill(fold, trades[i]);
      expect(e.position).toMatchObject({ quantity: fold.quantity, averagePrice: fold.averagePrice, realizedPnl: fold.realizedPnl });
    }

    const stored = await primary<{ orderId: string; version: number; status: string; filledQuantity: string }>(
      'select order_id as "orderId", version, status, filled_quantity::text as "filledQuantity" from execution.orders where account_id = ?', [acc]);
    expect(stored.map((o) => ({ version: o.version, status: o.status, filled: decimalText(o.filledQuantity) })))
      .toEqual(Array(40).fill({ version: 4, status: 'FILLED', filled: '3' }));
    // each order's own events: versions 2, 3, 4, and its trades' ids increasing in that order
    for (const o of orders) {
      const own = tradeEvents.filter((e) => e.trade.orderId === o.id).map((e) => e.trade.tradeId);
      expect(own).toEqual(trades.filter((t) => t.orderId === o.id).map((t) => t.tradeId));
    }
  });
});
