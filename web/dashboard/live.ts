/**
 * One graphql-ws connection for the dashboard's subscriptions, with a visible state. After a drop it reconnects
 * (backing off up to 5 s) and subscribes again, asking each subscription for its variables anew: the tape and the
 * orders pass the last sequence they saw as `afterSequence`, so the gateway sends what was missed first, then live
 * events, with no gap and no duplicate.
 */
import { createClient, type Client } from 'graphql-ws';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'offline';

export interface LiveRequest {
  query: string;
  variables: Record<string, unknown>;
}

export interface LiveHandlers<T> {
  /** Called at each (re)subscription: the variables of the moment (e.g. afterSequence). */
  request(): LiveRequest;
  next(data: T): void;
  /** The gateway refused the subscription (bad variables, no access): it is not retried until restart. */
  failed(message: string): void;
}

interface Entry {
  handlers: LiveHandlers<any>;
  dispose?: () => void;
  refused: boolean;
}

/** Close codes after which retrying with the same key is pointless. */
const FATAL_CLOSE = new Map<number, string>([
  [4400, 'the gateway refused the connection'],
  [4401, 'an API key is needed: enter one above'],
  [4403, 'the API key was refused: check it above'],
]);

export class LiveConnection {
  private client?: Client;
  private readonly entries = new Set<Entry>();
  private attempt = 0;
  private timer?: ReturnType<typeof setTimeout>;
  private holdUntil = 0;
  private everConnected = false;

  constructor(
    private readonly url: string,
    private readonly authorization: () => string | undefined,
    private readonly onState: (state: ConnectionState, detail: string) => void,
    /** After a reconnect: what has no afterSequence (bars, positions) catches up here. */
    private readonly onResumed: () => void,
  ) {}

  start(): void {
    this.connect();
  }

  subscribe<T>(handlers: LiveHandlers<T>): () => void {
    const entry: Entry = { handlers, refused: false };
    this.entries.add(entry);
    this.attach(entry);
    return () => {
      this.entries.delete(entry);
      entry.dispose?.();
    };
  }

  /**
   * Drops the connection as a network failure would and keeps it down for `holdMs` before reconnecting: for trying
   * out the resume (and for the browser test).
   */
  drop(holdMs = 0): void {
    this.holdUntil = Date.now() + holdMs;
    this.client?.terminate();
  }

  private connect(): void {
    this.timer = undefined;
    this.onState(this.everConnected ? 'reconnecting' : 'connecting', this.everConnected ? 'reconnecting…' : 'connecting…');
    const auth = this.authorization();
    const client = createClient({
      url: this.url,
      lazy: false,
      // Reconnection is ours: the subscriptions must be sent again with new variables, not the first ones.
      retryAttempts: 0,
      keepAlive: 10_000,
      connectionParams: auth ? { authorization: auth } : {},
      // Failures show in the connection badge, not as console errors.
      onNonLazyError: () => undefined,
      on: {
        connected: () => {
          if (client !== this.client) return;
          const resumed = this.everConnected;
          this.everConnected = true;
          this.attempt = 0;
          this.onState('connected', 'live');
          if (resumed) this.onResumed();
        },
        closed: (event) => {
          if (client !== this.client) return;
          this.closed(event as { code?: number; reason?: string });
        },
      },
    });
    this.client = client;
    for (const entry of this.entries) this.attach(entry);
  }

  private attach(entry: Entry): void {
    if (!this.client || entry.refused) return;
    const { query, variables } = entry.handlers.request();
    entry.dispose = this.client.subscribe(
      { query, variables },
      {
        next: (result) => {
          if (result.errors?.length) {
            entry.refused = true;
            entry.handlers.failed(result.errors.map((e) => e.message).join('; '));
          } else if (result.data) {
            entry.handlers.next(result.data);
          }
        },
        error: (error) => {
          // An array of GraphQL errors: the operation was refused. Anything else is the connection: see closed().
          if (Array.isArray(error)) {
            entry.refused = true;
            entry.handlers.failed(error.map((e: { message?: string }) => e.message ?? String(e)).join('; '));
          }
        },
        complete: () => undefined,
      },
    );
  }

  private closed(event: { code?: number; reason?: string }): void {
    const client = this.client;
    this.client = undefined;
    for (const entry of this.entries) entry.dispose = undefined;
    void client?.dispose();
    const fatal = event.code !== undefined ? FATAL_CLOSE.get(event.code) : undefined;
    if (fatal) {
      this.onState('offline', `${fatal}${event.reason ? `: ${event.reason}` : ''}`);
      return;
    }
    const backoff = Math.min(5000, 250 * 2 ** this.attempt);
    this.attempt += 1;
    const delay = Math.max(backoff, this.holdUntil - Date.now());
    this.onState(this.everConnected ? 'reconnecting' : 'connecting', `connection lost${event.code ? ` (${event.code})` : ''}; retrying in ${Math.ceil(delay / 100) / 10} s`);
    this.timer = setTimeout(() => this.connect(), delay);
  }
}
