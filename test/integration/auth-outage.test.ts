/**
 * When the primary cannot be reached, a key the gateway does not remember cannot be checked: the client is told the
 * database is unavailable (retryable), never that its key is invalid, over HTTP and WebSocket. A bot that took the
 * second for the first would stop trading, or discard a key that is fine. A database of this file's own, whose
 * connections are refused for a while.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { createOwnDatabase, cutOff } from '../support/env';
import { startTestGateway, type TestGateway } from '../support/gateway';

let db: { url: string; drop(): Promise<void> };
let gw: TestGateway;
const clients: Client[] = [];

let reconnect: (() => Promise<void>) | undefined;

beforeAll(async () => {
  db = await createOwnDatabase('tq_auth_outage');
  gw = await startTestGateway({ DATABASE_URL: db.url, DATABASE_REPLICA_URLS: '', API_KEY_CACHE_MS: '60000', SYNC_ENABLED: 'false' });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await reconnect?.().catch(() => undefined);
  await gw?.stop();
  await db?.drop();
});

it('answers an unchecked key with a retryable INTERNAL_SERVER_ERROR (503), not UNAUTHENTICATED, while the primary is away', async () => {
  const key = `Bearer ${await gw.createKey('admin')}`;
  const query = '{ latestBar(symbol: "NONE") { close } }';
  reconnect = await cutOff(db.url);
  try {
    const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: key }, body: JSON.stringify({ query }) });
    const body = (await res.json()) as any;
    expect({ status: res.status, code: body.errors?.[0]?.extensions?.code, retryable: body.errors?.[0]?.extensions?.retryable })
      .toEqual({ status: 503, code: 'INTERNAL_SERVER_ERROR', retryable: true });
    expect(body.errors[0].message).toBe('the database is unavailable; try again');
    expect(res.headers.get('retry-after')).toBe('1');

    const closed = await new Promise<{ code: number; reason: string }>((resolve) => {
      const c = createClient({ url: gw.wsUrl, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0, connectionParams: { authorization: key },
        on: { closed: (event) => resolve({ code: (event as { code: number }).code, reason: String((event as { reason: unknown }).reason) }) }, onNonLazyError: () => undefined });
      clients.push(c);
    });
    expect(closed.code).toBe(1011);
  } finally {
    await reconnect();
  }
  // back: the same key works
  const again = await gw.post(query, undefined, { authorization: key });
  expect({ status: again.status, errors: again.errors }).toEqual({ status: 200, errors: undefined });
});
