/**
 * A child process of bench/fanout.ts (started by workers.ts) holding the graphql-ws subscribers of one gateway, so
 * that the bench process (which sends the fills, runs the Redis baseline and takes the response times) is not slowed
 * down by them.
 * Driven over IPC; it never runs on its own. Timestamps: `clock()`, the machine's wall clock with sub-ms resolution,
 * the same in every process of the bench.
 */
import { performance, monitorEventLoopDelay, type EventLoopUtilization } from 'node:perf_hooks';
import WebSocket from 'ws';
import { createClient, type Client as WsClient } from 'graphql-ws';
import { clock, SUBSCRIPTION, type Collected, type FromWorker, type ToWorker } from './shared';

interface TradeEventData {
  tradeExecuted: { eventId: string; sequence: string; trade: { tradeId: string; price: string; executedAt: string } };
}

interface Subscriber {
  index: number;
  client?: WsClient;
  connected: boolean;
  arrivals: Map<string, number>;
  lastSequence: bigint;
}

const subscribers: Subscriber[] = [];
/** tradeId -> how many subscribers have it */
const have = new Map<string, number>();
let duplicates = 0;
let outOfOrder = 0;
let errorCount = 0;
const errors: string[] = [];
let stopping = false;

function send(message: FromWorker): void {
  process.send!(message);
}

function error(sub: Subscriber, message: string): void {
  errorCount++;
  if (errors.length < 20) errors.push(`subscriber ${sub.index}: ${message}`);
}

function describe(e: unknown): string {
  if (e && typeof e === 'object' && 'code' in e && 'reason' in e) return `code ${(e as { code: number }).code} ${(e as { reason: string }).reason}`.trim();
  if (e instanceof Error) return e.message;
  if (Array.isArray(e)) return e.map((x) => (x as { message?: string }).message ?? String(x)).join('; ');
  return String(e);
}

function connect(sub: Subscriber, wsUrl: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`subscriber ${sub.index} not acknowledged within ${timeoutMs} ms`)), timeoutMs);
    sub.client = createClient({
      url: wsUrl,
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      connectionAckWaitTimeout: timeoutMs,
      connectionParams: { authorization: `Bearer ${process.env.TRADEQL_BENCH_KEY}` },
      onNonLazyError: (e) => error(sub, `connection: ${describe(e)}`),
      on: {
        connected: () => {
          sub.connected = true;
          clearTimeout(timer);
          resolve();
        },
        closed: (e) => {
          const was = sub.connected;
          sub.connected = false;
          if (stopping) return;
          error(sub, `closed: ${describe(e)}`);
          if (!was) {
            clearTimeout(timer);
            reject(new Error(`subscriber ${sub.index} closed before the ack: ${describe(e)}`));
          }
        },
        error: (e) => error(sub, `socket error: ${describe(e)}`),
      },
    });
  });
}

function subscribe(sub: Subscriber): void {
  sub.client!.subscribe<TradeEventData>({ query: SUBSCRIPTION }, {
    next: (result) => {
      const at = clock();
      const event = result.data?.tradeExecuted;
      if (!event) {
        error(sub, `result without data: ${describe(result.errors)}`);
        return;
      }
      const sequence = BigInt(event.sequence);
      if (sequence <= sub.lastSequence) outOfOrder++;
      else sub.lastSequence = sequence;
      const tradeId = String(event.trade.tradeId);
      if (sub.arrivals.has(tradeId)) {
        duplicates++;
        return;
      }
      sub.arrivals.set(tradeId, at);
      have.set(tradeId, (have.get(tradeId) ?? 0) + 1);
    },
    error: (e) => error(sub, `subscription error: ${describe(e)}`),
    complete: () => {
      if (!stopping) error(sub, 'subscription completed by the server');
    },
  });
}

async function start(m: Extract<ToWorker, { type: 'start' }>): Promise<void> {
  const started = performance.now();
  for (let i = 0; i < m.count; i++) subscribers.push({ index: m.firstIndex + i, connected: false, arrivals: new Map(), lastSequence: -1n });
  for (let i = 0; i < subscribers.length; i += m.connectBatch) {
    await Promise.all(subscribers.slice(i, i + m.connectBatch).map((sub) => connect(sub, m.wsUrl, m.ackTimeoutMs)));
    send({ type: 'connected', connected: Math.min(i + m.connectBatch, subscribers.length) });
  }
  for (const sub of subscribers) subscribe(sub);
  send({ type: 'ready', connectMs: performance.now() - started });
}

let measuring: { cpu: NodeJS.CpuUsage; elu: EventLoopUtilization; at: number; delay: ReturnType<typeof monitorEventLoopDelay> } | undefined;

function collect(tradeIds: string[]): Collected {
  const arrivals = new Float64Array(subscribers.length * tradeIds.length).fill(NaN);
  subscribers.forEach((sub, s) => {
    tradeIds.forEach((tradeId, t) => {
      const at = sub.arrivals.get(tradeId);
      if (at !== undefined) arrivals[s * tradeIds.length + t] = at;
    });
  });
  let cpuPercent = NaN;
  let eventLoopUtilization = NaN;
  let eventLoopDelayP99Ms = NaN;
  let eventLoopDelayMaxMs = NaN;
  if (measuring) {
    measuring.delay.disable();
    const cpu = process.cpuUsage(measuring.cpu);
    cpuPercent = Math.round(((cpu.user + cpu.system) / 1000 / (performance.now() - measuring.at)) * 1000) / 10;
    eventLoopUtilization = Math.round(performance.eventLoopUtilization(measuring.elu).utilization * 1000) / 1000;
    eventLoopDelayP99Ms = Math.round(measuring.delay.percentile(99) / 1e4) / 100;
    eventLoopDelayMaxMs = Math.round(measuring.delay.max / 1e4) / 100;
  }
  return {
    type: 'collected', arrivals, subscribers: subscribers.length, duplicates, outOfOrder, errorCount, errors,
    cpuPercent, eventLoopUtilization, eventLoopDelayP99Ms, eventLoopDelayMaxMs,
  };
}

async function close(): Promise<void> {
  stopping = true;
  await Promise.all(subscribers.map(async (sub) => {
    try {
      await sub.client?.dispose();
    } catch {
      // closing anyway
    }
  }));
  process.exit(0);
}

if (!process.send) {
  process.stderr.write('bench/fanout/worker.ts is started by bench/fanout.ts\n');
  process.exit(2);
}
// The bench going away (even killed) closes the IPC channel: do not outlive it.
process.on('disconnect', () => void close());
process.on('SIGINT', () => undefined); // Ctrl+C reaches the whole group: the bench closes us in order
process.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'start':
      start(m).catch((e) => send({ type: 'failed', message: (e as Error).message }));
      break;
    case 'count':
      send({ type: 'count', id: m.id, have: m.tradeIds.map((t) => have.get(t) ?? 0) });
      break;
    case 'measure': {
      const delay = monitorEventLoopDelay({ resolution: 1 });
      delay.enable();
      measuring = { cpu: process.cpuUsage(), elu: performance.eventLoopUtilization(), at: performance.now(), delay };
      break;
    }
    case 'collect':
      send(collect(m.tradeIds));
      break;
    case 'close':
      void close();
      break;
  }
});
