/**
 * Prometheus metrics of one gateway, for GET /metrics. Each gateway has a registry of its own, not prom-client's
 * global one: tests run several gateways in one process. Counters move as things happen (requests, statements,
 * reads); what needs a look (pools, outbox, replica lag) is read at scrape time, each look time-boxed so that a slow
 * or dead database makes a scrape report less, never hang.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Database, ReadTarget, TimedStatement } from './database';
import type { Logger } from './logger';
import { isControlStatement } from './db-access';

export type OperationType = 'query' | 'mutation' | 'subscription' | 'unknown';
export type Outcome = 'success' | 'partial' | 'error';

export interface MetricsSources {
  db: Database;
  log: Logger;
  /** this process's relay: `published` only grows */
  relay: { published: number };
  /** `size`: live subscription streams */
  hub: { size: number };
  /** the gateway's statement timer (shared with the query-performance tracking) */
  statements: StatementTimer;
  /** the graphql-ws WebSocket server: its open sockets */
  wsServer: { clients: Set<unknown> };
  slowQueryMs: number;
  /** longest a scrape waits for one database look */
  scrapeTimeoutMs?: number;
}

const OPERATION_NAME = /^[A-Za-z0-9_]+$/;
// Names are the client's choice: past this many distinct ones, new names share one series.
const MAX_OPERATION_NAMES = 500;
const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
// A statement whose response never comes (a knex timeout emits no event) must not stay in the map forever.
const MAX_IN_FLIGHT = 10_000;

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const SQL_SECONDS = [0.0005, 0.001, 0.0025, ...SECONDS];

// Both halves of the backlog on their indexes: unsequenced rows (idx_outbox_unsequenced) and sequenced ones above the
// relay's watermark (the unique index of sequence). Everything at or below the watermark was published.
const OUTBOX_SQL = `
  with watermark as (select published_sequence as w from execution.outbox_state where id = 1)
  select (select count(*) from execution.outbox where sequence is null)
       + (select count(*) from execution.outbox, watermark where sequence > w) as backlog,
         coalesce(greatest(0, extract(epoch from now() - least(
           (select min(created_at) from execution.outbox where sequence is null),
           (select min(created_at) from execution.outbox, watermark where sequence > w)))), 0) as lag`;

// Time since the last replayed transaction; 0 when the replica has replayed all it received (an idle primary sends
// no transactions, and the timestamp alone would grow without any lag). Off a replica (not in recovery) both are null: 0.
const REPLICA_LAG_SQL = `
  select case when pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() then 0
              else coalesce(greatest(0, extract(epoch from now() - pg_last_xact_replay_timestamp())), 0) end as lag`;

/**
 * Times every statement on the database's connections, once, for every listener: the metrics and the
 * query-performance tracking. Statements run through knex (units of work, transactions) are timed from knex's events
 * ('query' to 'query-response' or 'query-error', matched by the query's uid); the reads Database runs on a pg client
 * itself, by Database. Listeners are called in the async context of the call that ran the statement.
 */
export class StatementTimer {
  private readonly listeners = new Set<(statement: TimedStatement) => void>();
  private readonly detach: (() => void)[] = [];

  constructor(db: Database) {
    const forward = (statement: TimedStatement) => this.emit(statement);
    db.statementListeners.add(forward);
    this.detach.push(() => db.statementListeners.delete(forward));
    db.connections().forEach((connection, i) => {
      const kind = i === 0 ? 'primary' : 'replica';
      const started = new Map<string, number>();
      // Transaction control is not timed: MikroORM's BEGIN/COMMIT have no uid and no response event, and the plain-SQL
      // transactions' (BEGIN with the access prelude, COMMIT) and the prelude alone are skipped to match.
      const onQuery = (query: { __knexQueryUid?: string; sql?: string }) => {
        if (!query.__knexQueryUid || isControlStatement(query.sql ?? '')) return;
        started.set(query.__knexQueryUid, performance.now());
        if (started.size > MAX_IN_FLIGHT) started.delete(started.keys().next().value as string);
      };
      const onDone = (query: KnexQuery | undefined, failed: boolean) => {
        const start = query?.__knexQueryUid ? started.get(query.__knexQueryUid) : undefined;
        if (start === undefined) return;
        started.delete(query!.__knexQueryUid!);
        this.emit({ connection: kind, sql: query!.sql ?? '', ms: performance.now() - start, failed });
      };
      const onResponse = (_response: unknown, query: KnexQuery) => onDone(query, false);
      const onError = (_error: unknown, query: KnexQuery) => onDone(query, true);
      const knex = connection.getKnex();
      knex.on('query', onQuery).on('query-response', onResponse).on('query-error', onError);
      this.detach.push(() => {
        knex.off('query', onQuery).off('query-response', onResponse).off('query-error', onError);
      });
    });
  }

  private emit(statement: TimedStatement): void {
    for (const listener of this.listeners) {
      try {
        listener(statement);
      } catch {
        // Runs inside knex's event or Database's read: a listener's failure must never fail the statement.
      }
    }
  }

  /** Returns the function that stops listening. */
  listen(listener: (statement: TimedStatement) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    for (const undo of this.detach.splice(0)) undo();
    this.listeners.clear();
  }
}

interface KnexQuery {
  __knexQueryUid?: string;
  sql?: string;
}

/** Bounds an operation name for a label: at most 64 characters of [A-Za-z0-9_], else "invalid"; none: "anonymous". */
export function operationLabel(name: string | null | undefined): string {
  if (!name) return 'anonymous';
  const cut = name.slice(0, 64);
  return OPERATION_NAME.test(cut) ? cut : 'invalid';
}

function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'operation' | 'type' | 'outcome'>;
  private readonly duration: Histogram<'operation' | 'type'>;
  private readonly errors: Counter<'code'>;
  private readonly limited: Counter<'budget'>;
  private readonly outboxBacklog: Gauge;
  private readonly outboxLag: Gauge;
  private readonly replicaLag: Gauge<'replica'>;
  private readonly replicaErrors: Counter<'replica'>;
  private readonly poolConnections: Gauge<'connection' | 'state'>;
  private readonly operationNames = new Set<string>();
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private readonly detach: (() => void)[] = [];
  private readonly timeoutMs: number;

  /** An operation refused by a rate limit (auth: an authentication refused after too many failures from its address). */
  rateLimited(budget: 'read' | 'mutation' | 'auth'): void {
    this.limited.inc({ budget });
  }

  constructor(private readonly sources: MetricsSources) {
    const registers = [this.registry];
    this.timeoutMs = sources.scrapeTimeoutMs ?? 2000;
    collectDefaultMetrics({ register: this.registry });

    this.requests = new Counter({ name: 'tradeql_graphql_requests_total', help: 'GraphQL operations (HTTP and WebSocket); type "unknown": refused before an operation was found', labelNames: ['operation', 'type', 'outcome'], registers });
    this.duration = new Histogram({ name: 'tradeql_graphql_request_duration_seconds', help: 'GraphQL operation time; for subscriptions, until the subscription is set up', labelNames: ['operation', 'type'], buckets: SECONDS, registers });
    this.errors = new Counter({ name: 'tradeql_graphql_errors_total', help: 'errors in GraphQL responses, by extensions.code', labelNames: ['code'], registers });
    this.limited = new Counter({ name: 'tradeql_rate_limited_total', help: 'operations refused by a rate limit, by budget: read and mutation per key, auth per client address (failed authentications)', labelNames: ['budget'], registers });
    for (const budget of ['read', 'mutation']) this.limited.inc({ budget }, 0);

    const { db, relay, hub, wsServer } = sources;
    const reads = new Counter({ name: 'tradeql_reads_total', help: 'plain-row reads by where they were served', labelNames: ['served_by'], registers });
    for (const target of ['replica', 'primary'] as const) reads.inc({ served_by: target }, 0);
    const onRead = (target: ReadTarget) => reads.inc({ served_by: target });
    db.readListeners.push(onRead);
    this.detach.push(() => {
      const at = db.readListeners.indexOf(onRead);
      if (at >= 0) db.readListeners.splice(at, 1);
    });
    this.instrumentStatements();

    this.poolConnections = new Gauge({ name: 'tradeql_db_pool_connections', help: 'connections of the knex pools (replicas summed)', labelNames: ['connection', 'state'], registers });
    new Gauge({ name: 'tradeql_websocket_connections', help: 'open WebSocket connections', registers, collect() { this.set(wsServer.clients.size); } });
    new Gauge({ name: 'tradeql_subscriptions_active', help: 'live subscription streams', registers, collect() { this.set(hub.size); } });
    this.outboxBacklog = new Gauge({ name: 'tradeql_outbox_backlog', help: 'outbox rows not yet published (NaN: the primary did not answer)', registers });
    this.outboxLag = new Gauge({ name: 'tradeql_outbox_relay_lag_seconds', help: 'age of the oldest unpublished outbox row, 0 if none', registers });
    let published = 0;
    new Counter({
      name: 'tradeql_events_published_total',
      help: 'events published by this process\'s outbox relay',
      registers,
      collect() {
        // The relay keeps its own running total; the counter catches up with it at each scrape.
        if (relay.published > published) this.inc(relay.published - published);
        published = relay.published;
      },
    });
    this.replicaLag = new Gauge({ name: 'tradeql_replica_lag_seconds', help: 'replay lag of each read replica (NaN: it did not answer)', labelNames: ['replica'], registers });
    this.replicaErrors = new Counter({ name: 'tradeql_replica_errors_total', help: 'replica lag checks that failed or timed out', labelNames: ['replica'], registers });
    for (const name of this.replicaNames()) this.replicaErrors.inc({ replica: name }, 0);
  }

  /** One GraphQL operation, finished (or, for a subscription, set up). */
  request(name: string | null | undefined, type: OperationType, outcome: Outcome, seconds: number): void {
    let operation = operationLabel(name);
    if (!this.operationNames.has(operation)) {
      if (this.operationNames.size >= MAX_OPERATION_NAMES) operation = 'other';
      else this.operationNames.add(operation);
    }
    this.requests.inc({ operation, type, outcome });
    this.duration.observe({ operation, type }, seconds);
  }

  /** The extensions.code of each error of one response. */
  errorCodes(codes: readonly unknown[]): void {
    for (const code of codes) this.errors.inc({ code: typeof code === 'string' && ERROR_CODE.test(code) ? code : 'OTHER' });
  }

  /** The registry's text, after the looks that need the database. */
  async scrape(): Promise<string> {
    this.collectPools();
    await Promise.all([this.collectOutbox(), this.collectReplicaLag()]);
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    for (const undo of this.detach.splice(0)) undo();
    this.registry.clear();
  }

  /** Statement times, per connection kind, and the slow ones. */
  private instrumentStatements(): void {
    const statements = new Histogram({ name: 'tradeql_sql_statement_duration_seconds', help: 'SQL statement time, from knex query to response or error', labelNames: ['connection'], buckets: SQL_SECONDS, registers: [this.registry] });
    const slow = new Counter({ name: 'tradeql_sql_slow_statements_total', help: `SQL statements slower than SLOW_QUERY_MS (${this.sources.slowQueryMs} ms)`, labelNames: ['connection'], registers: [this.registry] });
    for (const connection of ['primary', 'replica'] as const) {
      if (connection === 'replica' && this.sources.db.connections().length < 2) continue;
      statements.zero({ connection });
      slow.inc({ connection }, 0);
    }
    this.detach.push(this.sources.statements.listen(({ connection, ms }) => {
      statements.observe({ connection }, ms / 1000);
      if (ms > this.sources.slowQueryMs) slow.inc({ connection });
    }));
  }

  private collectPools(): void {
    this.poolConnections.reset();
    this.sources.db.connections().forEach((connection, i) => {
      const pool = connection.getKnex().client.pool;
      if (!pool) return; // destroyed on close
      const kind = i === 0 ? 'primary' : 'replica';
      this.poolConnections.inc({ connection: kind, state: 'used' }, pool.numUsed());
      this.poolConnections.inc({ connection: kind, state: 'free' }, pool.numFree());
      this.poolConnections.inc({ connection: kind, state: 'pending' }, pool.numPendingAcquires());
    });
  }

  private async collectOutbox(): Promise<void> {
    try {
      const primary = this.sources.db.connections()[0];
      const row = await this.look('outbox', () => primary.execute<{ backlog: string; lag: string }>(OUTBOX_SQL, [], 'get'));
      this.outboxBacklog.set(Number(row.backlog));
      this.outboxLag.set(Number(row.lag));
    } catch (error) {
      this.outboxBacklog.set(NaN);
      this.outboxLag.set(NaN);
      this.sources.log.warn({ err: { message: (error as Error).message } }, 'metrics: outbox backlog unknown');
    }
  }

  private async collectReplicaLag(): Promise<void> {
    const replicas = this.sources.db.connections().slice(1);
    const names = this.replicaNames();
    await Promise.all(
      replicas.map(async (replica, i) => {
        try {
          const row = await this.look(`replica:${i}`, () => replica.execute<{ lag: string }>(REPLICA_LAG_SQL, [], 'get'));
          this.replicaLag.set({ replica: names[i] }, Number(row.lag));
        } catch {
          // The read router logs replicas that fail; here they only count.
          this.replicaLag.set({ replica: names[i] }, NaN);
          this.replicaErrors.inc({ replica: names[i] });
        }
      }),
    );
  }

  /** The names orm.ts gives the replicas. */
  private replicaNames(): string[] {
    return this.sources.db.connections().slice(1).map((_, i) => `replica-${i + 1}`);
  }

  /**
   * A time-boxed database look. A look still running from an earlier scrape is awaited again rather than started
   * anew, so a hung database never collects a pile of them.
   */
  private look<T>(key: string, run: () => Promise<T>): Promise<T> {
    let running = this.inFlight.get(key) as Promise<T> | undefined;
    if (!running) {
      running = run().finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, running);
    }
    return within(this.timeoutMs, running);
  }
}
