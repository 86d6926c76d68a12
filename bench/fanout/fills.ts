/** The write side, over GraphQL on HTTP: the bench's accounts, their orders, and one executeTrade per fill. */
import { ACCOUNTS, clock, SYMBOL } from './shared';
import type { GatewayProcess } from './gateways';
import { BenchError, checkAlive, progress } from './lifecycle';

const CREATE_ACCOUNT = `mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`;
const SUBMIT = `mutation($i: SubmitOrderInput!) { submitOrder(input: $i) { orderId } }`;
const FILL = `mutation($i: ExecuteTradeInput!) { executeTrade(input: $i) { tradeId } }`;

export interface Fill {
  index: number;
  orderId: string;
  via: 'A' | 'B';
  /** clock() when the request was handed to fetch, and when its response arrived */
  sentAt?: number;
  respAt?: number;
  /** the database's clock when the trade event's outbox row was inserted: the transaction's last statement before COMMIT */
  commitAt?: number;
  tradeId?: string;
  error?: string;
}

function post(url: string, query: string, variables: Record<string, unknown>): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${process.env.TRADEQL_BENCH_KEY}` },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(30_000),
  });
}

async function gql<T = any>(url: string, query: string, variables: Record<string, unknown>): Promise<T> {
  const body = (await (await post(url, query, variables)).json()) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
  if (body.errors?.length) throw new BenchError(`${body.errors[0].extensions?.code ?? 'ERROR'}: ${body.errors[0].message}`);
  return body.data as T;
}

/** The accounts `<prefix>-0`.. and `count` MARKET orders of quantity 1 on the bench's symbol, round-robin over them; returns the order ids. */
export async function createOrders(gw: GatewayProcess, prefix: string, count: number): Promise<string[]> {
  const accounts = Array.from({ length: ACCOUNTS }, (_, k) => `${prefix}-${k}`);
  for (const accountId of accounts) await gql(gw.url, CREATE_ACCOUNT, { i: { accountId, name: 'fan-out bench' } });
  const orderIds: string[] = new Array(count);
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    for (let i = next++; i < count; i = next++) {
      checkAlive();
      const data = await gql<{ submitOrder: { orderId: string } }>(gw.url, SUBMIT, {
        i: { accountId: accounts[i % ACCOUNTS], clientOrderId: `bench-${i}`, symbol: SYMBOL, side: i % 2 ? 'SELL' : 'BUY', type: 'MARKET', timeInForce: 'GTC', quantity: '1', strategy: 'bench' },
      });
      orderIds[i] = data.submitOrder.orderId;
    }
  }));
  progress(`setup: accounts ${accounts[0]}..${accounts[ACCOUNTS - 1]}, ${count} orders on ${SYMBOL}`);
  return orderIds;
}

/** executeTrade for the fill's order; records the times, and the tradeId or the error. Never throws. */
export async function sendFill(fill: Fill, gw: GatewayProcess, price: string): Promise<void> {
  fill.sentAt = clock();
  try {
    const res = await post(gw.url, FILL, { i: { orderId: fill.orderId, price, executedAt: new Date().toISOString() } });
    // The transaction committed before the gateway answered: this moment is later than the commit.
    fill.respAt = clock();
    const body = (await res.json()) as { data?: { executeTrade: { tradeId: string } }; errors?: { message: string }[] };
    if (body.errors?.length || !body.data) fill.error = body.errors?.[0]?.message ?? `HTTP ${res.status}`;
    else fill.tradeId = String(body.data.executeTrade.tradeId);
  } catch (error) {
    fill.error = (error as Error).message;
  }
}
