/**
 * Hostile input, generated: every argument of every query and mutation gets random strings, unicode, huge and
 * NaN-like numbers, negative and malformed decimals, SQL and JSON injection, very long symbols, wrong types and
 * enormous page sizes (seeded, so a failure can be replayed). Every answer must be a valid result or a GraphQL error
 * with a known code — never a 500, a masked internal error, a crash or a hang — and a refused call must leave the
 * database exactly as it was (row counts and a checksum of every table a request can write, audit log included).
 */
import { Client as PgClient } from 'pg';
import { startTestGateway, uniqueId, type TestGateway } from '../support/gateway';
import { createOwnDatabase } from '../support/env';

const SEED = Number(process.env.FUZZ_SEED ?? 20261127);
const PER_OPERATION = Number(process.env.FUZZ_PER_OPERATION ?? 115);
const KNOWN_CODES = new Set(['BAD_USER_INPUT', 'NOT_FOUND', 'CONFLICT', 'GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED', 'BAD_REQUEST']);
/** What a request can write; without the columns background work updates on its own (the relay's sequence, a key's
 * last_used_at). */
const TABLES = ['execution.accounts', 'execution.orders', 'execution.trades', 'execution.positions',
  '(select event_id, topic, account_id, symbol, payload from execution.outbox)',
  '(select key_id, name, role, key_hash, account_ids, revoked_at from execution.api_keys)',
  'data_ingestion.market_data', 'analytics.portfolio_summary', 'logging.audit_log'];

/** mulberry32: small, seeded, good enough to pick test inputs. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const int = (max: number) => Math.floor(next() * max);
  return { next, pick, int };
}

const rnd = prng(SEED);

const HOSTILE_STRINGS = [
  '', ' ', '\u0000', 'a\u0000b', '\t\n', '💥📈', 'ש״ח', '\u202eRTL', 'Ω≈ç√', 'é'.repeat(300), 'A'.repeat(10_000), 'x'.repeat(65),
  "'; drop table execution.orders; --", "' or '1'='1", '" or ""="', '1; select pg_sleep(10)', '$$', '\\', '%', '_', '*',
  '{"$gt": ""}', '{"__proto__": {"admin": true}}', '[]', 'null', 'undefined', 'true', '<script>alert(1)</script>', '../../etc/passwd',
  '${7*7}', '{{7*7}}', '%s%s%s%n', 'AAPL', 'aapl', 'AAPL ', 'BRK.B', 'A-B', '-1', '0', 'NaN',
];
const HOSTILE_DECIMALS = [
  'NaN', '-NaN', 'Infinity', '-Infinity', '1e400', '1e-400', '-0', '0', '0.0', '-1', '-0.00000001', '1e5', '0x10', '1_000', '1,5', ' 1', '1 ',
  '.5', '5.', '+1', '--1', '1e', '9'.repeat(40), `1.${'1'.repeat(30)}`, '123456789012.12345678', '0.000000001', '100', '99.5', '1', '٣',
];
const HOSTILE_NUMBERS: unknown[] = [0, -1, 1, 1.5, 2 ** 31, 2 ** 53, -(2 ** 31), 1e308, Number.MAX_SAFE_INTEGER, 1001, 1000, 100];
const WRONG_TYPES: unknown[] = [null, true, false, 42, -3.5, [], ['a'], {}, { a: 1 }, '1'];
const HOSTILE_TIMES = ['2026-01-05T10:00:00Z', '2026-13-45T99:99:99Z', '0000-00-00', '1970-01-01T00:00:00Z', '9999-12-31T23:59:59Z',
  '2026-01-05', 'yesterday', '2026-01-05T10:00:00+25:00', '-1', '1e20'];
const ENUMS = ['BUY', 'SELL', 'buy', 'MARKET', 'LIMIT', 'STOP', 'STOP_LIMIT', 'GTC', 'DAY', 'IOC', 'FOK', 'NEW', 'FILLED', 'M1', 'H1', 'D1', 'X'];

type Kind = 'string' | 'decimal' | 'int' | 'time' | 'enum' | 'id';

/** A hostile value for an argument of this kind: mostly of its own family, sometimes of another or of the wrong type. */
function hostile(kind: Kind, known: { orderId: string; accountId: string }): unknown {
  const roll = rnd.next();
  if (roll < 0.12) return rnd.pick(WRONG_TYPES);
  if (roll < 0.2) return rnd.pick(HOSTILE_STRINGS);
  switch (kind) {
    case 'decimal': return rnd.pick(HOSTILE_DECIMALS);
    case 'int': return rnd.pick(HOSTILE_NUMBERS);
    case 'time': return rnd.pick(HOSTILE_TIMES);
    case 'enum': return rnd.pick(ENUMS);
    case 'id': return rnd.pick([known.orderId, known.accountId, '00000000-0000-0000-0000-000000000000', 'not-a-uuid', ...HOSTILE_STRINGS]);
    default: return rnd.pick(HOSTILE_STRINGS);
  }
}

interface Operation {
  name: string;
  query: string;
  /** a valid set of variables, some of which each call replaces */
  base: () => Record<string, any>;
  /** argument path (dotted) -> kind */
  args: Record<string, Kind>;
}

function stringsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value && typeof value === 'object') return Object.values(value).flatMap(stringsIn);
  return [];
}

function setPath(target: Record<string, any>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const p of parts.slice(0, -1)) node = node[p] = node[p] !== null && typeof node[p] === 'object' ? node[p] : {};
  node[parts[parts.length - 1]] = value;
}

let gw: TestGateway;
let drop: () => Promise<void>;
let pg: PgClient;
const known = { orderId: '', accountId: '' };

async function checksum(): Promise<string> {
  // One statement over every table (a pg client runs one query at a time anyway).
  const r = await pg.query(`select ${TABLES.map((table, i) =>
    `(select count(*)::text || ':' || md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from ${table} t) as t${i}`).join(', ')}`);
  return JSON.stringify(r.rows[0]);
}

beforeAll(async () => {
  const own = await createOwnDatabase('tradeql_fuzz');
  drop = own.drop;
  gw = await startTestGateway({ DATABASE_URL: own.url, DATABASE_REPLICA_URLS: '', SYNC_ENABLED: 'false' });
  pg = new PgClient({ connectionString: own.url });
  await pg.connect();
  known.accountId = 'FUZZ-1';
  await gw.gql(`mutation { createAccount(input: {accountId: "FUZZ-1", name: "fuzz"}) { accountId } }`);
  const placed = await gw.gql(`mutation { submitOrder(input: {accountId: "FUZZ-1", clientOrderId: "f-1", symbol: "FUZZ", side: BUY, type: LIMIT,
    timeInForce: GTC, quantity: "100", limitPrice: "10"}) { orderId } }`);
  known.orderId = placed.data.submitOrder.orderId;
  await gw.gql(`mutation($o: ID!) { executeTrade(input: {orderId: $o, quantity: "1", price: "10"}) { tradeId } }`, { o: known.orderId });
});

afterAll(async () => {
  await pg?.end();
  await gw?.stop();
  await drop?.();
});

const OPERATIONS: Operation[] = [
  { name: 'createAccount', query: `mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId name } }`,
    base: () => ({ i: { accountId: uniqueId('fz'), name: 'fuzz' } }), args: { 'i.accountId': 'string', 'i.name': 'string' } },
  { name: 'submitOrder', query: `mutation($i: SubmitOrderInput!) { submitOrder(input: $i) { orderId status } }`,
    base: () => ({ i: { accountId: known.accountId, clientOrderId: uniqueId('fz'), symbol: 'FUZZ', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '1', limitPrice: '10', strategy: 'fz' } }),
    args: { 'i.accountId': 'id', 'i.clientOrderId': 'string', 'i.symbol': 'string', 'i.side': 'enum', 'i.type': 'enum', 'i.timeInForce': 'enum',
      'i.quantity': 'decimal', 'i.limitPrice': 'decimal', 'i.stopPrice': 'decimal', 'i.strategy': 'string' } },
  { name: 'cancelOrder', query: `mutation($o: ID!, $v: Int) { cancelOrder(orderId: $o, expectedVersion: $v) { status } }`,
    base: () => ({ o: known.orderId, v: 999 }), args: { o: 'id', v: 'int' } },
  { name: 'amendOrder', query: `mutation($o: ID!, $v: Int!, $q: Decimal, $l: Decimal, $s: Decimal) { amendOrder(orderId: $o, expectedVersion: $v, quantity: $q, limitPrice: $l, stopPrice: $s) { version } }`,
    base: () => ({ o: known.orderId, v: 999, q: '5' }), args: { o: 'id', v: 'int', q: 'decimal', l: 'decimal', s: 'decimal' } },
  { name: 'cancelAllOrders', query: `mutation($a: ID!, $s: String) { cancelAllOrders(accountId: $a, symbol: $s) { orderId } }`,
    base: () => ({ a: 'NOBODY', s: 'FUZZ' }), args: { a: 'id', s: 'string' } },
  { name: 'executeTrade', query: `mutation($i: ExecuteTradeInput!) { executeTrade(input: $i) { tradeId } }`,
    base: () => ({ i: { orderId: known.orderId, quantity: '0', price: '10' } }), args: { 'i.orderId': 'id', 'i.quantity': 'decimal', 'i.price': 'decimal', 'i.executedAt': 'time' } },
  { name: 'ingestMarketData', query: `mutation($b: [BarInput!]!) { ingestMarketData(bars: $b) { inserted updated } }`,
    base: () => ({ b: [{ symbol: 'FUZZ', timestamp: '2026-01-05T10:00:00Z', open: '10', high: '9', low: '11', close: '10', volume: '1' }] }),
    args: { 'b.0.symbol': 'string', 'b.0.timestamp': 'time', 'b.0.open': 'decimal', 'b.0.high': 'decimal', 'b.0.low': 'decimal', 'b.0.close': 'decimal', 'b.0.volume': 'decimal', b: 'string' } },
  { name: 'marketData', query: `query($s: String!, $f: DateTime, $t: DateTime, $tf: Timeframe, $n: Int, $a: String) { marketData(symbol: $s, from: $f, to: $t, timeframe: $tf, first: $n, after: $a) { edges { cursor } } }`,
    base: () => ({ s: 'FUZZ' }), args: { s: 'string', f: 'time', t: 'time', tf: 'enum', n: 'int', a: 'string' } },
  { name: 'latestBar', query: `query($s: String!) { latestBar(symbol: $s) { close } }`, base: () => ({ s: 'FUZZ' }), args: { s: 'string' } },
  { name: 'order', query: `query($o: ID!) { order(orderId: $o) { status } }`, base: () => ({ o: known.orderId }), args: { o: 'id' } },
  { name: 'orderByClientOrderId', query: `query($a: ID!, $c: String!) { orderByClientOrderId(accountId: $a, clientOrderId: $c) { orderId } }`,
    base: () => ({ a: known.accountId, c: 'f-1' }), args: { a: 'id', c: 'string' } },
  { name: 'orders', query: `query($a: ID, $s: String, $st: [OrderStatus!], $g: String, $n: Int, $c: String) { orders(accountId: $a, symbol: $s, status: $st, strategy: $g, first: $n, after: $c) { edges { cursor } } }`,
    base: () => ({ a: known.accountId }), args: { a: 'id', s: 'string', st: 'enum', g: 'string', n: 'int', c: 'string' } },
  { name: 'trades', query: `query($a: ID, $s: String, $g: String, $f: DateTime, $t: DateTime, $n: Int, $c: String) { trades(accountId: $a, symbol: $s, strategy: $g, from: $f, to: $t, first: $n, after: $c) { edges { cursor } } }`,
    base: () => ({ a: known.accountId }), args: { a: 'id', s: 'string', g: 'string', f: 'time', t: 'time', n: 'int', c: 'string' } },
  { name: 'positions', query: `query($a: ID!) { positions(accountId: $a) { quantity } }`, base: () => ({ a: known.accountId }), args: { a: 'id' } },
  { name: 'account', query: `query($a: ID!, $n: Int, $c: String) { account(accountId: $a) { orders(first: $n, after: $c) { edges { cursor } } } }`,
    base: () => ({ a: known.accountId }), args: { a: 'id', n: 'int', c: 'string' } },
  { name: 'portfolioSummary', query: `query($a: ID!) { portfolioSummary(accountId: $a) { totalRealizedPnl } }`, base: () => ({ a: known.accountId }), args: { a: 'id' } },
  { name: 'performanceMetrics', query: `query($s: String, $f: Date, $t: Date) { performanceMetrics(strategy: $s, from: $f, to: $t) { strategy } }`,
    base: () => ({}), args: { s: 'string', f: 'time', t: 'time' } },
  { name: 'performanceSummary', query: `query($l: Int) { performanceSummary { recentSlow(limit: $l) { durationMs } } }`, base: () => ({}), args: { l: 'int' } },
];

describe('fuzzing every argument', () => {
  it(`answers ${OPERATIONS.length} operations × ${PER_OPERATION} hostile inputs with known codes, and refused calls change nothing`, async () => {
    let before = await checksum();
    const tally = { calls: 0, ok: 0, refused: 0, byCode: {} as Record<string, number> };
    for (const op of OPERATIONS) {
      const argNames = Object.keys(op.args);
      for (let i = 0; i < PER_OPERATION; i++) {
        const variables = op.base();
        const changes = 1 + rnd.int(Math.min(3, argNames.length));
        for (let c = 0; c < changes; c++) {
          const path = rnd.pick(argNames);
          setPath(variables, path, hostile(op.args[path], known));
        }
        // Now and then as a literal in the document instead of a variable: the parser and literal coercion too.
        const inline = rnd.next() < 0.1 && op.name === 'latestBar';
        const query = inline ? `{ latestBar(symbol: ${JSON.stringify(String(variables.s))}) { close } }` : op.query;
        const res = await fetch(gw.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...gw.auth },
          body: JSON.stringify({ query, variables: inline ? undefined : variables }),
          signal: AbortSignal.timeout(15_000),
        });
        const label = { operation: op.name, variables: JSON.stringify(variables).slice(0, 300) };
        expect({ ...label, status: [200, 400].includes(res.status) ? 'ok' : res.status }).toEqual({ ...label, status: 'ok' });
        const body = (await res.json()) as { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] };
        tally.calls++;
        if (body.errors?.length) {
          for (const e of body.errors) {
            const code = e.extensions?.code ?? 'none';
            tally.byCode[code] = (tally.byCode[code] ?? 0) + 1;
            expect({ ...label, code: KNOWN_CODES.has(code) ? 'known' : code, message: e.message }).toEqual({ ...label, code: 'known', message: expect.any(String) });
            // No SQL, table names or stack of ours (a message may quote the caller's own input back).
            const inputs = stringsIn(variables).filter((v) => v.length > 1).sort((x, y) => y.length - x.length);
            const ours = inputs.flatMap((v) => [JSON.stringify(v), v]).reduce((m, v) => m.split(v).join(''), e.message);
            expect({ ...label, message: ours }).not.toEqual({ ...label, message: expect.stringMatching(/\bselect\b|\binsert\b|execution\.|at \w+ \(|node_modules/i) });
          }
          const after = await checksum();
          expect({ ...label, unchanged: after === before }).toEqual({ ...label, unchanged: true });
          tally.refused++;
        } else {
          tally.ok++;
          before = await checksum();
        }
      }
    }
    expect(tally.calls).toBeGreaterThanOrEqual(2000);
    expect(tally.refused).toBeGreaterThan(tally.calls / 2);
    // Still serving, and still correct.
    expect((await fetch(gw.url.replace('/graphql', '/healthz'))).status).toBe(200);
    expect((await gw.gql(`query($o: ID!) { order(orderId: $o) { filledQuantity } }`, { o: known.orderId })).data.order.filledQuantity).toBe('1');
  }, 600_000);
});
