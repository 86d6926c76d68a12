/**
 * Deterministic demo 1-minute bars (pure): a seeded PRNG drives a random walk done in integer ten-thousandths, so
 * every price is an exact 4-place decimal string and the same inputs always give the same bars.
 * Calendar: the last N weekdays before `end`'s UTC date; equities trade 14:30-21:00 UTC on those weekdays (390 bars a
 * day), currency pairs (BTC-USD, ETH/USD, ...) trade every minute of every day of that span, weekends included.
 */
import type { BarInput } from '../market-data/bar-rules';

export const DEFAULT_SEED = 20_261_126;
const MINUTE = 60_000;
const DAY = 86_400_000;
const SESSION_OPEN = (14 * 60 + 30) * MINUTE;
export const SESSION_BARS = 390;
const TICKS = 10_000; // ten-thousandths per unit of price

/** Plausible start prices (whole units); other symbols get one derived from their name. */
const START_PRICES: Record<string, number> = { AAPL: 190, MSFT: 420, NVDA: 130, 'BTC-USD': 65_000 };

/** mulberry32: a tiny, fast, well-mixed 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** FNV-1a: a stable 32-bit hash of a symbol, so each symbol has its own stream whatever the others are. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

/** A currency pair (BTC-USD, ETH/USDT) trades around the clock; anything else keeps equity hours. */
export function tradesAllDay(symbol: string): boolean {
  return /[-/][A-Z]{3,4}$/.test(symbol);
}

/** Formats an integer count of ten-thousandths as an exact 4-place decimal string ("1901234" -> "190.1234"). */
export function formatTicks(ticks: number): string {
  if (!Number.isSafeInteger(ticks) || ticks < 0) throw new Error(`not a non-negative safe integer: ${ticks}`);
  return `${Math.trunc(ticks / TICKS)}.${String(ticks % TICKS).padStart(4, '0')}`;
}

/** Parses a price string with at most 4 decimals back into ten-thousandths, exactly (no float arithmetic). */
export function toTicks(price: string): number {
  const m = /^(\d+)(?:\.(\d{1,4}))?$/.exec(price);
  if (!m) throw new Error(`not a 4-place price: ${price}`);
  return Number(m[1]) * TICKS + Number((m[2] ?? '').padEnd(4, '0'));
}

/** UTC midnights of the last `days` weekdays strictly before `end`'s UTC date, oldest first. */
export function lastWeekdays(days: number, end: Date): Date[] {
  if (!Number.isInteger(days) || days < 1) throw new Error(`days must be a positive integer, not ${days}`);
  const out: Date[] = [];
  for (let t = Math.floor(end.getTime() / DAY) * DAY - DAY; out.length < days; t -= DAY) {
    const weekday = new Date(t).getUTCDay();
    if (weekday !== 0 && weekday !== 6) out.unshift(new Date(t));
  }
  return out;
}

/** The minute timestamps (epoch ms) a symbol has bars for. */
export function barTimes(symbol: string, days: number, end: Date): number[] {
  const weekdays = lastWeekdays(days, end);
  const times: number[] = [];
  if (tradesAllDay(symbol)) {
    const stop = Math.floor(end.getTime() / DAY) * DAY;
    for (let t = weekdays[0].getTime(); t < stop; t += MINUTE) times.push(t);
  } else {
    for (const day of weekdays) {
      for (let i = 0; i < SESSION_BARS; i++) times.push(day.getTime() + SESSION_OPEN + i * MINUTE);
    }
  }
  return times;
}

export interface DemoBarSpec {
  symbols: string[];
  days: number;
  end: Date;
  seed?: number;
}

/** Sum of three uniforms, centred and scaled: a cheap bell curve with standard deviation ~1. */
function bell(rand: () => number): number {
  return (rand() + rand() + rand() - 1.5) * 2;
}

function startPrice(symbol: string, hash: number): number {
  const whole = START_PRICES[symbol] ?? (tradesAllDay(symbol) ? 1 + (hash % 2_000) : 20 + (hash % 480));
  return whole * TICKS;
}

/** The bars of one symbol, oldest first. */
export function generateSymbolBars(symbol: string, days: number, end: Date, seed = DEFAULT_SEED): BarInput[] {
  const hash = hashString(symbol);
  const rand = mulberry32((seed ^ hash) >>> 0);
  const allDay = tradesAllDay(symbol);
  const sigma = allDay ? 0.0008 : 0.0005; // per-minute volatility, relative
  const baseVolume = allDay ? 25 : 20_000;
  const floor = Math.max(1, Math.round(startPrice(symbol, hash) / 100));
  let close = startPrice(symbol, hash);
  return barTimes(symbol, days, end).map((t) => {
    const open = close;
    const step = Math.round(bell(rand) * open * sigma);
    close = Math.max(floor, open + step);
    const high = Math.max(open, close) + Math.round(Math.abs(bell(rand)) * open * sigma * 0.5);
    const low = Math.max(1, Math.min(open, close) - Math.round(Math.abs(bell(rand)) * open * sigma * 0.5));
    const volume = Math.max(0, Math.round(baseVolume * (0.3 + rand() * 1.4 + Math.abs(step) / (open * sigma) * 0.3)));
    return {
      symbol,
      timestamp: new Date(t),
      open: formatTicks(open),
      high: formatTicks(high),
      low: formatTicks(low),
      close: formatTicks(close),
      volume: String(volume),
    };
  });
}

/** The bars of every symbol, grouped by symbol (each oldest first). */
export function generateBars(spec: DemoBarSpec): Map<string, BarInput[]> {
  return new Map(spec.symbols.map((s) => [s, generateSymbolBars(s, spec.days, spec.end, spec.seed)]));
}
