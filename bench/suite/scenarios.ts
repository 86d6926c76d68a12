/**
 * The scenarios: what each system under test is asked, request by request. Imported by the load worker (which builds
 * the autocannon requests from a RunSpec) and by the orchestrator (which plans the runs and checks the answers).
 */
import type { Request as CannonRequest } from 'autocannon';
import { GATEWAY, PEER } from './queries';

export type SystemName = 'gateway' | 'limit' | 'peer' | 'raw' | 'fn' | 'copy';
export type ScenarioKind = 'read' | 'write' | 'ingest';
export type ScenarioName = 'md-m1' | 'md-h1' | 'orders' | 'portfolio' | 'write-distinct' | 'write-hot' | 'ingest-1k' | 'ingest-10k';

export interface ScenarioDef {
  name: ScenarioName;
  kind: ScenarioKind;
  /** the numbering */
  number: 1 | 2 | 3 | 4 | 5;
  title: string;
  /** the gateway first; the others are its baselines */
  systems: SystemName[];
  concurrency: { full: number[]; quick: number[] };
}

export const SCENARIOS: ScenarioDef[] = [
  { name: 'md-m1', kind: 'read', number: 1, title: 'marketData M1, one equity day (390 bars)', systems: ['gateway', 'limit', 'peer'], concurrency: { full: [1, 16, 64], quick: [16] } },
  { name: 'md-h1', kind: 'read', number: 1, title: 'marketData H1, one crypto day (24 bars from 1440)', systems: ['gateway', 'limit', 'peer'], concurrency: { full: [1, 16, 64], quick: [16] } },
  { name: 'orders', kind: 'read', number: 2, title: 'orders(first: 100) with trades and account', systems: ['gateway', 'limit', 'peer'], concurrency: { full: [1, 16, 64], quick: [16] } },
  { name: 'portfolio', kind: 'read', number: 3, title: 'portfolioSummary of an account (10 positions)', systems: ['gateway', 'limit', 'peer'], concurrency: { full: [1, 16, 64], quick: [16] } },
  { name: 'write-distinct', kind: 'write', number: 4, title: 'submitOrder + executeTrade, 256 accounts', systems: ['gateway', 'raw', 'fn'], concurrency: { full: [16, 64], quick: [16] } },
  { name: 'write-hot', kind: 'write', number: 4, title: 'submitOrder + executeTrade, one hot account', systems: ['gateway', 'raw', 'fn'], concurrency: { full: [16, 64], quick: [16] } },
  { name: 'ingest-1k', kind: 'ingest', number: 5, title: 'ingestMarketData, 1,000 bars a call', systems: ['gateway', 'copy'], concurrency: { full: [1, 4], quick: [1] } },
  { name: 'ingest-10k', kind: 'ingest', number: 5, title: 'ingestMarketData, 10,000 bars a call', systems: ['gateway', 'copy'], concurrency: { full: [1, 4], quick: [1] } },
];

export const SYSTEM_LABEL: Record<SystemName, string> = {
  gateway: 'gateway',
  limit: 'limit: node:http + pg',
  peer: 'peer: PostGraphile 5',
  raw: 'limit: pg transaction',
  fn: 'limit: plpgsql function',
  copy: 'limit: COPY',
};

/** What the requests are about: fixed for a run, the same for every system. */
export interface ScenarioParams {
  /** one UTC day of the data set, a weekday: [from, to) */
  dayFrom: string;
  dayTo: string;
  equities: string[];
  cryptos: string[];
  accounts: string[];
  /** accounts of the distinct-account write scenario, and the hot one */
  writeAccounts: string[];
  hotAccount: string;
  writeSymbol: string;
  /** unique per run: client order ids and ingested symbols carry it */
  runTag: string;
  ordersFirst: number;
  /** the month the ingestion scenarios write into (its own partition) */
  ingestMonth: string;
}

export interface RunSpec {
  scenario: ScenarioName;
  system: SystemName;
  /** http://127.0.0.1:port */
  baseUrl: string;
  authorization?: string;
  connections: number;
  durationS: number;
  /** a number of requests instead of a duration (ingestion: a 10,000-bar call can take longer than a short run) */
  amount?: number;
  params: ScenarioParams;
  /** a warm-up: results are not kept */
  warmup?: boolean;
}

/** What a response said, counted by the load worker. */
export interface ResponseTally {
  ok: number;
  /** GraphQL errors (and non-200 statuses) by extensions.code */
  errorCodes: Record<string, number>;
  /** completed write pairs (a fill that returned a trade) / bars stored */
  pairs: number;
  bars: number;
  /** performance.now() when the first request was built and when the last answer arrived */
  firstAt?: number;
  lastAt?: number;
}

const ORDER_ID = /"orderId":"([0-9a-f-]{36})"/;
const ERROR_CODE = /"code":"([A-Z_]+)"/;

function tally(t: ResponseTally, status: number, body: string): boolean {
  t.lastAt = performance.now();
  if (status === 200 && !body.includes('"errors"')) {
    t.ok++;
    return true;
  }
  const code = status === 200 ? (ERROR_CODE.exec(body)?.[1] ?? 'ERROR') : `HTTP_${status}`;
  t.errorCodes[code] = (t.errorCodes[code] ?? 0) + 1;
  return false;
}

/** Per-process counters, so every request of a run (and of the whole run) is distinct. */
let seq = 0;

/** Sets the request counter (the checks send each system the same request). */
export function setSequence(n: number): void {
  seq = n;
}

function post(path: string, headers: Record<string, string>): CannonRequest {
  return { method: 'POST', path, headers: { 'content-type': 'application/json', ...headers } };
}

/** The autocannon requests of one run; `t` is filled by their onResponse hooks. */
export function requestsFor(spec: RunSpec, t: ResponseTally): CannonRequest[] {
  const p = spec.params;
  const headers: Record<string, string> = spec.authorization ? { authorization: spec.authorization } : {};
  const gql = (query: string, variables: unknown) => JSON.stringify({ query, variables });
  const read = (path: string, body: () => string): CannonRequest => ({
    ...post(path, headers),
    setupRequest: (req) => ({ ...req, body: body() }),
    onResponse: (status, body) => void tally(t, status, body),
  });
  const path = spec.system === 'limit' ? undefined : '/graphql';
  switch (spec.scenario) {
    case 'md-m1': {
      const vars = () => ({ symbol: p.equities[seq++ % p.equities.length], from: p.dayFrom, to: p.dayTo, timeframe: 'M1', first: 1000 });
      if (spec.system === 'peer') return [read('/graphql', () => gql(PEER.marketData, vars()))];
      return [read(path ?? '/market-data', () => gql(GATEWAY.marketData, vars()))];
    }
    case 'md-h1': {
      const vars = () => ({ symbol: p.cryptos[seq++ % p.cryptos.length], from: p.dayFrom, to: p.dayTo, timeframe: 'H1', first: 1000 });
      if (spec.system === 'peer') return [read('/graphql', () => { const v = vars(); return gql(PEER.marketDataAggregated, { ...v, step: 3600 }); })];
      return [read(path ?? '/market-data', () => gql(GATEWAY.marketData, vars()))];
    }
    case 'orders': {
      const vars = { first: p.ordersFirst };
      if (spec.system === 'peer') return [read('/graphql', () => gql(PEER.orders, vars))];
      return [read(path ?? '/orders', () => gql(GATEWAY.orders, vars))];
    }
    case 'portfolio': {
      const vars = () => ({ accountId: p.accounts[seq++ % p.accounts.length] });
      if (spec.system === 'peer') return [read('/graphql', () => gql(PEER.portfolio, vars()))];
      return [read(path ?? '/portfolio', () => gql(GATEWAY.portfolio, vars()))];
    }
    case 'write-distinct':
    case 'write-hot':
      return writePair(spec, headers, t);
    case 'ingest-1k':
    case 'ingest-10k':
      return [ingest(spec, headers, t, spec.scenario === 'ingest-1k' ? 1_000 : 10_000)];
  }
}

interface PairContext {
  orderId?: string;
}

/** submitOrder (a MARKET order of 10) then executeTrade of that order; the pair's context carries the order id. */
function writePair(spec: RunSpec, headers: Record<string, string>, t: ResponseTally): CannonRequest[] {
  const p = spec.params;
  const [submitPath, fillPath] = spec.system === 'gateway' ? ['/graphql', '/graphql'] : [`/${spec.system}/submit`, `/${spec.system}/fill`];
  return [
    {
      ...post(submitPath, headers),
      setupRequest: (req, ctx) => {
        const context = ctx as PairContext;
        const n = seq++;
        const accountId = spec.scenario === 'write-hot' ? p.hotAccount : p.writeAccounts[n % p.writeAccounts.length];
        context.orderId = undefined;
        const input = {
          accountId, clientOrderId: `${p.runTag}-${spec.system}-${n}`, symbol: p.writeSymbol, side: n % 2 ? 'SELL' : 'BUY', type: 'MARKET',
          timeInForce: 'GTC', quantity: '10', strategy: 'bench',
        };
        return { ...req, body: JSON.stringify({ query: GATEWAY.submit, variables: { input } }) };
      },
      onResponse: (status, body, context) => {
        if (tally(t, status, body)) (context as PairContext).orderId = ORDER_ID.exec(body)?.[1];
      },
    },
    {
      ...post(fillPath, headers),
      // no order (the submit failed): autocannon skips to the next pair
      setupRequest: (req, ctx) => ((ctx as PairContext).orderId
        ? { ...req, body: JSON.stringify({ query: GATEWAY.fill, variables: { input: { orderId: (ctx as PairContext).orderId, price: (100 + (seq % 100) / 100).toFixed(2) } } }) }
        : (undefined as unknown as CannonRequest)),
      onResponse: (status, body) => {
        if (tally(t, status, body)) t.pairs++;
      },
    },
  ];
}

/** The body of a batch: `bars` bars over 10 symbols whose names carry `@@`, replaced per request. */
const templates = new Map<number, string>();
function ingestTemplate(bars: number, month: string): string {
  let template = templates.get(bars);
  if (template) return template;
  const start = Date.parse(`${month}T00:00:00Z`);
  const perSymbol = bars / 10;
  const list: string[] = [];
  for (let s = 0; s < 10; s++) {
    for (let m = 0; m < perSymbol; m++) {
      const o = 100 + ((m * 37 + s * 11) % 500) / 100;
      const c = 100 + ((m * 53 + s * 7) % 500) / 100;
      list.push(JSON.stringify({
        symbol: `@@-${s}`, timestamp: new Date(start + m * 60_000).toISOString().replace('.000Z', 'Z'),
        open: o.toFixed(2), high: (Math.max(o, c) + 0.05).toFixed(2), low: (Math.min(o, c) - 0.05).toFixed(2), close: c.toFixed(2), volume: String(1000 + m),
      }));
    }
  }
  template = `{"query":${JSON.stringify(GATEWAY.ingest)},"variables":{"bars":[${list.join(',')}]}}`;
  templates.set(bars, template);
  return template;
}

function ingest(spec: RunSpec, headers: Record<string, string>, t: ResponseTally, bars: number): CannonRequest {
  const template = ingestTemplate(bars, spec.params.ingestMonth);
  const prefix = spec.system === 'gateway' ? 'IG' : 'IC';
  return {
    ...post(spec.system === 'gateway' ? '/graphql' : '/copy', headers),
    setupRequest: (req) => {
      t.firstAt ??= performance.now();
      return { ...req, body: template.replaceAll('@@', `${prefix}${spec.params.runTag.slice(-3)}${seq++}`) };
    },
    onResponse: (status, body) => {
      if (tally(t, status, body)) t.bars += bars;
    },
  };
}
