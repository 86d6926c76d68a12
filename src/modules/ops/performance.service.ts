/** performanceSummary: this process's statement counts and times (in memory), and the latest slow statements. */
import type { Scope } from '../../platform/scope';
import { ValidationError } from '../../platform/errors';
import { performanceOf, type OperationStats } from '../../platform/query-performance';

export interface PerformanceSummary {
  since: Date;
  slowQueryMs: number;
  operations: (OperationStats & { averageMs: number })[];
}

export interface SlowStatementRow {
  timestamp: string;
  service: string;
  operation: string;
  durationMs: number;
  statement: string | null;
  correlationId: string | null;
}

const MAX_RECENT = 200;
const round = (ms: number) => Math.round(ms * 1000) / 1000;

export class PerformanceService {
  summary(scope: Scope): PerformanceSummary {
    const tracker = performanceOf(scope.db);
    // Only a gateway tracks; a scope without one (a script) has nothing to show.
    if (!tracker) return { since: new Date(), slowQueryMs: 0, operations: [] };
    const operations = tracker.summary().map((s) => ({ ...s, totalMs: round(s.totalMs), averageMs: round(s.averageMs) }));
    return { since: tracker.since, slowQueryMs: tracker.slowQueryMs, operations };
  }

  /** Newest first, from every process writing to logging.performance_logs. */
  async recentSlow(scope: Scope, limit: number): Promise<SlowStatementRow[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RECENT) throw ValidationError.field('limit', `must be between 1 and ${MAX_RECENT}`);
    const rows = await scope.reads.allPublic<SlowStatementRow & { durationMs: string }>(
      `select "timestamp", service, operation, duration_ms::text as "durationMs", statement, correlation_id as "correlationId"
       from logging.performance_logs order by "timestamp" desc, id desc limit ?`,
      [limit],
    );
    return rows.map((r) => ({ ...r, durationMs: Number(r.durationMs) }));
  }
}
