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

/**
 * The primary's WAL position after a commit, read once for every response waiting when the read is sent: each of
 * them committed before it, so the position is at or past each commit record. Under load this is one statement for
 * many mutations instead of one each.
 */
export class CommitPositions {
  private waiting: { resolve(lsn: string): void; reject(error: unknown): void }[] | null = null;

  constructor(private readonly db: Pick<Database, 'read'>) {}

  /** Call after the commit. */
  read(): Promise<string> {
    return new Promise((resolve, reject) => {
      if (this.waiting) {
        this.waiting.push({ resolve, reject });
        return;
      }
      const batch = (this.waiting = [{ resolve, reject }]);
      setImmediate(() => {
        // Callers from now on may have committed after the read is sent: they start the next batch.
        this.waiting = null;
        this.db.read<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn', [], 'primary').then(
          ([row]) => batch.forEach((w) => w.resolve(row.lsn)),
          (error) => batch.forEach((w) => w.reject(error)),
        );
      });
    });
  }
}

export function consistencyTokenPlugin(db: Database, memory?: ConsistencyMemory): ApolloServerPlugin<RequestContext> {
  const positions = new CommitPositions(db);
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response, contextValue }) {
          if (!contextValue.scope.reads.written) return;
          const lsn = await positions.read();
          response.http.headers.set(CONSISTENCY_HEADER, lsn);
          if (contextValue.principal) memory?.remember(contextValue.principal.keyId, lsn);
          if (response.body.kind === 'single') {
            response.body.singleResult.extensions = { ...(response.body.singleResult.extensions ?? {}), consistencyToken: lsn };
          }
        },
      };
    },
  };
}
