/**
 * Two gateways' relays at once on one Redis: every outbox row is published exactly once, in sequence order, with no
 * gap, while both instances commit concurrently. Then one relay on a database of its own, publishing to a recorder:
 * it marks what it published with the watermark alone, republishes after a failed watermark, and prunes below it.
 */
import Redis from 'ioredis';
import { Client } from 'pg';
import type { PubSubEngine } from 'graphql-subscriptions';
import { startTestGateway, uniqueId, type TestGateway } from '../support/gateway';
import { createOwnDatabase } from '../support/env';
import type { PublishedEvent } from '../../src/platform/outbox';
import { DEFAULT_EVENTS_CHANNEL as EVENTS_CHANNEL, type PubSubHandle } from '../../src/platform/pubsub';
import { OutboxRelay } from '../../src/platform/outbox-relay';
import { loadConfig } from '../../src/config';
import { openDatabase, type Runtime } from '../../src/app';
import { createLogger } from '../../src/platform/logger';

const PUBLISHED = 'sequence <= (select published_sequence from execution.outbox_state where id = 1)';

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
    // A bound for a busy machine, not a latency claim (the fan-out bench measures that).
    const deadline = Date.now() + 30_000;
    while (mine().length < 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    expect(mine()).toHaveLength(100);
    expect(new Set(mine().map((e) => e.payload.order.orderId))).toEqual(orderIds);

    // In the order of their sequences, each once (other test files publish on the same channel, so only ours count).
    const sequences = mine().map((e) => BigInt(e.sequence));
    for (let i = 1; i < sequences.length; i++) expect(sequences[i] > sequences[i - 1]).toBe(true);
    const [row] = await a.runtime.db.read<{ n: string }>(
      `select count(*)::text as n from execution.outbox where account_id = ? and ${PUBLISHED}`, [acc], 'primary');
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
      `select count(*)::text as n from execution.outbox where account_id = ? and ${PUBLISHED}`, [acc], 'primary');
    expect(row.n).toBe('2500');
  });
});

describe('the relay watermark', () => {
  let own: { url: string; drop(): Promise<void> };
  let runtime: Runtime;
  let pg: Client;
  const sent: PublishedEvent[] = [];
  let onPublish: (event: PublishedEvent) => Promise<void> = async () => undefined;
  const pubsub = {
    engine: { publish: async (_channel: string, event: PublishedEvent) => { sent.push(event); await onPublish(event); } } as unknown as PubSubEngine,
    channel: 'relay-watermark-test', kind: 'memory', onResubscribed: () => undefined, ready: () => true, close: async () => undefined,
  } satisfies PubSubHandle;
  /** A fresh relay each time: its first tick also prunes. */
  const relay = (retentionMs = 86_400_000) => new OutboxRelay(runtime.db, pubsub, createLogger('silent'), { pollMs: 60_000, retentionMs });
  const one = async <T = any>(sql: string, params: unknown[] = []): Promise<T> => (await pg.query(sql, params)).rows[0];
  const watermark = async () => (await one<{ w: string }>('select published_sequence::text as w from execution.outbox_state where id = 1')).w;
  const insert = (count: number, age = '0 seconds') =>
    pg.query(
      `insert into execution.outbox (event_id, topic, payload, created_at)
       select gen_random_uuid(), 'TEST', jsonb_build_object('i', i), clock_timestamp() - $2::interval + i * interval '1 microsecond'
       from generate_series(1, $1::int) i`,
      [count, age],
    );

  beforeAll(async () => {
    own = await createOwnDatabase('tradeql_watermark');
    pg = new Client({ connectionString: own.url });
    await pg.connect();
    runtime = await openDatabase(loadConfig({ DATABASE_URL: own.url, LOG_LEVEL: 'silent' }), createLogger('silent'));
  });

  afterAll(async () => {
    await runtime?.close();
    await pg?.end();
    await own?.drop();
  });

  beforeEach(() => {
    sent.length = 0;
    onPublish = async () => undefined;
  });

  it('moves the watermark to the last sequence it published and updates no outbox row', async () => {
    await insert(5);
    // Each row's version as numbering left it, read while the relay publishes (numbering has committed by then).
    const numbered = new Map<string, string>();
    let read: Promise<void> | undefined;
    onPublish = () => (read ??= (async () => {
      const { rows } = await pg.query(`select event_id, xmin::text as xmin from execution.outbox where sequence is not null`);
      for (const r of rows) numbered.set(r.event_id, r.xmin);
    })());
    expect(await relay().runOnce()).toBe(5);
    expect(sent.map((e) => e.sequence)).toEqual(['1', '2', '3', '4', '5']);
    expect(await watermark()).toBe('5');
    const { rows } = await pg.query(`select event_id, xmin::text as xmin, published_at from execution.outbox`);
    expect(rows).toHaveLength(5);
    for (const r of rows) {
      expect(r.xmin).toBe(numbered.get(r.event_id));
      expect(r.published_at).toBeNull();
    }
    // Nothing above the watermark: the next tick publishes nothing.
    expect(await relay().runOnce()).toBe(0);
    expect(sent).toHaveLength(5);
  });

  it('publishes again, losing nothing, when the watermark fails after the publish', async () => {
    const before = await watermark();
    await insert(3);
    // The watermark update fails (as if the relay died between publish and watermark); numbering still works.
    await pg.query(`create function public.no_watermark() returns trigger language plpgsql as $$ begin raise exception 'no watermark'; end $$`);
    await pg.query(`create trigger no_watermark before update on execution.outbox_state for each row
                    when (old.published_sequence is distinct from new.published_sequence) execute function public.no_watermark()`);
    try {
      expect(await relay().runOnce()).toBe(0); // the tick failed after publishing
    } finally {
      await pg.query(`drop trigger no_watermark on execution.outbox_state; drop function public.no_watermark()`);
    }
    const first = sent.splice(0).map((e) => e.sequence);
    expect(first).toHaveLength(3);
    expect(await watermark()).toBe(before);

    expect(await relay().runOnce()).toBe(3);
    expect(sent.map((e) => e.sequence)).toEqual(first);
    expect(await watermark()).toBe(first[2]);
  });

  it('prunes published rows past the retention, by their created_at, and keeps those above the watermark', async () => {
    await pg.query(`delete from execution.outbox`);
    await insert(4, '3 days');
    expect(await relay(86_400_000).runOnce()).toBe(4);
    // Written as long ago, but not published yet when the next tick prunes (it prunes before moving the watermark).
    await insert(2, '2 days');
    await insert(1, '1 hour');
    expect(await relay(86_400_000).runOnce()).toBe(3);
    const { rows } = await pg.query(`select payload->>'i' as i, created_at < now() - interval '1 day' as old from execution.outbox order by sequence`);
    expect(rows).toEqual([{ i: '1', old: true }, { i: '2', old: true }, { i: '1', old: false }]);
    // The next relay's first tick prunes the two old ones, now published.
    expect(await relay(86_400_000).runOnce()).toBe(0);
    expect((await pg.query(`select payload->>'i' as i from execution.outbox`)).rows).toEqual([{ i: '1' }]);
  });
});
