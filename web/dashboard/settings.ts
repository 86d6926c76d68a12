/**
 * What the dashboard shows: symbol, timeframe, the tape's scope, the account and the API key. Kept in the page's
 * localStorage; the address (?symbol=…&timeframe=…&account=…&tape=all) overrides all but the key, so a link can open a
 * given view. The key never goes into the address.
 */
import type { Timeframe } from '../generated/graphql';
import { isTimeframe } from './format';

export interface Settings {
  apiKey: string;
  accountId: string;
  symbol: string;
  timeframe: Timeframe;
  /** the tape: fills of the chart's symbol, or of every symbol */
  tape: 'symbol' | 'all';
}

const STORAGE_KEY = 'tradeql.dashboard';
// BTC-USD trades around the clock: the embedded demo's replay moves it whatever the time of day.
const DEFAULTS: Settings = { apiKey: '', accountId: 'DEMO-1', symbol: 'BTC-USD', timeframe: 'M1', tape: 'symbol' };
const SYMBOL = /^[A-Za-z0-9.\-/]{1,20}$/;

function stored(): Partial<Settings> {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '{}') as Partial<Settings>;
  } catch {
    return {};
  }
}

export function loadSettings(search: string): Settings {
  const saved = { ...DEFAULTS, ...stored() };
  const params = new URLSearchParams(search);
  const symbol = params.get('symbol')?.trim().toUpperCase();
  const timeframe = params.get('timeframe')?.toUpperCase();
  const account = params.get('account');
  const tape = params.get('tape');
  return {
    apiKey: typeof saved.apiKey === 'string' ? saved.apiKey : '',
    accountId: (account ?? saved.accountId ?? '').trim(),
    symbol: symbol && SYMBOL.test(symbol) ? symbol : SYMBOL.test(saved.symbol) ? saved.symbol.toUpperCase() : DEFAULTS.symbol,
    timeframe: isTimeframe(timeframe) ? timeframe : isTimeframe(saved.timeframe) ? saved.timeframe : DEFAULTS.timeframe,
    tape: tape === 'all' || tape === 'symbol' ? tape : saved.tape === 'all' ? 'all' : 'symbol',
  };
}

export function saveSettings(settings: Settings): void {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(settings));
}

/** The address of a view (without the key). */
export function addressOf(settings: Settings): string {
  const params = new URLSearchParams({ symbol: settings.symbol, timeframe: settings.timeframe, account: settings.accountId });
  if (settings.tape === 'all') params.set('tape', 'all');
  return `?${params}`;
}
