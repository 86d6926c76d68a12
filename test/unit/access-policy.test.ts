/**
 * The resolver layer of access control on the real schema, with resolvers that hand out objects of two accounts: an
 * object of another account never reaches the result, whichever field it comes through. (Row-level security would
 * keep such rows from being read at all; this checks the first layer on its own.)
 */
import { execute, parse } from 'graphql';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { applyAccessPolicy } from '../../src/server/access-policy';
import { loadTypeDefs } from '../../src/server/schema';
import type { Principal } from '../../src/modules/accounts/api-keys';

const order = (orderId: string, accountId: string) => ({
  orderId, clientOrderId: orderId, accountId, symbol: 'AAPL', side: 'BUY', type: 'MARKET', timeInForce: 'GTC', quantity: '1',
  filledQuantity: '0', status: 'NEW', version: 1, createdAt: new Date(0), updatedAt: new Date(0),
});
const trade = (tradeId: string, orderId: string, accountId: string) => ({ tradeId, orderId, accountId, symbol: 'AAPL', side: 'BUY', quantity: '1', price: '1', executedAt: new Date(0) });

/** Resolvers handing out the page's orders, and for each order trades and an account of both accounts. */
const mixedSchema = (pageAccounts: string[]) => applyAccessPolicy(makeExecutableSchema({
  typeDefs: loadTypeDefs(),
  resolvers: {
    Query: {
      // narrowed to the key's accounts by the policy (readOwn); this resolver ignores that on purpose
      orders: () => ({ edges: pageAccounts.map((a) => order(`o-${a.toLowerCase()}`, a)).map((node) => ({ cursor: node.orderId, node })), pageInfo: { hasNextPage: false, endCursor: null } }),
      trades: () => ({ edges: [{ cursor: 't', node: trade('1', 'o-b', 'A') }], pageInfo: { hasNextPage: false, endCursor: null } }),
    },
    Order: {
      trades: (o: { orderId: string }) => [trade('2', o.orderId, 'A'), trade('3', o.orderId, 'B')],
      account: (o: { accountId: string }) => ({ accountId: o.accountId === 'A' ? 'B' : 'A', name: 'x', createdAt: new Date(0) }),
    },
    // a trade of A whose order is B's: the order must not come out
    Trade: { order: (t: { orderId: string }) => Promise.resolve(order(t.orderId, 'B')) },
  },
}));
const schema = mixedSchema(['A', 'B']);
const pageOfA = mixedSchema(['A']);

// The same objects handed out through promises (as DataLoaders hand them out), and a failing field.
const promisedSchema = applyAccessPolicy(makeExecutableSchema({
  typeDefs: loadTypeDefs(),
  resolvers: {
    Query: {
      orders: () => ({ edges: [order('o-a', 'A'), order('o-c', 'A')].map((node) => ({ cursor: node.orderId, node })), pageInfo: { hasNextPage: false, endCursor: null } }),
    },
    Order: {
      trades: (o: { orderId: string }) => Promise.resolve(o.orderId === 'o-a' ? [trade('2', o.orderId, 'A'), trade('3', o.orderId, 'B')] : [trade('4', o.orderId, 'A')]),
      account: (o: { orderId: string }) => (o.orderId === 'o-a' ? Promise.resolve({ accountId: 'A', name: 'x', createdAt: new Date(0) }) : Promise.reject(new Error('loader failed'))),
    },
  },
}));

const ownSchema = applyAccessPolicy(makeExecutableSchema({
  typeDefs: loadTypeDefs(),
  resolvers: {
    Query: { orders: () => ({ edges: [{ cursor: 'o-a', node: order('o-a', 'A') }], pageInfo: { hasNextPage: false, endCursor: null } }) },
    Order: { trades: (o: { orderId: string }) => Promise.resolve([trade('2', o.orderId, 'A')]) },
  },
}));

const viewerOfA: Principal = { keyId: 'k', name: 'viewer', role: 'viewer', accountIds: new Set(['A']) };
const run = async (query: string, on = schema) => {
  const result = await execute({ schema: on, document: parse(query), contextValue: { principal: viewerOfA } });
  return { data: result.data, errors: (result.errors ?? []).map((e) => ({ path: e.path?.join('.'), code: (e.originalError as { code?: string })?.code })) };
};

describe('access policy: objects of another account', () => {
  it('are refused where a page, a list, a nested field or a promise hands them out', async () => {
    // A page holding another account's order is refused whole (checked where the page is returned, not per edge).
    for (const selection of ['', 'trades { tradeId }']) {
      const page = await run(`{ orders { edges { cursor node { orderId ${selection} } } } }`);
      expect(page.errors).toEqual([{ path: 'orders', code: 'FORBIDDEN' }]);
      expect(page.data).toBeNull();
    }
    for (const [selection, path] of [['trades { tradeId }', 'orders.edges.0.node.trades'], ['account { accountId }', 'orders.edges.0.node.account']]) {
      const { data, errors } = await run(`{ orders { edges { node { orderId ${selection} } } } }`, pageOfA);
      expect(errors).toEqual([{ path, code: 'FORBIDDEN' }]);
      expect(JSON.stringify(data ?? null)).not.toMatch(/o-b|"B"|"3"/);
    }
  });

  it('are refused behind an object of the key\'s own account', async () => {
    const { data, errors } = await run(`{ trades { edges { node { tradeId order { orderId accountId } } } } }`);
    expect(errors).toEqual([{ path: 'trades.edges.0.node.order', code: 'FORBIDDEN' }]);
    expect(JSON.stringify(data)).not.toMatch(/o-b/);
  });

  it('let the key\'s own objects through untouched', async () => {
    const { data, errors } = await run(`{ trades { edges { node { tradeId accountId } } } }`);
    expect(errors).toEqual([]);
    expect(data).toEqual({ trades: { edges: [{ node: { tradeId: '1', accountId: 'A' } }] } });
  });

  it('are refused when a promise hands them out; the key\'s own come through, and a failed promise fails as it did', async () => {
    const trades = await run(`{ orders { edges { node { orderId trades { tradeId } } } } }`, promisedSchema);
    expect(trades.errors).toEqual([{ path: 'orders.edges.0.node.trades', code: 'FORBIDDEN' }]);
    expect(JSON.stringify(trades.data ?? null)).not.toMatch(/"3"/);
    const own = await run(`{ orders { edges { node { orderId trades { tradeId } } } } }`, ownSchema);
    expect(own).toEqual({ errors: [], data: { orders: { edges: [{ node: { orderId: 'o-a', trades: [{ tradeId: '2' }] } }] } } });
    const result = await execute({ schema: promisedSchema, document: parse(`{ orders { edges { node { account { accountId } } } } }`), contextValue: { principal: viewerOfA } });
    expect(result.errors?.map((e) => [e.path?.join('.'), e.message])).toEqual([['orders.edges.1.node.account', 'loader failed']]);
  });
});
