import { ValidationError } from '../../src/platform/errors';
import { BAR_PRICE, Decimal, PRICE, VOLUME, decimalText, parseDecimal, type DecimalRule } from '../../src/platform/decimal';
import { SYMBOL_PATTERN } from '../../src/modules/orders/order-lifecycle';
import { checkDecimal, compareDecimalText, validateBars, type BarInput, type ValidBar } from '../../src/modules/market-data/bar-rules';
import { barAt, barCount, barEvents, eventBars, type BarsPayload } from '../../src/modules/events';
import { textArray } from '../../src/modules/market-data/market-data.repository';

/** validateBars as it was with decimal.js, the reference the text checks must agree with. */
function referenceValidateBars(bars: BarInput[]): ValidBar[] {
  if (bars.length === 0) throw ValidationError.field('bars', 'must contain at least one bar');
  if (bars.length > 10_000) throw ValidationError.field('bars', 'at most 10000 bars per call');
  const problems: { field: string; message: string }[] = [];
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
      valid.push({ symbol: bar.symbol, timestamp: bar.timestamp.toISOString(), open: decimalText(open), high: decimalText(high),
        low: decimalText(low), close: decimalText(close), volume: decimalText(volume) });
    }
  });
  if (problems.length) {
    const shown = problems.slice(0, 20);
    throw new ValidationError(`invalid bars: ${shown.map((p) => `${p.field}: ${p.message}`).join('; ')}${problems.length > 20 ? `; and ${problems.length - 20} more` : ''}`, shown);
  }
  return valid;
}

/** What a validation gives: the bars, or the error's message and problems. */
function outcome(fn: () => ValidBar[]): unknown {
  try {
    return { bars: fn() };
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    return { message: e.message, problems: e.problems };
  }
}

function referenceCheck(text: string, rule: DecimalRule): string | { problem: string } {
  try {
    return decimalText(parseDecimal('f', text, rule));
  } catch (e) {
    return { problem: (e as ValidationError).problems[0].message };
  }
}

/** The cases where two answers differ (compared as JSON), for one expect over thousands of cases. */
function differences<T>(cases: Iterable<T>, actual: (c: T) => unknown, expected: (c: T) => unknown): unknown[] {
  const out: unknown[] = [];
  for (const c of cases) {
    const a = actual(c);
    const e = expected(c);
    if (JSON.stringify(a) !== JSON.stringify(e)) out.push({ case: c, actual: a, expected: e });
  }
  return out;
}

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number) {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s ^ (s >>> 15), 2246822519) + 0x9e3779b9) >>> 0) / 2 ** 32);
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)],
  };
}

const EDGES = ['0', '-0', '+0', '0.0', '.0', '0.', '00', '000.000', '1', '+1', '-1', '1.', '.5', '-.5', '+.5', '5.50', '05.5', '0005.5000',
  '100.0000', '100.00001', '100.00010', '0.0001', '0.00001', '-0.00001', '99999999999', '999999999999', '099999999999.9999',
  '12345678901.2345', '123456789012', '9999999999999999999', '10000000000000000000', '-9999999999999999999', '1.0', '1.5', '-1.5',
  ' 7 ', '\t7', '7\n', '', ' ', '.', '+', '-', '+-1', '--1', '1e5', '1E5', '0x10', 'Infinity', 'NaN', '1,5', '1.2.3', '5 5', '١٢', '７'];

describe('checkDecimal', () => {
  const rules: [string, DecimalRule][] = [['BAR_PRICE', BAR_PRICE], ['VOLUME', VOLUME], ['PRICE', PRICE], ['ANY', { precision: 20, scale: 8 }]];

  it.each(rules)('agrees with parseDecimal and decimalText on edge cases (%s)', (_name, rule) => {
    expect(differences(EDGES, (t) => checkDecimal(t, rule), (t) => referenceCheck(t, rule))).toEqual([]);
  });

  it.each(rules)('agrees with parseDecimal and decimalText on 20,000 random texts (%s)', (_name, rule) => {
    const r = random(rule.scale * 31 + rule.precision);
    const texts = Array.from({ length: 20_000 }, () => {
      let text = '';
      for (let k = 1 + r.int(18); k > 0; k--) text += r.pick('0000111223456789..+- '.split(''));
      return text;
    });
    expect(differences(texts, (t) => checkDecimal(t, rule), (t) => referenceCheck(t, rule))).toEqual([]);
  });

  it('keeps every digit of a long exact value', () => {
    expect(checkDecimal('00012345678901.2340000', BAR_PRICE)).toBe('12345678901.234');
    expect(checkDecimal('9223372036854775807', VOLUME)).toBe('9223372036854775807');
  });
});

describe('compareDecimalText', () => {
  it('orders positive decimals as decimal.js does', () => {
    const r = random(7);
    const texts = Array.from({ length: 3000 }, () => {
      const int = r.int(3) === 0 ? '0' : String(r.int(10 ** (1 + r.int(6))) + 1);
      const frac = r.int(2) ? '' : `.${String(r.int(10_000)).padStart(4, '0')}`;
      return checkDecimal(`${int}${frac}`, BAR_PRICE);
    }).filter((t): t is string => typeof t === 'string');
    const pairs = Array.from({ length: 20_000 }, () => [r.pick(texts), r.pick(texts)] as const);
    expect(differences(pairs, ([a, b]) => Math.sign(compareDecimalText(a, b)), ([a, b]) => new Decimal(a).cmp(new Decimal(b)))).toEqual([]);
  });
});

describe('validateBars', () => {
  const T0 = Date.parse('2026-11-02T14:30:00Z');
  const good = (i: number, symbol = 'AAPL'): BarInput => ({
    symbol, timestamp: new Date(T0 + i * 60_000), open: '100.5', high: '101.25', low: '99.0001', close: '100.75', volume: String(1000 + i),
  });

  /** One field of a good bar replaced by something that may or may not pass. */
  function mutate(bar: BarInput, r: ReturnType<typeof random>): BarInput {
    const field = r.pick(['symbol', 'timestamp', 'open', 'high', 'low', 'close', 'volume', 'none'] as const);
    if (field === 'none') return bar;
    if (field === 'symbol') return { ...bar, symbol: r.pick(['aapl', '', 'A'.repeat(21), 'BRK.B', 'BTC-USD', 'EUR/USD', 'NULL', 'A B']) };
    if (field === 'timestamp') return { ...bar, timestamp: new Date(bar.timestamp.getTime() + r.pick([0, 1, 30_000, 60_000, -60_000])) };
    return { ...bar, [field]: r.pick([...EDGES, '100.5', '101.25', '99', '100.75', '101.2500', '99.00010', '150', '50']) };
  }

  it('agrees with the decimal.js validation on 300 random batches: the same bars, or the same problems and message', () => {
    const r = random(42);
    const batches = Array.from({ length: 300 }, () =>
      Array.from({ length: 1 + r.int(40) }, (_, i) => (r.int(3) ? good(i, r.pick(['AAPL', 'MSFT'])) : mutate(good(i, r.pick(['AAPL', 'MSFT'])), r))));
    expect(differences(batches, (b) => outcome(() => validateBars(b)), (b) => outcome(() => referenceValidateBars(b)))).toEqual([]);
  });

  it('refuses a 10,000-bar batch for one bad bar in the middle, naming its index', () => {
    const bars = Array.from({ length: 10_000 }, (_, i) => good(i));
    bars[5_123] = { ...bars[5_123], high: '100.4999' };
    expect(outcome(() => validateBars(bars))).toEqual({
      message: 'invalid bars: bars[5123].high: must be >= max(open, close)',
      problems: [{ field: 'bars[5123].high', message: 'must be >= max(open, close)' }],
    });
  });

  it('reports the first 20 problems and counts the rest', () => {
    const bars = Array.from({ length: 30 }, (_, i) => ({ ...good(i), volume: '-1' }));
    const result = outcome(() => validateBars(bars)) as { message: string; problems: unknown[] };
    expect(result.problems).toHaveLength(20);
    expect(result.message).toMatch(/bars\[19\]\.volume: must not be negative; and 10 more$/);
  });

  it('gives each bar the ISO text of toISOString, for minutes of any day and year', () => {
    const r = random(3);
    const first = Date.parse('0000-01-01T00:00:00Z');
    const last = Date.parse('9999-12-31T23:59:00Z');
    const times = ['0000-01-01T00:00:00Z', '1969-12-31T23:59:00Z', '1970-01-01T00:00:00Z', '2026-11-02T23:59:00Z', '9999-12-31T23:59:00Z',
      '-000001-12-31T23:59:00Z', '+010000-01-01T00:00:00Z'].map(Date.parse);
    // Many bars of a few days (the cache per day), and minutes anywhere in years 0000-9999.
    for (let n = 0; n < 3_000; n++) times.push(Date.UTC(2026, 10, 2 + r.int(3), 0, r.int(1440)));
    for (let n = 0; n < 3_000; n++) times.push(first + Math.floor(r.next() * ((last - first) / 60_000)) * 60_000);
    const bars = times.map((ms, i) => ({ ...good(0, `S${i}`), timestamp: new Date(ms) }));
    expect(validateBars(bars).map((b) => b.timestamp)).toEqual(bars.map((b) => b.timestamp.toISOString()));
  });

  it('returns canonical exact text', () => {
    const [bar] = validateBars([{ ...good(0), open: '+0100.5000', high: '00101.2500', low: '99.00010', close: '100.7500', volume: '-0' }]);
    expect(bar).toEqual({ symbol: 'AAPL', timestamp: '2026-11-02T14:30:00.000Z', open: '100.5', high: '101.25', low: '99.0001', close: '100.75', volume: '0' });
  });
});

describe('bar events', () => {
  const bar = (symbol: string, minute: number, close: string) => ({
    symbol, timestamp: new Date(Date.UTC(2026, 10, 2, 14, 30 + minute)).toISOString(), open: close, high: close, low: close, close, volume: String(minute),
  });

  it('carry each symbol once, in first-seen order, its bars oldest first, and give back the same bars', () => {
    const bars = [bar('B', 3, '3'), bar('A', 1, '1.5'), bar('B', 1, '1'), bar('A', 0, '0.5'), bar('B', 2, '2')];
    const events = barEvents(bars);
    expect(events.map((e) => e.symbol)).toEqual(['B', 'A']);
    const back = events.map((e) => eventBars({ symbol: e.symbol!, payload: e.payload as BarsPayload }));
    expect(back).toEqual([
      [bar('B', 1, '1'), bar('B', 2, '2'), bar('B', 3, '3')],
      [bar('A', 0, '0.5'), bar('A', 1, '1.5')],
    ]);
  });

  it('put bars in time order across years whose ISO texts do not sort as text', () => {
    const at = (iso: string) => ({ ...bar('A', 0, '1'), timestamp: new Date(iso).toISOString() });
    // In text order, but not in time order.
    const bars = [at('+010000-01-01T00:00:00Z'), at('-000001-12-31T23:59:00Z'), at('0000-01-01T00:00:00Z'), at('2026-01-01T00:00:00Z')];
    const [event] = barEvents(bars);
    expect(eventBars({ symbol: 'A', payload: event.payload as BarsPayload }).map((b) => b.timestamp)).toEqual([bars[1], bars[2], bars[3], bars[0]].map((b) => b.timestamp));
  });

  it('are read the same when written as a list of bars (events stored before the columns)', () => {
    const legacy: BarsPayload = { bars: [bar('A', 0, '1'), bar('A', 1, '2')] };
    expect(barCount(legacy)).toBe(2);
    expect(barAt('A', legacy, 1)).toEqual(bar('A', 1, '2'));
    expect(eventBars({ symbol: 'A', payload: legacy })).toEqual(legacy.bars);
  });
});

describe('textArray', () => {
  it('quotes every value (NULL stays a text) and refuses a quote or a backslash instead of escaping it', () => {
    expect(textArray(['NULL', 'BRK.B', '100.5'])).toBe('{"NULL","BRK.B","100.5"}');
    expect(textArray([])).toBe('{}');
    expect(() => textArray(['A"B'])).toThrow();
    expect(() => textArray(['A\\B'])).toThrow();
  });
});
