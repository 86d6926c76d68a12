/**
 * The SQL that builds the bench's data set inside PostgreSQL (insert ... select generate_series: nothing crosses
 * the wire but the statements). Deterministic: the same size and end date give the same rows.
 *
 * Bars: smooth price waves plus small fast ones, per symbol a base price and a phase; open = the wave at the minute,
 * close = at the next minute, high/low a little outside them (the table's OHLC check holds after rounding, since
 * open and close are rounded first and high/low move away from them). Equities trade 14:30-21:00 UTC on weekdays
 * (390 bars a day), crypto pairs every minute of every day (1440).
 */

/** One symbol's 1-minute bars in [$5, $6): $1 symbol, $2 base price, $3 phase, $4 trades all day. */
export const INSERT_BARS = `
insert into data_ingestion.market_data (symbol, "timestamp", open, high, low, close, volume, created_at)
select $1, g.ts, g.o, round(greatest(g.o, g.c) * (1 + g.wu), 4), round(least(g.o, g.c) * (1 - g.wd), 4), g.c, g.v, g.ts
from (
  select ts,
         round($2::numeric * (1 + 0.08 * sin(m / 3000.0 + $3) + 0.02 * sin(m / 97.0 + 2 * $3) + 0.004 * sin(m * 1.3))::numeric, 4) as o,
         round($2::numeric * (1 + 0.08 * sin((m + 1) / 3000.0 + $3) + 0.02 * sin((m + 1) / 97.0 + 2 * $3) + 0.004 * sin((m + 1) * 1.3))::numeric, 4) as c,
         (0.0002 + 0.0008 * abs(sin(m * 0.731 + $3)))::numeric as wu,
         (0.0002 + 0.0008 * abs(sin(m * 0.917 + $3)))::numeric as wd,
         (100 + 5000 * abs(sin(m * 0.173 + $3)))::bigint as v
  from generate_series($5::timestamptz, $6::timestamptz - interval '1 minute', interval '1 minute') as ts,
       lateral (select extract(epoch from ts)::float8 / 60 as m) x
  where $4::boolean
     or (extract(isodow from ts at time zone 'UTC') < 6
         and (ts at time zone 'UTC')::time >= '14:30' and (ts at time zone 'UTC')::time < '21:00')
) g`;

/** $1 account count. */
export const INSERT_ACCOUNTS = `
insert into execution.accounts (account_id, name, created_at)
select 'ACC-' || lpad(a::text, 2, '0'), 'Bench account ' || a, $2::timestamptz
from generate_series(1, $1::int) as a`;

/**
 * Orders 0..$1-1 over the accounts ($2 of them) and symbols ($3 text[]; prices $4 numeric[]), created evenly in
 * [$5, $6). Each account trades 10 symbols. Status by a mix of i (independent of the account and the symbol):
 * 70% FILLED, 10% each PARTIALLY_FILLED, NEW and CANCELED.
 * Quantities are multiples of 60, so every fill splits them exactly.
 */
export const INSERT_ORDERS = `
insert into execution.orders (order_id, client_order_id, account_id, symbol, side, type, time_in_force, quantity,
                              limit_price, status, strategy, version, created_at, updated_at)
select md5('bench-order-' || i)::uuid, 'bench-' || lpad(i::text, 7, '0'),
       'ACC-' || lpad((i % $2 + 1)::text, 2, '0'), s.symbol,
       case when i % 3 = 0 then 'SELL' else 'BUY' end,
       case when i % 4 = 3 then 'LIMIT' else 'MARKET' end,
       case when i % 2 = 0 then 'GTC' else 'DAY' end,
       60 * (1 + i % 5),
       case when i % 4 = 3 then round(s.price * case when i % 3 = 0 then 0.95 else 1.05 end, 8) end,
       case (7 * i + i / ($2 * 10)) % 10 when 7 then 'PARTIALLY_FILLED' when 8 then 'NEW' when 9 then 'CANCELED' else 'FILLED' end,
       (array['momentum', 'mean-reversion', 'market-making', 'pairs'])[i % 4 + 1],
       1, t.created, t.created
from generate_series(0, $1::int - 1) as i,
     lateral (select ((i % $2) * 5 + (i / $2) % 10) % cardinality($3::text[]) + 1 as k) sk,
     lateral (select ($3::text[])[sk.k] as symbol, ($4::numeric[])[sk.k] as price) s,
     lateral (select $5::timestamptz + (i::float8 / $1) * ($6::timestamptz - $5::timestamptz) as created) t`;

/**
 * Fills of the FILLED and PARTIALLY_FILLED orders: 2 or 3 each (by i % 2); a FILLED order's fills add up to its
 * quantity, a partial one's to half of it. Prices within +-1% of the symbol's base price. Inserted in time order,
 * so trade ids grow with executed_at.
 */
export const INSERT_TRADES = `
insert into execution.trades (order_id, account_id, symbol, side, quantity, price, executed_at, strategy, created_at)
select o.order_id, o.account_id, o.symbol, o.side,
       case when o.status = 'FILLED' then o.quantity / f.n else o.quantity / 2 / f.n end,
       round(p.price * (1 + ((f.i * 7 + k * 13) % 200 - 100) / 10000.0), 8),
       o.created_at + (k + 1) * interval '7 seconds', o.strategy, o.created_at + (k + 1) * interval '7 seconds'
from execution.orders o,
     lateral (select substr(o.client_order_id, 7)::int as i) oi,
     lateral (select oi.i, 2 + oi.i % 2 as n) f,
     lateral (select ($2::numeric[])[array_position($1::text[], o.symbol::text)] as price) p,
     generate_series(0, f.n - 1) as k
where o.client_order_id like 'bench-%' and o.status in ('FILLED', 'PARTIALLY_FILLED')
order by o.created_at + (k + 1) * interval '7 seconds', o.order_id`;

/** The orders' progress from their fills, as executeTrade would have left it. */
export const UPDATE_ORDERS = `
update execution.orders o
set filled_quantity = t.q, filled_notional = t.notional, average_fill_price = round(t.notional / t.q, 8),
    version = 1 + t.n, updated_at = t.last
from (select order_id, sum(quantity) as q, sum(quantity * price) as notional, count(*) as n, max(executed_at) as last
      from execution.trades group by order_id) t
where o.order_id = t.order_id and o.client_order_id like 'bench-%'`;

/**
 * Positions from the fills: the signed quantity exactly; the average price is the open side's volume-weighted
 * price and the realized PnL (VWAP sell - VWAP buy) x the closed quantity (an approximation of the average-cost
 * replay, good enough for reads).
 */
export const INSERT_POSITIONS = `
insert into execution.positions (account_id, symbol, quantity, average_price, realized_pnl, version, last_updated)
select account_id, symbol, bq - sq,
       case when bq > sq then round(bn / bq, 8) when sq > bq then round(sn / sq, 8) else 0 end,
       case when bq > 0 and sq > 0 then round((sn / sq - bn / bq) * least(bq, sq), 8) else 0 end,
       1 + n, last
from (select account_id, symbol,
             coalesce(sum(quantity) filter (where side = 'BUY'), 0) as bq,
             coalesce(sum(quantity * price) filter (where side = 'BUY'), 0) as bn,
             coalesce(sum(quantity) filter (where side = 'SELL'), 0) as sq,
             coalesce(sum(quantity * price) filter (where side = 'SELL'), 0) as sn,
             count(*) as n, max(executed_at) as last
      from execution.trades where account_id like 'ACC-%' group by account_id, symbol) t`;

/** What a reused data set is checked against. */
export const DATASET_MARKER = `
create schema if not exists bench;
create table if not exists bench.dataset (
  id integer primary key check (id = 1),
  version integer not null,
  size text not null,
  params jsonb not null,
  built_at timestamptz not null default now(),
  build_seconds numeric
)`;
