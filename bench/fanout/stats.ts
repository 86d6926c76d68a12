/** Latency statistics: nearest-rank percentiles over the deliveries of one population. */
import type { Collected } from './shared';
import type { Fill } from './fills';

export const round = (x: number, digits = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : null);

/** Nearest-rank percentile of a sorted array. */
function percentile(sorted: Float64Array, p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

export interface Dist {
  p50: number | null;
  p99: number | null;
  max: number | null;
  min: number | null;
}

export interface LatencyStats {
  expected: number;
  received: number;
  lost: number;
  duplicates: number;
  /** arrival - insert of the event's outbox row (just before COMMIT, database clock): slightly above commit -> arrival */
  fromCommitMs: Dist;
  /** arrival - arrival of the executeTrade response at the bench: below commit -> arrival */
  fromResponseMs: Dist;
  /** arrival - the executeTrade request was sent: includes the wait for the position's row lock */
  fromSendMs: Dist;
}

export function dist(values: number[]): Dist {
  const a = Float64Array.from(values).sort();
  return { p50: round(percentile(a, 0.5), 3), p99: round(percentile(a, 0.99), 3), max: round(a[a.length - 1], 3), min: round(a[0], 3) };
}

/** Latency samples of one population against the three reference times of each fill. */
export class Samples {
  readonly commit: number[] = [];
  readonly response: number[] = [];
  readonly send: number[] = [];

  add(at: number, fill: Fill): void {
    this.commit.push(at - fill.commitAt!);
    this.response.push(at - fill.respAt!);
    this.send.push(at - fill.sentAt!);
  }

  stats(expected: number, duplicates: number): LatencyStats {
    return {
      expected, received: this.commit.length, lost: expected - this.commit.length, duplicates,
      fromCommitMs: dist(this.commit), fromResponseMs: dist(this.response), fromSendMs: dist(this.send),
    };
  }
}

/** One worker's arrivals (a subscriber-major matrix over the `ok` fills) into `into` and per-fill first/last. */
export function addWorker(ok: Fill[], c: Collected, into: Samples[]): { perFillFirst: Float64Array; perFillLast: Float64Array } {
  const perFillLast = new Float64Array(ok.length).fill(-Infinity);
  const perFillFirst = new Float64Array(ok.length).fill(Infinity);
  for (let s = 0; s < c.subscribers; s++) {
    for (let t = 0; t < ok.length; t++) {
      const at = c.arrivals[s * ok.length + t];
      if (Number.isNaN(at)) {
        perFillLast[t] = NaN; // not everyone had it
        continue;
      }
      for (const samples of into) samples.add(at, ok[t]);
      if (at > perFillLast[t]) perFillLast[t] = at;
      if (at < perFillFirst[t]) perFillFirst[t] = at;
    }
  }
  return { perFillFirst, perFillLast };
}
