/**
 * A small trading bot against tradeql, with Apollo Client: follows the 1-minute bars of one symbol over WebSocket,
 * runs a moving-average cross (long when the fast average is above the slow one, flat otherwise), submits market
 * orders, and prints its position and PnL as fills come in.
 *
 *   npm start                      # the embedded demo: paper venue and replayed bars
 *   npm run example:bot            # in another terminal
 *
 * Settings (environment, or --flags): TRADEQL_URL (http://localhost:4000/graphql), TRADEQL_API_KEY (a trader key of the
 * account), BOT_ACCOUNT / --account (DEMO-1), BOT_SYMBOL / --symbol (BTC-USD), BOT_QUANTITY / --quantity (0.01),
 * BOT_FAST / --fast (5), BOT_SLOW / --slow (20), --duration <seconds> (until Ctrl-C).
 *
 * Every order's clientOrderId is derived from its signal (strategy, symbol, bar, side), so any retry, blind or after a
 * crash, submits the same order again and the gateway returns the first one instead of trading twice. RATE_LIMITED
 * waits the `retryAfterMs` the error carries; CONFLICT (that id used for a different order) is logged and skipped.
 */
import { ApolloClient, CombinedGraphQLErrors, HttpLink, InMemoryCache, ServerError, gql, split, type TypedDocumentNode } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { isSubscriptionOperation } from '@apollo/client/utilities';
import Decimal from 'decimal.js';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

type Side = 'BUY' | 'SELL';
interface Bar { symbol: string; timestamp: string; close: string }
interface Position { symbol: string; quantity: string; averagePrice: string; realizedPnl: string; unrealizedPnl: string | null }
interface Order { orderId: string; clientOrderId: string; status: string; filledQuantity: string; averageFillPrice: string | null }

const HISTORY: TypedDocumentNode<{ latestBar: Bar | null; positions: Position[] }, { symbol: string; accountId: string }> = gql`
  query BotStart($symbol: String!, $accountId: ID!) {
    latestBar(symbol: $symbol) { symbol timestamp close }
    positions(accountId: $accountId) { symbol quantity averagePrice realizedPnl unrealizedPnl }
  }`;
const BARS: TypedDocumentNode<{ marketData: { edges: { node: Bar }[] } }, { symbol: string; from: string; first: number }> = gql`
  query BotBars($symbol: String!, $from: DateTime!, $first: Int!) {
    marketData(symbol: $symbol, from: $from, first: $first) { edges { node { symbol timestamp close } } }
  }`;
const BAR_FEED: TypedDocumentNode<{ marketDataUpdated: Bar }, { symbols: string[] }> = gql`
  subscription BotBarFeed($symbols: [String!]!) { marketDataUpdated(symbols: $symbols) { symbol timestamp close } }`;
const ORDER_FEED: TypedDocumentNode<{ orderUpdated: { type: string; order: Order } }, { accountId: string }> = gql`
  subscription BotOrders($accountId: ID!) {
    orderUpdated(accountId: $accountId) { type order { orderId clientOrderId status filledQuantity averageFillPrice } }
  }`;
const POSITION_FEED: TypedDocumentNode<{ positionUpdated: Position }, { accountId: string }> = gql`
  subscription BotPositions($accountId: ID!) { positionUpdated(accountId: $accountId) { symbol quantity averagePrice realizedPnl unrealizedPnl } }`;
const SUBMIT: TypedDocumentNode<{ submitOrder: Order }, { input: Record<string, unknown> }> = gql`
  mutation BotSubmit($input: SubmitOrderInput!) { submitOrder(input: $input) { orderId clientOrderId status filledQuantity averageFillPrice } }`;

export interface BotOptions {
  url: string;
  apiKey?: string;
  accountId: string;
  symbol: string;
  quantity: string;
  fast: number;
  slow: number;
  /** stop after this long (default: when `signal` aborts) */
  durationMs?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface BotReport {
  bars: number;
  orders: string[];
  fills: number;
  position: Position | null;
}

/** Simple moving averages of the closes; a cross is the fast one moving to the other side of the slow one. */
export class MovingAverageCross {
  private readonly closes: Decimal[] = [];
  private above: boolean | null = null;

  constructor(private readonly fast: number, private readonly slow: number) {
    if (!(fast >= 1 && slow > fast)) throw new Error('need 1 <= fast < slow');
  }

  /** BUY on a cross up, SELL on a cross down, else null (also while the averages warm up). */
  push(close: string): Side | null {
    this.closes.push(new Decimal(close));
    if (this.closes.length > this.slow) this.closes.shift();
    if (this.closes.length < this.slow) return null;
    const mean = (n: number) => this.closes.slice(-n).reduce((a, b) => a.plus(b), new Decimal(0)).div(n);
    const fast = mean(this.fast);
    const slow = mean(this.slow);
    if (fast.eq(slow)) return null;
    const above = fast.gt(slow);
    const crossed = this.above !== null && above !== this.above;
    this.above = above;
    return crossed ? (above ? 'BUY' : 'SELL') : null;
  }
}

/** Runs the bot until `durationMs` passes or `signal` aborts. */
export async function runBot(o: BotOptions): Promise<BotReport> {
  const log = o.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const authorization = o.apiKey ? `Bearer ${o.apiKey}` : undefined;
  const ws = createClient({
    url: o.url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: authorization ? { authorization } : {},
    // Reconnects after a drop; the bars resume live (a missed bar only delays the averages).
    retryAttempts: Infinity,
  });
  const http = new HttpLink({ uri: o.url, headers: authorization ? { authorization } : {} });
  const client = new ApolloClient({
    link: split(({ query }) => isSubscriptionOperation(query), new GraphQLWsLink(ws), http),
    cache: new InMemoryCache(),
    // Live data: nothing is served from a cache.
    defaultOptions: { query: { fetchPolicy: 'no-cache' }, mutate: { fetchPolicy: 'no-cache' } },
  });
  const report: BotReport = { bars: 0, orders: [], fills: 0, position: null };
  const strategy = `ma-cross-${o.fast}-${o.slow}`;
  const cross = new MovingAverageCross(o.fast, o.slow);
  let held = new Decimal(0);

  const start = await client.query({ query: HISTORY, variables: { symbol: o.symbol, accountId: o.accountId } });
  report.position = start.data?.positions.find((p) => p.symbol === o.symbol) ?? null;
  held = new Decimal(report.position?.quantity ?? 0);
  const latest = start.data?.latestBar;
  if (latest) {
    // Warm the averages up on the latest bars, so that a cross can come with the next one.
    const from = new Date(Date.parse(latest.timestamp) - (o.slow - 1) * 60_000).toISOString();
    const history = await client.query({ query: BARS, variables: { symbol: o.symbol, from, first: o.slow } });
    for (const { node } of history.data?.marketData.edges ?? []) cross.push(node.close);
  }
  log(`bot ${strategy} on ${o.symbol} for ${o.accountId}: holding ${held.toFixed()}`);

  /** Submits until the gateway answers; the same clientOrderId every time. */
  const submit = async (side: Side, quantity: Decimal, bar: Bar): Promise<void> => {
    const clientOrderId = `${strategy}-${o.symbol}-${bar.timestamp.replace(/[-:]|\.\d+/g, '')}-${side}`.slice(0, 64);
    const input = { accountId: o.accountId, clientOrderId, symbol: o.symbol, side, type: 'MARKET', timeInForce: 'IOC', quantity: quantity.toFixed(), strategy };
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await client.mutate({ mutation: SUBMIT, variables: { input } });
        const order = r.data!.submitOrder;
        if (!report.orders.includes(order.orderId)) report.orders.push(order.orderId);
        log(`${side} ${quantity.toFixed()} ${o.symbol} at market (bar ${bar.timestamp}, close ${bar.close}): order ${order.orderId} ${order.status}`);
        return;
      } catch (error) {
        const { code, retryAfterMs } = classify(error);
        if (code === 'CONFLICT') return log(`clientOrderId ${clientOrderId} was used for another order; not trading this signal`);
        if (code === 'RATE_LIMITED') {
          log(`rate limited; retrying in ${retryAfterMs ?? 1000} ms`);
          await sleep(retryAfterMs ?? 1000);
        } else if (code && code !== 'INTERNAL_SERVER_ERROR') {
          return log(`order refused (${code}): ${(error as Error).message}`);
        } else {
          if (attempt >= 8) return log(`giving up on ${clientOrderId}: ${(error as Error).message}`);
          // Lost or failed: the same id again is safe, the gateway keeps one order per id.
          await sleep(Math.min(200 * 2 ** attempt, 5_000));
        }
      }
    }
  };

  let queue = Promise.resolve();
  const onBar = (bar: Bar) => {
    report.bars++;
    const side = cross.push(bar.close);
    if (!side) return;
    const target = side === 'BUY' ? new Decimal(o.quantity) : new Decimal(0);
    const delta = target.minus(held);
    if (delta.isZero()) return;
    // One order at a time, in bar order.
    queue = queue.then(() => submit(delta.gt(0) ? 'BUY' : 'SELL', delta.abs(), bar));
  };

  const subscriptions = [
    client.subscribe({ query: BAR_FEED, variables: { symbols: [o.symbol] } }).subscribe({
      next: (r) => (r.data ? onBar(r.data.marketDataUpdated) : log(`bar feed: ${r.error?.message}`)),
      error: (e) => log(`bar feed ended: ${(e as Error).message}`),
    }),
    client.subscribe({ query: ORDER_FEED, variables: { accountId: o.accountId } }).subscribe({
      next: (r) => {
        const event = r.data?.orderUpdated;
        if (!event || (!report.orders.includes(event.order.orderId) && !event.order.clientOrderId.startsWith(strategy))) return;
        if (event.type === 'FILLED' || event.type === 'PARTIALLY_FILLED') report.fills++;
        if (event.type !== 'SUBMITTED') log(`order ${event.order.orderId} ${event.type}: filled ${event.order.filledQuantity} at ${event.order.averageFillPrice ?? '-'}`);
      },
      error: (e) => log(`order feed ended: ${(e as Error).message}`),
    }),
    client.subscribe({ query: POSITION_FEED, variables: { accountId: o.accountId } }).subscribe({
      next: (r) => {
        const p = r.data?.positionUpdated;
        if (!p || p.symbol !== o.symbol) return;
        report.position = p;
        held = new Decimal(p.quantity);
        const pnl = new Decimal(p.realizedPnl).plus(p.unrealizedPnl ?? 0);
        log(`position ${p.quantity} ${p.symbol} at ${p.averagePrice}: realized ${p.realizedPnl}, unrealized ${p.unrealizedPnl ?? '-'}, PnL ${pnl.toFixed()}`);
      },
      error: (e) => log(`position feed ended: ${(e as Error).message}`),
    }),
  ];

  await new Promise<void>((resolve) => {
    const timer = o.durationMs ? setTimeout(resolve, o.durationMs) : undefined;
    o.signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
  await queue;
  for (const s of subscriptions) s.unsubscribe();
  await ws.dispose();
  client.stop();
  return report;
}

type ErrorEntry = { extensions?: Record<string, unknown> } | undefined;

/** The error's code (extensions.code) and, for RATE_LIMITED, how long to wait. */
export function classify(error: unknown): { code?: string; retryAfterMs?: number } {
  let first: ErrorEntry;
  if (CombinedGraphQLErrors.is(error)) first = error.errors[0];
  else if (ServerError.is(error)) {
    // A non-2xx answer (e.g. 429): its body still carries the GraphQL errors.
    try {
      first = (JSON.parse(error.bodyText) as { errors?: ErrorEntry[] }).errors?.[0];
    } catch {
      first = undefined;
    }
    if (!first && error.statusCode === 429) return { code: 'RATE_LIMITED', retryAfterMs: Number(error.response.headers.get('retry-after') ?? 1) * 1000 };
  }
  const code = typeof first?.extensions?.code === 'string' ? first.extensions.code : undefined;
  const retry = first?.extensions?.retryAfterMs;
  return { code, retryAfterMs: typeof retry === 'number' ? retry : undefined };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  process.once('SIGTERM', () => controller.abort());
  const duration = flag('duration');
  const report = await runBot({
    url: flag('url') ?? process.env.TRADEQL_URL ?? 'http://localhost:4000/graphql',
    apiKey: process.env.TRADEQL_API_KEY,
    accountId: flag('account') ?? process.env.BOT_ACCOUNT ?? 'DEMO-1',
    symbol: flag('symbol') ?? process.env.BOT_SYMBOL ?? 'BTC-USD',
    quantity: flag('quantity') ?? process.env.BOT_QUANTITY ?? '0.01',
    fast: Number(flag('fast') ?? process.env.BOT_FAST ?? 5),
    slow: Number(flag('slow') ?? process.env.BOT_SLOW ?? 20),
    durationMs: duration ? Number(duration) * 1000 : undefined,
    signal: controller.signal,
  });
  process.stdout.write(`${JSON.stringify({ bars: report.bars, orders: report.orders.length, fills: report.fills, position: report.position })}\n`);
}

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`bot: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
