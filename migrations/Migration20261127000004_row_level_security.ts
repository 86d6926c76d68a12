import { Migration } from '@mikro-orm/migrations';

/**
 * The second layer of account isolation: request transactions run as `trading_app`, a role that owns nothing, so
 * PostgreSQL's row-level security applies to them. Each request transaction sets (transaction-locally):
 *   app.current_account_ids  the accounts of the API key, as a text[] literal ('{a,b}')
 *   app.bypass_rls           'on' for admin keys, which see every account
 * Migrations, maintenance and background workers (relay, synchronizer) run as the owner, which the policies do not
 * bind (no FORCE), and keep working unchanged.
 *
 * Roles are per cluster, not per database: creating the role is idempotent, and `down` leaves it in place for the
 * other databases of the cluster that may use it.
 */
const ACCOUNT_TABLES = ['execution.accounts', 'execution.orders', 'execution.trades', 'execution.positions', 'analytics.portfolio_summary'];

/** Visible (and writable) when the key holds the row's account, or the key is an admin's. */
const POLICY = `current_setting('app.bypass_rls', true) = 'on'
        or account_id = any (coalesce(nullif(current_setting('app.current_account_ids', true), ''), '{}')::text[])`;

export class Migration20261127000004_row_level_security extends Migration {
  override up(): void {
    this.addSql(`
      do $$
      begin
        if not exists (select from pg_roles where rolname = 'trading_app') then
          create role trading_app nologin;
        end if;
        -- The gateway's login role switches to trading_app per transaction (SET LOCAL ROLE), which needs membership.
        begin
          execute format('grant trading_app to %I', current_user);
        exception when insufficient_privilege or invalid_grant_operation then
          raise notice 'could not grant trading_app to %: grant it as a superuser', current_user;
        end;
      end $$`);

    this.addSql(`grant usage on schema execution, data_ingestion, analytics, logging to trading_app`);
    // What requests do, and nothing more: no DDL, no api_keys (authentication runs before the request role is
    // taken), no outbox reads (replays are the event hub's, as the owner), no deletes of history.
    this.addSql(`grant select, insert, update on execution.accounts, execution.orders, execution.positions to trading_app`);
    this.addSql(`grant select, insert on execution.trades to trading_app`);
    this.addSql(`grant insert on execution.outbox to trading_app`);
    this.addSql(`grant select, insert, update on data_ingestion.market_data to trading_app`);
    this.addSql(`grant select on analytics.portfolio_summary, analytics.performance_metrics to trading_app`);
    this.addSql(`grant select on logging.performance_logs, logging.system_logs to trading_app`);
    this.addSql(`grant insert on logging.audit_log to trading_app`);
    this.addSql(`grant usage on all sequences in schema execution, logging to trading_app`);
    // A statement of a request may not run longer than this (the gateway also sets it per transaction, since
    // role settings apply at login only, not on SET ROLE).
    this.addSql(`alter role trading_app set statement_timeout = '5s'`);

    for (const table of ACCOUNT_TABLES) {
      this.addSql(`alter table ${table} enable row level security`);
      this.addSql(`create policy account_isolation on ${table} for all to trading_app using (${POLICY}) with check (${POLICY})`);
    }
  }

  override down(): void {
    for (const table of ACCOUNT_TABLES) {
      this.addSql(`drop policy if exists account_isolation on ${table}`);
      this.addSql(`alter table ${table} disable row level security`);
    }
    this.addSql(`revoke all on all tables in schema execution, data_ingestion, analytics, logging from trading_app`);
    this.addSql(`revoke all on all sequences in schema execution, logging from trading_app`);
    this.addSql(`revoke usage on schema execution, data_ingestion, analytics, logging from trading_app`);
  }
}
