/** Relay connections over keyset pagination: opaque cursors, page sizes, and `first + 1` rows to know if more follow. */
import { ValidationError } from './errors';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

export function pageSize(first: number | null | undefined): number {
  if (first === null || first === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw ValidationError.field('first', `must be between 1 and ${MAX_PAGE_SIZE}`);
  }
  return first;
}

/** Where cursors are assembled: written, encoded and done with before encodeCursor returns. */
const scratch = Buffer.allocUnsafe(1024);

/**
 * A cursor is base64url of its key parts' UTF-8 joined by '|' (parts never contain '|'). Runs once per edge of every
 * page: the parts are written into one reused buffer, so a cursor costs its own string and nothing else.
 */
export function encodeCursor(parts: readonly string[]): string {
  let n = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    // at most 3 bytes of UTF-8 per UTF-16 unit; anything else (or too long) as join and Buffer.from would take it
    if (typeof part !== 'string' || n + 1 + part.length * 3 > scratch.length) return Buffer.from(parts.join('|'), 'utf8').toString('base64url');
    if (i > 0) scratch[n++] = 124; // '|'
    n += scratch.write(part, n, 'utf8');
  }
  return scratch.toString('base64url', 0, n);
}

/** encodeCursor([String(n)]) for a numeric key (a bar's time), without the array and the string: once per bar of a page. */
export function encodeNumberCursor(n: number): string {
  if (!Number.isSafeInteger(n)) return encodeCursor([String(n)]);
  let at = 0;
  if (n < 0) scratch[at++] = 45; // '-'
  let digits = 1;
  for (let rest = Math.abs(n); rest >= 10; rest = Math.floor(rest / 10)) digits++;
  for (let i = at + digits - 1, rest = Math.abs(n); i >= at; i--, rest = Math.floor(rest / 10)) scratch[i] = 48 + (rest % 10);
  return scratch.toString('base64url', 0, at + digits);
}

export function decodeCursor(after: string | null | undefined, arity: number, check: (parts: string[]) => boolean): string[] | null {
  if (after === null || after === undefined) return null;
  const parts = Buffer.from(after, 'base64url').toString('utf8').split('|');
  if (parts.length !== arity || !check(parts)) throw ValidationError.field('after', 'is not a cursor of this list');
  return parts;
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** Builds a connection from up to `size + 1` rows fetched in page order. */
export function toConnection<T>(rows: T[], size: number, cursorOf: (row: T) => string): Connection<T> {
  const count = Math.min(rows.length, size);
  const edges: Connection<T>['edges'] = new Array(count);
  for (let i = 0; i < count; i++) edges[i] = { cursor: cursorOf(rows[i]), node: rows[i] };
  return { edges, pageInfo: { hasNextPage: rows.length > size, endCursor: edges.length ? edges[edges.length - 1].cursor : null } };
}

const isHex = (c: number): boolean => (c >= 48 && c <= 57) || ((c | 32) >= 97 && (c | 32) <= 102);

/** /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, by position: runs once per id of every batch. */
export const isUuid = (s: string): boolean => {
  if (s.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = s.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23 ? c !== 45 /* - */ : !isHex(c)) return false;
  }
  return true;
};
export const isDigits = (s: string): boolean => /^-?\d{1,19}$/.test(s);
