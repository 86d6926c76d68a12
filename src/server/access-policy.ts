/**
 * Who may call what, in one place: a rule for every root field (query, mutation, subscription), and a guard on every
 * field that returns objects of the types that hold account data, so an object of another account can never be
 * read through a nested field or a subscription payload either. Applied to the executable schema by wrapping resolvers; the resolvers themselves know nothing of it.
 *
 * Roles (src/modules/accounts/api-keys.ts): viewer reads its accounts; trader also submits, amends and cancels
 * orders for them; admin reads and trades every account, and alone creates accounts, records fills, ingests market
 * data and sees operations. Market data is for every key.
 *
 * Row-level security in PostgreSQL is the second, independent layer (see db-access.ts); this one gives the clear
 * error (FORBIDDEN, with nothing written) and audits refused mutations.
 */
import { defaultFieldResolver, getNamedType, GraphQLObjectType, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import { AppError } from '../platform/errors';
import { inTransaction } from '../platform/transaction';
import { writeAudit } from '../platform/audit';
import { canRead, canTrade, isAdmin, type Principal } from '../modules/accounts/api-keys';
import type { RequestContext } from '../modules';

type Args = Record<string, any>;

/** How a rule finds the account an operation is about. */
type AccountOf = (args: Args, ctx: RequestContext) => string | null | undefined | Promise<string | null | undefined>;

type Rule =
  /** any authenticated key */
  | { kind: 'any' }
  | { kind: 'admin' }
  /** read the account named by the arguments */
  | { kind: 'read'; account: AccountOf }
  /** read the named account; when none is named, only the key's own accounts (passed on as `accountIds`) */
  | { kind: 'readOwn' }
  /** the result is one object of some account: another account's is returned as not found (null) */
  | { kind: 'readResult' }
  /** trade on the account named by the arguments (or the account of the order they name) */
  | { kind: 'trade'; account: AccountOf };

const accountArg: AccountOf = (a) => a.accountId;
const inputAccount: AccountOf = (a) => a.input?.accountId;
const orderAccount: AccountOf = (a, ctx) => ctx.services.orders.accountOfOrder(ctx.scope, a.orderId);

export const ROOT_RULES: Record<'Query' | 'Mutation' | 'Subscription', Record<string, Rule>> = {
  Query: {
    marketData: { kind: 'any' },
    latestBar: { kind: 'any' },
    order: { kind: 'readResult' },
    orderByClientOrderId: { kind: 'read', account: accountArg },
    orders: { kind: 'readOwn' },
    trades: { kind: 'readOwn' },
    positions: { kind: 'read', account: accountArg },
    account: { kind: 'read', account: accountArg },
    portfolioSummary: { kind: 'read', account: accountArg },
    // strategy statistics aggregate every account's trades
    performanceMetrics: { kind: 'admin' },
    // every client's operation names and the gateway's SQL
    performanceSummary: { kind: 'admin' },
  },
  Mutation: {
    createAccount: { kind: 'admin' },
    submitOrder: { kind: 'trade', account: inputAccount },
    cancelOrder: { kind: 'trade', account: orderAccount },
    amendOrder: { kind: 'trade', account: orderAccount },
    cancelAllOrders: { kind: 'trade', account: accountArg },
    // the execution service and the market-data feed
    executeTrade: { kind: 'admin' },
    ingestMarketData: { kind: 'admin' },
  },
  Subscription: {
    tradeExecuted: { kind: 'readOwn' },
    orderUpdated: { kind: 'read', account: accountArg },
    positionUpdated: { kind: 'read', account: accountArg },
    marketDataUpdated: { kind: 'any' },
  },
};

/** Types whose objects belong to one account (their `accountId`): every field returning them checks it. */
export const ACCOUNT_OWNED_TYPES = ['Account', 'Order', 'Trade', 'Position', 'PortfolioSummary'];

function principalOf(ctx: RequestContext): Principal {
  if (!ctx.principal) throw new AppError('UNAUTHENTICATED', 'an API key is required (Authorization: Bearer tq_…)');
  return ctx.principal;
}

function forbidden(message: string): AppError {
  return new AppError('FORBIDDEN', message);
}

/** Refused mutations and admin operations leave an audit row of their own (the refused change wrote nothing). */
async function auditDenied(ctx: RequestContext, operation: string, recordIds: string[]): Promise<void> {
  try {
    await inTransaction(ctx.scope.db.em(), (tx) => writeAudit(tx, ctx.scope.access, { operation, recordIds, result: 'denied' }));
  } catch (error) {
    ctx.scope.log.error({ err: { message: (error as Error).message }, operation }, 'could not audit a refused operation');
  }
}

/**
 * Checks a root field's rule; returns the arguments to resolve with (readOwn adds the key's accounts when it names
 * none). Throws FORBIDDEN (audited for mutations and admin operations) or UNAUTHENTICATED.
 */
async function authorize(type: string, field: string, rule: Rule, args: Args, ctx: RequestContext): Promise<Args> {
  const principal = principalOf(ctx);
  const audited = type === 'Mutation' || rule.kind === 'admin';
  const deny = async (message: string, ids: (string | null | undefined)[]) => {
    if (audited) await auditDenied(ctx, field, ids.filter((id): id is string => typeof id === 'string'));
    return forbidden(message);
  };
  switch (rule.kind) {
    case 'any':
    case 'readResult':
      return args;
    case 'admin':
      if (!isAdmin(principal)) throw await deny(`${field} needs an admin key`, []);
      return args;
    case 'readOwn':
      if (args.accountId != null) {
        if (!canRead(principal, args.accountId)) throw await deny(`this key may not read account ${args.accountId}`, [args.accountId]);
        return args;
      }
      return isAdmin(principal) ? args : { ...args, accountIds: [...principal.accountIds] };
    case 'read': {
      const accountId = await rule.account(args, ctx);
      if (typeof accountId === 'string' && !canRead(principal, accountId)) throw await deny(`this key may not read account ${accountId}`, [accountId]);
      return args;
    }
    case 'trade': {
      // An unknown account or order is left to the service to report (NOT_FOUND); a known one must be the key's.
      const accountId = await rule.account(args, ctx);
      if (typeof accountId === 'string' && !canTrade(principal, accountId)) {
        const why = principal.role === 'viewer' && principal.accountIds.has(accountId)
          ? 'a viewer key may not trade' : `this key may not trade account ${accountId}`;
        throw await deny(why, [accountId, args.orderId]);
      }
      if (typeof accountId !== 'string' && principal.role === 'viewer') throw await deny('a viewer key may not trade', [args.orderId]);
      return args;
    }
  }
}

/** An object (or a list of them) of an account-owned type, as a field returns it: FORBIDDEN if another account's. */
// Runs once per object-returning field of every object in a response: no closure, no allocation.
function readableBy<T>(value: T, principal: Principal): T {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) assertReadable(value[i], principal);
  } else {
    assertReadable(value, principal);
  }
  return value;
}

function assertReadable(item: unknown, principal: Principal): void {
  const accountId = (item as { accountId?: unknown } | null)?.accountId;
  if (typeof accountId === 'string' && !canRead(principal, accountId)) throw forbidden(`this key may not read account ${accountId}`);
}

/** A connection page whose edges hold account-owned nodes: FORBIDDEN, whole, if any node is another account's. */
function readablePageBy<T>(page: T, principal: Principal): T {
  const edges = (page as { edges?: unknown } | null)?.edges;
  if (Array.isArray(edges)) {
    for (let i = 0; i < edges.length; i++) assertReadable((edges[i] as { node?: unknown } | null)?.node, principal);
  }
  return page;
}

type Check = <T>(value: T, principal: Principal) => T;

/** The check of a resolved value, one function per principal (keys are cached across requests) instead of one per field. */
const readers = new WeakMap<Check, WeakMap<Principal, (value: unknown) => unknown>>();

function readerOf(check: Check, principal: Principal): (value: unknown) => unknown {
  let byPrincipal = readers.get(check);
  if (!byPrincipal) readers.set(check, (byPrincipal = new WeakMap()));
  let reader = byPrincipal.get(principal);
  if (!reader) byPrincipal.set(principal, (reader = (value) => check(value, principal)));
  return reader;
}

/** Wraps a field's resolver with a check of what it returns, promised or not. */
function guard(resolve: GraphQLFieldResolver<any, RequestContext>, check: Check): GraphQLFieldResolver<any, RequestContext> {
  return (parent, args, ctx, info) => {
    const result = resolve(parent, args, ctx, info);
    if (!isPromise(result)) return check(result, principalOf(ctx));
    // Without a principal, UNAUTHENTICATED once the value is there, as for any other value.
    return result.then(ctx.principal ? readerOf(check, ctx.principal) : (value) => check(value, principalOf(ctx)));
  };
}

/**
 * Connection types whose edges' `node` is account-owned and read as a plain property: such a page is checked where it
 * is returned, and its edges' `node` fields keep the default resolver. graphql-jit builds a path and resolve info for
 * every resolver it calls, so a guard on `node` cost a resolver call per edge (100 for a page of orders).
 */
function checkedPages(schema: GraphQLSchema): { connections: Set<string>; edges: Set<string> } {
  const connections = new Set<string>();
  const edges = new Set<string>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!(type instanceof GraphQLObjectType)) continue;
    const edgesField = type.getFields().edges;
    const edge = edgesField && getNamedType(edgesField.type);
    if (!(edge instanceof GraphQLObjectType)) continue;
    const node = edge.getFields().node;
    if (!node || node.resolve || !ACCOUNT_OWNED_TYPES.includes(getNamedType(node.type).name)) continue;
    connections.add(type.name);
    edges.add(edge.name);
  }
  return { connections, edges };
}

const isPromise = (value: unknown): value is Promise<unknown> => typeof (value as { then?: unknown } | null)?.then === 'function';

/** A result object of another account reads as not found. */
function visible(result: unknown, principal: Principal): unknown {
  const accountId = (result as { accountId?: unknown } | null)?.accountId;
  return typeof accountId === 'string' && !canRead(principal, accountId) ? null : result;
}

/** Wraps every root field and every field returning account-owned types in the schema (in place) with the checks above. */
export function applyAccessPolicy(schema: GraphQLSchema): GraphQLSchema {
  for (const type of ['Query', 'Mutation', 'Subscription'] as const) {
    const object = schema.getType(type);
    if (!(object instanceof GraphQLObjectType)) continue;
    for (const [name, field] of Object.entries(object.getFields())) {
      const rule = ROOT_RULES[type][name];
      // A field without a rule is refused: a new field must be given one here.
      const guarded = rule ?? { kind: 'admin' };
      const resolve = field.resolve ?? defaultFieldResolver;
      if (type === 'Subscription') {
        const subscribe = field.subscribe!;
        field.subscribe = async (parent, args, ctx: RequestContext, info) => subscribe(parent, await authorize(type, name, guarded, args, ctx), ctx, info);
        continue;
      }
      field.resolve = async (parent, args, ctx: RequestContext, info) => {
        const allowed = await authorize(type, name, guarded, args, ctx);
        const result = await resolve(parent, allowed, ctx, info);
        return guarded.kind === 'readResult' ? visible(result, principalOf(ctx)) : result;
      };
    }
  }
  // Every field that returns objects of an account-owned type checks them as they come out: one check per object
  // rather than one per selected field (a page of 100 orders with their fills selects thousands of fields). Pages of
  // them are checked where the page is returned (see checkedPages).
  const pages = checkedPages(schema);
  for (const object of Object.values(schema.getTypeMap())) {
    if (!(object instanceof GraphQLObjectType) || object.name.startsWith('__')) continue;
    for (const field of Object.values(object.getFields())) {
      const returned = getNamedType(field.type).name;
      const resolve: GraphQLFieldResolver<any, RequestContext> = field.resolve ?? defaultFieldResolver;
      if (pages.connections.has(returned)) field.resolve = guard(resolve, readablePageBy);
      else if (ACCOUNT_OWNED_TYPES.includes(returned) && !(pages.edges.has(object.name) && field.name === 'node')) field.resolve = guard(resolve, readableBy);
    }
  }
  for (const typeName of ACCOUNT_OWNED_TYPES) {
    if (!(schema.getType(typeName) instanceof GraphQLObjectType)) throw new Error(`access policy: no type ${typeName} in the schema`);
  }
  return schema;
}
