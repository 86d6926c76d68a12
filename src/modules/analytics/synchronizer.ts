/**
 * The analytics synchronizer (the seed design's DataSynchronizer): keeps analytics.portfolio_summary and
 * analytics.performance_metrics current from TRADE_EXECUTED events.
 *
 * Events come from the event hub after the consumer's checkpoint (the highest sequence in processed_events), so a
 * restart replays what it missed from the outbox and then follows live events. Each event is applied in one
 * transaction that first records it in processed_events: a replay, or another gateway applying the same event, finds
 * the row and changes nothing (the primary key serialises two concurrent attempts). Events go one at a time, in order;
 * one that fails is retried with backoff, never skipped.
 */
import type { Database } from '../../platform/database';
import type { Logger } from '../../platform/logger';
import type { PublishedEvent } from '../../platform/outbox';
import type { EventHub, EventStream, StreamFilter } from '../../platform/event-hub';
import { inTransaction } from '../../platform/transaction';
import { TOPIC, type TradeEventPayload } from '../events';
import { ANALYTICS_CONSUMER, isWin, positionValue, utcDate } from './rebuild';

const FILTER: StreamFilter = { topics: [TOPIC.trade] };
const MAX_BACKOFF_MS = 30_000;

export interface SynchronizerOptions {
  /** Catch up from the outbox this often: for a process that receives no live events (no Redis, no local relay). */
  pollMs?: number;
  /**
   * processed_events rows older than this go (default 48 h). Events are replayed only from the outbox, which keeps
   * them for its own, shorter retention, so an older record can never be needed; the newest row (the checkpoint) stays.
   */
  processedRetentionMs?: number;
}

export type TradeEvent = PublishedEvent<TradeEventPayload>;

export class AnalyticsSynchronizer {
  private stream?: EventStream;
  private loop?: Promise<void>;
  private stopping = false;
  /** The last sequence handled (applied, or found already applied); null until the checkpoint is read. */
  private last: bigint | null = null;
  private wakeSleep?: () => void;
  applied = 0;

  constructor(
    private readonly db: Database,
    private readonly hub: EventHub,
    private readonly log: Logger,
    private readonly options: SynchronizerOptions = {},
  ) {}

  get lastSequence(): string | null {
    return this.last === null ? null : this.last.toString();
  }

  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.loop = this.run();
  }

  /** Ends the stream and waits for the event in progress (a failing event's retries stop; it is replayed next time). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stream?.end();
    this.wakeSleep?.();
    await this.loop;
    this.loop = undefined;
  }

  /** Where a (re)started consumer resumes: every TRADE_EXECUTED event at or below it is applied (they go in order). */
  async checkpoint(): Promise<bigint> {
    const [row] = await this.db.read<{ last: string }>(
      'select coalesce(max(sequence), 0)::text as last from analytics.processed_events where consumer = ?', [ANALYTICS_CONSUMER], 'primary');
    return BigInt(row.last);
  }

  /** Applies one event unless it was applied before; true when this call applied it. */
  async apply(event: TradeEvent): Promise<boolean> {
    const { trade, position, realizedDelta } = event.payload;
    return inTransaction(this.db.em(), async (tx) => {
      const fresh = await tx.execute(
        `insert into analytics.processed_events (consumer, event_id, sequence) values (?, ?, ?::bigint)
         on conflict do nothing returning 1 as ok`,
        [ANALYTICS_CONSUMER, event.eventId, event.sequence], 'all');
      if (!fresh.length) return false;
      // Absolute state after the fill: only a newer event may overwrite it (an old one replayed later must not).
      await tx.execute(
        `insert into analytics.portfolio_summary as s (account_id, symbol, quantity, total_value, realized_pnl, last_updated, last_sequence)
         values (?, ?, ?::numeric, ?::numeric, ?::numeric, now(), ?::bigint)
         on conflict (account_id, symbol) do update
           set quantity = excluded.quantity, total_value = excluded.total_value, realized_pnl = excluded.realized_pnl,
               last_updated = excluded.last_updated, last_sequence = excluded.last_sequence
           where s.last_sequence < excluded.last_sequence`,
        [position.accountId, position.symbol, position.quantity, positionValue(position.quantity, trade.price), position.realizedPnl, event.sequence]);
      if (trade.strategy) {
        const win = isWin(realizedDelta) ? 1 : 0;
        await tx.execute(
          `insert into analytics.performance_metrics as m (strategy, date, total_trades, winning_trades, win_rate, last_updated)
           values (?, ?::date, 1, ?, ?, now())
           on conflict (strategy, date) do update
             set total_trades = m.total_trades + 1, winning_trades = m.winning_trades + excluded.winning_trades,
                 win_rate = (m.winning_trades + excluded.winning_trades)::numeric / (m.total_trades + 1), last_updated = now()`,
          [trade.strategy, utcDate(trade.executedAt), win, win]);
      }
      return true;
    });
  }

  private async run(): Promise<void> {
    for (let failures = 0; !this.stopping; ) {
      const before = this.last;
      try {
        // Another gateway may have gone further meanwhile: everything up to the checkpoint is applied.
        const checkpoint = await this.checkpoint();
        if (this.last === null || checkpoint > this.last) this.last = checkpoint;
        await this.drain();
        if (this.stopping) break;
        await this.follow();
        if (this.stopping) break;
        this.log.warn('event stream ended; reopening it');
        failures = 1;
      } catch (error) {
        if (this.stopping) break;
        // The stream failed (fell too far behind) or the database is unreachable: resume after the last handled event.
        this.log.warn({ err: { message: (error as Error).message }, after: this.lastSequence }, 'analytics synchronizer interrupted; resuming');
        failures = this.last !== before ? 1 : failures + 1;
      }
      await this.sleep(backoff(failures));
    }
  }

  /** A backlog is read here, a page at a time, so the stream's bounded queue only ever holds live events. */
  private drain(): Promise<void> {
    return this.hub.drain(FILTER, () => this.last!, (event) => this.handle(event), () => this.stopping);
  }

  private async follow(): Promise<void> {
    const stream = await this.hub.stream(FILTER, this.last!.toString());
    this.stream = stream;
    const poll = this.options.pollMs ? setInterval(() => void stream.catchUp(), this.options.pollMs) : undefined;
    try {
      if (this.stopping) return;
      for await (const event of stream) {
        await this.handle(event);
        if (this.stopping) break;
      }
    } finally {
      clearInterval(poll);
      stream.end();
      this.stream = undefined;
    }
  }

  /** One event, retried until it is handled or the synchronizer stops. */
  private async handle(event: TradeEvent): Promise<void> {
    const sequence = BigInt(event.sequence);
    if (this.last !== null && sequence <= this.last) return;
    for (let attempt = 0; ; attempt++) {
      try {
        if (await this.apply(event)) this.applied++;
        this.last = sequence;
        await this.pruneProcessed();
        return;
      } catch (error) {
        if (this.stopping) throw error;
        this.log.error({ err: error, eventId: event.eventId, sequence: event.sequence, attempt }, 'applying a trade event to analytics failed; retrying');
        await this.sleep(backoff(attempt + 1));
        if (this.stopping) throw error;
      }
    }
  }

  private lastPrune = 0;

  /** At most once a minute, a bounded batch. A failure here only delays pruning. */
  private async pruneProcessed(): Promise<void> {
    if (Date.now() - this.lastPrune < 60_000) return;
    this.lastPrune = Date.now();
    const retentionMs = this.options.processedRetentionMs ?? 48 * 3_600_000;
    try {
      await this.db.em().execute(
        `delete from analytics.processed_events where (consumer, event_id) in (
           select consumer, event_id from analytics.processed_events
           where consumer = ? and processed_at < now() - ? * interval '1 millisecond'
             and sequence < (select max(sequence) from analytics.processed_events where consumer = ?)
           limit 10000)`,
        [ANALYTICS_CONSUMER, retentionMs, ANALYTICS_CONSUMER]);
    } catch (error) {
      this.log.warn({ err: { message: (error as Error).message } }, 'pruning processed events failed');
    }
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

/** 0 for the first try, then 100 ms doubling to 30 s, jittered so gateways do not retry in lockstep. */
function backoff(failures: number): number {
  if (failures <= 0) return 0;
  const base = Math.min(100 * 2 ** (failures - 1), MAX_BACKOFF_MS);
  return base / 2 + Math.random() * (base / 2);
}
