/**
 * Who the database should believe a request transaction is for: row-level security's input (see the migrations
 * Migration20261127000004_row_level_security and Migration20261127000005_admin_request_role). A request's
 * transactions switch to a role that owns nothing, `trading_app` (its policies show the key's accounts) or, for admin
 * keys, `trading_admin` (its policies show every account), and set the key's accounts transaction-locally, so nothing
 * leaks into the next use of a pooled connection. Work without a DbAccess (migrations, maintenance, background
 * workers) runs as the owner.
 */
import { toPgArray } from './pg-array';

export const REQUEST_ROLE = 'trading_app';
export const ADMIN_REQUEST_ROLE = 'trading_admin';

export interface DbAccess {
  /** the API key's id, for the audit log */
  keyId: string;
  /** the key's role (viewer, trader, admin) */
  role: string;
  /** the accounts the key holds */
  accountIds: readonly string[];
  /** admin keys see every account: they run as ADMIN_REQUEST_ROLE */
  bypass: boolean;
  /** statement timeout of the request's statements, in ms */
  statementTimeoutMs: number;
}

/** Marks the prelude in statement logs and counts. */
const MARKER = '/* request access */';

/** One statement, one round trip: the settings of a request transaction, as knex `?` parameters. */
export const ACCESS_PRELUDE = `${MARKER} select set_config('role', ?, true),
  set_config('app.current_account_ids', ?, true),
  set_config('statement_timeout', ?, true)`;

export function accessParams(access: DbAccess): unknown[] {
  return [access.bypass ? ADMIN_REQUEST_ROLE : REQUEST_ROLE, toPgArray(access.accountIds), String(access.statementTimeoutMs)];
}

/**
 * A read under row-level security in ONE round trip: the prelude and the read as one simple-protocol query string
 * (MikroORM inlines the parameters), which PostgreSQL runs as one implicit transaction, so the transaction-local
 * settings hold for the read and are gone after it. Each statement of such a string is planned only after the one
 * before it ran, so the read is planned as the request role, with its policies.
 */
export function withAccess(sql: string): string {
  return `${ACCESS_PRELUDE};\n${sql}`;
}

/** Transaction control and the prelude sent alone: not counted as the request's statements (they are per transaction). */
export function isControlStatement(sql: string): boolean {
  if (sql.startsWith(MARKER)) return !sql.includes(';');
  return /^\s*(begin|commit|rollback|start transaction|set transaction|savepoint|release savepoint)\b/i.test(sql);
}
