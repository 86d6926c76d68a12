/**
 * Authenticated keys, remembered for a short while: without it every request costs a lookup on the primary (half
 * the statements of a market-data read). Only successes are kept, so a new key works at once; a revoked key stops
 * working within `ttlMs` on every gateway (0 turns the cache off: every request is checked).
 */
import { createHash } from 'node:crypto';
import type { Principal } from '../modules/accounts/api-keys';

export class PrincipalCache {
  private readonly entries = new Map<string, { principal: Principal; until: number }>();

  constructor(private readonly ttlMs: number, private readonly maxEntries = 10_000) {}

  /** The principal of an Authorization header, from the cache or from `authenticate` (whose errors pass through). */
  async get(authorization: string, authenticate: () => Promise<Principal>): Promise<Principal> {
    if (this.ttlMs <= 0) return authenticate();
    // Keyed by a hash, so the map holds no usable key.
    const id = createHash('sha256').update(authorization).digest('base64');
    const now = Date.now();
    const hit = this.entries.get(id);
    if (hit && hit.until > now) return hit.principal;
    const principal = await authenticate();
    this.entries.delete(id);
    this.entries.set(id, { principal, until: now + this.ttlMs });
    // Bounded: the oldest entries go first (a Map iterates in insertion order).
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    return principal;
  }
}
