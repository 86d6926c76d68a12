/**
 * The reads of one request: where they are routed, and where they were served (for the response's extensions,
 * metrics and tests).
 *
 * Read-your-writes: a request that wrote reads from the primary afterwards. A request that brings a consistency
 * token (the primary's WAL position after an earlier write of the client's) reads from its replica only once that
 * replica has replayed up to the token, waiting a short bound for it, and from the primary otherwise.
 *
 * Row-level security: with a key's DbAccess, every read runs as the request role with the key's accounts (in the same
 * round trip as the read, see db-access.ts). Only reads of tables that hold no account data (market data, strategy statistics, logs)
 * may use `allPublic`, which skips it.
 */
import type { Database, ReadTarget } from './database';
import type { DbAccess } from './db-access';

/** A WAL position as PostgreSQL prints it: two hex numbers, e.g. 0/16B3748. */
export const LSN_PATTERN = /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i;

export interface ConsistencyOptions {
  /** read nothing older than this WAL position */
  minLsn?: string | null;
  /** how long to wait for the replica to reach it before reading from the primary */
  waitMs?: number;
}

export class ReadSession {
  readonly servedBy = new Set<ReadTarget>();
  statements = 0;
  /** whether this request committed a write (its response then carries a consistency token) */
  written = false;
  /** the replica this request reads from, so a token checked on it holds for all its reads */
  readonly replica: number;
  private replicaChecked?: Promise<void>;

  constructor(
    private readonly db: Database,
    private prefer: ReadTarget = 'replica',
    private readonly consistency: ConsistencyOptions = {},
    readonly access?: DbAccess,
  ) {
    this.replica = Math.floor(Math.random() * Math.max(1, db.replicaCount));
  }

  /** A read of account data: under row-level security when the request has a key. */
  async all<T extends Record<string, any> = Record<string, any>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.run<T>(sql, params, this.access);
  }

  async one<T extends Record<string, any> = Record<string, any>>(sql: string, params: unknown[] = []): Promise<T | null> {
    return (await this.all<T>(sql, params))[0] ?? null;
  }

  /** A read of tables without account data (no row-level security to apply): one statement, no transaction. */
  async allPublic<T extends Record<string, any> = Record<string, any>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.run<T>(sql, params, undefined);
  }

  async onePublic<T extends Record<string, any> = Record<string, any>>(sql: string, params: unknown[] = []): Promise<T | null> {
    return (await this.allPublic<T>(sql, params))[0] ?? null;
  }

  private async run<T extends Record<string, any>>(sql: string, params: unknown[], access: DbAccess | undefined): Promise<T[]> {
    if (this.prefer === 'replica' && this.consistency.minLsn && this.db.hasReplicas) {
      this.replicaChecked ??= this.awaitReplica(this.consistency.minLsn, this.consistency.waitMs ?? 100);
      await this.replicaChecked;
    }
    return this.db.read<T>(sql, params, this.prefer, this, access);
  }

  onRead(target: ReadTarget): void {
    this.servedBy.add(target);
    this.statements++;
  }

  /** After this request wrote, its own later reads go to the primary (read-your-writes within the request). */
  preferPrimary(): void {
    this.written = true;
    this.prefer = 'primary';
  }

  /** Polls the replica's replay position until it reaches `lsn` or `waitMs` passes; then reads go to the primary. */
  private async awaitReplica(lsn: string, waitMs: number): Promise<void> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const [row] = await this.db.read<{ ok: boolean | null }>(
        'select pg_last_wal_replay_lsn() >= ?::pg_lsn as ok', [lsn], 'replica', { replica: this.replica });
      // null: the statement ran on the primary (replica down) or on a server that is not replaying
      if (row?.ok) return;
      if (row?.ok === null || Date.now() >= deadline) {
        this.prefer = 'primary';
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(10, Math.max(1, deadline - Date.now()))));
    }
  }
}
