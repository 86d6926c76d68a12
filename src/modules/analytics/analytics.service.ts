/** Analytics reads: daily strategy statistics (kept current from trade events by the synchronizer). */
import type { Scope } from '../../platform/scope';
import { ValidationError } from '../../platform/errors';

export interface PerformanceMetricRow {
  strategy: string;
  date: string;
  totalTrades: number;
  winningTrades: number;
  winRate: string;
}

export class AnalyticsService {
  async performanceMetrics(scope: Scope, f: { strategy?: string | null; from?: string | null; to?: string | null }): Promise<PerformanceMetricRow[]> {
    if (f.from && f.to && f.from > f.to) throw ValidationError.field('to', 'must not be before from');
    const where: string[] = [];
    const params: unknown[] = [];
    if (f.strategy) (where.push('strategy = ?'), params.push(f.strategy));
    if (f.from) (where.push('date >= ?::date'), params.push(f.from));
    if (f.to) (where.push('date <= ?::date'), params.push(f.to));
    // Bounded: at most a year of days per strategy unless the caller narrows it.
    return scope.reads.allPublic<PerformanceMetricRow>(
      `select strategy, to_char(date, 'YYYY-MM-DD') as date, total_trades as "totalTrades",
              winning_trades as "winningTrades", win_rate as "winRate"
       from analytics.performance_metrics ${where.length ? `where ${where.join(' and ')}` : ''}
       order by strategy, date limit 10000`,
      params,
    );
  }
}
