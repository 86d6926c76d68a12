/** The WebSocket transport: a client that stops answering pings is dropped and its subscriptions released; shutdown closes sockets. */
import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from '../support/gateway';

let gw: TestGateway;

/** Speaks graphql-transport-ws by hand so the test controls the socket. */
async function rawSubscriber(url: string, authorization = `Bearer ${gw.adminKey}`): Promise<WebSocket> {
  const ws = new WebSocket(url, 'graphql-transport-ws');
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization } }));
  await new Promise<void>((resolve) => ws.on('message', (m) => JSON.parse(String(m)).type === 'connection_ack' && resolve()));
  ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { marketDataUpdated(symbols: ["*"]) { symbol } }' } }));
  return ws;
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  gw = await startTestGateway({ WS_KEEPALIVE_MS: '300', SYNC_ENABLED: 'false' });
});

afterAll(async () => {
  await gw?.stop();
});

describe('websocket transport', () => {
  it('uses the graphql-transport-ws subprotocol on /graphql', async () => {
    const ws = await rawSubscriber(gw.wsUrl);
    expect(ws.protocol).toBe('graphql-transport-ws');
    ws.close();
  });

  it('drops a client that stops answering pings and releases its subscription', async () => {
    const ws = await rawSubscriber(gw.wsUrl);
    await until(() => gw.gateway.hub.size === 1, 5000, 'the subscription to start');
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    // Stop reading: pings go unanswered, as with a client that hung or lost its network.
    ws.pause();
    await until(() => gw.gateway.hub.size === 0, 5000, 'the server to drop the silent client');
    ws.resume();
    expect(await closed).toBe(1006);
  });

  it('closes open sockets when the gateway stops', async () => {
    const other = await startTestGateway({ SYNC_ENABLED: 'false' });
    const ws = await rawSubscriber(other.wsUrl, `Bearer ${other.adminKey}`);
    await until(() => other.gateway.hub.size === 1, 5000, 'the subscription to start');
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await other.stop();
    expect(await closed).toBeGreaterThanOrEqual(1000);
    expect(other.gateway.hub.size).toBe(0);
  });
});
