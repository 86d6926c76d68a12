/**
 * Two gateways' relays at once on one Redis: every outbox row is published exactly once, in sequence order, with no
 * gap, while both instances commit concurrently.
 */
import Redis from 'ioredis';
import { startTestGateway, uniqueId, type TestGateway } from '../support/gateway';
import type { PublishedEvent } from '../../src/platform/outbox';
import { DEFAULT_EVENTS_CHANNEL as EVENTS_CHANNEL } from '../../src/platform/pubsub';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('outbox relays', () => {
  let a: TestGateway;
  let b: TestGateway;
  let listener: Redis;
  const seen: PublishedEvent[] = [];

  beforeAll(async () => {
    a = await startTestGateway({ REDIS_URL, SYNC_ENABLED: 'false', OUTBOX_POLL_MS: '50' });
    b = await startTestGateway({ REDIS_URL, SYNC_ENABLED: 'false', OUTBOX_POLL_MS: '50' });
    listener = new Redis(REDIS_URL);
    await listener.subscribe(EVENTS_CHANNEL);
    listener.on('message', (_channel, message) => seen.push(JSON.parse(message)));
  });

  afterAll(async () => {
    listener.disconnect();
    await a.stop();
    await b.stop();
  });

  it('publishes each event once, in order, with no gap, while two instances write and relay concurrently', async () => {
    const acc = uniqueId('relay');
    await a.gql(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`, { i: { accountId: acc, name: 'relay' } });
    const submit = (gw: TestGateway, i: number) => gw.gql(`mutation($input: SubmitOrderInput!) { submitOrder(input: $input) { orderId } }`,
      { input: { accountId: acc, clientOrderId: `r-${i}`, symbol: 'RLY', side: 'BUY', type: 'MARKET', quantity: '1' } });
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => submit(i % 2 ? a : b, i)));
    expect(results.filter((r) => r.errors)).toEqual([]);
    const orderIds = new Set(results.map((r) => r.data.submitOrder.orderId));

    const mine = () => seen.filter((e) => e.accountId === acc);
    const deadline = Date.now() + 10_000;
    while (mine().length < 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    expect(mine()).toHaveLength(100);
    expect(new Set(mine().map((e) => e.payload.order.orderId))).toEqual(orderIds);

    // In the order of their sequences, each once (other test files publish on the same channel, so only ours count).
    const sequences = mine().map((e) => BigInt(e.sequence));
    for (let i = 1; i < sequences.length; i++) expect(sequences[i] > sequences[i - 1]).toBe(true);
    const [row] = await a.runtime.db.read<{ n: string }>(
      `select count(*)::text as n from execution.outbox where account_id = ? and published_at is not null`, [acc], 'primary');
    expect(row.n).toBe('100');
  });

  it('publishes a backlog of several batches (2,500 rows) in order, each once, and marks them all', async () => {
    const acc = uniqueId('rl-backlog');
    // Rows as a burst of commits leaves them: written, not yet numbered (the relays number them as they go).
    await a.runtime.db.em().execute(
      `insert into execution.outbox (event_id, topic, account_id, symbol, payload, created_at)
       select gen_random_uuid(), 'ORDER_UPDATED', ?, 'RLB', jsonb_build_object('i', i), clock_timestamp() + i * interval '1 microsecond'
       from generate_series(1, 2500) i`, [acc]);
    a.gateway.relay.wake();
    const mine = () => seen.filter((e) => e.accountId === acc);
    const deadline = Date.now() + 20_000;
    while (mine().length < 2500 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    expect(mine()).toHaveLength(2500);
    // written order = sequence order = arrival order
    expect(mine().map((e) => e.payload.i)).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1));
    const sequences = mine().map((e) => BigInt(e.sequence));
    for (let i = 1; i < sequences.length; i++) expect(sequences[i] > sequences[i - 1]).toBe(true);
    const [row] = await a.runtime.db.read<{ n: string }>(
      `select count(*)::text as n from execution.outbox where account_id = ? and published_at is not null`, [acc], 'primary');
    expect(row.n).toBe('2500');
  });
});
