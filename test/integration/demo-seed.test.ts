/**
 * The demo seed against the real database: bars, accounts, orders, fills and positions through the services, and a
 * second run that adds no order or trade. Its accounts and symbols are unique to this run, and removed at the end.
 */
import { loadConfig } from '../../src/config';
import { openDatabase, type Runtime } from '../../src/app';
import { createLogger } from '../../src/platform/logger';
import { toPgArray } from '../../src/platform/pg-array';
import { seedDemo } from '../../src/modules/ops/demo-seed';
import { testDatabase } from '../support/env';

const suffix = `${process.pid.toString(36)}${Date.now().toString(36)}`.toUpperCase();
const prefix = `T${suffix}`;
const EQUITY = `E${suffix}`; // <= 20 of A-Z 0-9
const CRYPTO = `C${suffix}-USD`; // a pair: trades around the clock
const symbols = [EQUITY, CRYPTO];
// The Monday 00:00 UTC at or before today: the two weekdays before it are Thursday and Friday, and the pair also
// trades on the weekend between them and the end.
const now = new Date();
const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - ((now.getUTCDay() + 6) % 7)));
const accounts = [1, 2, 3].map((i) => `${prefix}-${i}`);

let runtime: Runtime;

async function rows<T extends Record<string, any>>(sql: string, params: unknown[] = []): Promise<T[]> {
  return runtime.db.read<T>(sql, params, 'primary');
}

async function counts(): Promise<{ orders: number; trades: number }> {
  const [r] = await rows<{ orders: number; trades: number }>(
    `select (select count(*)::int from execution.orders where account_id = any(?::text[])) as orders,
            (select count(*)::int from execution.trades where account_id = any(?::text[])) as trades`,
    [toPgArray(accounts), toPgArray(accounts)],
  );
  return r;
}

beforeAll(async () => {
  const config = loadConfig({ DATABASE_URL: testDatabase().databaseUrl, LOG_LEVEL: 'silent' });
  runtime = await openDatabase(config, createLogger('silent'));
});

afterAll(async () => {
  if (!runtime) return;
  const em = runtime.db.em();
  const ids = toPgArray(accounts);
  for (const table of ['trades', 'orders', 'positions', 'accounts']) {
    await em.execute(`delete from execution.${table} where account_id = any(?::text[])`, [ids]);
  }
  await em.execute('delete from data_ingestion.market_data where symbol = any(?::text[])', [toPgArray(symbols)]);
  await runtime.close();
});

describe('seedDemo', () => {
  it('loads accounts, bars, orders, fills and positions, and a second run adds no order or trade', async () => {
    const first = await seedDemo(runtime.db, createLogger('silent'), { days: 2, end, symbols, accountPrefix: prefix });
    expect(first).toEqual({ accounts: 3, bars: { inserted: 780 + 4 * 1440, updated: 0 }, orders: 30, fills: 27 });

    const bars = await rows<{ symbol: string; n: number; first: number; last: number }>(
      `select symbol, count(*)::int as n, extract(epoch from min("timestamp"))::float8 * 1000 as first,
              extract(epoch from max("timestamp"))::float8 * 1000 as last
       from data_ingestion.market_data where symbol = any(?::text[]) group by symbol order by symbol`, [toPgArray(symbols)]);
    const minute = (fromEnd: number) => end.getTime() + fromEnd * 60_000;
    expect(bars).toEqual([
      { symbol: CRYPTO, n: 4 * 1440, first: minute(-4 * 1440), last: minute(-1) }, // Thursday 00:00 to Sunday 23:59
      { symbol: EQUITY, n: 2 * 390, first: minute(-4 * 1440 + 870), last: minute(-3 * 1440 + 1259) }, // Thu 14:30 to Fri 20:59
    ]);

    const accountRows = await rows<{ accountId: string; name: string }>(
      'select account_id as "accountId", name from execution.accounts where account_id = any(?::text[]) order by account_id', [toPgArray(accounts)]);
    expect(accountRows).toEqual([
      { accountId: accounts[0], name: 'Demo momentum' },
      { accountId: accounts[1], name: 'Demo mean reversion' },
      { accountId: accounts[2], name: 'Demo market maker' },
    ]);

    const statuses = await rows<{ status: string; n: number }>(
      'select status, count(*)::int as n from execution.orders where account_id = any(?::text[]) group by status order by status', [toPgArray(accounts)]);
    expect(statuses).toEqual([
      { status: 'CANCELED', n: 3 },
      { status: 'FILLED', n: 18 },
      { status: 'NEW', n: 6 },
      { status: 'PARTIALLY_FILLED', n: 3 },
    ]);
    const kinds = await rows<{ type: string; side: string; tif: string }>(
      `select distinct type, side, time_in_force as tif from execution.orders where account_id = any(?::text[])`, [toPgArray(accounts)]);
    expect(new Set(kinds.map((k) => k.type))).toEqual(new Set(['MARKET', 'LIMIT']));
    expect(new Set(kinds.map((k) => k.side))).toEqual(new Set(['BUY', 'SELL']));
    expect(new Set(kinds.map((k) => k.tif))).toEqual(new Set(['GTC', 'DAY']));
    expect(await counts()).toEqual({ orders: 30, trades: 27 });

    // Every fill is at a generated bar's close, at that bar's time.
    const offBar = await rows(
      `select t.trade_id from execution.trades t
       left join data_ingestion.market_data m on m.symbol = t.symbol and m."timestamp" = t.executed_at and m.close = t.price
       where t.account_id = any(?::text[]) and m.symbol is null`, [toPgArray(accounts)]);
    expect(offBar).toEqual([]);

    const positions = await rows<{ accountId: string; symbol: string; quantity: string; realizedPnl: string }>(
      `select account_id as "accountId", symbol, quantity::text, realized_pnl::text as "realizedPnl"
       from execution.positions where account_id = any(?::text[]) order by account_id, symbol`, [toPgArray(accounts)]);
    expect(positions).toHaveLength(6);
    expect(positions.some((p) => Number(p.realizedPnl) !== 0)).toBe(true);
    expect(positions.some((p) => Number(p.quantity) < 0)).toBe(true);
    // DEMO-1 is long its first symbol (2 x 5 shares) and short half of its second (10 x 0.01 coin, 5 covered).
    expect(positions.filter((p) => p.accountId === accounts[0]).map((p) => [p.symbol, Number(p.quantity)])).toEqual([
      [CRYPTO, -0.05],
      [EQUITY, 10],
    ]);

    const second = await seedDemo(runtime.db, createLogger('silent'), { days: 2, end, symbols, accountPrefix: prefix });
    expect(second).toEqual({ accounts: 0, bars: { inserted: 0, updated: 780 + 4 * 1440 }, orders: 0, fills: 0 });
    expect(await counts()).toEqual({ orders: 30, trades: 27 });
    const positionsAgain = await rows(
      `select account_id as "accountId", symbol, quantity::text, realized_pnl::text as "realizedPnl"
       from execution.positions where account_id = any(?::text[]) order by account_id, symbol`, [toPgArray(accounts)]);
    expect(positionsAgain).toEqual(positions);
  });
});
