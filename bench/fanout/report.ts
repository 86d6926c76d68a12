/** The report: the table and summary lines on stdout, and the JSON file in bench/results. */
import fs from 'node:fs';
import path from 'node:path';
import type { GatewayProcess } from './gateways';
import type { Dist, LatencyStats } from './stats';
import type { Result } from './results';
import { CHANNEL } from './channel';
import { out } from './lifecycle';

const RESULTS_DIR = path.resolve(__dirname, '..', 'results');

const f = (x: number | null) => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(2));
const spread = (d: Dist) => `p50 ${f(d.p50)} ms, p99 ${f(d.p99)} ms, max ${f(d.max)} ms`;
export const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;

export function printTable(r: Result): void {
  const rows: string[][] = [
    ['', '', '', '', '', 'from commit', '', '', 'from response', '', ''],
    ['', 'expected', 'received', 'lost', 'dup', 'p50 ms', 'p99 ms', 'max ms', 'p50 ms', 'p99 ms', 'max ms'],
  ];
  const row = (name: string, s: LatencyStats) => rows.push([name, String(s.expected), String(s.received), String(s.lost), String(s.duplicates),
    f(s.fromCommitMs.p50), f(s.fromCommitMs.p99), f(s.fromCommitMs.max), f(s.fromResponseMs.p50), f(s.fromResponseMs.p99), f(s.fromResponseMs.max)]);
  row('gateway subscribers', r.subscribers.all);
  row('  on gateway A', r.subscribers.A);
  row('  on gateway B', r.subscribers.B);
  row('redis baseline', r.redisBaseline);
  const widths = rows[1].map((_, c) => Math.max(...rows.slice(1).map((x) => x[c].length)));
  const line = (x: string[]) => x.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  const groupAt = (c: number) => widths.slice(0, c).reduce((n, w) => n + w + 2, 0);
  const header = `${' '.repeat(groupAt(5))}${rows[0][5].padEnd(groupAt(8) - groupAt(5))}${rows[0][8]}`;
  const cpu = r.cpuPercentOfOneCore;
  const el = r.eventLoops;
  const l = r.load;
  const lines: string[] = [''];
  lines.push(`fan-out: ${r.options.subscribers} subscribers (A ${r.memory.A.subscribers}, B ${r.memory.B.subscribers}), ${r.options.fills} fills ` +
    `at ${r.options.rate}/s via ${r.options.via} (achieved ${l.achievedRate}/s, ${l.fillsFailed} failed)`);
  lines.push('latency of each delivery = arrival - the fill\'s commit (its outbox row insert, just before COMMIT: a tight upper bound)');
  lines.push('                          and arrival - the executeTrade response at the bench (after the commit: a lower bound)');
  lines.push(header);
  lines.push(line(rows[1]));
  lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const x of rows.slice(2)) lines.push(line(x));
  lines.push('');
  lines.push(`ratio gateway / baseline: from commit p50 ${r.ratio.fromCommit.p50}x, p99 ${r.ratio.fromCommit.p99}x; ` +
    `from response p50 ${r.ratio.fromResponse.p50}x, p99 ${r.ratio.fromResponse.p99}x`);
  lines.push(`per fill, commit -> the last of ${r.options.subscribers} subscribers: ${spread(r.subscribers.lastOfNFromCommitMs)}`);
  lines.push(`executeTrade round trip: ${spread(l.executeTradeMs)}; ` +
    `response after commit: p50 ${f(l.responseAfterCommitMs.p50)} ms, p99 ${f(l.responseAfterCommitMs.p99)} ms`);
  for (const g of ['A', 'B'] as const) {
    const m = r.memory[g];
    lines.push(`memory gateway ${g}: RSS ${mb(m.rssBeforeKb)} before, ${mb(m.rssAfterKb)} with ${m.subscribers} subscribers ` +
      `-> ${m.perSubscriberKb} KB per subscriber (${mb(m.rssEndKb)} after the load)`);
  }
  lines.push(`cpu during the load, % of one core: gateway A ${cpu.gatewayA}, gateway B ${cpu.gatewayB}, bench ${cpu.bench}, workers ${cpu.workerA} + ${cpu.workerB}; ` +
    `whole machine ${cpu.machineBusy} of ${cpu.machineCapacity} (${r.environment.cpus} cores, load average ${r.environment.loadavg[0]})`);
  lines.push(`event loop utilization: bench ${el.bench.utilization} (delay p99 ${el.bench.delayP99Ms} ms), workers ${el.workerA.utilization} / ${el.workerB.utilization} ` +
    `(delay p99 ${el.workerA.delayP99Ms} / ${el.workerB.delayP99Ms} ms); database clock - bench clock ${r.environment.databaseClockOffset.offsetMs} ms`);
  lines.push(`subscribers: ${r.subscribers.outOfOrder} out-of-order deliveries, ${r.subscribers.errors} errors`);
  for (const e of r.subscribers.sampleErrors) lines.push(`  ${e}`);
  const c = r.channel;
  lines.push(`channel ${CHANNEL}: ${c.events} events up to sequence ${c.lastSequence}; ${c.gaps} gaps, ${c.outOfOrder} out of order, ${c.repeats} repeats` +
    (c.anomalies.length ? ` (${c.anomalies.slice(0, 4).map((x) => `${x.kind}: ${x.got} after ${x.after}`).join('; ')})` : ''));
  for (const g of ['A', 'B'] as const) {
    const logs = r.gatewayLogs[g];
    lines.push(`gateway ${g} warn/error log lines: ${logs.length + r.gatewayLogs.droppedLines[g]}`);
    for (const x of logs.slice(0, 10)) lines.push(`  ${x}`);
  }
  lines.push('');
  out(`${lines.join('\n')}\n`);
}

/** How each gateway stopped: printed, and returned for the results file. */
export function reportShutdown(gateways: GatewayProcess[]) {
  for (const g of gateways) {
    out(`gateway ${g.name} stop: ${g.killed ? 'did not exit within 10 s of SIGTERM, killed' : `exited ${g.stopMs} ms after SIGTERM`} ` +
      `(code ${g.exited?.code}, signal ${g.exited?.signal})\n`);
  }
  return Object.fromEntries(gateways.map((g) => [g.name, { stopMs: g.stopMs, killed: Boolean(g.killed), exit: g.exited }]));
}

/** Writes bench/results/fanout-<start, ISO 8601 basic format>.json (atomically); returns its path. */
export function saveResult(r: Result, extra: Record<string, unknown>): string {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = r.startedAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z'); // ISO 8601 basic format
  const file = path.join(RESULTS_DIR, `fanout-${stamp}.json`);
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify({ ...r, ...extra }, null, 2)}\n`);
  fs.renameSync(`${file}.tmp`, file);
  return file;
}
