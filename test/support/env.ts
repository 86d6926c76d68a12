/** Where the tests find PostgreSQL: the local primary (5432) and the streaming replica the setup starts (5433). */
export interface TestEnv {
  adminUrl: string;
  replicaAdminUrl: string;
  primaryPort: number;
  replicaPort: number;
}

export function testEnv(): TestEnv {
  const adminUrl = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const replicaPort = Number(process.env.TEST_REPLICA_PORT ?? 5433);
  const replica = new URL(adminUrl);
  replica.port = String(replicaPort);
  return { adminUrl, replicaAdminUrl: replica.toString(), primaryPort: Number(new URL(adminUrl).port || 5432), replicaPort };
}

export function withDatabase(url: string, dbName: string): string {
  const u = new URL(url);
  u.pathname = `/${dbName}`;
  return u.toString();
}

/** The URLs of this run's migrated database, set by the global setup. */
export function testDatabase(): { databaseUrl: string; replicaUrl: string } {
  const databaseUrl = process.env.TQ_TEST_DATABASE_URL;
  const replicaUrl = process.env.TQ_TEST_REPLICA_URL;
  if (!databaseUrl || !replicaUrl) throw new Error('integration tests need the global setup (run them through jest)');
  return { databaseUrl, replicaUrl };
}
