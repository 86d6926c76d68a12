/** Validation of incoming 1-minute bars (pure): prices, OHLC consistency, volume, minute alignment, batch size. */
import { BAR_PRICE, VOLUME, type DecimalRule } from '../../platform/decimal';
import { ValidationError, type FieldProblem } from '../../platform/errors';
import { SYMBOL_PATTERN } from '../orders/order-lifecycle';

export const MAX_BARS_PER_CALL = 10_000;

export interface BarInput {
  symbol: string;
  timestamp: Date;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
}

export interface ValidBar {
  symbol: string;
  timestamp: string; // ISO 8601
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
}

/** The same text rule as parseDecimal's (platform/decimal.ts). */
const DECIMAL_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;
const PRICES = ['open', 'high', 'low', 'close'] as const;

/**
 * parseDecimal's checks, in its order and with its messages, done on the digits as text; returns what
 * decimalText(parseDecimal(...)) returns (no "+", no leading or trailing zeros, "-0" as "0"), or the problem.
 * A batch of 10,000 bars holds 50,000 decimals: a decimal.js object for each cost more than the rest of the call.
 */
export function checkDecimal(input: string, rule: DecimalRule): string | { problem: string } {
  const text = input.trim();
  if (!DECIMAL_TEXT.test(text)) return { problem: `"${input}" is not a decimal number` };
  const negative = text.charCodeAt(0) === 45; // '-'
  let start = negative || text.charCodeAt(0) === 43 ? 1 : 0; // after the sign
  const dot = text.indexOf('.');
  const point = dot < 0 ? text.length : dot;
  let end = text.length;
  while (start < point && text.charCodeAt(start) === 48) start++; // leading zeros
  while (end > point + 1 && text.charCodeAt(end - 1) === 48) end--; // trailing zeros of the fraction
  if (end === point + 1) end = point; // nothing left after the point
  const integerDigits = point - start;
  const places = end > point ? end - point - 1 : 0;
  const zero = integerDigits === 0 && places === 0;
  if (rule.integer && places > 0) return { problem: 'must be a whole number' };
  if (places > rule.scale) return { problem: `at most ${rule.scale} decimal places` };
  if (integerDigits > rule.precision - rule.scale) {
    return { problem: `at most ${rule.precision - rule.scale} digits before the decimal point` };
  }
  if (rule.positive && (negative || zero)) return { problem: 'must be greater than 0' };
  if (rule.nonNegative && negative && !zero) return { problem: 'must not be negative' };
  const digits = integerDigits ? text.slice(start, end) : `0${text.slice(point, end)}`;
  return negative && !zero ? `-${digits}` : digits;
}

/**
 * Orders two non-negative decimals in checkDecimal's text: the longer integer part is larger; with equally long
 * integer parts (no leading zeros, no trailing zeros after the point) the text order is the numeric order.
 */
export function compareDecimalText(a: string, b: string): number {
  const ai = a.indexOf('.');
  const bi = b.indexOf('.');
  const lengths = (ai < 0 ? a.length : ai) - (bi < 0 ? b.length : bi);
  if (lengths !== 0) return lengths;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Checks every bar and reports all problems at once (up to 20), each named `bars[i].field`. */
export function validateBars(bars: BarInput[]): ValidBar[] {
  if (bars.length === 0) throw ValidationError.field('bars', 'must contain at least one bar');
  if (bars.length > MAX_BARS_PER_CALL) throw ValidationError.field('bars', `at most ${MAX_BARS_PER_CALL} bars per call`);
  const problems: FieldProblem[] = [];
  const minutesBySymbol = new Map<string, Set<number>>();
  const valid: ValidBar[] = [];
  const prices: (string | undefined)[] = [undefined, undefined, undefined, undefined];
  const days = new Map<number, string>();
  // A plain loop and no closure per bar: this runs for every bar of a 10,000-bar call.
  for (let i = 0; i < bars.length; i++) {
    const bar = bars[i];
    const before = problems.length;
    if (!SYMBOL_PATTERN.test(bar.symbol)) addProblem(problems, i, 'symbol', 'must be 1-20 of A-Z 0-9 . - /');
    const ms = bar.timestamp.getTime();
    if (ms % 60_000 !== 0) addProblem(problems, i, 'timestamp', 'must be the start of a minute');
    for (let p = 0; p < 4; p++) {
      const checked = checkDecimal(bar[PRICES[p]], BAR_PRICE);
      prices[p] = typeof checked === 'string' ? checked : (addProblem(problems, i, PRICES[p], checked.problem), undefined);
    }
    const [open, high, low, close] = prices;
    const volume = checkDecimal(bar.volume, VOLUME);
    if (typeof volume !== 'string') addProblem(problems, i, 'volume', volume.problem);
    if (open && high && low && close) {
      // All four are > 0 here, which compareDecimalText needs.
      if (compareDecimalText(high, open) < 0 || compareDecimalText(high, close) < 0) addProblem(problems, i, 'high', 'must be >= max(open, close)');
      if (compareDecimalText(low, open) > 0 || compareDecimalText(low, close) > 0) addProblem(problems, i, 'low', 'must be <= min(open, close)');
    }
    const minutes = minutesBySymbol.get(bar.symbol) ?? minutesBySymbol.set(bar.symbol, new Set()).get(bar.symbol)!;
    if (minutes.has(ms)) addProblem(problems, i, 'timestamp', 'duplicates an earlier bar of the same symbol in this call');
    minutes.add(ms);
    if (problems.length === before && open && high && low && close && typeof volume === 'string') {
      valid.push({ symbol: bar.symbol, timestamp: minuteIso(bar.timestamp, ms, days), open, high, low, close, volume });
    }
  }
  if (problems.length) {
    const shown = problems.slice(0, 20);
    throw new ValidationError(`invalid bars: ${shown.map((p) => `${p.field}: ${p.message}`).join('; ')}${problems.length > 20 ? `; and ${problems.length - 20} more` : ''}`, shown);
  }
  return valid;
}

/** Field names are built only for a problem: 70,000 strings per batch otherwise. */
function addProblem(problems: FieldProblem[], i: number, field: string, message: string): void {
  problems.push({ field: `bars[${i}].${field}`, message });
}

const DAY_MS = 86_400_000;
const MINUTE_OF_DAY = Array.from({ length: 1440 }, (_, m) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}:00.000Z`);

/**
 * toISOString of the start of a minute, from the texts of its day (`days`, filled as bars come) and of its minute:
 * a batch's bars fall on a few days, and toISOString costs more than every check of a bar together. A year
 * outside 0000-9999 (a longer text) is left to toISOString.
 */
function minuteIso(date: Date, ms: number, days: Map<number, string>): string {
  const day = Math.floor(ms / DAY_MS);
  let prefix = days.get(day);
  if (prefix === undefined) {
    const iso = date.toISOString();
    if (iso.length !== 24) return iso;
    days.set(day, (prefix = iso.slice(0, 11)));
  }
  return prefix + MINUTE_OF_DAY[(ms - day * DAY_MS) / 60_000];
}
