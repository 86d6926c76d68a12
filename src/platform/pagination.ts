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

/** A cursor is base64url of its key parts joined by '|' (parts never contain '|'). */
export function encodeCursor(parts: string[]): string {
  return Buffer.from(parts.join('|'), 'utf8').toString('base64url');
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
  const page = rows.length > size ? rows.slice(0, size) : rows;
  const edges = page.map((node) => ({ cursor: cursorOf(node), node }));
  return { edges, pageInfo: { hasNextPage: rows.length > size, endCursor: edges.length ? edges[edges.length - 1].cursor : null } };
}

export const isUuid = (s: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
export const isDigits = (s: string): boolean => /^-?\d{1,19}$/.test(s);
