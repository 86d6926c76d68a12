/** Bar widths: PostgreSQL interval text for date_bin and the width in milliseconds for window arithmetic. */
export type Timeframe = 'M1' | 'M5' | 'M15' | 'H1' | 'D1';

export const TIMEFRAMES: Record<Timeframe, { interval: string; ms: number }> = {
  M1: { interval: '1 minute', ms: 60_000 },
  M5: { interval: '5 minutes', ms: 300_000 },
  M15: { interval: '15 minutes', ms: 900_000 },
  H1: { interval: '1 hour', ms: 3_600_000 },
  D1: { interval: '1 day', ms: 86_400_000 },
};

/** Start of the bucket holding `ms`, buckets aligned to the Unix epoch (as date_bin(..., 'epoch') does). */
export function bucketStart(ms: number, timeframe: Timeframe): number {
  const width = TIMEFRAMES[timeframe].ms;
  return Math.floor(ms / width) * width;
}
