/**
 * Rate limits per API key, with separate budgets for reads (queries and new subscriptions) and mutations:
 * rate-limiter-flexible on Redis, so every gateway of a deployment shares one budget per key, with an in-memory
 * limiter as insurance while Redis is unreachable (and alone for the embedded default, which has no Redis).
 * A refused operation gets RATE_LIMITED with `retryAfterMs` (and, over HTTP, 429 with Retry-After); nothing runs.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RequestContext } from '../modules';
import type { GatewayMetrics } from '../platform/metrics';

export interface RateLimits {
  /** queries and subscriptions per key per second; 0: no limit */
  readsPerSecond: number;
  /** mutations per key per second; 0: no limit */
  mutationsPerSecond: number;
}

export type Budget = 'read' | 'mutation';

export class RateLimiter {
  private readonly limiters: Partial<Record<Budget, RateLimiterAbstract>> = {};

  constructor(limits: RateLimits, redis?: Redis, keyPrefix = 'tradeql:ratelimit', private readonly metrics?: GatewayMetrics) {
    const make = (budget: Budget, points: number) => {
      if (points <= 0) return undefined;
      const memory = new RateLimiterMemory({ points, duration: 1, keyPrefix: `${keyPrefix}:${budget}` });
      return redis ? new RateLimiterRedis({ storeClient: redis, points, duration: 1, keyPrefix: `${keyPrefix}:${budget}`, insuranceLimiter: memory }) : memory;
    };
    this.limiters.read = make('read', limits.readsPerSecond);
    this.limiters.mutation = make('mutation', limits.mutationsPerSecond);
  }

  /** Takes one unit of the key's budget; throws RATE_LIMITED when it is spent. */
  async consume(keyId: string, budget: Budget): Promise<void> {
    const limiter = this.limiters[budget];
    if (!limiter) return;
    try {
      await limiter.consume(keyId);
    } catch (result) {
      if (!(result instanceof RateLimiterRes)) throw result;
      this.metrics?.rateLimited(budget);
      throw rateLimited(budget, result.msBeforeNext);
    }
  }
}

export function rateLimited(budget: Budget, retryAfterMs: number): GraphQLError {
  const ms = Math.max(1, Math.ceil(retryAfterMs));
  return new GraphQLError(`rate limit of ${budget === 'read' ? 'reads' : 'mutations'} for this key reached; retry in ${ms} ms`, {
    extensions: {
      code: 'RATE_LIMITED',
      retryAfterMs: ms,
      http: { status: 429, headers: new Map([['retry-after', String(Math.ceil(ms / 1000))]]) },
    },
  });
}

/** Over HTTP: once the operation is known (so its type decides the budget), before anything executes. */
export function rateLimitPlugin(limiter: RateLimiter): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, contextValue }) {
          const keyId = contextValue.principal?.keyId;
          if (!keyId) return;
          await limiter.consume(keyId, operation?.operation === 'mutation' ? 'mutation' : 'read');
        },
      };
    },
  };
}
