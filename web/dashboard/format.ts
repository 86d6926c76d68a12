/** Small display helpers. Decimals stay the strings the gateway sent: nothing is rounded through a float for display. */
import type { Timeframe } from '../generated/graphql';

export const TIMEFRAMES: { value: Timeframe; label: string; seconds: number }[] = [
  { value: 'M1', label: '1 min', seconds: 60 },
  { value: 'M5', label: '5 min', seconds: 300 },
  { value: 'M15', label: '15 min', seconds: 900 },
  { value: 'H1', label: '1 hour', seconds: 3600 },
  { value: 'D1', label: '1 day', seconds: 86_400 },
];

export function timeframeSeconds(timeframe: Timeframe): number {
  return TIMEFRAMES.find((t) => t.value === timeframe)?.seconds ?? 60;
}

export function isTimeframe(value: string | null | undefined): value is Timeframe {
  return TIMEFRAMES.some((t) => t.value === value);
}

/** HH:MM:SS in UTC, as the gateway's times are; with the month and day when it is not today (UTC). */
export function shortTime(iso: string, now = new Date()): string {
  const time = iso.slice(11, 19);
  return iso.slice(0, 10) === now.toISOString().slice(0, 10) ? time : `${iso.slice(5, 10)} ${time}`;
}

/** A decimal string for display: at most `places` decimals, cut (not rounded) and without trailing zeros. */
export function decimal(value: string | null | undefined, places = 4): string {
  if (value === null || value === undefined) return '–';
  const [whole, fraction = ''] = value.split('.');
  const cut = fraction.slice(0, places).replace(/0+$/, '');
  return cut ? `${whole}.${cut}` : whole;
}

/** -1, 0 or 1 for a decimal string. */
export function sign(value: string | null | undefined): number {
  if (!value || /^-?0*(\.0*)?$/.test(value)) return 0;
  return value.startsWith('-') ? -1 : 1;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'class') node.className = value;
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from the page`);
  return node as T;
}

/** A panel's status line: empty when all is well. */
export function status(node: HTMLElement, message: string, kind: 'info' | 'error' = 'info'): void {
  node.textContent = message;
  node.dataset.kind = kind;
  node.hidden = !message;
}
