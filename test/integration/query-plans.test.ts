/**
 * Every list query is an index scan in keyset order: the repositories' own SQL, explained with sequential scans
 * disabled (the test tables are small, so the planner would rightly prefer them), must need no Sort node.
 * It runs on a database of its own with empty tables, so the plans do not depend on what other test files wrote
 * (with a few rows of one symbol, sorting them can rightly beat the ordered index).
 */
import { Client } from 'pg';
import { testEnv, withDatabase } from '../support/env';
import { initOrm, migrate } from '../../src/platform/orm';
import { entities } from '../../src/entities';
import { MarketDataRepository } from '../../src/modules/market-data/market-data.repository';
import { OrdersRepository } from '../../src/modules/orders/orders.repository';
import type { ReadSession } from '../../src/platform/read-session';

let client: Client;
const dbName = `tradeql_plans_${process.pid}_${Date.now().toString(36)}`;

/** A read session that explains instead of running; knex `?` placeholders become $n. */
function explaining(plans: any[]): ReadSession {
  const all = async (sql: string, params: unknown[] = []) => {
    let n = 0;
    const text = sql.replace(/\?/g, () => `$${++n}`);
    const r = await client.query(`explain (format json) ${text}`, params.map((p) => (p instanceof Date ? p.toISOString() : p)));
    plans.push(r.rows[0]['QUERY PLAN'][0].Plan);
    return [];
  };
  const one = async (sql: string, params?: unknown[]) => (await all(sql, params))[0] ?? null;
  return { all, one, allPublic: all, onePublic: one } as unknown as ReadSession;
}

function nodes(plan: any): string[] {
  return [plan['Node Type'], ...(plan.Plans ?? []).flatMap(nodes)];
}

beforeAll(async () => {
  const admin = new Client({ connectionString: testEnv().adminUrl });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  await admin.end();
  const url = withDatabase(testEnv().adminUrl, dbName);
  const orm = await initOrm({ databaseUrl: url, replicaUrls: [], entities, poolSize: 2, poolOverflow: 0, acquireTimeoutMs: 5000,
    recycleMs: 3_600_000, statementTimeoutMs: 30_000, replicaConnectTimeoutMs: 1000 });
  await migrate(orm);
  await orm.close(true);
  client = new Client({ connectionString: url });
  await client.connect();
  await client.query('set enable_seqscan = off');
  await client.query('set enable_bitmapscan = off');
});
afterAll(async () => {
  await client.end();
  const admin = new Client({ connectionString: testEnv().adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${dbName} with (force)`);
  await admin.end();
});

const orders = new OrdersRepository();
const bars = new MarketDataRepository();
const after: [string, string] = ['1764000000000000', '00000000-0000-4000-8000-000000000000'];
const tradeAfter: [string, string] = ['1764000000000000', '42'];

const cases: [string, (reads: ReadSession) => Promise<unknown>][] = [
  ['orders of an account', (r) => orders.listOrders(r, { accountId: 'A' }, after, 101)],
  ['orders of an account by status', (r) => orders.listOrders(r, { accountId: 'A', status: ['NEW'] }, after, 101)],
  ['orders of a symbol', (r) => orders.listOrders(r, { symbol: 'AAPL' }, after, 101)],
  ['orders of a strategy', (r) => orders.listOrders(r, { strategy: 's' }, after, 101)],
  ['all orders', (r) => orders.listOrders(r, {}, after, 101)],
  ['orders of several accounts', (r) => orders.ordersOfAccounts(r, ['A', 'B'], null, after, 101)],
  ['trades of an account', (r) => orders.listTrades(r, { accountId: 'A' }, tradeAfter, 101)],
  ['trades of a symbol in a range', (r) => orders.listTrades(r, { symbol: 'AAPL', fromMs: 0, toMs: 1e13 }, tradeAfter, 101)],
  ['trades of a strategy', (r) => orders.listTrades(r, { strategy: 's' }, tradeAfter, 101)],
  ['all trades', (r) => orders.listTrades(r, {}, tradeAfter, 101)],
  ['trades of orders', (r) => orders.tradesOfOrders(r, ['00000000-0000-4000-8000-000000000000'])],
  ['1-minute bars', (r) => bars.minuteBars(r, 'AAPL', Date.UTC(2026, 9, 1), Date.UTC(2026, 11, 1), 101)],
  ['latest bar', (r) => bars.latestBar(r, 'AAPL')],
  ['latest closes', (r) => bars.latestCloses(r, ['AAPL', 'MSFT'])],
];

describe('query plans', () => {
  it.each(cases)('%s: index scan, no sort', async (_name, run) => {
    const plans: any[] = [];
    await run(explaining(plans));
    expect(plans.length).toBeGreaterThan(0);
    for (const plan of plans) {
      const types = nodes(plan);
      expect(types).not.toContain('Seq Scan');
      expect(types).not.toContain('Sort');
      expect(types.some((t) => /Index/.test(t))).toBe(true);
    }
    // A keyset page starts at the cursor inside the index, not by filtering the rows before it.
    if (/\bafter\b|tradeAfter/.test(run.toString())) expect(JSON.stringify(plans)).toMatch(/"Index Cond":"[^"]*ROW\(/);
  });
});

/**
 * Under row-level security, as the request roles run. 20,000 orders over 20 accounts, analyzed, sequential scans
 * allowed: the newest page must still be 101 steps of the index. (With the admin bypass as a flag in the policy,
 * PostgreSQL estimated the flag's OR as a few rows and planned a sequential scan and sort of the whole table.)
 */
describe('query plans as the request roles', () => {
  beforeAll(async () => {
    await client.query(`insert into execution.accounts (account_id, name) select 'P' || i, 'P' || i from generate_series(1, 20) i`);
    await client.query(`insert into execution.orders (order_id, client_order_id, account_id, symbol, side, type, time_in_force, quantity, created_at)
      select gen_random_uuid(), 'c' || i, 'P' || (i % 20 + 1), 'AAPL', 'BUY', 'MARKET', 'GTC', 1, now() - i * interval '1 second'
      from generate_series(1, 20000) i`);
    await client.query('analyze execution.orders');
  });

  const asRole = async (role: string, accounts: string, run: (reads: ReadSession) => Promise<unknown>) => {
    const plans: any[] = [];
    await client.query('begin');
    try {
      await client.query('set local enable_seqscan = on');
      await client.query('set local enable_bitmapscan = on');
      await client.query(`select set_config('role', $1, true), set_config('app.current_account_ids', $2, true)`, [role, accounts]);
      await run(explaining(plans));
    } finally {
      await client.query('rollback');
    }
    return plans;
  };

  it('an admin key, all orders: an index scan in order, no sort', async () => {
    const plans = await asRole('trading_admin', '{}', (r) => orders.listOrders(r, {}, null, 101));
    for (const plan of plans) {
      expect(nodes(plan)).not.toContain('Sort');
      expect(nodes(plan)).not.toContain('Seq Scan');
    }
  });

  // The policy's `account_id = any(<the key's accounts>)` is an index condition: only the key's rows are read (they
  // may be sorted: a key can hold several accounts).
  it.each([
    ['its orders', (r: ReadSession) => orders.listOrders(r, { accountId: 'P3' }, null, 101)],
    ['all it may see', (r: ReadSession) => orders.listOrders(r, { accountIds: ['P3'] }, null, 101)],
  ])('a key of one account, %s: read through the account index', async (_name, run) => {
    const plans = await asRole('trading_app', '{P3}', run);
    for (const plan of plans) expect(nodes(plan)).not.toContain('Seq Scan');
    expect(JSON.stringify(plans)).toMatch(/idx_orders_account_id/);
  });
});
