/**
 * The browser pages in headless Chromium (Debian's chromium + playwright-core): the dashboard draws bars, shows a
 * fill committed through the API in its tape within 2 s and resumes after a dropped connection without losing one;
 * GraphiQL loads with nothing from another origin and runs a query and a subscription. Without a browser: the pages
 * stay out of the API's way (POST and non-HTML GETs of /graphql), and GraphiQL is off in production or when disabled.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startTestGateway, uniqueId, type TestGateway } from '../support/gateway';
import { waitForStreams } from '../support/subscriber';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = path.resolve(__dirname, '..', '..');
const RESULTS = path.join(ROOT, 'test-results');
const BROWSER_HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
/** A browser test on a busy machine (two jest workers, the gateway, Chromium): more than jest's default 60 s. */
const BROWSER_TEST_MS = 150_000;
const tag = `${process.pid % 1000}${Date.now().toString(36).slice(-5)}`.toUpperCase();

let gw: TestGateway;
let browser: Browser;

async function mutate(query: string, variables: Record<string, unknown>): Promise<any> {
  const r = await gw.post(query, variables);
  if (r.errors) throw new Error(`${query.slice(0, 60)}…: ${JSON.stringify(r.errors)}`);
  return r.data;
}

function minute(offset: number): Date {
  const now = Math.floor(Date.now() / 60_000) * 60_000;
  return new Date(now + offset * 60_000);
}

function bar(symbol: string, at: Date, i: number) {
  const open = 100 + Math.round(Math.sin(i / 3) * 300) / 100;
  const close = open + ((i % 5) - 2) / 10;
  return {
    symbol,
    timestamp: at.toISOString(),
    open: open.toFixed(2),
    high: (Math.max(open, close) + 0.35).toFixed(2),
    low: (Math.min(open, close) - 0.3).toFixed(2),
    close: close.toFixed(2),
    volume: String(1000 + i * 37),
  };
}

async function ingest(bars: ReturnType<typeof bar>[]): Promise<void> {
  await mutate(`mutation($bars: [BarInput!]!) { ingestMarketData(bars: $bars) { inserted updated } }`, { bars });
}

async function fill(accountId: string, symbol: string, side: 'BUY' | 'SELL', quantity: string, price: string): Promise<{ orderId: string; tradeId: string }> {
  const submitted = await mutate(`mutation($input: SubmitOrderInput!) { submitOrder(input: $input) { orderId } }`, {
    input: { accountId, clientOrderId: uniqueId('web'), symbol, side, type: 'LIMIT', timeInForce: 'GTC', quantity, limitPrice: price, strategy: 'web-test' },
  });
  const { orderId } = submitted.submitOrder;
  const filled = await mutate(`mutation($input: ExecuteTradeInput!) { executeTrade(input: $input) { tradeId } }`, { input: { orderId, price } });
  return { orderId, tradeId: filled.executeTrade.tradeId };
}

/** Console errors, uncaught exceptions and requests to other origins of one page. */
function watch(page: Page, origin: string) {
  const seen = { errors: [] as string[], foreign: [] as string[], requests: [] as string[], posts: [] as string[] };
  page.on('console', (message) => {
    if (message.type() === 'error') seen.errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => seen.errors.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => {
    if (new URL(request.url()).origin === origin) seen.errors.push(`request failed: ${request.url()} ${request.failure()?.errorText}`);
  });
  page.on('request', (request) => {
    const url = new URL(request.url());
    seen.requests.push(request.url());
    if (request.method() === 'POST') seen.posts.push(request.url());
    if (url.protocol !== 'data:' && url.protocol !== 'blob:' && url.origin !== origin) seen.foreign.push(request.url());
  });
  return seen;
}

async function newContext(origin: string): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  // As with no internet: anything for another origin is refused (and recorded by watch()).
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    return url.origin === origin || url.protocol === 'data:' || url.protocol === 'blob:' ? route.continue() : route.abort('internetdisconnected');
  });
  return context;
}

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not at ${CHROMIUM}: install Debian's package (apt-get install -y chromium; .ci/run does) or set CHROMIUM_PATH`);
  }
  // The pages are bundled from web/ by esbuild; only when they are missing or older than their sources.
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-web.mjs'), '--if-stale'], { stdio: 'inherit' });
  gw = await startTestGateway({ SYNC_ENABLED: 'false' });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  fs.mkdirSync(RESULTS, { recursive: true });
}, 240_000); // a build of the pages (when stale) on a busy machine

afterAll(async () => {
  await browser?.close();
  if (gw) {
    await gw.runtime.db.em().execute('delete from data_ingestion.market_data where symbol like ?', [`%${tag}`]);
    await gw.stop();
  }
});

describe('dashboard', () => {
  it('draws the bars, shows a fill in the tape within 2 s, follows the account, and resumes after a drop', async () => {
    const symbol = `WEB${tag}`;
    const accountId = uniqueId('web');
    await mutate(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`, { i: { accountId, name: 'web dashboard' } });
    await ingest(Array.from({ length: 40 }, (_, i) => bar(symbol, minute(i - 40), i)));

    const origin = new URL(gw.url).origin;
    const context = await newContext(origin);
    // The key and account as a user would have entered them (kept in the page's storage).
    await context.addInitScript(
      ([key, account]) => (globalThis as any).localStorage.setItem('tradeql.dashboard', JSON.stringify({ apiKey: key, accountId: account })),
      [gw.adminKey, accountId] as const,
    );
    const page = await context.newPage();
    const seen = watch(page, origin);
    const streams = gw.gateway.hub.size;
    const response = await page.goto(`${origin}/dashboard?symbol=${symbol}&timeframe=M1`);
    expect(response?.status()).toBe(200);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
    await page.waitForSelector('#connection[data-state="connected"]', { timeout: 10_000 });
    expect(Number(await page.getAttribute('#chart', 'data-bars'))).toBe(40);
    // bars, trades, orders and positions: live on the gateway before anything is committed
    await waitForStreams(gw.gateway.hub, streams + 4);

    // A fill through the API: in the tape within 2 s, in the account's orders and positions.
    const first = await fill(accountId, symbol, 'BUY', '25', '101.5');
    const committed = Date.now();
    await page.waitForSelector(`#tape-rows tr[data-trade-id="${first.tradeId}"]`, { timeout: 2000 });
    const shownAfterMs = Date.now() - committed;
    expect(shownAfterMs).toBeLessThan(2000);
    const row = await page.textContent(`#tape-rows tr[data-trade-id="${first.tradeId}"]`);
    expect(row).toContain(symbol);
    expect(row).toContain('BUY');
    expect(row).toContain('101.5');
    await page.waitForSelector(`#order-rows tr[data-order-id="${first.orderId}"][data-status="FILLED"]`, { timeout: 15_000 });
    await page.waitForFunction((s) => (globalThis as any).document.querySelector(`#position-rows tr[data-symbol="${s}"]`)?.textContent?.includes('25'), symbol, { timeout: 15_000 });

    // A new 1-minute bar extends the chart.
    await ingest([bar(symbol, minute(0), 41)]);
    await page.waitForSelector('#chart[data-bars="41"]', { timeout: 15_000 });

    await page.waitForTimeout(600); // the row highlight fades, the PnL refresh lands
    await page.screenshot({ path: path.join(RESULTS, 'dashboard.png') });

    // The connection drops; a fill committed meanwhile arrives after the reconnect (afterSequence), once.
    await page.evaluate(() => (globalThis as any).tradeqlDashboard.drop(1500));
    await page.waitForSelector('#connection:not([data-state="connected"])', { timeout: 2000 });
    const missed = await fill(accountId, symbol, 'SELL', '10', '102');
    await page.waitForSelector('#connection[data-state="connected"]', { timeout: 10_000 });
    await page.waitForSelector(`#tape-rows tr[data-trade-id="${missed.tradeId}"]`, { timeout: 15_000 });
    const after = await fill(accountId, symbol, 'SELL', '5', '102.25');
    await page.waitForSelector(`#tape-rows tr[data-trade-id="${after.tradeId}"]`, { timeout: 2000 });
    const ids = await page.$$eval('#tape-rows tr', (rows) => rows.map((r) => (r as any).dataset.tradeId as string));
    expect(ids.slice(0, 3)).toEqual([after.tradeId, missed.tradeId, first.tradeId]);
    expect(new Set(ids).size).toBe(ids.length);

    // At 5 minutes a live 1-minute bar updates its bucket (asked for again: a minute corrected twice counts once).
    const m5 = await context.newPage();
    const m5seen = watch(m5, origin);
    const before = gw.gateway.hub.size;
    await m5.goto(`${origin}/dashboard?symbol=${symbol}&timeframe=M5`);
    await m5.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
    await waitForStreams(gw.gateway.hub, before + 4);
    const next = { symbol, timestamp: minute(1).toISOString(), open: '123', high: '124', low: '122', close: '123.45', volume: '500' };
    await ingest([next]);
    await ingest([{ ...next, volume: '700' }]); // the same minute again, corrected
    const bucket = Math.floor(minute(1).getTime() / 300_000) * 300;
    await m5.waitForFunction(
      ([time, close]) => {
        const last = (globalThis as any).tradeqlDashboard.lastBar;
        return last?.time === time && last.close === close;
      },
      [bucket, 123.45] as const,
      { timeout: 15_000 },
    );
    // Its volume is the gateway's aggregate of the bucket, with the corrected minute counted once.
    const api = await gw.gql(`query($s: String!, $from: DateTime) { marketData(symbol: $s, from: $from, timeframe: M5) { edges { node { volume high } } } }`, {
      s: symbol,
      from: new Date(bucket * 1000).toISOString(),
    });
    const [{ node: aggregate }] = api.data.marketData.edges;
    await m5.waitForFunction((volume) => (globalThis as any).tradeqlDashboard.lastBar?.volume === volume, Number(aggregate.volume), { timeout: 15_000 });
    expect((await m5.evaluate(() => (globalThis as any).tradeqlDashboard.lastBar)).high).toBe(Number(aggregate.high));
    expect(m5seen.errors).toEqual([]);

    expect(seen.errors).toEqual([]);
    expect(seen.foreign).toEqual([]);
    await context.close();
  }, BROWSER_TEST_MS);
});

describe('dashboard without a key', () => {
  it('asks for one and sends nothing', async () => {
    const origin = new URL(gw.url).origin;
    const context = await newContext(origin);
    const page = await context.newPage();
    const seen = watch(page, origin);
    await page.goto(`${origin}/dashboard`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
    expect(await page.getAttribute('#connection', 'data-state')).toBe('offline');
    expect(await page.textContent('#chart-status')).toContain('Enter an API key');
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.id)).toBe('api-key');
    expect(seen.posts).toEqual([]);
    expect(seen.errors).toEqual([]);
    await context.close();
  }, BROWSER_TEST_MS);
});

describe('GraphiQL', () => {
  it('opens with a place for the key, and loads the schema as soon as a key is put there', async () => {
    const origin = new URL(gw.url).origin;
    const context = await newContext(origin);
    const page = await context.newPage();
    const seen = watch(page, origin);
    const response = await page.goto(gw.url);
    expect(response?.status()).toBe(200);
    await page.waitForSelector('.graphiql-query-editor .monaco-editor', { timeout: 20_000 });
    expect(await page.getAttribute('.graphiql-editor-tools button[data-name="headers"]', 'class')).toContain('active');
    await waitFor(async () => (await headers(page))?.includes('"Authorization": "Bearer <paste key>"') ?? false, 'no placeholder in the header editor', 10_000);
    // No key, no schema request (it would only be refused).
    expect(seen.posts).toEqual([]);

    const schema = page.waitForResponse((r) => r.url() === gw.url && (r.request().postData() ?? '').includes('IntrospectionQuery'), { timeout: 10_000 });
    await setHeaders(page, JSON.stringify({ Authorization: `Bearer ${gw.adminKey}` }, null, 2));
    expect((await schema).status()).toBe(200);
    expect(seen.errors).toEqual([]);
    expect(seen.foreign).toEqual([]);
    await context.close();
  }, BROWSER_TEST_MS);

  it('loads from the gateway alone, with no console error, and runs a query and a subscription', async () => {
    const symbol = `GQ${tag}`;
    await ingest([bar(symbol, minute(-2), 1)]);
    // The dashboard's subscriptions are gone (counting new ones starts from none).
    await waitFor(() => gw.gateway.hub.size === 0, 'the dashboard test left subscriptions open');
    const origin = new URL(gw.url).origin;
    const context = await newContext(origin);
    // The key in the header editor, as GraphiQL keeps it when "persist headers" is on: the schema is asked with it.
    await context.addInitScript((key) => (globalThis as any).localStorage.setItem('graphiql:headers', JSON.stringify({ Authorization: `Bearer ${key}` })), gw.adminKey);
    const page = await context.newPage();
    const seen = watch(page, origin);
    const subscription = `subscription Bars { marketDataUpdated(symbols: ["${symbol}"]) { symbol close } }`;
    const response = await page.goto(`${gw.url}?query=${encodeURIComponent(subscription)}`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-type']).toMatch(/^text\/html/);
    await page.waitForSelector('.graphiql-container', { timeout: 20_000 });
    await page.waitForSelector('.graphiql-query-editor .monaco-editor', { timeout: 20_000 });

    // The subscription, over graphql-ws from the page (with the key of the header editor as connectionParams).
    const streams = gw.gateway.hub.size;
    await page.click('.graphiql-execute-button');
    await waitForStreams(gw.gateway.hub, streams + 1);
    await ingest([bar(symbol, minute(-1), 2)]);
    await page.waitForFunction((s) => (globalThis as any).document.querySelector('.graphiql-response')?.textContent?.includes(s), symbol, { timeout: 10_000 });
    await page.screenshot({ path: path.join(RESULTS, 'graphiql.png') });

    // Stopped, then a query over HTTP in its place.
    await page.click('.graphiql-execute-button');
    await waitFor(() => gw.gateway.hub.size === streams, 'the subscription did not end');
    await page.evaluate((query) => {
      const models: any[] = (globalThis as any).__MONACO.editor.getModels();
      models.find((m) => (m.getValue() as string).startsWith('subscription Bars')).setValue(query);
    }, `query Latest { latestBar(symbol: "${symbol}") { symbol volume } }`);
    // GraphiQL has taken the edit once its tab is named after the operation.
    await page.waitForFunction(() => (globalThis as any).document.querySelector('.graphiql-tab-active')?.textContent?.includes('Latest'), undefined, { timeout: 15_000 });
    await page.click('.graphiql-execute-button');
    await page.waitForFunction(
      (s) => {
        const text: string = (globalThis as any).document.querySelector('.graphiql-response')?.textContent ?? '';
        return text.includes('"latestBar"') && text.includes(s);
      },
      symbol,
      { timeout: 10_000 },
    );

    // Monaco's workers came from the gateway too.
    expect(seen.requests.some((url) => url.startsWith(`${origin}/web/workers/`))).toBe(true);
    expect(seen.foreign).toEqual([]);
    expect(seen.errors).toEqual([]);
    await context.close();
  }, BROWSER_TEST_MS);
});

async function waitFor(condition: () => boolean | Promise<boolean>, message: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(message);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The header editor's text (GraphiQL keeps Monaco in a global; the headers' model is the JSON with Authorization). */
async function setHeaders(page: Page, text: string): Promise<void> {
  await page.evaluate((value) => {
    const models: any[] = (globalThis as any).__MONACO.editor.getModels();
    models.find((m) => (m.getValue() as string).trimStart().startsWith('{') && (m.getValue() as string).includes('"Authorization"')).setValue(value);
  }, text);
}

async function headers(page: Page): Promise<string | undefined> {
  return page.evaluate(() => {
    const models: any[] = (globalThis as any).__MONACO?.editor.getModels() ?? [];
    return models.map((m) => m.getValue() as string).find((text) => text.trimStart().startsWith('{') && text.includes('"Authorization"'));
  });
}

describe('client types', () => {
  it('are what graphql-codegen makes of schema.graphql and the operations now (npm run codegen)', async () => {
    // In a process of its own: the codegen CLI loads ES modules that jest's CommonJS runtime does not.
    const script = `import { generate } from '@graphql-codegen/cli'; import config from './codegen';
      generate({ ...config, cwd: process.cwd(), silent: true } as any, false)
        .then((files: any[]) => process.stdout.write(JSON.stringify(files.map((f) => ({ filename: f.filename, content: f.content })))));`;
    // Not execFileSync: a blocked event loop stalls the in-process gateway, whose idle keep-alive sockets then reset.
    const { stdout } = await promisify(execFile)(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['-e', script], { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
    const outputs = JSON.parse(stdout) as { filename: string; content: string }[];
    expect(outputs.map((o) => o.filename).sort()).toEqual(['web/generated/graphql.ts', 'web/generated/schema.ts']);
    for (const output of outputs) {
      expect([output.filename, fs.readFileSync(path.join(ROOT, output.filename), 'utf8')]).toEqual([output.filename, output.content]);
    }
  });
});

describe('serving', () => {
  async function get(url: string, accept: string) {
    const res = await fetch(url, { headers: { accept } });
    return { status: res.status, type: res.headers.get('content-type') ?? '', csp: res.headers.get('content-security-policy') ?? '', body: await res.text() };
  }

  it('leaves POST and non-HTML GETs of /graphql to the API; pages get their own security policy', async () => {
    const post = await gw.post('{ __typename }');
    expect(post).toMatchObject({ status: 200, data: { __typename: 'Query' } });
    const json = await fetch(`${gw.url}?query=${encodeURIComponent('{ __typename }')}`, { headers: { accept: 'application/json', 'apollo-require-preflight': 'true', ...gw.auth } });
    expect(json.headers.get('content-type')).toMatch(/json/);
    expect(await json.json()).toMatchObject({ data: { __typename: 'Query' } });
    const any = await get(gw.url, '*/*');
    expect(any.type).not.toMatch(/html/);

    const page = await get(gw.url, BROWSER_HTML);
    expect(page).toMatchObject({ status: 200, type: expect.stringMatching(/^text\/html/) });
    expect(page.body).toContain('<title>tradeql · GraphiQL</title>');
    expect(page.csp).toContain("script-src 'self'");
    expect(page.csp).toContain(`connect-src 'self' ws://${new URL(gw.url).host} wss://${new URL(gw.url).host}`);
    expect(page.body).not.toMatch(/(src|href)="(https?:)?\/\//);
    const dashboard = await get(`${new URL(gw.url).origin}/dashboard`, BROWSER_HTML);
    expect(dashboard.status).toBe(200);
    expect(dashboard.body).toContain('<a id="graphiql-link" href="/graphql">');
    expect((await get(`${new URL(gw.url).origin}/web/nothing.js`, '*/*')).status).toBe(404);
  });

  it('has GraphiQL off in production unless enabled, and off when disabled; the dashboard off when disabled', async () => {
    const cases: [Record<string, string>, boolean, boolean][] = [
      [{ NODE_ENV: 'production' }, false, true],
      [{ NODE_ENV: 'production', GRAPHIQL_ENABLED: 'true' }, true, true],
      [{ GRAPHIQL_ENABLED: 'false', DASHBOARD_ENABLED: 'false' }, false, false],
    ];
    for (const [env, graphiql, dashboard] of cases) {
      const other = await startTestGateway({ SYNC_ENABLED: 'false', ...env });
      try {
        const page = await get(other.url, BROWSER_HTML);
        expect([env, page.type.startsWith('text/html') && page.body.includes('GraphiQL')]).toEqual([env, graphiql]);
        if (!graphiql) expect(page.body).not.toContain('<script');
        const board = await get(`${new URL(other.url).origin}/dashboard`, BROWSER_HTML);
        expect([env, board.status]).toEqual([env, dashboard ? 200 : 404]);
        if (dashboard) expect(board.body).toContain(graphiql ? '<a id="graphiql-link" href="/graphql">' : '<a id="graphiql-link" href="/graphql" hidden>');
      } finally {
        await other.stop();
      }
    }
  });
});
