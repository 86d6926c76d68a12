/**
 * Warnings and errors into logging.system_logs, and the batched, bounded writer that the query-performance tracking
 * shares. Rows wait in memory and go to the primary in batches (every 500 ms or 100 rows); a failed batch is dropped
 * and only logged. Nothing here may feed itself: the writer's statements run in a quiet request context (never
 * reported as slow), and whatever is logged in that context never reaches the table.
 */
import type { Database } from './database';
import { onWarnings, type Logger } from './logger';
import { background, requestContext } from './request-context';

export interface BatchWriterOptions<T> {
  /** names the writer in its own log lines */
  name: string;
  /** inserts one batch; runs in a quiet context */
  write(rows: T[]): Promise<void>;
  log: Logger;
  intervalMs?: number;
  batchSize?: number;
  /** beyond this many waiting rows the oldest are dropped (and counted) */
  maxQueue?: number;
}

const FAILURE_LOG_EVERY_MS = 30_000;

export class BatchWriter<T> {
  dropped = 0;
  failed = 0;
  written = 0;
  private queue: T[] = [];
  private running?: Promise<void>;
  private readonly timer: NodeJS.Timeout;
  private lastFailureLog = 0;
  private reportedDrops = 0;
  private readonly batchSize: number;
  private readonly maxQueue: number;

  constructor(private readonly o: BatchWriterOptions<T>) {
    this.batchSize = o.batchSize ?? 100;
    this.maxQueue = o.maxQueue ?? 10_000;
    // The timer must not carry whatever request context created the writer.
    this.timer = requestContext.exit(() => setInterval(() => void this.flush(), o.intervalMs ?? 500));
    this.timer.unref();
  }

  get pending(): number {
    return this.queue.length;
  }

  push(row: T): void {
    this.queue.push(row);
    if (this.queue.length > this.maxQueue) {
      this.queue.shift();
      this.dropped++;
    }
    if (this.queue.length >= this.batchSize) void this.flush();
  }

  /** Writes what is waiting (or joins the flush under way). Never rejects. */
  flush(): Promise<void> {
    this.running ??= requestContext
      .run(background(this.o.name, true), () => this.drain())
      .finally(() => (this.running = undefined));
    return this.running;
  }

  /** Stops the timer and writes what is left. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.batchSize);
      try {
        await this.o.write(batch);
        this.written += batch.length;
      } catch (error) {
        // Dropped, not retried: a database that refuses logs must not grow the queue or hold up shutdown.
        this.failed += batch.length;
        this.report(`${this.o.name}: a batch could not be written; its rows are dropped`, error);
        return;
      }
    }
    if (this.dropped > this.reportedDrops) {
      this.report(`${this.o.name}: queue full, oldest rows dropped`);
      this.reportedDrops = this.dropped;
    }
  }

  /** At most one line per 30 s; logged in the quiet context, so it stays on the console. */
  private report(message: string, error?: unknown): void {
    const now = Date.now();
    if (now - this.lastFailureLog < FAILURE_LOG_EVERY_MS) return;
    this.lastFailureLog = now;
    const err = error ? { message: (error as Error).message } : undefined;
    this.o.log.warn({ err, dropped: this.dropped, failed: this.failed }, message);
  }
}

interface SystemLogRow {
  timestamp: string;
  level: string;
  service: string;
  event_type: string;
  message: string;
  correlation_id: string | null;
  details: Record<string, unknown> | null;
}

const SERVICE = 'tradeql';
const LEVELS: Record<number, string> = { 40: 'warn', 50: 'error', 60: 'fatal' };
const cut = (value: unknown, max: number) => (typeof value === 'string' && value ? value.slice(0, max) : null);

/**
 * A JSON array for a `?::jsonb` parameter. PostgreSQL's jsonb refuses \u0000; it is dropped (keeping an escaped
 * backslash that happens to precede "u0000").
 */
export function jsonbParam(rows: unknown[]): string {
  return JSON.stringify(rows).replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1');
}

/** One pino line -> one system_logs row; null for what is not a warning or an error, or not JSON. */
export function systemLogRow(line: string): SystemLogRow | null {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line);
  } catch {
    return null;
  }
  const { level, time, msg, service, component, requestId, ...details } = entry;
  // The base field says which program logged; a line that set a `service` of its own keeps it in the details.
  if (service !== undefined && service !== SERVICE) details.service = service;
  const label = LEVELS[level as number] ?? (typeof level === 'number' && level > 60 ? 'fatal' : null);
  if (!label) return null;
  return {
    timestamp: typeof time === 'string' ? time : new Date().toISOString(),
    level: label,
    service: SERVICE,
    event_type: cut(component, 64) ?? 'gateway',
    message: typeof msg === 'string' ? msg : '',
    // A line logged outside the request's child logger (e.g. by the database component) still belongs to it.
    correlation_id: cut(requestId, 64) ?? cut(requestContext.getStore()?.requestId, 64),
    // The stack stays: the table is internal.
    details: Object.keys(details).length ? details : null,
  };
}

const INSERT_SQL = `
  insert into logging.system_logs ("timestamp", level, service, event_type, message, correlation_id, details)
  select "timestamp", level, service, event_type, message, correlation_id, details
  from jsonb_to_recordset(?::jsonb) as r("timestamp" timestamptz, level text, service text, event_type text, message text, correlation_id text, details jsonb)`;

/** The gateway's warnings and errors, written to logging.system_logs on the primary. */
export class SystemLog {
  readonly writer: BatchWriter<SystemLogRow>;
  private readonly detach?: () => void;

  constructor(db: Database, log: Logger, options: { intervalMs?: number } = {}) {
    const primary = db.connections()[0];
    this.writer = new BatchWriter({
      name: 'system-log',
      log: log.child({ component: 'system-log' }),
      intervalMs: options.intervalMs,
      write: async (rows) => {
        await primary.execute(INSERT_SQL, [jsonbParam(rows)], 'run');
      },
    });
    this.detach = onWarnings(log, (line) => {
      if (requestContext.getStore()?.quiet) return; // the writers' own troubles stay on the console
      const row = systemLogRow(line);
      if (row) this.writer.push(row);
    });
  }

  /** Stops listening and writes what is left (before the pools close). */
  async stop(): Promise<void> {
    this.detach?.();
    await this.writer.stop();
  }
}
