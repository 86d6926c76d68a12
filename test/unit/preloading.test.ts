/** Loading a page's nested fields ahead: which fields a query selects below a page, and the loader that answers them. */
import { Kind, parse, type FieldNode, type FragmentDefinitionNode, type OperationDefinitionNode } from 'graphql';
import { PreloadingLoader, required } from '../../src/modules/preloading-loader';
import { selectedFields } from '../../src/modules/selection';
import { ordersResolvers } from '../../src/modules/orders/orders.resolvers';

/** The resolve info of the document's first root field, as far as selectedFields reads it. */
function infoOf(query: string) {
  const doc = parse(query);
  const op = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  const fragments = Object.fromEntries(doc.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
  const root = op.selectionSet.selections[0] as FieldNode;
  const fieldNodes = op.selectionSet.selections.filter((s): s is FieldNode => s.kind === Kind.FIELD && s.name.value === root.name.value);
  return { fieldNodes, fragments };
}

const sorted = (set: ReadonlySet<string>) => [...set].sort();

describe('selectedFields', () => {
  it('names the fields selected at a path, by field name whatever their alias', () => {
    const info = infoOf('{ orders(first: 5) { pageInfo { hasNextPage } edges { cursor node { orderId fills: trades { tradeId } account { name } } } } }');
    expect(sorted(selectedFields(info, ['edges', 'node']))).toEqual(['account', 'orderId', 'trades']);
    expect(sorted(selectedFields(info, ['edges']))).toEqual(['cursor', 'node']);
    expect(sorted(selectedFields(info, ['pageInfo', 'hasNextPage']))).toEqual([]);
    expect(sorted(selectedFields(info, ['nothing']))).toEqual([]);
  });

  it('follows named and inline fragments, and merges the same field asked twice', () => {
    const info = infoOf(`
      query { orders { edges { node { ...withTrades } } } orders { edges { ... on OrderEdge { node { ... on Order { status } } } } } }
      fragment withTrades on Order { trades { tradeId } ...more }
      fragment more on Order { account { accountId } }`);
    expect(sorted(selectedFields(info, ['edges', 'node']))).toEqual(['account', 'status', 'trades']);
  });

  it('counts a field left out by @skip or @include as selected (loaded for nothing, never missing)', () => {
    const info = infoOf('query($t: Boolean!) { orders { edges { node { orderId trades @include(if: $t) { tradeId } } } } }');
    expect(sorted(selectedFields(info, ['edges', 'node']))).toEqual(['orderId', 'trades']);
  });

  it('stops at a fragment that spreads itself', () => {
    const info = infoOf('{ orders { edges { node { ...a } } } } fragment a on Order { orderId ...a }');
    expect(sorted(selectedFields(info, ['edges', 'node']))).toEqual(['orderId']);
  });
});

/** A loader over a fake batch that records what it was asked. */
function loaderOf(values: Record<string, string | null>, options?: { cache?: boolean }) {
  const batches: string[][] = [];
  const loader = new PreloadingLoader<string, string | null>(async (keys) => {
    batches.push([...keys]);
    return keys.map((k) => values[k] ?? null);
  }, options);
  return { loader, batches };
}

describe('PreloadingLoader', () => {
  it('answers keys loaded ahead without a promise, from one batch of the distinct keys', async () => {
    const { loader, batches } = loaderOf({ a: 'A', b: 'B' });
    await loader.preload(['a', 'b', 'a', 'c']);
    expect(batches).toEqual([['a', 'b', 'c']]);
    expect(loader.load('a')).toBe('A');
    expect(loader.load('b')).toBe('B');
    // a key whose answer was null is known too: null, without asking again
    expect(loader.load('c')).toBeNull();
    expect(batches).toHaveLength(1);
  });

  it('promises the keys not loaded ahead, batched together as a DataLoader does', async () => {
    const { loader, batches } = loaderOf({ a: 'A', x: 'X', y: 'Y' });
    await loader.preload(['a']);
    const x = loader.load('x');
    const y = loader.load('y');
    expect(x).toBeInstanceOf(Promise);
    expect(await Promise.all([x, y])).toEqual(['X', 'Y']);
    expect(batches).toEqual([['a'], ['x', 'y']]);
  });

  it('loads ahead only the keys it does not know yet', async () => {
    const { loader, batches } = loaderOf({ a: 'A', b: 'B' });
    await loader.preload(['a']);
    await loader.preload(['a', 'b']);
    await loader.preload(['b']);
    expect(batches).toEqual([['a'], ['b']]);
  });

  it('keeps nothing without a cache (a subscription context): every load goes through the batch', async () => {
    const { loader, batches } = loaderOf({ a: 'A' }, { cache: false });
    await loader.preload(['a']);
    expect(batches).toEqual([]);
    const a = loader.load('a');
    expect(a).toBeInstanceOf(Promise);
    expect(await a).toBe('A');
  });

  it('lets a failed batch reach the caller and keeps nothing of it', async () => {
    let fail = true;
    const loader = new PreloadingLoader<string, string>(async (keys) => {
      if (fail) throw new Error('replica gone');
      return keys.map((k) => k.toUpperCase());
    });
    await expect(loader.preload(['a'])).rejects.toThrow('replica gone');
    fail = false;
    await expect(loader.load('a')).resolves.toBe('A');
  });
});

describe('required', () => {
  const missing = () => new Error('not found');
  it('passes a value through as it came, promised or not', async () => {
    expect(required('v', missing)).toBe('v');
    await expect(required(Promise.resolve('v'), missing)).resolves.toBe('v');
  });
  it('throws, or rejects, the missing error for null', async () => {
    expect(() => required(null, missing)).toThrow('not found');
    await expect(required(Promise.resolve(null), missing)).rejects.toThrow('not found');
  });
});

describe('Query.orders', () => {
  // the resolvers as the schema has them, on fake services: what the page's resolver loads ahead for its orders
  const orders = [{ orderId: 'o1', accountId: 'A' }, { orderId: 'o2', accountId: 'B' }, { orderId: 'o3', accountId: 'A' }];

  function contextOf() {
    const trades = loaderOf({ o1: 't1', o2: 't2', o3: 't3' });
    const accounts = loaderOf({ A: 'account A', B: 'account B' });
    const ctx = {
      scope: {},
      services: { orders: { orders: async () => ({ edges: orders.map((node) => ({ cursor: node.orderId, node })), pageInfo: { hasNextPage: false, endCursor: 'o3' } }) } },
      loaders: { tradesOfOrder: trades.loader, account: accounts.loader },
    };
    return { ctx: ctx as never, trades, accounts };
  }

  it('loads the trades and the account of the page\'s orders ahead, one batch each, when the query selects them', async () => {
    const { ctx, trades, accounts } = contextOf();
    const info = infoOf('{ orders { edges { node { orderId trades { tradeId } account { name } } } } }') as never;
    const page = await ordersResolvers.Query.orders(undefined, {}, ctx, info);
    expect(trades.batches).toEqual([['o1', 'o2', 'o3']]);
    expect(accounts.batches).toEqual([['A', 'B']]);
    // the nested fields then answer without a promise
    expect(page.edges.map((e) => ordersResolvers.Order.trades(e.node, {}, ctx))).toEqual(['t1', 't2', 't3']);
    expect(page.edges.map((e) => ordersResolvers.Order.account(e.node, {}, ctx))).toEqual(['account A', 'account B', 'account A']);
  });

  it('loads nothing ahead that the query does not select', async () => {
    const { ctx, trades, accounts } = contextOf();
    await ordersResolvers.Query.orders(undefined, {}, ctx, infoOf('{ orders { edges { node { orderId account { name } } } } }') as never);
    expect(trades.batches).toEqual([]);
    expect(accounts.batches).toEqual([['A', 'B']]);
    const other = contextOf();
    await ordersResolvers.Query.orders(undefined, {}, other.ctx, infoOf('{ orders { pageInfo { hasNextPage } } }') as never);
    expect([other.trades.batches, other.accounts.batches]).toEqual([[], []]);
  });
});
