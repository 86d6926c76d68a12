/** Timestamps as ISO 8601 UTC with Z, from a Date or PostgreSQL's timestamptz text in a UTC session. */
const PG_UTC = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(\.\d+)?)\+00$/;

/** Returns null when the value is not a time. Microseconds in PostgreSQL text are kept. */
export function toIsoUtc(value: unknown): string | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (typeof value === 'string') {
    const m = PG_UTC.exec(value);
    if (m) return `${m[1]}T${m[2]}Z`;
    const d = new Date(value);
    if (!Number.isNaN(d.getTime())) return d.toISOString();
  }
  return null;
}
