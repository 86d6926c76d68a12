/**
 * The bench's own database and data set: created and migrated on first use, filled in SQL with a progress bar, and
 * reused by later runs while its marker row (bench.dataset: version, size, parameters) matches. Every run migrates
 * it (a no-op when current), so new migrations of the project apply to a reused data set too.
 */
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { SingleBar, Presets } from 'cli-progress';
import { BenchError, checkAlive, progress } from './lifecycle';
import { databaseUrl, quoteIdent, withPg } from './pg';
import { ROOT, tradeqlArgs, tradeqlEnv } from './tradeql';
import {
  DATASET_MARKER, INSERT_ACCOUNTS, INSERT_BARS, INSERT_ORDERS, INSERT_POSITIONS, INSERT_TRADES, UPDATE_ORDERS,
} from './dataset-sql';

/** Bump when the generated rows change: a data set of another version is rebuilt. */
export const DATASET_VERSION = 2;

export type SizeName = 'full' | 'small';

export interface DatasetSize {
  name: SizeName;
  equities: number;
  cryptos: number;
  days: number;
  accounts: number;
  orders: number;
}

export const SIZES: Record<SizeName, DatasetSize> = {
  // 30 x ~64 weekdays x 390 + 20 x 90 x 1440 = 3.34 M bars; 100 k orders, ~200 k trades
  full: { name: 'full', equities: 30, cryptos: 20, days: 90, accounts: 20, orders: 100_000 },
  // for --quick: ~60 k bars, 10 k orders, ~20 k trades
  small: { name: 'small', equities: 6, cryptos: 4, days: 10, accounts: 20, orders: 10_000 },
};

const EQUITIES = ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'META', 'TSLA', 'AVGO', 'JPM', 'V', 'UNH', 'XOM', 'MA', 'JNJ', 'PG',
  'HD', 'COST', 'ABBV', 'MRK', 'CVX', 'KO', 'PEP', 'ADBE', 'CRM', 'NFLX', 'AMD', 'INTC', 'ORCL', 'CSCO', 'WMT'];
const CRYPTOS = ['BTC-USD', 'ETH-USD', 'SOL-USD', 'XRP-USD', 'ADA-USD', 'DOGE-USD', 'AVAX-USD', 'DOT-USD', 'LINK-USD', 'LTC-USD',
  'BCH-USD', 'XLM-USD', 'ATOM-USD', 'ETC-USD', 'FIL-USD', 'APT-USD', 'ARB-USD', 'OP-USD', 'NEAR-USD', 'UNI-USD'];

export interface SymbolSpec {
  symbol: string;
  crypto: boolean;
  price: number;
  phase: number;
}

export function symbolsOf(size: DatasetSize): SymbolSpec[] {
  const eq = EQUITIES.slice(0, size.equities).map((symbol, i) => ({ symbol, crypto: false, price: 40 + ((i * 37) % 400), phase: i * 0.7 }));
  const cr = CRYPTOS.slice(0, size.cryptos).map((symbol, i) => ({ symbol, crypto: true, price: i === 0 ? 60_000 : 5 + ((i * 53) % 300), phase: 10 + i * 0.9 }));
  return [...eq, ...cr];
}

/** What the marker row stores, and what the scenarios need to know about the data. */
export interface DatasetInfo {
  version: number;
  size: DatasetSize;
  /** bars cover [from, to): whole UTC days */
  from: string;
  to: string;
  symbols: SymbolSpec[];
  accounts: string[];
  counts?: { bars: number; orders: number; trades: number; positions: number };
  builtAt?: string;
  buildSeconds?: number;
}

export function databaseName(size: DatasetSize): string {
  return size.name === 'full' ? 'tradeql_bench' : `tradeql_bench_${size.name}`;
}

function migrate(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, tradeqlArgs('migrate'), { cwd: ROOT, env: tradeqlEnv({ DATABASE_URL: url, LOG_LEVEL: 'warn' }), timeout: 180_000 },
      (error, _stdout, stderr) => (error ? reject(new BenchError(`tradeql migrate failed: ${error.message}\n${stderr}`)) : resolve()));
  });
}

/** jsonb keeps its own key order: compare field by field. */
function sameSize(a: DatasetSize, b: DatasetSize): boolean {
  return (Object.keys(b) as (keyof DatasetSize)[]).every((k) => a[k] === b[k]);
}

/** Whether `name` exists on the server of `adminUrl`. */
async function databaseExists(adminUrl: string, name: string): Promise<boolean> {
  return withPg(adminUrl, async (pg) => (await pg.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1);
}

async function readMarker(url: string): Promise<DatasetInfo | null> {
  return withPg(url, async (pg) => {
    const exists = await pg.query(`select to_regclass('bench.dataset') is not null as ok`);
    if (!exists.rows[0].ok) return null;
    const { rows } = await pg.query(`select version, size, params, built_at, build_seconds from bench.dataset where id = 1`);
    if (!rows.length) return null;
    return { ...rows[0].params, builtAt: rows[0].built_at.toISOString(), buildSeconds: Number(rows[0].build_seconds) } as DatasetInfo;
  });
}

/**
 * The data set of `size` in its own database: reused when its marker matches, else (re)built. Returns its URL and
 * what it holds. `rebuild` drops and rebuilds it anyway.
 */
export async function ensureDataset(adminUrl: string, size: DatasetSize, options: { rebuild: boolean; progressBar: boolean }): Promise<{ url: string; info: DatasetInfo; reused: boolean }> {
  const name = databaseName(size);
  const url = databaseUrl(adminUrl, name);
  let exists = await databaseExists(adminUrl, name);
  if (exists && !options.rebuild) {
    await migrate(url);
    const marker = await readMarker(url);
    if (marker && marker.version === DATASET_VERSION && sameSize(marker.size, size)) {
      progress(`dataset: reusing ${name} (${size.name}, built ${marker.builtAt}, bars ${marker.from.slice(0, 10)} .. ${marker.to.slice(0, 10)})`);
      return { url, info: marker, reused: true };
    }
    progress(`dataset: ${name} has ${marker ? `version ${marker.version}, size ${marker.size.name}` : 'no complete data set'}: rebuilding`);
  }
  if (exists) {
    await withPg(adminUrl, (pg) => pg.query(`drop database ${quoteIdent(name)} with (force)`));
    exists = false;
  }
  await withPg(adminUrl, (pg) => pg.query(`create database ${quoteIdent(name)}`));
  progress(`dataset: database ${name} created; migrating`);
  await migrate(url);
  const info = await build(url, size, options.progressBar);
  return { url, info, reused: false };
}

/** Fills a freshly migrated database; the marker row is written last, so an interrupted build is never reused. */
async function build(url: string, size: DatasetSize, progressBar: boolean): Promise<DatasetInfo> {
  const started = performance.now();
  const dayMs = 86_400_000;
  const today = Math.floor(Date.now() / dayMs) * dayMs;
  const from = new Date(today - size.days * dayMs);
  const to = new Date(today);
  const symbols = symbolsOf(size);
  const accounts = Array.from({ length: size.accounts }, (_, i) => `ACC-${String(i + 1).padStart(2, '0')}`);
  const info: DatasetInfo = { version: DATASET_VERSION, size, from: from.toISOString(), to: to.toISOString(), symbols, accounts };

  // Work in units of rows: bars per symbol, then orders, trades and the rest.
  const weekdays = Array.from({ length: size.days }, (_, d) => new Date(from.getTime() + d * dayMs).getUTCDay()).filter((d) => d !== 0 && d !== 6).length;
  const barsOf = (s: SymbolSpec) => (s.crypto ? size.days * 1440 : weekdays * 390);
  const totalBars = symbols.reduce((n, s) => n + barsOf(s), 0);
  const total = totalBars + size.orders * 4;
  progress(`dataset: building ${size.name}: ${symbols.length} symbols x ${size.days} days (${totalBars.toLocaleString('en')} bars), ` +
    `${size.accounts} accounts, ${size.orders.toLocaleString('en')} orders, ~${(size.orders * 2).toLocaleString('en')} trades`);
  const bar = progressBar
    ? new SingleBar({ format: 'dataset [{bar}] {percentage}% | {value}/{total} rows | {step} | {duration_formatted}', stream: process.stdout, etaBuffer: 20 }, Presets.shades_classic)
    : null;
  let done = 0;
  let lastLogged = 0;
  const advance = (rows: number, step: string) => {
    done += rows;
    if (bar) bar.update(done, { step });
    else if (done - lastLogged >= total / 10 || done === total) {
      lastLogged = done;
      progress(`dataset: ${Math.round((done / total) * 100)}% (${step})`);
    }
  };
  bar?.start(total, 0, { step: 'partitions' });
  try {
    await withPg(url, async (pg) => {
      await pg.query(DATASET_MARKER);
      // one partition per month of the bars (the migration's cover months -3..+3 around its own date)
      await pg.query(`select data_ingestion.create_market_data_partition(m::date)
                      from generate_series(date_trunc('month', $1::timestamptz at time zone 'UTC'), $2::timestamptz at time zone 'UTC', interval '1 month') as m`,
      [from, to]);
      await pg.query(INSERT_ACCOUNTS, [size.accounts, from]);
    });
    // bars: two connections at a time (the machine has few cores, and others use it)
    const queue = [...symbols];
    await Promise.all([0, 1].map(() => withPg(url, async (pg) => {
      await pg.query('set synchronous_commit = off');
      for (let s = queue.shift(); s; s = queue.shift()) {
        checkAlive();
        await pg.query(INSERT_BARS, [s.symbol, s.price, s.phase, s.crypto, from, to]);
        advance(barsOf(s), `bars ${s.symbol}`);
      }
    })));
    await withPg(url, async (pg) => {
      const names = symbols.map((s) => s.symbol);
      const prices = symbols.map((s) => String(s.price));
      await pg.query(INSERT_ORDERS, [size.orders, size.accounts, names, prices, from, to]);
      advance(size.orders, 'orders');
      await pg.query(INSERT_TRADES, [names, prices]);
      advance(size.orders * 2, 'trades');
      await pg.query(UPDATE_ORDERS);
      await pg.query(INSERT_POSITIONS);
      advance(size.orders, 'vacuum analyze');
      for (const table of ['data_ingestion.market_data', 'execution.orders', 'execution.trades', 'execution.positions', 'execution.accounts']) {
        await pg.query(`vacuum (analyze) ${table}`);
      }
      const { rows: [c] } = await pg.query(`select (select count(*) from data_ingestion.market_data)::int as bars,
        (select count(*) from execution.orders)::int as orders, (select count(*) from execution.trades)::int as trades,
        (select count(*) from execution.positions)::int as positions`);
      info.counts = c;
      info.buildSeconds = Math.round((performance.now() - started) / 100) / 10;
      info.builtAt = new Date().toISOString();
      await pg.query(`insert into bench.dataset (id, version, size, params, build_seconds) values (1, $1, $2, $3, $4)
                      on conflict (id) do update set version = excluded.version, size = excluded.size, params = excluded.params,
                      built_at = now(), build_seconds = excluded.build_seconds`,
      [DATASET_VERSION, size.name, JSON.stringify(info), info.buildSeconds]);
    });
  } finally {
    bar?.stop();
  }
  progress(`dataset: built in ${info.buildSeconds} s: ${info.counts!.bars.toLocaleString('en')} bars, ${info.counts!.orders.toLocaleString('en')} orders, ` +
    `${info.counts!.trades.toLocaleString('en')} trades, ${info.counts!.positions} positions`);
  return info;
}
