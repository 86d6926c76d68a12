/**
 * Live events for subscribers, with no gap and no duplicate.
 *
 * The hub listens on the one events channel and hands each event to the matching local streams. A stream remembers
 * the last sequence it delivered and drops anything at or below it (redelivery is normal: publishing is at least
 * once). It fills gaps from the outbox table on the primary: when it starts after a given sequence (resume), when
 * the Redis subscriber reconnects (what was published meanwhile never reached us), and when the hub sees the global
 * sequence jump (a message was lost). Live events that arrive during a catch-up wait behind it, so order holds.
 * Each stream's queue is bounded: a consumer that falls too far behind is ended with an error and can resume.
 */
import type { Database } from './database';
import type { Logger } from './logger';
import type { PubSubHandle } from './pubsub';
import type { PublishedEvent } from './outbox';
import { AppError } from './errors';
import { toPgArray } from './pg-array';

export interface StreamFilter {
  topics: string[];
  accountId?: string | null;
  /** only events of these accounts (a key's own, when it names none) */
  accountIds?: readonly string[] | null;
  /** null or containing '*': every symbol */
  symbols?: string[] | null;
}

const REPLAY_BATCH = 500;

export class EventHub {
  private readonly streams = new Set<EventStream>();
  private lastSeen: bigint | null = null;
  private subscription?: number;

  constructor(
    private readonly db: Database,
    private readonly pubsub: PubSubHandle,
    private readonly log: Logger,
    private readonly queueLimit = 10_000,
  ) {}

  async start(): Promise<void> {
    this.subscription = await this.pubsub.engine.subscribe(this.pubsub.channel, (event: PublishedEvent) => this.onEvent(event), {});
    this.pubsub.onResubscribed(() => this.catchUpAll());
  }

  async stop(): Promise<void> {
    if (this.subscription !== undefined) this.pubsub.engine.unsubscribe(this.subscription);
    this.subscription = undefined;
    for (const stream of this.streams) stream.end();
  }

  get size(): number {
    return this.streams.size;
  }

  /** A stream of the events matching `filter`: those after `afterSequence` first (from the outbox), then live ones. */
  async stream(filter: StreamFilter, afterSequence?: string | null): Promise<EventStream> {
    const stream = new EventStream(filter, this, this.queueLimit);
    this.streams.add(stream);
    if (afterSequence !== null && afterSequence !== undefined) {
      stream.start(BigInt(afterSequence));
      void stream.catchUp();
    } else {
      // Only what is new from now on: start at the last sequence handed out. Live events that arrive first wait.
      const [row] = await this.db.read<{ last: string }>('select last_sequence::text as last from execution.outbox_state where id = 1', [], 'primary');
      stream.start(BigInt(row.last));
    }
    return stream;
  }

  remove(stream: EventStream): void {
    this.streams.delete(stream);
  }

  /**
   * Hands every stored event after `after()` matching `filter` to `handle`, in order, a page at a time: how a
   * background consumer catches up on a backlog before it follows the live stream. Stops early once `stopped()`.
   */
  async drain(filter: StreamFilter, after: () => bigint, handle: (event: PublishedEvent) => Promise<void>, stopped: () => boolean): Promise<void> {
    while (!stopped()) {
      const events = await this.replay(filter, after());
      for (const event of events) {
        if (stopped()) return;
        await handle(event);
      }
      if (events.length < REPLAY_BATCH) return;
    }
  }

  /** Up to `limit` events after `after` matching the filter, in order, from the primary (a replica may not have them yet). */
  async replay(filter: StreamFilter, after: bigint, limit = REPLAY_BATCH): Promise<PublishedEvent[]> {
    const where = ['o.sequence > ?', 'o.topic = any(?::text[])'];
    const params: unknown[] = [after.toString(), `{${filter.topics.join(',')}}`];
    if (filter.accountId) (where.push('o.account_id = ?'), params.push(filter.accountId));
    if (filter.accountIds) (where.push('o.account_id = any(?::text[])'), params.push(toPgArray(filter.accountIds)));
    if (filter.symbols && !filter.symbols.includes('*')) (where.push('o.symbol = any(?::text[])'), params.push(toPgArray(filter.symbols)));
    return this.db.read<PublishedEvent>(
      `select event_id as "eventId", sequence::text as sequence, topic, account_id as "accountId", symbol, payload
       from execution.outbox o where ${where.join(' and ')}
       -- o.sequence, not the text alias of the select list: text order would put 10 before 9
       order by o.sequence limit ${Math.max(1, Math.floor(limit))}`,
      params,
      'primary',
    );
  }

  private onEvent(event: PublishedEvent): void {
    const sequence = BigInt(event.sequence);
    if (this.lastSeen !== null && sequence > this.lastSeen + 1n) {
      this.log.warn({ expected: (this.lastSeen + 1n).toString(), got: event.sequence }, 'gap in the event sequence; catching up');
      this.catchUpAll();
    }
    if (this.lastSeen === null || sequence > this.lastSeen) this.lastSeen = sequence;
    for (const stream of this.streams) stream.offer(event);
  }

  private catchUpAll(): void {
    for (const stream of this.streams) void stream.catchUp();
  }

  onStreamError(error: unknown): void {
    this.log.warn({ err: { message: (error as Error).message } }, 'event stream catch-up failed');
  }
}

/** One subscriber's events: an async iterator the GraphQL subscription consumes. */
export class EventStream implements AsyncIterableIterator<PublishedEvent> {
  private last: bigint | null = null;
  private readonly queue: PublishedEvent[] = [];
  private pending: PublishedEvent[] = [];
  private catchingUp = false;
  private catchUpAgain = false;
  private waiter?: (result: IteratorResult<PublishedEvent>) => void;
  private failer?: (error: unknown) => void;
  /** the catch-up, waiting for the consumer to make room for its next page */
  private roomWaiter?: { room: number; resolve: () => void };
  private done = false;
  private error?: AppError;

  constructor(readonly filter: StreamFilter, private readonly hub: EventHub, private readonly limit: number) {}

  start(after: bigint): void {
    this.last = after;
    const early = this.pending;
    this.pending = [];
    for (const event of early) this.offer(event);
  }

  matches(event: PublishedEvent): boolean {
    const f = this.filter;
    if (!f.topics.includes(event.topic)) return false;
    if (f.accountId && event.accountId !== f.accountId) return false;
    if (f.accountIds && !f.accountIds.includes(event.accountId ?? '')) return false;
    if (f.symbols && !f.symbols.includes('*') && !f.symbols.includes(event.symbol ?? '')) return false;
    return true;
  }

  offer(event: PublishedEvent): void {
    if (this.done || !this.matches(event)) return;
    if (this.last === null || this.catchingUp) {
      this.pending.push(event);
      return;
    }
    this.deliver(event);
  }

  async catchUp(): Promise<void> {
    if (this.done) return;
    if (this.catchingUp) {
      this.catchUpAgain = true;
      return;
    }
    this.catchingUp = true;
    try {
      do {
        this.catchUpAgain = false;
        // A page at a time, each once the consumer has room for it: a backlog larger than the queue's limit is
        // handed out at the consumer's pace rather than overflowing the queue (which would end the stream).
        const page = Math.min(REPLAY_BATCH, this.limit);
        for (;;) {
          await this.roomFor(page);
          if (this.done) break;
          const rows = await this.hub.replay(this.filter, this.last!, page);
          for (const row of rows) this.deliver(row);
          if (rows.length < page || this.done) break;
        }
      } while (this.catchUpAgain && !this.done);
    } catch (error) {
      // Delivering what came live would skip what the catch-up could not read: end the stream instead, so the
      // consumer resumes from its last sequence.
      this.hub.onStreamError(error);
      this.catchingUp = false;
      this.pending = [];
      this.fail(new AppError('INTERNAL_SERVER_ERROR', 'could not read missed events; resubscribe with afterSequence = the last sequence you processed', { retryable: true }));
      return;
    }
    this.catchingUp = false;
    const waiting = this.pending;
    this.pending = [];
    for (const event of waiting) this.deliver(event);
  }

  private deliver(event: PublishedEvent): void {
    if (this.done) return;
    const sequence = BigInt(event.sequence);
    if (this.last !== null && sequence <= this.last) return;
    this.last = sequence;
    if (this.waiter) {
      const resolve = this.waiter;
      this.waiter = this.failer = undefined;
      resolve({ value: event, done: false });
      return;
    }
    this.queue.push(event);
    if (this.queue.length > this.limit) {
      this.fail(new AppError('RATE_LIMITED', `subscriber fell more than ${this.limit} events behind; resubscribe with afterSequence = the last sequence you processed`));
    }
  }

  private fail(error: AppError): void {
    if (this.done) return;
    this.error = error;
    this.queue.length = 0;
    if (this.failer) {
      const reject = this.failer;
      this.waiter = this.failer = undefined;
      reject(error);
    }
    this.end();
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    this.hub.remove(this);
    this.wakeCatchUp();
    if (this.waiter && !this.error) {
      const resolve = this.waiter;
      this.waiter = this.failer = undefined;
      resolve({ value: undefined, done: true });
    }
  }

  /** Resolves once the queue can take `n` more events without going over the limit, or the stream ended. */
  private roomFor(n: number): Promise<void> {
    if (this.done || this.queue.length + n <= this.limit) return Promise.resolve();
    return new Promise((resolve) => {
      this.roomWaiter = { room: n, resolve };
    });
  }

  private wakeCatchUp(): void {
    const waiter = this.roomWaiter;
    if (waiter && (this.done || this.queue.length + waiter.room <= this.limit)) {
      this.roomWaiter = undefined;
      waiter.resolve();
    }
  }

  next(): Promise<IteratorResult<PublishedEvent>> {
    const event = this.queue.shift();
    if (event) {
      this.wakeCatchUp();
      return Promise.resolve({ value: event, done: false });
    }
    if (this.error) {
      const error = this.error;
      this.error = undefined;
      return Promise.reject(error);
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.failer = reject;
    });
  }

  return(): Promise<IteratorResult<PublishedEvent>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<PublishedEvent>> {
    this.end();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<PublishedEvent> {
    return this;
  }
}
