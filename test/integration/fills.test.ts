/** executeTrade through HTTP: order progress, positions with average cost and realized PnL, bad fills, races. */
import { applyFill, FLAT, type PositionState } from '../../src/modules/positions/position-math';
import { startTestGateway, uniqueId, type TestGateway } from '../support/gateway';

const SUBMIT = `mutation($input: SubmitOrderInput!) { submitOrder(input: $input) { orderId version } }`;
const FILL = `mutation($input: ExecuteTradeInput!) { executeTrade(input: $input) {
  tradeId orderId accountId symbol side quantity price executedAt strategy order { status filledQuantity averageFillPrice version } } }`;
const POSITIONS = `query($a: ID!) { positions(accountId: $a) { accountId symbol quantity averagePrice realizedPnl version } }`;

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw.stop();
});

async function newAccount(): Promise<string> {
  const id = uniqueId('fill');
  const r = await gw.gql(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`, { i: { accountId: id, name: 'fills' } });
  expect(r.errors).toBeUndefined();
  return id;
}

async function submit(accountId: string, side: 'BUY' | 'SELL', quantity: string, symbol = 'AAPL'): Promise<string> {
  const r = await gw.gql(SUBMIT, { input: { accountId, clientOrderId: uniqueId('c'), symbol, side, type: 'MARKET', timeInForce: 'GTC', quantity, strategy: 'fills-test' } });
  expect(r.errors).toBeUndefined();
  return r.data.submitOrder.orderId;
}

async function position(accountId: string, symbol = 'AAPL') {
  const r = await gw.gql(POSITIONS, { a: accountId });
  return r.data.positions.find((p: any) => p.symbol === symbol);
}

async function tableCounts(accountId: string) {
  const [row] = await gw.runtime.db.read<{ trades: string; pos: string }>(
    `select (select count(*) from execution.trades where account_id = ?)::text as trades,
            (select coalesce(sum(version), 0) from execution.positions where account_id = ?)::text as pos`, [accountId, accountId], 'primary');
  return row;
}

describe('executeTrade', () => {
  it('partially then fully fills an order, keeping an exact volume-weighted average price', async () => {
    const acc = await newAccount();
    const orderId = await submit(acc, 'BUY', '0.3');
    const a = await gw.gql(FILL, { input: { orderId, quantity: '0.1', price: '10.00000001', executedAt: '2026-11-26T10:00:00Z' } });
    expect(a.errors).toBeUndefined();
    expect(a.data.executeTrade).toMatchObject({ orderId, accountId: acc, symbol: 'AAPL', side: 'BUY', quantity: '0.1', price: '10.00000001',
      executedAt: '2026-11-26T10:00:00Z', strategy: 'fills-test', order: { status: 'PARTIALLY_FILLED', filledQuantity: '0.1', averageFillPrice: '10.00000001', version: 2 } });
    const b = await gw.gql(FILL, { input: { orderId, price: '10.00000002' } });
    // the rest (0.2) by default; average = (0.1*10.00000001 + 0.2*10.00000002) / 0.3 = 10.0000000166... -> 10.00000002
    expect(b.data.executeTrade).toMatchObject({ quantity: '0.2', order: { status: 'FILLED', filledQuantity: '0.3', averageFillPrice: '10.00000002', version: 3 } });
    expect(Number(b.data.executeTrade.tradeId)).toBeGreaterThan(Number(a.data.executeTrade.tradeId));
    expect(await position(acc)).toMatchObject({ quantity: '0.3', averagePrice: '10.00000002', realizedPnl: '0' });
    const trades = await gw.gql(`query($id: ID!) { order(orderId: $id) { trades { quantity price executedAt } } }`, { id: orderId });
    // a time reads the same in the mutation's answer and in a query's
    expect(trades.data.order.trades).toEqual([
      { quantity: '0.1', price: '10.00000001', executedAt: a.data.executeTrade.executedAt },
      { quantity: '0.2', price: '10.00000002', executedAt: b.data.executeTrade.executedAt },
    ]);
  });

  it('realizes PnL when reducing and when crossing zero, opening the rest at the fill price', async () => {
    const acc = await newAccount();
    await gw.gql(FILL, { input: { orderId: await submit(acc, 'BUY', '100'), price: '50' } });
    await gw.gql(FILL, { input: { orderId: await submit(acc, 'BUY', '100'), price: '60' } });
    expect(await position(acc)).toMatchObject({ quantity: '200', averagePrice: '55', realizedPnl: '0' });
    await gw.gql(FILL, { input: { orderId: await submit(acc, 'SELL', '50'), price: '70' } });
    expect(await position(acc)).toMatchObject({ quantity: '150', averagePrice: '55', realizedPnl: '750' });
    // sell 250 at 40: closes 150 (150 * (40 - 55) = -2250) and opens a 100 short at 40
    await gw.gql(FILL, { input: { orderId: await submit(acc, 'SELL', '250'), price: '40' } });
    expect(await position(acc)).toMatchObject({ quantity: '-100', averagePrice: '40', realizedPnl: '-1500' });
    // buying back 100 at 30 covers the short at a 1000 gain and leaves it flat
    await gw.gql(FILL, { input: { orderId: await submit(acc, 'BUY', '100'), price: '30' } });
    expect(await position(acc)).toMatchObject({ quantity: '0', averagePrice: '0', realizedPnl: '-500' });
  });

  const bad: [string, (orderId: string) => Record<string, unknown>][] = [
    ['an overfill', (orderId) => ({ orderId, quantity: '11', price: '10' })],
    ['a zero price', (orderId) => ({ orderId, price: '0' })],
    ['a negative price', (orderId) => ({ orderId, price: '-5' })],
    ['a zero quantity', (orderId) => ({ orderId, quantity: '0', price: '10' })],
    ['a price with 9 decimals', (orderId) => ({ orderId, price: '10.123456789' })],
  ];
  it.each(bad)('refuses %s with BAD_USER_INPUT and changes nothing', async (_name, input) => {
    const acc = await newAccount();
    const orderId = await submit(acc, 'BUY', '10');
    const before = await tableCounts(acc);
    const r = await gw.gql(FILL, { input: input(orderId) });
    expect(r.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(await tableCounts(acc)).toEqual(before);
    const o = await gw.gql(`query($id: ID!) { order(orderId: $id) { status filledQuantity version } }`, { id: orderId });
    expect(o.data.order).toEqual({ status: 'NEW', filledQuantity: '0', version: 1 });
  });

  it('refuses to fill a canceled or filled order, and an unknown one is NOT_FOUND', async () => {
    const acc = await newAccount();
    const canceled = await submit(acc, 'BUY', '10');
    await gw.gql(`mutation($id: ID!) { cancelOrder(orderId: $id) { status } }`, { id: canceled });
    expect((await gw.gql(FILL, { input: { orderId: canceled, price: '10' } })).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    const filled = await submit(acc, 'BUY', '1');
    await gw.gql(FILL, { input: { orderId: filled, price: '10' } });
    expect((await gw.gql(FILL, { input: { orderId: filled, price: '10' } })).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect((await gw.gql(FILL, { input: { orderId: '00000000-0000-4000-8000-000000000000', price: '10' } })).errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });
});

describe('amend after fills', () => {
  it('cannot cut the quantity below what is filled; cutting it to exactly the filled quantity fills the order', async () => {
    const acc = await newAccount();
    const orderId = await submit(acc, 'BUY', '10');
    await gw.gql(FILL, { input: { orderId, quantity: '4', price: '10' } });
    const AMEND = `mutation($id: ID!, $v: Int!, $q: Decimal) { amendOrder(orderId: $id, expectedVersion: $v, quantity: $q) { quantity status version } }`;
    const below = await gw.gql(AMEND, { id: orderId, v: 2, q: '3.99999999' });
    expect(below.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(below.errors?.[0].message).toMatch(/filled quantity 4/);
    const exact = await gw.gql(AMEND, { id: orderId, v: 2, q: '4' });
    expect(exact.data.amendOrder).toEqual({ quantity: '4', status: 'FILLED', version: 3 });
  });
});

describe('concurrent fills', () => {
  it('50 fills of one order sent at once equal 50 fills in a row', async () => {
    const acc = await newAccount();
    const orderId = await submit(acc, 'BUY', '50');
    const prices = Array.from({ length: 50 }, (_, i) => `${100 + i}.${String(i * 7).padStart(2, '0')}`);
    const results = await Promise.all(prices.map((price) => gw.gql(FILL, { input: { orderId, quantity: '1', price } })));
    expect(results.filter((r) => r.errors)).toEqual([]);
    const o = await gw.gql(`query($id: ID!) { order(orderId: $id) { status filledQuantity averageFillPrice version trades { tradeId quantity price } } }`, { id: orderId });
    expect(o.data.order).toMatchObject({ status: 'FILLED', filledQuantity: '50', version: 51 });
    expect(o.data.order.trades).toHaveLength(50);
    // The same fills one after another, in the order they were applied (trade ids), through the pure math.
    // The position row starts at version 1 and each fill bumps it.
    let expected: PositionState = FLAT;
    for (const t of o.data.order.trades) expected = applyFill(expected, { side: 'BUY', quantity: t.quantity, price: t.price });
    const p = await position(acc);
    expect(p).toMatchObject({ quantity: expected.quantity, averagePrice: expected.averagePrice, realizedPnl: expected.realizedPnl, version: 51 });
    // 51st fill is an overfill
    expect((await gw.gql(FILL, { input: { orderId, quantity: '1', price: '1' } })).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('50 concurrent fills of different orders on one position lose nothing (buys and sells)', async () => {
    const acc = await newAccount();
    const sides = Array.from({ length: 50 }, (_, i) => (i % 3 === 2 ? 'SELL' : 'BUY') as 'BUY' | 'SELL');
    const orders = [];
    for (const side of sides) orders.push({ side, id: await submit(acc, side, '2') });
    const results = await Promise.all(orders.map((o, i) => gw.gql(FILL, { input: { orderId: o.id, price: `${200 + (i % 11)}.5` } })));
    expect(results.filter((r) => r.errors)).toEqual([]);
    const trades = await gw.runtime.db.read<{ side: 'BUY' | 'SELL'; quantity: string; price: string }>(
      'select side, quantity::text, price::text from execution.trades where account_id = ? order by trade_id', [acc], 'primary');
    expect(trades).toHaveLength(50);
    let expected: PositionState = FLAT;
    for (const t of trades) expected = applyFill(expected, t);
    const p = await position(acc);
    expect(p).toMatchObject({ quantity: expected.quantity, averagePrice: expected.averagePrice, realizedPnl: expected.realizedPnl, version: 51 });
    expect(p.quantity).toBe(String(2 * sides.filter((s) => s === 'BUY').length - 2 * sides.filter((s) => s === 'SELL').length));
  });

  it('a cancel racing fills either wins before them or loses with CONFLICT; nothing is filled after a cancel', async () => {
    const acc = await newAccount();
    const orderId = await submit(acc, 'BUY', '10');
    const fills = Array.from({ length: 5 }, () => gw.gql(FILL, { input: { orderId, quantity: '1', price: '10' } }));
    const cancel = gw.gql(`mutation($id: ID!) { cancelOrder(orderId: $id, expectedVersion: 1) { status } }`, { id: orderId });
    const [c, ...f] = await Promise.all([cancel, ...fills]);
    const o = await gw.gql(`query($id: ID!) { order(orderId: $id) { status filledQuantity trades { tradeId } } }`, { id: orderId });
    const filledOk = f.filter((r) => !r.errors).length;
    expect(o.data.order.trades).toHaveLength(filledOk);
    expect(o.data.order.filledQuantity).toBe(String(filledOk));
    if (c.errors) {
      expect(c.errors[0].extensions?.code).toBe('CONFLICT');
      expect(o.data.order.status).toBe('PARTIALLY_FILLED');
    } else {
      expect(o.data.order.status).toBe('CANCELED');
      expect(filledOk).toBe(0);
    }
  });
});
