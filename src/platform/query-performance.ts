/**
 * Query-performance tracking (the seed's DatabaseMonitoring): every statement the gateway runs, timed once by the
 * StatementTimer, is counted in memory under the service and operation of the request that ran it (or the background
 * component). Statements slower than SLOW_QUERY_MS are logged at warn and written to logging.performance_logs,
 * batched, on the primary. Their text is knex's SQL with placeholders, never the bound values, and string literals
 * written into the SQL itself are replaced by `?` too.
 */
import type { Database } from './database';
import type { Logger } from './logger';
import type { StatementTimer } from './metrics';
import type { TimedStatement } from './database';
import { requestContext } from './request-context';
import { BatchWriter, jsonbParam } from './system-log';

export interface OperationStats {
  service: string;
  operation: string;
  queryCount: number;
  totalMs: number;
  slowCount: number;
}

interface PerformanceLogRow {
  timestamp: string;
  service: string;
  operation: string;
  duration_ms: number;
  statement: string;
  correlation_id: string | null;
  details: Record<string, unknown>;
}

// Operation names are the client's choice: past this many pairs, new ones share one "other" entry per service.
const MAX_ENTRIES = 1000;
const MAX_STATEMENT_CHARS = 4000;

// Quoted strings: '...' ('' inside), E'...' (backslash escapes) and dollar-quoted $tag$...$tag$ ($1 placeholders
// have a digit where a tag would start, so they are left alone).
const STRING_LITERALS = /[Ee]'(?:[^'\\]|\\.|'')*'|'(?:[^']|'')*'|\$([A-Za-z_][A-Za-z0-9_]*)?\$[\s\S]*?\$\1\$/g;

/** The statement as it may be stored: literals out, whitespace folded, bounded. */
export function redactStatement(sql: string): string {
  const text = sql.replace(STRING_LITERALS, '?').replace(/\s+/g, ' ').trim();
  return text.length > MAX_STATEMENT_CHARS ? `${text.slice(0, MAX_STATEMENT_CHARS)}…` : text;
}

const INSERT_SQL = `
  insert into logging.performance_logs ("timestamp", service, operation, duration_ms, statement, correlation_id, details)
  select "timestamp", service, operation, duration_ms, statement, correlation_id, details
  from jsonb_to_recordset(?::jsonb) as r("timestamp" timestamptz, service text, operation text, duration_ms numeric,
                                          statement text, correlation_id text, details jsonb)`;

const trackers = new WeakMap<Database, QueryPerformance>();

/** The tracker of the gateway running on this database (for the performanceSummary query). */
export function performanceOf(db: Database): QueryPerformance | undefined {
  return trackers.get(db);
}

export interface QueryPerformanceOptions {
  db: Database;
  statements: StatementTimer;
  log: Logger;
  slowQueryMs: number;
  /** how often slow statements are written (default 500 ms) */
  flushMs?: number;
}

export class QueryPerformance {
  readonly since = new Date();
  readonly slowQueryMs: number;
  readonly writer: BatchWriter<PerformanceLogRow>;
  private readonly stats = new Map<string, OperationStats>();
  private readonly detach: () => void;
  private readonly log: Logger;

  constructor(private readonly o: QueryPerformanceOptions) {
    this.slowQueryMs = o.slowQueryMs;
    this.log = o.log;
    const primary = o.db.connections()[0];
    this.writer = new BatchWriter({
      name: 'performance-log',
      log: o.log,
      intervalMs: o.flushMs,
      write: async (rows) => {
        await primary.execute(INSERT_SQL, [jsonbParam(rows)], 'run');
      },
    });
    this.detach = o.statements.listen((statement) => this.record(statement));
    trackers.set(o.db, this);
  }

  /** Per service and operation since start, most total time first. */
  summary(): (OperationStats & { averageMs: number })[] {
    return [...this.stats.values()]
      .map((s) => ({ ...s, averageMs: s.queryCount ? s.totalMs / s.queryCount : 0 }))
      .sort((a, b) => b.totalMs - a.totalMs || a.service.localeCompare(b.service) || a.operation.localeCompare(b.operation));
  }

  /** Writes the slow statements still waiting. */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  async stop(): Promise<void> {
    this.detach();
    if (trackers.get(this.o.db) === this) trackers.delete(this.o.db);
    await this.writer.stop();
  }

  private record(statement: TimedStatement): void {
    // knex emits in the async context of the call that ran the statement: the request's, or a component's.
    const store = requestContext.getStore();
    const service = store?.service ?? 'gateway';
    const operation = store?.operation ?? 'other';
    const slow = statement.ms > this.slowQueryMs && !store?.quiet;
    const entry = this.entry(service, operation);
    entry.queryCount++;
    entry.totalMs += statement.ms;
    if (!slow) return;
    entry.slowCount++;

    const sql = redactStatement(statement.sql);
    const durationMs = Math.round(statement.ms * 1000) / 1000;
    const requestId = store?.requestId ?? null;
    this.log.warn({ requestId: requestId ?? undefined, module: service, operation, connection: statement.connection, durationMs, statement: sql, failed: statement.failed || undefined }, 'slow SQL statement');
    this.writer.push({
      timestamp: new Date().toISOString(),
      service: service.slice(0, 64),
      operation: operation.slice(0, 200),
      duration_ms: durationMs,
      statement: sql,
      correlation_id: requestId,
      details: { connection: statement.connection, slowQueryMs: this.slowQueryMs, ...(statement.failed ? { failed: true } : {}) },
    });
  }

  private entry(service: string, operation: string): OperationStats {
    let key = `${service}\u0000${operation}`;
    let entry = this.stats.get(key);
    if (entry) return entry;
    if (this.stats.size >= MAX_ENTRIES) {
      operation = 'other';
      key = `${service}\u0000other`;
      entry = this.stats.get(key);
      if (entry) return entry;
    }
    entry = { service, operation, queryCount: 0, totalMs: 0, slowCount: 0 };
    this.stats.set(key, entry);
    return entry;
  }
}
