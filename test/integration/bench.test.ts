/**
 * `npm run bench` works from a checkout: a short run of every scenario on the small data set, with every system
 * (the gateway, the limit, PostGraphile). Its checks are the assertions that matter: the limit answers with the
 * gateway's JSON byte for byte and PostGraphile with the same rows, every write and ingestion baseline succeeds once,
 * and the nested orders query sends the same number of statements whatever the page size. The figures of so short a
 * run mean nothing; only that each system was measured, and that reads failed nowhere.
 *
 * The small data set is reused when present (the bench's own rule); a database this test created is dropped after it.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { testEnv } from '../support/env';

const ROOT = path.join(__dirname, '..', '..');
const DATABASE = 'tradeql_bench_small';
const TSX = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');

let tmp: string;
let createdHere = false;

async function admin<T>(work: (pg: Client) => Promise<T>): Promise<T> {
  const pg = new Client({ connectionString: testEnv().adminUrl });
  await pg.connect();
  try {
    return await work(pg);
  } finally {
    await pg.end();
  }
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tradeql-bench-test-'));
  const existing = await admin((pg) => pg.query('select 1 from pg_database where datname = $1', [DATABASE]));
  createdHere = existing.rowCount === 0;
});

afterAll(async () => {
  fs.rmSync(tmp, { recursive: true, force: true });
  if (createdHere) await admin((pg) => pg.query(`drop database if exists ${DATABASE} with (force)`));
});

interface BenchRow {
  scenario: string;
  system: string;
  unit: string;
  throughput: number;
  statementsPerRequest: number;
  errors: Record<string, number>;
}

it('runs every scenario against every system, and its checks pass', async () => {
  const file = path.join(tmp, 'result.json');
  const args = [TSX, 'bench/run.ts', '--quick', '--duration', '1', '--warmup', '1', '--timeout', '400', '--results', file, '--pg', testEnv().adminUrl, '--replica-port', String(testEnv().replicaPort)];
  const run = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile(process.execPath, args, { cwd: ROOT, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, output: `${stdout}\n${stderr}` });
    });
  });
  if (run.code !== 0) {
    const problems = run.output.split('\n').filter((line) => /CHECK|INCOMPLETE|failed/.test(line)).join('\n');
    throw new Error(`the bench exited with ${run.code}:\n${problems}\n…\n${run.output.slice(-3000)}`);
  }

  const result = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    incomplete?: string;
    checks: { problems: string[]; reads: Record<string, Record<string, { rows: number; sameJsonAsGateway?: boolean; sameRowsAsGateway: boolean }>>; writes: Record<string, Record<string, { ok: boolean }>>; statementsByPageSize: Record<string, Record<string, number | string>> };
    rows: BenchRow[];
  };
  expect(result.incomplete).toBeUndefined();
  expect(result.checks.problems).toEqual([]);

  // every read answered alike by the three systems
  expect(Object.keys(result.checks.reads).sort()).toEqual(['md-h1', 'md-m1', 'orders', 'portfolio']);
  for (const [scenario, bySystem] of Object.entries(result.checks.reads)) {
    expect({ scenario, limit: bySystem.limit?.sameJsonAsGateway, peer: bySystem.peer?.sameRowsAsGateway }).toEqual({ scenario, limit: true, peer: true });
    expect(bySystem.gateway.rows).toBeGreaterThan(0);
  }
  // every write pair and ingestion batch succeeded once on each system
  for (const [scenario, bySystem] of Object.entries(result.checks.writes)) {
    for (const [system, check] of Object.entries(bySystem)) expect({ scenario, system, ok: check.ok }).toEqual({ scenario, system, ok: true });
  }
  // the N+1 test: the gateway's statements per orders page do not grow with the page size (1000 is over its limit)
  const orders = result.checks.statementsByPageSize;
  const gatewayCounts = ['10', '100', '300'].map((first) => orders[first].gateway);
  expect(new Set(gatewayCounts).size).toBe(1);
  expect(gatewayCounts[0]).toBeLessThanOrEqual(4);
  expect(String(orders['1000'].gateway)).toMatch(/^refused/);

  // every system was measured on every scenario, and no read failed
  const systems = (scenario: string) => result.rows.filter((r) => r.scenario === scenario).map((r) => r.system).sort();
  expect(systems('orders')).toEqual(['gateway', 'limit', 'peer']);
  expect(systems('write-hot')).toEqual(['fn', 'gateway', 'raw']);
  expect(systems('ingest-10k')).toEqual(['copy', 'gateway']);
  for (const row of result.rows) {
    expect({ scenario: row.scenario, system: row.system, measured: row.throughput > 0 }).toEqual({ scenario: row.scenario, system: row.system, measured: true });
    if (row.unit === 'req/s') expect({ scenario: row.scenario, system: row.system, errors: row.errors }).toEqual({ scenario: row.scenario, system: row.system, errors: {} });
  }
}, 420_000);
