/** GraphQL <-> orders service; nested fields go through the request's DataLoaders. */
import type { GraphQLResolveInfo } from 'graphql';
import type { RequestContext } from '../index';
import { NotFoundError } from '../../platform/errors';
import { required } from '../preloading-loader';
import { selectedFields } from '../selection';
import type { OrderRow } from './orders.repository';
import type { OrderStatus, SubmitOrderInput } from './order-lifecycle';
import type { AmendInput, ExecuteTradeInput } from './orders.service';

type Ctx = RequestContext;

/**
 * The trades and the account of a page's orders, each in one batch, when the query selects them: the same statements
 * the fields' loaders would send, but their values are then there for every order without a promise each.
 */
async function loadAhead(orders: readonly OrderRow[], info: GraphQLResolveInfo, ctx: Ctx): Promise<void> {
  if (!orders.length) return;
  const fields = selectedFields(info, ['edges', 'node']);
  await Promise.all([
    fields.has('trades') ? ctx.loaders.tradesOfOrder.preload(orders.map((o) => o.orderId)) : undefined,
    fields.has('account') ? ctx.loaders.account.preload(orders.map((o) => o.accountId)) : undefined,
  ]);
}

export const ordersResolvers = {
  Query: {
    order: (_: unknown, a: { orderId: string }, ctx: Ctx) => ctx.services.orders.order(ctx.scope, a.orderId),
    orderByClientOrderId: (_: unknown, a: { accountId: string; clientOrderId: string }, ctx: Ctx) =>
      ctx.services.orders.orderByClientOrderId(ctx.scope, a.accountId, a.clientOrderId),
    orders: async (_: unknown, a: { accountId?: string; symbol?: string; status?: OrderStatus[]; strategy?: string; first?: number; after?: string }, ctx: Ctx, info: GraphQLResolveInfo) => {
      const page = await ctx.services.orders.orders(ctx.scope, a);
      await loadAhead(page.edges.map((e) => e.node), info, ctx);
      return page;
    },
    trades: (_: unknown, a: { accountId?: string; symbol?: string; strategy?: string; from?: Date; to?: Date; first?: number; after?: string }, ctx: Ctx) =>
      ctx.services.orders.trades(ctx.scope, { ...a, fromMs: a.from?.getTime() ?? null, toMs: a.to?.getTime() ?? null }),
  },
  Mutation: {
    submitOrder: (_: unknown, a: { input: SubmitOrderInput }, ctx: Ctx) => ctx.services.orders.submit(ctx.scope, a.input),
    cancelOrder: (_: unknown, a: { orderId: string; expectedVersion?: number }, ctx: Ctx) =>
      ctx.services.orders.cancel(ctx.scope, a.orderId, a.expectedVersion),
    cancelAllOrders: (_: unknown, a: { accountId: string; symbol?: string }, ctx: Ctx) =>
      ctx.services.orders.cancelAll(ctx.scope, a.accountId, a.symbol),
    amendOrder: (_: unknown, a: AmendInput, ctx: Ctx) => ctx.services.orders.amend(ctx.scope, a),
    executeTrade: (_: unknown, a: { input: ExecuteTradeInput }, ctx: Ctx) => ctx.services.orders.executeTrade(ctx.scope, a.input),
  },
  Order: {
    trades: (o: { orderId: string }, _: unknown, ctx: Ctx) => ctx.loaders.tradesOfOrder.load(o.orderId),
    account: (o: { accountId: string }, _: unknown, ctx: Ctx) =>
      required(ctx.loaders.account.load(o.accountId), () => new NotFoundError('account', o.accountId)),
  },
  Trade: {
    order: async (t: { orderId: string }, _: unknown, ctx: Ctx) =>
      (await ctx.loaders.order.load(t.orderId)) ?? Promise.reject(new NotFoundError('order', t.orderId)),
  },
};
