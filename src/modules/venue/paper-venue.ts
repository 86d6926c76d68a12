/**
 * The paper venue: with VENUE=paper the gateway executes orders itself, against the bars it ingests.
 *
 * A background consumer of the event hub, like the analytics synchronizer: it follows SUBMITTED orders and ingested
 * bars in sequence order (the outbox's commit order), so the fills are a function of the bar stream. It resumes after
 * its checkpoint, so an event it had not finished when it stopped or died is carried out on the next start; carrying
 * one out twice changes nothing (see venue-book.ts). One instance per database runs it (an advisory lock, see
 * venue-lock.ts); the others stand by. DAY orders expire at the session close by the wall clock.
 */
import type { Database } from '../../platform/database';
import type { Logger } from '../../platform/logger';
import type { OutboxSignal, PublishedEvent } from '../../platform/outbox';
import type { EventHub, EventStream, StreamFilter } from '../../platform/event-hub';
import { ReadSession } from '../../platform/read-session';
import type { Scope } from '../../platform/scope';
import { TOPIC, eventBars } from '../events';
import type { OrdersService } from '../orders/orders.service';
import { lastCloseAtOrBefore, nextCloseAfter, parseSessionClose } from './session';
import { VenueBook } from './venue-book';
import { VenueLock } from './venue-lock';
import { VenueRepository } from './venue.repository';

const FILTER: StreamFilter = { topics: [TOPIC.order, TOPIC.bars] };
const MAX_BACKOFF_MS = 30_000;
const CHECKPOINT_EVERY_MS = 1_000;

export interface PaperVenueOptions {
  /** HH:MM UTC: DAY orders accepted before it expire there */
  sessionClose: string;
  /** how often a standing-by instance tries to take over (default 5 s) */
  standbyMs?: number;
}

export class PaperVenue {
  private readonly repo: VenueRepository;
  private readonly book: VenueBook;
  private readonly lock: VenueLock;
  private readonly closeMinutes: number;
  private stream?: EventStream;
  private loop?: Promise<void>;
  private stopping = false;
  private last: bigint | null = null;
  private saved: { sequence: bigint; at: number } | null = null;
  private nextClose = Infinity;
  private dayTimer?: NodeJS.Timeout;
  /** Event handling and DAY expiry take turns: one decision about an order at a time. */
  private chain: Promise<unknown> = Promise.resolve();
  private wakeSleep?: () => void;

  constructor(
    db: Database,
    private readonly hub: EventHub,
    services: { orders: OrdersService },
    private readonly log: Logger,
    outbox: OutboxSignal,
    private readonly options: PaperVenueOptions,
  ) {
    this.closeMinutes = parseSessionClose(options.sessionClose);
    this.repo = new VenueRepository(db);
    this.lock = new VenueLock(db);
    // Background work: the primary for reads, no API key (it runs as the system, like the synchronizer).
    const scope: Scope = { db, reads: new ReadSession(db, 'primary'), log, outbox };
    this.book = new VenueBook(scope, this.repo, services);
  }

  /** Whether this instance holds the venue lock and is executing orders. */
  get active(): boolean {
    return this.lock.held;
  }

  get counters() {
    return this.book.counters;
  }

  get lastSequence(): string | null {
    return this.last === null ? null : this.last.toString();
  }

  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.loop = this.run();
  }

  /** Finishes the event in progress, saves the checkpoint and lets another instance take over. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.dayTimer);
    this.stream?.end();
    this.wakeSleep?.();
    await this.loop;
    this.loop = undefined;
  }

  /** Expires the DAY orders accepted before the latest session close at or before `now`; how many it expired. */
  expireDayOrders(now = new Date()): Promise<number> {
    return this.exclusive(async () => {
      if (!this.active) return 0;
      const before = this.book.counters.expired;
      for (const orderId of await this.repo.dayOrdersBefore(lastCloseAtOrBefore(now, this.closeMinutes))) await this.book.expire(orderId);
      this.nextClose = nextCloseAfter(now, this.closeMinutes).getTime();
      return this.book.counters.expired - before;
    });
  }

  private async run(): Promise<void> {
    for (let failures = 0; !this.stopping; ) {
      try {
        if (await this.lock.tryAcquire()) {
          this.log.info('paper venue active');
          // Unknown until the checkpoint is read (and, on a first start, the sweep is done).
          this.last = null;
          this.saved = null;
          try {
            await this.resume();
          } finally {
            clearInterval(this.dayTimer);
            await this.saveCheckpoint(true).catch(() => undefined);
            await this.lock.release();
          }
          if (this.stopping) break;
          this.log.warn('paper venue event stream ended; resuming');
          failures = 1;
        } else {
          failures = 0;
          await this.sleep(this.options.standbyMs ?? 5_000);
          continue;
        }
      } catch (error) {
        if (this.stopping) break;
        this.log.warn({ err: { message: (error as Error).message }, after: this.lastSequence }, 'paper venue interrupted; resuming');
        failures++;
      }
      await this.sleep(backoff(failures));
    }
  }

  /** From the checkpoint: closes passed meanwhile, the backlog from the outbox, then live events. */
  private async resume(): Promise<void> {
    const checkpoint = await this.repo.checkpoint();
    const oldest = await this.repo.oldestSequence();
    const pruned = checkpoint !== null && oldest !== null && oldest > checkpoint + 1n;
    if (pruned) this.log.warn({ checkpoint: checkpoint.toString(), oldest: oldest.toString() }, 'events after the paper venue checkpoint were pruned from the outbox');
    // A first start begins now: earlier events (e.g. a seed's) belong to no venue.
    const start = checkpoint ?? (await this.repo.lastSequence());
    if (checkpoint === null || pruned) {
      const swept = await this.exclusive(() => this.book.sweep());
      this.log.info({ swept }, 'working orders the venue had not seen met the latest bars');
    }
    this.last = start;
    if (checkpoint === null) await this.saveCheckpoint(true);
    await this.expireDayOrders();
    this.dayTimer = setInterval(() => {
      if (Date.now() >= this.nextClose) this.expireDayOrders().catch((error) => this.log.warn({ err: { message: (error as Error).message } }, 'expiring DAY orders failed'));
    }, 1_000);
    await this.drain();
    if (!this.stopping) await this.follow();
  }

  private drain(): Promise<void> {
    return this.hub.drain(FILTER, () => this.last!, (event) => this.handle(event), () => this.stopping);
  }

  private async follow(): Promise<void> {
    const stream = await this.hub.stream(FILTER, this.last!.toString());
    this.stream = stream;
    try {
      if (this.stopping) return;
      for await (const event of stream) {
        await this.handle(event);
        if (this.stopping) break;
      }
    } finally {
      stream.end();
      this.stream = undefined;
    }
  }

  /** One event, retried until it is carried out or the venue stops; never skipped. */
  private async handle(event: PublishedEvent): Promise<void> {
    const sequence = BigInt(event.sequence);
    if (this.last !== null && sequence <= this.last) return;
    const relevant = isRelevant(event);
    if (relevant) {
      // Lost the lock's connection: another instance may be running the venue now. Stop here, start over.
      await this.lock.assertHeld();
      for (let attempt = 0; ; attempt++) {
        try {
          await this.exclusive(() => this.apply(event));
          break;
        } catch (error) {
          if (this.stopping) throw error;
          this.log.error({ err: error, eventId: event.eventId, sequence: event.sequence, attempt }, 'paper venue failed on an event; retrying');
          await this.sleep(backoff(attempt + 1));
          if (this.stopping) throw error;
        }
      }
    }
    this.last = sequence;
    await this.saveCheckpoint(relevant);
  }

  private async apply(event: PublishedEvent): Promise<void> {
    if (event.topic === TOPIC.order) return this.book.arrive((event.payload as { order: { orderId: string } }).order.orderId);
    const bars = eventBars(event);
    const ingestedAt = (await this.repo.eventTime(event.eventId)) ?? new Date();
    await this.book.bars(event.symbol!, bars, ingestedAt);
  }

  /** After every event that did something, else at most once a second: a replay after a crash is short. */
  private async saveCheckpoint(now: boolean): Promise<void> {
    if (this.last === null || (this.saved && this.saved.sequence >= this.last)) return;
    if (!now && this.saved && Date.now() - this.saved.at < CHECKPOINT_EVERY_MS) return;
    await this.repo.saveCheckpoint(this.last);
    this.saved = { sequence: this.last, at: Date.now() };
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work, work);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeSleep = done;
    });
  }
}

function isRelevant(event: PublishedEvent): boolean {
  if (event.topic === TOPIC.bars) return true;
  return event.topic === TOPIC.order && (event.payload as { type?: string }).type === 'SUBMITTED';
}

/** 0 for the first try, then 100 ms doubling to 30 s, jittered so gateways do not retry in lockstep. */
function backoff(failures: number): number {
  if (failures <= 0) return 0;
  const base = Math.min(100 * 2 ** (failures - 1), MAX_BACKOFF_MS);
  return base / 2 + Math.random() * (base / 2);
}
