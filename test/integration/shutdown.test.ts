/**
 * SIGTERM under load: the gateway stops accepting, finishes what is in flight, publishes the events of what it
 * committed, and exits 0. No acknowledged mutation is lost, no request is cut off mid-way (a request either gets its
 * answer or its connection is refused), and nothing is committed without its event being published.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { Client } from 'pg';
import { createOwnDatabase } from '../support/env';
import { freePort } from '../support/redis-server';
import { bearer, createKeyIn } from '../support/keys';

const BIN = path.join(__dirname, '..', '..', 'bin', 'tradeql.js');

/** One POST on a fresh connection, so a refused connection and a reset one can be told apart. */
let key = '';
function post(port: number, body: unknown): Promise<{ status: number; json: any } | { error: string }> {
  return new Promise((resolve) => {
    const data = JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port, path: '/graphql', method: 'POST', agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), connection: 'close', ...bearer(key) } }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
      res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end(data);
  });
}

describe('graceful shutdown', () => {
  it('loses no committed mutation and resets no request when SIGTERM arrives under load', async () => {
    const own = await createOwnDatabase('tradeql_stop');
    key = await createKeyIn(own.url);
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'serve'], {
      env: { ...process.env, DATABASE_URL: own.url, DATABASE_REPLICA_URLS: '', REDIS_URL: '', SYNC_ENABLED: 'false', LOG_LEVEL: 'warn', RATE_LIMIT_MUTATIONS_PER_SEC: '0', PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const db = new Client({ connectionString: own.url });
    try {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const r = await post(port, { query: 'mutation { createAccount(input: {accountId: "STOP", name: "shutdown"}) { accountId } }' });
        if ('json' in r) break;
        if (Date.now() > deadline) throw new Error('gateway did not start');
        await new Promise((res) => setTimeout(res, 100));
      }
      const outcomes: ({ status: number; json: any } | { error: string })[] = [];
      let sent = 0;
      let stopping = false;
      const worker = async () => {
        while (sent < 2000) {
          const i = sent++;
          const r = await post(port, { query: `mutation { submitOrder(input: {accountId: "STOP", clientOrderId: "o-${i}", symbol: "STOP", side: BUY, type: MARKET, quantity: "1"}) { orderId clientOrderId } }` });
          outcomes.push(r);
          // Refused, or told to go elsewhere (503 while draining): a client stops sending here.
          if (('error' in r || r.status === 503) && stopping) return;
        }
      };
      const workers = Array.from({ length: 8 }, worker);
      // Under load: SIGTERM once a good number of mutations were acknowledged (a fixed wait is too short on a busy machine).
      const loaded = Date.now() + 15_000;
      while (outcomes.filter((o) => 'json' in o && o.status === 200).length < 20 && Date.now() < loaded) await new Promise((res) => setTimeout(res, 20));
      stopping = true;
      child.kill('SIGTERM');
      await Promise.all(workers);
      expect(await exited).toBe(0);

      const answered = outcomes.filter((o): o is { status: number; json: any } => 'json' in o);
      const acknowledged = answered.filter((o) => o.status === 200);
      const draining = answered.filter((o) => o.status === 503);
      const failures = outcomes.filter((o): o is { error: string } => 'error' in o).map((o) => o.error);
      expect(acknowledged.length).toBeGreaterThan(10);
      expect(acknowledged.every((o) => !o.json.errors)).toBe(true);
      expect(draining.every((o) => o.json.errors[0].extensions.code === 'SERVICE_UNAVAILABLE')).toBe(true);
      expect(answered.length).toBe(acknowledged.length + draining.length);
      // Only clean refusals of new connections: no reset, no hang-up mid-request.
      expect([...new Set(failures)].filter((code) => code !== 'ECONNREFUSED')).toEqual([]);

      await db.connect();
      const { rows } = await db.query(`select client_order_id from execution.orders where account_id = 'STOP'`);
      const stored = new Set(rows.map((r) => r.client_order_id));
      for (const o of acknowledged) expect(stored.has(o.json.data.submitOrder.clientOrderId)).toBe(true);
      // ...and nothing was committed that was not acknowledged.
      expect(stored.size).toBe(acknowledged.length);
      // Every committed order's event went out before the process exited.
      const unpublished = await db.query(`select count(*)::int as n from execution.outbox
        where sequence is null or sequence > (select published_sequence from execution.outbox_state where id = 1)`);
      expect(unpublished.rows[0].n).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await db.end().catch(() => undefined);
      await own.drop();
    }
  });
});
