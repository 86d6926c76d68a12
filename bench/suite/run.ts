/** One run of the suite, from the data set to the results file; the steps are in bench/README.md. */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { Options } from './options';
import { out, progress, state } from './lifecycle';
import { databaseName, ensureDataset, SIZES, type DatasetInfo } from './dataset';
import { databaseUrl, withPg } from './pg';
import { BENCH_SQL, CLEANED_TABLES, CLEANUP_SQL, INGEST_MONTH, INGEST_PARTITION } from './bench-sql';
import { createApiKey, gatewayEnv, replicaStreaming, servers, startBaseline, startGateway, startPeer, stopServers, type GatewaySettings } from './servers';
import { loadWorkerPid, startLoadWorker, stopLoadWorker } from './load';
import { calibrateSnapshots, concurrencyOf, runPlan, type Sample, type Sut } from './measure';
import { runChecks } from './checks';
import { markdownTable, saveResult, summarize, targets, targetsTable, updateReadme } from './report';
import { SCENARIOS, type ScenarioParams, type SystemName } from './scenarios';
import { ROOT } from './tradeql';
import { compileServers, removeBuild } from './build';

export const WRITE_ACCOUNTS = 256;

/** The last weekday of the data set: equities have their 390 bars that day. */
function benchDay(info: DatasetInfo): { from: string; to: string } {
  const dayMs = 86_400_000;
  for (let t = Date.parse(info.to) - dayMs; t >= Date.parse(info.from); t -= dayMs) {
    const d = new Date(t).getUTCDay();
    if (d !== 0 && d !== 6) return { from: new Date(t).toISOString(), to: new Date(t + dayMs).toISOString() };
  }
  throw new Error('the data set has no weekday');
}

/**
 * Leftovers of write and ingestion scenarios (of this run or an interrupted one) out of the data set, then VACUUM:
 * the write scenarios' orders are the newest, so their dead index entries would sit at the head of the
 * created_at index, and every "newest orders" read of the next run would step over them (40,000 heap fetches
 * for a page of 100 were seen; a standby never marks index entries dead, so the replica stays slow until VACUUM).
 */
async function cleanupRows(url: string): Promise<void> {
  await withPg(url, async (pg) => {
    await pg.query(CLEANUP_SQL);
    for (const table of CLEANED_TABLES) await pg.query(`vacuum (analyze) ${table}`);
  });
}

let dbForCleanup: string | undefined;

/** Stops the load worker and the servers, and removes what the scenarios wrote. Runs once. */
let cleanupPromise: Promise<void> | undefined;
export function cleanup(): Promise<void> {
  cleanupPromise ??= (async () => {
    state.stopping = true;
    await stopLoadWorker();
    await stopServers();
    removeBuild();
    if (dbForCleanup) {
      progress('cleanup: removing the rows the write and ingestion scenarios added');
      await cleanupRows(dbForCleanup).catch((e: Error) => progress(`cleanup: ${e.message}`));
    }
  })();
  return cleanupPromise;
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

export async function run(o: Options): Promise<number> {
  const startedAt = new Date();
  // what the gateway runs: the checkout as it is when the servers start (the sources are loaded then)
  const commit = git(['rev-parse', 'HEAD']);
  const dirtySources = git(['status', '--porcelain', '--', 'src', 'migrations']).split('\n').filter(Boolean);
  const size = SIZES[o.size];
  progress(`bench: ${o.quick ? 'quick, ' : ''}data set ${size.name}, scenarios ${o.scenarios.join(', ')}; ${o.rounds} round(s) of ${o.durationS} s after ${o.warmupS} s of warm-up`);

  // the data set (reused when present) and what the baselines need in it
  const dataset = await ensureDataset(o.pgUrl, size, { rebuild: o.rebuild, progressBar: process.stdout.isTTY === true });
  const url = dataset.url;
  await withPg(url, (pg) => pg.query(BENCH_SQL));
  await cleanupRows(url);
  dbForCleanup = url;
  await withPg(url, (pg) => pg.query(`insert into execution.accounts (account_id, name)
    select 'BW-' || lpad(a::text, 3, '0'), 'bench writes ' || a from generate_series(1, $1::int) a
    union all select 'BW-HOT', 'bench writes, the hot account' on conflict do nothing`, [WRITE_ACCOUNTS]));

  // the replica (every database of the primary is replicated): wait until it has this one
  let replicaUrl: string | undefined;
  if (o.replica && (await replicaStreaming())) {
    const candidate = databaseUrl(o.pgUrl, databaseName(size), o.replicaPort);
    for (let i = 0; i < 60 && !replicaUrl; i++) {
      try {
        const ok = await withPg(candidate, async (pg) => (await pg.query(`select count(*)::int as n from execution.accounts where account_id = 'BW-HOT'`)).rows[0].n === 1);
        if (ok) replicaUrl = candidate;
      } catch {
        // not replayed yet
      }
      if (!replicaUrl) await new Promise((r) => setTimeout(r, 500));
    }
    progress(replicaUrl ? `replica: reads from ${candidate.replace(/\/\/[^@]*@/, '//')}` : 'replica: streams, but has not replayed the bench database: reads from the primary');
  } else {
    progress(`replica: ${o.replica ? 'none streaming' : 'not used (--no-replica)'}: reads from the primary`);
  }

  // API keys: one for reads, one for writes (the gateway remembers a key's last write for read-your-writes)
  const readKey = await createApiKey(url, 'bench reads');
  const writeKey = await createApiKey(url, 'bench writes');

  const channel = `tradeql.bench.${process.pid}`;
  const cpuProfDir = o.cpuProf ? path.join(ROOT, 'bench', 'profiles') : undefined;
  if (cpuProfDir) fs.mkdirSync(cpuProfDir, { recursive: true });
  const settings: GatewaySettings = { databaseUrl: url, replicaUrl, redisUrl: o.redisUrl, channel, sync: o.sync, cpuProfDir, nodeFlags: o.nodeFlags };
  await compileServers();
  const [gateway, baseline] = await Promise.all([startGateway(settings), startBaseline(url, replicaUrl, o.poolMax)]);
  let peer: Awaited<ReturnType<typeof startPeer>> | undefined;
  let peerProblem: string | undefined;
  if (o.peer && (!o.systems || o.systems.includes('peer')) && o.scenarios.some((s) => ['md-m1', 'md-h1', 'orders', 'portfolio'].includes(s))) {
    try {
      peer = await startPeer(url);
    } catch (error) {
      peerProblem = (error as Error).message;
      progress(`servers: PostGraphile did not start; measuring without it: ${peerProblem}`);
    }
  }
  startLoadWorker();

  const suts = new Map<SystemName, Sut>();
  suts.set('gateway', { system: 'gateway', server: gateway, authorization: `Bearer ${readKey}` });
  for (const system of ['limit', 'raw', 'fn', 'copy'] as SystemName[]) suts.set(system, { system, server: baseline });
  if (peer) suts.set('peer', { system: 'peer', server: peer });
  const writeAuth = `Bearer ${writeKey}`;

  const day = benchDay(dataset.info);
  const params: ScenarioParams = {
    dayFrom: day.from, dayTo: day.to,
    equities: dataset.info.symbols.filter((s) => !s.crypto).map((s) => s.symbol),
    cryptos: dataset.info.symbols.filter((s) => s.crypto).map((s) => s.symbol),
    accounts: dataset.info.accounts,
    writeAccounts: Array.from({ length: WRITE_ACCOUNTS }, (_, i) => `BW-${String(i + 1).padStart(3, '0')}`),
    hotAccount: 'BW-HOT',
    writeSymbol: 'BWSYM',
    runTag: `R${Date.now().toString(36).toUpperCase()}`,
    ordersFirst: 100,
    ingestMonth: INGEST_MONTH,
  };
  const overhead = await calibrateSnapshots(suts.get('gateway')!);

  // the gateway's write scenarios use the write key
  const withKeyFor = (kind: string) => suts.set('gateway', { ...suts.get('gateway')!, authorization: kind === 'read' ? `Bearer ${readKey}` : writeAuth });
  const checks = await runChecks(suts, params, o.scenarios.filter((s) => SCENARIOS.find((d) => d.name === s)!.kind === 'read'));
  withKeyFor('write');
  const writeChecks = await runChecks(suts, params, o.scenarios.filter((s) => SCENARIOS.find((d) => d.name === s)!.kind !== 'read'));
  checks.writes = writeChecks.writes;
  checks.problems.push(...writeChecks.problems);
  for (const p of checks.problems) progress(`CHECK: ${p}`);

  // a failure on the way (a server that died) still reports what was measured until then
  const samples: Sample[] = [];
  let failure: string | undefined;
  try {
    await runPlan({
      scenarios: o.scenarios, quick: o.quick, concurrency: o.concurrency, durationS: o.durationS, warmupS: o.warmupS, rounds: o.rounds, systems: o.systems,
      beforeScenario: async (def) => {
        withKeyFor(def.kind);
        if (def.kind === 'ingest') await withPg(url, (pg) => pg.query(`truncate ${INGEST_PARTITION}`));
      },
    }, suts, params, samples);
  } catch (error) {
    failure = (error as Error).message;
    progress(`measurements stopped after ${samples.length} runs: ${failure}`);
  }

  const rows = summarize(samples);
  const table = markdownTable(rows);
  const goals = targets(rows, checks.statementsByPageSize);
  const cpus = os.cpus().length;
  const head = `${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${commit.slice(0, 7)}${dirtySources.length ? ' (src with uncommitted changes)' : ''}, ` +
    `data set ${size.name}, ${o.rounds} x ${o.durationS} s per cell, ${cpus} cores, Node ${process.version}, reads from ${replicaUrl ? 'the replica' : 'the primary'}`;
  if (failure) out(`\nINCOMPLETE: ${failure}\n`);
  out(`\n${head}\n\n${table}\n\n${targetsTable(goals)}\n\n`);
  out('throughput: median over the rounds; "gateway ÷ this": the gateway\'s throughput over that baseline\'s, same scenario and concurrency; ' +
    'SQL/req: statements the server process sent per request (per pair for writes), and in parentheses the gateway\'s own operation\'s ' +
    '(performanceSummary: without authentication, consistency token and outbox relay); CPU %: of one core; ' +
    'main thread %: the server\'s JavaScript thread alone (near 100: the server is bound by it); preempted/req: times that thread lost its core ' +
    'while it could run, per request (per pair, per 1,000 bars); RSS: peak.\n');
  const statements = Object.entries(checks.statementsByPageSize).map(([first, s]) => `first ${first}: ${Object.entries(s).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (statements.length) out(`orders with trades and account, statements per request by page size: ${statements.join('; ')}\n`);

  await cleanup();
  const result = {
    startedAt: startedAt.toISOString(),
    ...(failure ? { incomplete: failure } : {}),
    finishedAt: new Date().toISOString(),
    commit,
    dirtySources,
    options: o,
    environment: { node: process.version, cpus, loadavg: os.loadavg(), totalMemMb: Math.round(os.totalmem() / 1048576), replica: Boolean(replicaUrl) },
    dataset: { database: databaseName(size), reused: dataset.reused, ...dataset.info },
    params: { ...params, equities: params.equities.length, cryptos: params.cryptos.length, writeAccounts: params.writeAccounts.length },
    gateway: { env: { ...gatewayEnv(settings, gateway.port), DATABASE_URL: '(bench database)', DATABASE_REPLICA_URLS: replicaUrl ? '(replica)' : '' }, snapshotOverheadStatements: overhead },
    peer: peer ? { version: '5.1.5', preset: 'amber', schemas: 'execution,data_ingestion,bench_peer' } : { notRun: peerProblem ?? 'disabled' },
    loadWorkerPid: loadWorkerPid(),
    checks,
    rows,
    targets: goals,
    samples,
    serverLogs: Object.fromEntries(servers.map((s) => [s.name, s.logs])),
  };
  const file = saveResult(startedAt, result, o.resultsFile ? path.resolve(o.resultsFile) : undefined);
  out(`results: ${path.relative(process.cwd(), file)}\n`);
  if (o.readme && !failure) {
    const done = updateReadme(`${head}\n\n${table}\n\n${targetsTable(goals)}`);
    out(done ? 'bench/README.md: results table replaced\n' : 'bench/README.md: no results markers found\n');
  }
  for (const s of servers) if (s.logs.length) out(`${s.name}: ${s.logs.length} warn/error line(s), first: ${s.logs[0].slice(0, 300)}\n`);
  const concurrencyNote = o.scenarios.map((n) => `${n} ${concurrencyOf(SCENARIOS.find((d) => d.name === n)!, o).join('/')}`).join(', ');
  progress(`done: ${samples.length} measured runs (${concurrencyNote})`);
  return checks.problems.length || failure ? 1 : 0;
}
