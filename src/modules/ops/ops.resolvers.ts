/** GraphQL <-> operations views (query performance). */
import type { RequestContext } from '../index';
import { PerformanceService, type PerformanceSummary } from './performance.service';

const performance = new PerformanceService();

export const opsResolvers = {
  Query: {
    // Admin keys only (src/server/access-policy.ts): it shows every client's operation names and the gateway's SQL.
    performanceSummary: (_: unknown, _a: unknown, ctx: RequestContext) => performance.summary(ctx.scope),
  },
  PerformanceSummary: {
    recentSlow: (_: PerformanceSummary, a: { limit?: number | null }, ctx: RequestContext) => performance.recentSlow(ctx.scope, a.limit ?? 20),
  },
};
