/**
 * "The limit": a minimal node:http + pg server doing what the gateway does for the bench's requests with nothing
 * around it (no GraphQL parsing, validation or execution, no authentication, no middleware). Started by the suite
 * as a process of its own, like the gateway.
 *
 *   POST /market-data, /orders, /portfolio     reads (body: the GraphQL request; its `variables` are used)
 *   POST /raw/submit, /raw/fill                writes as a pg transaction, one statement per step
 *   POST /fn/submit, /fn/fill                  writes as one plpgsql call
 *   POST /copy                                 ingestion by COPY
 *   GET  /healthz, /stats                      liveness; statements and requests served since start
 *
 * env: DATABASE_URL (writes, COPY), READ_URL (reads; default DATABASE_URL), PORT, HOST, POOL_MAX
 */
import http from 'node:http';
import pg from 'pg';
import { counters, marketData, orders, portfolio } from './reads';
import { copyBars, fnFill, fnSubmit, rawFill, rawSubmit, RequestError } from './writes';

// timestamptz / timestamp as PostgreSQL's text (a UTC session), as the gateway's driver gives them
pg.types.setTypeParser(1184, (text: string) => text);
pg.types.setTypeParser(1114, (text: string) => text);

const env = process.env;
const databaseUrl = env.DATABASE_URL;
if (!databaseUrl) {
  process.stderr.write('bench/baseline/server.ts: DATABASE_URL is required\n');
  process.exit(2);
}
const poolMax = Number(env.POOL_MAX ?? 30);
const poolOptions = (connectionString: string) => ({ connectionString, max: poolMax, idleTimeoutMillis: 5_000, options: '-c TimeZone=UTC' });
const writes = new pg.Pool(poolOptions(databaseUrl));
const reads = env.READ_URL ? new pg.Pool(poolOptions(env.READ_URL)) : writes;
for (const pool of new Set([writes, reads])) pool.on('error', () => undefined); // an idle client's error: the next query reports it

let requests = 0;
const routes: Record<string, (body: any) => Promise<unknown>> = {
  '/market-data': (b) => marketData(reads, b.variables),
  '/orders': (b) => orders(reads, b.variables),
  '/portfolio': (b) => portfolio(reads, b.variables),
  '/raw/submit': (b) => rawSubmit(writes, b.variables.input),
  '/raw/fill': (b) => rawFill(writes, b.variables.input),
  '/fn/submit': (b) => fnSubmit(writes, b.variables.input),
  '/fn/fill': (b) => fnFill(writes, b.variables.input),
  '/copy': (b) => copyBars(writes, b.variables.bars),
};

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/healthz') return send(res, 200, { ok: true });
  if (req.method === 'GET' && req.url === '/stats') return send(res, 200, { statements: counters.statements, requests });
  const route = req.method === 'POST' ? routes[req.url ?? ''] : undefined;
  if (!route) return send(res, 404, { errors: [{ message: 'not found' }] });
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    requests++;
    let body: any;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return send(res, 400, { errors: [{ message: 'bad JSON', extensions: { code: 'BAD_REQUEST' } }] });
    }
    route(body).then(
      (result) => send(res, 200, result),
      (error: Error) => {
        const code = error instanceof RequestError ? error.code : 'INTERNAL_SERVER_ERROR';
        send(res, 200, { errors: [{ message: error.message, extensions: { code } }], data: null });
      },
    );
  });
});
server.keepAliveTimeout = 65_000;

const port = Number(env.PORT ?? 0);
server.listen(port, env.HOST ?? '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`baseline listening on ${typeof address === 'object' && address ? address.port : port}\n`);
});

async function stop(): Promise<void> {
  server.close();
  server.closeAllConnections();
  await Promise.allSettled([...new Set([writes, reads])].map((p) => p.end()));
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
