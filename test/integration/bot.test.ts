/**
 * The bot example against a test gateway with the paper venue: it follows the bars fed here, trades its moving-average
 * crosses with a trader key, and gets filled. On a database of its own, like the venue's tests.
 */
import { create as createApiKey } from '../../src/modules/accounts/api-keys.service';
import { CombinedGraphQLErrors, ServerError } from '@apollo/client';
import { classify, runBot } from '../../examples/bot';
import { createOwnDatabase } from '../support/env';
import { startTestGateway, uniqueId, type TestGateway } from '../support/gateway';
import { waitForStreams } from '../support/subscriber';

const INGEST = `mutation($bars: [BarInput!]!) { ingestMarketData(bars: $bars) { inserted } }`;
const START = Date.parse('2026-11-26T14:30:00Z');

let own: { url: string; drop(): Promise<void> };
let gw: TestGateway;
let admin: Record<string, string>;

beforeAll(async () => {
  own = await createOwnDatabase('tq_bot');
  gw = await startTestGateway({ DATABASE_URL: own.url, DATABASE_REPLICA_URLS: '', VENUE: 'paper' });
  admin = { authorization: `Bearer ${(await createApiKey(gw.runtime.db, { role: 'admin', name: 'bot test' })).key}` };
}, 60_000);
afterAll(async () => {
  await gw?.stop();
  await own?.drop();
});

async function bar(symbol: string, minute: number, close: number): Promise<void> {
  const c = String(close);
  const r = await gw.post(INGEST, { bars: [{ symbol, timestamp: new Date(START + minute * 60_000).toISOString(), open: c, high: `${close + 0.5}`, low: `${close - 0.5}`, close: c, volume: '1000' }] }, admin);
  expect(r.errors).toBeUndefined();
}

async function setup(symbol: string): Promise<{ accountId: string; traderKey: string }> {
  const accountId = uniqueId('bot');
  expect((await gw.post(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`, { i: { accountId, name: 'bot' } }, admin)).errors).toBeUndefined();
  const traderKey = (await createApiKey(gw.runtime.db, { role: 'trader', accountIds: [accountId], name: 'bot' })).key;
  // A falling market to warm up on: the fast average is below the slow one.
  for (const [i, close] of WARM_UP.entries()) await bar(symbol, i, close);
  return { accountId, traderKey };
}

const WARM_UP = [110, 109, 108, 107, 106, 105];
/** Up (a cross up at the 2nd bar: buy), down (a cross down at the 6th: sell), up again (a cross up at the 10th: buy). */
const MOVES = [107, 110, 114, 117, 112, 105, 99, 96, 101, 108, 115, 119];

/** Runs the bot while the moves are ingested one by one, then a second more. */
async function trade(symbol: string, accountId: string, apiKey: string) {
  const lines: string[] = [];
  const controller = new AbortController();
  const streams = gw.gateway.hub.size;
  const running = runBot({ url: gw.url, apiKey, accountId, symbol, quantity: '5', fast: 2, slow: 6, signal: controller.signal, log: (l) => lines.push(l) });
  await waitForStreams(gw.gateway.hub, streams + 3, 10_000);
  for (const [i, close] of MOVES.entries()) {
    await bar(symbol, WARM_UP.length + i, close);
    await new Promise((r) => setTimeout(r, 150));
  }
  await new Promise((r) => setTimeout(r, 1000));
  controller.abort();
  return { report: await running, lines };
}

it('follows the bars, trades its crosses with blind-retryable ids, gets filled, and tracks its position', async () => {
  const symbol = 'BOTX';
  const { accountId, traderKey } = await setup(symbol);
  const { report, lines } = await trade(symbol, accountId, traderKey);

  expect(report.bars).toBe(MOVES.length);
  expect(report.orders).toHaveLength(3);
  expect(report.fills).toBe(3);
  expect(report.position).toMatchObject({ symbol, quantity: '5' });
  const orders = await gw.runtime.db.read<{ clientOrderId: string; side: string; status: string; filled: string }>(
    `select client_order_id as "clientOrderId", side, status, filled_quantity::text as filled from execution.orders where account_id = ? order by created_at`, [accountId], 'primary');
  expect(orders.map((o) => [o.side, o.status, Number(o.filled)])).toEqual([['BUY', 'FILLED', 5], ['SELL', 'FILLED', 5], ['BUY', 'FILLED', 5]]);
  // Derived from the signal: the strategy, the symbol, the bar and the side.
  expect(orders[0].clientOrderId).toMatch(/^ma-cross-2-6-BOTX-20261126T14\d{2}00Z-BUY$/);
  expect(lines.some((l) => /^position 5 BOTX/.test(l))).toBe(true);
}, 60_000);

it('skips a signal whose clientOrderId was already used for a different order (CONFLICT)', async () => {
  const symbol = 'BOTY';
  const { accountId, traderKey } = await setup(symbol);
  // The id the first cross up (the 2nd move, at 14:37) will derive, taken by another order beforehand.
  const taken = 'ma-cross-2-6-BOTY-20261126T143700Z-BUY';
  const other = await gw.post(`mutation($input: SubmitOrderInput!) { submitOrder(input: $input) { orderId } }`,
    { input: { accountId, clientOrderId: taken, symbol, side: 'BUY', type: 'LIMIT', limitPrice: '1', quantity: '1', timeInForce: 'GTC' } }, admin);
  expect(other.errors).toBeUndefined();
  const { report, lines } = await trade(symbol, accountId, traderKey);
  expect(lines.some((l) => l.includes(`clientOrderId ${taken} was used for another order`))).toBe(true);
  // Nothing bought, so nothing to sell at the cross down; the last cross up buys.
  expect(report.orders).toHaveLength(1);
  expect(report.position).toMatchObject({ quantity: '5' });
}, 60_000);

describe('classify', () => {
  it('reads extensions.code and retryAfterMs from GraphQL errors, and a 429 without a body', () => {
    expect(classify(new CombinedGraphQLErrors({ errors: [{ message: 'slow down', extensions: { code: 'RATE_LIMITED', retryAfterMs: 250 } }] })))
      .toEqual({ code: 'RATE_LIMITED', retryAfterMs: 250 });
    expect(classify(new CombinedGraphQLErrors({ errors: [{ message: 'taken', extensions: { code: 'CONFLICT' } }] }))).toEqual({ code: 'CONFLICT', retryAfterMs: undefined });
    const body = JSON.stringify({ errors: [{ message: 'slow down', extensions: { code: 'RATE_LIMITED', retryAfterMs: 900 } }] });
    expect(classify(new ServerError('429', { response: new Response(body, { status: 429 }), bodyText: body }))).toEqual({ code: 'RATE_LIMITED', retryAfterMs: 900 });
    expect(classify(new ServerError('429', { response: new Response('', { status: 429, headers: { 'retry-after': '2' } }), bodyText: '' })))
      .toEqual({ code: 'RATE_LIMITED', retryAfterMs: 2000 });
    expect(classify(new Error('socket hang up'))).toEqual({ code: undefined, retryAfterMs: undefined });
  });
});
