/** Resources over the load and the drain: CPU of the bench, the gateways and the machine, the bench's event loop, RSS. */
import { performance, monitorEventLoopDelay } from 'node:perf_hooks';
import fs from 'node:fs';
import type { GatewayProcess } from './gateways';
import { BenchError } from './lifecycle';
import { round } from './stats';

/** Resident set size of a process, in KB (VmRSS). */
function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new BenchError(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** The RSS of both gateways, in KB. */
export function gatewayRss(a: GatewayProcess, b: GatewayProcess): { A: number; B: number } {
  return { A: rssKb(a.child.pid!), B: rssKb(b.child.pid!) };
}

/** The whole machine's CPU time so far, in seconds: busy (everything but idle and iowait) and total. */
function machineCpu(): { busy: number; total: number } {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const total = fields.reduce((x, y) => x + y, 0);
  return { busy: (total - fields[3] - fields[4]) / 100, total: total / 100 };
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // after "pid (comm) " come state (field 3) ... utime (14) and stime (15): indexes 11 and 12 here
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ = 100 on Linux
}

/** Starts measuring; `started` is the performance.now() the load is timed from. */
export function startUsage(a: GatewayProcess, b: GatewayProcess) {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = { bench: process.cpuUsage(), A: cpuSeconds(a.child.pid!), B: cpuSeconds(b.child.pid!), machine: machineCpu() };
  const started = performance.now();
  // the gateways' RSS every 500 ms through the load and the drain
  const rssSeries: { ms: number; A: number; B: number }[] = [];
  const rssTimer = setInterval(() => {
    try {
      rssSeries.push({ ms: Math.round(performance.now() - started), ...gatewayRss(a, b) });
    } catch {
      // a gateway is gone: reported by its exit
    }
  }, 500);

  /** Ends the span; the CPU shares are % of one core over it. */
  const stop = () => {
    delay.disable();
    clearInterval(rssTimer);
    const spanMs = performance.now() - started;
    const benchCpu = process.cpuUsage(cpu0.bench);
    const elu = performance.eventLoopUtilization(elu0);
    const cpuPct = (seconds: number) => round((seconds * 1000 * 100) / spanMs, 1);
    const machine = machineCpu();
    const rssEnd = gatewayRss(a, b);
    return {
      rssSeries,
      rssEnd,
      benchCpuPercent: cpuPct((benchCpu.user + benchCpu.system) / 1e6),
      // every process of the machine (PostgreSQL, Redis, and whatever else runs) over the same span
      machineBusyPercent: cpuPct(machine.busy - cpu0.machine.busy),
      machineCapacityPercent: cpuPct(machine.total - cpu0.machine.total),
      benchEventLoop: { utilization: round(elu.utilization, 3), delayP99Ms: round(delay.percentile(99) / 1e6), delayMaxMs: round(delay.max / 1e6) },
      /** The gateways' CPU from the start until this is called (when the results are assembled, a little after the span), over the span. */
      gatewayCpuPercent: () => ({ A: cpuPct(cpuSeconds(a.child.pid!) - cpu0.A), B: cpuPct(cpuSeconds(b.child.pid!) - cpu0.B) }),
    };
  };
  return { started, stop };
}
export type Usage = ReturnType<ReturnType<typeof startUsage>['stop']>;
