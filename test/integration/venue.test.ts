/**
 * The paper venue through a real gateway (VENUE=paper): orders submitted over HTTP, bars ingested with
 * ingestMarketData, fills, statuses and positions checked. On a database of its own, since the venue would otherwise
 * execute the other test files' orders. Each test trades a symbol of its own.
 */
import { create as createApiKey } from '../../src/modules/accounts/api-keys.service';
import { createOwnDatabase } from '../support/env';
import { startTestGateway, uniqueId, type TestGateway } from '../support/gateway';

const ORDER = `query($id: ID!) { order(orderId: $id) { status filledQuantity averageFillPrice version trades { quantity price executedAt } } }`;
const SUBMIT = `mutation($input: SubmitOrderInput!) { submitOrder(input: $input) { orderId status } }`;
const INGEST = `mutation($bars: [BarInput!]!) { ingestMarketData(bars: $bars) { inserted updated } }`;
const START = Date.parse('2026-11-26T14:30:00Z');

let own: { url: string; drop(): Promise<void> };
let gw: TestGateway;
let headers: Record<string, string>;
let account: string;

async function gateway(): Promise<TestGateway> {
  return startTestGateway({ DATABASE_URL: own.url, DATABASE_REPLICA_URLS: '', VENUE: 'paper', SESSION_CLOSE: '21:00' });
}

beforeAll(async () => {
  own = await createOwnDatabase('tq_venue');
  gw = await gateway();
  headers = { authorization: `Bearer ${(await createApiKey(gw.runtime.db, { role: 'admin', name: 'venue test' })).key}` };
  account = uniqueId('venue');
  const r = await gw.post(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`, { i: { accountId: account, name: 'venue' } }, headers);
  expect(r.errors).toBeUndefined();
  await until(async () => gw.gateway.venue!.active, 'the venue to start');
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  await own?.drop();
});

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Until the venue has handled every event committed so far: then "nothing filled" means nothing will. */
async function settled(g = gw): Promise<void> {
  await until(async () => {
    const [row] = await g.runtime.db.read<{ last: string; pending: number }>(
      `select (select last_sequence::text from execution.outbox_state) as last, (select count(*)::int from execution.outbox where sequence is null) as pending`, [], 'primary');
    const seen = g.gateway.venue!.lastSequence;
    return row.pending === 0 && seen !== null && BigInt(seen) >= BigInt(row.last);
  }, 'the venue to catch up');
}

/** "open high low close volume", one bar a minute from START + `minute`. */
async function bars(symbol: string, minute: number, ...rows: string[]): Promise<void> {
  const input = rows.map((text, i) => {
    const [open, high, low, close, volume] = text.split(/\s+/);
    return { symbol, timestamp: new Date(START + (minute + i) * 60_000).toISOString(), open, high, low, close, volume };
  });
  const r = await gw.post(INGEST, { bars: input }, headers);
  expect(r.errors).toBeUndefined();
  await settled();
}

async function submit(input: Record<string, unknown>): Promise<string> {
  const r = await gw.post(SUBMIT, { input: { accountId: account, clientOrderId: uniqueId('c'), side: 'BUY', timeInForce: 'GTC', quantity: '100', ...input } }, headers);
  expect(r.errors).toBeUndefined();
  await settled();
  return r.data.submitOrder.orderId;
}

async function order(id: string) {
  const r = await gw.gql(ORDER, { id }, headers);
  expect(r.errors).toBeUndefined();
  return r.data.order;
}

const minute = (m: number) => new Date(START + m * 60_000).toISOString().replace('.000Z', 'Z');

describe('MARKET', () => {
  it('fills at the latest bar\'s close when submitted, stamped with that bar, and moves the position', async () => {
    await bars('VM1', 0, '100 101 99 100.5 1000', '100.5 102 100 101.25 1000');
    const id = await submit({ symbol: 'VM1', type: 'MARKET', quantity: '10' });
    expect(await order(id)).toMatchObject({ status: 'FILLED', filledQuantity: '10', averageFillPrice: '101.25', trades: [{ quantity: '10', price: '101.25', executedAt: minute(1) }] });
    const p = await gw.gql(`query($a: ID!) { positions(accountId: $a) { symbol quantity averagePrice } }`, { a: account }, headers);
    expect(p.data.positions).toContainEqual({ symbol: 'VM1', quantity: '10', averagePrice: '101.25' });
  });

  it('without a bar yet, waits and fills at the next bar\'s open', async () => {
    const id = await submit({ symbol: 'VM2', type: 'MARKET', side: 'SELL', quantity: '5' });
    expect(await order(id)).toMatchObject({ status: 'NEW', trades: [] });
    await bars('VM2', 0, '50 51 49 50.5 100');
    expect(await order(id)).toMatchObject({ status: 'FILLED', trades: [{ quantity: '5', price: '50', executedAt: minute(0) }] });
  });
});

describe('LIMIT', () => {
  it('a buy works until a bar\'s low reaches the limit and fills at the limit; a gap fills at the open', async () => {
    await bars('VL1', 0, '100 101 99 100 1000');
    const atLimit = await submit({ symbol: 'VL1', type: 'LIMIT', limitPrice: '98.5' });
    await bars('VL1', 1, '100 100.5 98.6 99 1000');
    expect(await order(atLimit)).toMatchObject({ status: 'NEW', trades: [] });
    const gapped = await submit({ symbol: 'VL1', type: 'LIMIT', limitPrice: '97' });
    await bars('VL1', 2, '98.9 99 98.2 98.4 1000', '96.5 97.5 96 97.2 1000');
    expect(await order(atLimit)).toMatchObject({ status: 'FILLED', trades: [{ price: '98.5', executedAt: minute(2) }] });
    expect(await order(gapped)).toMatchObject({ status: 'FILLED', trades: [{ price: '96.5', executedAt: minute(3) }] });
  });

  it('a sell fills when a bar\'s high reaches the limit; a marketable limit fills at once at the close', async () => {
    await bars('VL2', 0, '20 20.5 19.5 20 1000');
    const marketable = await submit({ symbol: 'VL2', type: 'LIMIT', side: 'SELL', limitPrice: '19.9' });
    expect(await order(marketable)).toMatchObject({ status: 'FILLED', trades: [{ price: '20' }] });
    const resting = await submit({ symbol: 'VL2', type: 'LIMIT', side: 'SELL', limitPrice: '21' });
    await bars('VL2', 1, '20 21.2 19.9 21 1000');
    expect(await order(resting)).toMatchObject({ status: 'FILLED', trades: [{ price: '21' }] });
  });

  it('takes at most a bar\'s volume: PARTIALLY_FILLED, then FILLED with an exact average price', async () => {
    await bars('VL3', 0, '10 10 10 10 1000');
    const id = await submit({ symbol: 'VL3', type: 'LIMIT', limitPrice: '9.5', quantity: '150' });
    await bars('VL3', 1, '9.6 9.7 9.4 9.5 60');
    expect(await order(id)).toMatchObject({ status: 'PARTIALLY_FILLED', filledQuantity: '60' });
    await bars('VL3', 2, '9.2 9.3 9.1 9.2 1000');
    // (60 x 9.5 + 90 x 9.2) / 150 = 9.32
    expect(await order(id)).toMatchObject({ status: 'FILLED', filledQuantity: '150', averageFillPrice: '9.32', trades: [{ quantity: '60', price: '9.5' }, { quantity: '90', price: '9.2' }] });
  });
});

describe('STOP and STOP_LIMIT', () => {
  it('a buy stop triggers when the high reaches the stop and fills there', async () => {
    await bars('VS1', 0, '100 101 99 100 1000');
    const id = await submit({ symbol: 'VS1', type: 'STOP', stopPrice: '102' });
    await bars('VS1', 1, '100 101.9 99.8 101 1000');
    expect(await order(id)).toMatchObject({ status: 'NEW' });
    await bars('VS1', 2, '101 102.4 100.9 102.1 1000');
    expect(await order(id)).toMatchObject({ status: 'FILLED', trades: [{ price: '102', executedAt: minute(2) }] });
  });

  it('a stop-limit that gaps past its limit triggers without a fill, then works as a limit order', async () => {
    await bars('VS2', 0, '100 101 99 100 1000');
    const id = await submit({ symbol: 'VS2', type: 'STOP_LIMIT', side: 'SELL', stopPrice: '98', limitPrice: '97.5' });
    await bars('VS2', 1, '97 97.2 96.5 96.8 1000');
    expect(await order(id)).toMatchObject({ status: 'NEW', trades: [] });
    await bars('VS2', 2, '97 97.8 96.9 97.6 1000');
    expect(await order(id)).toMatchObject({ status: 'FILLED', trades: [{ price: '97.5', executedAt: minute(2) }] });
  });
});

describe('time in force', () => {
  it('IOC fills what the latest bar offers and expires the rest; FOK fills all or expires', async () => {
    await bars('VT1', 0, '30 30.5 29.5 30 100');
    const ioc = await submit({ symbol: 'VT1', type: 'MARKET', timeInForce: 'IOC', quantity: '250' });
    expect(await order(ioc)).toMatchObject({ status: 'EXPIRED', filledQuantity: '100', trades: [{ quantity: '100', price: '30' }] });
    const fokBig = await submit({ symbol: 'VT1', type: 'MARKET', timeInForce: 'FOK', quantity: '101' });
    expect(await order(fokBig)).toMatchObject({ status: 'EXPIRED', filledQuantity: '0', trades: [] });
    const fok = await submit({ symbol: 'VT1', type: 'LIMIT', limitPrice: '30', timeInForce: 'FOK', quantity: '100' });
    expect(await order(fok)).toMatchObject({ status: 'FILLED', trades: [{ quantity: '100', price: '30' }] });
    const iocAway = await submit({ symbol: 'VT1', type: 'LIMIT', limitPrice: '29', timeInForce: 'IOC' });
    expect(await order(iocAway)).toMatchObject({ status: 'EXPIRED', trades: [] });
    // An expiry is an order event like any other.
    const types = await gw.runtime.db.read<{ type: string }>(
      `select payload->>'type' as type from execution.outbox where topic = 'ORDER_UPDATED' and payload->'order'->>'orderId' = ? order by sequence`, [ioc], 'primary');
    expect(types.map((t) => t.type)).toEqual(['SUBMITTED', 'PARTIALLY_FILLED', 'EXPIRED']);
  });

  it('DAY orders expire at the session close; GTC orders keep working', async () => {
    await bars('VT2', 0, '30 30.5 29.5 30 100');
    const day = await submit({ symbol: 'VT2', type: 'LIMIT', limitPrice: '25', timeInForce: 'DAY' });
    const gtc = await submit({ symbol: 'VT2', type: 'LIMIT', limitPrice: '25', timeInForce: 'GTC' });
    expect(await gw.gateway.venue!.expireDayOrders(new Date())).toBe(0);
    // Two days on, a close has passed since both were accepted.
    expect(await gw.gateway.venue!.expireDayOrders(new Date(Date.now() + 2 * 86_400_000))).toBeGreaterThanOrEqual(1);
    expect(await order(day)).toMatchObject({ status: 'EXPIRED' });
    expect(await order(gtc)).toMatchObject({ status: 'NEW' });
  });
});

describe('determinism and robustness', () => {
  it('fills the orders one bar reaches in the order they were accepted', async () => {
    await bars('VD1', 0, '100 101 99 100 1000');
    const ids = [];
    for (const limit of ['95', '96', '94']) ids.push(await submit({ symbol: 'VD1', type: 'LIMIT', limitPrice: limit }));
    await bars('VD1', 1, '99 99 93 94 1000');
    const trades = await gw.runtime.db.read<{ orderId: string }>(
      `select order_id as "orderId" from execution.trades where symbol = 'VD1' order by trade_id`, [], 'primary');
    expect(trades.map((t) => t.orderId)).toEqual(ids);
  });

  it('carries out what happened while it was stopped, and a replayed bar fills nothing twice', async () => {
    await bars('VR1', 0, '100 101 99 100 1000');
    const venue = gw.gateway.venue!;
    await venue.stop();
    const id = await gw.post(SUBMIT, { input: { accountId: account, clientOrderId: uniqueId('c'), symbol: 'VR1', side: 'BUY', type: 'LIMIT', limitPrice: '99', quantity: '1100' } }, headers);
    const orderId = id.data.submitOrder.orderId;
    await gw.post(INGEST, { bars: [{ symbol: 'VR1', timestamp: minute(1), open: '99.5', high: '99.8', low: '98.8', close: '99.1', volume: '40' }] }, headers);
    await gw.post(INGEST, { bars: [{ symbol: 'VR1', timestamp: minute(2), open: '99.1', high: '99.3', low: '98.9', close: '99', volume: '1000' }] }, headers);
    expect(await order(orderId)).toMatchObject({ status: 'NEW' });
    venue.start();
    await until(async () => venue.active, 'the venue to restart');
    await settled();
    // As if it had met them live: the arrival against the bar stored before it (no fill), then each bar in turn.
    expect(await order(orderId)).toMatchObject({ status: 'PARTIALLY_FILLED', trades: [{ quantity: '40', price: '99' }, { quantity: '1000', price: '99' }] });

    // As if it had died before saving its checkpoint: everything since is replayed, and the still working order
    // gets no second fill from the same bars.
    await venue.stop();
    const [{ before }] = await gw.runtime.db.read<{ before: string }>(`select count(*)::text as before from execution.trades`, [], 'primary');
    await gw.runtime.db.em().execute(`update analytics.processed_events set sequence = sequence - 20 where consumer = 'paper-venue'`);
    venue.start();
    await until(async () => venue.active, 'the venue to restart');
    await settled();
    const [{ after }] = await gw.runtime.db.read<{ after: string }>(`select count(*)::text as after from execution.trades`, [], 'primary');
    expect(after).toBe(before);
  });

  it('on its first start, working orders it never saw meet the latest bar', async () => {
    await bars('VF1', 0, '40 41 39 40 1000');
    const venue = gw.gateway.venue!;
    await venue.stop();
    const submitted = await gw.post(SUBMIT, { input: { accountId: account, clientOrderId: uniqueId('c'), symbol: 'VF1', side: 'BUY', type: 'MARKET', quantity: '7' } }, headers);
    const orderId = submitted.data.submitOrder.orderId;
    await gw.post(INGEST, { bars: [{ symbol: 'VF1', timestamp: minute(1), open: '40.5', high: '41', low: '40', close: '40.75', volume: '1000' }] }, headers);
    // As on a database where the venue never ran: no checkpoint, and its start begins after every event so far.
    await gw.gateway.relay.runOnce();
    await gw.runtime.db.em().execute(`delete from analytics.processed_events where consumer = 'paper-venue'`);
    venue.start();
    await until(async () => venue.active, 'the venue to restart');
    await settled();
    expect(await order(orderId)).toMatchObject({ status: 'FILLED', trades: [{ quantity: '7', price: '40.75', executedAt: minute(1) }] });
  });

  it('runs in one gateway at a time: a second one stands by, fills nothing twice, and takes over', async () => {
    const second = await gateway();
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect([gw.gateway.venue!.active, second.gateway.venue!.active]).toEqual([true, false]);
      await bars('VG1', 0, '10 10 10 10 1000');
      const first = await submit({ symbol: 'VG1', type: 'MARKET', quantity: '3' });
      expect(await order(first)).toMatchObject({ status: 'FILLED', trades: [{ quantity: '3' }] });
      await gw.gateway.venue!.stop();
      await until(async () => second.gateway.venue!.active, 'the standby venue to take over', 15_000);
      const next = await second.post(SUBMIT, { input: { accountId: account, clientOrderId: uniqueId('c'), symbol: 'VG1', side: 'SELL', type: 'MARKET', quantity: '3' } }, headers);
      await settled(second);
      expect(await order(next.data.submitOrder.orderId)).toMatchObject({ status: 'FILLED', trades: [{ quantity: '3', price: '10' }] });
    } finally {
      await second.stop();
      gw.gateway.venue!.start();
    }
  }, 40_000);
});
