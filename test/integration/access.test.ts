/**
 * Access control through HTTP and WebSocket: every query, mutation and subscription with a viewer, a trader and an
 * admin key, on the key's own account and on another; refused mutations write nothing and are audited.
 */
import type { Client } from 'graphql-ws';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { startTestGateway, uniqueId, type TestGateway } from '../support/gateway';
import { openClient, subscribe, waitForStreams } from '../support/subscriber';
import { revoke } from '../../src/modules/accounts/api-keys.service';

const SUBMIT = `mutation($input: SubmitOrderInput!) { submitOrder(input: $input) { orderId accountId version } }`;
const FILL = `mutation($input: ExecuteTradeInput!) { executeTrade(input: $input) { tradeId } }`;
const tag = `${process.pid % 1000}${Date.now().toString(36).slice(-4)}`.toUpperCase();
const SYM = `AC${tag}`;

let gw: TestGateway;
let own: string; // account A: the viewer's and trader's
let other: string; // account B: nobody's but the admin's
let ownOrder: string;
let otherOrder: string;
let ownClientOrderId: string;
let otherClientOrderId: string;
const keys: Record<'viewer' | 'trader' | 'admin', string> = { viewer: '', trader: '', admin: '' };
const as = (role: keyof typeof keys) => ({ authorization: `Bearer ${keys[role]}` });
const clients: Client[] = [];

async function submit(accountId: string, clientOrderId = uniqueId('c'), headers = as('admin')) {
  return gw.gql(SUBMIT, { input: { accountId, clientOrderId, symbol: SYM, side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '10', limitPrice: '100' } }, headers);
}

/** The state of account B that no refused call may change. */
async function otherState() {
  const [row] = await gw.runtime.db.read<Record<string, string>>(
    `select (select count(*) from execution.orders where account_id = ?)::text as orders,
            (select string_agg(order_id || ':' || version || ':' || status, ',' order by order_id) from execution.orders where account_id = ?) as versions,
            (select count(*) from execution.trades where account_id = ?)::text as trades,
            -- only accounts a refused createAccount would have made: other test files create accounts concurrently
            (select count(*) from execution.accounts where account_id like 'refused-%')::text as accounts,
            (select count(*) from data_ingestion.market_data where symbol = ?)::text as bars`,
    [other, other, other, SYM], 'primary');
  return row;
}

async function deniedAudits(keyId: string, operation: string): Promise<number> {
  const [row] = await gw.runtime.db.read<{ n: string }>(
    `select count(*)::text as n from logging.audit_log where key_id = ? and operation = ? and result = 'denied'`, [keyId, operation], 'primary');
  return Number(row.n);
}

async function keyIdOf(role: keyof typeof keys): Promise<string> {
  const r = await gw.runtime.db.read<{ keyId: string }>(`select key_id as "keyId" from execution.api_keys where key_hash = encode(sha256(?::bytea), 'hex')`, [keys[role]], 'primary');
  return r[0].keyId;
}

beforeAll(async () => {
  gw = await startTestGateway({ SYNC_ENABLED: 'false' });
  own = uniqueId('accA');
  other = uniqueId('accB');
  for (const id of [own, other]) {
    expect((await gw.gql(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`, { i: { accountId: id, name: id } })).errors).toBeUndefined();
  }
  keys.viewer = await gw.createKey('viewer', [own]);
  keys.trader = await gw.createKey('trader', [own]);
  keys.admin = gw.adminKey;
  ownClientOrderId = uniqueId('own');
  otherClientOrderId = uniqueId('oth');
  ownOrder = (await submit(own, ownClientOrderId)).data.submitOrder.orderId;
  otherOrder = (await submit(other, otherClientOrderId)).data.submitOrder.orderId;
  for (const orderId of [ownOrder, otherOrder]) expect((await gw.gql(FILL, { input: { orderId, quantity: '1', price: '99' } })).errors).toBeUndefined();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await gw.stop();
});

describe('authentication', () => {
  it('refuses a request without a key, with a malformed, an unknown or a revoked key: 401 UNAUTHENTICATED', async () => {
    const revokedKey = await gw.createKey('admin');
    const [row] = await gw.runtime.db.read<{ keyId: string }>(`select key_id as "keyId" from execution.api_keys where key_hash = encode(sha256(?::bytea), 'hex')`, [revokedKey], 'primary');
    await revoke(gw.runtime.db, row.keyId);
    for (const authorization of ['', 'Bearer', 'Basic dXNlcjpwYXNz', 'Bearer tq_short', `Bearer tq_${'x'.repeat(40)}`, `Bearer ${revokedKey}`]) {
      const r = await gw.post(`{ latestBar(symbol: "${SYM}") { close } }`, undefined, { authorization });
      expect({ authorization, status: r.status, code: r.errors?.[0].extensions?.code }).toEqual({ authorization, status: 401, code: 'UNAUTHENTICATED' });
      expect(r.data).toBeUndefined();
    }
  });
});

describe('key cache', () => {
  it('stops accepting a revoked key within API_KEY_CACHE_MS (1 s by default), on HTTP and WebSocket', async () => {
    const key = await gw.createKey('admin');
    const query = `{ latestBar(symbol: "${SYM}") { close } }`;
    expect((await gw.post(query, undefined, { authorization: `Bearer ${key}` })).errors).toBeUndefined();
    const [row] = await gw.runtime.db.read<{ keyId: string }>(`select key_id as "keyId" from execution.api_keys where key_hash = encode(sha256(?::bytea), 'hex')`, [key], 'primary');
    await revoke(gw.runtime.db, row.keyId);
    await new Promise((r) => setTimeout(r, 1100));
    const after = await gw.post(query, undefined, { authorization: `Bearer ${key}` });
    expect({ status: after.status, code: after.errors?.[0].extensions?.code }).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    const closed = await new Promise<number>((resolve) => {
      const c = createClient({ url: gw.wsUrl, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0, connectionParams: { authorization: `Bearer ${key}` },
        on: { closed: (event) => resolve((event as { code: number }).code) }, onNonLazyError: () => undefined });
      clients.push(c);
    });
    expect(closed).toBe(4403);
  });
});

describe('queries', () => {
  const readers = ['viewer', 'trader', 'admin'] as const;

  it.each(readers)('%s: reads its account by every query; another account is FORBIDDEN (admin: allowed)', async (role) => {
    const allowedOther = role === 'admin';
    const cases: [string, string, Record<string, unknown>][] = [
      ['account', `query($a: ID!) { account(accountId: $a) { accountId orders(first: 5) { edges { node { orderId } } } positions { symbol } } }`, {}],
      ['positions', `query($a: ID!) { positions(accountId: $a) { symbol quantity account { accountId } } }`, {}],
      ['portfolioSummary', `query($a: ID!) { portfolioSummary(accountId: $a) { accountId totalRealizedPnl } }`, {}],
      ['orders', `query($a: ID!) { orders(accountId: $a, first: 5) { edges { node { orderId account { accountId } trades { tradeId } } } } }`, {}],
      ['trades', `query($a: ID!) { trades(accountId: $a, first: 5) { edges { node { tradeId order { orderId } } } } }`, {}],
    ];
    for (const [field, query] of cases) {
      const mine = await gw.gql(query, { a: own }, as(role));
      expect({ field, errors: mine.errors }).toEqual({ field, errors: undefined });
      const theirs = await gw.gql(query, { a: other }, as(role));
      if (allowedOther) expect({ field, errors: theirs.errors }).toEqual({ field, errors: undefined });
      else expect({ field, code: theirs.errors?.[0].extensions?.code, data: theirs.data?.[field] ?? null }).toEqual({ field, code: 'FORBIDDEN', data: null });
    }
    const byClient = `query($a: ID!, $c: String!) { orderByClientOrderId(accountId: $a, clientOrderId: $c) { orderId } }`;
    expect((await gw.gql(byClient, { a: own, c: ownClientOrderId }, as(role))).data.orderByClientOrderId.orderId).toBe(ownOrder);
    const theirs = await gw.gql(byClient, { a: other, c: otherClientOrderId }, as(role));
    if (allowedOther) expect(theirs.data.orderByClientOrderId.orderId).toBe(otherOrder);
    else expect(theirs.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });

  it.each(readers)('%s: order(orderId) of another account is null, as if it did not exist (admin: found)', async (role) => {
    const q = `query($o: ID!) { order(orderId: $o) { orderId accountId } }`;
    expect((await gw.gql(q, { o: ownOrder }, as(role))).data.order.orderId).toBe(ownOrder);
    const theirs = await gw.gql(q, { o: otherOrder }, as(role));
    expect(theirs.errors).toBeUndefined();
    expect(theirs.data.order?.orderId ?? null).toBe(role === 'admin' ? otherOrder : null);
  });

  it.each(readers)('%s: orders and trades without an account list only the key\'s accounts (admin: all)', async (role) => {
    const orders = await gw.gql(`query($s: String) { orders(symbol: $s, first: 100) { edges { node { accountId } } } }`, { s: SYM }, as(role));
    const trades = await gw.gql(`query($s: String) { trades(symbol: $s, first: 100) { edges { node { accountId } } } }`, { s: SYM }, as(role));
    const accountsOf = (r: any, f: string) => [...new Set(r.data[f].edges.map((e: any) => e.node.accountId))].sort();
    const expected = role === 'admin' ? [own, other].sort() : [own];
    expect(accountsOf(orders, 'orders')).toEqual(expected);
    expect(accountsOf(trades, 'trades')).toEqual(expected);
  });

  it('market data is readable by every key', async () => {
    for (const role of readers) {
      expect((await gw.gql(`{ latestBar(symbol: "${SYM}") { close } marketData(symbol: "${SYM}", first: 1) { edges { cursor } } }`, undefined, as(role))).errors).toBeUndefined();
    }
  });

  it('strategy statistics and the performance summary are for admin keys only; refusals are audited', async () => {
    for (const role of ['viewer', 'trader'] as const) {
      const before = await deniedAudits(await keyIdOf(role), 'performanceSummary');
      expect((await gw.gql(`{ performanceMetrics { strategy } }`, undefined, as(role))).errors?.[0].extensions?.code).toBe('FORBIDDEN');
      expect((await gw.gql(`{ performanceSummary { slowQueryMs } }`, undefined, as(role))).errors?.[0].extensions?.code).toBe('FORBIDDEN');
      expect(await deniedAudits(await keyIdOf(role), 'performanceSummary')).toBe(before + 1);
    }
    expect((await gw.gql(`{ performanceMetrics { strategy } performanceSummary { slowQueryMs } }`, undefined, as('admin'))).errors).toBeUndefined();
  });
});

describe('mutations', () => {
  /** Runs a call that must be refused with FORBIDDEN, changing nothing of account B and auditing the refusal. */
  async function refused(role: 'viewer' | 'trader', operation: string, query: string, variables: Record<string, unknown>) {
    const before = await otherState();
    const keyId = await keyIdOf(role);
    const audits = await deniedAudits(keyId, operation);
    const r = await gw.gql(query, variables, as(role));
    expect({ role, operation, code: r.errors?.[0].extensions?.code, message: r.errors?.[0].message }).toEqual({ role, operation, code: 'FORBIDDEN', message: expect.any(String) });
    expect(r.data?.[operation] ?? null).toBeNull();
    expect(await otherState()).toEqual(before);
    expect(await deniedAudits(keyId, operation)).toBe(audits + 1);
  }

  const input = (accountId: string) => ({ accountId, clientOrderId: uniqueId('x'), symbol: SYM, side: 'SELL', type: 'MARKET', quantity: '1' });

  it('viewer: may not submit, amend or cancel, even on its own account', async () => {
    await refused('viewer', 'submitOrder', SUBMIT, { input: input(own) });
    await refused('viewer', 'cancelOrder', `mutation($o: ID!) { cancelOrder(orderId: $o) { status } }`, { o: ownOrder });
    await refused('viewer', 'amendOrder', `mutation($o: ID!) { amendOrder(orderId: $o, expectedVersion: 2, quantity: "5") { version } }`, { o: ownOrder });
    await refused('viewer', 'cancelAllOrders', `mutation($a: ID!) { cancelAllOrders(accountId: $a) { orderId } }`, { a: own });
  });

  it.each(['viewer', 'trader'] as const)('%s: nothing on another account, and no admin operation', async (role) => {
    await refused(role, 'submitOrder', SUBMIT, { input: input(other) });
    await refused(role, 'cancelOrder', `mutation($o: ID!) { cancelOrder(orderId: $o) { status } }`, { o: otherOrder });
    await refused(role, 'amendOrder', `mutation($o: ID!) { amendOrder(orderId: $o, expectedVersion: 2, quantity: "5") { version } }`, { o: otherOrder });
    await refused(role, 'cancelAllOrders', `mutation($a: ID!) { cancelAllOrders(accountId: $a) { orderId } }`, { a: other });
    await refused(role, 'executeTrade', FILL, { input: { orderId: otherOrder, quantity: '1', price: '1' } });
    await refused(role, 'executeTrade', FILL, { input: { orderId: ownOrder, quantity: '1', price: '1' } });
    await refused(role, 'ingestMarketData', `mutation($b: [BarInput!]!) { ingestMarketData(bars: $b) { inserted } }`,
      { b: [{ symbol: SYM, timestamp: '2026-01-05T10:00:00Z', open: '1', high: '1', low: '1', close: '1', volume: '1' }] });
    await refused(role, 'createAccount', `mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`, { i: { accountId: uniqueId('refused'), name: 'x' } });
  });

  it('trader: submits, amends and cancels on its own account; every change is audited in its transaction', async () => {
    const traderKey = await keyIdOf('trader');
    const placed = await gw.gql(SUBMIT, { input: { ...input(own), side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', limitPrice: '50', quantity: '3' } }, as('trader'));
    expect(placed.errors).toBeUndefined();
    const orderId = placed.data.submitOrder.orderId;
    const amended = await gw.gql(`mutation($o: ID!) { amendOrder(orderId: $o, expectedVersion: 1, quantity: "2") { version } }`, { o: orderId }, as('trader'));
    expect(amended.data.amendOrder.version).toBe(2);
    const canceled = await gw.gql(`mutation($o: ID!) { cancelOrder(orderId: $o) { status } }`, { o: orderId }, as('trader'));
    expect(canceled.data.cancelOrder.status).toBe('CANCELED');
    const audit = await gw.runtime.db.read<Record<string, any>>(
      `select key_id as "keyId", role, operation, table_name as "table", record_ids as "ids", result from logging.audit_log
       where ? = any(record_ids) order by id`, [orderId], 'primary');
    expect(audit).toEqual(['submitOrder', 'amendOrder', 'cancelOrder'].map((operation) => ({
      keyId: traderKey, role: 'trader', operation, table: 'execution.orders', ids: [orderId], result: 'ok',
    })));
    // A change that fails (a stale version) rolls its audit row back with it.
    const stale = await gw.gql(`mutation($o: ID!) { amendOrder(orderId: $o, expectedVersion: 1, quantity: "1") { version } }`, { o: orderId }, as('trader'));
    expect(stale.errors?.[0].extensions?.code).toBe('CONFLICT');
    const [{ n }] = await gw.runtime.db.read<{ n: string }>(`select count(*)::text as n from logging.audit_log where ? = any(record_ids)`, [orderId], 'primary');
    expect(n).toBe('3');
  });

  it('admin: records fills, ingests and creates accounts, audited with its key', async () => {
    const adminKey = await keyIdOf('admin');
    const bars = await gw.gql(`mutation($b: [BarInput!]!) { ingestMarketData(bars: $b) { inserted } }`,
      { b: [{ symbol: SYM, timestamp: '2026-01-05T10:00:00Z', open: '1', high: '1', low: '1', close: '1', volume: '1' }] }, as('admin'));
    expect(bars.errors).toBeUndefined();
    const [row] = await gw.runtime.db.read<Record<string, any>>(
      `select role, result, details from logging.audit_log where key_id = ? and operation = 'ingestMarketData' order by id desc limit 1`, [adminKey], 'primary');
    expect(row).toMatchObject({ role: 'admin', result: 'ok', details: { bars: 1, inserted: 1 } });
  });
});

describe('subscriptions', () => {
  const client = (key?: string) => {
    const c = openClient(gw.wsUrl, key === undefined ? undefined : { authorization: `Bearer ${key}` });
    clients.push(c);
    return c;
  };

  /** Opens a raw graphql-ws connection and reports how the server closed it. */
  function closeCodeOf(connectionParams?: Record<string, unknown>): Promise<number> {
    return new Promise((resolve) => {
      const c = createClient({ url: gw.wsUrl, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0, connectionParams,
        on: { closed: (event) => resolve((event as { code: number }).code) }, onNonLazyError: () => undefined });
      clients.push(c);
    });
  }

  it('closes the socket before any subscription without a key (4401) or with a bad one (4403)', async () => {
    expect(await closeCodeOf()).toBe(4401);
    expect(await closeCodeOf({ authorization: '' })).toBe(4401);
    expect(await closeCodeOf({ authorization: `Bearer tq_${'y'.repeat(40)}` })).toBe(4403);
    expect(await closeCodeOf({ authorization: 'nonsense' })).toBe(4403);
  });

  it('closes an open socket with 4403 once its key is revoked (within API_KEY_CACHE_MS, 1 s); other keys stream on', async () => {
    const revokedKey = await gw.createKey('trader', [own]);
    const [row] = await gw.runtime.db.read<{ keyId: string }>(`select key_id as "keyId" from execution.api_keys where key_hash = encode(sha256(?::bytea), 'hex')`, [revokedKey], 'primary');
    let closedWith: number | undefined;
    const doomed = createClient({ url: gw.wsUrl, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0, connectionParams: { authorization: `Bearer ${revokedKey}` },
      on: { closed: (event) => { closedWith = (event as { code: number }).code; } }, onNonLazyError: () => undefined });
    clients.push(doomed);
    const kept = client(keys.trader);
    const before = gw.gateway.hub.size;
    const query = `subscription($s: [String!]!) { marketDataUpdated(symbols: $s) { symbol timestamp } }`;
    const doomedBars = subscribe(doomed, query, { s: [SYM] });
    const keptBars = subscribe(kept, query, { s: [SYM] });
    await waitForStreams(gw.gateway.hub, before + 2);

    await revoke(gw.runtime.db, row.keyId);
    const deadline = Date.now() + 5000;
    while (closedWith === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(closedWith).toBe(4403);
    // its stream is gone from the hub; the other key's is still there and still delivers
    const streamsDeadline = Date.now() + 2000;
    while (gw.gateway.hub.size > before + 1 && Date.now() < streamsDeadline) await new Promise((r) => setTimeout(r, 20));
    expect(gw.gateway.hub.size).toBe(before + 1);
    await gw.gql(`mutation($b: [BarInput!]!) { ingestMarketData(bars: $b) { inserted } }`,
      { b: [{ symbol: SYM, timestamp: '2026-01-05T11:00:00Z', open: '1', high: '1', low: '1', close: '1', volume: '1' }] });
    await keptBars.waitFor(1);
    expect(keptBars.events.map((e: any) => Date.parse(e.marketDataUpdated.timestamp))).toContain(Date.parse('2026-01-05T11:00:00Z'));
    expect(doomedBars.events).toEqual([]);
  });

  it.each(['viewer', 'trader'] as const)('%s: another account\'s orders, positions and trades are FORBIDDEN', async (role) => {
    const c = client(keys[role]);
    for (const [field, query] of [
      ['orderUpdated', `subscription($a: ID!) { orderUpdated(accountId: $a) { sequence } }`],
      ['positionUpdated', `subscription($a: ID!) { positionUpdated(accountId: $a) { symbol } }`],
      ['tradeExecuted', `subscription($a: ID!) { tradeExecuted(accountId: $a) { sequence } }`],
    ] as const) {
      const sub = subscribe(c, query, { a: other });
      const deadline = Date.now() + 5000;
      while (!sub.errors.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect({ field, code: (sub.errors[0] as any)?.[0]?.extensions?.code }).toEqual({ field, code: 'FORBIDDEN' });
    }
  });

  it('trader: its own events arrive; a trade tape without an account carries only its accounts\' fills', async () => {
    const c = client(keys.trader);
    const before = gw.gateway.hub.size;
    const orders = subscribe(c, `subscription($a: ID!) { orderUpdated(accountId: $a) { order { orderId account { accountId } } } }`, { a: own });
    const tape = subscribe(c, `subscription($s: String) { tradeExecuted(symbol: $s) { trade { accountId order { accountId } } } }`, { s: SYM });
    const bars = subscribe(c, `subscription($s: [String!]!) { marketDataUpdated(symbols: $s) { symbol } }`, { s: [SYM] });
    await waitForStreams(gw.gateway.hub, before + 3);
    const theirs = (await submit(other)).data.submitOrder.orderId;
    const mine = (await submit(own)).data.submitOrder.orderId;
    expect((await gw.gql(FILL, { input: { orderId: theirs, quantity: '1', price: '98' } })).errors).toBeUndefined();
    expect((await gw.gql(FILL, { input: { orderId: mine, quantity: '1', price: '98' } })).errors).toBeUndefined();
    await gw.gql(`mutation($b: [BarInput!]!) { ingestMarketData(bars: $b) { inserted } }`,
      { b: [{ symbol: SYM, timestamp: '2026-01-05T10:01:00Z', open: '1', high: '1', low: '1', close: '1', volume: '1' }] });
    await tape.waitFor(1);
    await orders.waitFor(2);
    await bars.waitFor(1);
    await new Promise((r) => setTimeout(r, 300)); // time for another account's fill to arrive, were it let through
    expect(tape.events.map((e: any) => e.tradeExecuted.trade.accountId)).toEqual([own]);
    expect(tape.events[0].tradeExecuted.trade.order.accountId).toBe(own);
    expect(orders.events.every((e: any) => e.orderUpdated.order.account.accountId === own)).toBe(true);
  });
});
