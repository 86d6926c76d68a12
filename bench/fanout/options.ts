/** The bench's command line. */
import { parseArgs } from 'node:util';
import { CHANNEL } from './channel';

export const HELP = `usage: npx tsx bench/fanout.ts [options]     (or: npm run bench:fanout -- [options])
  --subscribers N   graphql-ws subscribers, split evenly over the two gateways (1000)
  --fills F         measured fills (200)
  --rate R          fills per second (20)
  --via A|B|AB      the gateway that receives executeTrade: A, B, or alternating (A)
  --timeout S       the whole run stops after S seconds (600)
  --pg URL          PostgreSQL admin URL (BENCH_PG_URL, else postgres://postgres@127.0.0.1:5432/postgres)
  --redis URL       Redis (REDIS_URL, else redis://127.0.0.1:6379)
  --force           run even if something already subscribes to ${CHANNEL} on that Redis`;

export class UsageError extends Error {}

/** The options from process.argv; prints the help and exits for --help, throws UsageError for bad values. */
export function options() {
  const { values } = parseArgs({
    options: {
      subscribers: { type: 'string', default: '1000' },
      fills: { type: 'string', default: '200' },
      rate: { type: 'string', default: '20' },
      via: { type: 'string', default: 'A' },
      timeout: { type: 'string', default: '600' },
      pg: { type: 'string', default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
      redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const int = (name: string, value: string, min: number, max: number) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`);
    return n;
  };
  const rate = Number(values.rate);
  if (!(rate > 0 && rate <= 1000)) throw new UsageError('--rate must be a number > 0 and <= 1000');
  const via = String(values.via).toUpperCase();
  if (!['A', 'B', 'AB'].includes(via)) throw new UsageError('--via must be A, B or AB');
  return {
    subscribers: int('subscribers', values.subscribers!, 2, 20_000),
    fills: int('fills', values.fills!, 1, 10_000),
    rate,
    via: via as 'A' | 'B' | 'AB',
    timeoutS: int('timeout', values.timeout!, 10, 3600),
    pgUrl: values.pg!,
    redisUrl: values.redis!,
    force: values.force!,
  };
}
export type Options = ReturnType<typeof options>;
