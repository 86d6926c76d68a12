/**
 * The gateway's view of PostgreSQL: entity managers for units of work on the primary, and a read router that sends
 * plain-row reads to a replica when one is configured and healthy, and to the primary otherwise. A replica that fails
 * with a connection error is left alone for a while (REPLICA_RETRY_MS) and the read is retried on the primary, so a
 * dead replica costs one warning, not failed requests.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import type { EntityManager } from '@mikro-orm/postgresql';
import { DriverException } from '@mikro-orm/core';
import type { Logger } from './logger';
import { isConnectionError } from './db-errors';
import { accessRead, isControlStatement, type DbAccess } from './db-access';

export type ReadTarget = 'replica' | 'primary';

type Row = Record<string, any>;

/** A statement as the metrics see it (src/platform/metrics.ts): where it ran, its SQL, how long it took. */
export interface TimedStatement {
  connection: 'primary' | 'replica';
  /** the SQL as it was written: placeholders, never the bound values (reads under access: the text sent) */
  sql: string;
  ms: number;
  failed: boolean;
}

/** What these modules use of pg's client and result, and of knex's pool (reads and plain-SQL transactions). */
export interface PgResult<T> {
  rows: T[];
  rowCount?: number | null;
}
interface PgClient {
  query<T>(text: string, values?: readonly unknown[]): Promise<PgResult<T> | PgResult<T>[]>;
}
export interface KnexPool {
  acquireConnection(): Promise<PgClient>;
  releaseConnection(client: PgClient): unknown;
}

/** knex's `?` placeholders as pg's `$n`, once per distinct statement (the reads' SQL is a fixed set of texts). */
const numberedText = new Map<string, string>();
const MAX_NUMBERED_TEXTS = 1000;

function numbered(sql: string): string {
  let text = numberedText.get(sql);
  if (text === undefined) {
    let n = 0;
    text = sql.replace(/\?/g, () => `$${++n}`);
    if (numberedText.size >= MAX_NUMBERED_TEXTS) numberedText.clear();
    numberedText.set(sql, text);
  }
  return text;
}

export interface QueryObserver {
  onRead?(target: ReadTarget): void;
  /** which replica (0-based) this caller reads from; a random one otherwise */
  replica?: number;
}

export class Database {
  private replicaDownUntil = 0;
  /** Statements sent on any connection since start (knex 'query' events and ranStatement): tests cap hot resolvers with it. */
  statementCount = 0;

  constructor(
    readonly orm: MikroORM,
    private readonly log: Logger,
    private readonly options: { hasReplicas: boolean; replicaRetryMs: number },
  ) {
    for (const connection of this.connections()) {
      connection.getKnex().on('query', (q: { sql?: string }) => {
        if (!isControlStatement(q.sql ?? '')) this.statementCount++;
      });
    }
  }

  /** Called with where each read was served (metrics). */
  readonly readListeners: ((target: ReadTarget) => void)[] = [];

  /**
   * Called with every statement run on a pg client directly (this class's reads, the plain-SQL transactions), which
   * knex's events do not see (the metrics' StatementTimer listens here and to knex), in the async context of the caller.
   */
  readonly statementListeners = new Set<(statement: TimedStatement) => void>();

  /** The primary's connection and every replica's (MikroORM keeps replicas in a protected field). */
  connections() {
    const driver = this.orm.em.getDriver();
    const replicas = (driver as unknown as { replicas?: ReturnType<typeof driver.getConnection>[] }).replicas ?? [];
    return [driver.getConnection('write'), ...replicas];
  }

  /** A fresh unit of work (identity map) for one request or job. */
  em(): EntityManager {
    return this.orm.em.fork() as EntityManager;
  }

  get hasReplicas(): boolean {
    return this.options.hasReplicas;
  }

  /** Where a read that prefers the replica goes right now. */
  readTarget(prefer: ReadTarget = 'replica'): ReadTarget {
    if (prefer === 'primary' || !this.options.hasReplicas) return 'primary';
    return Date.now() < this.replicaDownUntil ? 'primary' : 'replica';
  }

  /**
   * Runs one read statement (knex `?` placeholders) and returns plain rows. With `access`, the statement runs in a
   * read-only transaction as the request role, under row-level security.
   */
  async read<T extends Row = Row>(sql: string, params: unknown[] = [], prefer: ReadTarget = 'replica', observer?: QueryObserver, access?: DbAccess): Promise<T[]> {
    const target = this.readTarget(prefer);
    try {
      const rows = await this.execute<T>(target, sql, params, observer?.replica, access);
      this.served(target, observer);
      return rows;
    } catch (error) {
      if (target !== 'replica' || !isConnectionError(error)) throw error;
      this.replicaDownUntil = Date.now() + this.options.replicaRetryMs;
      this.log.warn({ err: { message: (error as Error).message }, retryInMs: this.options.replicaRetryMs }, 'read replica unavailable; reading from the primary');
      const rows = await this.execute<T>('primary', sql, params, undefined, access);
      this.served('primary', observer);
      return rows;
    }
  }

  private served(target: ReadTarget, observer?: QueryObserver): void {
    observer?.onRead?.(target);
    for (const listener of this.readListeners) listener(target);
  }

  /** How many replicas are configured (a caller may pin one, e.g. the one it checked for a consistency token). */
  get replicaCount(): number {
    return this.connections().length - 1;
  }

  /**
   * One read on a pg client taken from knex's pool, without knex's query runner: reads are most of the traffic, and
   * the runner (its builder, events, uid and placeholder rewrite per call) cost as much CPU as pg itself on a small
   * read. Statements are counted and timed here instead (statementListeners).
   */
  private async execute<T>(target: ReadTarget, sql: string, params: unknown[], replica?: number, access?: DbAccess): Promise<T[]> {
    const connections = this.connections();
    const index = target === 'primary' || connections.length === 1
      ? 0
      : 1 + ((replica ?? Math.floor(Math.random() * (connections.length - 1))) % (connections.length - 1));
    const connection = connections[index];
    // knex's identifier placeholder and escaped question mark: left to knex (our reads use neither).
    if (sql.includes('??') || sql.includes('\\?')) return this.executeOnKnex<T>(connection, sql, params, access);
    // Under access: the prelude and the read in one round trip (see withAccess), as one simple-protocol text whose
    // errors come as PostgreSQL gave them. Otherwise bound parameters (the extended protocol): inlining them into the
    // text, as MikroORM's execute does, cost 10-20% of the gateway's CPU on market-data reads.
    const text = access ? accessRead(sql, params, access, connection.getPlatform()) : numbered(sql);
    const pool = connection.getKnex().client as unknown as KnexPool;
    const client = await pool.acquireConnection();
    const started = performance.now();
    let failed = true;
    try {
      const result = access ? await client.query<T>(text) : await client.query<T>(text, params);
      failed = false;
      return Array.isArray(result) ? result[result.length - 1].rows : result.rows;
    } catch (error) {
      // As em.execute throws them (a DriverException, mapped by db-errors.ts); connection failures as they come, for
      // the replica fallback in read().
      if (access || !(error instanceof Error) || isConnectionError(error)) throw error;
      throw connection.getPlatform().getExceptionConverter().convertException(error);
    } finally {
      pool.releaseConnection(client);
      this.ranStatement({ connection: index === 0 ? 'primary' : 'replica', sql: access ? text : sql, ms: performance.now() - started, failed });
    }
  }

  /** Counts and reports a statement that was run on a pg client directly, without knex (see statementListeners). */
  ranStatement(statement: TimedStatement): void {
    this.statementCount++;
    for (const listener of this.statementListeners) {
      try {
        listener(statement);
      } catch {
        // A listener's failure must never fail the read.
      }
    }
  }

  /** The same read through knex (its events count and time it). */
  private async executeOnKnex<T>(connection: ReturnType<Database['connections']>[number], sql: string, params: unknown[], access?: DbAccess): Promise<T[]> {
    if (access) {
      const results = (await connection.getKnex().raw(accessRead(sql, params, access, connection.getPlatform()))) as { rows: T[] }[];
      return results[results.length - 1].rows;
    }
    try {
      return ((await connection.getKnex().raw(sql, params as any[])) as { rows: T[] }).rows;
    } catch (error) {
      if (error instanceof DriverException || !(error instanceof Error) || isConnectionError(error)) throw error;
      throw connection.getPlatform().getExceptionConverter().convertException(error);
    }
  }

  async close(): Promise<void> {
    await this.orm.close(true);
  }
}
