/** CPU and memory of processes over a run, from /proc (Linux), and the machine's busy time. */
import fs from 'node:fs';

/** utime + stime from a /proc stat file (a process's or a thread's), in seconds (USER_HZ = 100). */
function statCpuSeconds(file: string): number {
  const stat = fs.readFileSync(file, 'utf8');
  // after "pid (comm) " come state (field 3) ... utime (14) and stime (15): indexes 11 and 12 here
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** utime + stime of a process (all its threads), in seconds. */
export function cpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/**
 * A process's main thread (its JavaScript thread, the one a single-threaded server is bound by): its CPU time in
 * seconds, and how often the scheduler took its core from it while it could still run (nonvoluntary context switches:
 * on a machine shared with PostgreSQL, mostly a backend woken by the thread's own write to its socket).
 */
export function mainThread(pid: number): { cpuSeconds: number; preempted: number } {
  const m = /^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8'));
  return { cpuSeconds: statCpuSeconds(`/proc/${pid}/task/${pid}/stat`), preempted: m ? Number(m[1]) : NaN };
}

/** Resident set size, in KB (VmRSS). */
export function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** The machine's busy and total CPU time so far, in seconds, from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const t = line.trim().split(/\s+/).slice(1).map(Number);
  const total = t.reduce((a, b) => a + b, 0);
  const idle = t[3] + (t[4] ?? 0);
  return { busy: (total - idle) / 100, total: total / 100 };
}

export interface UsageSpan {
  /** % of one core */
  cpuPercent: number;
  /** CPU time of the process over the span */
  cpuSeconds: number;
  /** the main thread alone, % of one core: near 100, the server is bound by it */
  mainThreadPercent: number;
  /** times the main thread lost its core while it could run */
  preempted: number;
  rssPeakMb: number;
  rssEndMb: number;
  /** every process of the machine (PostgreSQL, the load, others) over the span, % of one core; capacity = cores x 100 */
  machineBusyPercent: number;
}

/** Measures one process from now until `stop()`, sampling its RSS every 250 ms. */
export function measureProcess(pid: number): { stop(): UsageSpan } {
  const started = performance.now();
  const cpu0 = cpuSeconds(pid);
  const main0 = mainThread(pid);
  const machine0 = machineCpu();
  let peak = rssKb(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssKb(pid));
    } catch {
      // gone: reported by its exit
    }
  }, 250);
  return {
    stop() {
      clearInterval(timer);
      const spanS = (performance.now() - started) / 1000;
      const end = rssKb(pid);
      const machine = machineCpu();
      const main = mainThread(pid);
      return {
        cpuPercent: Math.round(((cpuSeconds(pid) - cpu0) / spanS) * 1000) / 10,
        cpuSeconds: cpuSeconds(pid) - cpu0,
        mainThreadPercent: Math.round(((main.cpuSeconds - main0.cpuSeconds) / spanS) * 1000) / 10,
        preempted: main.preempted - main0.preempted,
        rssPeakMb: Math.round(Math.max(peak, end) / 102.4) / 10,
        rssEndMb: Math.round(end / 102.4) / 10,
        machineBusyPercent: Math.round(((machine.busy - machine0.busy) / spanS) * 1000) / 10,
      };
    },
  };
}
