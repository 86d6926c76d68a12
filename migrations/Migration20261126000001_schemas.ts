import { Migration } from '@mikro-orm/migrations';

/**
 * The data model: one PostgreSQL schema per service, money and quantities as numeric, market data range-partitioned
 * by month. Indexes follow the seed design; where a list query pages by keyset, the index carries the full sort key
 * (e.g. created_at DESC, order_id DESC) so the page is an index scan with no sort.
 */
export class Migration20261126000001_schemas extends Migration {
  override up(): void {
    for (const schema of ['data_ingestion', 'execution', 'analytics', 'logging']) {
      this.addSql(`create schema if not exists ${schema}`);
    }

    // --- market data ------------------------------------------------------------------------------------------
    // The primary key (symbol, timestamp) is the unique key, the ON CONFLICT target of ingestion, and serves
    // "by symbol, newest first" by scanning backwards: a separate (symbol, timestamp DESC) index would duplicate it.
    this.addSql(`
      create table data_ingestion.market_data (
        symbol varchar(20) not null,
        "timestamp" timestamptz not null,
        open numeric(15,4) not null,
        high numeric(15,4) not null,
        low numeric(15,4) not null,
        close numeric(15,4) not null,
        volume bigint not null default 0,
        created_at timestamptz not null default now(),
        constraint market_data_pkey primary key (symbol, "timestamp"),
        constraint market_data_ohlc check (high >= greatest(open, close) and low <= least(open, close) and low > 0),
        constraint market_data_volume check (volume >= 0)
      ) partition by range ("timestamp")`);
    this.addSql(`create index idx_market_data_timestamp on data_ingestion.market_data ("timestamp" desc)`);
    // A bar for a month with no partition yet lands here instead of failing.
    this.addSql(`create table data_ingestion.market_data_default partition of data_ingestion.market_data default`);

    // Creates the partition for the month containing `month`; idempotent. Rows of that month already sitting in
    // the default partition are moved into the new one (attach would fail otherwise), all in the caller's
    // transaction. Returns the partition's name.
    this.addSql(`
      create or replace function data_ingestion.create_market_data_partition(month date) returns text
      language plpgsql as $$
      declare
        start_at timestamptz := date_trunc('month', month::timestamp) at time zone 'UTC';
        end_at timestamptz := (date_trunc('month', month::timestamp) + interval '1 month') at time zone 'UTC';
        part text := 'market_data_' || to_char(date_trunc('month', month::timestamp), 'YYYY_MM');
      begin
        if to_regclass('data_ingestion.' || part) is not null then
          return part;
        end if;
        -- Serialise concurrent creators of the same partition.
        perform pg_advisory_xact_lock(hashtext('data_ingestion.' || part));
        if to_regclass('data_ingestion.' || part) is not null then
          return part;
        end if;
        execute format('create table data_ingestion.%I (like data_ingestion.market_data including defaults including constraints)', part);
        execute format('insert into data_ingestion.%I select * from data_ingestion.market_data_default where "timestamp" >= %L and "timestamp" < %L', part, start_at, end_at);
        execute format('delete from data_ingestion.market_data_default where "timestamp" >= %L and "timestamp" < %L', start_at, end_at);
        execute format('alter table data_ingestion.market_data attach partition data_ingestion.%I for values from (%L) to (%L)', part, start_at, end_at);
        return part;
      end $$`);
    // Partitions around the month the schema is created in; `maintain partitions` keeps creating them ahead.
    this.addSql(`
      select data_ingestion.create_market_data_partition((date_trunc('month', now()) + make_interval(months => m))::date)
      from generate_series(-3, 3) as m`);

    // --- execution ----------------------------------------------------------------------------------------------
    this.addSql(`
      create table execution.accounts (
        account_id varchar(64) primary key,
        name varchar(200) not null,
        created_at timestamptz not null default now()
      )`);

    this.addSql(`
      create table execution.orders (
        order_id uuid primary key,
        client_order_id varchar(64) not null,
        account_id varchar(64) not null references execution.accounts (account_id),
        symbol varchar(20) not null,
        side varchar(4) not null check (side in ('BUY', 'SELL')),
        type varchar(10) not null check (type in ('MARKET', 'LIMIT', 'STOP', 'STOP_LIMIT')),
        time_in_force varchar(3) not null check (time_in_force in ('DAY', 'GTC', 'IOC', 'FOK')),
        quantity numeric(20,8) not null check (quantity > 0),
        limit_price numeric(20,8) check (limit_price > 0),
        stop_price numeric(20,8) check (stop_price > 0),
        filled_quantity numeric(20,8) not null default 0 check (filled_quantity >= 0 and filled_quantity <= quantity),
        -- exact sum of fill quantity x price: the average fill price is derived from it, whatever the fill order
        filled_notional numeric(40,16) not null default 0,
        average_fill_price numeric(20,8),
        status varchar(16) not null default 'NEW'
          check (status in ('NEW', 'PARTIALLY_FILLED', 'FILLED', 'CANCELED', 'REJECTED', 'EXPIRED')),
        strategy varchar(64),
        version integer not null default 1,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        constraint orders_client_order_id_key unique (account_id, client_order_id)
      )`);
    // Seed indexes, widened with the keyset sort key (created_at DESC, order_id DESC) of the lists that use them.
    this.addSql(`create index idx_orders_account_id on execution.orders (account_id, created_at desc, order_id desc)`);
    this.addSql(`create index idx_orders_created_at on execution.orders (created_at desc, order_id desc)`);
    this.addSql(`create index idx_orders_strategy on execution.orders (strategy, created_at desc, order_id desc)`);
    this.addSql(`create index idx_orders_symbol_status on execution.orders (symbol, status)`);
    this.addSql(`create index idx_orders_symbol_created_at on execution.orders (symbol, created_at desc, order_id desc)`);
    // Open orders of an account (cancelAllOrders): small, since terminal orders leave it.
    this.addSql(`create index idx_orders_open on execution.orders (account_id, symbol) where status in ('NEW', 'PARTIALLY_FILLED')`);

    this.addSql(`
      create table execution.trades (
        trade_id bigint generated by default as identity primary key,
        order_id uuid not null references execution.orders (order_id),
        account_id varchar(64) not null references execution.accounts (account_id),
        symbol varchar(20) not null,
        side varchar(4) not null check (side in ('BUY', 'SELL')),
        quantity numeric(20,8) not null check (quantity > 0),
        price numeric(20,8) not null check (price > 0),
        executed_at timestamptz not null default now(),
        strategy varchar(64),
        created_at timestamptz not null default now()
      )`);
    this.addSql(`create index idx_trades_symbol_executed_at on execution.trades (symbol, executed_at desc, trade_id desc)`);
    this.addSql(`create index idx_trades_strategy on execution.trades (strategy, executed_at desc, trade_id desc)`);
    this.addSql(`create index idx_trades_account_id on execution.trades (account_id, executed_at desc, trade_id desc)`);
    this.addSql(`create index idx_trades_executed_at on execution.trades (executed_at desc, trade_id desc)`);
    this.addSql(`create index idx_trades_order_id on execution.trades (order_id, trade_id)`);

    // The primary key (account_id, symbol) serves "positions by account" (the seed's idx_positions_account_id).
    this.addSql(`
      create table execution.positions (
        account_id varchar(64) not null references execution.accounts (account_id),
        symbol varchar(20) not null,
        -- wider than an order's quantity: a position accumulates many orders
        quantity numeric(28,8) not null default 0,
        average_price numeric(20,8) not null default 0,
        realized_pnl numeric(32,8) not null default 0,
        version integer not null default 1,
        last_updated timestamptz not null default now(),
        primary key (account_id, symbol)
      )`);
    this.addSql(`create index idx_positions_symbol on execution.positions (symbol)`);

    // --- analytics ----------------------------------------------------------------------------------------------
    this.addSql(`
      create table analytics.portfolio_summary (
        account_id varchar(64) not null,
        symbol varchar(20) not null,
        total_value numeric(32,8) not null default 0,
        realized_pnl numeric(32,8) not null default 0,
        last_updated timestamptz not null default now(),
        primary key (account_id, symbol)
      )`);
    this.addSql(`
      create table analytics.performance_metrics (
        strategy varchar(64) not null,
        date date not null,
        total_trades integer not null default 0,
        winning_trades integer not null default 0,
        win_rate numeric(7,4) not null default 0,
        last_updated timestamptz not null default now(),
        primary key (strategy, date)
      )`);

    // --- logging ------------------------------------------------------------------------------------------------
    const logColumns = `
        id bigint generated by default as identity primary key,
        "timestamp" timestamptz not null default now(),
        level varchar(10) not null,
        service varchar(64) not null,
        event_type varchar(64),
        message text not null,
        correlation_id varchar(64),
        details jsonb`;
    this.addSql(`create table logging.system_logs (${logColumns})`);
    this.addSql(`create index idx_system_logs_timestamp on logging.system_logs ("timestamp" desc)`);
    this.addSql(`create index idx_system_logs_service_timestamp on logging.system_logs (service, "timestamp" desc)`);
    this.addSql(`create index idx_system_logs_level_timestamp on logging.system_logs (level, "timestamp" desc)`);
    this.addSql(`create index idx_system_logs_correlation on logging.system_logs (correlation_id)`);
    this.addSql(`create index idx_system_logs_event_type on logging.system_logs (event_type)`);
    this.addSql(`create table logging.archived_system_logs (${logColumns}, archived_at timestamptz not null default now())`);
    this.addSql(`create index idx_archived_system_logs_timestamp on logging.archived_system_logs ("timestamp" desc)`);

    this.addSql(`
      create table logging.performance_logs (
        id bigint generated by default as identity primary key,
        "timestamp" timestamptz not null default now(),
        service varchar(64) not null,
        operation varchar(200) not null,
        duration_ms numeric(12,3) not null,
        statement text,
        correlation_id varchar(64),
        details jsonb
      )`);
    this.addSql(`create index idx_performance_logs_service_timestamp on logging.performance_logs (service, "timestamp" desc)`);
    this.addSql(`create index idx_performance_logs_operation on logging.performance_logs (operation)`);

    this.addSql(`
      create table logging.audit_log (
        id bigint generated by default as identity primary key,
        "timestamp" timestamptz not null default now(),
        key_id varchar(64),
        role varchar(16),
        operation varchar(100) not null,
        table_name varchar(100),
        record_ids text[] not null default '{}',
        result varchar(16) not null,
        correlation_id varchar(64),
        details jsonb
      )`);
    this.addSql(`create index idx_audit_log_timestamp on logging.audit_log ("timestamp" desc)`);
    this.addSql(`create index idx_audit_log_key_timestamp on logging.audit_log (key_id, "timestamp" desc)`);
  }

  override down(): void {
    for (const schema of ['logging', 'analytics', 'execution', 'data_ingestion']) {
      this.addSql(`drop schema if exists ${schema} cascade`);
    }
  }
}
