/**
 * Reads: nested fields batched through DataLoaders (a constant SQL count), positions and portfolio valuation,
 * accounts, performance metrics, and where reads are served (replica; primary when the replica is down).
 */
import { inTransaction, savepoint } from '../../src/platform/transaction';
import { startTestGateway, syncReplica, uniqueId, type TestGateway } from '../support/gateway';

let gw: TestGateway;
let account: string;
const tag = `${process.pid % 1000}${Date.now().toString(36).slice(-4)}`.toUpperCase();
const SYM_A = `RA${tag}`;
const SYM_B = `RB${tag}`;

const SUBMIT = `mutation($input: SubmitOrderInput!) { submitOrder(input: $input) { orderId } }`;
const FILL = `mutation($input: ExecuteTradeInput!) { executeTrade(input: $input) { tradeId } }`;

async function makeOrders(acc: string, count: number, fillsEach: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const symbol = i % 2 ? SYM_A : SYM_B;
    const o = await gw.gql(SUBMIT, { input: { accountId: acc, clientOrderId: `r-${i}`, symbol, side: 'BUY', type: 'MARKET', timeInForce: 'GTC', quantity: String(fillsEach), strategy: `strat-${tag}` } });
    for (let f = 0; f < fillsEach; f++) await gw.gql(FILL, { input: { orderId: o.data.submitOrder.orderId, quantity: '1', price: `${10 + f}` } });
  }
}

beforeAll(async () => {
  // No synchronizer here: it would apply other files' trade events on this gateway and add to the statement count.
  gw = await startTestGateway({ SYNC_ENABLED: 'false' });
  account = uniqueId('reads');
  await gw.gql(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`, { i: { accountId: account, name: 'Reads' } });
  await gw.gql(`mutation($bars: [BarInput!]!) { ingestMarketData(bars: $bars) { inserted } }`, {
    bars: [
      { symbol: SYM_A, timestamp: '2026-11-20T15:00:00Z', open: '11', high: '13', low: '10', close: '12.5', volume: '100' },
      { symbol: SYM_A, timestamp: '2026-11-20T15:01:00Z', open: '12.5', high: '13', low: '12', close: '12', volume: '100' },
      { symbol: SYM_B, timestamp: '2026-11-20T15:00:00Z', open: '9', high: '9', low: '8', close: '8.5', volume: '5' },
    ],
  });
});

afterAll(async () => {
  await gw.runtime.db.em().execute('delete from data_ingestion.market_data where symbol in (?, ?)', [SYM_A, SYM_B]);
  await gw.stop();
});

describe('nested queries', () => {
  it('runs a constant number of SQL statements for orders with their trades and accounts, whatever the count', async () => {
    const small = uniqueId('nest');
    const large = uniqueId('nest');
    for (const acc of [small, large]) await gw.gql(`mutation { createAccount(input: {accountId: "${acc}", name: "n"}) { accountId } }`);
    await makeOrders(small, 2, 2);
    await makeOrders(large, 40, 2);
    const query = `query($a: ID!) { orders(accountId: $a, first: 100) { edges { node { orderId
      trades { tradeId price order { orderId status } } account { accountId name positions { symbol quantity marketValue } orders(first: 3) { edges { node { orderId } } } } } } } }`;
    // A key that wrote nothing: its reads carry no remembered consistency token (whose check is a statement too).
    const reader = { authorization: `Bearer ${await gw.createKey('admin')}` };
    const count = async (acc: string) => {
      await syncReplica(gw.runtime);
      const before = gw.runtime.db.statementCount;
      const r = await gw.post(query, { a: acc }, reader);
      expect(r.errors).toBeUndefined();
      return { statements: gw.runtime.db.statementCount - before, orders: r.data.orders.edges.length, r };
    };
    await count(small); // the key's first use also records last_used_at (once a minute), off the count
    const a = await count(small);
    const b = await count(large);
    expect(a.orders).toBe(2);
    expect(b.orders).toBe(40);
    // orders, trades of orders, orders of trades, accounts, positions, latest closes, account orders (the key is
    // remembered from the first request)
    expect(b.statements).toBe(a.statements);
    expect(b.statements).toBeLessThanOrEqual(7);
    const first = b.r.data.orders.edges[0].node;
    expect(first.trades).toHaveLength(2);
    expect(first.trades[0].order.orderId).toBe(first.orderId);
    expect(first.account.accountId).toBe(large);
    expect(first.account.orders.edges).toHaveLength(3);
  });
});

describe('positions, accounts and portfolio', () => {
  it('values positions at the latest close and sums the portfolio exactly', async () => {
    const acc = uniqueId('pf');
    await gw.gql(`mutation { createAccount(input: {accountId: "${acc}", name: "Portfolio"}) { accountId } }`);
    const buy = await gw.gql(SUBMIT, { input: { accountId: acc, clientOrderId: 'p1', symbol: SYM_A, side: 'BUY', type: 'MARKET', quantity: '3' } });
    await gw.gql(FILL, { input: { orderId: buy.data.submitOrder.orderId, price: '10.1' } });
    const sell = await gw.gql(SUBMIT, { input: { accountId: acc, clientOrderId: 'p2', symbol: SYM_B, side: 'SELL', type: 'MARKET', quantity: '2' } });
    await gw.gql(FILL, { input: { orderId: sell.data.submitOrder.orderId, price: '9' } });
    const noBars = await gw.gql(SUBMIT, { input: { accountId: acc, clientOrderId: 'p3', symbol: `NB${tag}`, side: 'BUY', type: 'MARKET', quantity: '1' } });
    await gw.gql(FILL, { input: { orderId: noBars.data.submitOrder.orderId, price: '1' } });

    const r = await gw.gql(`query($a: ID!) {
      positions(accountId: $a) { symbol quantity averagePrice realizedPnl marketValue unrealizedPnl version account { accountId } }
      portfolioSummary(accountId: $a) { accountId totalMarketValue totalUnrealizedPnl totalRealizedPnl asOf
        positions { symbol quantity lastPrice marketValue unrealizedPnl } }
      account(accountId: $a) { accountId name positions { symbol } orders { edges { node { clientOrderId } } } } }`, { a: acc });
    expect(r.errors).toBeUndefined();
    const bySymbol = Object.fromEntries(r.data.positions.map((p: any) => [p.symbol, p]));
    // long 3 @ 10.1, last close 12 -> value 36, unrealized 5.7; short 2 @ 9, last close 8.5 -> value -17, unrealized 1
    expect(bySymbol[SYM_A]).toMatchObject({ quantity: '3', averagePrice: '10.1', marketValue: '36', unrealizedPnl: '5.7', account: { accountId: acc } });
    expect(bySymbol[SYM_B]).toMatchObject({ quantity: '-2', averagePrice: '9', marketValue: '-17', unrealizedPnl: '1' });
    expect(bySymbol[`NB${tag}`]).toMatchObject({ quantity: '1', marketValue: null, unrealizedPnl: null });
    expect(r.data.portfolioSummary).toMatchObject({ accountId: acc, totalMarketValue: '19', totalUnrealizedPnl: '6.7', totalRealizedPnl: '0' });
    expect(r.data.portfolioSummary.positions).toHaveLength(3);
    expect(r.data.account.name).toBe('Portfolio');
    expect(r.data.account.orders.edges.map((e: any) => e.node.clientOrderId)).toEqual(['p3', 'p2', 'p1']);
  });

  it('returns null for an unknown account, an empty portfolio for an account with nothing, and checks ids', async () => {
    const r = await gw.gql(`query($a: ID!) { account(accountId: $a) { accountId } positions(accountId: $a) { symbol } portfolioSummary(accountId: $a) { totalMarketValue positions { symbol } } }`, { a: uniqueId('none') });
    expect(r.data).toMatchObject({ account: null, positions: [], portfolioSummary: { totalMarketValue: '0', positions: [] } });
    const bad = await gw.gql(`{ positions(accountId: "bad id") { symbol } }`);
    expect(bad.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('trades query', () => {
  it('filters by account, symbol, strategy and time, newest first, paging without loss', async () => {
    const acc = uniqueId('tq');
    await gw.gql(`mutation { createAccount(input: {accountId: "${acc}", name: "t"}) { accountId } }`);
    const o = await gw.gql(SUBMIT, { input: { accountId: acc, clientOrderId: 't1', symbol: SYM_A, side: 'BUY', type: 'MARKET', quantity: '7', strategy: `tq-${tag}` } });
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const t = await gw.gql(FILL, { input: { orderId: o.data.submitOrder.orderId, quantity: '1', price: '10', executedAt: `2026-11-2${i % 3}T10:00:0${i}Z` } });
      ids.push(t.data.executeTrade.tradeId);
    }
    const seen: string[] = [];
    let after: string | null = null;
    for (let p = 0; p < 10; p++) {
      const r: any = await gw.gql(`query($a: ID, $after: String) { trades(accountId: $a, symbol: "${SYM_A}", strategy: "tq-${tag}", first: 3, after: $after) {
        edges { node { tradeId executedAt } } pageInfo { hasNextPage endCursor } } }`, { a: acc, after });
      seen.push(...r.data.trades.edges.map((e: any) => e.node.tradeId));
      if (!r.data.trades.pageInfo.hasNextPage) break;
      after = r.data.trades.pageInfo.endCursor;
    }
    expect([...seen].sort()).toEqual([...ids].sort());
    expect(new Set(seen).size).toBe(7);
    const ranged = await gw.gql(`query($a: ID) { trades(accountId: $a, from: "2026-11-21T00:00:00Z", to: "2026-11-22T00:00:00Z") { edges { node { executedAt } } } }`, { a: acc });
    expect(ranged.data.trades.edges.map((e: any) => e.node.executedAt)).toEqual(['2026-11-21T10:00:04Z', '2026-11-21T10:00:01Z']);
  });
});

describe('performanceMetrics', () => {
  it('reads daily strategy statistics with filters', async () => {
    const strategy = `pm-${tag}`;
    await gw.runtime.db.em().execute(
      `insert into analytics.performance_metrics (strategy, date, total_trades, winning_trades, win_rate) values (?, '2026-11-20', 4, 3, 0.75), (?, '2026-11-21', 2, 1, 0.5)`,
      [strategy, strategy]);
    try {
      const r = await gw.gql(`query($s: String) { performanceMetrics(strategy: $s, from: "2026-11-21") { strategy date totalTrades winningTrades winRate } }`, { s: strategy });
      expect(r.data.performanceMetrics).toEqual([{ strategy, date: '2026-11-21', totalTrades: 2, winningTrades: 1, winRate: '0.5' }]);
      const bad = await gw.gql(`query($from: Date) { performanceMetrics(from: $from) { date } }`, { from: '2026-13-01' });
      expect(bad.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
      // In a literal the same mistake fails validation, before anything runs.
      const literal = await gw.gql(`{ performanceMetrics(from: "2026-13-01") { date } }`);
      expect(literal.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    } finally {
      await gw.runtime.db.em().execute('delete from analytics.performance_metrics where strategy = ?', [strategy]);
    }
  });
});

describe('read routing', () => {
  it('serves queries from the replica (pg_is_in_recovery on the serving connection)', async () => {
    const r = await gw.gql(`{ latestBar(symbol: "${SYM_A}") { close } }`);
    expect(r.extensions?.readFrom).toEqual(['replica']);
    const [row] = await gw.runtime.db.read<{ standby: boolean }>('select pg_is_in_recovery() as standby', [], 'replica');
    expect(row.standby).toBe(true);
    const [primary] = await gw.runtime.db.read<{ standby: boolean }>('select pg_is_in_recovery() as standby', [], 'primary');
    expect(primary.standby).toBe(false);
  });

  it('falls back to the primary, with a warning and no failed request, when the replica is down', async () => {
    // A replica URL where nothing listens stands for a replica that went down.
    const down = await startTestGateway({ DATABASE_REPLICA_URLS: 'postgres://postgres@127.0.0.1:1/postgres', REPLICA_CONNECT_TIMEOUT_MS: '500' }, { syncReads: false });
    try {
      const r = await down.gql(`{ latestBar(symbol: "${SYM_A}") { close } }`);
      expect(r.errors).toBeUndefined();
      expect(r.data.latestBar.close).toBe('12');
      expect(r.extensions?.readFrom).toEqual(['primary']);
      // Later reads skip the replica for a while instead of failing again.
      const again = await down.gql(`{ account(accountId: "${account}") { name } }`);
      expect(again.data.account.name).toBe('Reads');
      expect(again.extensions?.readFrom).toEqual(['primary']);
    } finally {
      await down.stop();
    }
  });

  it('reads its own writes within one request (nested fields of a mutation come from the primary)', async () => {
    const o = await gw.gql(SUBMIT, { input: { accountId: account, clientOrderId: uniqueId('ryw'), symbol: SYM_A, side: 'BUY', type: 'MARKET', quantity: '1' } });
    const r = await gw.gql(`mutation($i: ExecuteTradeInput!) { executeTrade(input: $i) { tradeId order { status filledQuantity trades { tradeId } } } }`,
      { i: { orderId: o.data.submitOrder.orderId, price: '10' } });
    expect(r.data.executeTrade.order).toMatchObject({ status: 'FILLED', filledQuantity: '1' });
    expect(r.data.executeTrade.order.trades).toEqual([{ tradeId: r.data.executeTrade.tradeId }]);
    expect(r.extensions?.readFrom).toEqual(['primary']);
  });
});

describe('transactions', () => {
  it('a read-only transaction refuses writes', async () => {
    await expect(inTransaction(gw.runtime.db.em(), (tx) => tx.execute(`insert into execution.accounts (account_id, name) values ('${uniqueId('ro')}', 'x')`), { readOnly: true }))
      .rejects.toThrow(/read-only transaction/);
  });

  it('retries a serializable transaction that lost a serialization race, and rolls back a failed savepoint only', async () => {
    const acc = uniqueId('ser');
    await gw.runtime.db.em().execute(`insert into execution.accounts (account_id, name) values (?, '0')`, [acc]);
    // Two increments in SERIALIZABLE that read then write the same row: one fails with 40001 and is retried.
    const bump = () => inTransaction(gw.runtime.db.em(), async (tx) => {
      const [row] = await tx.execute(`select name from execution.accounts where account_id = ?`, [acc]);
      await new Promise((r) => setTimeout(r, 50));
      await tx.execute(`update execution.accounts set name = ? where account_id = ?`, [String(Number(row.name) + 1), acc]);
    }, { isolation: 'SERIALIZABLE', retries: 5 });
    await Promise.all([bump(), bump()]);
    const [after] = await gw.runtime.db.read<{ name: string }>('select name from execution.accounts where account_id = ?', [acc], 'primary');
    expect(after.name).toBe('2');

    await inTransaction(gw.runtime.db.em(), async (tx) => {
      await tx.execute(`update execution.accounts set name = 'kept' where account_id = ?`, [acc]);
      await expect(savepoint(tx, async (inner) => {
        await inner.execute(`update execution.accounts set name = 'dropped' where account_id = ?`, [acc]);
        throw new Error('nested work failed');
      })).rejects.toThrow('nested work failed');
    });
    const [final] = await gw.runtime.db.read<{ name: string }>('select name from execution.accounts where account_id = ?', [acc], 'primary');
    expect(final.name).toBe('kept');
  });
});

describe('errors', () => {
  it('maps a database error to a clear code with no SQL or stack: a fill whose notional overflows the PnL column', async () => {
    const acc = uniqueId('ovf');
    await gw.gql(`mutation { createAccount(input: {accountId: "${acc}", name: "o"}) { accountId } }`);
    const big = '999999999999.99999999';
    // Two buys at a tiny price, then two sells at a huge one: the second sell's realized PnL (about 2e24) no longer
    // fits numeric(32,8), and PostgreSQL refuses it.
    for (const id of ['b1', 'b2']) {
      const buy = await gw.gql(SUBMIT, { input: { accountId: acc, clientOrderId: id, symbol: SYM_A, side: 'BUY', type: 'MARKET', quantity: big } });
      await gw.gql(FILL, { input: { orderId: buy.data.submitOrder.orderId, price: '0.00000001' } });
    }
    const first = await gw.gql(SUBMIT, { input: { accountId: acc, clientOrderId: 's1', symbol: SYM_A, side: 'SELL', type: 'MARKET', quantity: big } });
    expect((await gw.gql(FILL, { input: { orderId: first.data.submitOrder.orderId, price: big } })).errors).toBeUndefined();
    const sell = await gw.gql(SUBMIT, { input: { accountId: acc, clientOrderId: 's2', symbol: SYM_A, side: 'SELL', type: 'MARKET', quantity: big } });
    const r = await gw.gql(FILL, { input: { orderId: sell.data.submitOrder.orderId, price: big } });
    expect(r.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(JSON.stringify(r.errors)).not.toMatch(/select|update|insert|execution\.|numeric|at .*\.ts/i);
    const o = await gw.gql(`query($id: ID!) { order(orderId: $id) { status filledQuantity } }`, { id: sell.data.submitOrder.orderId });
    expect(o.data.order).toEqual({ status: 'NEW', filledQuantity: '0' });
  });
});
