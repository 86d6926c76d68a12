/**
 * /healthz: the process is up. /readyz: this instance can serve: the primary answers, every replica answers and is
 * replaying, Redis is connected (when configured), and the schema has no pending migration. Each check is time-boxed
 * so a hanging dependency makes the probe fail instead of hang.
 */
import type { Express } from 'express';
import type { Database } from '../platform/database';
import type { PubSubHandle } from '../platform/pubsub';
import { pendingMigrations } from '../platform/orm';

const CHECK_TIMEOUT_MS = 2000;

type Check = { status: 'ok' | 'fail'; detail?: string };

async function timed(work: () => Promise<string | undefined>): Promise<Check> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const detail = await Promise.race([
      work(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return detail ? { status: 'ok', detail } : { status: 'ok' };
  } catch (error) {
    return { status: 'fail', detail: (error as Error).message.split('\n')[0].slice(0, 200) };
  } finally {
    clearTimeout(timer);
  }
}

export async function readiness(db: Database, pubsub: PubSubHandle): Promise<{ ready: boolean; checks: Record<string, Check> }> {
  const checks: Record<string, Check> = {};
  const [primary, ...replicas] = db.connections();
  const tasks: [string, Promise<Check>][] = [
    ['primary', timed(async () => { await primary.execute('select 1', [], 'all'); return undefined; })],
    ['migrations', timed(async () => {
      const pending = await pendingMigrations(db.orm);
      if (pending.length) throw new Error(`${pending.length} pending: ${pending.join(', ')}`);
      return undefined;
    })],
    ...replicas.map((replica, i): [string, Promise<Check>] => [`replica-${i + 1}`, timed(async () => {
      const [row] = await replica.execute<{ standby: boolean; lag: string | null }[]>(
        `select pg_is_in_recovery() as standby,
                extract(epoch from now() - pg_last_xact_replay_timestamp())::numeric(12,3)::text as lag`, [], 'all');
      if (!row.standby) throw new Error('not a standby');
      return row.lag === null ? undefined : `replay lag ${row.lag} s`;
    })]),
  ];
  if (pubsub.kind === 'redis') {
    tasks.push(['redis', timed(async () => {
      if (!pubsub.ready()) throw new Error('not connected');
      return undefined;
    })]);
  }
  for (const [name, task] of tasks) checks[name] = await task;
  return { ready: Object.values(checks).every((c) => c.status === 'ok'), checks };
}

export function mountHealth(app: Express, db: Database, pubsub: PubSubHandle, draining: () => boolean = () => false): void {
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    if (draining()) {
      res.status(503).json({ status: 'shutting down', checks: {} });
      return;
    }
    const { ready, checks } = await readiness(db, pubsub);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });
}
