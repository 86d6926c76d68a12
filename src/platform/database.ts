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

export interface QueryObserver {
  onRead?(target: ReadTarget): void;
  /** which replica (0-based) this caller reads from; a random one otherwise */
  replica?: number;
}

export class Database {
  private replicaDownUntil = 0;
  /** Statements sent on any connection since start (knex 'query' events): tests cap hot resolvers with it. */
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

  private async execute<T>(target: ReadTarget, sql: string, params: unknown[], replica?: number, access?: DbAccess): Promise<T[]> {
    const connections = this.connections();
    const connection = target === 'primary' || connections.length === 1
      ? connections[0]
      : connections[1 + ((replica ?? Math.floor(Math.random() * (connections.length - 1))) % (connections.length - 1))];
    if (!access) {
      // Bound parameters (the extended protocol), as a plain pg client sends them: MikroORM's execute inlines them into
      // the text, which cost 10-20% of the gateway's CPU on market-data reads (measured on md-m1 and md-h1).
      try {
        const result = (await connection.getKnex().raw(sql, params as any[])) as { rows: T[] };
        return result.rows;
      } catch (error) {
        // As em.execute throws them (a DriverException, mapped by db-errors.ts); connection failures as they come, for
        // the replica fallback in read().
        if (error instanceof DriverException || !(error instanceof Error) || isConnectionError(error)) throw error;
        throw connection.getPlatform().getExceptionConverter().convertException(error);
      }
    }
    // The prelude and the read in one round trip (see withAccess): the text MikroORM's connection.execute sent, sent the
    // same way (knex, no bindings), its errors as they came from it (not converted). Two results, the read's is the last.
    const results = (await connection.getKnex().raw(accessRead(sql, params, access, connection.getPlatform()))) as { rows: T[] }[];
    return results[results.length - 1].rows;
  }

  async close(): Promise<void> {
    await this.orm.close(true);
  }
}
