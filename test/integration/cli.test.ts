/** The `tradeql` command as users run it: help, migrate (twice, and --check), serve answering and stopping on SIGTERM. */
import { execFile, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { testEnv, withDatabase } from '../support/env';
import { bearer, createKeyIn } from '../support/keys';

const run = promisify(execFile);
const BIN = path.join(__dirname, '..', '..', 'bin', 'tradeql.js');
const dbName = `tradeql_cli_${process.pid}_${Date.now().toString(36)}`;
const url = withDatabase(testEnv().adminUrl, dbName);
const env = { ...process.env, DATABASE_URL: url, DATABASE_REPLICA_URLS: '', LOG_LEVEL: 'warn', REDIS_URL: '' };

async function admin(sql: string): Promise<void> {
  const c = new Client({ connectionString: testEnv().adminUrl });
  await c.connect();
  await c.query(sql);
  await c.end();
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

beforeAll(() => admin(`create database ${dbName}`));
afterAll(() => admin(`drop database if exists ${dbName} with (force)`));

describe('tradeql command', () => {
  it('lists its commands with --help', async () => {
    const { stdout } = await run(process.execPath, [BIN, '--help']);
    for (const command of ['serve', 'migrate', 'seed', 'sync']) expect(stdout).toContain(command);
  });

  it('migrates, migrates again as a no-op, and --check passes only when current', async () => {
    const pending = await run(process.execPath, [BIN, 'migrate', '--check'], { env }).catch((e) => e);
    expect(pending.code).toBe(1);
    expect(pending.stderr).toMatch(/pending migration/);
    await run(process.execPath, [BIN, 'migrate'], { env });
    const again = await run(process.execPath, [BIN, 'migrate'], { env: { ...env, LOG_LEVEL: 'info' } });
    expect(again.stdout).toMatch(/schema is up to date/);
    await run(process.execPath, [BIN, 'migrate', '--check'], { env });
  });

  it('refuses a bad configuration with a clear message', async () => {
    const bad = await run(process.execPath, [BIN, 'migrate'], { env: { ...env, PORT: 'eighty' } }).catch((e) => e);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/PORT/);
  });

  it('serves, then stops cleanly on SIGTERM', async () => {
    await run(process.execPath, [BIN, 'migrate'], { env });
    const key = await createKeyIn(url);
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'serve'], { env: { ...env, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 30_000;
      let body: any;
      while (Date.now() < deadline && child.exitCode === null) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(key) }, body: JSON.stringify({ query: '{ latestBar(symbol: "NONE") { close } }' }) });
          body = await res.json();
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      expect(body.data).toEqual({ latestBar: null });
      const stoppedAt = Date.now();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    } finally {
      // Never leave a server behind, whatever failed above.
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
