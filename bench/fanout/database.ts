/** The bench's own database: created and migrated for the run, dropped by the cleanup. */
import { execFile } from 'node:child_process';
import { databaseUrl as urlOfDatabase, withPg } from '../suite/pg';
import { BenchError, progress } from './lifecycle';
import { ROOT, tradeqlArgs, tradeqlEnv } from './tradeql';


function migrate(databaseUrl: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const env = tradeqlEnv({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' });
    execFile(process.execPath, tradeqlArgs('migrate'), { cwd: ROOT, env, timeout: 120_000 }, (error, _stdout, stderr) => {
      if (error) reject(new BenchError(`migrate failed: ${error.message}\n${stderr}`));
      else resolve();
    });
  });
}

/** The database to drop at the cleanup, once created. */
let created: { adminUrl: string; name: string } | undefined;

/** Creates the database `name` on the server of `adminUrl` (replacing a leftover) and migrates it; returns its URL. */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  await withPg(adminUrl, async (pg) => {
    await pg.query(`drop database if exists "${name}" with (force)`);
    await pg.query(`create database "${name}"`);
    created = { adminUrl, name };
  });
  progress(`setup: database ${name} created; migrating`);
  const databaseUrl = urlOfDatabase(adminUrl, name);
  await migrate(databaseUrl);
  // Every request needs a key: one admin key for the bench, in the environment its workers inherit.
  process.env.TRADEQL_BENCH_KEY = await createAdminKey(databaseUrl);
  return databaseUrl;
}

function createAdminKey(databaseUrl: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const env = tradeqlEnv({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' });
    execFile(process.execPath, tradeqlArgs('apikey', 'create', '--role', 'admin', '--name', 'fan-out bench'), { cwd: ROOT, env, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new BenchError(`apikey create failed: ${error.message}\n${stderr}`));
      else resolve(stdout.trim().split('\n').pop()!.trim());
    });
  });
}

export async function dropDatabase(): Promise<void> {
  if (!created) return;
  const { adminUrl, name } = created;
  progress(`cleanup: dropping database ${name}`);
  try {
    await withPg(adminUrl, (pg) => pg.query(`drop database if exists "${name}" with (force)`));
    created = undefined;
  } catch (error) {
    progress(`cleanup: could not drop ${name}: ${(error as Error).message}`);
  }
}
