/**
 * Monitoring on a real gateway: slow statements, attributed to the request (X-Request-Id) and operation that ran them,
 * land in the log and in logging.performance_logs without their values; performanceSummary counts per service and
 * operation, over HTTP and WebSocket; warnings (not info lines) land in logging.system_logs with the request's id.
 */
import { Client as PgClient } from 'pg';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { create as createApiKey } from '../../src/modules/accounts/api-keys.service';
import { startTestGateway, syncReplica, uniqueId, type TestGateway } from '../support/gateway';
import { testDatabase } from '../support/env';
import { subscribe, waitForStreams } from '../support/subscriber';
import { requestContext } from '../../src/platform/request-context';
import { redactStatement } from '../../src/platform/query-performance';
import { SystemLog } from '../../src/platform/system-log';
import { createLogger } from '../../src/platform/logger';

const CREATE = `mutation MonitoringCreateAccount($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`;
const SUBMIT = `mutation MonitoringSubmit($input: SubmitOrderInput!) { submitOrder(input: $input) { orderId } }`;
const SUMMARY = `query MonitoringSummary($limit: Int) { performanceSummary { since slowQueryMs
  operations { service operation queryCount totalMs averageMs slowCount }
  recentSlow(limit: $limit) { timestamp service operation durationMs statement correlationId } } }`;

/** performanceSummary is for admin keys: one per gateway's database, made on first use. */
const adminKeys = new WeakMap<TestGateway, Record<string, string>>();
async function adminAuth(gw: TestGateway): Promise<Record<string, string>> {
  let auth = adminKeys.get(gw);
  if (!auth) {
    const { key } = await createApiKey(gw.runtime.db, { role: 'admin', accountIds: [], name: 'monitoring test' });
    auth = { authorization: `Bearer ${key}` };
    adminKeys.set(gw, auth);
  }
  return auth;
}

type Row = Record<string, any>;

/** Rows of `sql` on the primary once `ready(rows)` holds, flushing the gateway's writers first. */
async function rowsWhen(gw: TestGateway, sql: string, params: unknown[], ready: (rows: Row[]) => boolean, timeoutMs = 10_000): Promise<Row[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await gw.gateway.performance.flush();
    await gw.gateway.systemLog.writer.flush();
    const rows = await gw.runtime.db.read(sql, params, 'primary');
    if (ready(rows)) return rows;
    if (Date.now() > deadline) throw new Error(`rows not there in ${timeoutMs} ms: ${JSON.stringify(rows)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not so within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Runs `submit` (an order for `account`) while the account's row is held: the order's insert waits on it (its foreign
 * key check) until 50 ms after it started waiting, a statement slow for certain.
 */
async function slowInsert<T>(gw: TestGateway, account: string, submit: () => Promise<T>): Promise<T> {
  const pg = new PgClient({ connectionString: testDatabase().databaseUrl });
  await pg.connect();
  try {
    await pg.query('begin');
    await pg.query('select 1 from execution.accounts where account_id = $1 for update', [account]);
    const pending = submit();
    await waitFor(async () => (await gw.runtime.db.read(`select 1 from pg_stat_activity where datname = current_database()
      and wait_event_type = 'Lock' and query like '%insert into execution.orders%'`, [], 'primary')).length > 0);
    await new Promise((r) => setTimeout(r, 50));
    await pg.query('commit');
    return await pending;
  } finally {
    await pg.end();
  }
}

const entry = (ops: Row[], service: string, operation: string) => ops.find((o) => o.service === service && o.operation === operation);

describe('slow statements (SLOW_QUERY_MS=1)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ SLOW_QUERY_MS: '1', SYNC_ENABLED: 'false' });
  });
  afterAll(async () => {
    await gw.stop();
  });

  it('are logged to logging.performance_logs with the request id and operation, and without their values', async () => {
    const account = uniqueId('mon');
    const clientOrderId = uniqueId('secret');
    expect((await gw.post(CREATE, { i: { accountId: account, name: 'Monitoring' } })).errors).toBeUndefined();
    const requestId = uniqueId('req');

    const response = await slowInsert(gw, account, () => fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': requestId, ...gw.auth },
      body: JSON.stringify({ query: SUBMIT, variables: { input: { accountId: account, clientOrderId, symbol: 'MONX', side: 'BUY', type: 'MARKET', quantity: '1' } } }),
    }));
    expect(response.headers.get('x-request-id')).toBe(requestId);
    expect(((await response.json()) as Row).errors).toBeUndefined();

    const rows = await rowsWhen(gw, `select service, operation, duration_ms::float8 as ms, statement, details from logging.performance_logs
      where correlation_id = ? order by id`, [requestId], (r) => r.some((row) => row.ms >= 40 && /insert into/i.test(row.statement)));
    // The API key is looked up (unless remembered) before the operation is known: that statement is the gateway's.
    const auth = rows.filter((r) => /from execution\.api_keys/.test(r.statement));
    expect(auth.every((r) => r.service === 'gateway' && r.operation === 'unknown')).toBe(true);
    const work = rows.filter((r) => !auth.includes(r));
    expect(work.length).toBeGreaterThan(0);
    expect(work.every((r) => r.service === 'orders' && r.operation === 'MonitoringSubmit')).toBe(true);
    const insert = work.find((r) => r.ms >= 40 && /insert into/i.test(r.statement))!;
    expect(insert.statement).toMatch(/insert into/i);
    expect(insert.details).toMatchObject({ connection: 'primary', slowQueryMs: 1 });
    for (const row of rows) {
      for (const value of [account, clientOrderId, 'MONX']) expect(row.statement).not.toContain(value);
    }

    // The same statements, logged at warn, are in logging.system_logs with the same id.
    const logged = await rowsWhen(gw, `select level, service, event_type, message, details from logging.system_logs where correlation_id = ?`, [requestId],
      (r) => r.some((row) => row.message === 'slow SQL statement' && row.details.statement === insert.statement));
    const warn = logged.find((row) => row.details.statement === insert.statement)!;
    expect(warn).toMatchObject({ level: 'warn', event_type: 'query-performance', service: 'tradeql', details: { operation: 'MonitoringSubmit', module: 'orders', connection: 'primary' } });
    expect(warn.details.statement).toBe(insert.statement);
    expect(JSON.stringify(logged)).not.toContain(clientOrderId);
  });

  it('performanceSummary is for admin keys only', async () => {
    expect((await gw.gql(SUMMARY, { limit: 1 }, { authorization: '' })).errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    const acc = uniqueId('mon');
    await gw.gql(`mutation { createAccount(input: {accountId: "${acc}", name: "v"}) { accountId } }`);
    const { key } = await createApiKey(gw.runtime.db, { role: 'viewer', accountIds: [acc], name: 'viewer' });
    expect((await gw.gql(SUMMARY, { limit: 1 }, { authorization: `Bearer ${key}` })).errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });

  it('performanceSummary counts per service and operation, and moves with traffic (HTTP and WebSocket)', async () => {
    // A key that wrote nothing: its reads carry no remembered consistency token (whose check is a statement too);
    // used once first, since a key's first use also records last_used_at.
    const reader = { authorization: `Bearer ${await gw.createKey('admin')}` };
    await gw.post(`{ latestBar(symbol: "MONX") { close } }`, undefined, reader);
    await new Promise((r) => setTimeout(r, 200));
    const before = await gw.gql(SUMMARY, { limit: 5 }, await adminAuth(gw));
    expect(before.errors).toBeUndefined();
    const s0 = before.data.performanceSummary;
    expect(s0.slowQueryMs).toBe(1);
    expect(Date.parse(s0.since)).toBeLessThanOrEqual(Date.now());
    const count0 = entry(s0.operations, 'market-data', 'MonitoringLatest')?.queryCount ?? 0;

    for (let i = 0; i < 3; i++) expect((await gw.post(`query MonitoringLatest { latestBar(symbol: "MONX") { close } }`, undefined, reader)).errors).toBeUndefined();
    expect((await gw.post(`{ account(accountId: "nobody") { name } }`)).errors).toBeUndefined();

    const after = (await gw.gql(SUMMARY, { limit: 5 }, await adminAuth(gw))).data.performanceSummary;
    const latest = entry(after.operations, 'market-data', 'MonitoringLatest')!;
    expect(latest.queryCount).toBe(count0 + 3);
    expect(latest.totalMs).toBeGreaterThan(0);
    expect(latest.averageMs).toBeCloseTo(latest.totalMs / latest.queryCount, 2);
    // Anonymous: named after its root field.
    expect(entry(after.operations, 'accounts', 'account')?.queryCount).toBeGreaterThanOrEqual(1);
    expect((await gw.gql(SUMMARY, { limit: 0 }, await adminAuth(gw))).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');

    // WebSocket (the request id from the upgrade request): a query, a mutation whose insert is slow, and a
    // subscription whose events read (order.account) in the subscription's name.
    const wsRequestId = uniqueId('ws');
    class WithRequestId extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { headers: { 'x-request-id': wsRequestId } });
      }
    }
    const client = createClient({ url: gw.wsUrl, webSocketImpl: WithRequestId, lazy: false, retryAttempts: 0, connectionParams: gw.auth });
    try {
      const q = subscribe(client, `query MonitoringWsLatest { latestBar(symbol: "MONX") { close } }`);
      await q.waitFor(1);
      const account = uniqueId('monws');
      await gw.post(CREATE, { i: { accountId: account, name: 'Ws' } });
      const submitted = await slowInsert(gw, account, () =>
        subscribe(client, `mutation MonitoringWsSubmit($input: SubmitOrderInput!) { submitOrder(input: $input) { orderId } }`,
          { input: { accountId: account, clientOrderId: 'ws-0', symbol: 'MONX', side: 'BUY', type: 'MARKET', quantity: '1' } }).waitFor(1));
      expect(submitted[0].submitOrder.orderId).toEqual(expect.any(String));
      const sub = subscribe(client, `subscription MonitoringWsOrders($a: ID!) { orderUpdated(accountId: $a) { sequence order { clientOrderId account { name } } } }`, { a: account });
      await waitForStreams(gw.gateway.hub, 1);
      const opened = entry(gw.gateway.performance.summary(), 'subscriptions', 'MonitoringWsOrders')?.queryCount ?? 0;
      await gw.post(SUBMIT, { input: { accountId: account, clientOrderId: 'ws-1', symbol: 'MONX', side: 'BUY', type: 'MARKET', quantity: '1' } });
      // ws-0's event may come first (its relay can publish after the stream opened, and before `opened` was read): the
      // read that must be counted is the one for ws-1's event.
      let events = await sub.waitFor(1);
      while (!events.some((e) => e.orderUpdated.order.clientOrderId === 'ws-1')) events = await sub.waitFor(events.length + 1);
      for (const event of events) expect(event.orderUpdated.order.account.name).toBe('Ws');
      await sub.close();
      const ops = gw.gateway.performance.summary();
      expect(entry(ops, 'market-data', 'MonitoringWsLatest')?.queryCount).toBeGreaterThanOrEqual(1);
      expect(entry(ops, 'subscriptions', 'MonitoringWsOrders')!.queryCount).toBeGreaterThan(opened);
    } finally {
      await client.dispose();
    }
    const wsRows = await rowsWhen(gw, 'select service, operation, duration_ms::float8 as ms from logging.performance_logs where correlation_id = ?',
      [wsRequestId], (r) => r.some((row) => row.ms >= 40));
    expect(wsRows.find((row) => row.ms >= 40)).toMatchObject({ service: 'orders', operation: 'MonitoringWsSubmit' });
    for (const row of wsRows) expect(['MonitoringWsLatest', 'MonitoringWsSubmit', 'MonitoringWsOrders']).toContain(row.operation);

    // recentSlow: newest first, from the table.
    await syncReplica(gw.runtime);
    const recent = (await gw.gql(SUMMARY, { limit: 200 }, await adminAuth(gw))).data.performanceSummary.recentSlow;
    const mine = recent.find((r: Row) => r.correlationId === wsRequestId && r.durationMs >= 40);
    expect(mine).toEqual({ timestamp: expect.any(String), service: 'orders', operation: 'MonitoringWsSubmit', durationMs: expect.any(Number), statement: expect.stringMatching(/insert into execution\.orders/), correlationId: wsRequestId });
    const times = recent.map((r: Row) => Date.parse(r.timestamp));
    expect(times).toEqual([...times].sort((x, y) => y - x));
    expect((await gw.gql(SUMMARY, { limit: 3 }, await adminAuth(gw))).data.performanceSummary.recentSlow.length).toBeLessThanOrEqual(3);
  });
});

describe('the slow threshold (SLOW_QUERY_MS=200)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ SLOW_QUERY_MS: '200', SYNC_ENABLED: 'false' });
  });
  afterAll(async () => {
    await gw.stop();
  });

  it('records a 250 ms statement and not a 1 ms one', async () => {
    const fast = uniqueId('fast');
    const slow = uniqueId('slow');
    const run = (requestId: string, seconds: number) =>
      requestContext.run({ requestId, service: 'gateway', operation: 'MonitoringSleep' }, () => gw.runtime.db.read(`select pg_sleep(${seconds}), 'x' as marker`, [], 'primary'));
    // A warm connection first: a busy machine can take tens of milliseconds to open one.
    await gw.runtime.db.read('select 1', [], 'primary');
    await run(fast, 0.001);
    await run(slow, 0.25);
    // Queued in order: once the slow one is written, the fast one would have been too.
    const rows = await rowsWhen(gw, `select correlation_id, operation, duration_ms::float8 as ms, statement from logging.performance_logs where correlation_id in (?, ?)`,
      [fast, slow], (r) => r.length > 0);
    expect(rows).toEqual([{ correlation_id: slow, operation: 'MonitoringSleep', ms: expect.any(Number), statement: 'select pg_sleep(0.25), ? as marker' }]);
    expect(rows[0].ms).toBeGreaterThanOrEqual(200);
    const sleep = gw.gateway.performance.summary().find((o) => o.operation === 'MonitoringSleep')!;
    expect(sleep).toMatchObject({ service: 'gateway', queryCount: 2, slowCount: 1 });
  });
});

describe('logging.system_logs', () => {
  let down: TestGateway;
  beforeAll(async () => {
    // A replica URL where nothing listens: reads fall back to the primary with a warning.
    down = await startTestGateway({ DATABASE_REPLICA_URLS: 'postgres://postgres@127.0.0.1:1/postgres', REPLICA_CONNECT_TIMEOUT_MS: '500', SYNC_ENABLED: 'false' }, { syncReads: false });
  });
  afterAll(async () => {
    await down.stop();
  });

  it('stores a warning logged inside a request (replica down) with the request id and details', async () => {
    const requestId = uniqueId('down');
    const r = await down.post(`query MonitoringDown { latestBar(symbol: "MONX") { close } }`, {}, { 'x-request-id': requestId });
    expect(r.errors).toBeUndefined();
    expect(r.extensions?.readFrom).toEqual(['primary']);
    const rows = await rowsWhen(down, `select level, service, event_type, message, details from logging.system_logs where correlation_id = ?`, [requestId], (found) => found.length > 0);
    expect(rows).toEqual([{ level: 'warn', service: 'tradeql', event_type: 'database', message: 'read replica unavailable; reading from the primary', details: expect.anything() }]);
    expect(rows[0].details).toMatchObject({ retryInMs: 5000, err: { message: expect.any(String) } });
  });

  it('stores warnings and errors (with their stack), not info lines; the id from the child logger or the context', async () => {
    const log = createLogger('silent');
    const systemLog = new SystemLog(down.runtime.db, log);
    const id = uniqueId('lines');
    const fromContext = uniqueId('ctx');
    try {
      const child = log.child({ component: 'monitoring-test', requestId: id });
      child.info({ n: 1 }, 'an info line');
      child.warn({ n: 2 }, 'a warning');
      child.error({ err: new Error('boom') }, 'an error');
      requestContext.run({ requestId: fromContext, service: 'gateway', operation: 'MonitoringLines' }, () => log.child({ component: 'monitoring-test' }).warn('from the context'));
      await systemLog.writer.flush();
    } finally {
      await systemLog.stop();
    }
    const rows = await down.runtime.db.read(`select level, event_type, message, correlation_id, details from logging.system_logs
      where correlation_id in (?, ?) order by id`, [id, fromContext], 'primary');
    expect(rows.map((r) => [r.level, r.message, r.correlation_id])).toEqual([
      ['warn', 'a warning', id],
      ['error', 'an error', id],
      ['warn', 'from the context', fromContext],
    ]);
    expect(rows[0]).toMatchObject({ event_type: 'monitoring-test', details: { n: 2 } });
    expect(rows[1].details.err).toMatchObject({ message: 'boom', stack: expect.stringContaining('Error: boom') });
    expect(rows[2].details).toBeNull();
    expect(systemLog.writer).toMatchObject({ written: 3, failed: 0, dropped: 0 });
  });
});

test('statements are redacted: literals out, placeholders kept', () => {
  expect(redactStatement(`select * from t where a = ? and b = $2 and c = 'O''Brien' and d = E'x\\'y' and e = $tag$secret$tag$ and f = $$s$$`))
    .toBe('select * from t where a = ? and b = $2 and c = ? and d = ? and e = ? and f = ?');
});
