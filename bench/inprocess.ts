/**
 * `npm run bench:inprocess -- <scenario>`: what one read scenario costs the gateway per request, measured inside its
 * process: the allocation (V8's sampling heap profiler, counting the objects already collected, which is what garbage
 * collection pays for), with --cpu a CPU profile, or with --promises the promises created per request and where
 * (on Node 20 each runs AsyncLocalStorage's hook, and each awaited one a microtask). The load comes from the same process (fetch, 16 at a time); its
 * own allocation and CPU are reported apart.
 *
 * The allocation figure is the one to trust on a shared machine: it does not change with the load on the machine,
 * unlike CPU time and throughput. It is how the largest allocations of the read path were found (graphql-jit's
 * per-leaf arrays, MikroORM's parameter inlining, the scalars' regular expressions).
 *
 * It needs the small data set of the suite (`npm run bench -- --quick` builds it once), PostgreSQL and Redis.
 */
import fs from 'node:fs';
import path from 'node:path';
import inspector from 'node:inspector/promises';
import { createHook } from 'node:async_hooks';
import { spawnSync } from 'node:child_process';
import { Command } from 'commander';
import { loadConfig } from '../src/config';
import { openDatabase } from '../src/app';
import { createGateway } from '../src/server/gateway';
import { gatewayOptions } from '../src/serve';
import { createLogger } from '../src/platform/logger';
import { GATEWAY } from './suite/queries';
import { ROOT, tradeqlArgs, tradeqlEnv } from './suite/tradeql';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: (ProfileNode | number)[];
  selfSize?: number;
}

const program = new Command()
  .name('bench:inprocess')
  .argument('<scenario>', 'orders, md-m1, md-h1, portfolio, or writes (submitOrder then executeTrade, one pair per request)')
  .option('--requests <n>', 'measured requests (after as many again to warm up)', (v) => Number.parseInt(v, 10), 400)
  .option('--cpu', 'a CPU profile instead of the allocation profile', false)
  .option('--promises', 'count the promises created per request, by who created them (slow: use fewer requests)', false)
  .option('--top <n>', 'functions listed', (v) => Number.parseInt(v, 10), 25)
  .option('--db <url>', 'the bench database', 'postgres://postgres@127.0.0.1:5432/tradeql_bench_small')
  .option('--out <file>', 'where the raw profile goes (opens in Chrome DevTools)', path.join(ROOT, 'bench', 'profiles', 'inprocess.profile'))
  .parse();

/** A request of the scenario on the small data set's first crypto pair and an account of its data set. */
async function requestBody(scenario: string, accountId: () => Promise<string>): Promise<string> {
  const day = { symbol: 'BTC-USD', from: new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() - 2)).toISOString() };
  const to = new Date(Date.parse(day.from) + 86_400_000).toISOString();
  switch (scenario) {
    case 'orders': return JSON.stringify({ query: GATEWAY.orders, variables: { first: 100 } });
    case 'md-m1': return JSON.stringify({ query: GATEWAY.marketData, variables: { ...day, to, timeframe: 'M1', first: 390 } });
    case 'md-h1': return JSON.stringify({ query: GATEWAY.marketData, variables: { ...day, to, timeframe: 'H1', first: 1000 } });
    case 'portfolio': return JSON.stringify({ query: GATEWAY.portfolio, variables: { accountId: await accountId() } });
    default: throw new Error(`unknown scenario ${scenario}: orders, md-m1, md-h1 or portfolio`);
  }
}

/** Where a sample's cost goes: the load (fetch), a package, one of our files, or code generated at run time. */
function ownerOf(stack: ProfileNode['callFrame'][]): string {
  if (stack.some((f) => f.url.includes('undici') || f.url.endsWith('inprocess.ts'))) return 'the load (fetch)';
  const own = stack.find((f) => f.url && !f.url.startsWith('node:'));
  if (!own) return stack[0].functionName === '(garbage collector)' ? 'garbage collector' : `node: ${stack.find((f) => f.url)?.url ?? stack[0].functionName}`;
  const pkg = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(own.url);
  if (pkg) return pkg[1];
  return own.url.includes('/src/') ? `src/${own.url.split('/src/')[1]}` : own.url;
}

const frameName = (f: ProfileNode['callFrame']) => `${f.functionName || '(anonymous)'} ${f.url.replace(/.*node_modules\//, '').replace(`file://${ROOT}/`, '')}:${f.lineNumber + 1}`;

function table(title: string, unit: string, rows: Map<string, number>, perRequest: number, top: number): void {
  console.log(`\n${title}`);
  for (const [name, value] of [...rows].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${(value / perRequest).toFixed(1).padStart(9)} ${unit}  ${name}`);
}

async function main(): Promise<void> {
  const [scenario] = program.args;
  const options = program.opts<{ requests: number; cpu: boolean; promises: boolean; top: number; db: string; out: string }>();
  const env = {
    NODE_ENV: 'production', DATABASE_URL: options.db, DATABASE_REPLICA_URLS: '', REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    EVENTS_CHANNEL: `tradeql.inprocess.${process.pid}`, LOG_LEVEL: 'warn', SYNC_ENABLED: 'false', METRICS_ENABLED: 'true',
    RATE_LIMIT_READS_PER_SEC: '0', RATE_LIMIT_MUTATIONS_PER_SEC: '0', PORT: '0', HOST: '127.0.0.1',
  };
  Object.assign(process.env, env);
  const cli = (...args: string[]) => {
    const done = spawnSync(process.execPath, tradeqlArgs(...args), { cwd: ROOT, env: tradeqlEnv(env), encoding: 'utf8' });
    if (done.status !== 0) throw new Error(`tradeql ${args.join(' ')} failed: ${done.stderr}`);
    return done;
  };
  // An admin key for the run, revoked at the end.
  const created = cli('apikey', 'create', '--role', 'admin', '--name', 'bench-inprocess');
  const key = created.stdout.trim().split('\n').pop()!;
  const keyId = /API key (\S+) created/.exec(created.stderr)?.[1];
  const log = createLogger('warn');
  const config = loadConfig();
  const runtime = await openDatabase(config, log);
  const gateway = await createGateway(gatewayOptions(config, runtime.db, log));
  try {
    const { url } = await gateway.listen(0, '127.0.0.1');
    const post = async (body: string) => {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body });
      const text = await response.text();
      if (response.status !== 200 || text.includes('"errors"')) throw new Error(`the request failed (${response.status}): ${text.slice(0, 300)}`);
      return text;
    };
    let send: () => Promise<number>;
    if (scenario === 'writes') {
      await runtime.db.orm.em.getConnection('write').execute(`insert into execution.accounts (account_id, name)
        select 'BW-IP-' || lpad(a::text, 2, '0'), 'bench:inprocess writes' from generate_series(1, 16) a on conflict do nothing`);
      let n = 0;
      send = async () => {
        const i = n++;
        const input = { accountId: `BW-IP-${String((i % 16) + 1).padStart(2, '0')}`, clientOrderId: `ip-${process.pid}-${i}`, symbol: 'BTC-USD', side: i % 2 ? 'SELL' : 'BUY', type: 'MARKET', quantity: '10' };
        const submitted = await post(JSON.stringify({ query: GATEWAY.submit, variables: { input } }));
        const orderId = (JSON.parse(submitted) as { data: { submitOrder: { orderId: string } } }).data.submitOrder.orderId;
        return submitted.length + (await post(JSON.stringify({ query: GATEWAY.fill, variables: { input: { orderId, price: (100 + (i % 100) / 100).toFixed(2) } } }))).length;
      };
    } else {
      const body = await requestBody(scenario, async () => (await runtime.db.read<{ id: string }>('select account_id as id from execution.accounts order by 1 limit 1', [], 'primary'))[0].id);
      send = async () => (await post(body)).length;
    }
    const load = async (n: number) => {
      let sent = 0;
      await Promise.all(Array.from({ length: 16 }, async () => { while (sent++ < n) await send(); }));
    };
    console.log(`${scenario}: ${await send()} bytes per answer; warming up with ${options.requests} requests`);
    await load(options.requests);

    if (options.promises) {
      countPromises(await measurePromises(() => load(options.requests)), options.requests, options.top);
      return;
    }

    const session = new inspector.Session();
    session.connect();
    if (options.cpu) {
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 200 });
      await session.post('Profiler.start');
    } else {
      await session.post('HeapProfiler.startSampling', { samplingInterval: 8192, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
    }
    console.log(`measuring ${options.requests} requests, 16 at a time`);
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await load(options.requests);
    const cpu = process.cpuUsage(cpuBefore);
    console.log(`${(performance.now() - started).toFixed(0)} ms; process CPU ${((cpu.user + cpu.system) / 1000 / options.requests).toFixed(2)} ms per request (the load's included)`);

    const byOwner = new Map<string, number>();
    const byFunction = new Map<string, number>();
    const add = (map: Map<string, number>, key: string, value: number) => map.set(key, (map.get(key) ?? 0) + value);
    let profile: unknown;
    if (options.cpu) {
      const { profile: cpuProfile } = await session.post('Profiler.stop');
      profile = cpuProfile;
      const nodes = new Map(cpuProfile.nodes.map((n) => [n.id, n as ProfileNode]));
      const parent = new Map<number, number>();
      for (const n of cpuProfile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
      cpuProfile.samples!.forEach((id, i) => {
        const stack: ProfileNode['callFrame'][] = [];
        for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) stack.push(nodes.get(at)!.callFrame);
        if (stack[0].functionName === '(idle)') return;
        const us = cpuProfile.timeDeltas![i] ?? 0;
        add(byOwner, ownerOf(stack), us);
        add(byFunction, frameName(stack[0]), us);
      });
      table('CPU by owner (sampled; writes to PostgreSQL\'s sockets include time the thread waited for a core)', 'µs/req', byOwner, options.requests, 30);
    } else {
      const { profile: heapProfile } = await session.post('HeapProfiler.stopSampling');
      profile = heapProfile;
      const walk = (node: ProfileNode, stack: ProfileNode['callFrame'][]) => {
        const here = [node.callFrame, ...stack];
        if (node.selfSize) {
          add(byOwner, ownerOf(here), node.selfSize / 1024);
          add(byFunction, frameName(node.callFrame), node.selfSize / 1024);
        }
        for (const child of node.children ?? []) walk(child as ProfileNode, here);
      };
      walk(heapProfile.head as unknown as ProfileNode, []);
      const total = [...byOwner].reduce((sum, [owner, kb]) => (owner === 'the load (fetch)' ? sum : sum + kb), 0);
      console.log(`allocated by the gateway: ${(total / options.requests).toFixed(0)} KB per request (sampled)`);
      table('allocation by owner', 'KB/req', byOwner, options.requests, 30);
    }
    table('by function', options.cpu ? 'µs/req' : 'KB/req', byFunction, options.requests, options.top);
    fs.mkdirSync(path.dirname(options.out), { recursive: true });
    fs.writeFileSync(options.out, JSON.stringify(profile));
    console.log(`\nthe profile: ${options.out}`);
    session.disconnect();
  } finally {
    await gateway.stop();
    if (scenario === 'writes') {
      // What the pairs wrote (the relay has published their events, or the next start would).
      const write = runtime.db.orm.em.getConnection('write');
      for (const table of ['execution.trades', 'execution.positions', 'execution.orders', 'execution.outbox', 'execution.accounts']) {
        await write.execute(`delete from ${table} where account_id like 'BW-IP-%'`);
      }
    }
    await runtime.close();
    if (keyId) cli('apikey', 'revoke', keyId);
  }
}

/** The stack of every promise created while `work` runs (the frames above node's own), by its creator. */
async function measurePromises(work: () => Promise<void>): Promise<Map<string, number>> {
  const creators = new Map<string, number>();
  const limit = Error.stackTraceLimit;
  let counting = false;
  const hook = createHook({
    init(_id, type) {
      if (type !== 'PROMISE' || counting) return;
      counting = true; // the hook's own work makes no count
      const holder: { stack?: string } = {};
      Error.captureStackTrace(holder);
      const frames = (holder.stack ?? '').split('\n').slice(1).map((line) => line.trim().replace(/^at /, ''))
        .filter((line) => !line.startsWith('AsyncHook.init') && !line.includes('node:internal/async_hooks') && !line.startsWith('new Promise'));
      const load = frames.some((f) => f.includes('undici') || f.includes('inprocess.ts') || f.includes('node:internal/webstreams') || f.includes('node:internal/deps/undici'));
      const key = load ? 'the load (fetch)' : frames.slice(0, 3).map((f) => f.replace(/.*node_modules\//, '').replace(`${ROOT}/`, '').replace(/^async /, '')).join(' < ');
      creators.set(key, (creators.get(key) ?? 0) + 1);
      counting = false;
    },
  });
  Error.stackTraceLimit = 12;
  hook.enable();
  try {
    await work();
  } finally {
    hook.disable();
    Error.stackTraceLimit = limit;
  }
  return creators;
}

function countPromises(creators: Map<string, number>, requests: number, top: number): void {
  const gateway = [...creators].reduce((sum, [key, n]) => (key === 'the load (fetch)' ? sum : sum + n), 0);
  console.log(`promises created by the gateway: ${(gateway / requests).toFixed(1)} per request (the load's: ${((creators.get('the load (fetch)') ?? 0) / requests).toFixed(1)})`);
  table('by creator (the three innermost frames)', 'per req', creators, requests, top);
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error((error as Error).stack ?? error);
  process.exit(1);
});
