/** What the bench process and its subscriber workers (worker.ts) share: the clock, the query, the messages. */
import { performance } from 'node:perf_hooks';

/** Milliseconds since the epoch, sub-millisecond resolution; comparable across the bench's processes. */
export const clock = () => performance.timeOrigin + performance.now();

export const SYMBOL = 'BENCH';
/**
 * The fills' orders are spread over this many accounts, each holding its own position: fills of one position queue on
 * its row lock, and at 20 fills per second on a machine the subscribers keep busy, that queue outgrew the statement
 * timeout. A hot position under load is the suite's write-hot scenario; this bench measures the delivery.
 */
export const ACCOUNTS = 8;
export const SUBSCRIPTION = `subscription { tradeExecuted(symbol: "${SYMBOL}") { eventId sequence trade { tradeId price executedAt } } }`;

export type ToWorker =
  | { type: 'start'; gateway: string; wsUrl: string; count: number; firstIndex: number; connectBatch: number; ackTimeoutMs: number }
  | { type: 'count'; id: number; tradeIds: string[] }
  | { type: 'measure' }
  | { type: 'collect'; tradeIds: string[] }
  | { type: 'close' };

export interface Collected {
  type: 'collected';
  /** subscriber-major: arrivals[s * tradeIds.length + t] = clock() at arrival, NaN if it never came */
  arrivals: Float64Array;
  subscribers: number;
  duplicates: number;
  outOfOrder: number;
  errorCount: number;
  errors: string[];
  /** from `measure` to `collect` */
  cpuPercent: number;
  eventLoopUtilization: number;
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
}

export type FromWorker =
  | { type: 'connected'; connected: number }
  | { type: 'ready'; connectMs: number }
  | { type: 'failed'; message: string }
  | { type: 'count'; id: number; have: number[] }
  | Collected;
