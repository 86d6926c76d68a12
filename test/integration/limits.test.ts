/**
 * Hostile queries and load: per-operation limits (depth, aliases, tokens, directives, list-size cost) over HTTP and
 * WebSocket, the README's documented operations within them, the body size limit, security headers, CORS, and
 * production mode (no introspection, no field suggestions).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lexer, Source, TokenKind, getOperationAST, parse } from 'graphql';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { Client } from 'graphql-ws';
import { loadTypeDefs } from '../../src/server/schema';
import { DEFAULT_QUERY_LIMITS, queryCost } from '../../src/server/query-limits';
import { startTestGateway, uniqueId, type GqlResult, type TestGateway } from '../support/gateway';
import { openClient, subscribe, waitForStreams, type Subscription } from '../support/subscriber';

const ORIGIN = 'https://app.example.com';
const LIMIT_CODES = ['GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED'];
const tag = `${process.pid % 1000}${Date.now().toString(36).slice(-4)}`.toUpperCase();
const SYMBOL = `LM${tag}`;

let gw: TestGateway;
let client: Client;
const gateways: TestGateway[] = [];
const start = async (env: Record<string, string>) => {
  const g = await startTestGateway({ SYNC_ENABLED: 'false', ...env });
  gateways.push(g);
  return g;
};

beforeAll(async () => {
  gw = await start({ CORS_ORIGINS: `${ORIGIN}, https://other.example.com` });
  client = openClient(gw.wsUrl, gw.auth);
});

afterAll(async () => {
  await client?.dispose();
  await gw?.runtime.db.em().execute('delete from data_ingestion.market_data where symbol = ?', [SYMBOL]);
  for (const g of gateways) await g.stop();
});

const limitErrors = (r: GqlResult<unknown>) => (r.errors ?? []).filter((e) => LIMIT_CODES.includes(e.extensions?.code));
const refused = (r: GqlResult<unknown>, code: string, message: string | RegExp) => {
  expect(r.status).toBe(400);
  expect(r.errors).toHaveLength(1);
  expect(r.errors![0].extensions?.code).toBe(code);
  expect(r.errors![0].message).toMatch(message);
};
const tokens = (query: string) => {
  const lexer = new Lexer(new Source(query));
  let n = 0;
  while (lexer.advance().kind !== TokenKind.EOF) n++;
  return n;
};

/** A selection of exactly `depth` levels below `head` (depth 1 = head's own field): order -> account -> orders -> edges -> node -> account … */
function nested(head: string, headType: 'Order' | 'Trade', depth: number): string {
  const next: Record<string, [string, string]> = {
    Order: ['account', 'Account'], Account: ['orders(first: 1)', 'OrderConnection'], OrderConnection: ['edges', 'OrderEdge'], OrderEdge: ['node', 'Order'], Trade: ['order', 'Order'],
  };
  let type = headType;
  const fields = [head];
  for (let level = 2; level < depth; level++) {
    const [field, t] = next[type];
    fields.push(field);
    type = t as typeof type;
  }
  return fields.join(' { ') + ' { __typename' + ' }'.repeat(fields.length);
}

/** Cost 1 + 98 x n: each order with its trades (and their order), account, positions and the account's 3 newest orders. */
const costly = (first: string) => `query($a: ID${first === '$n' ? ', $n: Int' : ''}) { orders(accountId: $a, first: ${first}) { edges { node { orderId
  trades { tradeId price order { orderId status } } account { accountId name positions { symbol quantity marketValue } orders(first: 3) { edges { node { orderId } } } } } } } }`;

describe('query limits over HTTP', () => {
  it('depth: 12 levels pass, 13 are refused', async () => {
    expect(limitErrors(await gw.post(`{ ${nested('order(orderId: "1")', 'Order', 12)} }`))).toEqual([]);
    refused(await gw.post(`{ ${nested('order(orderId: "1")', 'Order', 13)} }`), 'GRAPHQL_VALIDATION_FAILED', 'Query depth limit of 12 exceeded, found 13.');
  });

  it('aliases: 30 pass, 31 are refused', async () => {
    const aliased = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: latestBar(symbol: "${SYMBOL}") { close }`).join(' ')} }`;
    expect(limitErrors(await gw.post(aliased(30)))).toEqual([]);
    refused(await gw.post(aliased(31)), 'GRAPHQL_VALIDATION_FAILED', 'Aliases limit of 30 exceeded, found 31.');
  });

  it('tokens: 3000 pass, 3001 stop the parser', async () => {
    // A long argument list (repeating a field instead trips graphql-js's own overlapping-fields budget).
    const query = (n: number) => `{ orders(accountId: "${uniqueId('none')}", first: 1, status: [${' NEW'.repeat(n - 21)} ]) { edges { cursor } } }`;
    expect(tokens(query(3000))).toBe(3000);
    const ok = await gw.post(query(3000));
    expect(ok.errors).toBeUndefined();
    // graphql-js's message, typo included.
    refused(await gw.post(query(3001)), 'GRAPHQL_PARSE_FAILED', /^Syntax Error: Document contains more tha[nt] 3000 tokens\. Parsing aborted\.$/);
  });

  it('directives: 20 pass, 21 are refused', async () => {
    const directed = (n: number) => `{ latestBar(symbol: "${SYMBOL}") { ${'close @include(if: true) '.repeat(n)}} }`;
    expect(limitErrors(await gw.post(directed(20)))).toEqual([]);
    refused(await gw.post(directed(21)), 'GRAPHQL_VALIDATION_FAILED', 'Directives limit of 20 exceeded, found 21.');
  });

  it('cost with a literal first: 510 orders (49,981) pass, 511 (50,079) are refused', async () => {
    const a = uniqueId('none');
    const ok = await gw.post(costly('510'), { a });
    expect(ok.errors).toBeUndefined();
    expect(ok.data.orders.edges).toEqual([]);
    refused(await gw.post(costly('511'), { a }), 'GRAPHQL_VALIDATION_FAILED', /^Query cost limit of 50000 exceeded, found 50079\. /);
    // The default page is 100 (9,801); first counts at most 1000 (a larger one is the resolver's error).
    expect(limitErrors(await gw.post(costly('100'), { a }))).toEqual([]);
    refused(await gw.post(costly('5000'), { a }), 'GRAPHQL_VALIDATION_FAILED', /found 98001\./);
  });

  it('cost with a variable first, and with a variable default', async () => {
    const a = uniqueId('none');
    expect((await gw.post(costly('$n'), { a, n: 510 })).errors).toBeUndefined();
    refused(await gw.post(costly('$n'), { a, n: 511 }), 'GRAPHQL_VALIDATION_FAILED', /^Query cost limit of 50000 exceeded, found 50079\. /);
    const withDefault = costly('$n').replace('$n: Int', '$n: Int = 511');
    refused(await gw.post(withDefault, { a }), 'GRAPHQL_VALIDATION_FAILED', /found 50079\./);
    expect((await gw.post(withDefault, { a, n: 3 })).errors).toBeUndefined();
  });

  it('cost is remembered per document and page size, never across page sizes (a variable in a fragment too)', async () => {
    const a = uniqueId('none');
    // The same text each time: Apollo keeps its parsed document, and the cost is remembered per value of $n.
    for (const [n, passes] of [[510, true], [511, false], [510, true], [null, true], [511, false]] as const) {
      const r = await gw.post(costly('$n'), { a, n });
      if (passes) expect(r.errors).toBeUndefined();
      else refused(r, 'GRAPHQL_VALIDATION_FAILED', /found 50079\./);
    }
    const inFragment = costly('$n').replace(/\{ orders\(accountId: \$a, first: \$n\)/, '{ ...page } fragment page on Query { orders(accountId: $a, first: $n)');
    expect((await gw.post(inFragment, { a, n: 510 })).errors).toBeUndefined();
    refused(await gw.post(inFragment, { a, n: 511 }), 'GRAPHQL_VALIDATION_FAILED', /found 50079\./);
    expect((await gw.post(inFragment, { a, n: 510 })).errors).toBeUndefined();
  });
});

describe('query limits over WebSocket', () => {
  const failure = async (sub: Subscription<unknown>) => {
    const deadline = Date.now() + 5000;
    while (!sub.errors.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return JSON.stringify(sub.errors);
  };

  it('refuses a subscription selecting too deep, and one costing too much; a normal one goes live', async () => {
    const before = gw.gateway.hub.size;
    const ok = subscribe(client, `subscription { tradeExecuted(symbol: "${SYMBOL}") { ${nested('trade', 'Trade', 11)} } }`);
    await waitForStreams(gw.gateway.hub, before + 1);
    expect(ok.errors).toEqual([]);
    await ok.close();

    const deep = subscribe(client, `subscription { tradeExecuted(symbol: "${SYMBOL}") { ${nested('trade', 'Trade', 12)} } }`);
    const deepError = await failure(deep);
    expect(deepError).toContain('Query depth limit of 12 exceeded, found 13.');
    expect(deepError).toContain('GRAPHQL_VALIDATION_FAILED');

    // tradeExecuted > trade > order > account > orders(first: $n) > edges > node > trades > order > trades > tradeId
    const costlySub = `subscription($n: Int) { tradeExecuted(symbol: "${SYMBOL}") { trade { order { account { orders(first: $n) {
      edges { node { trades { order { trades { tradeId } } } } } } } } } } }`;
    const expensive = subscribe(client, costlySub, { n: 1000 });
    const costError = await failure(expensive);
    expect(costError).toContain('Query cost limit of 50000 exceeded, found 123005.');
    expect(costError).toContain('GRAPHQL_VALIDATION_FAILED');
    expect(deep.events).toEqual([]);
    expect(expensive.events).toEqual([]);
  });

  it('stops the parser at the token limit', async () => {
    const sub = subscribe(client, `subscription { marketDataUpdated(symbols: ["${SYMBOL}"]) { ${'close '.repeat(3000)}} }`);
    expect(await failure(sub)).toMatch(/Document contains more tha[nt] 3000 tokens/);
  });
});

describe('the documented operations', () => {
  // Every operation of README.md's graphql blocks, on this file's own account and symbol so nothing else sees them.
  const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
  const operations = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].flatMap(([, block]) =>
    parse(block).definitions.map((d) => block.slice(d.loc!.start, d.loc!.end)));

  it('are all found', () => {
    expect(operations.filter((o) => o.startsWith('mutation'))).toHaveLength(7);
    expect(operations.filter((o) => o.startsWith('query'))).toHaveLength(2);
    expect(operations.filter((o) => o.startsWith('subscription'))).toHaveLength(4);
  });

  it('cost what the limits were chosen for', () => {
    const schema = makeExecutableSchema({ typeDefs: loadTypeDefs() });
    const costs = operations.map((o) => {
      const document = parse(o);
      return queryCost(schema, document, getOperationAST(document)!, {});
    });
    // createAccount, submitOrder, amendOrder, cancelOrder, cancelAllOrders, executeTrade, ingestMarketData,
    // marketData + latestBar, orders + positions + portfolioSummary + trades + performanceMetrics, 4 subscriptions
    expect(costs).toEqual([3, 4, 3, 3, 21, 6, 3, 862, 1078, 10, 8, 6, 8]);
    expect(Math.max(...costs) * 40).toBeLessThan(DEFAULT_QUERY_LIMITS.maxCost);
    expect(Math.max(...operations.map(tokens)) * 20).toBeLessThan(DEFAULT_QUERY_LIMITS.maxTokens);
  });

  it('pass the limits over HTTP and WebSocket', async () => {
    const account = uniqueId('lim');
    const ours = (o: string) => o.replaceAll('ACC-1', account).replaceAll('DEMO-1', account).replaceAll('"AAPL"', `"${SYMBOL}"`).replaceAll('"MSFT"', `"${SYMBOL}"`);
    for (const operation of operations.filter((o) => !o.startsWith('subscription'))) {
      const r = await gw.post(ours(operation));
      expect({ operation, errors: limitErrors(r) }).toEqual({ operation, errors: [] });
    }
    const before = gw.gateway.hub.size;
    const subs = operations.filter((o) => o.startsWith('subscription')).map((o) => subscribe(client, ours(o)));
    await waitForStreams(gw.gateway.hub, before + subs.length);
    expect(subs.flatMap((s) => s.errors)).toEqual([]);
    for (const s of subs) await s.close();
  });
});

describe('HTTP', () => {
  const send = (url: string, init: RequestInit = {}) =>
    fetch(url, { method: 'POST', ...init, headers: { 'content-type': 'application/json', ...gw.auth, ...(init.headers as Record<string, string>) } });

  it('refuses a body over the limit with a 413 JSON error; a 10,000-bar ingestion fits the default', async () => {
    const big = await send(gw.url, { body: JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(10 * 1024 * 1024) } }) });
    expect(big.status).toBe(413);
    expect(big.headers.get('content-type')).toMatch(/application\/json/);
    expect(await big.json()).toEqual({ errors: [{ message: 'Request body is larger than the limit of 10485760 bytes', extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });

    const bars = Array.from({ length: 10_000 }, (_, i) => ({ symbol: 'BTC-USD', timestamp: new Date(Date.UTC(2026, 10, 26) + i * 60_000).toISOString(),
      open: '101234.5678', high: '101299.1234', low: '101200.0001', close: '101250.4321', volume: '123456789' }));
    // Sent as an unused variable: the size is what matters here, not the ingestion.
    const body = JSON.stringify({ query: '{ __typename }', variables: { bars } });
    expect(body.length).toBeLessThan(2 * 1024 * 1024); // about 1.5 MB
    expect((await send(gw.url, { body })).status).toBe(200);
  });

  it('answers malformed JSON with a 400 JSON error', async () => {
    const r = await send(gw.url, { body: '{"query": ' });
    expect(r.status).toBe(400);
    expect(((await r.json()) as GqlResult<unknown>).errors?.[0].extensions?.code).toBe('BAD_REQUEST');
  });

  it('sends security headers', async () => {
    for (const r of [await send(gw.url, { body: JSON.stringify({ query: '{ __typename }' }) }), await fetch(gw.url.replace('/graphql', '/healthz'))]) {
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(r.headers.get('content-security-policy')).toBe("default-src 'none';frame-ancestors 'none'");
      expect(r.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('allows the configured origins only, with preflight', async () => {
    const body = JSON.stringify({ query: '{ __typename }' });
    const allowed = await send(gw.url, { body, headers: { origin: ORIGIN } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(allowed.headers.get('access-control-expose-headers')).toBe('x-request-id,x-consistency-token');
    const other = await send(gw.url, { body, headers: { origin: 'https://evil.example.net' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();

    const preflight = (origin: string) => fetch(gw.url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    const ok = await preflight(ORIGIN);
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(ok.headers.get('access-control-allow-methods')).toBe('GET,POST');
    expect(ok.headers.get('access-control-allow-headers')).toBe('content-type');
    expect((await preflight('https://evil.example.net')).headers.get('access-control-allow-origin')).toBeNull();
  });

  // POST /graphql goes to its handler without Express; other spellings and GET still reach the same steps through
  // Express. Both must answer alike.
  it('answers alike on the direct path (POST /graphql) and through Express (POST /graphql/, GET)', async () => {
    const query = '{ __typename }';
    const body = JSON.stringify({ query });
    const headersOf = (r: Response) => Object.fromEntries([...r.headers].filter(([k]) => !['date', 'x-request-id', 'content-length'].includes(k)));
    const direct = await send(gw.url, { body, headers: { origin: ORIGIN, 'x-request-id': 'direct-1' } });
    const viaExpress = await send(`${gw.url}/`, { body, headers: { origin: ORIGIN, 'x-request-id': 'express-1' } });
    const viaGet = await fetch(`${gw.url}?query=${encodeURIComponent(query)}`, { headers: { ...gw.auth, 'apollo-require-preflight': 'true', origin: ORIGIN } });
    expect(direct.headers.get('x-request-id')).toBe('direct-1');
    expect(viaExpress.headers.get('x-request-id')).toBe('express-1');
    const answers = await Promise.all([direct, viaExpress, viaGet].map(async (r) => ({ status: r.status, headers: headersOf(r), body: await r.text() })));
    expect(answers[0]).toEqual({ status: 200, headers: expect.objectContaining({ 'x-content-type-options': 'nosniff', 'access-control-allow-origin': ORIGIN }), body: '{"data":{"__typename":"Query"}}\n' });
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);

    // The body's length in bytes, not characters: an answer echoing non-ASCII input (a variable that does not coerce).
    const value = 'Ω≈💥';
    const echoed = await send(gw.url, { body: JSON.stringify({ query: 'query($n: Int) { orders(first: $n) { edges { cursor } } }', variables: { n: value } }) });
    const bytes = Buffer.from(await echoed.arrayBuffer());
    expect(Number(echoed.headers.get('content-length'))).toBe(bytes.length);
    expect(bytes.toString('utf8')).toContain(value);

    // Errors of the steps before Apollo, alike on both paths.
    for (const url of [gw.url, `${gw.url}/`]) {
      const malformed = await send(url, { body: '{"query": ' });
      expect(malformed.status).toBe(400);
      expect(((await malformed.json()) as GqlResult<unknown>).errors?.[0].extensions?.code).toBe('BAD_REQUEST');
      const unauthenticated = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(unauthenticated.status).toBe(401);
      expect(unauthenticated.headers.get('www-authenticate')).toBe('Bearer');
      // Not JSON: Apollo refuses it (CSRF prevention), nothing runs.
      const plain = await fetch(url, { method: 'POST', headers: { ...gw.auth, 'content-type': 'text/plain' }, body });
      expect(plain.status).toBe(400);
    }
  });
});

describe('production mode', () => {
  const INTROSPECTION = '{ __schema { types { name } } }';
  const TYPO = `{ latestBarr(symbol: "${SYMBOL}") { close } }`;

  it('refuses introspection and suggests no field names, over HTTP and WebSocket', async () => {
    const prod = await start({ NODE_ENV: 'production' });
    const r = await prod.post(INTROSPECTION);
    refused(r, 'GRAPHQL_VALIDATION_FAILED', /introspection is not allowed/);
    const typo = await prod.post(TYPO);
    refused(typo, 'GRAPHQL_VALIDATION_FAILED', 'Cannot query field "latestBarr" on type "Query".');
    expect(typo.errors![0].message).not.toMatch(/Did you mean/);
    // Outside production the same mistake gets a suggestion.
    expect((await gw.post(TYPO)).errors![0].message).toMatch(/Did you mean "latestBar"\?/);

    const ws = openClient(prod.wsUrl, prod.auth);
    try {
      for (const [query, expected] of [[INTROSPECTION, 'introspection'], [TYPO, 'Cannot query field']]) {
        const sub = subscribe(ws, query);
        const deadline = Date.now() + 5000;
        while (!sub.errors.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        expect(JSON.stringify(sub.errors)).toContain(expected);
        expect(JSON.stringify(sub.errors)).not.toContain('Did you mean');
      }
    } finally {
      await ws.dispose();
    }
  });

  it('allows introspection with GRAPHQL_INTROSPECTION=true; outside production it is on', async () => {
    const prod = await start({ NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true', CORS_ORIGINS: '*' });
    const r = await prod.post(INTROSPECTION);
    expect(r.errors).toBeUndefined();
    expect(r.data.__schema.types.map((t: { name: string }) => t.name)).toContain('Order');
    expect((await gw.post(INTROSPECTION)).data.__schema.types.length).toBeGreaterThan(10);
    // CORS_ORIGINS=* lets any origin in.
    const any = await fetch(prod.url, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://any.example.org' }, body: '{"query":"{ __typename }"}' });
    expect(any.headers.get('access-control-allow-origin')).toBe('*');
  });
});
