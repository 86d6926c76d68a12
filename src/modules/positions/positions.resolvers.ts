/** GraphQL <-> positions service; valuations at the latest close through a batched loader. */
import type { RequestContext } from '../index';
import { NotFoundError } from '../../platform/errors';
import { required } from '../preloading-loader';
import { markToMarket } from './position-math';
import type { PositionRow } from './positions.repository';

type Ctx = RequestContext;

const valuation = async (p: PositionRow, ctx: Ctx) => markToMarket(p, await ctx.loaders.latestClose.load(p.symbol));

export const positionsResolvers = {
  Query: {
    positions: (_: unknown, a: { accountId: string }, ctx: Ctx) => ctx.services.positions.positionsOf(ctx.scope, a.accountId),
    portfolioSummary: (_: unknown, a: { accountId: string }, ctx: Ctx) => ctx.services.positions.portfolio(ctx.scope, a.accountId),
  },
  Position: {
    marketValue: async (p: PositionRow, _: unknown, ctx: Ctx) => (await valuation(p, ctx)).marketValue,
    unrealizedPnl: async (p: PositionRow, _: unknown, ctx: Ctx) => (await valuation(p, ctx)).unrealizedPnl,
    account: (p: PositionRow, _: unknown, ctx: Ctx) =>
      required(ctx.loaders.account.load(p.accountId), () => new NotFoundError('account', p.accountId)),
  },
};
