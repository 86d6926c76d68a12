/** Starts a real gateway in this test process, on a free port, against this run's database and replica. */
import { loadConfig } from '../../src/config';
import { openDatabase, type Runtime } from '../../src/app';
import { createGateway, type Gateway } from '../../src/server/gateway';
import { createLogger } from '../../src/platform/logger';
import { testDatabase } from './env';

export interface TestGateway {
  url: string;
  runtime: Runtime;
  gql<T = any>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GqlResult<T>>;
  stop(): Promise<void>;
}

export interface GqlResult<T> {
  status: number;
  data?: T;
  errors?: { message: string; extensions?: Record<string, any>; path?: (string | number)[] }[];
  extensions?: Record<string, any>;
}

export async function startTestGateway(env: Record<string, string> = {}): Promise<TestGateway> {
  const { databaseUrl, replicaUrl } = testDatabase();
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    DATABASE_REPLICA_URLS: replicaUrl,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DB_POOL_SIZE: '10',
    ...env,
  });
  const log = createLogger(config.LOG_LEVEL);
  const runtime = await openDatabase(config, log);
  const gateway: Gateway = await createGateway({ db: runtime.db, log });
  const { port } = await gateway.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}/graphql`;
  return {
    url,
    runtime,
    async gql(query, variables, headers) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(headers ?? {}) },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as GqlResult<any>;
      return { ...body, status: res.status };
    },
    async stop() {
      await gateway.stop();
      await runtime.close();
    },
  };
}

/** A unique id for this test file's records, so files can share the database and run in parallel. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
