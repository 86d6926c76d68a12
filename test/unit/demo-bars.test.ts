/** The demo bar generator: deterministic, consistent OHLC, exact 4-place prices, equity hours vs. around the clock. */
import { validateBars } from '../../src/modules/market-data/bar-rules';
import {
  barTimes, formatTicks, generateBars, generateSymbolBars, lastWeekdays, mulberry32, toTicks, tradesAllDay,
} from '../../src/modules/ops/demo-bars';

// Monday 23 November 2026: the two weekdays before it are Thursday 19 and Friday 20; Sat 21 and Sun 22 are skipped.
const MONDAY = new Date('2026-11-23T00:00:00Z');
const PRICE = /^\d+\.\d{4}$/;

describe('mulberry32', () => {
  it('repeats for a seed and differs between seeds', () => {
    const a = mulberry32(7);
    const b = mulberry32(7);
    const c = mulberry32(8);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});

describe('ticks', () => {
  it('formats and parses ten-thousandths exactly', () => {
    expect(formatTicks(1_901_234)).toBe('190.1234');
    expect(formatTicks(5)).toBe('0.0005');
    expect(formatTicks(650_000_000)).toBe('65000.0000');
    expect(toTicks('190.1234')).toBe(1_901_234);
    expect(toTicks('0.1')).toBe(1000);
    expect(toTicks('42')).toBe(420_000);
    expect(() => formatTicks(1.5)).toThrow();
    expect(() => toTicks('1.23456')).toThrow();
  });
});

describe('calendar', () => {
  it('takes the last N weekdays before the end date, skipping the weekend', () => {
    expect(lastWeekdays(2, MONDAY).map((d) => d.toISOString())).toEqual(['2026-11-19T00:00:00.000Z', '2026-11-20T00:00:00.000Z']);
    // A time of day on the end date does not make that date count.
    expect(lastWeekdays(1, new Date('2026-11-23T23:59:00Z'))[0].toISOString()).toBe('2026-11-20T00:00:00.000Z');
    expect(lastWeekdays(5, new Date('2026-11-26T12:00:00Z')).map((d) => d.getUTCDay())).toEqual([4, 5, 1, 2, 3]);
  });

  it('tells currency pairs from equities', () => {
    expect(tradesAllDay('BTC-USD')).toBe(true);
    expect(tradesAllDay('ETH/USDT')).toBe(true);
    expect(tradesAllDay('AAPL')).toBe(false);
    expect(tradesAllDay('BRK.B')).toBe(false);
  });

  it('has 390 equity bars a weekday, 14:30 to 20:59 UTC, and none at the weekend', () => {
    const times = barTimes('AAPL', 2, MONDAY).map((t) => new Date(t).toISOString());
    expect(times).toHaveLength(780);
    expect(times[0]).toBe('2026-11-19T14:30:00.000Z');
    expect(times[389]).toBe('2026-11-19T20:59:00.000Z');
    expect(times[390]).toBe('2026-11-20T14:30:00.000Z');
    expect(times[779]).toBe('2026-11-20T20:59:00.000Z');
    expect(times.some((t) => t.startsWith('2026-11-21') || t.startsWith('2026-11-22'))).toBe(false);
  });

  it('has BTC-USD bars every minute of every day of the span, the weekend included', () => {
    const times = barTimes('BTC-USD', 2, MONDAY);
    expect(times).toHaveLength(4 * 1440);
    expect(new Date(times[0]).toISOString()).toBe('2026-11-19T00:00:00.000Z');
    expect(new Date(times[times.length - 1]).toISOString()).toBe('2026-11-22T23:59:00.000Z');
    expect(times.filter((t) => new Date(t).getUTCDay() === 6)).toHaveLength(1440);
    expect(times.every((t, i) => i === 0 || t - times[i - 1] === 60_000)).toBe(true);
  });
});

describe('generateBars', () => {
  const spec = { symbols: ['AAPL', 'MSFT', 'NVDA', 'BTC-USD', 'ZZTOP'], days: 3, end: MONDAY };
  const bars = generateBars(spec);

  it('is deterministic for a seed, and a symbol does not depend on the others', () => {
    expect(generateBars(spec)).toEqual(bars);
    expect(generateSymbolBars('NVDA', 3, MONDAY)).toEqual(bars.get('NVDA'));
    const other = generateBars({ ...spec, seed: 1 });
    expect(other.get('AAPL')!.map((b) => b.close)).not.toEqual(bars.get('AAPL')!.map((b) => b.close));
  });

  it('makes exact 4-place prices, whole volumes, consistent OHLC and open = previous close', () => {
    const problems: string[] = [];
    for (const [symbol, series] of bars) {
      expect(series.length).toBe(tradesAllDay(symbol) ? 5 * 1440 : 3 * 390);
      series.forEach((b, i) => {
        const at = `${symbol}[${i}]`;
        for (const p of [b.open, b.high, b.low, b.close]) if (!PRICE.test(p)) problems.push(`${at}: price ${p}`);
        if (!/^\d+$/.test(b.volume)) problems.push(`${at}: volume ${b.volume}`);
        const [o, h, l, c] = [b.open, b.high, b.low, b.close].map(toTicks);
        if (h < Math.max(o, c) || l > Math.min(o, c) || l <= 0) problems.push(`${at}: ohlc ${b.open} ${b.high} ${b.low} ${b.close}`);
        if (i > 0 && b.open !== series[i - 1].close) problems.push(`${at}: open ${b.open} after close ${series[i - 1].close}`);
      });
    }
    expect(problems).toEqual([]);
    // The ingestion rules accept every bar as generated.
    expect(() => validateBars([...bars.values()].flat().slice(0, 10_000))).not.toThrow();
  });

  it('starts near plausible prices', () => {
    const first = (s: string) => toTicks(bars.get(s)![0].open) / 10_000;
    expect(first('AAPL')).toBe(190);
    expect(first('MSFT')).toBe(420);
    expect(first('NVDA')).toBe(130);
    expect(first('BTC-USD')).toBe(65_000);
    const last = toTicks(bars.get('BTC-USD')!.at(-1)!.close) / 10_000;
    expect(last).toBeGreaterThan(65_000 * 0.5);
    expect(last).toBeLessThan(65_000 * 1.5);
  });
});
