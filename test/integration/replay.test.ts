/**
 * `tradeql replay`: stored bars fed back through ingestion, stamped whole days after the newest, paced by the speed,
 * in a loop until aborted; and the command itself. Symbols are unique to this file, so it shares the test database.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { create as createApiKey } from '../../src/modules/accounts/api-keys.service';
import { replayBars, type ReplayProgress } from '../../src/modules/ops/replay';
import { createLogger } from '../../src/platform/logger';
import { ReadSession } from '../../src/platform/read-session';
import type { Scope } from '../../src/platform/scope';
import { testDatabase } from '../support/env';
import { startTestGateway, type TestGateway } from '../support/gateway';

const run = promisify(execFile);
const BIN = path.join(__dirname, '..', '..', 'bin', 'tradeql.js');
const DAY = 86_400_000;
const START = Date.parse('2026-11-24T14:30:00Z');
const INGEST = `mutation($bars: [BarInput!]!) { ingestMarketData(bars: $bars) { inserted updated } }`;
const BARS = `query($s: String!, $from: DateTime) { marketData(symbol: $s, from: $from, first: 100) { edges { node { timestamp open high low close volume } } } }`;

let gw: TestGateway;
let headers: Record<string, string>;
let scope: Scope;
const tag = Math.random().toString(36).slice(2, 7).toUpperCase();

beforeAll(async () => {
  gw = await startTestGateway();
  headers = { authorization: `Bearer ${(await createApiKey(gw.runtime.db, { role: 'admin', name: 'replay test' })).key}` };
  const db = gw.runtime.db;
  scope = { db, reads: new ReadSession(db, 'primary'), log: createLogger('silent'), outbox: { wake: () => gw.gateway.relay.wake() } };
});
afterAll(async () => {
  await gw?.stop();
});

/** `count` bars of `symbol` a minute apart from START + offset minutes; close = 100 + i. */
async function store(symbol: string, count: number, offsetMinutes = 0): Promise<void> {
  const bars = Array.from({ length: count }, (_, i) => ({
    symbol, timestamp: new Date(START + (offsetMinutes + i) * 60_000).toISOString(),
    open: `${100 + i}`, high: `${101 + i}.5`, low: `${99 + i}.25`, close: `${100 + i}`, volume: `${10 * (i + 1)}`,
  }));
  const r = await gw.post(INGEST, { bars }, headers);
  expect(r.errors).toBeUndefined();
}

async function stored(symbol: string, fromMs: number) {
  const r = await gw.gql(BARS, { s: symbol, from: new Date(fromMs).toISOString() }, headers);
  expect(r.errors).toBeUndefined();
  return r.data.marketData.edges.map((e: any) => e.node);
}

it('replays the bars after the newest, a whole day later, at the speed asked, with progress', async () => {
  const [a, b] = [`RA${tag}`, `RB${tag}`];
  await store(a, 5);
  await store(b, 3, 2); // b trades in minutes 2..4 only
  const progress: ReplayProgress[] = [];
  const started = Date.now();
  // 600x: a market minute every 100 ms.
  const report = await replayBars(scope, gw.gateway.services.marketData, { symbols: [a, b], speed: 600, onProgress: (p) => progress.push(p) });
  const took = Date.now() - started;
  expect(report).toMatchObject({ bars: 8, minutes: 5, passes: 1, first: new Date(START + DAY).toISOString(), last: new Date(START + DAY + 4 * 60_000).toISOString() });
  expect(took).toBeGreaterThanOrEqual(380);
  expect(progress.map((p) => p.done)).toEqual([1, 2, 4, 6, 8]);
  expect(progress.every((p) => p.total === 8 && p.pass === 0)).toBe(true);
  // The same prices, a day later.
  const replayed = await stored(a, START + DAY);
  expect(replayed).toHaveLength(5);
  expect(replayed[0]).toEqual({ timestamp: new Date(START + DAY).toISOString().replace('.000Z', 'Z'), open: '100', high: '101.5', low: '99.25', close: '100', volume: '10' });
  expect((await stored(b, START + DAY)).map((x: any) => x.close)).toEqual(['100', '101', '102']);
});

it('in a loop, each pass comes after the previous one, until aborted', async () => {
  const symbol = `RL${tag}`;
  await store(symbol, 3);
  const controller = new AbortController();
  const stamps: string[] = [];
  const report = await replayBars(scope, gw.gateway.services.marketData, {
    symbols: [symbol], speed: 60_000, loop: true, signal: controller.signal,
    onProgress: (p) => {
      stamps.push(p.timestamp);
      if (stamps.length === 7) controller.abort();
    },
  });
  expect(report.bars).toBe(7);
  expect(report.passes).toBe(3);
  const sorted = [...stamps].sort();
  expect(stamps).toEqual(sorted);
  // Pass 2 starts a day after pass 1 did: the time of day is kept.
  expect(Date.parse(stamps[3]) - Date.parse(stamps[0])).toBe(DAY);
});

it('refuses what it cannot replay', async () => {
  await expect(replayBars(scope, gw.gateway.services.marketData, { symbols: [`NONE${tag}`], speed: 60 })).rejects.toThrow(/no stored bars/);
  await expect(replayBars(scope, gw.gateway.services.marketData, { symbols: [`RA${tag}`], speed: 0 })).rejects.toThrow(/speed/);
});

it('runs as `tradeql replay` and prints its report as the last line', async () => {
  const symbol = `RC${tag}`;
  await store(symbol, 4);
  const { databaseUrl } = testDatabase();
  const env = { ...process.env, DATABASE_URL: databaseUrl, DATABASE_REPLICA_URLS: '', LOG_LEVEL: 'warn', REDIS_URL: '' };
  const { stdout } = await run(process.execPath, [BIN, 'replay', '--symbols', symbol, '--from', new Date(START + 60_000).toISOString(), '--speed', '6000'], { env });
  const report = JSON.parse(stdout.trim().split('\n').pop()!);
  expect(report).toMatchObject({ bars: 3, minutes: 3, passes: 1, source: { from: new Date(START + 60_000).toISOString() }, first: new Date(START + 60_000 + DAY).toISOString() });
  const bad = await run(process.execPath, [BIN, 'replay', '--symbols', symbol, '--speed', 'fast'], { env }).catch((e) => e);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/speed/);
}, 60_000);
