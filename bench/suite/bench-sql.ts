/**
 * What the baselines need in the bench's database, installed (replaced) at every run:
 * - `bench.outbox`: a copy of execution.outbox (same columns, defaults and indexes) that the write baselines insert
 *   their events into, so the inserts cost the same while the gateway's relay never sees (nor publishes) them;
 * - `bench.submit_order` / `bench.execute_trade`: the writes of submitOrder and executeTrade as one plpgsql call each
 *   (the "single SQL function" write baseline);
 * - `bench_peer.*`: the SQL functions PostGraphile serves where a plain table is not enough (a time range of bars,
 *   aggregated bars, a valued portfolio): how one would write them for PostGraphile.
 * The partition ingestion scenarios write into (January 2000, truncated before and after) is created here too.
 */

/** The month of the ingestion scenarios: far from the data set, its own partition, emptied with TRUNCATE. */
export const INGEST_MONTH = '2000-01-01';
export const INGEST_PARTITION = 'data_ingestion.market_data_2000_01';

/** The fill's average-cost position update, shared by the raw transaction and the plpgsql function. */
const POSITION_ON_CONFLICT = `on conflict (account_id, symbol) do update set
  quantity = p.quantity + excluded.quantity,
  average_price = case
    when p.quantity = 0 or sign(p.quantity) = sign(excluded.quantity)
      then round((abs(p.quantity) * p.average_price + abs(excluded.quantity) * excluded.average_price) / (abs(p.quantity) + abs(excluded.quantity)), 8)
    when p.quantity + excluded.quantity = 0 then 0
    when abs(excluded.quantity) > abs(p.quantity) then excluded.average_price
    else p.average_price end,
  realized_pnl = p.realized_pnl + case
    when p.quantity = 0 or sign(p.quantity) = sign(excluded.quantity) then 0
    else round(least(abs(excluded.quantity), abs(p.quantity)) * (excluded.average_price - p.average_price) * sign(p.quantity), 8) end,
  version = p.version + 1,
  last_updated = now()`;

export const UPSERT_POSITION = `
insert into execution.positions as p (account_id, symbol, quantity, average_price, realized_pnl)
values ($1, $2, $3::numeric, $4::numeric, 0)
${POSITION_ON_CONFLICT}
returning account_id as "accountId", symbol, quantity, average_price as "averagePrice", realized_pnl as "realizedPnl", version,
          last_updated as "lastUpdated"`;

export const BENCH_SQL = `
create schema if not exists bench;
create table if not exists bench.outbox (like execution.outbox including all);
select data_ingestion.create_market_data_partition('${INGEST_MONTH}'::date);

create or replace function bench.order_json(o execution.orders) returns jsonb language sql immutable as $$
  select jsonb_build_object('orderId', o.order_id, 'clientOrderId', o.client_order_id, 'accountId', o.account_id, 'symbol', o.symbol,
    'side', o.side, 'type', o.type, 'timeInForce', o.time_in_force, 'quantity', o.quantity, 'limitPrice', o.limit_price,
    'stopPrice', o.stop_price, 'filledQuantity', o.filled_quantity, 'averageFillPrice', o.average_fill_price, 'status', o.status,
    'strategy', o.strategy, 'version', o.version, 'createdAt', o.created_at, 'updatedAt', o.updated_at)
$$;

create or replace function bench.submit_order(p_account text, p_client_order_id text, p_symbol text, p_side text, p_type text,
    p_tif text, p_quantity numeric, p_strategy text) returns jsonb language plpgsql as $$
declare
  o execution.orders;
begin
  insert into execution.orders (order_id, client_order_id, account_id, symbol, side, type, time_in_force, quantity, strategy)
  values (gen_random_uuid(), p_client_order_id, p_account, p_symbol, p_side, p_type, p_tif, p_quantity, p_strategy)
  on conflict (account_id, client_order_id) do nothing
  returning * into o;
  if o.order_id is null then
    select * into o from execution.orders where account_id = p_account and client_order_id = p_client_order_id;
    return bench.order_json(o);
  end if;
  insert into bench.outbox (event_id, topic, account_id, symbol, payload)
  values (gen_random_uuid(), 'ORDER_UPDATED', o.account_id, o.symbol, jsonb_build_object('type', 'SUBMITTED', 'order', bench.order_json(o)));
  return bench.order_json(o);
end $$;

create or replace function bench.execute_trade(p_order_id uuid, p_price numeric, p_executed_at timestamptz) returns jsonb
language plpgsql as $$
declare
  o execution.orders;
  t execution.trades;
  pos jsonb;
  q numeric;
  trade jsonb;
begin
  select * into o from execution.orders where order_id = p_order_id for update;
  if o.order_id is null then raise exception 'order % not found', p_order_id using errcode = 'P0002'; end if;
  if o.status not in ('NEW', 'PARTIALLY_FILLED') then raise exception 'order % is %', p_order_id, o.status using errcode = 'P0001'; end if;
  q := o.quantity - o.filled_quantity;
  insert into execution.trades (order_id, account_id, symbol, side, quantity, price, executed_at, strategy)
  values (o.order_id, o.account_id, o.symbol, o.side, q, p_price, coalesce(p_executed_at, now()), o.strategy)
  returning * into t;
  update execution.orders set filled_quantity = filled_quantity + q, filled_notional = filled_notional + q * p_price,
    average_fill_price = round((filled_notional + q * p_price) / (filled_quantity + q), 8),
    status = case when filled_quantity + q >= quantity then 'FILLED' else 'PARTIALLY_FILLED' end,
    version = version + 1, updated_at = now()
  where order_id = o.order_id
  returning * into o;
  -- the same average-cost upsert as the raw transaction (POSITION_ON_CONFLICT above)
  insert into execution.positions as p (account_id, symbol, quantity, average_price, realized_pnl)
  values (o.account_id, o.symbol, case when o.side = 'BUY' then q else -q end, p_price, 0)
  ${POSITION_ON_CONFLICT}
  returning jsonb_build_object('accountId', p.account_id, 'symbol', p.symbol, 'quantity', p.quantity, 'averagePrice', p.average_price,
    'realizedPnl', p.realized_pnl, 'version', p.version, 'lastUpdated', p.last_updated) into pos;
  trade := jsonb_build_object('tradeId', t.trade_id::text, 'orderId', t.order_id, 'accountId', t.account_id, 'symbol', t.symbol,
    'side', t.side, 'quantity', t.quantity, 'price', t.price, 'executedAt', t.executed_at, 'strategy', t.strategy);
  insert into bench.outbox (event_id, topic, account_id, symbol, payload, created_at)
  select gen_random_uuid(), e.topic, o.account_id, o.symbol, e.payload, clock_timestamp() + e.ord * interval '1 microsecond'
  from (values (1, 'TRADE_EXECUTED', jsonb_build_object('trade', trade, 'position', pos)),
               (2, 'POSITION_UPDATED', jsonb_build_object('position', pos)),
               (3, 'ORDER_UPDATED', jsonb_build_object('type', o.status, 'order', bench.order_json(o)))) as e(ord, topic, payload);
  return trade;
end $$;

drop schema if exists bench_peer cascade;
create schema bench_peer;
comment on schema bench_peer is 'SQL functions for the PostGraphile peer of the benchmark (bench/README.md)';

-- marketData M1: the bars of a symbol in [from_ts, to_ts), oldest first (inlined by the planner: an index range scan)
create function bench_peer.bars(symbol text, from_ts timestamptz, to_ts timestamptz) returns setof data_ingestion.market_data
language sql stable as $$
  select * from data_ingestion.market_data m
  where m.symbol = bars.symbol and m."timestamp" >= from_ts and m."timestamp" < to_ts
  order by m."timestamp"
$$;

-- marketData at a higher timeframe: the gateway's aggregation (first open, max high, min low, last close, sum volume)
create function bench_peer.bars_agg(symbol text, from_ts timestamptz, to_ts timestamptz, step_seconds integer)
returns setof data_ingestion.market_data language sql stable as $$
  select bars_agg.symbol, date_bin(make_interval(secs => step_seconds), m."timestamp", timestamptz 'epoch') as "timestamp",
         (array_agg(m.open order by m."timestamp"))[1], max(m.high), min(m.low),
         (array_agg(m.close order by m."timestamp" desc))[1], sum(m.volume)::bigint, now()
  from data_ingestion.market_data m
  where m.symbol = bars_agg.symbol and m."timestamp" >= from_ts and m."timestamp" < to_ts
  group by 2 order by 2
$$;

-- portfolioSummary: each position valued at its symbol's latest close, and the totals
create type bench_peer.portfolio_line as (symbol text, quantity numeric, average_price numeric, last_price numeric,
  market_value numeric, unrealized_pnl numeric, realized_pnl numeric);
create function bench_peer.portfolio_lines(account_id text) returns setof bench_peer.portfolio_line language sql stable as $$
  select p.symbol, p.quantity, p.average_price, c.close, round(p.quantity * c.close, 8),
         round((c.close - p.average_price) * p.quantity, 8), p.realized_pnl
  from execution.positions p
  left join lateral (select m.close from data_ingestion.market_data m where m.symbol = p.symbol order by m."timestamp" desc limit 1) c on true
  where p.account_id = portfolio_lines.account_id
  order by p.symbol
$$;
create type bench_peer.portfolio_totals as (total_market_value numeric, total_unrealized_pnl numeric, total_realized_pnl numeric);
create function bench_peer.portfolio_totals(account_id text) returns bench_peer.portfolio_totals language sql stable as $$
  select coalesce(sum(l.market_value), 0), coalesce(sum(l.unrealized_pnl), 0), coalesce(sum(l.realized_pnl), 0)
  from bench_peer.portfolio_lines(account_id) l
$$;
`;

/** Rows the write and ingestion scenarios leave behind, removed before and after a run (the data set stays as built). */
export const CLEANUP_SQL = `
truncate ${INGEST_PARTITION};
truncate bench.outbox;
delete from execution.trades where account_id like 'BW-%';
delete from execution.positions where account_id like 'BW-%';
delete from execution.orders where account_id like 'BW-%';
delete from execution.accounts where account_id like 'BW-%';
delete from execution.outbox where sequence <= (select published_sequence from execution.outbox_state where id = 1)
  or account_id like 'BW-%' or topic = 'MARKET_DATA_UPDATED';
delete from execution.api_keys where name in ('bench reads', 'bench writes');
`;

/** The tables CLEANUP_SQL deletes from, vacuumed after it. */
export const CLEANED_TABLES = ['execution.trades', 'execution.positions', 'execution.orders', 'execution.accounts', 'execution.outbox'];
