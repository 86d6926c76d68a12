/**
 * Loads a small, deterministic demo through the services (so validation, positions and PnL are the real ones):
 * three accounts, a few days of 1-minute bars, and per account ten orders with fills, partial fills, resting orders
 * and a cancel, including a reduced position (realized PnL) and a short. Re-running it is a no-op for accounts and
 * orders (fixed ids, fills only for orders still NEW) and upserts the bars.
 */
import { SingleBar, Presets } from 'cli-progress';
import type { Database } from '../../platform/database';
import type { Logger } from '../../platform/logger';
import { decimalText } from '../../platform/decimal';
import { AppError } from '../../platform/errors';
import { ReadSession } from '../../platform/read-session';
import type { Scope } from '../../platform/scope';
import { createServices, type Services } from '../index';
import type { BarInput } from '../market-data/bar-rules';
import type { OrderRow } from '../orders/orders.repository';
import { formatTicks, generateBars, toTicks, tradesAllDay } from './demo-bars';

export interface SeedOptions {
  /** weekdays of bars, ending before `end`'s UTC date; default 5 */
  days?: number;
  symbols?: string[];
  /** default now */
  end?: Date;
  /** a progress bar on stderr (else one log line per batch) */
  progress?: boolean;
  /** account ids are `${accountPrefix}-1` .. `-3`; default 'DEMO' */
  accountPrefix?: string;
  /** PRNG seed of the bars */
  seed?: number;
}

/** What this run added: accounts and orders created, fills executed, bars inserted or updated. */
export interface SeedReport {
  accounts: number;
  bars: { inserted: number; updated: number };
  orders: number;
  fills: number;
}

export const DEFAULT_SYMBOLS = ['AAPL', 'MSFT', 'NVDA', 'BTC-USD'];
const BATCH = 5_000;
const ACCOUNTS = [
  { name: 'Demo momentum', strategy: 'momentum' },
  { name: 'Demo mean reversion', strategy: 'mean-reversion' },
  { name: 'Demo market maker', strategy: 'market-making' },
];

type Side = 'BUY' | 'SELL';
type Role = 'long' | 'short' | 'restA' | 'restB';

/** One planned order: `fills` are [position in the symbol's bars (0..1), share of the order quantity]. */
interface OrderPlan {
  role: Role;
  side: Side;
  type: 'MARKET' | 'LIMIT';
  tif: 'GTC' | 'DAY';
  lots: number; // in units of the base quantity / 2
  fills: [number, number][];
  /** resting orders: limit at the last close x this (percent) */
  restPct?: number;
  cancel?: boolean;
}

/** Per account, in this order: long built up, reduced twice (realized PnL), a short half covered, resting orders. */
const PLAN: OrderPlan[] = [
  { role: 'long', side: 'BUY', type: 'MARKET', tif: 'GTC', lots: 2, fills: [[0.05, 1]] },
  { role: 'long', side: 'BUY', type: 'LIMIT', tif: 'DAY', lots: 2, fills: [[0.15, 1]] },
  { role: 'long', side: 'SELL', type: 'MARKET', tif: 'DAY', lots: 2, fills: [[0.45, 1]] },
  { role: 'short', side: 'SELL', type: 'LIMIT', tif: 'GTC', lots: 2, fills: [[0.25, 1]] },
  { role: 'long', side: 'BUY', type: 'LIMIT', tif: 'GTC', lots: 4, fills: [[0.55, 0.25], [0.6, 0.25]] },
  { role: 'restA', side: 'SELL', type: 'LIMIT', tif: 'DAY', lots: 1, fills: [], restPct: 105 },
  { role: 'restB', side: 'BUY', type: 'LIMIT', tif: 'GTC', lots: 3, fills: [], restPct: 95 },
  { role: 'restA', side: 'BUY', type: 'LIMIT', tif: 'DAY', lots: 2, fills: [], restPct: 97, cancel: true },
  { role: 'long', side: 'SELL', type: 'LIMIT', tif: 'GTC', lots: 2, fills: [[0.7, 0.5], [0.8, 0.5]] },
  { role: 'short', side: 'BUY', type: 'MARKET', tif: 'DAY', lots: 1, fills: [[0.9, 1]] },
];

export async function seedDemo(db: Database, log: Logger, options: SeedOptions = {}): Promise<SeedReport> {
  const symbols = options.symbols?.length ? options.symbols : DEFAULT_SYMBOLS;
  const days = options.days ?? 5;
  const end = options.end ?? new Date();
  const prefix = options.accountPrefix ?? 'DEMO';
  // The seed's events wait in the outbox for the gateway's relay (no relay runs in this process).
  const scope: Scope = { db, reads: new ReadSession(db, 'primary'), log, outbox: { wake: () => undefined } };
  const services = createServices();
  const report: SeedReport = { accounts: 0, bars: { inserted: 0, updated: 0 }, orders: 0, fills: 0 };

  for (const [i, account] of ACCOUNTS.entries()) {
    try {
      await services.accounts.create(scope, { accountId: `${prefix}-${i + 1}`, name: account.name });
      report.accounts++;
    } catch (error) {
      if (!(error instanceof AppError && error.code === 'CONFLICT')) throw error;
    }
  }

  const bars = generateBars({ symbols, days, end, seed: options.seed });
  const all = [...bars.values()].flat();
  await createPartitions(db, all);
  report.bars = await ingestBars(scope, services, all, options.progress ?? false);

  for (const [i, account] of ACCOUNTS.entries()) {
    const done = await seedOrders(scope, services, `${prefix}-${i + 1}`, i, account.strategy, symbols, bars);
    report.orders += done.orders;
    report.fills += done.fills;
  }
  log.info({ report }, 'demo data seeded');
  return report;
}

/** The month partitions the bars fall in (idempotent; a bar of a month without one would land in the default). */
async function createPartitions(db: Database, bars: BarInput[]): Promise<void> {
  const months = new Set(bars.map((b) => `${b.timestamp.toISOString().slice(0, 7)}-01`));
  for (const month of [...months].sort()) {
    await db.em().execute('select data_ingestion.create_market_data_partition(?::date)', [month]);
  }
}

async function ingestBars(scope: Scope, services: Services, bars: BarInput[], progress: boolean): Promise<SeedReport['bars']> {
  const total = { inserted: 0, updated: 0 };
  const bar = progress ? new SingleBar({ format: 'bars [{bar}] {percentage}% | {value}/{total}', stream: process.stderr }, Presets.shades_classic) : null;
  bar?.start(bars.length, 0);
  try {
    for (let start = 0; start < bars.length; start += BATCH) {
      const batch = bars.slice(start, start + BATCH);
      const result = await services.marketData.ingest(scope, batch);
      total.inserted += result.inserted;
      total.updated += result.updated;
      const done = start + batch.length;
      if (bar) bar.update(done);
      else scope.log.info({ done, total: bars.length }, 'bars ingested');
    }
  } finally {
    bar?.stop();
  }
  return total;
}

/** Order quantity for `lots` halves of the account's base size: whole shares, or hundredths of a coin. */
function quantity(symbol: string, account: number, lots: number): string {
  const units = lots * (5 + 5 * account); // base size 10 / 20 / 30 (halves of it stay whole)
  return tradesAllDay(symbol) ? decimalText(formatTicks(units * 100)) : String(units);
}

/** ticks x percent / 100, rounded to the tick, as a price string. */
function scaled(price: string, percent: number): string {
  return formatTicks(Math.round((toTicks(price) * percent) / 100));
}

async function seedOrders(
  scope: Scope, services: Services, accountId: string, account: number, strategy: string,
  symbols: string[], bars: Map<string, BarInput[]>,
): Promise<{ orders: number; fills: number }> {
  const n = symbols.length;
  const symbolOf: Record<Role, string> = {
    long: symbols[account % n],
    short: symbols[(account + 1) % n],
    restA: symbols[(account + 2) % n],
    restB: symbols[(account + 3) % n],
  };
  const fills: { at: number; orderId: string; quantity: string; price: string; executedAt: Date }[] = [];
  const cancels: string[] = [];
  let orders = 0;

  for (const [k, plan] of PLAN.entries()) {
    const symbol = symbolOf[plan.role];
    const series = bars.get(symbol)!;
    const qty = quantity(symbol, account, plan.lots);
    // Each account trades a little later than the one before, so their fills differ.
    const fillBars = plan.fills.map(([pos, share]) => ({ bar: series[Math.min(series.length - 1, Math.floor((pos + account * 0.02) * series.length))], share }));
    let limitPrice: string | null = null;
    if (plan.restPct) limitPrice = scaled(series[series.length - 1].close, plan.restPct);
    else if (plan.type === 'LIMIT') {
      // Marketable: a buy's limit is at or above every fill's price, a sell's at or below.
      const ticks = fillBars.map((f) => toTicks(plan.side === 'BUY' ? f.bar.high : f.bar.low));
      limitPrice = formatTicks(plan.side === 'BUY' ? Math.max(...ticks) : Math.min(...ticks));
    }
    const clientOrderId = `seed-${accountId}-${String(k + 1).padStart(3, '0')}`;
    let order: OrderRow | null = await services.orders.orderByClientOrderId(scope, accountId, clientOrderId);
    if (!order) {
      order = await services.orders.submit(scope, {
        accountId, clientOrderId, symbol, side: plan.side, type: plan.type, timeInForce: plan.tif,
        quantity: qty, limitPrice, strategy,
      });
      orders++;
    }
    // Fills are not idempotent: an order that moved on from NEW was seeded already.
    if (order.status !== 'NEW') continue;
    for (const f of fillBars) {
      const share = f.share === 1 ? null : decimalText(formatTicks(Math.round(toTicks(qty) * f.share)));
      fills.push({ at: f.bar.timestamp.getTime(), orderId: order.orderId, quantity: share ?? qty, price: f.bar.close, executedAt: f.bar.timestamp });
    }
    if (plan.cancel) cancels.push(order.orderId);
  }

  // In time order, so every position (and its realized PnL) evolves as the fills' times say.
  fills.sort((a, b) => a.at - b.at);
  for (const f of fills) {
    await services.orders.executeTrade(scope, { orderId: f.orderId, quantity: f.quantity, price: f.price, executedAt: f.executedAt });
  }
  for (const orderId of cancels) await services.orders.cancel(scope, orderId);
  return { orders, fills: fills.length };
}
