/** Subscriptions over graphql-ws against the real gateway, with Redis: payloads, filters, resume, two instances. */
import type { Client } from 'graphql-ws';
import { startTestGateway, uniqueId, type TestGateway } from '../support/gateway';
import { createOwnDatabase } from '../support/env';
import { openClient, subscribe, waitForStreams } from '../support/subscriber';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SUBMIT = `mutation($input: SubmitOrderInput!) { submitOrder(input: $input) { orderId version } }`;
const FILL = `mutation($input: ExecuteTradeInput!) { executeTrade(input: $input) { tradeId } }`;
const tag = `${process.pid % 1000}${Date.now().toString(36).slice(-4)}`.toUpperCase();

let a: TestGateway;
let b: TestGateway;
const clients: Client[] = [];

function client(gw: TestGateway): Client {
  const c = openClient(gw.wsUrl, gw.auth);
  clients.push(c);
  return c;
}

async function account(gw: TestGateway): Promise<string> {
  const id = uniqueId('sub');
  await gw.gql(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`, { i: { accountId: id, name: 'subs' } });
  return id;
}

async function order(gw: TestGateway, accountId: string, symbol: string, side = 'BUY', quantity = '10'): Promise<string> {
  const r = await gw.gql(SUBMIT, { input: { accountId, clientOrderId: uniqueId('c'), symbol, side, type: 'LIMIT', timeInForce: 'GTC', quantity, limitPrice: '100', strategy: 'subs' } });
  expect(r.errors).toBeUndefined();
  return r.data.submitOrder.orderId;
}

beforeAll(async () => {
  a = await startTestGateway({ REDIS_URL, SYNC_ENABLED: 'false' });
  b = await startTestGateway({ REDIS_URL, SYNC_ENABLED: 'false' });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await a.runtime.db.em().execute('delete from data_ingestion.market_data where symbol like ?', [`%${tag}`]);
  await a.stop();
  await b.stop();
});

describe('subscriptions', () => {
  it('delivers order, trade and position events with their payloads, filtered by account and symbol', async () => {
    const acc = await account(a);
    const other = await account(a);
    const sym = `S${tag}`;
    const c = client(a);
    const before = a.gateway.hub.size;
    const orders = subscribe(c, `subscription($a: ID!) { orderUpdated(accountId: $a) { eventId sequence type order { orderId status filledQuantity version account { accountId } } } }`, { a: acc });
    const trades = subscribe(c, `subscription($s: String, $a: ID) { tradeExecuted(symbol: $s, accountId: $a) { eventId sequence trade { tradeId orderId accountId symbol side quantity price executedAt order { status } } } }`, { s: sym, a: acc });
    const positions = subscribe(c, `subscription($a: ID!) { positionUpdated(accountId: $a) { accountId symbol quantity averagePrice realizedPnl version } }`, { a: acc });
    await waitForStreams(a.gateway.hub, before + 3);

    const id = await order(a, acc, sym);
    await order(a, other, sym); // another account: filtered out
    await a.gql(FILL, { input: { orderId: id, quantity: '4', price: '99.5' } });
    await a.gql(`mutation($id: ID!) { cancelOrder(orderId: $id) { status } }`, { id });

    const got = await orders.waitFor(3);
    expect(got.map((e: any) => [e.orderUpdated.type, e.orderUpdated.order.status, e.orderUpdated.order.filledQuantity, e.orderUpdated.order.version])).toEqual([
      ['SUBMITTED', 'NEW', '0', 1],
      ['PARTIALLY_FILLED', 'PARTIALLY_FILLED', '4', 2],
      ['CANCELED', 'CANCELED', '4', 3],
    ]);
    expect(got[0].orderUpdated.order.account.accountId).toBe(acc);
    const seqs = got.map((e: any) => BigInt(e.orderUpdated.sequence));
    expect(seqs[0] < seqs[1] && seqs[1] < seqs[2]).toBe(true);
    const [t] = await trades.waitFor(1);
    expect(t.tradeExecuted.trade).toMatchObject({ orderId: id, accountId: acc, symbol: sym, side: 'BUY', quantity: '4', price: '99.5' });
    // Nested fields resolve when the event is delivered: the order may already be canceled by then.
    expect(['PARTIALLY_FILLED', 'CANCELED']).toContain(t.tradeExecuted.trade.order.status);
    const [p] = await positions.waitFor(1);
    expect(p.positionUpdated).toMatchObject({ accountId: acc, symbol: sym, quantity: '4', averagePrice: '99.5', realizedPnl: '0', version: 2 });
    await new Promise((r) => setTimeout(r, 200));
    expect(orders.events).toHaveLength(3);
    expect(trades.events).toHaveLength(1);
  });

  it('delivers bars of the subscribed symbols, and of every symbol with "*"', async () => {
    const c = client(a);
    const x = `X${tag}`;
    const y = `Y${tag}`;
    const before = a.gateway.hub.size;
    const onlyX = subscribe(c, `subscription($s: [String!]!) { marketDataUpdated(symbols: $s) { symbol timestamp close volume } }`, { s: [x] });
    const all = subscribe(c, `subscription { marketDataUpdated(symbols: ["*"]) { symbol timestamp } }`);
    await waitForStreams(a.gateway.hub, before + 2);
    const bar = (symbol: string, minute: number) => ({ symbol, timestamp: `2026-11-20T15:0${minute}:00Z`, open: '10', high: '11', low: '9', close: '10.5', volume: '7' });
    await a.gql(`mutation($bars: [BarInput!]!) { ingestMarketData(bars: $bars) { inserted } }`, { bars: [bar(x, 1), bar(y, 1), bar(x, 2)] });
    const xs = await onlyX.waitFor(2);
    expect(xs.map((e: any) => e.marketDataUpdated)).toEqual([
      { symbol: x, timestamp: '2026-11-20T15:01:00Z', close: '10.5', volume: '7' },
      { symbol: x, timestamp: '2026-11-20T15:02:00Z', close: '10.5', volume: '7' },
    ]);
    const everything = (await all.waitFor(3)).map((e: any) => e.marketDataUpdated.symbol);
    expect(everything.filter((s: string) => s === x || s === y).sort()).toEqual([x, x, y]);
  });

  it('delivers every bar of a large batch once, oldest first per symbol, with exact decimals, on both instances', async () => {
    const x = `L${tag}`;
    const y = `M${tag}`;
    const beforeA = a.gateway.hub.size;
    const beforeB = b.gateway.hub.size;
    const query = `subscription($s: [String!]!) { marketDataUpdated(symbols: $s) { symbol timestamp open high low close volume } }`;
    const onA = subscribe(client(a), query, { s: [x, y] });
    const onB = subscribe(client(b), query, { s: [x] });
    await waitForStreams(a.gateway.hub, beforeA + 1);
    await waitForStreams(b.gateway.hub, beforeB + 1);
    const bar = (symbol: string, i: number) => ({ symbol, timestamp: new Date(Date.UTC(2026, 10, 21, 0, i)).toISOString(),
      open: `1${i}.0001`, high: `9${i}.5`, low: '1.0000', close: `2${i}.25`, volume: `${i + 1}000` });
    // Newest first and the two symbols interleaved: each symbol's bars must still come oldest first.
    const bars = Array.from({ length: 600 }, (_, k) => bar(k % 2 ? y : x, 299 - Math.floor(k / 2))).concat([bar(x, 300)]);
    const r = await a.gql(`mutation($bars: [BarInput!]!) { ingestMarketData(bars: $bars) { inserted } }`, { bars });
    expect(r.data.ingestMarketData.inserted).toBe(601);
    const expected = (symbol: string, n: number) => Array.from({ length: n }, (_, i) => {
      const b = bar(symbol, i);
      // a time as queries print it: no fraction for a whole minute
      return { ...b, timestamp: b.timestamp.replace('.000Z', 'Z'), open: b.open.replace(/0+$/, ''), low: '1' };
    });
    const gotA = (await onA.waitFor(601)).map((e: any) => e.marketDataUpdated);
    expect(gotA.filter((e: any) => e.symbol === x)).toEqual(expected(x, 301));
    expect(gotA.filter((e: any) => e.symbol === y)).toEqual(expected(y, 300));
    expect((await onB.waitFor(301)).map((e: any) => e.marketDataUpdated)).toEqual(expected(x, 301));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(onA.events).toHaveLength(601);
  });

  it('reaches a subscriber on instance B after a mutation on instance A', async () => {
    const acc = await account(a);
    const before = b.gateway.hub.size;
    const onB = subscribe(client(b), `subscription($a: ID!) { orderUpdated(accountId: $a) { type order { orderId } } }`, { a: acc });
    await waitForStreams(b.gateway.hub, before + 1);
    const id = await order(a, acc, `AB${tag}`);
    const [e] = await onB.waitFor(1);
    expect(e.orderUpdated).toEqual({ type: 'SUBMITTED', order: { orderId: id } });
  });

  it('resumes with afterSequence: exactly the missed events, in order, then live ones', async () => {
    const acc = await account(a);
    const before = a.gateway.hub.size;
    const first = subscribe(client(a), `subscription($a: ID!) { orderUpdated(accountId: $a) { sequence order { clientOrderId } } }`, { a: acc });
    await waitForStreams(a.gateway.hub, before + 1);
    await order(a, acc, `RS${tag}`);
    const [seen] = await first.waitFor(1);
    await first.close();
    const missed: string[] = [];
    for (let i = 0; i < 50; i++) {
      const r = await a.gql(SUBMIT, { input: { accountId: acc, clientOrderId: `missed-${i}`, symbol: `RS${tag}`, side: 'BUY', type: 'MARKET', quantity: '1' } });
      expect(r.errors).toBeUndefined();
      missed.push(`missed-${i}`);
    }
    const resumed = subscribe(client(b), `subscription($a: ID!, $after: String) { orderUpdated(accountId: $a, afterSequence: $after) { sequence order { clientOrderId } } }`,
      { a: acc, after: seen.orderUpdated.sequence });
    const replayed = await resumed.waitFor(50);
    expect(replayed.map((e: any) => e.orderUpdated.order.clientOrderId)).toEqual(missed);
    await a.gql(SUBMIT, { input: { accountId: acc, clientOrderId: 'live-1', symbol: `RS${tag}`, side: 'BUY', type: 'MARKET', quantity: '1' } });
    const all = await resumed.waitFor(51);
    expect(all[50].orderUpdated.order.clientOrderId).toBe('live-1');
    const seqs = all.map((e: any) => BigInt(e.orderUpdated.sequence));
    expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1])).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(resumed.events).toHaveLength(51);
  });

  it('works without Redis on one instance (the in-process pub/sub of the embedded default)', async () => {
    const own = await createOwnDatabase('tradeql_mem');
    const solo = await startTestGateway({ DATABASE_URL: own.url, DATABASE_REPLICA_URLS: '', REDIS_URL: '', SYNC_ENABLED: 'false' });
    const c = openClient(solo.wsUrl, solo.auth);
    try {
      expect(solo.gateway.relay).toBeDefined();
      const acc = await account(solo);
      const sub = subscribe(c, `subscription($a: ID!) { orderUpdated(accountId: $a) { type order { orderId } } }`, { a: acc });
      await waitForStreams(solo.gateway.hub, 1);
      const id = await order(solo, acc, `M${tag}`);
      const [e] = await sub.waitFor(1);
      expect(e.orderUpdated).toEqual({ type: 'SUBMITTED', order: { orderId: id } });
    } finally {
      await c.dispose();
      await solo.stop();
      await own.drop();
    }
  });

  it('refuses bad subscription arguments with BAD_USER_INPUT', async () => {
    const bad = subscribe(client(a), `subscription { orderUpdated(accountId: "bad id") { sequence } }`);
    const deadline = Date.now() + 5000;
    while (!bad.events.length && !bad.errors.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(JSON.stringify(bad.errors)).toContain('BAD_USER_INPUT');
    const seq = subscribe(client(a), `subscription { tradeExecuted(afterSequence: "abc") { sequence } }`);
    while (!seq.errors.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(JSON.stringify(seq.errors)).toContain('BAD_USER_INPUT');
  });
});
