/**
 * A WebSocket authenticates once, in connection_init; its subscriptions then stream for as long as it stays open.
 * So that revoking a key also ends the live data it receives (an HTTP request stops being accepted within
 * API_KEY_CACHE_MS), the open sockets' keys are checked again on the primary every interval, all of them in one
 * statement, and the sockets of a key that is no longer valid are closed with 4403. No socket open, no statement.
 * A failed check (the primary unreachable) closes nothing: the next one decides.
 */
import type { Logger } from '../platform/logger';

/** What this needs of a ws socket. */
export interface WatchedSocket {
  close(code: number, reason: string): void;
  once(event: 'close', listener: () => void): unknown;
}

export const REVOKED_CLOSE_CODE = 4403;
export const REVOKED_CLOSE_REASON = 'Forbidden: the API key was revoked';

export class WsKeyWatch {
  private readonly keyOf = new Map<WatchedSocket, string>();
  private timer?: NodeJS.Timeout;
  private checking = false;

  constructor(
    /** the keys among these that are still valid */
    private readonly validKeyIds: (keyIds: string[]) => Promise<Set<string>>,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  /** Watches an authenticated socket until it closes. */
  add(socket: WatchedSocket, keyId: string): void {
    this.keyOf.set(socket, keyId);
    socket.once('close', () => {
      this.keyOf.delete(socket);
      if (this.keyOf.size === 0) this.stopTimer();
    });
    this.timer ??= setInterval(() => void this.check(), this.intervalMs).unref();
  }

  get size(): number {
    return this.keyOf.size;
  }

  /** One check of every open socket's key; returns how many sockets it closed. */
  async check(): Promise<number> {
    if (this.checking || this.keyOf.size === 0) return 0;
    this.checking = true;
    try {
      const valid = await this.validKeyIds([...new Set(this.keyOf.values())]);
      let closed = 0;
      for (const [socket, keyId] of this.keyOf) {
        if (valid.has(keyId)) continue;
        this.keyOf.delete(socket);
        socket.close(REVOKED_CLOSE_CODE, REVOKED_CLOSE_REASON);
        this.log.info({ keyId }, 'WebSocket closed: its API key was revoked');
        closed++;
      }
      if (this.keyOf.size === 0) this.stopTimer();
      return closed;
    } catch (error) {
      this.log.warn({ err: { message: (error as Error).message } }, 'could not check the API keys of open WebSockets; will try again');
      return 0;
    } finally {
      this.checking = false;
    }
  }

  stop(): void {
    this.stopTimer();
    this.keyOf.clear();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
