/**
 * The docker-compose.yml topology as processes: two `tradeql serve` gateways (child processes, as a container runs
 * them) on a database of this file's own on the primary, reading from the streaming replica, sharing a Redis of this
 * file's own, behind a round-robin TCP load balancer written here. It forwards whole connections, alternately to each
 * gateway, so HTTP requests and WebSocket upgrades are balanced alike, and skips a gateway that refuses the
 * connection as nginx does (proxy_next_upstream error). Through it: requests are served by both gateways, a
 * subscription receives the events of mutations the other gateway served, a consistency token makes a read on either
 * gateway see the write, and after one gateway stops on SIGTERM the other serves everything and its subscribers resume.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { bearer, createKeyIn } from '../support/keys';
import { createOwnDatabase, testEnv, waitForSchemaOnReplica, withDatabase } from '../support/env';
import { freePort, startRedis, stopRedis } from '../support/redis-server';
import { subscribe, type Subscription } from '../support/subscriber';

const BIN = path.join(__dirname, '..', '..', 'bin', 'tradeql.js');
const STOP_GRACE_MS = 10_000;
const tag = `${process.pid}-${Date.now().toString(36)}`;
let adminKey = '';

// --- the load balancer ------------------------------------------------------------------------------------------------

interface LoadBalancer {
  port: number;
  /** The backend (index into the ports given) each client connection went to, by the client's own port. */
  servedBy: Map<number, number>;
  /** Connections to a backend that failed, each followed by a try of the next backend. */
  connectFailures: number;
  close(): Promise<void>;
}

/** Round robin over `backends`, connection by connection; a backend whose connect fails is skipped for the next. */
async function startLoadBalancer(backends: number[]): Promise<LoadBalancer> {
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  let next = 0;
  // Paused until a backend is connected: nothing the client sends first (request, upgrade) is lost.
  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    track(client);
    client.on('error', () => client.destroy());
    const first = next;
    next = (next + 1) % backends.length;
    const attempt = (tries: number) => {
      const index = (first + tries) % backends.length;
      const upstream = net.connect(backends[index], '127.0.0.1');
      track(upstream);
      const failed = () => {
        lb.connectFailures++;
        upstream.destroy();
        if (tries + 1 < backends.length && !client.destroyed) attempt(tries + 1);
        else client.destroy();
      };
      upstream.once('error', failed);
      upstream.once('connect', () => {
        upstream.off('error', failed);
        upstream.on('error', () => upstream.destroy());
        if (client.remotePort !== undefined) lb.servedBy.set(client.remotePort, index);
        client.pipe(upstream);
        upstream.pipe(client);
        client.once('close', () => upstream.destroy());
        upstream.once('close', () => client.destroy());
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const lb: LoadBalancer = {
    port: (server.address() as net.AddressInfo).port,
    servedBy: new Map(),
    connectFailures: 0,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return lb;
}

// --- HTTP, one connection per request (so that the balancer alternates) ---------------------------------------------

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The client side's port of the connection: the key of LoadBalancer.servedBy. */
  localPort?: number;
}

function httpRequest(port: number, method: string, urlPath: string, body?: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let localPort: number | undefined;
    const req = http.request(
      {
        host: '127.0.0.1', port, method, path: urlPath, agent: false,
        headers: body === undefined ? headers : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), localPort }));
      },
    );
    req.on('socket', (s) => s.once('connect', () => { localPort = s.localPort; }));
    req.setTimeout(15_000, () => req.destroy(new Error(`${method} ${urlPath} on ${port}: no answer within 15 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

// --- the gateways ---------------------------------------------------------------------------------------------------

interface GatewayProcess {
  name: string;
  port: number;
  child: ChildProcess;
  /** Its stdout and stderr, for failure messages. */
  output: string[];
  exited: Promise<number | null>;
}

function spawnGateway(name: string, port: number, env: Record<string, string>): GatewayProcess {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString('utf8'));
    if (output.length > 200) output.shift();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { name, port, child, output, exited };
}

const running = (gw: GatewayProcess) => gw.child.exitCode === null && gw.child.signalCode === null;

async function waitReady(gw: GatewayProcess, timeoutMs = 40_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!running(gw)) throw new Error(`${gw.name} exited (${gw.child.exitCode ?? gw.child.signalCode}):\n${gw.output.join('')}`);
    const ready = await httpRequest(gw.port, 'GET', '/readyz').then((r) => r.status === 200, () => false);
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`${gw.name} not ready within ${timeoutMs} ms:\n${gw.output.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM, then SIGKILL if it has not exited after STOP_GRACE_MS. The exit code, null if it had to be killed. */
async function stopGateway(gw: GatewayProcess): Promise<number | null> {
  if (!running(gw)) return gw.child.exitCode;
  gw.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const graceful = await Promise.race([gw.exited.then(() => true), new Promise<boolean>((r) => { timer = setTimeout(() => r(false), STOP_GRACE_MS); })]);
  clearTimeout(timer);
  if (graceful) return gw.child.exitCode;
  gw.child.kill('SIGKILL');
  await gw.exited;
  return null;
}

/** Prometheus text: the sum of the samples of `name` that have the given labels. */
async function metric(gw: GatewayProcess, name: string, labels: Record<string, string> = {}): Promise<number> {
  const res = await httpRequest(gw.port, 'GET', '/metrics');
  expect(res.status).toBe(200);
  let sum = 0;
  for (const line of res.text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}


// --- the deployment -------------------------------------------------------------------------------------------------

let db: { url: string; drop(): Promise<void> } | undefined;
let redis: ChildProcess | undefined;
let gateways: GatewayProcess[] = [];
let lb: LoadBalancer | undefined;
const clients: Client[] = [];

interface GqlReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  data?: any;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
  extensions?: Record<string, any>;
  /** The gateway (0 or 1) the balancer sent the request to. */
  backend?: number;
}

/** POST /graphql through the load balancer, on a connection of its own. */
async function gql(query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}): Promise<GqlReply> {
  const res = await httpRequest(lb!.port, 'POST', '/graphql', JSON.stringify({ query, variables }), { ...bearer(adminKey), ...headers });
  const body = JSON.parse(res.text);
  return { status: res.status, headers: res.headers, ...body, backend: res.localPort === undefined ? undefined : lb!.servedBy.get(res.localPort) };
}

/** A graphql-ws client through the load balancer, the gateway its WebSocket landed on, and its close codes. */
async function wsClient(): Promise<{ client: Client; backend: number; closeCodes: number[] }> {
  let landed: (port: number | undefined) => void = () => undefined;
  const localPort = new Promise<number | undefined>((resolve) => { landed = resolve; });
  // ws reports the handshake's response, whose socket is the connection the balancer accepted.
  class TrackedWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols);
      this.once('upgrade', (res: http.IncomingMessage) => landed(res.socket.localPort));
      this.once('error', () => landed(undefined));
    }
  }
  const closeCodes: number[] = [];
  const client = createClient({
    url: `ws://127.0.0.1:${lb!.port}/graphql`, webSocketImpl: TrackedWebSocket, lazy: false, retryAttempts: 0, connectionParams: bearer(adminKey),
    on: { closed: (event) => closeCodes.push((event as { code: number }).code) },
    // A close is expected here (a gateway stops): recorded above, not logged.
    onNonLazyError: () => undefined,
  });
  clients.push(client);
  const port = await localPort;
  const backend = port === undefined ? undefined : lb!.servedBy.get(port);
  if (backend === undefined) throw new Error('the WebSocket did not get through the load balancer');
  return { client, backend, closeCodes };
}

const CREATE = `mutation DeployCreateAccount($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`;
const SUBMIT = `mutation DeploySubmit($i: SubmitOrderInput!) { submitOrder(input: $i) { orderId version } }`;
const AMEND = `mutation DeployAmend($id: ID!, $v: Int!, $q: Decimal!) { amendOrder(orderId: $id, expectedVersion: $v, quantity: $q) { quantity version } }`;
const READ = `query DeployRead($id: ID!) { order(orderId: $id) { orderId quantity version } }`;
const ORDERS = `subscription DeployOrders($a: ID!, $after: String) { orderUpdated(accountId: $a, afterSequence: $after) { sequence type order { orderId status version } } }`;
const ACCOUNT = `DEPLOY-${tag}`;
let orderCount = 0;

async function submit(headers: Record<string, string> = {}): Promise<GqlReply & { orderId: string }> {
  orderCount++;
  const r = await gql(SUBMIT, { i: { accountId: ACCOUNT, clientOrderId: `deploy-${tag}-${orderCount}`, symbol: 'DPLY', side: 'BUY', type: 'LIMIT',
    timeInForce: 'GTC', quantity: '10', limitPrice: '100', strategy: 'deployment' } }, headers);
  expect(r.status).toBe(200);
  expect(r.errors).toBeUndefined();
  return { ...r, orderId: r.data.submitOrder.orderId };
}

type OrderEvent = { orderUpdated: { sequence: string; type: string; order: { orderId: string } } };
const orderIds = (sub: Subscription<OrderEvent>) => sub.events.map((e) => e.orderUpdated.order.orderId);

beforeAll(async () => {
  db = await createOwnDatabase('tradeql_deploy');
  adminKey = await createKeyIn(db.url);
  const replicaUrl = withDatabase(testEnv().replicaAdminUrl, new URL(db.url).pathname.slice(1));
  const redisPort = await freePort();
  [redis] = await Promise.all([startRedis(redisPort), waitForSchemaOnReplica(replicaUrl)]);
  const env = { DATABASE_URL: db.url, DATABASE_REPLICA_URLS: replicaUrl, REDIS_URL: `redis://127.0.0.1:${redisPort}`, SYNC_ENABLED: 'false', LOG_LEVEL: 'warn', RATE_LIMIT_READS_PER_SEC: '0', RATE_LIMIT_MUTATIONS_PER_SEC: '0' };
  const ports = [await freePort()];
  while (ports.length < 2) {
    const port = await freePort();
    if (!ports.includes(port)) ports.push(port);
  }
  gateways = ports.map((port, i) => spawnGateway(`gateway-${i + 1}`, port, env));
  await Promise.all(gateways.map((gw) => waitReady(gw)));
  lb = await startLoadBalancer(ports);
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  try {
    await lb?.close();
    await Promise.all(gateways.map((gw) => stopGateway(gw)));
  } finally {
    try {
      if (redis) await stopRedis(redis);
    } finally {
      await db?.drop();
    }
  }
}, 30_000);

describe('two gateways behind a round-robin load balancer', () => {
  it('serves requests on both gateways, echoing X-Request-Id', async () => {
    const created = await gql(CREATE, { i: { accountId: ACCOUNT, name: 'deployment' } });
    expect(created.errors).toBeUndefined();
    const served = [0, 0];
    for (let n = 0; n < 6; n++) {
      const requestId = `deploy-${tag}-req-${n}`;
      const r = await submit({ 'x-request-id': requestId });
      expect(r.headers['x-request-id']).toBe(requestId);
      served[r.backend!]++;
    }
    // Alternating connections: three each.
    expect(served).toEqual([3, 3]);
    // Each gateway's own count of the operation says the same.
    const counted = await Promise.all(gateways.map((gw) => metric(gw, 'tradeql_graphql_requests_total', { operation: 'DeploySubmit', outcome: 'success' })));
    expect(counted).toEqual(served);
  });

  let subs: { sub: Subscription<OrderEvent>; backend: number; closeCodes: number[] }[] = [];

  it('delivers to subscribers on either gateway the events of mutations the other one served', async () => {
    const opened = await Promise.all([0, 1, 2, 3].map(() => wsClient()));
    subs = opened.map(({ client, backend, closeCodes }) => ({ sub: subscribe<OrderEvent>(client, ORDERS, { a: ACCOUNT }), backend, closeCodes }));
    const perGateway = [0, 1].map((i) => subs.filter((s) => s.backend === i).length);
    expect(perGateway).toEqual([2, 2]);
    // Live on both gateways before anything is submitted.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const active = await Promise.all(gateways.map((gw) => metric(gw, 'tradeql_subscriptions_active')));
      if (active[0] === perGateway[0] && active[1] === perGateway[1]) break;
      if (Date.now() > deadline) throw new Error(`subscriptions active per gateway: ${active}, wanted ${perGateway}`);
      await new Promise((r) => setTimeout(r, 50));
    }

    const first = await submit();
    const second = await submit();
    expect(new Set([first.backend, second.backend])).toEqual(new Set([0, 1]));
    for (const { sub, backend } of subs) {
      await sub.waitFor(2);
      expect(orderIds(sub)).toEqual([first.orderId, second.orderId]);
      // Among them, an event of a mutation the other gateway served.
      const fromOther = [first, second].find((m) => m.backend !== backend)!;
      expect(orderIds(sub)).toContain(fromOther.orderId);
    }
  });

  it('lets a read on either gateway see a write, given the write\'s consistency token', async () => {
    const order = await submit();
    const amended = await gql(AMEND, { id: order.orderId, v: 1, q: '15' });
    expect(amended.errors).toBeUndefined();
    const token = amended.headers['x-consistency-token'];
    expect(typeof token).toBe('string');
    expect(amended.extensions?.consistencyToken).toBe(token);
    const reads = [await gql(READ, { id: order.orderId }, { 'x-consistency-token': token as string }),
      await gql(READ, { id: order.orderId }, { 'x-consistency-token': token as string })];
    // One read on each gateway, so one of them on the gateway that did not write.
    expect(new Set(reads.map((r) => r.backend))).toEqual(new Set([0, 1]));
    for (const r of reads) {
      expect(r.errors).toBeUndefined();
      expect(r.data.order).toEqual({ orderId: order.orderId, quantity: '15', version: 2 });
      // Where its reads were served: the replica once it had replayed the token, else the primary.
      expect(r.extensions?.readFrom.length).toBeGreaterThan(0);
      for (const where of r.extensions?.readFrom) expect(['replica', 'primary']).toContain(where);
    }
  });

  it('keeps serving through the other gateway when one stops on SIGTERM, and its subscribers resume there', async () => {
    const [stopping, staying] = gateways;
    // Every subscriber has seen everything so far (two submits, then a submit and an amend): the last sequence is
    // where the stopped gateway's subscribers resume.
    for (const { sub } of subs) expect((await sub.waitFor(4)).map((e) => e.orderUpdated.type)).toEqual(['SUBMITTED', 'SUBMITTED', 'SUBMITTED', 'AMENDED']);
    const lastSequence = subs[0].sub.events.at(-1)!.orderUpdated.sequence;
    const eventsBefore = subs.map(({ sub }) => sub.events.length);

    const stoppedAt = Date.now();
    stopping.child.kill('SIGTERM');
    expect(await stopping.exited).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(STOP_GRACE_MS);
    // It closed its WebSockets with 1001 (going away); the other gateway's stay open.
    const onStopped = subs.filter((s) => s.backend === 0);
    const onStaying = subs.filter((s) => s.backend === 1);
    for (const { closeCodes } of onStopped) expect(closeCodes).toEqual([1001]);
    for (const { closeCodes } of onStaying) expect(closeCodes).toEqual([]);

    const failuresBefore = lb!.connectFailures;
    const after: string[] = [];
    for (let n = 0; n < 4; n++) {
      const r = await submit();
      expect(r.backend).toBe(1);
      after.push(r.orderId);
      const read = await gql(READ, { id: r.orderId }, { 'x-consistency-token': r.headers['x-consistency-token'] as string });
      expect(read.errors).toBeUndefined();
      expect(read.backend).toBe(1);
      expect(read.data.order.orderId).toBe(r.orderId);
    }
    // Half of those connections were sent to the stopped gateway first, and went on to the other one.
    expect(lb!.connectFailures - failuresBefore).toBeGreaterThanOrEqual(4);
    const ready = await httpRequest(lb!.port, 'GET', '/readyz');
    expect(ready.status).toBe(200);

    // Subscribers of the staying gateway got the new events live.
    for (const { sub } of onStaying) {
      await sub.waitFor(eventsBefore[subs.findIndex((s) => s.sub === sub)] + after.length);
      expect(orderIds(sub).slice(-after.length)).toEqual(after);
    }
    // A subscriber of the stopped gateway reconnects through the balancer, lands on the other one and resumes from
    // its last sequence: it misses nothing of what happened while it was away, and gets nothing twice.
    const { client, backend } = await wsClient();
    expect(backend).toBe(1);
    const resumed = subscribe<OrderEvent>(client, ORDERS, { a: ACCOUNT, after: lastSequence });
    await resumed.waitFor(after.length);
    expect(orderIds(resumed)).toEqual(after);
    expect(resumed.events.every((e) => BigInt(e.orderUpdated.sequence) > BigInt(lastSequence))).toBe(true);
    expect(running(staying)).toBe(true);
  });
});
