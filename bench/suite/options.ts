/** The suite's command line (commander). */
import { Command, InvalidArgumentError, Option } from 'commander';
import { SCENARIOS, type ScenarioName } from './scenarios';
import type { SizeName } from './dataset';

function list<T>(parse: (s: string) => T) {
  return (value: string) => value.split(',').map((s) => s.trim()).filter(Boolean).map(parse);
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number >= 1');
  return n;
}

function scenario(value: string): ScenarioName {
  const known = SCENARIOS.map((s) => s.name) as string[];
  const groups: Record<string, ScenarioName[]> = { reads: ['md-m1', 'md-h1', 'orders', 'portfolio'], writes: ['write-distinct', 'write-hot'], ingest: ['ingest-1k', 'ingest-10k'] };
  if (!known.includes(value) && !groups[value]) throw new InvalidArgumentError(`unknown scenario ${value}: one of ${known.join(', ')}, or reads, writes, ingest`);
  return value as ScenarioName;
}

export interface Options {
  quick: boolean;
  scenarios: ScenarioName[];
  size: SizeName;
  concurrency?: number[];
  durationS: number;
  warmupS: number;
  rounds: number;
  rebuild: boolean;
  peer: boolean;
  replica: boolean;
  pgUrl: string;
  replicaPort: number;
  redisUrl: string;
  poolMax: number;
  sync: boolean;
  cpuProf: boolean;
  /** extra flags for the gateway's node process */
  nodeFlags: string[];
  readme: boolean;
  /** where the results JSON goes (default bench/results/<start>.json) */
  resultsFile?: string;
  timeoutS: number;
  /** only these systems (the gateway always runs) */
  systems?: string[];
}

export function parseOptions(argv: string[]): Options {
  const program = new Command()
    .name('npm run bench --')
    .description('The gateway against the physical limit (node:http + pg, a raw transaction, a plpgsql function, COPY) and against PostGraphile 5, interleaved in one run. See bench/README.md.')
    .option('--quick', 'small data set, concurrency 16 (writes 16, ingestion 1), 1 round of 2 s: about 2-3 minutes', false)
    .option('--scenarios <list>', 'comma-separated: md-m1, md-h1, orders, portfolio, write-distinct, write-hot, ingest-1k, ingest-10k, or reads / writes / ingest', list(scenario))
    .addOption(new Option('--size <size>', 'data set: full (50 symbols x 90 days, 3.3 M bars, 100 k orders) or small').choices(['full', 'small']))
    .option('--concurrency <list>', 'connections, for every selected scenario (default: reads 1,16,64; writes 16,64; ingestion 1,4)', list(positive))
    .option('--duration <s>', 'seconds per measured run', positive)
    .option('--warmup <s>', 'seconds of warm-up per system and scenario', positive)
    .option('--rounds <n>', 'measured runs per system, scenario and concurrency (interleaved)', positive)
    .option('--systems <list>', 'only these systems besides the gateway: limit, peer, raw, fn, copy (e.g. none of them, for a profile: --systems gateway)', list((v: string) => {
      if (!['gateway', 'limit', 'peer', 'raw', 'fn', 'copy'].includes(v)) throw new InvalidArgumentError(`unknown system ${v}`);
      return v;
    }))
    .option('--rebuild', 'rebuild the data set even if a matching one exists', false)
    .option('--no-peer', 'without PostGraphile')
    .option('--no-replica', 'the gateway and the baseline read from the primary even if a replica streams')
    .option('--pg <url>', 'PostgreSQL admin URL (trust authentication)', process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres')
    .option('--replica-port <port>', 'port of the streaming replica of that PostgreSQL', positive, 5433)
    .option('--redis <url>', 'Redis of the gateway', process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
    .option('--pool <n>', 'pool size of the baseline (the gateway\'s default is DB_POOL_SIZE 10 + DB_POOL_OVERFLOW 20)', positive, 30)
    .option('--sync', 'run the analytics synchronizer in the gateway (SYNC_ENABLED=true)', false)
    .option('--cpu-prof', 'write a V8 CPU profile of the gateway to bench/profiles/ when it stops', false)
    .option('--node-flags <flags>', 'flags for the gateway\'s node process, space-separated (e.g. --node-flags=--max-semi-space-size=64, or --perf-basic-prof-only-functions to profile it with perf)', (v: string) => {
      const flags = v.split(/\s+/).filter(Boolean);
      if (flags.some((f) => !f.startsWith('--'))) throw new InvalidArgumentError('each flag starts with --');
      return flags;
    })
    .option('--readme', 'replace the results table in bench/README.md with this run\'s', false)
    .option('--results <file>', 'write the results JSON to this file instead of bench/results/<start>.json')
    .option('--timeout <s>', 'the whole run stops after this many seconds', positive, 3600)
    .exitOverride();
  program.parse(argv, { from: 'user' });
  const o = program.opts();
  const quick = Boolean(o.quick);
  const expand = (names: string[]): ScenarioName[] => names.flatMap((n) => (
    n === 'reads' ? ['md-m1', 'md-h1', 'orders', 'portfolio'] : n === 'writes' ? ['write-distinct', 'write-hot'] : n === 'ingest' ? ['ingest-1k', 'ingest-10k'] : [n]) as ScenarioName[]);
  return {
    quick,
    scenarios: o.scenarios ? [...new Set(expand(o.scenarios))] : SCENARIOS.map((s) => s.name),
    size: (o.size ?? (quick ? 'small' : 'full')) as SizeName,
    concurrency: o.concurrency,
    durationS: o.duration ?? (quick ? 2 : 7),
    warmupS: o.warmup ?? (quick ? 1 : 4),
    rounds: o.rounds ?? (quick ? 1 : 3),
    rebuild: Boolean(o.rebuild),
    peer: o.peer !== false,
    replica: o.replica !== false,
    pgUrl: o.pg,
    replicaPort: o.replicaPort,
    redisUrl: o.redis,
    poolMax: o.pool,
    sync: Boolean(o.sync),
    cpuProf: Boolean(o.cpuProf),
    nodeFlags: o.nodeFlags ?? [],
    readme: Boolean(o.readme),
    resultsFile: o.results,
    timeoutS: o.timeout,
    systems: o.systems,
  };
}
