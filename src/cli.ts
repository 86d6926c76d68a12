/** `tradeql <command>`: serve, migrate, seed, sync, maintain, apikey. */
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfig, type Config } from './config';
import { createLogger, type Logger } from './platform/logger';
import { applyMigrations, assertMigrated, openDatabase } from './app';
import { serve } from './serve';
import { SingleBar, Presets } from 'cli-progress';
import { DEFAULT_SYMBOLS, seedDemo } from './modules/ops/demo-seed';
import { replayBars, type ReplayProgress } from './modules/ops/replay';
import { ReadSession } from './platform/read-session';
import { createServices } from './modules';
import { runSynchronizer } from './sync';
import { rebuildAnalytics } from './modules/analytics/rebuild';
import type { Database } from './platform/database';
import { ensurePartitions } from './modules/ops/partitions';
import { applyRetention } from './modules/ops/retention';
import { analyze, vacuumAnalyze } from './modules/ops/vacuum';
import { auditJob } from './modules/ops/job-audit';
import * as apiKeys from './modules/accounts/api-keys.service';

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number > 0');
  return n;
}

function isoTime(value: string): Date {
  const t = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(t.getTime())) throw new InvalidArgumentError('must be an ISO 8601 time, e.g. 2026-11-26T14:30:00Z');
  return t;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number >= 1');
  return n;
}

/** Runs a command with the config and a logger; errors end the process with a message and exit code 1. */
function run(action: (config: Config, log: Logger) => Promise<void>) {
  return async () => {
    let log: Logger | undefined;
    try {
      const config = loadConfig();
      log = createLogger(config.LOG_LEVEL);
      await action(config, log);
    } catch (error) {
      const message = error instanceof ConfigError ? error.message : `${(error as Error).message}`;
      if (log && !(error instanceof ConfigError)) log.error({ err: error }, 'command failed');
      process.stderr.write(`tradeql: ${message}\n`);
      process.exit(1);
    }
  };
}

const program = new Command()
  .name('tradeql')
  .description('A GraphQL API gateway over trading data: orders, fills, positions and market data on PostgreSQL.')
  .addHelpText('after', `
Environment:
  DATABASE_URL            primary PostgreSQL (unset: an embedded PostgreSQL in ./.tradeql with demo data)
  DATABASE_REPLICA_URLS   comma-separated read replicas
  PORT, HOST              where to listen (4000, 0.0.0.0)
  LOG_LEVEL               fatal|error|warn|info|debug|trace|silent (info)
  DB_POOL_SIZE, DB_POOL_OVERFLOW, DB_POOL_ACQUIRE_TIMEOUT_MS, DB_POOL_RECYCLE_MS, DB_STATEMENT_TIMEOUT_MS`);

program
  .command('serve')
  .description('serve POST /graphql on PORT (migrates and seeds the embedded database when DATABASE_URL is unset)')
  .action(run(serve));

program
  .command('migrate')
  .description('apply pending migrations to DATABASE_URL (a no-op when the schema is current)')
  .option('--check', 'only check: exit 1 when migrations are pending')
  .action((options: { check?: boolean }) =>
    run(async (config, log) => {
      const runtime = await openDatabase(config, log);
      try {
        if (options.check) await assertMigrated(runtime.db);
        else await applyMigrations(runtime.db, log);
      } finally {
        await runtime.close();
      }
    })(),
  );

program
  .command('seed')
  .description('load the demo data (accounts, 1-minute bars, orders and fills) into DATABASE_URL; safe to re-run')
  .option('--days <n>', 'weekdays of 1-minute bars', positiveInt, 5)
  .option('--symbols <list>', 'comma-separated symbols', (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean))
  .action((options: { days: number; symbols?: string[] }) =>
    run(async (config, log) => {
      const runtime = await openDatabase(config, log);
      try {
        if (runtime.embedded) await applyMigrations(runtime.db, log);
        else await assertMigrated(runtime.db);
        const report = await seedDemo(runtime.db, log, { days: options.days, symbols: options.symbols, progress: process.stderr.isTTY });
        process.stdout.write(`${JSON.stringify(report)}\n`);
      } finally {
        await runtime.close();
      }
    })(),
  );

program
  .command('sync')
  .description('keep the analytics tables current from trade events, alone (until SIGINT/SIGTERM); --rebuild recomputes them from the trades')
  .option('--rebuild', 'recompute analytics.portfolio_summary and analytics.performance_metrics from execution.trades, then exit')
  .action((options: { rebuild?: boolean }) =>
    run(async (config, log) => {
      if (!options.rebuild) return runSynchronizer(config, log);
      const runtime = await openDatabase(config, log);
      try {
        if (runtime.embedded) await applyMigrations(runtime.db, log);
        else await assertMigrated(runtime.db);
        const report = await rebuildAnalytics(runtime.db, log);
        process.stdout.write(`${JSON.stringify(report)}\n`);
      } finally {
        await runtime.close();
      }
    })(),
  );

program
  .command('replay')
  .description('feed stored 1-minute bars back through ingestion at a speed multiple, stamped after the newest stored bar, so the market moves')
  .option('--symbols <list>', 'comma-separated symbols (default: the demo\'s)', (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean))
  .option('--from <time>', 'first stored bar to replay, ISO 8601 (default: 24 hours before --to)', isoTime)
  .option('--to <time>', 'end of the stored bars to replay, exclusive (default: just after the newest)', isoTime)
  .option('--speed <n>', 'market minutes per minute: 60 is a bar a second', positiveNumber, 60)
  .option('--loop', 'start over after the last bar, each pass later, until SIGINT/SIGTERM')
  .option('--max-gap <minutes>', 'wait at most this many market minutes over a gap (nights, weekends)', wholeNumber, 5)
  .action((options: { symbols?: string[]; from?: Date; to?: Date; speed: number; loop?: boolean; maxGap: number }) =>
    run(async (config, log) => {
      const runtime = await openDatabase(config, log);
      const controller = new AbortController();
      const abort = () => controller.abort();
      process.once('SIGINT', abort);
      process.once('SIGTERM', abort);
      const progress = process.stderr.isTTY ? new SingleBar({ format: 'replay [{bar}] {value}/{total} bars | pass {pass} | {stamp}', stream: process.stderr }, Presets.shades_classic) : null;
      let report;
      try {
        if (runtime.embedded) await applyMigrations(runtime.db, log);
        else await assertMigrated(runtime.db);
        // The events wait in the outbox for a gateway's relay (no relay runs in this process).
        const scope = { db: runtime.db, reads: new ReadSession(runtime.db, 'primary'), log, outbox: { wake: () => undefined } };
        let pass = -1;
        report = await replayBars(scope, createServices().marketData, {
          symbols: options.symbols?.length ? options.symbols : DEFAULT_SYMBOLS,
          from: options.from, to: options.to, speed: options.speed, loop: options.loop, maxGapMinutes: options.maxGap, signal: controller.signal,
          onProgress: (p: ReplayProgress) => {
            if (progress) {
              if (p.pass !== pass) progress.start(p.total, 0, { pass: p.pass + 1, stamp: '' });
              progress.update(p.done, { pass: p.pass + 1, stamp: p.timestamp });
            } else if (p.done === p.total || p.done % 500 < 5) {
              log.info({ pass: p.pass + 1, done: p.done, total: p.total, timestamp: p.timestamp }, 'replaying');
            }
            pass = p.pass;
          },
        });
      } finally {
        progress?.stop();
        process.off('SIGINT', abort);
        process.off('SIGTERM', abort);
        await runtime.close();
      }
      await new Promise<void>((resolve) => log.flush(() => resolve()));
      process.stdout.write(`${JSON.stringify(report)}\n`);
    })(),
  );

// --- maintain: jobs for cron or an operator; each logs one line with its counts and prints its report as JSON ---
function wholeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number >= 0');
  return n;
}

/**
 * One maintenance job on a migrated database (the embedded one is migrated first, as for seed), recorded in the audit
 * log with its arguments and its report or error (job-audit.ts).
 */
function maintenanceJob<T>(job: string, args: Record<string, unknown>, work: (db: Database, config: Config, log: Logger) => Promise<T>, warning?: (report: T) => string | undefined) {
  return run(async (config, log) => {
    const runtime = await openDatabase(config, log);
    let report: T;
    try {
      if (runtime.embedded) await applyMigrations(runtime.db, log);
      else await assertMigrated(runtime.db);
      const started = Date.now();
      try {
        report = await work(runtime.db, config, log.child({ job }));
      } catch (error) {
        // On record too; a failure to write that record (the database gone) must not hide the job's own error.
        await auditJob(runtime.db, { job, args, outcome: { error: (error as Error).message }, ms: Date.now() - started })
          .catch((e: unknown) => log.warn({ job, err: { message: (e as Error).message } }, 'could not audit the failed maintenance job'));
        throw error;
      }
      await auditJob(runtime.db, { job, args, outcome: { report }, ms: Date.now() - started });
      const problem = warning?.(report);
      if (problem) log.warn({ job, ms: Date.now() - started, report }, problem);
      else log.info({ job, ms: Date.now() - started, report }, 'maintenance job done');
    } finally {
      await runtime.close();
    }
    // pino writes asynchronously: flush its lines first so the report is always stdout's last line.
    await new Promise<void>((resolve) => log.flush(() => resolve()));
    process.stdout.write(`${JSON.stringify(report)}\n`);
  });
}

const maintain = program.command('maintain').description('maintenance jobs: partitions, retention, vacuum-analyze, analyze');

maintain
  .command('partitions')
  .description('create the market-data partitions of this month and the next N (idempotent); warn about rows left in the default partition')
  .option('--ahead <n>', 'months after the current one', wholeNumber, 3)
  .action((options: { ahead: number }) =>
    maintenanceJob('partitions', options, (db) => ensurePartitions(db, { ahead: options.ahead }), (report) =>
      report.defaultRows > 0 ? `${report.defaultRows} market-data row(s) in the default partition: months without a partition` : undefined,
    )(),
  );

maintain
  .command('retention')
  .description('archive old system logs, delete old published outbox rows (and old audit rows with --audit-days), in short batches')
  .option('--days <n>', 'archive logging.system_logs older than N days', positiveInt, 30)
  .option('--outbox-hours <n>', 'delete published outbox rows older than N hours (default OUTBOX_RETENTION_HOURS)', wholeNumber)
  .option('--audit-days <n>', 'delete logging.audit_log rows older than N days (default: keep them)', positiveInt)
  .option('--batch-size <n>', 'rows per batch, one transaction each', positiveInt, 5000)
  .action((options: { days: number; outboxHours?: number; auditDays?: number; batchSize: number }) =>
    maintenanceJob('retention', options, (db, config, log) =>
      applyRetention(db, {
        days: options.days,
        outboxHours: options.outboxHours ?? config.OUTBOX_RETENTION_HOURS,
        auditDays: options.auditDays,
        batchSize: options.batchSize,
        log,
      }),
    )(),
  );

maintain
  .command('vacuum-analyze')
  .argument('[tables...]', 'schema.table names (default: every table of the project\'s schemas)')
  .description('VACUUM (ANALYZE) the tables, one at a time')
  .action((tables: string[]) => maintenanceJob('vacuum-analyze', { tables }, (db) => vacuumAnalyze(db, tables))());

maintain
  .command('analyze')
  .argument('[tables...]', 'schema.table names (default: every table of the project\'s schemas)')
  .description('ANALYZE the tables, one at a time')
  .action((tables: string[]) => maintenanceJob('analyze', { tables }, (db) => analyze(db, tables))());

// --- apikey: create (the key is printed once, alone on stdout's last line), list (no secrets), revoke ---
/** Runs `work` on a migrated database, then prints its stdout lines after the log's, so the last line is the result. */
function apikeyCommand(work: (db: Database) => Promise<string[]>) {
  return run(async (config, log) => {
    const runtime = await openDatabase(config, log);
    let lines: string[];
    try {
      if (runtime.embedded) await applyMigrations(runtime.db, log);
      else await assertMigrated(runtime.db);
      lines = await work(runtime.db);
    } finally {
      await runtime.close();
    }
    await new Promise<void>((resolve) => log.flush(() => resolve()));
    for (const line of lines) process.stdout.write(`${line}\n`);
  });
}

const apikey = program.command('apikey').description('API keys: create, list, revoke');

apikey
  .command('create')
  .description('create an API key and print it once, alone on the last line of stdout (only its hash is stored)')
  .requiredOption('--role <role>', 'viewer (reads its accounts), trader (also trades them) or admin (every account, operations)')
  .option('--account <id>', 'an account the key is for; repeat for several (viewer and trader need at least one)',
    (value: string, previous: string[]) => [...previous, value], [] as string[])
  .option('--name <name>', 'a label shown in listings (1-100 characters)')
  .action((options: { role: string; account: string[]; name?: string }) =>
    apikeyCommand(async (db) => {
      const created = await apiKeys.create(db, { role: options.role, accountIds: options.account, name: options.name });
      const accounts = created.accountIds.length ? created.accountIds.join(', ') : created.role === 'admin' ? 'all' : 'none';
      process.stderr.write(`API key ${created.keyId} created: role ${created.role}, accounts ${accounts}, name "${created.name}". `
        + 'The key is the last line of stdout and is shown only this once.\n');
      return [created.key];
    })(),
  );

apikey
  .command('list')
  .description('list the API keys as JSON lines (id, name, role, prefix, accounts, dates): never a key or its hash')
  .action(() => apikeyCommand(async (db) => (await apiKeys.list(db)).map((k) => JSON.stringify(k)))());

apikey
  .command('revoke')
  .argument('<keyId>', 'the key\'s id (see `apikey list`)')
  .description('revoke an API key at once; revoking a revoked key is a no-op')
  .action((keyId: string) => apikeyCommand(async (db) => [JSON.stringify(await apiKeys.revoke(db, keyId))])());

program.parseAsync(process.argv).catch((error) => {
  process.stderr.write(`tradeql: ${(error as Error).message}\n`);
  process.exit(1);
});
