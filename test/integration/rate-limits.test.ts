/**
 * Per-key rate limits (separate budgets for reads and mutations) shared by gateways through Redis, in memory
 * without Redis; and the statement timeout of request transactions.
 */
import { Client as PgClient } from 'pg';
import { startTestGateway, uniqueId, type TestGateway } from '../support/gateway';
import { testDatabase } from '../support/env';
import { openClient, subscribe } from '../support/subscriber';

const READ = `{ latestBar(symbol: "NONE") { close } }`;
const CREATE = `mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`;
const LIMITS = { RATE_LIMIT_READS_PER_SEC: '3', RATE_LIMIT_MUTATIONS_PER_SEC: '2', SYNC_ENABLED: 'false' };

/** Waits until the start of a fresh one-second window is near, so a burst is not split across two windows. */
async function freshWindow(): Promise<void> {
  await new Promise((r) => setTimeout(r, 1100));
}

describe('rate limits on Redis, shared by two gateways', () => {
  let a: TestGateway;
  let b: TestGateway;
  beforeAll(async () => {
    // A channel of their own: the limiter's keys are named after it, so other test files' gateways never share them.
    const channel = `tradeql.events.rl.${process.pid}.${Date.now().toString(36)}`;
    a = await startTestGateway({ ...LIMITS, EVENTS_CHANNEL: channel });
    b = await startTestGateway({ ...LIMITS, EVENTS_CHANNEL: channel });
  });
  afterAll(async () => {
    await a.stop();
    await b.stop();
  });

  it('refuses the fourth read of a second with RATE_LIMITED, 429 and Retry-After; mutations have a budget of their own', async () => {
    const key = { authorization: `Bearer ${await a.createKey('admin')}` };
    await freshWindow();
    // At once, half through each gateway: one budget in Redis, so exactly three pass.
    const answers = await Promise.all([0, 1, 2, 3].map((i) => (i % 2 ? b : a).post(READ, undefined, key)));
    expect(answers.filter((r) => !r.errors).length).toBe(3);
    const limited = answers.find((r) => r.errors)!;
    expect(limited.status).toBe(429);
    expect(limited.errors?.[0].extensions).toEqual({ code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) });
    expect(limited.errors?.[0].extensions?.retryAfterMs).toBeGreaterThan(0);
    expect(limited.errors?.[0].extensions?.retryAfterMs).toBeLessThanOrEqual(1000);
    expect(limited.data).toBeUndefined();

    // Reads spent, mutations still go: two, then the third is refused and changes nothing.
    const ids = [uniqueId('rl'), uniqueId('rl'), uniqueId('rl')];
    const made = await Promise.all(ids.map((id) => a.post(CREATE, { i: { accountId: id, name: 'rl' } }, key)));
    expect(made.filter((r) => !r.errors).length).toBe(2);
    const refused = made.findIndex((r) => r.errors);
    expect(made[refused].errors?.[0].extensions?.code).toBe('RATE_LIMITED');
    const [{ n }] = await a.runtime.db.read<{ n: string }>('select count(*)::text as n from execution.accounts where account_id = ?', [ids[refused]], 'primary');
    expect(n).toBe('0');

    // Another key has its own budget; after the window, the first key reads again.
    expect((await a.post(READ, undefined, { authorization: `Bearer ${await a.createKey('admin')}` })).errors).toBeUndefined();
    await new Promise((r) => setTimeout(r, limited.errors![0].extensions!.retryAfterMs + 50));
    expect((await a.post(READ, undefined, key)).errors).toBeUndefined();
  });

  it('counts a new subscription as a read, refused with RATE_LIMITED over WebSocket', async () => {
    const key = await a.createKey('admin');
    await freshWindow();
    await Promise.all([0, 1, 2].map(() => a.post(READ, undefined, { authorization: `Bearer ${key}` })));
    const client = openClient(a.wsUrl, { authorization: `Bearer ${key}` });
    try {
      const sub = subscribe(client, `subscription { marketDataUpdated(symbols: ["NONE"]) { close } }`);
      const deadline = Date.now() + 5000;
      while (!sub.errors.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect((sub.errors[0] as any)?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
    } finally {
      await client.dispose();
    }
  });

  it('counts a mutation over WebSocket against the mutation budget, not the reads', async () => {
    const key = await a.createKey('admin');
    await freshWindow();
    await Promise.all([0, 1].map(() => a.post(CREATE, { i: { accountId: uniqueId('rlw'), name: 'ws' } }, { authorization: `Bearer ${key}` })));
    const client = openClient(a.wsUrl, { authorization: `Bearer ${key}` });
    try {
      const mutation = subscribe(client, `mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`, { i: { accountId: uniqueId('rlw'), name: 'ws' } });
      const read = subscribe(client, READ);
      const deadline = Date.now() + 5000;
      while ((!mutation.errors.length || !read.events.length) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect((mutation.errors[0] as any)?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
      expect(read.events).toHaveLength(1);
    } finally {
      await client.dispose();
    }
  });

  it('counts refusals in tradeql_rate_limited_total', async () => {
    const text = await (await fetch(a.url.replace('/graphql', '/metrics'))).text();
    const value = (budget: string) => Number(new RegExp(`^tradeql_rate_limited_total\\{budget="${budget}"\\} (\\d+)`, 'm').exec(text)?.[1]);
    expect(value('read')).toBeGreaterThanOrEqual(1);
    expect(value('mutation')).toBeGreaterThanOrEqual(1);
  });
});

describe('rate limits in memory (no Redis)', () => {
  it('limits per key all the same', async () => {
    const gw = await startTestGateway({ ...LIMITS, REDIS_URL: '' });
    try {
      await freshWindow();
      const codes = (await Promise.all([0, 1, 2, 3, 4].map(() => gw.post(READ)))).map((r) => r.errors?.[0].extensions?.code ?? 'ok');
      expect(codes.sort()).toEqual(['RATE_LIMITED', 'RATE_LIMITED', 'ok', 'ok', 'ok']);
    } finally {
      await gw.stop();
    }
  });
});

describe('statement timeout of request transactions', () => {
  it('cancels a statement that waits longer than REQUEST_STATEMENT_TIMEOUT_MS, with a clear error and nothing changed', async () => {
    const gw = await startTestGateway({ REQUEST_STATEMENT_TIMEOUT_MS: '300', SYNC_ENABLED: 'false' });
    const pg = new PgClient({ connectionString: testDatabase().databaseUrl });
    await pg.connect();
    try {
      const account = uniqueId('st');
      await gw.gql(CREATE, { i: { accountId: account, name: 'timeout' } });
      const placed = await gw.gql(`mutation($i: SubmitOrderInput!) { submitOrder(input: $i) { orderId } }`,
        { i: { accountId: account, clientOrderId: 'st-1', symbol: 'STMO', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '1', limitPrice: '1' } });
      const orderId = placed.data.submitOrder.orderId;
      await pg.query('begin');
      await pg.query('select 1 from execution.orders where order_id = $1 for update', [orderId]);
      const started = Date.now();
      const r = await gw.post(`mutation($o: ID!) { cancelOrder(orderId: $o) { status } }`, { o: orderId });
      const took = Date.now() - started;
      await pg.query('rollback');
      expect(r.errors?.[0].extensions).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', reason: 'STATEMENT_TIMEOUT', retryable: true });
      expect(r.errors?.[0].message).not.toMatch(/select|execution\.|orders/i);
      expect(took).toBeGreaterThanOrEqual(250);
      const [row] = (await pg.query('select status, version from execution.orders where order_id = $1', [orderId])).rows;
      expect(row).toEqual({ status: 'NEW', version: 1 });
    } finally {
      await pg.end();
      await gw.stop();
    }
  });
});
