/** No event lost: Redis down while fills commit, and a gateway killed between commit and publish. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { startTestGateway, uniqueId, type TestGateway } from '../support/gateway';
import { openClient, subscribe, waitForStreams } from '../support/subscriber';
import { createOwnDatabase, testDatabase } from '../support/env';
import { freePort, startRedis, stopRedis } from '../support/redis-server';

const SUBMIT = `mutation($input: SubmitOrderInput!) { submitOrder(input: $input) { orderId } }`;
const FILL = `mutation($input: ExecuteTradeInput!) { executeTrade(input: $input) { tradeId } }`;

async function setup(gw: TestGateway) {
  const acc = uniqueId('dlv');
  await gw.gql(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`, { i: { accountId: acc, name: 'delivery' } });
  return acc;
}

describe('delivery', () => {
  it('delivers all 100 fills committed while Redis was down, once each, after it returns', async () => {
    const port = await freePort();
    let redis = await startRedis(port);
    // A database of its own: a relay on this private Redis would otherwise publish other files' events where their
    // subscribers never listen.
    const own = await createOwnDatabase('tradeql_dlv');
    const gw = await startTestGateway({ DATABASE_URL: own.url, DATABASE_REPLICA_URLS: '', REDIS_URL: `redis://127.0.0.1:${port}`, SYNC_ENABLED: 'false', OUTBOX_POLL_MS: '100' });
    const client = openClient(gw.wsUrl, gw.auth);
    try {
      const acc = await setup(gw);
      const sub = subscribe(client, `subscription($a: ID!) { tradeExecuted(accountId: $a) { eventId sequence trade { tradeId } } }`, { a: acc });
      await waitForStreams(gw.gateway.hub, 1);
      const o = await gw.gql(SUBMIT, { input: { accountId: acc, clientOrderId: 'big', symbol: 'DLV', side: 'BUY', type: 'MARKET', quantity: '100' } });
      await stopRedis(redis);
      const tradeIds: string[] = [];
      for (let i = 0; i < 100; i++) {
        const r = await gw.gql(FILL, { input: { orderId: o.data.submitOrder.orderId, quantity: '1', price: String(100 + i) } });
        expect(r.errors).toBeUndefined();
        tradeIds.push(r.data.executeTrade.tradeId);
      }
      expect(sub.events.length).toBe(0);
      redis = await startRedis(port);
      const events = await sub.waitFor(100, 20_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(sub.events).toHaveLength(100);
      expect(events.map((e: any) => e.tradeExecuted.trade.tradeId)).toEqual(tradeIds);
      expect(new Set(events.map((e: any) => e.tradeExecuted.eventId)).size).toBe(100);
    } finally {
      await client.dispose();
      await gw.stop();
      await stopRedis(redis);
      await own.drop();
    }
  });

  it('publishes, through the next relay, the events of a gateway killed between commit and publish', async () => {
    const gw = await startTestGateway({ SYNC_ENABLED: 'false', OUTBOX_POLL_MS: '100', REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379' });
    const client = openClient(gw.wsUrl, gw.auth);
    try {
      const acc = await setup(gw);
      const sub = subscribe(client, `subscription($a: ID!) { tradeExecuted(accountId: $a) { trade { tradeId price } } }`, { a: acc });
      await waitForStreams(gw.gateway.hub, 1);
      const o = await gw.gql(SUBMIT, { input: { accountId: acc, clientOrderId: 'k', symbol: 'KILL', side: 'BUY', type: 'MARKET', quantity: '1' } });
      const script = path.join(__dirname, '..', 'support', 'kill-after-commit.ts');
      const { databaseUrl } = testDatabase();
      const signal = await new Promise<NodeJS.Signals | null>((resolve) => {
        const child = execFile(process.execPath, ['-r', 'tsx/cjs', script, o.data.submitOrder.orderId, '123.45'],
          { env: { ...process.env, DATABASE_URL: databaseUrl, DATABASE_REPLICA_URLS: '', LOG_LEVEL: 'silent' } });
        child.on('exit', (_code, sig) => resolve(sig));
      });
      expect(signal).toBe('SIGKILL');
      const [e] = await sub.waitFor(1, 10_000);
      expect(e.tradeExecuted.trade.price).toBe('123.45');
    } finally {
      await client.dispose();
      await gw.stop();
    }
  });
});

