/** Orders through HTTP: submit (validation, idempotency), cancel, amend, cancel-all, reads and pagination. */
import { startTestGateway, uniqueId, type TestGateway } from '../support/gateway';

const ORDER_FIELDS = `orderId clientOrderId accountId symbol side type timeInForce quantity limitPrice stopPrice
  filledQuantity averageFillPrice status strategy version createdAt updatedAt`;

const SUBMIT = `mutation($input: SubmitOrderInput!) { submitOrder(input: $input) { ${ORDER_FIELDS} } }`;
const CANCEL = `mutation($id: ID!, $v: Int) { cancelOrder(orderId: $id, expectedVersion: $v) { orderId status version } }`;
const AMEND = `mutation($id: ID!, $v: Int!, $q: Decimal, $lp: Decimal, $sp: Decimal) {
  amendOrder(orderId: $id, expectedVersion: $v, quantity: $q, limitPrice: $lp, stopPrice: $sp) { orderId quantity limitPrice stopPrice status version } }`;

let gw: TestGateway;
let account: string;

async function countOrders(accountId: string): Promise<number> {
  const rows = await gw.runtime.db.read<{ n: string }>('select count(*)::text as n from execution.orders where account_id = ?', [accountId], 'primary');
  return Number(rows[0].n);
}

function limitOrder(overrides: Record<string, unknown> = {}) {
  return { accountId: account, clientOrderId: uniqueId('c'), symbol: 'AAPL', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '10', limitPrice: '150.25', strategy: 'mean-rev', ...overrides };
}

beforeAll(async () => {
  gw = await startTestGateway();
  account = uniqueId('acc');
  const r = await gw.gql(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId name createdAt } }`, { i: { accountId: account, name: 'Orders test' } });
  expect(r.errors).toBeUndefined();
  expect(r.data.createAccount).toMatchObject({ accountId: account, name: 'Orders test' });
  expect(r.data.createAccount.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
});

afterAll(async () => {
  await gw.stop();
});

describe('createAccount', () => {
  it('refuses a duplicate id with CONFLICT and a bad id with BAD_USER_INPUT', async () => {
    const dup = await gw.gql(`mutation { createAccount(input: {accountId: "${account}", name: "x"}) { accountId } }`);
    expect(dup.errors?.[0].extensions?.code).toBe('CONFLICT');
    const bad = await gw.gql(`mutation { createAccount(input: {accountId: "has space", name: "x"}) { accountId } }`);
    expect(bad.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    const blank = await gw.gql(`mutation { createAccount(input: {accountId: "${uniqueId('a')}", name: "  "}) { accountId } }`);
    expect(blank.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('submitOrder', () => {
  it('creates an order with exact decimals and version 1', async () => {
    const input = limitOrder({ quantity: '0.00000001', limitPrice: '123456789012.12345678' });
    const r = await gw.gql(SUBMIT, { input });
    expect(r.errors).toBeUndefined();
    expect(r.data.submitOrder).toMatchObject({
      clientOrderId: input.clientOrderId, accountId: account, symbol: 'AAPL', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC',
      quantity: '0.00000001', limitPrice: '123456789012.12345678', stopPrice: null, filledQuantity: '0', averageFillPrice: null,
      status: 'NEW', strategy: 'mean-rev', version: 1,
    });
  });

  it('returns the existing order for the same clientOrderId and payload, CONFLICT for another payload', async () => {
    const input = limitOrder();
    const first = await gw.gql(SUBMIT, { input });
    const again = await gw.gql(SUBMIT, { input: { ...input, quantity: '10.000', limitPrice: '150.2500' } });
    expect(again.errors).toBeUndefined();
    expect(again.data.submitOrder.orderId).toBe(first.data.submitOrder.orderId);
    const other = await gw.gql(SUBMIT, { input: { ...input, quantity: '11' } });
    expect(other.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', orderId: first.data.submitOrder.orderId });
  });

  it('creates exactly one order when the same clientOrderId arrives 20 times at once', async () => {
    const input = limitOrder();
    const results = await Promise.all(Array.from({ length: 20 }, () => gw.gql(SUBMIT, { input })));
    const ids = new Set(results.map((r) => r.data?.submitOrder?.orderId));
    expect(results.every((r) => r.errors === undefined)).toBe(true);
    expect(ids.size).toBe(1);
    const rows = await gw.runtime.db.read<{ n: string }>(
      'select count(*)::text as n from execution.orders where account_id = ? and client_order_id = ?', [account, input.clientOrderId], 'primary');
    expect(rows[0].n).toBe('1');
  });

  it('is NOT_FOUND for an account that does not exist, writing nothing', async () => {
    const ghost = uniqueId('ghost');
    const r = await gw.gql(SUBMIT, { input: limitOrder({ accountId: ghost }) });
    expect(r.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    expect(await countOrders(ghost)).toBe(0);
  });

  const badInputs: [string, Record<string, unknown>, string][] = [
    ['zero quantity', { quantity: '0' }, 'quantity'],
    ['negative quantity', { quantity: '-1' }, 'quantity'],
    ['too many decimals', { quantity: '1.123456789' }, 'quantity'],
    ['too many integer digits', { quantity: '1234567890123' }, 'quantity'],
    ['a LIMIT without a limit price', { limitPrice: null }, 'limitPrice'],
    ['a MARKET with a limit price', { type: 'MARKET' }, 'limitPrice'],
    ['a STOP without a stop price', { type: 'STOP', limitPrice: null }, 'stopPrice'],
    ['a STOP_LIMIT without a stop price', { type: 'STOP_LIMIT' }, 'stopPrice'],
    ['a LIMIT with a stop price', { stopPrice: '140' }, 'stopPrice'],
    ['a zero limit price', { limitPrice: '0' }, 'limitPrice'],
    ['a lowercase symbol', { symbol: 'aapl' }, 'symbol'],
    ['a long symbol', { symbol: 'A'.repeat(21) }, 'symbol'],
    ['an empty clientOrderId', { clientOrderId: '' }, 'clientOrderId'],
    ['a long clientOrderId', { clientOrderId: 'x'.repeat(65) }, 'clientOrderId'],
    ['a long strategy', { strategy: 's'.repeat(65) }, 'strategy'],
    ['a bad account id', { accountId: 'bad id' }, 'accountId'],
  ];
  it.each(badInputs)('refuses %s with BAD_USER_INPUT naming the field, writing nothing', async (_name, overrides, field) => {
    const before = await countOrders(account);
    const r = await gw.gql(SUBMIT, { input: limitOrder(overrides) });
    expect(r.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(JSON.stringify(r.errors?.[0].extensions?.problems ?? r.errors?.[0].message)).toContain(field);
    expect(await countOrders(account)).toBe(before);
  });

  it('refuses enum values, floats and malformed decimals at the GraphQL layer', async () => {
    const side = await gw.gql(SUBMIT, { input: limitOrder({ side: 'HOLD' }) });
    expect(side.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    const float = await gw.gql(SUBMIT, { input: limitOrder({ quantity: 0.1 }) });
    expect(float.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(float.errors?.[0].message).toMatch(/string/);
    const junk = await gw.gql(SUBMIT, { input: limitOrder({ quantity: '1e3' }) });
    expect(junk.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('cancelOrder', () => {
  it('cancels, bumps the version, and refuses to cancel again', async () => {
    const o = (await gw.gql(SUBMIT, { input: limitOrder() })).data.submitOrder;
    const c = await gw.gql(CANCEL, { id: o.orderId, v: 1 });
    expect(c.data.cancelOrder).toEqual({ orderId: o.orderId, status: 'CANCELED', version: 2 });
    const again = await gw.gql(CANCEL, { id: o.orderId, v: 2 });
    expect(again.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('is CONFLICT with the current version when the expected version is stale', async () => {
    const o = (await gw.gql(SUBMIT, { input: limitOrder() })).data.submitOrder;
    await gw.gql(AMEND, { id: o.orderId, v: 1, q: '12' });
    const stale = await gw.gql(CANCEL, { id: o.orderId, v: 1 });
    expect(stale.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', currentVersion: 2, expectedVersion: 1 });
  });

  it('lets exactly one of two concurrent cancels win; the other is CONFLICT', async () => {
    for (let round = 0; round < 5; round++) {
      const o = (await gw.gql(SUBMIT, { input: limitOrder() })).data.submitOrder;
      const [a, b] = await Promise.all([gw.gql(CANCEL, { id: o.orderId, v: 1 }), gw.gql(CANCEL, { id: o.orderId, v: 1 })]);
      const wins = [a, b].filter((r) => r.data?.cancelOrder?.status === 'CANCELED');
      const losses = [a, b].filter((r) => r.errors?.[0].extensions?.code === 'CONFLICT');
      expect(wins).toHaveLength(1);
      expect(losses).toHaveLength(1);
      expect(losses[0].errors?.[0].extensions?.currentVersion).toBe(2);
      const row = await gw.runtime.db.read<{ version: number; status: string }>('select version, status from execution.orders where order_id = ?', [o.orderId], 'primary');
      expect(row[0]).toEqual({ version: 2, status: 'CANCELED' });
    }
  });

  it('is NOT_FOUND for an unknown order', async () => {
    const r = await gw.gql(CANCEL, { id: '00000000-0000-4000-8000-000000000000' });
    expect(r.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    const junk = await gw.gql(CANCEL, { id: 'not-a-uuid' });
    expect(junk.errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });
});

describe('amendOrder', () => {
  it('changes quantity and limit price under the version check', async () => {
    const o = (await gw.gql(SUBMIT, { input: limitOrder() })).data.submitOrder;
    const r = await gw.gql(AMEND, { id: o.orderId, v: 1, q: '20', lp: '151' });
    expect(r.data.amendOrder).toEqual({ orderId: o.orderId, quantity: '20', limitPrice: '151', stopPrice: null, status: 'NEW', version: 2 });
  });

  it('refuses a stop price on a LIMIT order, an empty amend, a stale version, and terminal orders', async () => {
    const o = (await gw.gql(SUBMIT, { input: limitOrder() })).data.submitOrder;
    expect((await gw.gql(AMEND, { id: o.orderId, v: 1, sp: '140' })).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect((await gw.gql(AMEND, { id: o.orderId, v: 1 })).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect((await gw.gql(AMEND, { id: o.orderId, v: 7, q: '5' })).errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', currentVersion: 1 });
    await gw.gql(CANCEL, { id: o.orderId, v: 1 });
    expect((await gw.gql(AMEND, { id: o.orderId, v: 2, q: '5' })).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('cancelAllOrders', () => {
  it('cancels the open orders of one symbol and leaves the rest', async () => {
    const acc = uniqueId('acc');
    await gw.gql(`mutation { createAccount(input: {accountId: "${acc}", name: "cancel all"}) { accountId } }`);
    const submit = (symbol: string) => gw.gql(SUBMIT, { input: limitOrder({ accountId: acc, symbol }) });
    await submit('MSFT');
    await submit('MSFT');
    const keep = (await submit('TSLA')).data.submitOrder;
    const r = await gw.gql(`mutation($a: ID!) { cancelAllOrders(accountId: $a, symbol: "MSFT") { symbol status version } }`, { a: acc });
    expect(r.data.cancelAllOrders).toEqual([
      { symbol: 'MSFT', status: 'CANCELED', version: 2 },
      { symbol: 'MSFT', status: 'CANCELED', version: 2 },
    ]);
    const tsla = await gw.gql(`query($id: ID!) { order(orderId: $id) { status } }`, { id: keep.orderId });
    expect(tsla.data.order.status).toBe('NEW');
    const none = await gw.gql(`mutation($a: ID!) { cancelAllOrders(accountId: $a, symbol: "MSFT") { orderId } }`, { a: acc });
    expect(none.data.cancelAllOrders).toEqual([]);
    const ghost = await gw.gql(`mutation { cancelAllOrders(accountId: "${uniqueId('ghost')}") { orderId } }`);
    expect(ghost.errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });
});

describe('order queries', () => {
  it('finds an order by id and by client order id; unknown ones are null', async () => {
    const o = (await gw.gql(SUBMIT, { input: limitOrder() })).data.submitOrder;
    const r = await gw.gql(`query($id: ID!, $a: ID!, $c: String!) {
      order(orderId: $id) { orderId } orderByClientOrderId(accountId: $a, clientOrderId: $c) { orderId }
      missing: order(orderId: "00000000-0000-4000-8000-000000000000") { orderId } }`, { id: o.orderId, a: account, c: o.clientOrderId });
    expect(r.data).toEqual({ order: { orderId: o.orderId }, orderByClientOrderId: { orderId: o.orderId }, missing: null });
  });

  it('pages through orders newest first with no row lost or repeated', async () => {
    const acc = uniqueId('acc');
    await gw.gql(`mutation { createAccount(input: {accountId: "${acc}", name: "paging"}) { accountId } }`);
    const created: string[] = [];
    for (let i = 0; i < 23; i++) created.push((await gw.gql(SUBMIT, { input: limitOrder({ accountId: acc, strategy: 'pager' }) })).data.submitOrder.orderId);
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const r: any = await gw.gql(`query($a: ID!, $after: String) { orders(accountId: $a, first: 5, after: $after) {
        edges { cursor node { orderId } } pageInfo { hasNextPage endCursor } } }`, { a: acc, after });
      seen.push(...r.data.orders.edges.map((e: any) => e.node.orderId));
      if (!r.data.orders.pageInfo.hasNextPage) break;
      after = r.data.orders.pageInfo.endCursor;
    }
    expect(seen).toEqual([...created].reverse());
    const filtered = await gw.gql(`query($a: ID!) { orders(accountId: $a, status: [CANCELED]) { edges { node { orderId } } } }`, { a: acc });
    expect(filtered.data.orders.edges).toEqual([]);
  });

  it('refuses a page size out of range and a malformed cursor', async () => {
    expect((await gw.gql(`{ orders(first: 1001) { edges { cursor } } }`)).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect((await gw.gql(`{ orders(first: 0) { edges { cursor } } }`)).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect((await gw.gql(`{ orders(after: "garbage") { edges { cursor } } }`)).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });
});
