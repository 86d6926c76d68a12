/** Timestamps as ISO 8601 UTC with Z, from a Date or PostgreSQL's timestamptz text in a UTC session. */

/** PostgreSQL's UTC text up to the seconds, "d" a digit: "2026-11-27 14:30:00", then ".123456" or nothing, then "+00". */
const PG_UTC_LAYOUT = 'dddd-dd-dd dd:dd:dd';

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** Whether `s` is PostgreSQL's timestamptz text in a UTC session, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?\+00$/. */
function isPgUtcText(s: string): boolean {
  const n = s.length;
  if (n < 22 || s.charCodeAt(n - 3) !== 43 /* + */ || s.charCodeAt(n - 2) !== 48 || s.charCodeAt(n - 1) !== 48) return false;
  for (let i = 0; i < 19; i++) {
    const want = PG_UTC_LAYOUT.charCodeAt(i);
    if (want === 100 /* d */ ? !isDigit(s.charCodeAt(i)) : s.charCodeAt(i) !== want) return false;
  }
  if (n === 22) return true;
  // a fraction: the point and at least one digit
  if (n < 24 || s.charCodeAt(19) !== 46 /* . */) return false;
  for (let i = 20; i < n - 3; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}

/** Where PostgreSQL's text is rewritten: written, changed and read back before toIsoUtc returns. */
const scratch = Buffer.allocUnsafe(64);

/**
 * A Date as ISO 8601 UTC, its fraction written as PostgreSQL writes one: without trailing zeros, and none for a whole
 * second ("…:00Z", not toISOString's "…:00.000Z"). So a time reads the same whether it came from a row's text (a query)
 * or from a Date (a mutation's input echoed back, an event built in the process).
 */
function dateIso(date: Date): string {
  const iso = date.toISOString();
  // toISOString always ends in three digits of milliseconds and Z
  let end = iso.length - 1;
  while (iso.charCodeAt(end - 1) === 48 /* 0 */) end--;
  if (iso.charCodeAt(end - 1) === 46 /* . */) end--;
  return end === iso.length - 1 ? iso : `${iso.slice(0, end)}Z`;
}

/**
 * Returns null when the value is not a time. Microseconds in PostgreSQL text are kept; any other time is read as a
 * Date (milliseconds) and written as dateIso writes it. This runs once per timestamp
 * of every response: PostgreSQL's text (ASCII, checked by position) is rewritten in a reused buffer, ' ' to 'T' and
 * '+00' to 'Z', and read back as one flat string: no regular expression, no intermediate strings.
 */
export function toIsoUtc(value: unknown): string | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : dateIso(value);
  if (typeof value === 'string') {
    if (isPgUtcText(value)) {
      if (value.length > scratch.length) return `${value.slice(0, 10)}T${value.slice(11, value.length - 3)}Z`;
      scratch.write(value, 0, 'latin1');
      scratch[10] = 84; // T
      scratch[value.length - 3] = 90; // Z
      return scratch.toString('latin1', 0, value.length - 2);
    }
    const d = new Date(value);
    if (!Number.isNaN(d.getTime())) return dateIso(d);
  }
  return null;
}

const digitsAt = (s: string, from: number, to: number): number => {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + (s.charCodeAt(i) - 48);
  return n;
};

/**
 * Milliseconds since the epoch of a Date or PostgreSQL's timestamptz text in a UTC session. The text's fixed layout
 * ("2026-11-27 14:30:00+00", fractions optional) is read by position: this runs once per bar of every page, and
 * rewriting the text for Date.parse cost more than the rest of building the page's cursors. NaN when not a time.
 */
export function utcMillis(value: string | Date): number {
  if (value instanceof Date) return value.getTime();
  if (value.length >= 22 && value.charCodeAt(10) === 32 && value.endsWith('+00') && (value.length === 22 || value.charCodeAt(19) === 46)) {
    const year = digitsAt(value, 0, 4);
    // the fraction's first three digits, padded with zeros
    let ms = 0;
    for (let i = 20; i < 23; i++) ms = ms * 10 + (i < value.length - 3 ? value.charCodeAt(i) - 48 : 0);
    // Date.UTC reads years 0-99 as 1900-1999
    if (year >= 100) return Date.UTC(year, digitsAt(value, 5, 7) - 1, digitsAt(value, 8, 10), digitsAt(value, 11, 13), digitsAt(value, 14, 16), digitsAt(value, 17, 19), ms);
  }
  const iso = toIsoUtc(value);
  return iso === null ? Number.NaN : Date.parse(iso);
}
