/**
 * Once per test run: make sure the streaming replica runs, create this run's own database on the primary, migrate it,
 * and wait until the replica has it. Test files read the URLs from the environment (see test/support/env.ts).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Client } from 'pg';
import { initOrm, migrate } from '../src/platform/orm';
import { entities } from '../src/entities';
import { testEnv, waitForSchemaOnReplica, withDatabase } from './support/env';

export default async function globalSetup(): Promise<void> {
  const env = testEnv();
  if (!process.env.TEST_SKIP_REPLICA_SETUP) {
    execFileSync(path.join(__dirname, '..', 'scripts', 'replica.sh'), ['start'], {
      stdio: 'inherit',
      env: { ...process.env, PRIMARY_PORT: String(env.primaryPort), REPLICA_PORT: String(env.replicaPort) },
    });
  }
  const dbName = `tradeql_test_${process.pid}_${Date.now().toString(36)}`;
  const admin = new Client({ connectionString: env.adminUrl });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  await admin.end();

  const databaseUrl = withDatabase(env.adminUrl, dbName);
  const replicaUrl = withDatabase(env.replicaAdminUrl, dbName);
  const orm = await initOrm({
    databaseUrl,
    replicaUrls: [],
    entities,
    poolSize: 2,
    poolOverflow: 0,
    acquireTimeoutMs: 10_000,
    recycleMs: 3_600_000,
    statementTimeoutMs: 60_000,
    replicaConnectTimeoutMs: 2_000,
  });
  await migrate(orm);
  await orm.close(true);
  await waitForSchemaOnReplica(replicaUrl);

  process.env.TQ_TEST_DATABASE_URL = databaseUrl;
  process.env.TQ_TEST_REPLICA_URL = replicaUrl;
  process.env.TQ_TEST_DB_NAME = dbName;
}

