/**
 * Publishes outbox rows, in sequence order, at least once.
 *
 * Sequences are handed out by the relay to rows that have committed, not taken at insert: a serial taken at insert
 * can commit out of order (transaction A takes 10, B takes 11, B commits first), and a subscriber that resumed after
 * 11 would never see 10. Here a row only gets a number once it is visible, and numbers only grow, so no event can
 * ever appear below a sequence a subscriber has already seen: "every event after S" is a stable set.
 *
 * One relay at a time (a session advisory lock, released when the process dies) assigns and publishes, so events
 * go out in sequence order; the others skip their tick. A tick: assign sequences to committed rows (one statement),
 * publish the rows above the watermark (outbox_state.published_sequence) in order, move the watermark to the last
 * one. Published means `sequence <= published_sequence`: no row is updated for it. A crash between publish and
 * watermark makes the next relay publish them again: subscribers drop what they have seen (by sequence).
 */
import type { PoolClient } from 'pg';
import type { Database } from './database';
import type { Logger } from './logger';
import type { PubSubHandle } from './pubsub';
import type { PublishedEvent } from './outbox';

const RELAY_LOCK = 7_421_114;
const BATCH = 1000;
const BUSY_RETRY_MS = 15;

const ASSIGN_SEQUENCES = `with state as (select last_sequence from execution.outbox_state where id = 1 for update),
  claimed as (select event_id, row_number() over (order by created_at, event_id) as rn
              from execution.outbox where sequence is null order by created_at, event_id limit ${BATCH}),
  assigned as (update execution.outbox o set sequence = s.last_sequence + c.rn
               from claimed c, state s where o.event_id = c.event_id returning o.sequence)
  update execution.outbox_state set last_sequence = last_sequence + (select count(*) from assigned)
  where id = 1 and exists (select 1 from assigned)`;

// On the unique index of sequence.
const UNPUBLISHED = `select event_id as "eventId", sequence::text as sequence, topic, account_id as "accountId", symbol, payload
  from execution.outbox o where o.sequence > (select published_sequence from execution.outbox_state where id = 1)
  -- o.sequence, not the text alias of the select list: text order would put 10 before 9
  order by o.sequence limit ${BATCH}`;

export interface RelayOptions {
  pollMs: number;
  retentionMs: number;
}

export class OutboxRelay {
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;
  private again = false;
  private stopped = false;
  private lastPrune = 0;
  published = 0;

  constructor(
    private readonly db: Database,
    private readonly pubsub: PubSubHandle,
    private readonly log: Logger,
    private readonly options: RelayOptions,
  ) {}

  start(): void {
    this.stopped = false;
    const loop = async () => {
      await this.runOnce();
      if (!this.stopped) this.timer = setTimeout(loop, this.options.pollMs);
    };
    this.timer = setTimeout(loop, 0);
  }

  /** After a local commit: publish now (a tick already running runs once more). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else void this.runOnce();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One tick (or joins the one running); returns how many events it published. */
  runOnce(): Promise<number> {
    if (this.running) return this.running;
    this.running = (async () => {
      let total = 0;
      try {
        do {
          this.again = false;
          total += await this.tick();
        } while (this.again && !this.stopped);
      } catch (error) {
        this.log.warn({ err: { message: (error as Error).message } }, 'outbox relay tick failed; events stay in the outbox');
      } finally {
        this.running = undefined;
      }
      return total;
    })();
    return this.running;
  }

  private async tick(): Promise<number> {
    if (!this.pubsub.ready()) return 0;
    const published = await this.tickUnderLock();
    if (published === null) {
      // Another instance's relay holds the lock and may have finished its batch just before our commit: look again
      // shortly instead of leaving our events to the next poll.
      setTimeout(() => this.wake(), BUSY_RETRY_MS).unref();
      return 0;
    }
    return published;
  }

  /**
   * null when another relay holds the lock. Three round trips when the backlog fits one batch: the lock; numbering and
   * reading (one query string, one implicit transaction); the watermark, committing, then unlocking (one query string).
   */
  private async tickUnderLock(): Promise<number | null> {
    const knex = this.db.orm.em.getConnection('write').getKnex();
    const conn: PoolClient = await knex.client.acquireConnection();
    try {
      const { rows } = await conn.query('select pg_try_advisory_lock($1) as ok', [RELAY_LOCK]);
      if (!rows[0].ok) return null;
      let locked = true;
      try {
        let total = 0;
        let batch = await this.assignAndRead(conn);
        while (batch.length) {
          // One connection publishes in order; awaiting them together keeps the pipeline full.
          await Promise.all(batch.map((event) => this.pubsub.engine.publish(this.pubsub.channel, event)));
          total += batch.length;
          this.published += batch.length;
          // The batch's last (highest) sequence, a number read from the table: safe to write into the statement.
          const watermark = `update execution.outbox_state set published_sequence = ${batch[batch.length - 1].sequence} where id = 1`;
          if (batch.length === BATCH) {
            await conn.query(watermark);
            batch = await this.assignAndRead(conn);
            continue;
          }
          await this.prune(conn);
          // The watermark commits BEFORE the lock goes (explicit begin/commit): an unlock inside the string's implicit
          // transaction would free the lock before its commit, and the next relay would publish these rows again.
          await conn.query(`begin; ${watermark}; commit; select pg_advisory_unlock(${RELAY_LOCK})`);
          locked = false;
          break;
        }
        if (locked) await this.prune(conn);
        return total;
      } finally {
        // After a failure inside the explicit transaction the session is in an aborted block: end it first.
        if (locked) await conn.query(`rollback; select pg_advisory_unlock(${RELAY_LOCK})`);
      }
    } finally {
      await knex.client.releaseConnection(conn);
    }
  }

  /**
   * Numbers committed, unnumbered rows in the order they were written, after the last number handed out; then reads
   * the numbered rows above the watermark in sequence order (one query string).
   */
  private async assignAndRead(conn: PoolClient): Promise<PublishedEvent[]> {
    const results = (await conn.query(`${ASSIGN_SEQUENCES}; ${UNPUBLISHED}`)) as unknown as { rows: PublishedEvent[] }[];
    return results[1].rows;
  }

  /**
   * Published rows (at or below the watermark) written longer than the retention ago go, at most once a minute: of the
   * 10,000 lowest published sequences, those past it. Retention counts from `created_at`, as no publish time is kept.
   * Rows are numbered in about the order they were written (off by the longest transaction at most), so the oldest
   * rows are the lowest sequences, found on the sequence index: a full look for old rows would read the whole table.
   * `= any(array(...))`, not `in (...)`: the planner joined that to a scan of the whole table.
   */
  private async prune(conn: PoolClient): Promise<void> {
    if (Date.now() - this.lastPrune < 60_000) return;
    this.lastPrune = Date.now();
    const { rowCount } = await conn.query(
      `delete from execution.outbox where event_id = any(array(
         select event_id from (
           select event_id, created_at from execution.outbox
           where sequence <= (select published_sequence from execution.outbox_state where id = 1) order by sequence limit 10000) lowest
         where created_at < now() - $1 * interval '1 millisecond'))`,
      [this.options.retentionMs],
    );
    if (rowCount) this.log.info({ pruned: rowCount }, 'pruned published outbox rows');
  }
}
