/**
 * The bot example against a test gateway with the paper venue: it follows the bars fed here, trades its moving-average
 * crosses with a trader key, and gets filled. On a database of its own, like the venue's tests.
 */
import { create as createApiKey } from '../../src/modules/accounts/api-keys.service';
import { runBot } from '../../examples/bot';
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

it('follows the bars, trades its crosses with blind-retryable ids, gets filled, and tracks its position', async () => {
  const accountId = uniqueId('bot');
  const symbol = 'BOTX';
  expect((await gw.post(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`, { i: { accountId, name: 'bot' } }, admin)).errors).toBeUndefined();
  const traderKey = (await createApiKey(gw.runtime.db, { role: 'trader', accountIds: [accountId], name: 'bot' })).key;
  // A falling market to warm up on: the fast average is below the slow one.
  const closes = [110, 109, 108, 107, 106, 105];
  for (const [i, close] of closes.entries()) await bar(symbol, i, close);

  const lines: string[] = [];
  const controller = new AbortController();
  const streams = gw.gateway.hub.size;
  const running = runBot({ url: gw.url, apiKey: traderKey, accountId, symbol, quantity: '5', fast: 2, slow: 6, signal: controller.signal, log: (l) => lines.push(l) });
  await waitForStreams(gw.gateway.hub, streams + 3, 10_000);

  // Up (a cross up: buy 5), down (a cross down: sell them), up again (buy 5).
  const moves = [107, 110, 114, 117, 112, 105, 99, 96, 101, 108, 115, 119];
  for (const [i, close] of moves.entries()) {
    await bar(symbol, closes.length + i, close);
    await new Promise((r) => setTimeout(r, 150));
  }
  await new Promise((r) => setTimeout(r, 1000));
  controller.abort();
  const report = await running;

  expect(report.bars).toBe(moves.length);
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
