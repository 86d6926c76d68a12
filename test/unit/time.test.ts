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
