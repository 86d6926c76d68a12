/**
 * Who the database should believe a request transaction is for: row-level security's input (see the migrations
 * Migration20261127000004_row_level_security and Migration20261127000005_admin_request_role). A request's
 * transactions switch to a role that owns nothing, `trading_app` (its policies show the key's accounts) or, for admin
 * keys, `trading_admin` (its policies show every account), and set the key's accounts transaction-locally, so nothing
 * leaks into the next use of a pooled connection. Work without a DbAccess (migrations, maintenance, background
 * workers) runs as the owner.
 */
import { escapeLiteral } from 'pg';
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
 * (parameters inlined, see inlineParams), which PostgreSQL runs as one implicit transaction, so the transaction-local
 * settings hold for the read and are gone after it. Each statement of such a string is planned only after the one
 * before it ran, so the read is planned as the request role, with its policies.
 */
export function withAccess(sql: string): string {
  return `${ACCESS_PRELUDE};\n${sql}`;
}

/** MikroORM's platform: how it inlines parameters is the reference, and it formats what reads never pass. */
export interface SqlFormatter {
  formatQuery(sql: string, params: readonly unknown[]): string;
  quoteValue(value: unknown): string;
}

/**
 * withAccess(sql) with the key's settings and the read's parameters inlined: the text MikroORM's
 * `formatQuery(withAccess(sql), [...accessParams(access), ...params])` gives, built with less work.
 */
export function accessRead(sql: string, params: readonly unknown[], access: DbAccess, formatter: SqlFormatter): string {
  if (rareSyntax(sql)) return formatter.formatQuery(withAccess(sql), [...accessParams(access), ...params]);
  return `${inline(ACCESS_PRELUDE, accessParams(access), formatter)};\n${inline(sql, params, formatter)}`;
}

/**
 * knex `?` parameters inlined into SQL text, exactly as MikroORM's formatQuery inlines them on PostgreSQL (UTC):
 * strings as pg's escapeLiteral quotes them, numbers and booleans as their text, null and undefined as NULL, Dates as
 * quoted ISO text. Runs for every read under access: MikroORM escaped a string character by character, which for the
 * 100 uuids of a page's trades was the largest allocation of a request. Anything else (and `??` or `\?` in the SQL) is
 * left to MikroORM.
 *
 * Injection: a string without quote or backslash is safe between plain quotes; any other goes through escapeLiteral
 * (quotes doubled, and E'' with doubled backslashes when it has one), which is safe whatever
 * standard_conforming_strings says.
 */
export function inlineParams(sql: string, params: readonly unknown[], formatter: SqlFormatter): string {
  if (params.length === 0) return sql;
  return rareSyntax(sql) ? formatter.formatQuery(sql, params) : inline(sql, params, formatter);
}

/** knex's identifier placeholder and escaped question mark, which our reads do not use. */
const rareSyntax = (sql: string): boolean => sql.includes('??') || sql.includes('\\?');

/** Every `?` replaced by the next parameter's literal (NULL when they have run out, as in MikroORM). */
function inline(sql: string, params: readonly unknown[], formatter: SqlFormatter): string {
  let text = '';
  let from = 0;
  let next = 0;
  for (let at = sql.indexOf('?'); at !== -1; at = sql.indexOf('?', from)) {
    text += sql.slice(from, at) + literal(params[next++], formatter);
    from = at + 1;
  }
  return from === 0 ? sql : text + sql.slice(from);
}

function literal(value: unknown, formatter: SqlFormatter): string {
  if (typeof value === 'string') return value.includes("'") || value.includes('\\') ? escapeLiteral(value) : `'${value}'`;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value === null || value === undefined) return 'NULL';
  if (value instanceof Date) return `'${value.toISOString()}'`;
  return formatter.quoteValue(value);
}

/** Transaction control and the prelude sent alone: not counted as the request's statements (they are per transaction). */
export function isControlStatement(sql: string): boolean {
  if (sql.startsWith(MARKER)) return !sql.includes(';');
  return /^\s*(begin|commit|rollback|start transaction|set transaction|savepoint|release savepoint)\b/i.test(sql);
}
