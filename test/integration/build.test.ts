/**
 * `npm run build` (tsc -p tsconfig.build.json) gives a gateway that runs. Compiled into a folder of this file's own
 * inside the checkout (so that it finds node_modules), it starts on a migrated database of its own, finds
 * schema.graphql at the checkout's root, answers /healthz, and refuses a request without a key as the sources do.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { createOwnDatabase } from '../support/env';
import { freePort } from '../support/redis-server';

const ROOT = path.join(__dirname, '..', '..');
const OUT = path.join(ROOT, '.tradeql', `build-check-${process.pid}`);
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

let db: { url: string; drop(): Promise<void> } | undefined;
let child: ChildProcess | undefined;

beforeAll(async () => {
  db = await createOwnDatabase('tq_build');
  await promisify(execFile)(process.execPath, [TSC, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', OUT], { cwd: ROOT });
}, 180_000);

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await db?.drop();
  fs.rmSync(OUT, { recursive: true, force: true });
});

it('starts from the compiled JavaScript, answers, and stops on SIGTERM', async () => {
  const port = await freePort();
  const output: string[] = [];
  child = spawn(process.execPath, [path.join(OUT, 'src', 'cli.js'), 'serve'], {
    cwd: ROOT,
    env: {
      ...process.env, NODE_ENV: 'production', DATABASE_URL: db!.url, DATABASE_REPLICA_URLS: '', PORT: String(port), HOST: '127.0.0.1',
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', EVENTS_CHANNEL: `tradeql.build.${process.pid}`,
      LOG_LEVEL: 'warn', SYNC_ENABLED: 'false', DASHBOARD_ENABLED: 'false', GRAPHIQL_ENABLED: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => output.push(String(d)));
  child.stderr!.on('data', (d) => output.push(String(d)));
  const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  let healthy = false;
  while (!healthy && Date.now() < deadline && child.exitCode === null) {
    healthy = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (!healthy) await new Promise((r) => setTimeout(r, 250));
  }
  expect({ healthy, output: healthy ? '' : output.join('') }).toEqual({ healthy: true, output: '' });

  const unauthenticated = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
  expect(unauthenticated.status).toBe(401);
  expect(((await unauthenticated.json()) as { errors: { extensions: { code: string } }[] }).errors[0].extensions.code).toBe('UNAUTHENTICATED');

  child.kill('SIGTERM');
  expect(await exited).toBe(0);
}, 120_000);
