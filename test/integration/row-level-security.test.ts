/**
 * The second layer on its own: a gateway with the resolver checks switched off (accessChecks: false), so only
 * PostgreSQL's row-level security stands between a key and another account. Through HTTP, reads on the replica
 * and writes on the primary: the key gets no row of another account and can change none.
 */
import { Client as PgClient } from 'pg';
import { startTestGateway, uniqueId, type TestGateway } from '../support/gateway';
import { testDatabase } from '../support/env';

const SUBMIT = `mutation($input: SubmitOrderInput!) { submitOrder(input: $input) { orderId } }`;
const FILL = `mutation($input: ExecuteTradeInput!) { executeTrade(input: $input) { tradeId } }`;
const SYM = `RLS${(process.pid % 1000).toString()}`;

let gw: TestGateway; // the resolver layer off
let own: string;
let other: string;
let otherOrder: string;
let viewer: string;
let trader: string;
const as = (key: string) => ({ authorization: `Bearer ${key}` });

beforeAll(async () => {
  gw = await startTestGateway({ SYNC_ENABLED: 'false' }, { overrides: { accessChecks: false } });
  own = uniqueId('rlsA');
  other = uniqueId('rlsB');
  for (const id of [own, other]) await gw.gql(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`, { i: { accountId: id, name: id } });
  const place = async (accountId: string) => (await gw.gql(SUBMIT, { input: { accountId, clientOrderId: uniqueId('c'), symbol: SYM, side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '5', limitPrice: '10' } })).data.submitOrder.orderId;
  const ownOrder = await place(own);
  otherOrder = await place(other);
  for (const orderId of [ownOrder, otherOrder]) await gw.gql(FILL, { input: { orderId, quantity: '1', price: '10' } });
  viewer = await gw.createKey('viewer', [own]);
  trader = await gw.createKey('trader', [own]);
});

afterAll(async () => {
  await gw.stop();
});

describe('row-level security alone (resolver checks off)', () => {
  it('gives a key no row of another account, by any query, on the replica', async () => {
    for (const key of [viewer, trader]) {
      const r = await gw.gql(`query($b: ID!, $o: ID!) {
        account(accountId: $b) { accountId }
        positions(accountId: $b) { symbol }
        portfolioSummary(accountId: $b) { positions { symbol } }
        orders(accountId: $b, first: 50) { edges { node { orderId } } }
        trades(accountId: $b, first: 50) { edges { node { tradeId } } }
        order(orderId: $o) { orderId }
        all: orders(first: 200) { edges { node { accountId } } }
        allTrades: trades(first: 200) { edges { node { accountId } } }
      }`, { b: other, o: otherOrder }, as(key));
      expect(r.errors).toBeUndefined();
      expect(r.extensions?.readFrom).toEqual(['replica']);
      expect(r.data.account).toBeNull();
      expect(r.data.positions).toEqual([]);
      expect(r.data.portfolioSummary.positions).toEqual([]);
      expect(r.data.orders.edges).toEqual([]);
      expect(r.data.trades.edges).toEqual([]);
      expect(r.data.order).toBeNull();
      // with no account named, the database itself returns only the key's accounts
      expect(new Set(r.data.all.edges.map((e: any) => e.node.accountId))).toEqual(new Set([own]));
      expect(new Set(r.data.allTrades.edges.map((e: any) => e.node.accountId))).toEqual(new Set([own]));
    }
  });

  it('lets a key change no row of another account: inserts are refused, updates find nothing', async () => {
    const pg = new PgClient({ connectionString: testDatabase().databaseUrl });
    await pg.connect();
    const state = async () => (await pg.query(
      `select (select string_agg(order_id || ':' || version || ':' || status || ':' || filled_quantity, ',') from execution.orders where account_id = $1) as orders,
              (select count(*) from execution.trades where account_id = $1) as trades,
              (select string_agg(symbol || ':' || quantity || ':' || version, ',') from execution.positions where account_id = $1) as positions`, [other])).rows[0];
    try {
      const before = await state();
      const submit = await gw.gql(SUBMIT, { input: { accountId: other, clientOrderId: uniqueId('x'), symbol: SYM, side: 'SELL', type: 'MARKET', quantity: '1' } }, as(trader));
      expect(submit.errors?.[0].extensions?.code).toBe('FORBIDDEN');
      const cancel = await gw.gql(`mutation($o: ID!) { cancelOrder(orderId: $o) { status } }`, { o: otherOrder }, as(trader));
      expect(cancel.errors?.[0].extensions?.code).toBe('NOT_FOUND');
      const amend = await gw.gql(`mutation($o: ID!) { amendOrder(orderId: $o, expectedVersion: 2, quantity: "4") { version } }`, { o: otherOrder }, as(trader));
      expect(amend.errors?.[0].extensions?.code).toBe('NOT_FOUND');
      const all = await gw.gql(`mutation($a: ID!) { cancelAllOrders(accountId: $a) { orderId } }`, { a: other }, as(trader));
      expect(all.errors?.[0].extensions?.code).toBe('NOT_FOUND');
      const fill = await gw.gql(FILL, { input: { orderId: otherOrder, quantity: '1', price: '10' } }, as(trader));
      expect(fill.errors?.[0].extensions?.code).toBe('NOT_FOUND');
      expect(await state()).toEqual(before);
    } finally {
      await pg.end();
    }
  });

  it('leaves nothing of a request on its pooled connection: the next user of it is the owner again', async () => {
    const one = await startTestGateway({ SYNC_ENABLED: 'false', DB_POOL_SIZE: '1', DB_POOL_OVERFLOW: '0' }, { overrides: { accessChecks: false } });
    try {
      const r = await one.gql(`query($a: ID!) { orders(accountId: $a, first: 5) { edges { node { orderId } } } }`, { a: own }, as(viewer));
      expect(r.errors).toBeUndefined();
      for (const target of ['replica', 'primary'] as const) {
        const [row] = await one.runtime.db.read<{ who: string; ids: string | null; bypass: string | null }>(
          `select current_user as who, current_setting('app.current_account_ids', true) as ids, current_setting('app.bypass_rls', true) as bypass`, [], target);
        expect({ target, who: row.who, ids: row.ids || null, bypass: row.bypass || null }).toEqual({ target, who: 'postgres', ids: null, bypass: null });
      }
    } finally {
      await one.stop();
    }
  });

  it('runs request transactions as trading_app with the key\'s accounts, and admin keys as trading_admin', async () => {
    const pg = new PgClient({ connectionString: testDatabase().databaseUrl });
    await pg.connect();
    try {
      // What a request transaction sets, seen by the policies: a viewer of A sees A only; trading_admin sees both.
      const seen = async (role: string, ids: string) => {
        await pg.query('begin');
        await pg.query(`select set_config('role', $1, true), set_config('app.current_account_ids', $2, true)`, [role, ids]);
        const r = await pg.query(`select current_user as "user", array_agg(distinct account_id order by account_id) as accounts from execution.orders where account_id in ($1, $2)`, [own, other]);
        await pg.query('rollback');
        return r.rows[0];
      };
      expect(await seen('trading_app', `{"${own}"}`)).toEqual({ user: 'trading_app', accounts: [own] });
      expect(await seen('trading_app', '{}')).toEqual({ user: 'trading_app', accounts: null });
      // The old bypass flag opens nothing any more.
      await pg.query('begin');
      await pg.query(`select set_config('role', 'trading_app', true), set_config('app.bypass_rls', 'on', true)`);
      expect((await pg.query(`select count(*)::int as n from execution.orders where account_id in ($1, $2)`, [own, other])).rows[0].n).toBe(0);
      await pg.query('rollback');
      expect(await seen('trading_admin', '{}')).toEqual({ user: 'trading_admin', accounts: [own, other].sort() });
      // Neither role owns anything; neither may read keys or change the schema.
      for (const role of ['trading_app', 'trading_admin']) {
        await pg.query('begin');
        await pg.query(`set local role ${role}`);
        await expect(pg.query('select count(*) from execution.api_keys')).rejects.toThrow(/permission denied/);
        await pg.query('rollback');
        await pg.query('begin');
        await pg.query(`set local role ${role}`);
        await expect(pg.query('drop table execution.trades')).rejects.toThrow(/must be owner/);
        await pg.query('rollback');
      }
    } finally {
      await pg.end();
    }
  });
});
