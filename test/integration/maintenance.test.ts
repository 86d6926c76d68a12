/**
 * `tradeql maintain`: partitions, retention, vacuum-analyze and analyze, through the real command (a child process)
 * and the functions directly, on a database of this file's own (retention deletes rows other files might read).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { createOwnDatabase } from '../support/env';
import { loadConfig } from '../../src/config';
import { openDatabase, type Runtime } from '../../src/app';
import { createLogger } from '../../src/platform/logger';
import { monthsAhead, partitionName } from '../../src/modules/ops/partitions';
import { applyRetention } from '../../src/modules/ops/retention';
import { analyze, vacuumAnalyze, UnknownTableError } from '../../src/modules/ops/vacuum';

const exec = promisify(execFile);
const BIN = path.join(__dirname, '..', '..', 'bin', 'tradeql.js');

let own: { url: string; drop(): Promise<void> };
let pg: Client;
let runtime: Runtime;

/** Runs `tradeql maintain ...`; the JSON report is stdout's last line (log lines, if any, come before it). */
async function maintain(args: string[], logLevel = 'warn'): Promise<{ report: any; stdout: string }> {
  const env = { ...process.env, DATABASE_URL: own.url, DATABASE_REPLICA_URLS: '', REDIS_URL: '', LOG_LEVEL: logLevel };
  const { stdout } = await exec(process.execPath, [BIN, 'maintain', ...args], { env });
  const lines = stdout.trim().split('\n');
  return { report: JSON.parse(lines[lines.length - 1]), stdout };
}

async function failing(args: string[]): Promise<{ code: number; stderr: string }> {
  const env = { ...process.env, DATABASE_URL: own.url, DATABASE_REPLICA_URLS: '', REDIS_URL: '', LOG_LEVEL: 'silent' };
  return exec(process.execPath, [BIN, 'maintain', ...args], { env }).then(
    () => ({ code: 0, stderr: '' }),
    (e) => ({ code: e.code, stderr: e.stderr }),
  );
}

async function one<T = any>(sql: string, params: unknown[] = []): Promise<T> {
  return (await pg.query(sql, params)).rows[0];
}

beforeAll(async () => {
  own = await createOwnDatabase('tradeql_maint');
  pg = new Client({ connectionString: own.url });
  await pg.connect();
  await pg.query(`set timezone = 'UTC'`);
  runtime = await openDatabase(loadConfig({ DATABASE_URL: own.url, LOG_LEVEL: 'silent' }), createLogger('silent'));
});

afterAll(async () => {
  await runtime?.close();
  await pg?.end();
  await own?.drop();
});

describe('maintain partitions', () => {
  const monthStart = (offset: number) => monthsAhead(new Date(), offset)[offset];
  const midMonth = (offset: number) => `${monthStart(offset).slice(0, 8)}10T12:00:00Z`;
  const partitionOf = async (ts: string) =>
    (await one<{ part: string }>(`select tableoid::regclass::text as part from data_ingestion.market_data where symbol = 'MAINT' and "timestamp" = $1`, [ts])).part;

  it('creates this month and the next 5, moves waiting bars out of the default partition, and is idempotent', async () => {
    const expected = monthsAhead(new Date(), 5).map(partitionName);
    // The migration creates up to +3: +4 and +5 are new, their bars wait in the default partition; +8 stays there.
    expect(await one(`select to_regclass($1) as r`, [`data_ingestion.${partitionName(monthStart(4))}`])).toEqual({ r: null });
    for (const [offset, minutes] of [[4, 3], [5, 2], [8, 1]]) {
      for (let i = 0; i < minutes; i++) {
        const ts = new Date(Date.parse(midMonth(offset)) + i * 60_000).toISOString();
        await pg.query(
          `insert into data_ingestion.market_data (symbol, "timestamp", open, high, low, close, volume) values ('MAINT', $1, 10, 11, 9, 10.5, 100)`,
          [ts],
        );
      }
    }
    const before = await one(`select count(*)::int as n, sum(close)::text as s from data_ingestion.market_data`);
    expect(await partitionOf(midMonth(4))).toBe('data_ingestion.market_data_default');
    expect(await one(`select count(*)::int as n from data_ingestion.market_data_default`)).toEqual({ n: 6 });

    const { report, stdout } = await maintain(['partitions', '--ahead', '5']);
    expect(report.partitions).toEqual(expected);
    expect(report.created).toEqual(expected.slice(4));
    expect(report.existed).toEqual(expected.slice(0, 4));
    expect(report.defaultRows).toBe(1);
    expect(report.defaultMonths).toEqual([monthStart(8).slice(0, 7)]);
    // The leftover row is worth a warning line in the log.
    expect(stdout).toMatch(/default partition/);

    const children = await pg.query(
      `select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'data_ingestion.market_data'::regclass`,
    );
    const names = children.rows.map((r) => r.relname);
    for (const name of expected) expect(names).toContain(name);
    expect(await partitionOf(midMonth(4))).toBe(`data_ingestion.${partitionName(monthStart(4))}`);
    expect(await partitionOf(midMonth(5))).toBe(`data_ingestion.${partitionName(monthStart(5))}`);
    expect(await partitionOf(midMonth(8))).toBe('data_ingestion.market_data_default');
    expect(await one(`select count(*)::int as n, sum(close)::text as s from data_ingestion.market_data`)).toEqual(before);

    const again = await maintain(['partitions', '--ahead', '5']);
    expect(again.report.created).toEqual([]);
    expect(again.report.existed).toEqual(expected);
    expect(await one(`select count(*)::int as n, sum(close)::text as s from data_ingestion.market_data`)).toEqual(before);
  });
});

describe('maintain retention', () => {
  const OLD = 12_345;
  const checksum = (table: string, where = 'true') =>
    one(`select count(*)::int as n, coalesce(sum(id), 0)::text as ids,
                md5(coalesce(string_agg(md5(row(id, "timestamp", level, service, event_type, message, correlation_id, details)::text), ',' order by id), '')) as sum
         from logging.${table} where ${where}`);
  const insertLogs = (count: number, age: string) =>
    pg.query(
      `insert into logging.system_logs ("timestamp", level, service, event_type, message, correlation_id, details)
       select now() - $2::interval - g * interval '1 second', (array['INFO','WARN','ERROR'])[1 + g % 3], 'svc-' || g % 7,
              case when g % 5 = 0 then null else 'EVT_' || g % 11 end, 'message ' || g, md5(g::text),
              case when g % 4 = 0 then null else jsonb_build_object('g', g, 'tags', jsonb_build_array('a', g % 3)) end
       from generate_series(1, $1::int) g`,
      [count, age],
    );

  it('archives old system logs batch by batch (archived = deleted), prunes published outbox rows, keeps the rest', async () => {
    await insertLogs(200, '1 minute');
    await insertLogs(OLD, '40 days');
    await insertLogs(300, '29 days'); // inside the 30 days: kept
    const old = await checksum('system_logs', `"timestamp" < now() - interval '30 days'`);
    const recent = await checksum('system_logs', `"timestamp" >= now() - interval '30 days'`);
    expect(old.n).toBe(OLD);
    expect(recent.n).toBe(500);

    // Written that long ago and numbered in that order (or not numbered); published: at or below the watermark.
    const outbox = (count: number, writtenAgo: string, numbered = true) =>
      pg.query(
        `with n as (update execution.outbox_state set last_sequence = last_sequence + $1 where $3 returning last_sequence - $1 as last)
         insert into execution.outbox (event_id, topic, payload, created_at, sequence)
         select gen_random_uuid(), 'TEST', '{}'::jsonb, now() - $2::interval, (select last from n) + g from generate_series(1, $1::int) g`,
        [count, writtenAgo, numbered],
      );
    const publishAll = () => pg.query(`update execution.outbox_state set published_sequence = last_sequence`);
    await outbox(30, '48 hours');
    await outbox(5, '1 hour');
    await publishAll();
    // never published, however old: kept
    await outbox(2, '3 days');
    await outbox(2, '3 days', false);
    await pg.query(
      `insert into logging.audit_log ("timestamp", operation, result) select now() - interval '100 days', 'op', 'OK' from generate_series(1, 20)`,
    );

    const { report } = await maintain(['retention', '--days', '30', '--outbox-hours', '24', '--batch-size', '1000']);
    expect(report.systemLogsArchived).toEqual({ rows: OLD, batches: Math.ceil(OLD / 1000) });
    expect(report.outboxDeleted).toEqual({ rows: 30, batches: 1 });
    expect(report.auditDeleted).toBeNull();

    // The archive holds exactly the old rows (same ids, same column values); the live table exactly the recent ones.
    expect(await checksum('archived_system_logs')).toEqual(old);
    expect(await checksum('system_logs')).toEqual(recent);
    expect(await one(`select count(distinct id)::int as n from logging.archived_system_logs`)).toEqual({ n: OLD });
    const published = `sequence <= (select published_sequence from execution.outbox_state)`;
    expect(await one(`select count(*)::int as n from execution.outbox where not coalesce(${published}, false)`)).toEqual({ n: 4 });
    expect(await one(`select count(*)::int as n from execution.outbox where ${published}`)).toEqual({ n: 5 });
    // The audit log is only touched when asked for: the old rows are all there (besides the jobs' own new rows).
    expect(await one(`select count(*)::int as n from logging.audit_log where operation = 'op'`)).toEqual({ n: 20 });

    const again = await maintain(['retention', '--days', '30', '--outbox-hours', '24', '--batch-size', '1000']);
    expect(again.report.systemLogsArchived).toEqual({ rows: 0, batches: 0 });
    expect(again.report.outboxDeleted).toEqual({ rows: 0, batches: 0 });

    // Batch after batch from the lowest sequence, up to the first rows inside the retention.
    await pg.query(`delete from execution.outbox`);
    await outbox(20, '48 hours');
    await outbox(3, '1 hour');
    await publishAll();
    await outbox(2, '3 days');
    const batched = await applyRetention(runtime.db, { days: 30, outboxHours: 24, batchSize: 7 });
    expect(batched.outboxDeleted).toEqual({ rows: 20, batches: 3 });
    expect(await one(`select count(*)::int as n from execution.outbox where created_at > now() - interval '1 day'`)).toEqual({ n: 3 });
    expect(await one(`select count(*)::int as n from execution.outbox`)).toEqual({ n: 5 });
  });

  it('deletes old audit rows only with auditDays', async () => {
    await pg.query(`insert into logging.audit_log ("timestamp", operation, result) select now(), 'op', 'OK' from generate_series(1, 5)`);
    const total = (await one(`select count(*)::int as n from logging.audit_log`)).n;
    const old = (await one(`select count(*)::int as n from logging.audit_log where "timestamp" < now() - interval '90 days'`)).n;
    expect(old).toBeGreaterThanOrEqual(20);
    const report = await applyRetention(runtime.db, { days: 30, auditDays: 90, batchSize: 7 });
    expect(report.outboxDeleted).toBeNull();
    expect(report.auditDeleted).toEqual({ rows: old, batches: Math.ceil(old / 7) });
    expect(await one(`select count(*)::int as n from logging.audit_log`)).toEqual({ n: total - old });
    expect(await one(`select count(*)::int as n from logging.audit_log where "timestamp" < now() - interval '90 days'`)).toEqual({ n: 0 });
  });

  it('refuses a bad option value', async () => {
    const bad = await failing(['retention', '--days', 'soon']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--days/);
  });
});

describe('the audit log', () => {
  const jobRows = (operation: string) => pg.query(
    `select role, key_id, result, details from logging.audit_log where operation = $1 order by id`, [operation]).then((r) => r.rows);

  it('records every job run, with who ran it, its arguments and its report', async () => {
    const before = (await jobRows('maintain analyze')).length;
    const { report } = await maintain(['analyze', 'execution.orders']);
    const rows = await jobRows('maintain analyze');
    expect(rows).toHaveLength(before + 1);
    expect(rows.at(-1)).toEqual({ role: 'system', key_id: null, result: 'ok',
      details: { by: expect.stringMatching(/^.+@.+$/), args: { tables: ['execution.orders'] }, ms: expect.any(Number), report } });
  });

  it('records a job that failed, with its error', async () => {
    const before = (await jobRows('maintain vacuum-analyze')).length;
    expect((await failing(['vacuum-analyze', 'execution.nope'])).code).toBe(1);
    const rows = await jobRows('maintain vacuum-analyze');
    expect(rows).toHaveLength(before + 1);
    expect(rows.at(-1)).toMatchObject({ role: 'system', result: 'failed', details: { args: { tables: ['execution.nope'] }, error: expect.stringMatching(/not a table: "execution.nope"/) } });
  });
});

describe('maintain vacuum-analyze and analyze', () => {
  const lastRuns = (table: string) =>
    one(`select last_vacuum is not null as vacuumed, last_analyze is not null as analyzed from pg_stat_user_tables where relid = $1::regclass`, [table]);

  it('vacuums and analyzes named tables', async () => {
    const { report } = await maintain(['vacuum-analyze', 'execution.orders', 'logging.system_logs']);
    expect(report.operation).toBe('vacuum-analyze');
    expect(report.tables.map((t: any) => t.table)).toEqual(['execution.orders', 'logging.system_logs']);
    expect(await lastRuns('logging.system_logs')).toEqual({ vacuumed: true, analyzed: true });

    const analyzed = await maintain(['analyze', 'analytics.performance_metrics']);
    expect(analyzed.report.tables.map((t: any) => t.table)).toEqual(['analytics.performance_metrics']);
    expect(await lastRuns('analytics.performance_metrics')).toEqual({ vacuumed: false, analyzed: true });
  });

  it('defaults to every table of the four schemas, partitioned parents standing for their partitions', async () => {
    const { report } = await maintain(['analyze']);
    const tables: string[] = report.tables.map((t: any) => t.table);
    for (const t of ['data_ingestion.market_data', 'execution.outbox', 'analytics.portfolio_summary', 'logging.audit_log']) expect(tables).toContain(t);
    expect(tables.some((t) => t.includes('market_data_'))).toBe(false);
    expect(tables.every((t) => /^(data_ingestion|execution|analytics|logging)\./.test(t))).toBe(true);

    const direct = await vacuumAnalyze(runtime.db);
    expect(direct.tables.map((t) => t.table)).toEqual(tables);
    expect(await lastRuns('execution.trades')).toEqual({ vacuumed: true, analyzed: true });
  });

  it('resolves names as SQL would (quoted or not, duplicates once)', async () => {
    const report = await analyze(runtime.db, ['"execution"."orders"', 'EXECUTION.Orders', 'data_ingestion.market_data_default']);
    expect(report.tables.map((t) => t.table)).toEqual(['execution.orders', 'data_ingestion.market_data_default']);
  });

  it('refuses unknown names, non-tables and injection attempts before running anything', async () => {
    const bad = await failing(['vacuum-analyze', 'execution.orders', 'execution.nope', 'execution.orders; drop table execution.trades']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/not a table: "execution.nope", "execution.orders; drop table execution.trades"/);
    expect(await one(`select to_regclass('execution.trades') is not null as present`)).toEqual({ present: true });

    await expect(analyze(runtime.db, ['execution.orders_pkey'])).rejects.toBeInstanceOf(UnknownTableError);
    await expect(analyze(runtime.db, ['"unbalanced'])).rejects.toThrow(/not a table: "\\"unbalanced"/);
  });
});
