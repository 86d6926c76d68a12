/**
 * Read-your-writes across requests. A response to a request that wrote carries the primary's WAL position after the
 * commit (`extensions.consistencyToken` and the `X-Consistency-Token` header); a client that sends it back in
 * `X-Consistency-Token` never reads older data: its reads wait briefly for the replica to reach the token, or go to
 * the primary (src/platform/read-session.ts).
 */
import type { ApolloServerPlugin } from '@apollo/server';
import type { Database } from '../platform/database';
import { LSN_PATTERN, type ConsistencyOptions } from '../platform/read-session';
import type { RequestContext } from '../modules';

export const CONSISTENCY_HEADER = 'x-consistency-token';

/** The token a request brought, if well-formed (a malformed one is ignored: the read simply may be older). */
export function consistencyFrom(header: string | string[] | undefined, waitMs: number): ConsistencyOptions {
  return typeof header === 'string' && LSN_PATTERN.test(header) ? { minLsn: header, waitMs } : {};
}

/** The last consistency token of each API key, for `windowMs`; a bounded map, oldest entries dropped first. */
export class ConsistencyMemory {
  private readonly byKey = new Map<string, { lsn: string; until: number }>();

  constructor(private readonly windowMs: number, private readonly maxKeys = 10_000) {}

  remember(keyId: string, lsn: string): void {
    this.byKey.delete(keyId);
    this.byKey.set(keyId, { lsn, until: Date.now() + this.windowMs });
    if (this.byKey.size > this.maxKeys) this.byKey.delete(this.byKey.keys().next().value!);
  }

  recall(keyId: string): string | undefined {
    const entry = this.byKey.get(keyId);
    if (!entry) return undefined;
    if (entry.until > Date.now()) return entry.lsn;
    this.byKey.delete(keyId);
    return undefined;
  }
}

export function consistencyTokenPlugin(db: Database, memory?: ConsistencyMemory): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response, contextValue }) {
          if (!contextValue.scope.reads.written) return;
          // Read after the commit, so the position is at or past the commit record.
          const [row] = await db.read<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn', [], 'primary');
          response.http.headers.set(CONSISTENCY_HEADER, row.lsn);
          if (contextValue.principal) memory?.remember(contextValue.principal.keyId, row.lsn);
          if (response.body.kind === 'single') {
            response.body.singleResult.extensions = { ...(response.body.singleResult.extensions ?? {}), consistencyToken: row.lsn };
          }
        },
      };
    },
  };
}
