/** The trading session's close (pure): when DAY orders expire. One close a day, at HH:MM UTC, every day. */

const MINUTE = 60_000;
const DAY = 86_400_000;

/** "21:00" -> minutes after midnight UTC; throws on anything else. */
export function parseSessionClose(text: string): number {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  if (!m) throw new Error(`session close must be HH:MM (UTC), not "${text}"`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** The latest session close at or before `now`. */
export function lastCloseAtOrBefore(now: Date, closeMinutes: number): Date {
  const midnight = Math.floor(now.getTime() / DAY) * DAY;
  const today = midnight + closeMinutes * MINUTE;
  return new Date(today <= now.getTime() ? today : today - DAY);
}

/** The first session close after `now`. */
export function nextCloseAfter(now: Date, closeMinutes: number): Date {
  return new Date(lastCloseAtOrBefore(now, closeMinutes).getTime() + DAY);
}
