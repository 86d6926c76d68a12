/** The results: per scenario, concurrency and system the medians over the rounds, the ratios, the Markdown table, the JSON. */
import fs from 'node:fs';
import path from 'node:path';
import type { Sample } from './measure';
import { SCENARIOS, SYSTEM_LABEL, type ScenarioName, type SystemName } from './scenarios';

export const RESULTS_DIR = path.resolve(__dirname, '..', 'results');

export interface Row {
  scenario: ScenarioName;
  number: number;
  connections: number;
  system: SystemName;
  rounds: number;
  /** reads: requests/s; writes: submitOrder+executeTrade pairs/s; ingestion: bars/s (medians over the rounds) */
  throughput: number;
  unit: 'req/s' | 'pairs/s' | 'bars/s';
  p50Ms: number;
  p99Ms: number;
  /** gateway throughput / this row's throughput (on the baselines' rows) */
  gatewayRatio?: number;
  /** this row's CPU ms per request / the gateway's (on the baselines' rows): the ratio of efficiency */
  gatewayCpuRatio?: number;
  statementsPerRequest: number;
  operationStatementsPerRequest?: number;
  cpuPercent: number;
  /** the server's CPU time per request (per pair, per 1,000 bars): steadier than throughput on a busy machine */
  cpuMsPerUnit: number;
  /** the server's main thread, % of one core (near 100: bound by it) */
  mainThreadPercent: number;
  /** times the main thread lost its core while it could run, per request (pair, 1,000 bars) */
  preemptedPerUnit: number;
  rssPeakMb: number;
  errors: Record<string, number>;
  /** each round's throughput */
  perRound: number[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const r2 = (x: number) => Math.round(x * 100) / 100;

function throughputOf(s: Sample): number {
  const kind = SCENARIOS.find((d) => d.name === s.scenario)!.kind;
  if (kind === 'write') return s.load.tally.pairs / s.load.durationS;
  if (kind === 'ingest') return s.load.tally.bars / s.load.durationS;
  return s.load.tally.ok / s.load.durationS;
}

/** An amount over the run per request (reads), per pair (writes) or per 1,000 bars (ingestion). */
function perUnit(kind: string, s: Sample, amount: number): number {
  const units = kind === 'write' ? s.load.tally.pairs : kind === 'ingest' ? s.load.tally.bars / 1000 : s.load.tally.ok;
  return units > 0 ? amount / units : NaN;
}

export function summarize(samples: Sample[]): Row[] {
  const groups = new Map<string, Sample[]>();
  for (const s of samples) {
    const key = `${s.scenario}|${s.connections}|${s.system}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  const rows: Row[] = [];
  for (const group of groups.values()) {
    const s0 = group[0];
    const def = SCENARIOS.find((d) => d.name === s0.scenario)!;
    const errors: Record<string, number> = {};
    for (const s of group) {
      for (const [code, n] of Object.entries(s.load.tally.errorCodes)) errors[code] = (errors[code] ?? 0) + n;
      if (s.load.socketErrors) errors.SOCKET = (errors.SOCKET ?? 0) + s.load.socketErrors;
      if (s.load.timeouts) errors.TIMEOUT = (errors.TIMEOUT ?? 0) + s.load.timeouts;
    }
    const ops = group.map((s) => s.operationStatementsPerRequest).filter((x): x is number => x !== undefined);
    const perRound = group.map(throughputOf);
    rows.push({
      scenario: s0.scenario, number: def.number, connections: s0.connections, system: s0.system, rounds: group.length,
      throughput: r2(median(perRound)),
      unit: def.kind === 'write' ? 'pairs/s' : def.kind === 'ingest' ? 'bars/s' : 'req/s',
      p50Ms: r2(median(group.map((s) => s.load.latencyMs.p50))),
      p99Ms: r2(median(group.map((s) => s.load.latencyMs.p99))),
      statementsPerRequest: r2(median(group.map((s) => s.statementsPerRequest))),
      operationStatementsPerRequest: ops.length ? r2(median(ops)) : undefined,
      cpuPercent: Math.round(median(group.map((s) => s.usage.cpuPercent))),
      cpuMsPerUnit: r2(median(group.map((s) => perUnit(def.kind, s, s.usage.cpuSeconds * 1000)))),
      mainThreadPercent: Math.round(median(group.map((s) => s.usage.mainThreadPercent))),
      preemptedPerUnit: r2(median(group.map((s) => perUnit(def.kind, s, s.usage.preempted)))),
      rssPeakMb: Math.round(Math.max(...group.map((s) => s.usage.rssPeakMb))),
      errors,
      perRound: perRound.map(r2),
    });
  }
  for (const row of rows) {
    if (row.system === 'gateway') continue;
    const gw = rows.find((r) => r.system === 'gateway' && r.scenario === row.scenario && r.connections === row.connections);
    if (gw && row.throughput > 0) row.gatewayRatio = r2(gw.throughput / row.throughput);
    if (gw && gw.cpuMsPerUnit > 0) row.gatewayCpuRatio = r2(row.cpuMsPerUnit / gw.cpuMsPerUnit);
  }
  const order = SCENARIOS.map((d) => d.name);
  const systems: SystemName[] = ['gateway', 'limit', 'raw', 'fn', 'copy', 'peer'];
  return rows.sort((a, b) => order.indexOf(a.scenario) - order.indexOf(b.scenario) || a.connections - b.connections || systems.indexOf(a.system) - systems.indexOf(b.system));
}

const num = (x: number) => (x >= 100 ? Math.round(x).toLocaleString('en') : x.toFixed(1));

/** The results table in Markdown: one line per scenario, concurrency and system. */
export function markdownTable(rows: Row[]): string {
  const lines = [
    '| # | scenario | c | system | throughput | p50 ms | p99 ms | gateway ÷ this | SQL/req | CPU % | main thread % | preempted/req | CPU ms/req | this ÷ gateway CPU | RSS MB | errors |',
    '|---|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|',
  ];
  for (const r of rows) {
    const sql = r.operationStatementsPerRequest !== undefined ? `${r.statementsPerRequest} (${r.operationStatementsPerRequest})` : String(r.statementsPerRequest);
    const errors = Object.entries(r.errors).map(([c, n]) => `${c} ${n}`).join(', ') || '0';
    lines.push(`| ${r.number} | ${r.scenario} | ${r.connections} | ${SYSTEM_LABEL[r.system]} | ${num(r.throughput)} ${r.unit} | ${r.p50Ms} | ${r.p99Ms} | ` +
      `${r.gatewayRatio ?? '—'} | ${sql} | ${r.cpuPercent} | ${r.mainThreadPercent} | ${r.preemptedPerUnit} | ${r.cpuMsPerUnit} | ${r.gatewayCpuRatio ?? '—'} | ${r.rssPeakMb} | ${errors} |`);
  }
  return lines.join('\n');
}

export interface TargetLine {
  target: string;
  scenario: string;
  value: string;
  met: boolean;
}

/** The targets against this run's rows. */
export function targets(rows: Row[], statementsByPageSize: Record<string, Record<string, number | string>>): TargetLine[] {
  const out: TargetLine[] = [];
  for (const r of rows) {
    if (r.gatewayRatio === undefined) continue;
    const where = `${r.scenario} c=${r.connections}`;
    if (r.system === 'limit') out.push({ target: 'reads >= 0.8 x pg baseline', scenario: where, value: String(r.gatewayRatio), met: r.gatewayRatio >= 0.8 });
    if (r.system === 'peer') out.push({ target: 'reads ahead of PostGraphile', scenario: where, value: String(r.gatewayRatio), met: r.gatewayRatio > 1 });
    if (r.system === 'raw') out.push({ target: 'writes >= 0.5 x raw pg transaction', scenario: where, value: String(r.gatewayRatio), met: r.gatewayRatio >= 0.5 });
    if (r.system === 'copy') out.push({ target: 'ingestion >= 0.3 x COPY', scenario: where, value: String(r.gatewayRatio), met: r.gatewayRatio >= 0.3 });
  }
  for (const r of rows.filter((x) => x.system === 'gateway' && x.scenario.startsWith('write'))) {
    const unexpected = Object.entries(r.errors).filter(([code]) => code !== 'CONFLICT');
    out.push({ target: 'writes: no errors but conflicts', scenario: `${r.scenario} c=${r.connections}`, value: JSON.stringify(r.errors), met: unexpected.length === 0 });
  }
  const gw = Object.entries(statementsByPageSize).map(([first, s]) => [first, s.gateway] as const).filter((x): x is [string, number] => typeof x[1] === 'number');
  if (gw.length) {
    const max = Math.max(...gw.map(([, n]) => n));
    const constant = gw.every(([, n]) => n === gw[0][1]);
    out.push({ target: 'nested orders query: constant statements <= 4', scenario: 'orders first 10/100/1000', value: gw.map(([f, n]) => `${f}: ${n}`).join(', '), met: constant && max <= 4 });
  }
  return out;
}

export function targetsTable(lines: TargetLine[]): string {
  return ['| target | where | gateway | met |', '|---|---|--:|---|', ...lines.map((t) => `| ${t.target} | ${t.scenario} | ${t.value} | ${t.met ? 'yes' : '**no**'} |`)].join('\n');
}

/** bench/results/<start, ISO 8601 basic format>.json */
function defaultResultFile(startedAt: Date): string {
  const stamp = startedAt.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return path.join(RESULTS_DIR, `${stamp}.json`);
}

/** Writes the results to `file`, by default defaultResultFile (atomically); returns its path. */
export function saveResult(startedAt: Date, result: unknown, file = defaultResultFile(startedAt)): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
  fs.renameSync(`${file}.tmp`, file);
  return file;
}

const README = path.resolve(__dirname, '..', 'README.md');
const START = '<!-- suite-results:start -->';
const END = '<!-- suite-results:end -->';

/** Replaces the results between the markers of bench/README.md (with --readme). */
export function updateReadme(text: string): boolean {
  const readme = fs.readFileSync(README, 'utf8');
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) return false;
  fs.writeFileSync(README, `${readme.slice(0, a + START.length)}\n${text}\n${readme.slice(b)}`);
  return true;
}
