/**
 * Authenticated keys, remembered for a short while: without it every request costs a lookup on the primary (half
 * the statements of a market-data read). Only successes are kept, so a new key works at once; a revoked key stops
 * working within `ttlMs` on every gateway (0 turns the cache off: every request is checked).
 *
 * Requests with the same key that miss together share one lookup: when an entry expired under 64 concurrent
 * requests, each of them used to send its own lookup to the primary.
 */
import { createHash } from 'node:crypto';
import type { Principal } from '../modules/accounts/api-keys';

type Entry = { principal: Principal; until: number } | { pending: Promise<Principal> };

export class PrincipalCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly ttlMs: number, private readonly maxEntries = 10_000) {}

  /** The principal of an Authorization header, from the cache or from `authenticate` (whose errors pass through). */
  async get(authorization: string, authenticate: () => Promise<Principal>): Promise<Principal> {
    if (this.ttlMs <= 0) return authenticate();
    // Keyed by a hash, so the map holds no usable key.
    const id = createHash('sha256').update(authorization).digest('base64');
    const hit = this.entries.get(id);
    if (hit && 'pending' in hit) return hit.pending;
    if (hit && hit.until > Date.now()) return hit.principal;
    const pending = authenticate();
    this.remember(id, { pending });
    try {
      const principal = await pending;
      // Counted from the answer: a slow lookup does not shorten how long it is kept.
      this.remember(id, { principal, until: Date.now() + this.ttlMs });
      return principal;
    } catch (error) {
      // Failures are not kept: the next request asks again.
      this.entries.delete(id);
      throw error;
    }
  }

  private remember(id: string, entry: Entry): void {
    this.entries.delete(id);
    this.entries.set(id, entry);
    // Bounded: the oldest entries go first (a Map iterates in insertion order).
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }
}
