/** API keys for gateways a test runs as separate processes: written straight into that gateway's database. */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { displayPrefix, generateKey, hashKey, type Role } from '../../src/modules/accounts/api-keys';

/** A new key of `role` for `accountIds` (which must exist) in the database at `databaseUrl`; returns the key. */
export async function createKeyIn(databaseUrl: string, role: Role = 'admin', accountIds: string[] = []): Promise<string> {
  const key = generateKey();
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(
      `insert into execution.api_keys (key_id, name, role, key_hash, prefix, account_ids) values ($1, $2, $3, $4, $5, $6)`,
      [randomUUID(), `test ${role}`, role, hashKey(key), displayPrefix(key), accountIds],
    );
  } finally {
    await client.end();
  }
  return key;
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
