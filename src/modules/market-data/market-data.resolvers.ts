/** GraphQL <-> market-data service. */
import type { RequestContext } from '../index';
import type { BarInput } from './bar-rules';
import type { Timeframe } from './timeframes';

export const marketDataResolvers = {
  Query: {
    marketData: (_: unknown, a: { symbol: string; from?: Date; to?: Date; timeframe?: Timeframe; first?: number; after?: string }, ctx: RequestContext) =>
      ctx.services.marketData.bars(ctx.scope, a),
    latestBar: (_: unknown, a: { symbol: string }, ctx: RequestContext) => ctx.services.marketData.latestBar(ctx.scope, a.symbol),
  },
  Mutation: {
    ingestMarketData: (_: unknown, a: { bars: BarInput[] }, ctx: RequestContext) => ctx.services.marketData.ingest(ctx.scope, a.bars),
  },
};
