/**
 * /readyz turns false when the replica or Redis stops and true again after. The replica is reached through a TCP
 * proxy of the test's own (closing it is the replica going away, without stopping the replica other files use), and
 * Redis is a server of the test's own.
 */
import net from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { createOwnDatabase, testDatabase } from '../support/env';
import { freePort, startRedis, stopRedis } from '../support/redis-server';

/** Forwards a local port to the replica; `close()` cuts every connection and refuses new ones. */
class Proxy {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  constructor(readonly port: number, private readonly target: { host: string; port: number }) {}

  async open(): Promise<void> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', () => resolve()));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }
}

async function ready(gw: TestGateway): Promise<{ status: number; body: any }> {
  const res = await fetch(gw.url.replace('/graphql', '/readyz'));
  return { status: res.status, body: await res.json() };
}

async function until(gw: TestGateway, status: number, timeoutMs = 10_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await ready(gw);
    if (r.status === status) return r.body;
    if (Date.now() > deadline) throw new Error(`readiness stayed ${r.status}: ${JSON.stringify(r.body)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

describe('readiness', () => {
  it('reports each dependency, and turns false while the replica or Redis is down', async () => {
    const replica = new URL(testDatabase().replicaUrl);
    const proxy = new Proxy(await freePort(), { host: replica.hostname, port: Number(replica.port) });
    await proxy.open();
    const viaProxy = new URL(replica);
    viaProxy.port = String(proxy.port);
    const redisPort = await freePort();
    let redis: ChildProcess = await startRedis(redisPort);
    // Its own database: its relay publishes on its own Redis.
    const own = await createOwnDatabase('tradeql_ready');
    const ownReplica = new URL(viaProxy);
    ownReplica.pathname = new URL(own.url).pathname;
    const gw = await startTestGateway({
      DATABASE_URL: own.url, DATABASE_REPLICA_URLS: ownReplica.toString(), REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      SYNC_ENABLED: 'false', REPLICA_CONNECT_TIMEOUT_MS: '500',
    }, { syncReads: false });
    try {
      const body = await until(gw, 200, 30_000); // the new database reaches the replica a moment later
      expect(body.status).toBe('ready');
      expect(Object.keys(body.checks).sort()).toEqual(['migrations', 'primary', 'redis', 'replica-1']);

      await proxy.close();
      const down = await until(gw, 503);
      expect(down.checks['replica-1'].status).toBe('fail');
      expect(down.checks.primary.status).toBe('ok');
      await proxy.open();
      await until(gw, 200);

      await stopRedis(redis);
      const noRedis = await until(gw, 503);
      expect(noRedis.checks.redis).toEqual({ status: 'fail', detail: 'not connected' });
      redis = await startRedis(redisPort);
      await until(gw, 200);
    } finally {
      await gw.stop();
      await proxy.close();
      await stopRedis(redis);
      await own.drop();
    }
  });

  it('is not ready while migrations are pending', async () => {
    const own = await createOwnDatabase('tradeql_pending');
    const gw = await startTestGateway({ DATABASE_URL: own.url, DATABASE_REPLICA_URLS: '', REDIS_URL: '', SYNC_ENABLED: 'false' }, { syncReads: false });
    try {
      expect((await ready(gw)).status).toBe(200);
      await gw.runtime.db.em().execute(`delete from mikro_orm_migrations where name = 'Migration20261126000002_outbox'`);
      const r = await ready(gw);
      expect(r.status).toBe(503);
      expect(r.body.checks.migrations.detail).toMatch(/1 pending/);
    } finally {
      await gw.stop();
      await own.drop();
    }
  });
});
