/**
 * GET /metrics on a real gateway: every family is there, and each moves with the traffic that should move it
 * (HTTP query and mutation, an error code, replica reads, SQL on both connections, a WebSocket subscription, the
 * relay's publishing). A scrape does not hang on a replica that never answers.
 */
import net from 'node:net';
import { startTestGateway, syncReplica, uniqueId, type TestGateway } from '../support/gateway';
import { createOwnDatabase, testDatabase } from '../support/env';
import { openClient, subscribe, waitForStreams } from '../support/subscriber';
import { freePort } from '../support/redis-server';

const FAMILIES = [
  'tradeql_graphql_requests_total', 'tradeql_graphql_request_duration_seconds', 'tradeql_graphql_errors_total',
  'tradeql_sql_statement_duration_seconds', 'tradeql_sql_slow_statements_total', 'tradeql_db_pool_connections',
  'tradeql_reads_total', 'tradeql_websocket_connections', 'tradeql_subscriptions_active', 'tradeql_outbox_backlog',
  'tradeql_outbox_relay_lag_seconds', 'tradeql_events_published_total', 'tradeql_replica_lag_seconds',
  'tradeql_replica_errors_total', 'tradeql_rate_limited_total', 'process_cpu_user_seconds_total', 'nodejs_heap_size_used_bytes',
];
const CREATE = `mutation MetricsCreateAccount($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`;
const SUBMIT = `mutation MetricsSubmit($input: SubmitOrderInput!) { submitOrder(input: $input) { orderId } }`;

interface Scrape {
  status: number;
  contentType: string | null;
  text: string;
  /** Sum of the samples of `name` whose labels include `labels` (0 when none). */
  value(name: string, labels?: Record<string, string>): number;
}

async function scrape(gw: TestGateway): Promise<Scrape> {
  const res = await fetch(gw.url.replace('/graphql', '/metrics'));
  const text = await res.text();
  const samples = text.split('\n').flatMap((line) => {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) return [];
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    return [{ name: m[1], labels, value: Number(m[3]) }];
  });
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    text,
    value: (name, labels = {}) =>
      samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0),
  };
}

async function until(gw: TestGateway, check: (s: Scrape) => boolean, timeoutMs = 10_000): Promise<Scrape> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await scrape(gw);
    if (check(s)) return s;
    if (Date.now() > deadline) throw new Error(`metrics did not move in ${timeoutMs} ms:\n${s.text.split('\n').filter((l) => l.startsWith('tradeql_')).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const requests = (operation: string, type: string, outcome: string) => ['tradeql_graphql_requests_total', { operation, type, outcome }] as const;

describe('GET /metrics', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway({ SYNC_ENABLED: 'false', REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379' });
  });
  afterAll(async () => {
    await gw.stop();
  });

  it('serves every family in the Prometheus text format', async () => {
    const s = await scrape(gw);
    expect(s.status).toBe(200);
    expect(s.contentType).toContain('text/plain; version=0.0.4');
    for (const family of FAMILIES) expect(s.text).toMatch(new RegExp(`^# TYPE ${family} `, 'm'));
    expect(s.text).toMatch(/^tradeql_db_pool_connections\{connection="primary",state="used"\} \d+$/m);
    expect(s.text).toMatch(/^tradeql_db_pool_connections\{connection="replica",state="pending"\} \d+$/m);
    expect(s.text).toMatch(/^tradeql_replica_lag_seconds\{replica="replica-1"\} [\d.e-]+$/m);
    expect(s.value('tradeql_replica_errors_total', { replica: 'replica-1' })).toBe(0);
    expect(s.value('tradeql_outbox_backlog')).toBeGreaterThanOrEqual(0);
    expect(s.value('tradeql_outbox_relay_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(s.value('tradeql_rate_limited_total')).toBe(0);
  });

  it('counts operations, error codes, replica reads and SQL on both connections', async () => {
    const before = await scrape(gw);
    const acc = uniqueId('met');
    expect((await gw.post(CREATE, { i: { accountId: acc, name: 'metrics' } })).errors).toBeUndefined();
    await syncReplica(gw.runtime);
    const read = await gw.post(`query MetricsAccount($a: ID!) { account(accountId: $a) { accountId } }`, { a: acc });
    expect(read.extensions?.readFrom).toEqual(['replica']);
    const bad = await gw.post(`mutation MetricsBadAccount { createAccount(input: { accountId: "bad id", name: "x" }) { accountId } }`);
    expect(bad.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    const long = `Q${'a'.repeat(80)}`;
    await gw.post(`query ${long} { __typename }`);
    const unparsable = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', ...gw.auth }, body: JSON.stringify({ query: '{', operationName: 'bad-name!' }) });
    expect(unparsable.status).toBe(400);
    const after = await scrape(gw);

    const moved = (name: string, labels: Record<string, string> = {}) => after.value(name, labels) - before.value(name, labels);
    expect(moved(...requests('MetricsCreateAccount', 'mutation', 'success'))).toBe(1);
    expect(moved(...requests('MetricsAccount', 'query', 'success'))).toBe(1);
    expect(moved(...requests('MetricsBadAccount', 'mutation', 'error'))).toBe(1);
    expect(moved(...requests(long.slice(0, 64), 'query', 'success'))).toBe(1);
    expect(moved(...requests('invalid', 'unknown', 'error'))).toBe(1);
    expect(moved('tradeql_graphql_request_duration_seconds_count', { operation: 'MetricsAccount', type: 'query' })).toBe(1);
    expect(moved('tradeql_graphql_errors_total', { code: 'BAD_USER_INPUT' })).toBe(1);
    expect(moved('tradeql_graphql_errors_total', { code: 'GRAPHQL_PARSE_FAILED' })).toBe(1);
    expect(moved('tradeql_reads_total', { served_by: 'replica' })).toBeGreaterThan(0);
    expect(moved('tradeql_sql_statement_duration_seconds_count', { connection: 'primary' })).toBeGreaterThan(0);
    expect(moved('tradeql_sql_statement_duration_seconds_count', { connection: 'replica' })).toBeGreaterThan(0);
  });

  it('shows open WebSocket connections and subscriptions, and their end', async () => {
    const acc = uniqueId('met');
    await gw.post(CREATE, { i: { accountId: acc, name: 'metrics' } });
    const client = openClient(gw.wsUrl, gw.auth);
    try {
      const sub = subscribe(client, `subscription MetricsOrders($a: ID!) { orderUpdated(accountId: $a) { sequence } }`, { a: acc });
      await waitForStreams(gw.gateway.hub, 1);
      // The stream is registered a moment before graphql-ws reports the subscription set up.
      const open = await until(gw, (s) => s.value(...requests('MetricsOrders', 'subscription', 'success')) === 1);
      expect(open.value('tradeql_websocket_connections')).toBeGreaterThanOrEqual(1);
      expect(open.value('tradeql_subscriptions_active')).toBeGreaterThanOrEqual(1);
      expect(open.value('tradeql_graphql_request_duration_seconds_count', { operation: 'MetricsOrders', type: 'subscription' })).toBe(1);

      await gw.post(SUBMIT, { input: { accountId: acc, clientOrderId: 'm-1', symbol: 'MTRC', side: 'BUY', type: 'MARKET', quantity: '1' } });
      await sub.waitFor(1);
      await sub.close();
      await until(gw, (s) => s.value('tradeql_subscriptions_active') === 0);
    } finally {
      await client.dispose();
    }
    await until(gw, (s) => s.value('tradeql_websocket_connections') === 0);
  });

  it('counts the events its relay publishes (on a database of its own, so no other relay takes them)', async () => {
    const own = await createOwnDatabase('tradeql_metrics');
    const solo = await startTestGateway({ DATABASE_URL: own.url, DATABASE_REPLICA_URLS: '', SYNC_ENABLED: 'false' });
    try {
      const before = await scrape(solo);
      expect(before.text).toMatch(/^# TYPE tradeql_replica_lag_seconds gauge$/m);
      const acc = uniqueId('met');
      await solo.post(CREATE, { i: { accountId: acc, name: 'metrics' } });
      const r = await solo.post(SUBMIT, { input: { accountId: acc, clientOrderId: 'm-2', symbol: 'MTRC', side: 'BUY', type: 'MARKET', quantity: '1' } });
      expect(r.errors).toBeUndefined();
      const after = await until(solo, (s) => s.value('tradeql_events_published_total') > before.value('tradeql_events_published_total'));
      expect(after.value('tradeql_reads_total', { served_by: 'replica' })).toBe(0);
      await until(solo, (s) => s.value('tradeql_outbox_backlog') === 0 && s.value('tradeql_outbox_relay_lag_seconds') === 0);
    } finally {
      await solo.stop();
      await own.drop();
    }
  });

  it('counts unnumbered rows and rows above the relay watermark as the backlog, the oldest of them as the lag', async () => {
    const own = await createOwnDatabase('tradeql_metrics_wm');
    // Polls once at start, then not again within the test: only a wake publishes.
    const solo = await startTestGateway({ DATABASE_URL: own.url, DATABASE_REPLICA_URLS: '', SYNC_ENABLED: 'false', OUTBOX_POLL_MS: '600000' });
    try {
      await new Promise((r) => setTimeout(r, 50));
      await solo.gateway.relay.runOnce();
      const sql = (q: string) => solo.runtime.db.em().execute(q);
      // 1 published (an hour old), 3 numbered above the watermark (a minute old), 2 not numbered yet.
      await sql(`insert into execution.outbox (event_id, topic, payload, created_at, sequence)
                 select gen_random_uuid(), 'TEST', '{}', now() - case when g = 1 then interval '1 hour' else interval '1 minute' end, g
                 from generate_series(1, 4) g`);
      await sql(`update execution.outbox_state set last_sequence = 4, published_sequence = 1`);
      await sql(`insert into execution.outbox (event_id, topic, payload, created_at)
                 select gen_random_uuid(), 'TEST', '{}', now() - interval '10 seconds' from generate_series(1, 2)`);
      const s = await scrape(solo);
      expect(s.value('tradeql_outbox_backlog')).toBe(5);
      expect(s.value('tradeql_outbox_relay_lag_seconds')).toBeGreaterThanOrEqual(60);
      expect(s.value('tradeql_outbox_relay_lag_seconds')).toBeLessThan(600);
      solo.gateway.relay.wake();
      await until(solo, (x) => x.value('tradeql_outbox_backlog') === 0 && x.value('tradeql_outbox_relay_lag_seconds') === 0);
    } finally {
      await solo.stop();
      await own.drop();
    }
  });

  it('answers within its time box when a replica never answers, and counts the failure', async () => {
    // Accepts connections and says nothing: a replica that hangs rather than refuses.
    const sockets = new Set<net.Socket>();
    const blackHole = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    const port = await freePort();
    await new Promise<void>((resolve) => blackHole.listen(port, '127.0.0.1', () => resolve()));
    const replica = new URL(testDatabase().replicaUrl);
    replica.port = String(port);
    const hung = await startTestGateway({ DATABASE_REPLICA_URLS: replica.toString(), REPLICA_CONNECT_TIMEOUT_MS: '20000', SYNC_ENABLED: 'false' }, { syncReads: false });
    try {
      for (let i = 1; i <= 2; i++) {
        const started = Date.now();
        const s = await scrape(hung);
        expect(Date.now() - started).toBeLessThan(5000);
        expect(s.status).toBe(200);
        // prom-client writes NaN as "Nan"; Prometheus reads it either way.
        expect(s.text).toMatch(/^tradeql_replica_lag_seconds\{replica="replica-1"\} nan$/im);
        expect(s.value('tradeql_replica_errors_total', { replica: 'replica-1' })).toBe(i);
        expect(s.value('tradeql_outbox_backlog')).toBeGreaterThanOrEqual(0);
      }
    } finally {
      // Ends the pending connection attempts, which the pool would otherwise wait for on close.
      const closed = new Promise<void>((resolve) => blackHole.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
      await hung.stop();
    }
  });

  it('has no /metrics with METRICS_ENABLED=false', async () => {
    const off = await startTestGateway({ METRICS_ENABLED: 'false', SYNC_ENABLED: 'false' });
    try {
      expect((await fetch(off.url.replace('/graphql', '/metrics'))).status).toBe(404);
    } finally {
      await off.stop();
    }
  });
});
