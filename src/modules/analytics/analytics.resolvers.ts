/** GraphQL <-> analytics service. */
import type { RequestContext } from '../index';

export const analyticsResolvers = {
  Query: {
    performanceMetrics: (_: unknown, a: { strategy?: string; from?: string; to?: string }, ctx: RequestContext) =>
      ctx.services.analytics.performanceMetrics(ctx.scope, a),
  },
};
