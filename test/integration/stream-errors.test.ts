/**
 * A subscription whose stream fails ends with a GraphQL error the client can act on: the code and message of the
 * failure, never an uncoded error. Here a subscriber falls behind: the gateway keeps at most 10 events per subscriber,
 * and a resumed subscription (afterSequence) replays 15 at once, so it ends with RATE_LIMITED and how to resume.
 */
import { startTestGateway, uniqueId, type TestGateway } from '../support/gateway';
import { openClient, subscribe } from '../support/subscriber';
import type { Client } from 'graphql-ws';

let gw: TestGateway;
const clients: Client[] = [];
const SUBMIT = `mutation($input: SubmitOrderInput!) { submitOrder(input: $input) { orderId } }`;

beforeAll(async () => {
  gw = await startTestGateway({ SUBSCRIBER_QUEUE_LIMIT: '10', SYNC_ENABLED: 'false' });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await gw?.stop();
});

it('ends the subscription of a subscriber that fell behind with RATE_LIMITED and how to resume', async () => {
  const accountId = uniqueId('se');
  expect((await gw.gql(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`, { i: { accountId, name: 'stream errors' } })).errors).toBeUndefined();
  for (let i = 0; i < 15; i++) {
    const r = await gw.gql(SUBMIT, { input: { accountId, clientOrderId: uniqueId('c'), symbol: 'SEVT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '1', limitPrice: '10' } });
    expect(r.errors).toBeUndefined();
  }
  const client = openClient(gw.wsUrl, gw.auth);
  clients.push(client);
  const sub = subscribe(client, `subscription($a: ID!) { orderUpdated(accountId: $a, afterSequence: "0") { sequence } }`, { a: accountId });
  const until = Date.now() + 10_000;
  while (!sub.errors.length && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  const errors = sub.errors[0] as { message: string; extensions?: Record<string, unknown> }[];
  expect(errors).toHaveLength(1);
  expect(errors[0].extensions).toEqual({ code: 'RATE_LIMITED' });
  expect(errors[0].message).toBe('subscriber fell more than 10 events behind; resubscribe with afterSequence = the last sequence you processed');
});
