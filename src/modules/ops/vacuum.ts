/**
 * VACUUM (ANALYZE) and ANALYZE of the project's tables, one table at a time on one plain pooled connection: VACUUM
 * cannot run inside a transaction block, so it cannot go through em.transactional() or a unit of work.
 *
 * Table names given by an operator are never interpolated: each is resolved with to_regclass() (which parses it as
 * SQL would: `schema.table`, quoted or not, unqualified through the search_path), must be a table, and the statement
 * uses the name the server quotes itself with format('%I.%I'). Any unknown name refuses the whole run before
 * anything starts.
 *
 * The default list is every table of the four schemas except partitions: a partitioned table's VACUUM and ANALYZE
 * cover its partitions, and ANALYZE of the parent is what gives the planner statistics over all of them (autovacuum
 * never analyzes a partitioned parent).
 */
import type { PoolClient } from 'pg';
import type { Database } from '../../platform/database';

export const PROJECT_SCHEMAS = ['data_ingestion', 'execution', 'analytics', 'logging'];

export interface TableRun {
  table: string;
  ms: number;
}

export interface VacuumReport {
  operation: 'vacuum-analyze' | 'analyze';
  tables: TableRun[];
}

export class UnknownTableError extends Error {
  constructor(readonly names: string[]) {
    super(`not a table: ${names.map((n) => JSON.stringify(n)).join(', ')} (give schema.table, e.g. execution.orders)`);
  }
}

export function vacuumAnalyze(db: Database, tables?: string[]): Promise<VacuumReport> {
  return maintainTables(db, 'vacuum-analyze', tables);
}

export function analyze(db: Database, tables?: string[]): Promise<VacuumReport> {
  return maintainTables(db, 'analyze', tables);
}

async function maintainTables(db: Database, operation: VacuumReport['operation'], tables?: string[]): Promise<VacuumReport> {
  const knex = db.orm.em.getConnection('write').getKnex();
  const conn: PoolClient = await knex.client.acquireConnection();
  try {
    const names = tables?.length ? await resolveTables(conn, tables) : await projectTables(conn);
    // The session's statement timeout guards requests; a VACUUM of a large table may rightly take longer.
    await conn.query('set statement_timeout = 0');
    const report: VacuumReport = { operation, tables: [] };
    try {
      for (const table of names) {
        const started = Date.now();
        // `table` is the server's own quoting of a catalogue name (see resolveTables/projectTables).
        await conn.query(operation === 'analyze' ? `analyze ${table}` : `vacuum (analyze) ${table}`);
        report.tables.push({ table, ms: Date.now() - started });
      }
    } finally {
      // Back to the session default (the connection options' timeout) before the connection returns to the pool.
      await conn.query('reset statement_timeout');
    }
    return report;
  } finally {
    await knex.client.releaseConnection(conn);
  }
}

/** Each name as the catalogue's quoted `schema.table`, or UnknownTableError listing every name that is not a table. */
async function resolveTables(conn: PoolClient, names: string[]): Promise<string[]> {
  const resolved: string[] = [];
  const unknown: string[] = [];
  for (const name of names) {
    let rows: { qualified: string }[] = [];
    try {
      ({ rows } = await conn.query(
        `select format('%I.%I', n.nspname, c.relname) as qualified
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where c.oid = to_regclass($1) and c.relkind in ('r', 'p', 'm')`,
        [name],
      ));
    } catch {
      // to_regclass rejects malformed names (e.g. an unbalanced quote) with an error rather than null.
      rows = [];
    }
    if (rows.length) resolved.push(rows[0].qualified);
    else unknown.push(name);
  }
  if (unknown.length) throw new UnknownTableError(unknown);
  return [...new Set(resolved)];
}

async function projectTables(conn: PoolClient): Promise<string[]> {
  const { rows } = await conn.query<{ qualified: string }>(
    `select format('%I.%I', n.nspname, c.relname) as qualified
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = any($1) and c.relkind in ('r', 'p') and not c.relispartition
     order by n.nspname, c.relname`,
    [PROJECT_SCHEMAS],
  );
  return rows.map((r) => r.qualified);
}
