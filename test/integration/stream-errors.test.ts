/**
 * Resumed subscriptions (afterSequence) on a gateway that keeps at most 10 events per subscriber, on a database of
 * this file's own: a backlog larger than that is replayed a page at a time at the subscriber's pace, and a catch-up
 * that cannot read the outbox ends the subscription with a coded, retryable error that says how to resume, never an
 * uncoded one.
 */
import type { Client } from 'graphql-ws';
import { createOwnDatabase, cutOff } from '../support/env';
import { startTestGateway, uniqueId, type TestGateway } from '../support/gateway';
import { openClient, subscribe } from '../support/subscriber';

let db: { url: string; drop(): Promise<void> };
let gw: TestGateway;
const clients: Client[] = [];
const SUBMIT = `mutation($input: SubmitOrderInput!) { submitOrder(input: $input) { orderId } }`;
const ORDER_EVENTS = `subscription($a: ID!) { orderUpdated(accountId: $a, afterSequence: "0") { sequence type } }`;

let reconnect: (() => Promise<void>) | undefined;

/** An account with `n` submitted orders: n events in the outbox. */
async function accountWithOrders(n: number): Promise<string> {
  const accountId = uniqueId('se');
  expect((await gw.gql(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`, { i: { accountId, name: 'stream errors' } })).errors).toBeUndefined();
  for (let i = 0; i < n; i++) {
    const r = await gw.gql(SUBMIT, { input: { accountId, clientOrderId: uniqueId('c'), symbol: 'SEVT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '1', limitPrice: '10' } });
    expect(r.errors).toBeUndefined();
  }
  return accountId;
}

beforeAll(async () => {
  db = await createOwnDatabase('tq_stream_errors');
  gw = await startTestGateway({ DATABASE_URL: db.url, DATABASE_REPLICA_URLS: '', SUBSCRIBER_QUEUE_LIMIT: '10', SYNC_ENABLED: 'false', API_KEY_CACHE_MS: '600000' });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await reconnect?.().catch(() => undefined);
  await gw?.stop();
  await db?.drop();
});

it('replays 35 missed events to a subscriber that may fall 10 behind, all of them, in order', async () => {
  const accountId = await accountWithOrders(35);
  const client = openClient(gw.wsUrl, gw.auth);
  clients.push(client);
  const sub = subscribe(client, ORDER_EVENTS, { a: accountId });
  const events = await sub.waitFor(35);
  const sequences = events.map((e: any) => Number(e.orderUpdated.sequence));
  expect(sequences).toEqual([...sequences].sort((x, y) => x - y));
  expect(new Set(sequences).size).toBe(35);
  expect(sub.errors).toEqual([]);
});

it('ends a subscription whose catch-up cannot read the outbox with a retryable INTERNAL_SERVER_ERROR and how to resume', async () => {
  const accountId = await accountWithOrders(3);
  const client = openClient(gw.wsUrl, gw.auth);
  clients.push(client);
  // connected (its key checked and remembered) before the primary goes away
  const first = subscribe(client, `subscription { marketDataUpdated(symbols: ["SEVT"]) { symbol } }`);
  const deadline = Date.now() + 5000;
  while (gw.gateway.hub.size === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  reconnect = await cutOff(db.url);
  try {
    const sub = subscribe(client, ORDER_EVENTS, { a: accountId });
    const until = Date.now() + 10_000;
    while (!sub.errors.length && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    const errors = sub.errors[0] as { message: string; extensions?: Record<string, unknown> }[];
    expect(errors).toHaveLength(1);
    expect(errors[0].extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR', retryable: true });
    expect(errors[0].message).toBe('could not read missed events; resubscribe with afterSequence = the last sequence you processed');
  } finally {
    await reconnect();
  }
  await first.close();
});
