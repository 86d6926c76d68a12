/**
 * The Decimal and DateTime serializers against the implementations they replaced (copied below as the reference):
 * the same text for every input, the same error for the rest.
 */
import { GraphQLError } from 'graphql';
import { Decimal, decimalText } from '../../src/platform/decimal';
import { toIsoUtc } from '../../src/platform/time';
import { DateTimeScalar, DecimalScalar, isoDateTime } from '../../src/server/scalars';

// ---- the reference: the code before the charCodeAt rewrite -------------------------------------------------------

function oldDecimalText(value: Decimal | string): string {
  const text = typeof value === 'string' ? value : value.toFixed();
  if (!text.includes('.')) return text === '-0' ? '0' : text;
  const trimmed = text.replace(/0+$/, '').replace(/\.$/, '');
  return trimmed === '-0' ? '0' : trimmed;
}

function oldDecimalSerialize(value: unknown): string {
  if (typeof value === 'string') return oldDecimalText(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (value && typeof (value as { toFixed?: unknown }).toFixed === 'function') return oldDecimalText((value as { toFixed(): string }).toFixed());
  throw new GraphQLError(`Decimal cannot serialize ${typeof value}`);
}

const PG_UTC = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(\.\d+)?)\+00$/;

function oldToIsoUtc(value: unknown): string | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (typeof value === 'string') {
    const m = PG_UTC.exec(value);
    if (m) return `${m[1]}T${m[2]}Z`;
    const d = new Date(value);
    if (!Number.isNaN(d.getTime())) return d.toISOString();
  }
  return null;
}

/**
 * Since the serializers write a Date's fraction as PostgreSQL does (no trailing zeros, none for a whole second), the
 * reference's text for everything but PostgreSQL's own: the old text with those zeros taken off.
 */
function expectedIsoUtc(value: unknown): string | null {
  const iso = oldToIsoUtc(value);
  if (iso === null || (typeof value === 'string' && PG_UTC.test(value))) return iso;
  return iso.replace(/\.(\d*?)0*Z$/, (_, kept: string) => (kept ? `.${kept}Z` : 'Z'));
}

function oldIsoDateTime(value: unknown): string {
  const iso = expectedIsoUtc(value);
  if (iso === null) throw new GraphQLError(`DateTime cannot serialize ${JSON.stringify(value)}`);
  return iso;
}

// ---- inputs ------------------------------------------------------------------------------------------------------

/** A deterministic generator, so a failure can be reproduced. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rnd = random(20261127);
const int = (n: number) => Math.floor(rnd() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
const digits = (n: number, alphabet = '0123456789') => Array.from({ length: n }, () => alphabet[int(alphabet.length)]).join('');

/** Decimal-like texts: signs, no integer part, trailing zeros, huge digit counts, and some that are not decimals. */
function decimalTexts(): string[] {
  const out = [
    '0', '-0', '+0', '0.0', '-0.0', '-0.000', '+0.000', '0.00000000', '100.50000000', '100.5', '100', '100.', '-100.',
    '.5', '.50', '-.5', '-.50', '+.5', '.0', '-.0', '.', '-.', '+.', '-', '+', '', '00.10', '-00.0', '-0.', '0.', '1.0.0',
    '1e5', '1.0e5', '1.50E-8', 'NaN', 'Infinity', '-Infinity', ' 1.50 ', '1.50\n', '1.0\n0', 'abc.000', '0E-8', '10',
    '123456789012345678901234567890.123456789000000000000000000', '9'.repeat(400) + '.' + '0'.repeat(400),
    '-' + '1'.repeat(1000) + '.' + '5'.repeat(500) + '0'.repeat(500), '0'.repeat(50), '-' + '0'.repeat(50) + '.' + '0'.repeat(50),
  ];
  for (let i = 0; i < 20_000; i++) {
    const sign = pick(['', '', '', '-', '+']);
    const intPart = pick(['', '0', digits(1 + int(3)), digits(1 + int(30)), '0'.repeat(1 + int(3))]);
    const frac = pick(['', '.', `.${digits(1 + int(8))}`, `.${digits(int(8))}${'0'.repeat(1 + int(8))}`, `.${'0'.repeat(1 + int(10))}`]);
    out.push(sign + intPart + frac);
  }
  // anything from a small alphabet: not decimals, but serialize accepts every string
  for (let i = 0; i < 20_000; i++) out.push(digits(int(9), '00.-+1e '));
  return out;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** PostgreSQL UTC texts (years < 1000, fractions of 1-9 digits), and near misses of every kind. */
function timeTexts(): string[] {
  const out = [
    '2026-11-27 14:30:00+00', '2026-11-27 14:30:00.5+00', '2026-11-27 14:30:00.123456+00', '2026-11-27 14:30:00.+00',
    '0999-01-01 00:00:00+00', '0001-01-01 00:00:00+00', '0001-01-01 00:00:00+00 BC', '10000-01-01 00:00:00+00',
    '2026-11-27 14:30:00+05', '2026-11-27 14:30:00+00:00', '2026-11-27 14:30:00-00', '2026-11-27T14:30:00+00',
    '2026-11-27 14:30:00Z', '2026-11-27T14:30:00Z', '2026-11-27T14:30:00.123456Z', '2026-11-27 14:30+00',
    '2026-13-45 25:61:61+00', '2026-11-27 14:30:00+00\n', ' 2026-11-27 14:30:00+00', '2026-11-27 14:30:00 +00',
    '2026-11-27', '2026-11-27 14:30:00', 'not a time', '', '+00', '2026-11-27 14:30:00.1234567890123+00',
    `2026-11-27 14:30:00.${'1'.repeat(41)}+00`, `2026-11-27 14:30:00.${'1'.repeat(42)}+00`, `2026-11-27 14:30:00.${'9'.repeat(200)}+00`,
    '２０２６-11-27 14:30:00+00', '2026-11-27 14:30:00.12a+00', '2026-11-27 14:30:00a1+00', '2026-11-27 14:30:0+00',
  ];
  for (let i = 0; i < 20_000; i++) {
    const fraction = pick(['', '', `.${digits(1 + int(6))}`, `.${digits(1 + int(9))}`]);
    const text = `${pad(int(10_000), 4)}-${pad(1 + int(12), 2)}-${pad(1 + int(28), 2)} ${pad(int(24), 2)}:${pad(int(60), 2)}:${pad(int(60), 2)}${fraction}+00`;
    out.push(text);
    // one character replaced, removed or inserted
    const at = int(text.length);
    const c = pick(['0', '9', '-', ':', ' ', '.', '+', 'T', 'Z', 'a', '/']);
    out.push(text.slice(0, at) + c + text.slice(at + 1), text.slice(0, at) + text.slice(at + 1), text.slice(0, at) + c + text.slice(at));
  }
  return out;
}

function outcome(f: (value: unknown) => unknown, value: unknown): { value?: unknown; error?: string; type?: string } {
  try {
    return { value: f(value) };
  } catch (error) {
    return { error: (error as Error).message, type: (error as Error).constructor.name };
  }
}

// ---- the comparisons ---------------------------------------------------------------------------------------------

describe('Decimal serialization', () => {
  it('gives the old text for every generated string', () => {
    const texts = decimalTexts();
    const differ = texts.filter((t) => decimalText(t) !== oldDecimalText(t) || DecimalScalar.serialize(t) !== oldDecimalSerialize(t));
    expect(differ).toEqual([]);
    expect(texts.length).toBeGreaterThan(40_000);
  });

  it('gives the old text for Decimals, numbers and bigints, and the old error for the rest', () => {
    const values: unknown[] = [
      new Decimal('100.50000000'), new Decimal('-0'), new Decimal('1e-8'), new Decimal('1.5e20'), new Decimal('-2.50e-3'), new Decimal('0.00000000'),
      0, -0, 42, -42, Number.MAX_SAFE_INTEGER, 1.5, Number.NaN, Infinity, 2 ** 60, 10n, -10n, 0n,
      null, undefined, true, {}, [], { toFixed: () => '1.500' }, { toFixed: 'no' }, Symbol('s'), new Date(0),
    ];
    for (const value of values) expect(outcome((v) => DecimalScalar.serialize(v), value)).toEqual(outcome(oldDecimalSerialize, value));
  });

  it('examples', () => {
    expect(decimalText('100.50000000')).toBe('100.5');
    expect(decimalText('0.00000000')).toBe('0');
    expect(decimalText('-0.000')).toBe('0');
    expect(decimalText('.50')).toBe('.5');
    expect(decimalText('+1.10')).toBe('+1.1');
    expect(decimalText('-00.0')).toBe('-00');
  });
});

describe('DateTime serialization', () => {
  it('gives the old ISO text for every generated string, and the old error where there was one', () => {
    const texts = timeTexts();
    const differ = texts.filter((t) => toIsoUtc(t) !== expectedIsoUtc(t));
    expect(differ).toEqual([]);
    for (const t of texts.slice(0, 5_000)) expect(outcome(isoDateTime, t)).toEqual(outcome(oldIsoDateTime, t));
    expect(texts.length).toBeGreaterThan(80_000);
  });

  it('gives the old text for Dates and the old error for anything else', () => {
    const values: unknown[] = [
      new Date(0), new Date(Date.UTC(999, 0, 1)), new Date(Date.UTC(-1, 0, 1)), new Date(8.64e15), new Date(Number.NaN),
      ...Array.from({ length: 1000 }, () => new Date(int(2 ** 31) * 1000 * (rnd() < 0.5 ? 1 : 2) + int(1000))),
      null, undefined, 0, 1_700_000_000_000, {}, true,
    ];
    for (const value of values) {
      expect(outcome(isoDateTime, value)).toEqual(outcome(oldIsoDateTime, value));
      expect(outcome((v) => DateTimeScalar.serialize(v), value)).toEqual(outcome(oldIsoDateTime, value));
    }
  });

  it('examples', () => {
    expect(isoDateTime('2026-11-27 14:30:00+00')).toBe('2026-11-27T14:30:00Z');
    expect(isoDateTime('2026-11-27 14:30:00.123456+00')).toBe('2026-11-27T14:30:00.123456Z');
    expect(isoDateTime('0999-01-01 00:00:00.5+00')).toBe('0999-01-01T00:00:00.5Z');
    expect(isoDateTime('2026-11-27 14:30:00+05')).toBe('2026-11-27T09:30:00Z');
    expect(isoDateTime(new Date(Date.UTC(2026, 10, 27, 14, 30)))).toBe('2026-11-27T14:30:00Z');
    expect(isoDateTime(new Date(Date.UTC(2026, 10, 27, 14, 30, 0, 500)))).toBe('2026-11-27T14:30:00.5Z');
    expect(isoDateTime(new Date(Date.UTC(2026, 10, 27, 14, 30, 0, 120)))).toBe('2026-11-27T14:30:00.12Z');
    expect(isoDateTime(new Date(Date.UTC(2026, 10, 27, 14, 30, 0, 7)))).toBe('2026-11-27T14:30:00.007Z');
    expect(isoDateTime(new Date(Date.UTC(2026, 10, 27, 14, 30, 10)))).toBe('2026-11-27T14:30:10Z');
    expect(isoDateTime(new Date(Date.UTC(20000, 0, 1)))).toBe('+020000-01-01T00:00:00Z');
    expect(() => isoDateTime('2026-11-27 14:30:00.+00')).toThrow('DateTime cannot serialize "2026-11-27 14:30:00.+00"');
  });
});
