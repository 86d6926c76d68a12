/**
 * One paper venue per database: a session advisory lock, held on a connection of its own for as long as this
 * instance runs the venue. Other gateways stand by and take over when it stops or dies (PostgreSQL releases a
 * session lock when its connection ends), so two instances never fill the same orders.
 */
import type { PoolClient } from 'pg';
import type { Database } from '../../platform/database';

const VENUE_LOCK = 7_421_115; // fixed key: "tradeql paper venue" (the relay's is 7_421_114, migrations' 7_421_113)

export class VenueLock {
  private conn?: PoolClient;

  constructor(private readonly db: Database, private readonly key = VENUE_LOCK) {}

  get held(): boolean {
    return this.conn !== undefined;
  }

  private knex() {
    return this.db.orm.em.getConnection('write').getKnex();
  }

  /** true when this instance now holds the lock (or already did). */
  async tryAcquire(): Promise<boolean> {
    if (this.conn) return true;
    const conn: PoolClient = await this.knex().client.acquireConnection();
    try {
      const { rows } = await conn.query('select pg_try_advisory_lock($1) as ok', [this.key]);
      if (rows[0].ok) {
        this.conn = conn;
        return true;
      }
    } catch (error) {
      await this.knex().client.releaseConnection(conn).catch(() => undefined);
      throw error;
    }
    await this.knex().client.releaseConnection(conn);
    return false;
  }

  /** Throws when the lock's connection is gone: the database may already have given the lock to another instance. */
  async assertHeld(): Promise<void> {
    if (!this.conn) throw new Error('the paper venue lock is not held');
    await this.conn.query('select 1');
  }

  async release(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    if (!conn) return;
    await conn.query('select pg_advisory_unlock($1)', [this.key]).catch(() => undefined);
    await this.knex().client.releaseConnection(conn).catch(() => undefined);
  }
}
