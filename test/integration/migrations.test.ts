import { Client } from 'pg';
import { createOwnDatabase, testDatabase } from '../support/env';
import { initOrm, migrate, pendingMigrations } from '../../src/platform/orm';
import { entities } from '../../src/entities';

describe('migrations', () => {
  const { databaseUrl, replicaUrl } = testDatabase();
  const settings = {
    databaseUrl, replicaUrls: [], entities, poolSize: 2, poolOverflow: 0, acquireTimeoutMs: 5000,
    recycleMs: 3_600_000, statementTimeoutMs: 30_000, replicaConnectTimeoutMs: 1000,
  };

  it('running migrate again applies nothing', async () => {
    const orm = await initOrm(settings);
    try {
      expect(await migrate(orm)).toEqual([]);
      expect(await pendingMigrations(orm)).toEqual([]);
    } finally {
      await orm.close(true);
    }
  });

  it('migrates several new databases of one server at once: their roles are shared by the whole server', async () => {
    // Roles and role settings are per server, and the migration lock is per database: without a retry, two
    // databases migrating at once could collide on `alter role ... set` ("tuple concurrently updated").
    for (let round = 0; round < 2; round++) {
      const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => createOwnDatabase(`tq_mig${round}${i}`)));
      await Promise.all(results.map((r) => (r.status === 'fulfilled' ? r.value.drop() : undefined)));
      expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    }
  }, 120_000);

  it('creates the four service schemas and a replica that is in recovery', async () => {
    const primary = new Client({ connectionString: databaseUrl });
    const replica = new Client({ connectionString: replicaUrl });
    await primary.connect();
    await replica.connect();
    try {
      const schemas = await primary.query(
        `select nspname from pg_namespace where nspname in ('data_ingestion','execution','analytics','logging') order by 1`,
      );
      expect(schemas.rows.map((r) => r.nspname)).toEqual(['analytics', 'data_ingestion', 'execution', 'logging']);
      expect((await replica.query('select pg_is_in_recovery() as r')).rows[0].r).toBe(true);
    } finally {
      await primary.end();
      await replica.end();
    }
  });

  it('creates a month partition idempotently and moves rows out of the default partition', async () => {
    const db = new Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      await db.query('begin');
      // A bar far in the future lands in the default partition...
      await db.query(`insert into data_ingestion.market_data (symbol, "timestamp", open, high, low, close, volume)
                      values ('PARTTEST', '2091-05-10T12:00:00Z', 1, 2, 0.5, 1.5, 10)`);
      const before = await db.query(`select tableoid::regclass::text as part from data_ingestion.market_data where symbol = 'PARTTEST'`);
      expect(before.rows[0].part).toBe('data_ingestion.market_data_default');
      // ...and moves into its own partition once that is created; creating it twice is a no-op.
      const name = await db.query(`select data_ingestion.create_market_data_partition('2091-05-01') as p`);
      expect(name.rows[0].p).toBe('market_data_2091_05');
      await db.query(`select data_ingestion.create_market_data_partition('2091-05-20')`);
      const after = await db.query(`select tableoid::regclass::text as part, volume from data_ingestion.market_data where symbol = 'PARTTEST'`);
      expect(after.rows).toEqual([{ part: 'data_ingestion.market_data_2091_05', volume: '10' }]);
      await db.query('rollback');
    } finally {
      await db.end();
    }
  });
});
