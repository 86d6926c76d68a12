/**
 * The measurements: per scenario a warm-up of every system, then for each concurrency level R rounds in which every
 * system runs once, in an order rotated per round (interleaved, so that drift of the shared machine spreads over all
 * of them). Around each run: the statements the server sent, its CPU and RSS, the machine's busy time.
 */
import type { ServerProcess } from './servers';
import { GATEWAY } from './queries';
import { load } from './load';
import type { LoadResult } from './load-worker';
import { checkAlive, progress, sleep } from './lifecycle';
import { measureProcess, type UsageSpan } from './usage';
import { SCENARIOS, type RunSpec, type ScenarioDef, type ScenarioName, type ScenarioParams, type SystemName } from './scenarios';

/** A system under test: the process that serves it and how to reach it. */
export interface Sut {
  system: SystemName;
  server: ServerProcess;
  authorization?: string;
}

export interface Sample {
  scenario: ScenarioName;
  system: SystemName;
  connections: number;
  round: number;
  load: LoadResult;
  usage: UsageSpan;
  /** all statements of the server process during the run, per request (the gateway's include authentication, the
   * consistency token, the outbox relay and the few of the /metrics scrapes themselves, subtracted) */
  statementsPerRequest: number;
  /** the gateway only: statements attributed to the scenario's operations (performanceSummary), per request */
  operationStatementsPerRequest?: number;
}

/** The gateway's statements per operation name, from performanceSummary. */
export async function gatewayOperationCounts(gw: Sut): Promise<Map<string, number>> {
  const res = await fetch(`${gw.server.baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(gw.authorization ? { authorization: gw.authorization } : {}) },
    body: JSON.stringify({ query: GATEWAY.performance }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { data?: { performanceSummary: { operations: { operation: string; queryCount: number }[] } } };
  const counts = new Map<string, number>();
  for (const o of body.data?.performanceSummary.operations ?? []) counts.set(o.operation, (counts.get(o.operation) ?? 0) + o.queryCount);
  return counts;
}

const OPERATIONS: Record<ScenarioName, string[]> = {
  'md-m1': ['BenchMarketData'],
  'md-h1': ['BenchMarketData'],
  orders: ['BenchOrders'],
  portfolio: ['BenchPortfolio'],
  'write-distinct': ['BenchSubmit', 'BenchFill'],
  'write-hot': ['BenchSubmit', 'BenchFill'],
  'ingest-1k': ['BenchIngest'],
  'ingest-10k': ['BenchIngest'],
};

/** Statements the gateway's own counters cost per snapshot (a /metrics scrape and a performanceSummary request). */
let snapshotOverhead = 0;

interface Snapshot {
  statements: number;
  /** requests of the scenario (the gateway: of its operations) */
  requests: number;
  /** the gateway: statements of the scenario's operations (performanceSummary) */
  operationStatements?: number;
}

async function snapshot(sut: Sut, scenario: ScenarioName): Promise<Snapshot> {
  const c = await sut.server.counters();
  if (sut.system !== 'gateway') return { statements: c.statements, requests: c.requests };
  const ops = await gatewayOperationCounts(sut);
  return {
    statements: c.statements,
    requests: OPERATIONS[scenario].reduce((n, op) => n + (c.byOperation?.get(op) ?? 0), 0),
    operationStatements: OPERATIONS[scenario].reduce((n, op) => n + (ops.get(op) ?? 0), 0),
  };
}

/** Measures what taking a snapshot of the gateway costs in statements, to subtract it from each run. */
export async function calibrateSnapshots(gw: Sut): Promise<number> {
  await snapshot(gw, 'orders');
  const a = await snapshot(gw, 'orders');
  const b = await snapshot(gw, 'orders');
  const c = await snapshot(gw, 'orders');
  snapshotOverhead = Math.max(0, Math.min(b.statements - a.statements, c.statements - b.statements));
  return snapshotOverhead;
}

export async function measureRun(def: ScenarioDef, sut: Sut, connections: number, durationS: number, round: number, params: ScenarioParams, warmup = false): Promise<Sample> {
  checkAlive();
  const spec: RunSpec = {
    scenario: def.name, system: sut.system, baseUrl: sut.server.baseUrl, authorization: sut.authorization, connections, durationS, params, warmup,
    amount: ingestAmount(def, connections, durationS, warmup),
  };
  const before = await snapshot(sut, def.name);
  const usage = measureProcess(sut.server.child.pid!);
  const result = await load(spec);
  const span = usage.stop();
  // the requests still in flight when the load stopped finish on the server: let them, so that the statements and
  // the requests counted belong together
  await sleep(Math.min(5_000, Math.max(300, 2 * result.latencyMs.p99)));
  const after = await snapshot(sut, def.name);
  // a write "request" of the table is a pair: statements per pair
  const pairs = def.kind === 'write' ? 2 : 1;
  const requests = Math.max(1, (after.requests - before.requests) / pairs);
  const statements = after.statements - before.statements - (sut.system === 'gateway' ? snapshotOverhead : 0);
  const ops = after.operationStatements !== undefined && before.operationStatements !== undefined ? after.operationStatements - before.operationStatements : undefined;
  return {
    scenario: def.name, system: sut.system, connections, round, load: result, usage: span,
    statementsPerRequest: Math.round((statements / requests) * 100) / 100,
    operationStatementsPerRequest: ops === undefined ? undefined : Math.round((ops / requests) * 100) / 100,
  };
}

/**
 * Ingestion runs a number of calls rather than a duration: a 10,000-bar call of the gateway can outlast a short run,
 * and a call that has not answered when the time is up does not count. About as many calls as the duration would
 * take on the gateway (a few seconds per 10,000 bars here), never fewer than one per connection.
 */
function ingestAmount(def: ScenarioDef, connections: number, durationS: number, warmup: boolean): number | undefined {
  if (def.kind !== 'ingest') return undefined;
  if (warmup) return connections;
  const perConnection = def.name === 'ingest-10k' ? Math.max(1, Math.round(durationS / 3)) : Math.max(2, Math.round(durationS));
  return connections * perConnection;
}

function rotate<T>(list: T[], by: number): T[] {
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

export interface PlanOptions {
  scenarios: ScenarioName[];
  quick: boolean;
  concurrency?: number[];
  durationS: number;
  warmupS: number;
  rounds: number;
  /** only these systems (the gateway always) */
  systems?: string[];
  /** before a scenario's measurements (e.g. empty the ingestion partition) */
  beforeScenario?: (def: ScenarioDef) => Promise<void>;
}

export function concurrencyOf(def: ScenarioDef, o: { quick: boolean; concurrency?: number[] }): number[] {
  if (!o.concurrency) return o.quick ? def.concurrency.quick : def.concurrency.full;
  // writes need concurrency to contend, ingestion is measured at low concurrency: an explicit list applies as given
  return o.concurrency;
}

/** Runs every selected scenario with the systems that are available; adds the samples to `samples` as they are taken. */
export async function runPlan(o: PlanOptions, suts: Map<SystemName, Sut>, params: ScenarioParams, samples: Sample[] = []): Promise<Sample[]> {
  const selected = SCENARIOS.filter((s) => o.scenarios.includes(s.name));
  for (const [index, def] of selected.entries()) {
    const systems = def.systems.filter((s) => suts.has(s) && (s === 'gateway' || !o.systems || o.systems.includes(s)));
    const levels = concurrencyOf(def, o);
    await o.beforeScenario?.(def);
    progress(`scenario ${def.name} (${def.title}): warm-up ${o.warmupS} s each: ${systems.join(', ')}`);
    for (const system of systems) {
      const w = await measureRun(def, suts.get(system)!, Math.min(16, Math.max(...levels)), o.warmupS, -1, params, true);
      const errors = Object.entries(w.load.tally.errorCodes);
      if (errors.length) progress(`  warm-up ${system}: errors ${errors.map(([c, n]) => `${c} x${n}`).join(', ')}`);
    }
    for (const c of levels) {
      for (let round = 0; round < o.rounds; round++) {
        for (const system of rotate(systems, round + index)) {
          const sample = await measureRun(def, suts.get(system)!, c, o.durationS, round, params);
          samples.push(sample);
          const l = sample.load;
          const errors = Object.values(l.tally.errorCodes).reduce((a, b) => a + b, 0);
          progress(`  ${def.name} c=${c} round ${round + 1}/${o.rounds} ${system.padEnd(7)} ${l.rps.toFixed(1).padStart(8)} req/s  ` +
            `p50 ${l.latencyMs.p50} ms  p99 ${l.latencyMs.p99} ms  sql/req ${sample.statementsPerRequest}  cpu ${sample.usage.cpuPercent}% (main thread ${sample.usage.mainThreadPercent}%)` +
            (errors ? `  errors ${errors}` : ''));
          await sleep(250);
        }
      }
    }
  }
  return samples;
}
