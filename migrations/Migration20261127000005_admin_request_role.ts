import { Migration } from '@mikro-orm/migrations';

/**
 * Admin requests get a role of their own, `trading_admin`, instead of a bypass flag in the account policy.
 *
 * The flag made every policy `flag = 'on' OR account_id = any(...)`. PostgreSQL cannot know the flag when it plans,
 * so it estimated the OR as matching a handful of rows and planned admin reads as if they were filtered: the newest
 * 100 orders became a sequential scan and a sort of the whole table instead of 100 steps of an index. With a role per
 * kind of key, each role's policy is exact: `trading_app` sees the key's accounts (`account_id = any(...)`, which
 * the planner estimates from statistics), `trading_admin` sees every row (`true`, which adds no filter at all).
 *
 * `trading_admin` gets exactly the privileges of `trading_app` (no DDL, no API keys, no outbox reads); it only
 * differs in which rows the policies let it see. Roles are per cluster: creating it is idempotent, and `down`
 * leaves it for the other databases of the cluster.
 */
const ACCOUNT_TABLES = ['execution.accounts', 'execution.orders', 'execution.trades', 'execution.positions', 'analytics.portfolio_summary'];

const KEY_ACCOUNTS = `account_id = any (coalesce(nullif(current_setting('app.current_account_ids', true), ''), '{}')::text[])`;
const KEY_ACCOUNTS_OR_FLAG = `current_setting('app.bypass_rls', true) = 'on' or ${KEY_ACCOUNTS}`;

export class Migration20261127000005_admin_request_role extends Migration {
  override up(): void {
    this.addSql(`
      do $$
      begin
        if not exists (select from pg_roles where rolname = 'trading_admin') then
          create role trading_admin nologin;
        end if;
        begin
          execute format('grant trading_admin to %I', current_user);
        exception when insufficient_privilege or invalid_grant_operation then
          raise notice 'could not grant trading_admin to %: grant it as a superuser', current_user;
        end;
      end $$`);
    // The same grants as trading_app (Migration20261127000004_row_level_security).
    this.addSql(`grant usage on schema execution, data_ingestion, analytics, logging to trading_admin`);
    this.addSql(`grant select, insert, update on execution.accounts, execution.orders, execution.positions to trading_admin`);
    this.addSql(`grant select, insert on execution.trades to trading_admin`);
    this.addSql(`grant insert on execution.outbox to trading_admin`);
    this.addSql(`grant select, insert, update on data_ingestion.market_data to trading_admin`);
    this.addSql(`grant select on analytics.portfolio_summary, analytics.performance_metrics to trading_admin`);
    this.addSql(`grant select on logging.performance_logs, logging.system_logs to trading_admin`);
    this.addSql(`grant insert on logging.audit_log to trading_admin`);
    this.addSql(`grant usage on all sequences in schema execution, logging to trading_admin`);
    this.addSql(`alter role trading_admin set statement_timeout = '5s'`);

    for (const table of ACCOUNT_TABLES) {
      this.addSql(`alter policy account_isolation on ${table} using (${KEY_ACCOUNTS}) with check (${KEY_ACCOUNTS})`);
      this.addSql(`create policy admin_access on ${table} for all to trading_admin using (true) with check (true)`);
    }
  }

  override down(): void {
    for (const table of ACCOUNT_TABLES) {
      this.addSql(`drop policy if exists admin_access on ${table}`);
      this.addSql(`alter policy account_isolation on ${table} using (${KEY_ACCOUNTS_OR_FLAG}) with check (${KEY_ACCOUNTS_OR_FLAG})`);
    }
    this.addSql(`revoke all on all tables in schema execution, data_ingestion, analytics, logging from trading_admin`);
    this.addSql(`revoke all on all sequences in schema execution, logging from trading_admin`);
    this.addSql(`revoke usage on schema execution, data_ingestion, analytics, logging from trading_admin`);
  }
}
