/**
 * API keys end to end on a database of this file's own: `tradeql apikey create|list|revoke` through the real command
 * (a child process), the stored row (a hash, never the key), and authenticate() on the keys the command printed.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { createOwnDatabase } from '../support/env';
import { loadConfig } from '../../src/config';
import { openDatabase, type Runtime } from '../../src/app';
import { createLogger } from '../../src/platform/logger';
import { authenticate, INVALID_KEY_MESSAGE } from '../../src/modules/accounts/api-keys.service';

const exec = promisify(execFile);
const BIN = path.join(__dirname, '..', '..', 'bin', 'tradeql.js');

let own: { url: string; drop(): Promise<void> };
let pg: Client;
let runtime: Runtime;

function cliEnv() {
  return { ...process.env, DATABASE_URL: own.url, DATABASE_REPLICA_URLS: '', REDIS_URL: '', LOG_LEVEL: 'warn' };
}

async function apikey(args: string[]): Promise<{ stdout: string; stderr: string; lines: string[] }> {
  const { stdout, stderr } = await exec(process.execPath, [BIN, 'apikey', ...args], { env: cliEnv() });
  return { stdout, stderr, lines: stdout.trim().split('\n') };
}

async function failing(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return exec(process.execPath, [BIN, 'apikey', ...args], { env: cliEnv() }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

/** `apikey create`, keeping the key as a script would: `tail -n 1`. */
async function createKey(args: string[]): Promise<{ key: string; keyId: string; stderr: string; stdout: string }> {
  const { stdout, stderr, lines } = await apikey(['create', ...args]);
  const key = lines[lines.length - 1];
  const keyId = /API key ([0-9a-f-]{36}) created/.exec(stderr)?.[1] ?? '';
  return { key, keyId, stderr, stdout };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const count = async () => Number((await pg.query('select count(*) as n from execution.api_keys')).rows[0].n);

beforeAll(async () => {
  own = await createOwnDatabase('tradeql_apikeys');
  pg = new Client({ connectionString: own.url });
  await pg.connect();
  await pg.query(`insert into execution.accounts (account_id, name) values ('KEY-A', 'Account A'), ('KEY-B', 'Account B')`);
  runtime = await openDatabase(loadConfig({ DATABASE_URL: own.url, LOG_LEVEL: 'silent' }), createLogger('silent'));
});

afterAll(async () => {
  await runtime?.close();
  await pg?.end();
  await own?.drop();
});

describe('tradeql apikey', () => {
  const keys: Record<'trader' | 'viewer' | 'admin', { key: string; keyId: string }> = {} as never;

  it('creates a key per role, prints it once on the last line, and stores only its SHA-256', async () => {
    const trader = await createKey(['--role', 'trader', '--account', 'KEY-A', '--account', 'KEY-B', '--name', 'market maker']);
    const viewer = await createKey(['--role', 'viewer', '--account', 'KEY-B']);
    const admin = await createKey(['--role', 'admin']);
    Object.assign(keys, { trader, viewer, admin });

    for (const [role, created] of Object.entries({ trader, viewer, admin })) {
      expect(created.key).toMatch(/^tq_[0-9A-Za-z]{40}$/);
      // The key appears once, alone on its line; the human line (id, role, accounts) is on stderr.
      expect(created.stdout.split(created.key)).toHaveLength(2);
      expect(created.stderr).toContain(`role ${role}`);
      expect(created.stderr).not.toContain(created.key);
      const { rows } = await pg.query('select *, t::text as whole from execution.api_keys t where key_id = $1', [created.keyId]);
      expect(rows).toHaveLength(1);
      expect(rows[0].key_hash).toBe(sha256(created.key));
      expect(rows[0].role).toBe(role);
      expect(rows[0].prefix).toBe(created.key.slice(3, 11));
      expect(rows[0].last_used_at).toBeNull();
      expect(rows[0].revoked_at).toBeNull();
    }
    expect(trader.stderr).toContain('accounts KEY-A, KEY-B');
    expect(trader.stderr).toContain('"market maker"');
    const { rows } = await pg.query('select key_id, name, account_ids from execution.api_keys order by created_at');
    expect(rows.map((r) => [r.name, r.account_ids])).toEqual([['market maker', ['KEY-A', 'KEY-B']], ['viewer key', ['KEY-B']], ['admin key', []]]);

    // No plaintext anywhere in the table: not the key, not the part after tq_, not its secret tail.
    const dump = (await pg.query('select string_agg(t::text, E\'\\n\') as all_rows from execution.api_keys t')).rows[0].all_rows as string;
    for (const { key } of [trader, viewer, admin]) {
      expect(dump).not.toContain(key);
      expect(dump).not.toContain(key.slice(3));
      expect(dump).not.toContain(key.slice(11));
    }
  });

  it('lists keys with no key and no hash', async () => {
    const { stdout, lines } = await apikey(['list']);
    const listed = lines.map((line) => JSON.parse(line));
    expect(listed.map((k) => k.keyId)).toEqual([keys.trader.keyId, keys.viewer.keyId, keys.admin.keyId]);
    expect(listed[0]).toEqual({
      keyId: keys.trader.keyId, name: 'market maker', role: 'trader', prefix: keys.trader.key.slice(3, 11), accountIds: ['KEY-A', 'KEY-B'],
      createdAt: expect.any(String), lastUsedAt: null, revokedAt: null,
    });
    for (const { key } of Object.values(keys)) {
      expect(stdout).not.toContain(key.slice(3));
      expect(stdout).not.toContain(sha256(key));
    }
    expect(stdout).not.toMatch(/hash/i);
  });

  it('authenticates each key with its role and accounts', async () => {
    const trader = await authenticate(runtime.db, `Bearer ${keys.trader.key}`);
    expect(trader).toEqual({ keyId: keys.trader.keyId, name: 'market maker', role: 'trader', accountIds: new Set(['KEY-A', 'KEY-B']) });
    const viewer = await authenticate(runtime.db, `  bearer ${keys.viewer.key} `);
    expect(viewer).toMatchObject({ keyId: keys.viewer.keyId, role: 'viewer', accountIds: new Set(['KEY-B']) });
    const admin = await authenticate(runtime.db, `BEARER ${keys.admin.key}`);
    expect(admin).toMatchObject({ keyId: keys.admin.keyId, role: 'admin', accountIds: new Set() });
  });

  it('records last use, at most once a minute', async () => {
    const lastUsed = async () => (await pg.query('select last_used_at from execution.api_keys where key_id = $1', [keys.trader.keyId])).rows[0].last_used_at as Date | null;
    const deadline = Date.now() + 5000;
    while ((await lastUsed()) === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const first = await lastUsed();
    expect(first).toBeInstanceOf(Date);
    expect(Date.now() - first!.getTime()).toBeLessThan(60_000);
    await authenticate(runtime.db, `Bearer ${keys.trader.key}`);
    await new Promise((r) => setTimeout(r, 300));
    expect(await lastUsed()).toEqual(first);
    const { lines } = await apikey(['list']);
    expect(Date.parse(JSON.parse(lines[0]).lastUsedAt)).toBe(first!.getTime());
  });

  it('rejects a missing header, a malformed one and an unknown key as UNAUTHENTICATED', async () => {
    for (const header of [undefined, null, '', '  ']) {
      await expect(authenticate(runtime.db, header)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringMatching(/authentication required/) });
    }
    for (const header of [keys.trader.key, `Basic ${keys.trader.key}`, 'Bearer tq_short', `Bearer ${keys.trader.key}!`, `Bearer ${keys.trader.key} x`]) {
      await expect(authenticate(runtime.db, header)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringMatching(/malformed/) });
    }
    const wrong = `tq_${keys.trader.key.slice(3, 42)}${keys.trader.key.endsWith('a') ? 'b' : 'a'}`;
    await expect(authenticate(runtime.db, `Bearer ${wrong}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: INVALID_KEY_MESSAGE });
  });

  it('revokes at once, with the same error as an unknown key; revoking twice is fine', async () => {
    await authenticate(runtime.db, `Bearer ${keys.viewer.key}`);
    const { lines } = await apikey(['revoke', keys.viewer.keyId]);
    expect(JSON.parse(lines[lines.length - 1])).toMatchObject({ keyId: keys.viewer.keyId, alreadyRevoked: false, revokedAt: expect.any(String) });

    const revoked = await authenticate(runtime.db, `Bearer ${keys.viewer.key}`).catch((e) => e);
    const unknown = await authenticate(runtime.db, `Bearer tq_${'Z'.repeat(40)}`).catch((e) => e);
    expect(revoked).toMatchObject({ code: 'UNAUTHENTICATED', message: INVALID_KEY_MESSAGE });
    expect(unknown).toMatchObject({ code: revoked.code, message: revoked.message });
    expect(revoked.details).toEqual(unknown.details);

    const again = await apikey(['revoke', keys.viewer.keyId]);
    const second = JSON.parse(again.lines[again.lines.length - 1]);
    expect(second).toMatchObject({ keyId: keys.viewer.keyId, alreadyRevoked: true });
    expect(second.revokedAt).toBe(JSON.parse(lines[lines.length - 1]).revokedAt);
    // The other keys still work.
    await expect(authenticate(runtime.db, `Bearer ${keys.trader.key}`)).resolves.toMatchObject({ role: 'trader' });
    const listed = (await apikey(['list'])).lines.map((l) => JSON.parse(l));
    expect(listed.find((k) => k.keyId === keys.viewer.keyId).revokedAt).toBe(second.revokedAt);
    // Creating and revoking are audited (once: the second revoke changed nothing).
    const audit = await pg.query(`select operation, role, result from logging.audit_log where $1 = any(record_ids) order by id`, [keys.viewer.keyId]);
    expect(audit.rows).toEqual([
      { operation: 'apikey create', role: 'system', result: 'ok' },
      { operation: 'apikey revoke', role: 'system', result: 'ok' },
    ]);
  });

  it('refuses unknown accounts, a viewer without accounts, an unknown role, and an unknown key id, writing nothing', async () => {
    const before = await count();
    const unknown = await failing(['create', '--role', 'trader', '--account', 'KEY-A', '--account', 'NO-SUCH']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown account: NO-SUCH/);
    expect(unknown.stdout).not.toMatch(/tq_[0-9A-Za-z]{40}/);

    const noAccount = await failing(['create', '--role', 'viewer']);
    expect(noAccount.code).not.toBe(0);
    expect(noAccount.stderr).toMatch(/viewer key needs at least one account/);

    const badRole = await failing(['create', '--role', 'root', '--account', 'KEY-A']);
    expect(badRole.code).not.toBe(0);
    expect(badRole.stderr).toMatch(/role: must be one of viewer, trader, admin/);

    const noRole = await failing(['create', '--account', 'KEY-A']);
    expect(noRole.code).not.toBe(0);
    expect(noRole.stderr).toMatch(/--role/);
    expect(await count()).toBe(before);

    const missing = await failing(['revoke', '00000000-0000-4000-8000-000000000000']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/API key 00000000-0000-4000-8000-000000000000 not found/);
    const malformed = await failing(['revoke', 'not-a-key-id']);
    expect(malformed.code).not.toBe(0);
    expect(malformed.stderr).toMatch(/keyId: must be a UUID/);
  });
});
