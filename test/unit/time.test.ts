import { toIsoUtc, utcMillis } from '../../src/platform/time';

describe('utcMillis', () => {
  it.each([
    '2026-11-27 14:30:00+00',
    '1970-01-01 00:00:00+00',
    '2000-02-29 23:59:59.5+00',
    '2026-01-31 09:05:07.123456+00',
    '2026-01-31 09:05:07.12+00',
    '1899-12-31 23:59:59.999+00',
    '0050-06-01 12:00:00+00',
  ])('reads PostgreSQL UTC text %s as Date.parse reads its ISO form', (text) => {
    expect(utcMillis(text)).toBe(Date.parse(toIsoUtc(text)!));
  });

  it('takes Dates and other time texts, and is NaN for anything else', () => {
    expect(utcMillis(new Date(Date.UTC(2026, 10, 27)))).toBe(Date.UTC(2026, 10, 27));
    expect(utcMillis('2026-11-27T14:30:00Z')).toBe(Date.UTC(2026, 10, 27, 14, 30));
    expect(utcMillis('not a time')).toBeNaN();
  });
});

describe('utcMillis against the code it replaced', () => {
  // the reference: reading the fraction through a padded slice
  const digitsAt = (s: string, from: number, to: number): number => {
    let n = 0;
    for (let i = from; i < to; i++) n = n * 10 + (s.charCodeAt(i) - 48);
    return n;
  };
  const oldUtcMillis = (value: string): number => {
    if (value.length >= 22 && value.charCodeAt(10) === 32 && value.endsWith('+00') && (value.length === 22 || value.charCodeAt(19) === 46)) {
      const year = digitsAt(value, 0, 4);
      const ms = value.length > 23 ? digitsAt(`${value.slice(20, -3)}00`, 0, 3) : 0;
      if (year >= 100) return Date.UTC(year, digitsAt(value, 5, 7) - 1, digitsAt(value, 8, 10), digitsAt(value, 11, 13), digitsAt(value, 14, 16), digitsAt(value, 17, 19), ms);
    }
    const iso = toIsoUtc(value);
    return iso === null ? Number.NaN : Date.parse(iso);
  };

  it('gives the same milliseconds for fractions of every length', () => {
    const texts = ['2026-11-27 14:30:00+00', '2026-11-27 14:30:00.+00', '2026-11-27 14:30:00.x+00', '2026-11-27 14:30:00.1a+00', '0050-06-01 12:00:00.5+00'];
    for (let digits = 1; digits <= 12; digits++) {
      for (const fill of ['0', '1', '5', '9']) texts.push(`2026-11-27 14:30:00.${fill.repeat(digits)}+00`, `1999-12-31 23:59:59.${'7'.repeat(digits - 1)}${fill}+00`);
    }
    for (const text of texts) expect([text, utcMillis(text)]).toEqual([text, oldUtcMillis(text)]);
  });
});
