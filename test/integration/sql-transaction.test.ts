/**
 * The plain-SQL transaction of the hot writes: the same guarantees as inTransaction, on the real primary.
 */
import { DriverException } from '@mikro-orm/core';
import { loadConfig } from '../../src/config';
import { openDatabase, type Runtime } from '../../src/app';
import { createLogger } from '../../src/platform/logger';
import { inSqlTransaction } from '../../src/platform/sql-transaction';
import { categorize } from '../../src/platform/db-errors';
import { testDatabase } from '../support/env';
import { uniqueId } from '../support/gateway';

let runtime: Runtime;
const access = (accountIds: string[], bypass = false) => ({ keyId: 'k', role: bypass ? 'admin' : 'trader', accountIds, bypass, statementTimeoutMs: 5000 });
const table = `sqltx_${process.pid}`;

beforeAll(async () => {
  const config = loadConfig({ DATABASE_URL: testDatabase().databaseUrl, LOG_LEVEL: 'silent', DB_POOL_SIZE: '2', DB_POOL_OVERFLOW: '0' });
  runtime = await openDatabase(config, createLogger('silent'));
  await runtime.db.em().execute(`create table public.${table} (id int primary key, n int not null)`);
  await runtime.db.em().execute(`insert into public.${table} values (1, 0)`);
});
afterAll(async () => {
  await runtime.db.em().execute(`drop table if exists public.${table}`);
  await runtime.close();
});

const count = async (sql: string, params: unknown[] = []) => Number((await runtime.db.read<{ n: string }>(sql, params, 'primary'))[0].n);

describe('inSqlTransaction', () => {
  it('commits all of its statements, or none of them when one fails', async () => {
    const id = uniqueId('sqltx');
    await inSqlTransaction(runtime.db, async (sql) => {
      await sql.execute('insert into execution.accounts (account_id, name) values (?, ?)', [id, 'a']);
      await sql.execute(`update public.${table} set n = n + 1 where id = 1`);
    });
    expect(await count('select count(*) as n from execution.accounts where account_id = ?', [id])).toBe(1);
    const before = await count(`select n from public.${table} where id = 1`);
    const failed = inSqlTransaction(runtime.db, async (sql) => {
      await sql.execute(`update public.${table} set n = n + 1 where id = 1`);
      await sql.execute('insert into execution.accounts (account_id, name) values (?, ?)', [id, 'again']);
    });
    // a driver error comes out as em.execute throws it: a DriverException that db-errors maps
    await expect(failed).rejects.toBeInstanceOf(DriverException);
    expect(categorize(await failed.catch((e) => e))).toBe('unique');
    expect(await count(`select n from public.${table} where id = 1`)).toBe(before);
  });

  it('runs as the key under row-level security, and leaves nothing of it on the pooled connection', async () => {
    const [own, other] = [uniqueId('own'), uniqueId('other')];
    await runtime.db.em().execute('insert into execution.accounts (account_id, name) values (?, ?), (?, ?)', [own, 'o', other, 'x']);
    const seen = await inSqlTransaction(runtime.db, (sql) => sql.execute<{ id: string; who: string }[]>(
      'select account_id as id, current_user as who from execution.accounts where account_id in (?, ?)', [own, other]), { access: access([own]) });
    expect(seen).toEqual([{ id: own, who: 'trading_app' }]);
    const admin = await inSqlTransaction(runtime.db, (sql) => sql.execute<{ id: string }[]>(
      'select account_id as id from execution.accounts where account_id in (?, ?) order by 1', [own, other]), { access: access([], true) });
    expect(admin.map((r) => r.id)).toEqual([own, other].sort());
    // both connections of the pool: back to the owner, no accounts set
    const after = await Promise.all([0, 1].map(() => inSqlTransaction(runtime.db, (sql) =>
      sql.execute<{ who: string; ids: string | null }[]>(`select current_user as who, current_setting('app.current_account_ids', true) as ids, pg_sleep(0.05)`))));
    for (const [row] of after) expect({ who: row.who, ids: row.ids || null }).toEqual({ who: 'postgres', ids: null });
  });

  it('re-runs the whole work after a deadlock', async () => {
    const ids = [1001, 1002];
    await runtime.db.em().execute(`insert into public.${table} values (1001, 0), (1002, 0)`);
    let attempts = 0;
    // Two transactions lock the rows in opposite orders: PostgreSQL kills one (40P01); it must be retried, not lost.
    const cross = (first: number, second: number) => inSqlTransaction(runtime.db, async (sql) => {
      attempts++;
      await sql.execute(`update public.${table} set n = n + 1 where id = ?`, [first]);
      await new Promise((r) => setTimeout(r, 100));
      await sql.execute(`update public.${table} set n = n + 1 where id = ?`, [second]);
    });
    await Promise.all([cross(ids[0], ids[1]), cross(ids[1], ids[0])]);
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(await count(`select sum(n) as n from public.${table} where id in (1001, 1002)`)).toBe(4);
  });

  it('sends BEGIN and the access settings with the first statement: two round trips for a one-statement transaction', async () => {
    const { sent, stop } = captureSent();
    try {
      expect(await inSqlTransaction(runtime.db, (sql) => sql.execute('select 1 as one'), { access: access([]) })).toEqual([{ one: 1 }]);
      expect(sent).toHaveLength(2);
      expect(sent[0]).toMatch(/^begin; \/\* request access \*\/ select set_config\('role', 'trading_app', true\)[^;]*;\nselect 1 as one$/);
      expect(sent[1]).toBe('commit');

      // The settings hold for the first statement already: its role, and its statement timeout.
      sent.length = 0;
      expect(await inSqlTransaction(runtime.db, (sql) => sql.execute('select current_user as role, current_setting(\'statement_timeout\') as timeout'), { access: access([]) }))
        .toEqual([{ role: 'trading_app', timeout: expect.stringMatching(/^\d+(ms|s)$/) }]);
      await expect(inSqlTransaction(runtime.db, (sql) => sql.execute('select pg_sleep(2)'), { access: { ...access([]), statementTimeoutMs: 100 } }))
        .rejects.toThrow(/statement timeout/);

      // Nothing to run: nothing sent, not even BEGIN.
      sent.length = 0;
      expect(await inSqlTransaction(runtime.db, async () => 'nothing', { access: access([]) })).toBe('nothing');
      expect(sent).toEqual([]);
    } finally {
      stop();
    }
  });

  it('sends the statement of committing() with COMMIT in one round trip, and nothing after it', async () => {
    const before = await count(`select n from public.${table} where id = 1`);
    const { sent, stop } = captureSent();
    try {
      const rows = await inSqlTransaction(runtime.db, async (sql) => {
        await sql.execute(`update public.${table} set n = n + 1 where id = 1`);
        return sql.committing().execute<{ n: number }[]>(`update public.${table} set n = n + 1 where id = 1 returning n`);
      });
      // the statement's own rows, not COMMIT's
      expect(rows).toEqual([{ n: before + 2 }]);
      expect(sent).toHaveLength(2);
      expect(sent[1]).toBe(`update public.${table} set n = n + 1 where id = 1 returning n;\ncommit`);
      expect(await count(`select n from public.${table} where id = 1`)).toBe(before + 2);
      // that read went through the pool too: the next check starts afresh

      // Alone, the whole transaction is one round trip.
      sent.length = 0;
      expect(await inSqlTransaction(runtime.db, (sql) => sql.committing().execute('select 2 as two'), { access: access([]) })).toEqual([{ two: 2 }]);
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatch(/^begin; \/\* request access \*\/ select set_config[^;]*;\nselect 2 as two;\ncommit$/);

      // Nothing may follow it: the work fails, and nothing more is sent.
      sent.length = 0;
      await expect(inSqlTransaction(runtime.db, async (sql) => {
        await sql.committing().execute('select 1');
        await sql.execute('select 2');
      })).rejects.toThrow(/committed: no statement may follow/);
      expect(sent).toEqual(['begin;\nselect 1;\ncommit']);
    } finally {
      stop();
    }
  });

  it('rolls back the whole transaction when the statement of committing() fails, and leaves its connection clean', async () => {
    const before = await count(`select n from public.${table} where id = 1`);
    const failed = inSqlTransaction(runtime.db, async (sql) => {
      await sql.execute(`update public.${table} set n = n + 1 where id = 1`);
      await sql.committing().execute(`update public.${table} set n = n + 1 / (n - n) where id = 1`);
    });
    await expect(failed).rejects.toBeInstanceOf(DriverException);
    await expect(failed).rejects.toThrow(/division by zero/);
    expect(await count(`select n from public.${table} where id = 1`)).toBe(before);
    // both connections of the pool: out of any transaction, back to the owner
    const after = await Promise.all([0, 1].map(() => inSqlTransaction(runtime.db, (sql) =>
      sql.committing().execute<{ who: string; ids: string | null }[]>(`select current_user as who, current_setting('app.current_account_ids', true) as ids, pg_sleep(0.05)`))));
    for (const [row] of after) expect({ who: row.who, ids: row.ids || null }).toEqual({ who: 'postgres', ids: null });
    expect(await count(`select n from public.${table} where id = 1`)).toBe(before);
  });
});

/** Records every query text sent on the pg clients the transactions take from the pool, until stop(). */
function captureSent(): { sent: string[]; stop: () => void } {
  // What reaches the pg client the transaction takes from the pool.
  type Client = { query: (text: string, ...rest: unknown[]) => unknown };
  const pool = runtime.db.orm.em.getConnection('write').getKnex().client as { acquireConnection: () => Promise<Client> };
  const acquire = pool.acquireConnection;
  const sent: string[] = [];
  const patched = new Map<Client, Client['query']>();
  const restore = () => {
    for (const [client, query] of patched) client.query = query;
  };
  pool.acquireConnection = async function (this: unknown) {
    const client = await acquire.call(this);
    if (!patched.has(client)) {
      const query = client.query;
      patched.set(client, query);
      client.query = function (this: unknown, text: string, ...rest: unknown[]) {
        sent.push(text);
        return query.call(this, text, ...rest);
      };
    }
    return client;
  };
  return {
    sent,
    stop: () => {
      pool.acquireConnection = acquire;
      restore();
    },
  };
}
