/**
 * API keys (pure): the key format, its hash, the Authorization header, and what each role may do.
 *
 * A key is `tq_` followed by 40 base62 characters (about 238 bits) drawn from crypto.randomBytes by rejection
 * sampling, so every character is equally likely. Only the hex SHA-256 of the whole key is stored: a key this random
 * needs no salt or slow hash, since nobody can guess it and a stolen table gives nothing to replay.
 */
import { createHash, randomBytes } from 'node:crypto';

export const KEY_PREFIX = 'tq_';
export const KEY_RANDOM_LENGTH = 40;
/** Characters after `tq_` kept for listings: enough to tell keys apart, far from enough to use one. */
export const KEY_DISPLAY_LENGTH = 8;
export const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** What a presented key must look like before it is hashed and looked up (32+ allows longer keys later). */
export const KEY_PATTERN = /^tq_[0-9A-Za-z]{32,}$/;

export const ROLES = ['viewer', 'trader', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** Who is calling: the key that authenticated, its role, and the accounts it was given. */
export interface Principal {
  keyId: string;
  name: string;
  role: Role;
  accountIds: ReadonlySet<string>;
}

/**
 * `length` characters of base62. A byte is kept only below 248 (= 4 × 62), so `byte % 62` takes each of the 62 values
 * from exactly four bytes; the 8 bytes above are thrown away and more are drawn (no modulo bias).
 */
export function randomBase62(length: number, random: (size: number) => Buffer = randomBytes): string {
  let out = '';
  while (out.length < length) {
    for (const byte of random(Math.max(16, Math.ceil((length - out.length) * 1.1)))) {
      if (byte >= 248) continue;
      out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** A new key: `tq_` + 40 random base62 characters. */
export function generateKey(): string {
  return KEY_PREFIX + randomBase62(KEY_RANDOM_LENGTH);
}

/** The stored form of a key: the hex SHA-256 of the whole key (prefix included). */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The first characters after `tq_`, for listings and logs. */
export function displayPrefix(key: string): string {
  return key.slice(KEY_PREFIX.length, KEY_PREFIX.length + KEY_DISPLAY_LENGTH);
}

/**
 * The key of an `Authorization: Bearer <key>` header (scheme case-insensitive, surrounding blanks ignored), or null
 * when the header is absent, uses another scheme, or carries something that is not a key.
 */
export function parseBearer(header: string | null | undefined): string | null {
  if (typeof header !== 'string') return null;
  const match = /^bearer[ \t]+(\S+)$/i.exec(header.trim());
  if (!match) return null;
  return KEY_PATTERN.test(match[1]) ? match[1] : null;
}

// --- role rules: viewer reads its accounts; trader also trades them; admin reads and trades every account and may
// run ingestion, fills and operations ---

export function isAdmin(principal: Principal): boolean {
  return principal.role === 'admin';
}

export function canRead(principal: Principal, accountId: string): boolean {
  return isAdmin(principal) || principal.accountIds.has(accountId);
}

/** Submit, amend and cancel orders for the account. */
export function canTrade(principal: Principal, accountId: string): boolean {
  if (isAdmin(principal)) return true;
  return principal.role === 'trader' && principal.accountIds.has(accountId);
}
