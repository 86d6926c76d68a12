/**
 * The embedded PostgreSQL the gateway runs when DATABASE_URL is not set: the first start initialises a cluster and the
 * database, a restart on the same directory keeps the data, a stale postmaster.pid is cleared, and a running cluster
 * or a busy port is refused with a clear message. Runs in its own temporary directory on a free port.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Client } from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/platform/embedded-postgres';

jest.setTimeout(120_000);

interface LogLine {
  level: number;
  msg: string;
}

const logLines: LogLine[] = [];
const log = pino(
  { level: 'info' },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(JSON.parse(chunk.toString('utf8')) as LogLine);
      done();
    },
  }),
);
const infoMessages = (): string[] => logLines.filter((l) => l.level === 30).map((l) => l.msg);

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ host: '127.0.0.1', port, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/** A free port in 5500-5599, starting at a random place so parallel runs rarely collide. */
async function freePort(): Promise<number> {
  const offset = Math.floor(Math.random() * 100);
  for (let i = 0; i < 100; i++) {
    const port = 5500 + ((offset + i) % 100);
    if (await isFree(port)) return port;
  }
  throw new Error('no free port in 5500-5599');
}

async function query<T extends Record<string, unknown>>(url: string, sql: string): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('embedded PostgreSQL', () => {
  let tmp: string;
  let dataDir: string;
  let port: number;
  let firstUrl: string;
  const running = new Set<EmbeddedPostgres>();

  async function start(p = port): Promise<EmbeddedPostgres> {
    const pg = await startEmbeddedPostgres({ dataDir, port: p, log });
    running.add(pg);
    return pg;
  }

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tradeql-embedded-'));
    // Run as root, the server runs as the `postgres` user, which must be able to enter the (0700) temp dir.
    fs.chmodSync(tmp, 0o755);
    // Relative to the current directory, as EMBEDDED_DATA_DIR usually is.
    dataDir = path.relative(process.cwd(), path.join(tmp, 'data'));
    port = await freePort();
  });

  afterAll(async () => {
    for (const pg of running) await pg.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('first start initialises a cluster, creates the database and answers queries', async () => {
    const pg = await start();
    expect(pg.url).toMatch(new RegExp(`^postgres://postgres:[^@:]+@127\\.0\\.0\\.1:${port}/tradeql$`));
    firstUrl = pg.url;
    expect(fs.existsSync(path.join(tmp, 'data', 'pg', 'PG_VERSION'))).toBe(true);
    expect((fs.statSync(path.join(tmp, 'data', 'pg-password')).mode & 0o077)).toBe(0);

    const [{ version }] = await query<{ version: string }>(pg.url, 'select version()');
    expect(version).toMatch(/^PostgreSQL \d+/);
    const [{ db }] = await query<{ db: string }>(pg.url, 'select current_database() as db');
    expect(db).toBe('tradeql');
    await query(pg.url, `create table kept (id int primary key, note text not null)`);
    await query(pg.url, `insert into kept values (1, 'survives a restart')`);

    await pg.stop();
    await pg.stop(); // idempotent
    running.delete(pg);
    expect(await isFree(port)).toBe(true);
    expect(infoMessages()).toEqual(
      expect.arrayContaining(['initialising embedded PostgreSQL cluster', 'created database', 'embedded PostgreSQL ready', 'embedded PostgreSQL stopped']),
    );
  });

  it('a restart on the same directory keeps the data and the password, and a second start is refused', async () => {
    logLines.length = 0;
    const pg = await start();
    expect(pg.url).toBe(firstUrl);
    expect(await query(pg.url, 'select id, note from kept')).toEqual([{ id: 1, note: 'survives a restart' }]);
    expect(infoMessages()).toContain('using existing embedded PostgreSQL cluster');
    expect(infoMessages()).not.toContain('initialising embedded PostgreSQL cluster');
    expect(infoMessages()).not.toContain('created database');

    await expect(start(await freePort())).rejects.toThrow(/already running \(pid \d+\)/);

    await pg.stop();
    running.delete(pg);
  });

  it('removes a stale postmaster.pid whose process is gone', async () => {
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    const pidFile = path.join(tmp, 'data', 'pg', 'postmaster.pid');
    fs.writeFileSync(pidFile, `${gone}\n${path.join(tmp, 'data', 'pg')}\n0\n${port}\n\n127.0.0.1\n0 0\nready\n`);
    logLines.length = 0;

    const pg = await start();
    expect(infoMessages()).toContain('removing stale postmaster.pid left by a server that is gone');
    expect(await query(pg.url, 'select count(*)::int as n from kept')).toEqual([{ n: 1 }]);
    await pg.stop();
    running.delete(pg);
    expect(fs.existsSync(pidFile)).toBe(false); // a clean shutdown removes it
  });

  it('fails with a message naming EMBEDDED_PORT when the port is taken by another server', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const busy = (blocker.address() as net.AddressInfo).port;
    try {
      await expect(start(busy)).rejects.toThrow(new RegExp(`port ${busy} .*in use.*EMBEDDED_PORT`));
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
