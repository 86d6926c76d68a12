/**
 * `tradeql replay`: feeds stored 1-minute bars back through ingestion at a speed multiple, so a demo market moves.
 *
 * The bars of [from, to) are read through the market-data service and ingested again, minute by minute (all symbols
 * of one minute in one call), as new bars: each is stamped a whole number of days later, so that the first one comes
 * right after the newest stored bar and every bar keeps its time of day. Subscribers, the dashboard and the paper
 * venue see them as a live feed. At speed 60 a market minute takes a second; gaps longer than `maxGapMinutes`
 * (nights, weekends) are waited as that many minutes. With `loop`, the same bars go round again, each pass later.
 */
import type { Scope } from '../../platform/scope';
import { toIsoUtc } from '../../platform/time';
import { ValidationError } from '../../platform/errors';
import type { BarInput } from '../market-data/bar-rules';
import type { MarketDataService } from '../market-data/market-data.service';

const MINUTE = 60_000;
const DAY = 86_400_000;
/** A replay holds its bars in memory: a year of one symbol is about 525,000. */
const MAX_BARS = 1_000_000;

export interface ReplayOptions {
  symbols: string[];
  /** first stored bar to replay (inclusive); default: 24 hours before the end */
  from?: Date;
  /** end of the stored bars to replay (exclusive); default: just after the newest stored bar of the symbols */
  to?: Date;
  /** market minutes per wall-clock minute: 60 = one bar a second */
  speed: number;
  /** start over after the last bar, each pass stamped later (until aborted) */
  loop?: boolean;
  /** a longer gap between bars is waited as this many minutes (default 5) */
  maxGapMinutes?: number;
  signal?: AbortSignal;
  onProgress?: (progress: ReplayProgress) => void;
}

export interface ReplayProgress {
  /** bars ingested in this pass, of `total` */
  done: number;
  total: number;
  /** 0 for the first pass */
  pass: number;
  /** the time the latest ingested minute was stamped with */
  timestamp: string;
}

export interface ReplayReport {
  bars: number;
  minutes: number;
  passes: number;
  /** where the stored bars were read: [from, to) */
  source: { from: string; to: string };
  /** the stamps of the first and last bar ingested */
  first: string | null;
  last: string | null;
}

interface Minute {
  ms: number;
  bars: BarInput[];
}

export async function replayBars(scope: Scope, marketData: MarketDataService, options: ReplayOptions): Promise<ReplayReport> {
  if (!options.symbols.length) throw ValidationError.field('symbols', 'name at least one symbol');
  if (!(options.speed > 0)) throw ValidationError.field('speed', 'must be greater than 0');
  const newest = await newestBar(scope, marketData, options.symbols);
  if (newest === null) throw ValidationError.field('symbols', `no stored bars of ${options.symbols.join(', ')}`);
  const to = options.to?.getTime() ?? newest + MINUTE;
  const from = options.from?.getTime() ?? to - DAY;
  if (from >= to) throw ValidationError.field('from', 'must be before to');
  const minutes = await loadMinutes(scope, marketData, options.symbols, from, to);
  const total = minutes.reduce((n, m) => n + m.bars.length, 0);
  const report: ReplayReport = { bars: 0, minutes: 0, passes: 0, source: { from: iso(from), to: iso(to) }, first: null, last: null };
  if (!total) return report;

  // Whole days, so a bar keeps its time of day; the first pass starts after the newest stored bar.
  const firstShift = Math.ceil((newest + MINUTE - minutes[0].ms) / DAY) * DAY;
  const passSpan = Math.ceil((to - from) / DAY) * DAY;
  const maxGap = (options.maxGapMinutes ?? 5) * MINUTE;
  const started = Date.now();
  let elapsed = 0; // market time paced so far, gaps capped
  let previous: number | null = null;
  for (let pass = 0; !options.signal?.aborted; pass++) {
    const shift = firstShift + pass * passSpan;
    await createPartitions(scope, minutes[0].ms + shift, minutes[minutes.length - 1].ms + shift);
    let done = 0;
    for (const minute of minutes) {
      elapsed += previous === null ? 0 : Math.min(minute.ms - previous, maxGap);
      previous = minute.ms;
      await sleep(started + elapsed / options.speed - Date.now(), options.signal);
      if (options.signal?.aborted) break;
      const stamp = new Date(minute.ms + shift);
      await marketData.ingest(scope, minute.bars.map((b) => ({ ...b, timestamp: stamp })));
      done += minute.bars.length;
      report.bars += minute.bars.length;
      report.minutes++;
      report.first ??= stamp.toISOString();
      report.last = stamp.toISOString();
      options.onProgress?.({ done, total, pass, timestamp: stamp.toISOString() });
    }
    report.passes = pass + 1;
    // The next pass follows after one minute, as the next bar would.
    previous = null;
    elapsed += MINUTE;
    if (!options.loop) break;
  }
  return report;
}

async function newestBar(scope: Scope, marketData: MarketDataService, symbols: string[]): Promise<number | null> {
  let newest: number | null = null;
  for (const symbol of symbols) {
    const bar = await marketData.latestBar(scope, symbol);
    if (bar) newest = Math.max(newest ?? 0, Date.parse(toIsoUtc(bar.timestamp)!));
  }
  return newest;
}

/** The stored bars through the service, a page at a time, grouped by minute (symbols in the order given). */
async function loadMinutes(scope: Scope, marketData: MarketDataService, symbols: string[], from: number, to: number): Promise<Minute[]> {
  const byMinute = new Map<number, BarInput[]>();
  let count = 0;
  for (const symbol of symbols) {
    for (let after: string | null = null; ; ) {
      const page = await marketData.bars(scope, { symbol, from: new Date(from), to: new Date(to), first: 1000, after });
      for (const { node } of page.edges) {
        const ms = Date.parse(toIsoUtc(node.timestamp)!);
        const list = byMinute.get(ms) ?? [];
        list.push({ symbol, timestamp: new Date(ms), open: node.open, high: node.high, low: node.low, close: node.close, volume: node.volume });
        byMinute.set(ms, list);
        if (++count > MAX_BARS) throw ValidationError.field('from', `more than ${MAX_BARS} bars to replay: choose a shorter range`);
      }
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
  }
  return [...byMinute].sort(([a], [b]) => a - b).map(([ms, bars]) => ({ ms, bars }));
}

/** The month partitions the stamped bars fall in (idempotent), so they do not wait in the default partition. */
async function createPartitions(scope: Scope, firstMs: number, lastMs: number): Promise<void> {
  const first = new Date(firstMs);
  for (let m = Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), 1); m <= lastMs; ) {
    await scope.db.em().execute('select data_ingestion.create_market_data_partition(?::date)', [iso(m).slice(0, 10)]);
    const d = new Date(m);
    m = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
