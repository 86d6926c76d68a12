/**
 * Failed authentications per client address (src/server/auth-failures.ts): after AUTH_FAILURES_PER_MIN unknown or
 * revoked keys, an address is refused with RATE_LIMITED (429, Retry-After) before any lookup on the primary, over HTTP
 * and WebSocket, until the minute is over; other addresses and keys the gateway remembers are not affected. The
 * gateway trusts one proxy here (TRUSTED_PROXIES=1), so each test speaks for addresses of its own through
 * X-Forwarded-For, as a load balancer would.
 */
import { randomInt } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from '../support/gateway';

const LIMIT = 3;
const QUERY = '{ latestBar(symbol: "NONE") { close } }';

let gw: TestGateway;
const clients: Client[] = [];

/** A documentation address (RFC 5737) of this run's own, so that reruns within a minute do not share a budget. */
const address = () => `198.51.${randomInt(0, 256)}.${randomInt(1, 255)}`;
const unknownKey = () => `Bearer tq_${'u'.repeat(20)}${randomInt(0, 1e9).toString().padStart(20, '0')}`;

async function send(from: string, authorization: string): Promise<{ status: number; retryAfter: string | null; body: any }> {
  const res = await fetch(gw.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization, 'x-forwarded-for': from },
    body: JSON.stringify({ query: QUERY }),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
}

const codeOf = (r: { body: any }) => r.body.errors?.[0]?.extensions?.code;

beforeAll(async () => {
  gw = await startTestGateway({ AUTH_FAILURES_PER_MIN: String(LIMIT), TRUSTED_PROXIES: '1', API_KEY_CACHE_MS: '60000' });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await gw?.stop();
});

it(`refuses an address after ${LIMIT} failed authentications, before any lookup, with 429 and Retry-After`, async () => {
  const from = address();
  const validKey = `Bearer ${await gw.createKey('admin')}`;
  // key lookups on the primary (other statements, e.g. background work, do not matter)
  const lookups: string[] = [];
  const listener = (statement: { sql: string }) => {
    if (statement.sql.includes('from execution.api_keys where key_hash')) lookups.push(statement.sql);
  };
  gw.runtime.db.statementListeners.add(listener);
  for (let i = 0; i < LIMIT; i++) {
    const r = await send(from, unknownKey());
    expect({ status: r.status, code: codeOf(r) }).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
  }
  expect(lookups).toHaveLength(LIMIT);
  lookups.length = 0;
  const refused = await send(from, unknownKey());
  expect({ status: refused.status, code: codeOf(refused) }).toEqual({ status: 429, code: 'RATE_LIMITED' });
  expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
  expect(Number(refused.retryAfter)).toBeLessThanOrEqual(60);
  expect(refused.body.errors[0].extensions.retryAfterMs).toBeGreaterThan(0);
  expect(refused.body.errors[0].message).toMatch(/too many failed authentications/);
  // a valid key the gateway has not seen yet needs a lookup: refused too, while the address is blocked
  const validButBlocked = await send(from, validKey);
  expect({ status: validButBlocked.status, code: codeOf(validButBlocked) }).toEqual({ status: 429, code: 'RATE_LIMITED' });
  gw.runtime.db.statementListeners.delete(listener);
  expect(lookups).toEqual([]);

  // another address is not affected: its valid key works, its unknown key is a plain 401
  const other = address();
  expect((await send(other, validKey)).status).toBe(200);
  const otherBad = await send(other, unknownKey());
  expect({ status: otherBad.status, code: codeOf(otherBad) }).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
  // and that key, now remembered, is answered without a lookup even from the blocked address
  expect((await send(from, validKey)).status).toBe(200);
});

it('counts only failed lookups: valid keys and missing headers do not use up the budget', async () => {
  const from = address();
  const validKey = `Bearer ${await gw.createKey('admin')}`;
  for (let i = 0; i < LIMIT + 2; i++) expect((await send(from, '')).status).toBe(401);
  expect((await send(from, validKey)).status).toBe(200);
  for (let i = 0; i < LIMIT - 1; i++) expect((await send(from, unknownKey())).status).toBe(401);
  expect((await send(from, unknownKey())).status).toBe(401);
  expect((await send(from, unknownKey())).status).toBe(429);
});

it('closes a WebSocket from a blocked address with 4429', async () => {
  const from = address();
  for (let i = 0; i < LIMIT; i++) expect((await send(from, unknownKey())).status).toBe(401);
  const code = await new Promise<number>((resolve) => {
    const c = createClient({
      url: gw.wsUrl,
      webSocketImpl: class extends WebSocket {
        constructor(url: string, protocols?: string | string[]) {
          super(url, protocols, { headers: { 'x-forwarded-for': from } });
        }
      },
      lazy: false, retryAttempts: 0, connectionParams: { authorization: unknownKey() },
      on: { closed: (event) => resolve((event as { code: number }).code) }, onNonLazyError: () => undefined,
    });
    clients.push(c);
  });
  expect(code).toBe(4429);
});

it('counts the refusals in tradeql_rate_limited_total{budget="auth"}', async () => {
  const text = await (await fetch(gw.url.replace('/graphql', '/metrics'))).text();
  const line = text.split('\n').find((l) => l.startsWith('tradeql_rate_limited_total{budget="auth"}'));
  expect(Number(line?.split(' ')[1])).toBeGreaterThanOrEqual(3);
});
