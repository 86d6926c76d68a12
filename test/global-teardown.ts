/** Drops this run's database (the replica follows). */
import { Client } from 'pg';
import { testEnv } from './support/env';

export default async function globalTeardown(): Promise<void> {
  const dbName = process.env.TQ_TEST_DB_NAME;
  if (!dbName || process.env.TEST_KEEP_DATABASE) return;
  const admin = new Client({ connectionString: testEnv().adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${dbName} with (force)`);
  await admin.end();
}
