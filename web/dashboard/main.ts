/**
 * The live dashboard at GET /dashboard: a candlestick chart, the trade tape and an account's orders, positions and PnL,
 * over the gateway's own API (fetch for queries, graphql-ws for subscriptions) with the key the user entered.
 */
import './dashboard.css';
import { BarsLiveDocument, type BarsLiveSubscription } from '../generated/graphql';
import { authorization, queryOf } from './api';
import { AccountPanel } from './account';
import { ChartPanel } from './chart';
import { TIMEFRAMES, byId, decimal, el, status } from './format';
import { LiveConnection, type ConnectionState } from './live';
import { addressOf, loadSettings, saveSettings, type Settings } from './settings';
import { TapePanel } from './tape';

const settings = loadSettings(location.search);
const apiKey = () => settings.apiKey;

// The settings form.
const form = byId<HTMLFormElement>('settings');
const fields = {
  symbol: byId<HTMLInputElement>('symbol'),
  timeframe: byId<HTMLSelectElement>('timeframe'),
  tape: byId<HTMLSelectElement>('tape-scope'),
  account: byId<HTMLInputElement>('account'),
  apiKey: byId<HTMLInputElement>('api-key'),
};
fields.timeframe.replaceChildren(...TIMEFRAMES.map((t) => el('option', { value: t.value }, t.label)));
fields.symbol.value = settings.symbol;
fields.timeframe.value = settings.timeframe;
fields.tape.value = settings.tape;
fields.account.value = settings.accountId;
fields.apiKey.value = settings.apiKey;
form.addEventListener('submit', (event) => {
  event.preventDefault();
  const next: Settings = {
    symbol: fields.symbol.value.trim().toUpperCase() || settings.symbol,
    timeframe: fields.timeframe.value as Settings['timeframe'],
    tape: fields.tape.value === 'all' ? 'all' : 'symbol',
    accountId: fields.account.value.trim(),
    apiKey: fields.apiKey.value.trim(),
  };
  saveSettings(next);
  // A new view is a new page: every panel and subscription starts over with the new settings.
  location.search = addressOf(next);
});
saveSettings(settings);

// The panels.
const timeframeLabel = TIMEFRAMES.find((t) => t.value === settings.timeframe)?.label ?? settings.timeframe;
byId('chart-title').textContent = `${settings.symbol} · ${timeframeLabel}`;
byId('tape-title').textContent = settings.tape === 'all' ? 'Trades · all symbols' : `Trades · ${settings.symbol}`;
const lastPrice = byId('last-price');

let account: AccountPanel | undefined;
const chart = new ChartPanel(byId('chart'), byId('chart-status'), settings.symbol, settings.timeframe, apiKey, (close, timestamp) => {
  lastPrice.textContent = decimal(close, 4);
  lastPrice.title = `close of the bar of ${timestamp}`;
  account?.priceMoved();
});
const tape = new TapePanel(byId<HTMLTableSectionElement>('tape-rows'), byId('tape-status'), settings.tape === 'all' ? null : settings.symbol, apiKey);
if (settings.accountId) {
  account = new AccountPanel(
    {
      name: byId('account-name'),
      status: byId('account-status'),
      totals: { marketValue: byId('pnl-market-value'), unrealized: byId('pnl-unrealized'), realized: byId('pnl-realized') },
      positions: byId<HTMLTableSectionElement>('position-rows'),
      orders: byId<HTMLTableSectionElement>('order-rows'),
    },
    settings.accountId,
    apiKey,
  );
} else {
  status(byId('account-status'), 'Enter an account above to follow its orders, positions and PnL.');
}

// The connection and its visible state.
const badge = byId('connection');
const setState = (state: ConnectionState, detail: string) => {
  badge.dataset.state = state;
  badge.textContent = state === 'connected' ? 'live' : state;
  badge.title = detail;
  byId('connection-detail').textContent = state === 'connected' ? '' : detail;
};
const wsUrl = new URL('/graphql', location.href);
wsUrl.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
const live = new LiveConnection(wsUrl.href, () => authorization(settings.apiKey), setState, () => {
  void chart.catchUp();
  void tape.catchUp();
  void account?.catchUp();
});
// Live first, history after: whatever happens in between is in one or the other (rows are de-duplicated).
live.subscribe<BarsLiveSubscription>({
  request: () => ({ query: queryOf(BarsLiveDocument), variables: { symbols: [settings.symbol] } }),
  next: ({ marketDataUpdated }) => chart.onBar(marketDataUpdated),
  failed: (message) => status(byId('chart-status'), `live bars: ${message}`, 'error'),
});
live.subscribe(tape.live());
if (account) {
  live.subscribe(account.ordersLive());
  live.subscribe(account.positionsLive());
}
if (settings.apiKey) {
  live.start();
  void Promise.all([chart.load(), tape.load(), account?.load()]).then(() => {
    document.body.dataset.ready = 'true';
  });
} else {
  // Every request needs a key: ask for one rather than collect refusals.
  const ask = 'Enter an API key above (npm start prints demo keys; npx tradeql apikey create makes one).';
  setState('offline', 'no API key');
  status(byId('chart-status'), ask);
  status(byId('tape-status'), ask);
  status(byId('account-status'), ask);
  fields.apiKey.focus();
  document.body.dataset.ready = 'true';
}

// For trying out a drop and its resume from the console (and for the browser test): tradeqlDashboard.drop(3000).
(window as unknown as { tradeqlDashboard: unknown }).tradeqlDashboard = {
  drop: (holdMs?: number) => live.drop(holdMs),
  get bars() {
    return chart.count;
  },
  get lastBar() {
    return chart.last;
  },
  get tapeSequence() {
    return tape.sequence;
  },
};
