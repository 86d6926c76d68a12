/**
 * The analytics synchronizer against real fills: hand-computed rows, idempotent replay, 500 random concurrent fills
 * equal to the rebuild's fold of the same trades, and on a database of its own the standalone `tradeql sync` (polling,
 * no Redis) and `tradeql sync --rebuild`, including a fill the relay had not numbered yet when the rebuild ran.
 * Accounts and strategies are unique to this file, and only this file's rows are compared on the shared database.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Database } from '../../src/platform/database';
import { decimalText } from '../../src/platform/decimal';
import { createLogger } from '../../src/platform/logger';
import { initOrm, migrate } from '../../src/platform/orm';
import { entities } from '../../src/entities';
import { toPgArray } from '../../src/platform/pg-array';
import { applyFill, FLAT, type PositionState } from '../../src/modules/positions/position-math';
import { AnalyticsSynchronizer, type TradeEvent } from '../../src/modules/analytics/synchronizer';
import { AnalyticsFold, tradesPage, type MetricRow, type SummaryRow, type TradeRecord } from '../../src/modules/analytics/rebuild';
import { startTestGateway, uniqueId, type TestGateway } from '../support/gateway';
import { adminSql as admin, testEnv, withDatabase } from '../support/env';
import { mulberry32 } from '../../src/modules/ops/demo-bars';

const SUBMIT = `mutation($input: SubmitOrderInput!) { submitOrder(input: $input) { orderId } }`;
const FILL = `mutation($input: ExecuteTradeInput!) { executeTrade(input: $input) { tradeId } }`;

interface Fill { accountId: string; symbol: string; side: 'BUY' | 'SELL'; quantity: string; price: string; executedAt: string; strategy: string | null }

async function newAccount(gw: TestGateway, prefix = 'sync'): Promise<string> {
  const id = uniqueId(prefix);
  const r = await gw.post(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`, { i: { accountId: id, name: 'sync' } });
  expect(r.errors).toBeUndefined();
  return id;
}

async function trade(gw: TestGateway, f: Fill): Promise<void> {
  const s = await gw.post(SUBMIT, { input: { accountId: f.accountId, clientOrderId: randomUUID(), symbol: f.symbol, side: f.side, type: 'MARKET',
    timeInForce: 'GTC', quantity: f.quantity, strategy: f.strategy } });
  expect(s.errors).toBeUndefined();
  const r = await gw.post(FILL, { input: { orderId: s.data.submitOrder.orderId, price: f.price, executedAt: f.executedAt } });
  expect(r.errors).toBeUndefined();
}

/** A condition on account_id for these accounts, or none (every row) when there are none. */
const accountsFilter = (accounts?: string[], column = 'account_id') =>
  accounts ? { sql: `${column} = any(?::text[])`, params: [toPgArray(accounts)] } : { sql: 'true', params: [] as string[] };

/** Waits until every trade of these accounts (all of them when none) is recorded as applied; `check` may throw. */
async function waitSynced(db: Database, accounts?: string[], check = () => undefined as void, timeoutMs = 30_000): Promise<void> {
  const [f, o] = [accountsFilter(accounts), accountsFilter(accounts, 'o.account_id')];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [r] = await db.read<{ trades: number; done: number }>(
      `select (select count(*)::int from execution.trades where ${f.sql}) as trades,
              (select count(*)::int from execution.outbox o join analytics.processed_events p on p.consumer = 'analytics' and p.event_id = o.event_id
               where o.topic = 'TRADE_EXECUTED' and ${o.sql}) as done`, [...f.params, ...o.params], 'primary');
    if (r.done === r.trades) return;
    check();
    if (Date.now() > deadline) throw new Error(`synchronizer did not catch up: ${r.done} of ${r.trades}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const order = <T,>(rows: T[], key: (r: T) => string) => rows.sort((a, b) => key(a).localeCompare(key(b)));
const summaryKey = (r: SummaryRow) => `${r.accountId}|${r.symbol}`;
const metricKey = (r: MetricRow) => `${r.strategy}|${r.date}`;

/** The tables' rows (of these accounts / strategies, or all), numbers as canonical decimal text. */
async function live(db: Database, accounts?: string[], strategies?: string[]) {
  const f = accountsFilter(accounts);
  const summaries = await db.read<SummaryRow>(
    `select account_id as "accountId", symbol, quantity::text as quantity, total_value::text as "totalValue", realized_pnl::text as "realizedPnl"
     from analytics.portfolio_summary where ${f.sql}`, f.params, 'primary');
  const metrics = await db.read<MetricRow>(
    `select strategy, to_char(date, 'YYYY-MM-DD') as date, total_trades as "totalTrades", winning_trades as "winningTrades", win_rate::text as "winRate"
     from analytics.performance_metrics ${strategies ? 'where strategy = any(?::text[])' : ''}`, strategies ? [toPgArray(strategies)] : [], 'primary');
  return {
    summaries: order(summaries.map((r) => ({ ...r, quantity: decimalText(r.quantity), totalValue: decimalText(r.totalValue), realizedPnl: decimalText(r.realizedPnl) })), summaryKey),
    metrics: order(metrics.map((r) => ({ ...r, winRate: decimalText(r.winRate) })), metricKey),
  };
}

/** What `sync --rebuild` computes for these accounts' trades (all when none): the same pages, the same fold. */
async function rebuilt(db: Database, accounts?: string[]) {
  const fold = new AnalyticsFold();
  const trades: TradeRecord[] = [];
  for (let after = '0'; ; ) {
    const page = await tradesPage((sql, params) => db.read<TradeRecord>(sql, params, 'primary'), after, 1000, accounts);
    for (const t of page) (fold.add(t), trades.push(t));
    if (page.length < 1000) break;
    after = page[page.length - 1].tradeId;
  }
  return { summaries: order(fold.summaries(), summaryKey), metrics: order(fold.metricRows(), metricKey), trades };
}

describe('analytics synchronizer (shared database)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('keeps the summary and the daily strategy metrics, with a losing and a winning close', async () => {
    expect(gw.gateway.synchronizer).toBeDefined();
    const acc = await newAccount(gw);
    const [s1, s2] = [uniqueId('strat'), uniqueId('strat')];
    const day = '2026-11-20';
    await trade(gw, { accountId: acc, symbol: 'AAPL', side: 'BUY', quantity: '10', price: '100', executedAt: `${day}T10:00:00Z`, strategy: s1 });
    await trade(gw, { accountId: acc, symbol: 'AAPL', side: 'SELL', quantity: '4', price: '90', executedAt: `${day}T11:00:00Z`, strategy: s1 }); // -40
    await trade(gw, { accountId: acc, symbol: 'AAPL', side: 'SELL', quantity: '5', price: '110.5', executedAt: `${day}T12:00:00Z`, strategy: s1 }); // +52.5
    await trade(gw, { accountId: acc, symbol: 'MSFT', side: 'SELL', quantity: '2.5', price: '40.1', executedAt: `${day}T23:59:59Z`, strategy: s2 });
    await trade(gw, { accountId: acc, symbol: 'MSFT', side: 'BUY', quantity: '1', price: '39', executedAt: '2026-11-21T00:00:01Z', strategy: s2 }); // +1.1
    await trade(gw, { accountId: acc, symbol: 'MSFT', side: 'BUY', quantity: '1', price: '41', executedAt: '2026-11-21T00:00:02Z', strategy: null }); // -0.9
    await waitSynced(gw.runtime.db, [acc]);
    expect(await live(gw.runtime.db, [acc], [s1, s2])).toEqual({
      summaries: [
        { accountId: acc, symbol: 'AAPL', quantity: '1', totalValue: '110.5', realizedPnl: '12.5' },
        { accountId: acc, symbol: 'MSFT', quantity: '-0.5', totalValue: '-20.5', realizedPnl: '0.2' },
      ],
      metrics: order([
        { strategy: s1, date: day, totalTrades: 3, winningTrades: 1, winRate: '0.3333' },
        { strategy: s2, date: day, totalTrades: 1, winningTrades: 0, winRate: '0' },
        { strategy: s2, date: '2026-11-21', totalTrades: 1, winningTrades: 1, winRate: '1' },
      ], metricKey),
    });
  });

  it('changes nothing when an applied event is applied again, an older event never overwrites a newer state, and two at once count once', async () => {
    const acc = await newAccount(gw);
    const strategy = uniqueId('strat');
    await trade(gw, { accountId: acc, symbol: 'AAPL', side: 'BUY', quantity: '3', price: '10', executedAt: '2026-11-20T10:00:00Z', strategy });
    await trade(gw, { accountId: acc, symbol: 'AAPL', side: 'SELL', quantity: '1', price: '12', executedAt: '2026-11-20T10:01:00Z', strategy });
    await waitSynced(gw.runtime.db, [acc]);
    const before = await live(gw.runtime.db, [acc], [strategy]);
    const events = await gw.runtime.db.read<TradeEvent>(
      `select event_id as "eventId", sequence::text as sequence, topic, account_id as "accountId", symbol, payload
       from execution.outbox o where topic = 'TRADE_EXECUTED' and account_id = ? order by o.sequence`, [acc], 'primary');
    expect(events).toHaveLength(2);
    const sync = gw.gateway.synchronizer!;
    for (const event of [...events, ...events]) expect(await sync.apply(event)).toBe(false);
    expect(await live(gw.runtime.db, [acc], [strategy])).toEqual(before);
    // The first fill again under a new id (no strategy, so it is not counted): its older sequence loses.
    const stale = { ...events[0], eventId: randomUUID(), payload: { ...events[0].payload, trade: { ...events[0].payload.trade, strategy: null } } };
    expect(await sync.apply(stale)).toBe(true);
    expect(await live(gw.runtime.db, [acc], [strategy])).toEqual(before);
    expect(before.summaries).toEqual([{ accountId: acc, symbol: 'AAPL', quantity: '2', totalValue: '24', realizedPnl: '2' }]);

    // Two synchronizers (two gateways) applying one new event at once: the processed_events key lets one through.
    const [acc2, strategy2] = [uniqueId('sync-twin'), uniqueId('strat')];
    const e = events[1];
    const twin = { ...e, eventId: randomUUID(), payload: { ...e.payload, trade: { ...e.payload.trade, accountId: acc2, strategy: strategy2 },
      position: { ...e.payload.position, accountId: acc2 } } };
    const other = new AnalyticsSynchronizer(gw.runtime.db, gw.gateway.hub, createLogger('silent'));
    expect((await Promise.all([sync.apply(twin), other.apply(twin), sync.apply(twin)])).sort()).toEqual([false, false, true]);
    expect(await live(gw.runtime.db, [acc2], [strategy2])).toEqual({
      summaries: [{ accountId: acc2, symbol: 'AAPL', quantity: '2', totalValue: '24', realizedPnl: '2' }],
      metrics: [{ strategy: strategy2, date: '2026-11-20', totalTrades: 1, winningTrades: 1, winRate: '1' }],
    });
  });

  it('equals the rebuild after 500 random concurrent fills', async () => {
    const random = mulberry32(20261126);
    const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
    const digits = (n: number) => String(Math.floor(random() * 10 ** n)).padStart(n, '0');
    const accounts = await Promise.all([1, 2, 3, 4].map(() => newAccount(gw, 'sync-rnd')));
    const strategies = [1, 2, 3].map(() => uniqueId('strat'));
    const fills: Fill[] = Array.from({ length: 500 }, () => ({
      accountId: pick(accounts),
      symbol: pick(['AAPL', 'MSFT']),
      side: pick(['BUY', 'SELL'] as const),
      quantity: `${1 + Math.floor(random() * 40)}.${digits(4)}`,
      price: `${50 + Math.floor(random() * 100)}.${digits(6)}`,
      executedAt: `2026-11-${pick(['18', '19', '20'])}T${String(Math.floor(random() * 24)).padStart(2, '0')}:${digits(2).replace(/^[6-9]/, '5')}:00Z`,
      strategy: random() < 0.1 ? null : pick(strategies),
    }));
    for (let i = 0; i < fills.length; i += 10) await Promise.all(fills.slice(i, i + 10).map((f) => trade(gw, f)));
    await waitSynced(gw.runtime.db, accounts);

    const expected = await rebuilt(gw.runtime.db, accounts);
    expect(expected.trades).toHaveLength(500);
    expect(await live(gw.runtime.db, accounts, strategies)).toEqual({ summaries: expected.summaries, metrics: expected.metrics });
    // The fills did what the test means them to: positions went both ways through zero, and there were wins and losses.
    let flips = 0;
    const positions = new Map<string, PositionState>();
    for (const t of expected.trades) {
      const prev = positions.get(`${t.accountId}|${t.symbol}`) ?? FLAT;
      const next = applyFill(prev, t);
      if (Math.sign(Number(prev.quantity)) * Math.sign(Number(next.quantity)) < 0) flips++;
      positions.set(`${t.accountId}|${t.symbol}`, next);
    }
    expect(flips).toBeGreaterThan(5);
    const [wins, counted] = expected.metrics.reduce(([w, n], m) => [w + m.winningTrades, n + m.totalTrades], [0, 0]);
    expect([wins > 20, counted - wins > 20, counted]).toEqual([true, true, fills.filter((f) => f.strategy).length]);
    // And the summary agrees with the positions table.
    const pos = await gw.runtime.db.read<{ k: string; quantity: string; realizedPnl: string }>(
      `select account_id || '|' || symbol as k, quantity::text as quantity, realized_pnl::text as "realizedPnl"
       from execution.positions where account_id = any(?::text[]) order by account_id, symbol`, [toPgArray(accounts)], 'primary');
    expect(order(pos.map((p) => `${p.k} ${decimalText(p.quantity)} ${decimalText(p.realizedPnl)}`), (x) => x))
      .toEqual(order(expected.summaries.map((r) => `${summaryKey(r)} ${r.quantity} ${r.realizedPnl}`), (x) => x));
  }, 180_000); // 500 fills through HTTP: about 40 s alone on 2 cores, more when the machine is shared
});

describe('tradeql sync and sync --rebuild (a database of its own)', () => {
  const dbName = `tradeql_sync_${process.pid}_${Date.now().toString(36)}`;
  const url = withDatabase(testEnv().adminUrl, dbName);
  let gw: TestGateway;

  beforeAll(async () => {
    await admin(`create database ${dbName}`);
    const orm = await initOrm({ databaseUrl: url, replicaUrls: [], entities, poolSize: 2, poolOverflow: 0, acquireTimeoutMs: 5000,
      recycleMs: 3_600_000, statementTimeoutMs: 30_000, replicaConnectTimeoutMs: 1000 });
    await migrate(orm);
    await orm.close(true);
    // The gateway does not synchronize: the standalone process does.
    gw = await startTestGateway({ DATABASE_URL: url, DATABASE_REPLICA_URLS: '', SYNC_ENABLED: 'false', DB_POOL_SIZE: '4', DB_POOL_OVERFLOW: '2' });
  });
  afterAll(async () => {
    await gw?.stop();
    await admin(`drop database if exists ${dbName} with (force)`);
  });

  it('follows fills alone by polling, rebuilds to the same tables, and a fill the rebuild counted is not counted again', async () => {
    const db = gw.runtime.db;
    const accounts = [await newAccount(gw), await newAccount(gw)];
    const strategies = ['alpha', 'beta'];
    const random = mulberry32(7);
    const next = (i: number): Fill => ({ accountId: accounts[i % 2], symbol: i % 3 ? 'AAPL' : 'MSFT', side: random() < 0.5 ? 'BUY' : 'SELL',
      quantity: `${1 + (i % 7)}.5`, price: `${90 + Math.floor(random() * 20)}.25`, executedAt: `2026-11-2${i % 2}T12:00:00Z`, strategy: i % 5 ? strategies[i % 2] : null });

    const standalone = cli(['sync'], url);
    for (let i = 0; i < 30; i++) await trade(gw, next(i));
    await waitSynced(db, undefined, standalone.check);
    const followed = await live(db);
    const expected = await rebuilt(db);
    expect(followed).toEqual({ summaries: expected.summaries, metrics: expected.metrics });
    expect(await standalone.stop()).toBe(0);

    // A fill whose event the relay has not numbered yet when the rebuild takes its snapshot.
    await gw.gateway.relay.stop();
    await trade(gw, next(30));
    const out = await cli(['sync', '--rebuild'], url).done;
    expect(out.code).toBe(0);
    const report = JSON.parse(out.stdout.trim().split('\n').pop()!);
    const [{ last }] = await db.read<{ last: string }>('select last_sequence::text as last from execution.outbox_state', [], 'primary');
    expect(report).toEqual({ trades: 31, portfolioRows: expected.summaries.length, metricRows: expect.any(Number), processedEvents: 1, lastSequence: last });
    const afterRebuild = await rebuilt(db);
    expect(await live(db)).toEqual({ summaries: afterRebuild.summaries, metrics: afterRebuild.metrics });
    const seqs = await db.read<{ s: string }>('select distinct last_sequence::text as s from analytics.portfolio_summary', [], 'primary');
    expect(seqs).toEqual([{ s: last }]);

    // Live processing resumes after the rebuild: the unnumbered fill is skipped when it arrives, the next one applied.
    const sync = new AnalyticsSynchronizer(db, gw.gateway.hub, createLogger('silent'));
    sync.start();
    gw.gateway.relay.start();
    await trade(gw, next(31));
    await waitSynced(db);
    const final = await rebuilt(db);
    expect(final.trades).toHaveLength(32);
    expect(await live(db)).toEqual({ summaries: final.summaries, metrics: final.metrics });
    await sync.stop();
    expect(sync.applied).toBe(1);
  });
});

const running = new Set<ReturnType<typeof spawn>>();
afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
});

/** Runs `tradeql <args>` against a database, without Redis, with a small pool. */
function cli(args: string[], databaseUrl: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl, DATABASE_REPLICA_URLS: '', LOG_LEVEL: 'warn', DB_POOL_SIZE: '2', DB_POOL_OVERFLOW: '0' };
  delete env.REDIS_URL;
  const child = spawn(process.execPath, [path.join(__dirname, '..', '..', 'bin', 'tradeql.js'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => ((stderr += d), process.stderr.write(d)));
  let exited = false;
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => ((exited = true), resolve({ code, stdout, stderr }))));
  running.add(child);
  void done.then(() => running.delete(child));
  return {
    done,
    /** Throws when the process ended on its own (a long-running command should not). */
    check() {
      if (exited) throw new Error(`tradeql ${args.join(' ')} exited early: ${stderr}`);
    },
    async stop() {
      child.kill('SIGTERM');
      const r = await done;
      if (r.code !== 0) process.stderr.write(r.stderr);
      return r.code;
    },
  };
}

