/** Plain `pg` connections of the orchestrator: one client per use, URLs of the bench's databases. */
import { Client as PgClient } from 'pg';

/** One connection for `use`, closed afterwards. */
export async function withPg<T>(url: string, use: (pg: PgClient) => Promise<T>): Promise<T> {
  const pg = new PgClient({ connectionString: url });
  await pg.connect();
  try {
    return await use(pg);
  } finally {
    await pg.end();
  }
}

/** `url` with its database (path) replaced by `name`, and optionally its port. */
export function databaseUrl(url: string, name: string, port?: number): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  if (port) u.port = String(port);
  return u.toString();
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
