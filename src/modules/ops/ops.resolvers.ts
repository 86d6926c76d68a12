/** GraphQL <-> operations views (query performance). */
import type { RequestContext } from '../index';
import { PerformanceService, type PerformanceSummary } from './performance.service';
import { AppError } from '../../platform/errors';
import { isAdmin, type Principal } from '../accounts/api-keys';

function requireAdmin(principal: Principal | null | undefined): void {
  if (!principal) throw new AppError('UNAUTHENTICATED', 'an admin API key is required (Authorization: Bearer tq_…)');
  if (!isAdmin(principal)) throw new AppError('FORBIDDEN', 'an admin API key is required');
}

const performance = new PerformanceService();

export const opsResolvers = {
  Query: {
    // Admin keys only: it shows every client's operation names and the gateway's SQL.
    performanceSummary: (_: unknown, _a: unknown, ctx: RequestContext) => {
      requireAdmin(ctx.principal);
      return performance.summary(ctx.scope);
    },
  },
  PerformanceSummary: {
    recentSlow: (_: PerformanceSummary, a: { limit?: number | null }, ctx: RequestContext) => performance.recentSlow(ctx.scope, a.limit ?? 20),
  },
};
