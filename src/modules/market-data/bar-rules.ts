/** Validation of incoming 1-minute bars (pure): prices, OHLC consistency, volume, minute alignment, batch size. */
import { BAR_PRICE, parseDecimal, VOLUME, decimalText } from '../../platform/decimal';
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

/** Checks every bar and reports all problems at once (up to 20), each named `bars[i].field`. */
export function validateBars(bars: BarInput[]): ValidBar[] {
  if (bars.length === 0) throw ValidationError.field('bars', 'must contain at least one bar');
  if (bars.length > MAX_BARS_PER_CALL) throw ValidationError.field('bars', `at most ${MAX_BARS_PER_CALL} bars per call`);
  const problems: FieldProblem[] = [];
  const seen = new Set<string>();
  const valid: ValidBar[] = [];
  bars.forEach((bar, i) => {
    const at = (field: string) => `bars[${i}].${field}`;
    const before = problems.length;
    const check = <T>(fn: () => T): T | undefined => {
      try {
        return fn();
      } catch (e) {
        if (e instanceof ValidationError) problems.push(...e.problems);
        else throw e;
        return undefined;
      }
    };
    if (!SYMBOL_PATTERN.test(bar.symbol)) problems.push({ field: at('symbol'), message: 'must be 1-20 of A-Z 0-9 . - /' });
    const ms = bar.timestamp.getTime();
    if (ms % 60_000 !== 0) problems.push({ field: at('timestamp'), message: 'must be the start of a minute' });
    const [open, high, low, close] = (['open', 'high', 'low', 'close'] as const).map((f) => check(() => parseDecimal(at(f), bar[f], BAR_PRICE)));
    const volume = check(() => parseDecimal(at('volume'), bar.volume, VOLUME));
    if (open && high && low && close) {
      if (high.lt(open) || high.lt(close)) problems.push({ field: at('high'), message: 'must be >= max(open, close)' });
      if (low.gt(open) || low.gt(close)) problems.push({ field: at('low'), message: 'must be <= min(open, close)' });
    }
    const key = `${bar.symbol}|${ms}`;
    if (seen.has(key)) problems.push({ field: at('timestamp'), message: 'duplicates an earlier bar of the same symbol in this call' });
    seen.add(key);
    if (problems.length === before && open && high && low && close && volume) {
      valid.push({
        symbol: bar.symbol,
        timestamp: bar.timestamp.toISOString(),
        open: decimalText(open),
        high: decimalText(high),
        low: decimalText(low),
        close: decimalText(close),
        volume: decimalText(volume),
      });
    }
  });
  if (problems.length) {
    const shown = problems.slice(0, 20);
    throw new ValidationError(`invalid bars: ${shown.map((p) => `${p.field}: ${p.message}`).join('; ')}${problems.length > 20 ? `; and ${problems.length - 20} more` : ''}`, shown);
  }
  return valid;
}
