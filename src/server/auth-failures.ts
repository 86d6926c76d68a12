/**
 * Failed authentications per client address: an unknown or revoked key costs a lookup on the primary, so a client
 * that keeps sending bad keys (guessing, or a bot left with a revoked one) is refused for the rest of the minute once
 * it has failed `perMinute` times, before any lookup. Only lookups are guarded: a key the gateway already remembers
 * (principal-cache.ts) is answered without one and never reaches this. rate-limiter-flexible on Redis, so every
 * gateway of a deployment counts the same failures, with an in-memory limiter as insurance while Redis is unreachable
 * (and alone for the embedded default).
 *
 * A refused attempt gets RATE_LIMITED with `retryAfterMs` (over HTTP 429 with Retry-After; a WebSocket closes with
 * 4429). The address is the socket's peer, or the client a trusted proxy names (client-address.ts).
 */
import { GraphQLError } from 'graphql';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';

const WINDOW_S = 60;

export class AuthFailureLimiter {
  private readonly limiter?: RateLimiterAbstract;

  /** `perMinute` 0: no limit. */
  constructor(private readonly perMinute: number, redis?: Redis, keyPrefix = 'tradeql:authfail', private readonly onRefused?: () => void) {
    if (perMinute <= 0) return;
    const memory = new RateLimiterMemory({ points: perMinute, duration: WINDOW_S, keyPrefix });
    this.limiter = redis ? new RateLimiterRedis({ storeClient: redis, points: perMinute, duration: WINDOW_S, keyPrefix, insuranceLimiter: memory }) : memory;
  }

  /** Throws RATE_LIMITED when `address` has used up its failures for the window. */
  async assertAllowed(address: string): Promise<void> {
    if (!this.limiter) return;
    const state = await this.limiter.get(address);
    if (state && state.consumedPoints >= this.perMinute) {
      this.onRefused?.();
      throw authRateLimited(state.msBeforeNext);
    }
  }

  /** Counts one failed authentication of `address`. */
  async recordFailure(address: string): Promise<void> {
    if (!this.limiter) return;
    await this.limiter.penalty(address, 1);
  }
}

export function authRateLimited(retryAfterMs: number): GraphQLError {
  const ms = Math.max(1, Math.ceil(retryAfterMs));
  return new GraphQLError(`too many failed authentications from this address; retry in ${ms} ms`, {
    extensions: {
      code: 'RATE_LIMITED',
      retryAfterMs: ms,
      http: { status: 429, headers: new Map([['retry-after', String(Math.ceil(ms / 1000))]]) },
    },
  });
}

export const isAuthRateLimited = (error: unknown): error is GraphQLError =>
  error instanceof GraphQLError && error.extensions.code === 'RATE_LIMITED';
