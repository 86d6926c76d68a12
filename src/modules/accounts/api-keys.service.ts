/**
 * API keys in the database: create (the key is returned once and stored only as its hash), list (no secrets),
 * revoke, and authenticate an Authorization header into a Principal.
 *
 * Authentication reads the key on the PRIMARY on every call, with no cache: a revocation takes effect at the next
 * request, on every gateway, and the cost is one primary-key-sized index lookup (the unique index on key_hash). A
 * replica could serve a just-revoked key for as long as it lags, so it is never used here.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { Database } from '../../platform/database';
import type { Logger } from '../../platform/logger';
import { AppError, ValidationError } from '../../platform/errors';
import { inTransaction } from '../../platform/transaction';
import { writeAudit } from '../../platform/audit';
import { toIsoUtc } from '../../platform/time';
import { toPgArray } from '../../platform/pg-array';
import { ApiKeyEntity } from './api-key.entity';
import { validateAccountId } from './account-rules';
import { displayPrefix, generateKey, hashKey, isRole, parseBearer, ROLES, type Principal, type Role } from './api-keys';

export interface ApiKeyInfo {
  keyId: string;
  name: string;
  role: Role;
  /** the first characters after `tq_` */
  prefix: string;
  accountIds: string[];
  /** ISO 8601 UTC */
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface NewApiKey extends ApiKeyInfo {
  /** the key itself: shown once, never stored */
  key: string;
}

export interface NewApiKeyInput {
  role: string;
  accountIds?: readonly string[];
  name?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Checks the input; a viewer or trader key needs at least one account, an admin key covers every account anyway. */
export function validateNewApiKey(input: NewApiKeyInput): { role: Role; accountIds: string[]; name: string } {
  if (!isRole(input.role)) throw ValidationError.field('role', `must be one of ${ROLES.join(', ')}`);
  const accountIds = [...new Set(input.accountIds ?? [])];
  for (const id of accountIds) validateAccountId(id, 'accountIds');
  if (input.role !== 'admin' && accountIds.length === 0) {
    throw ValidationError.field('accountIds', `a ${input.role} key needs at least one account`);
  }
  const name = (input.name ?? `${input.role} key`).trim();
  if (name.length < 1 || name.length > 100) throw ValidationError.field('name', 'must be 1-100 characters');
  return { role: input.role, accountIds, name };
}

/** Creates a key for existing accounts (checked and share-locked in the same transaction as the insert). */
export async function create(db: Database, input: NewApiKeyInput): Promise<NewApiKey> {
  const data = validateNewApiKey(input);
  const key = generateKey();
  return inTransaction(db.em(), async (tx) => {
    if (data.accountIds.length) {
      const found = await tx.execute<{ accountId: string }[]>(
        `select account_id as "accountId" from execution.accounts where account_id = any(?::text[]) for share`,
        [toPgArray(data.accountIds)],
        'all',
      );
      const known = new Set(found.map((r) => r.accountId));
      const missing = data.accountIds.filter((id) => !known.has(id));
      if (missing.length) {
        throw new AppError('NOT_FOUND', `unknown account${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`, { accountIds: missing });
      }
    }
    const entity = tx.create(ApiKeyEntity, {
      keyId: randomUUID(),
      name: data.name,
      role: data.role,
      keyHash: hashKey(key),
      prefix: displayPrefix(key),
      accountIds: data.accountIds,
      createdAt: new Date(),
      lastUsedAt: null,
      revokedAt: null,
    });
    await tx.flush();
    // An operator's action on the command line: audited as the system's (no key acted).
    await writeAudit(tx, undefined, {
      operation: 'apikey create', table: 'execution.api_keys', recordIds: [entity.keyId], result: 'ok', details: { role: data.role, accountIds: data.accountIds, name: data.name },
    });
    return {
      key,
      keyId: entity.keyId,
      name: entity.name,
      role: data.role,
      prefix: entity.prefix,
      accountIds: [...data.accountIds],
      createdAt: toIsoUtc(entity.createdAt) as string,
      lastUsedAt: null,
      revokedAt: null,
    };
  });
}

/** Every key, oldest first: never the key or its hash. */
export async function list(db: Database): Promise<ApiKeyInfo[]> {
  const rows = await db.read<ApiKeyInfo>(
    `select key_id as "keyId", name, role, prefix, account_ids as "accountIds", created_at as "createdAt",
            last_used_at as "lastUsedAt", revoked_at as "revokedAt"
     from execution.api_keys order by created_at, key_id`,
    [],
    'primary',
  );
  return rows.map((r) => ({ ...r, createdAt: toIsoUtc(r.createdAt) as string, lastUsedAt: toIsoUtc(r.lastUsedAt), revokedAt: toIsoUtc(r.revokedAt) }));
}

/** Revokes a key; revoking it again changes nothing and is not an error. */
export async function revoke(db: Database, keyId: string): Promise<{ keyId: string; revokedAt: string; alreadyRevoked: boolean }> {
  if (!UUID.test(keyId)) throw ValidationError.field('keyId', 'must be a UUID');
  const em = db.em();
  const updated = await inTransaction(em, async (tx) => {
    const [row] = await tx.execute<{ revokedAt: unknown }[]>(
      `update execution.api_keys set revoked_at = now() where key_id = ? and revoked_at is null returning revoked_at as "revokedAt"`,
      [keyId],
      'all',
    );
    if (row) await writeAudit(tx, undefined, { operation: 'apikey revoke', table: 'execution.api_keys', recordIds: [keyId], result: 'ok' });
    return row;
  });
  if (updated) return { keyId, revokedAt: toIsoUtc(updated.revokedAt) as string, alreadyRevoked: false };
  const [existing] = await em.execute<{ revokedAt: unknown }[]>(
    `select revoked_at as "revokedAt" from execution.api_keys where key_id = ?`,
    [keyId],
    'all',
  );
  if (!existing) throw new AppError('NOT_FOUND', `API key ${keyId} not found`, { id: keyId });
  return { keyId, revokedAt: toIsoUtc(existing.revokedAt) as string, alreadyRevoked: true };
}

/** Which of these keys are still valid (not revoked), read on the primary like authentication: one statement. */
export async function validKeyIds(db: Database, keyIds: readonly string[]): Promise<Set<string>> {
  if (keyIds.length === 0) return new Set();
  const rows = await db.read<{ keyId: string }>(
    `select key_id as "keyId" from execution.api_keys where key_id = any(?::uuid[]) and revoked_at is null`,
    [toPgArray(keyIds)],
    'primary',
  );
  return new Set(rows.map((r) => r.keyId));
}

/** One message for an unknown and a revoked key, so a caller cannot tell which. */
export const INVALID_KEY_MESSAGE = 'invalid API key';

/** last_used_at is written at most once a minute per key (the UPDATE's condition), and never awaited. */
const TOUCH_INTERVAL_MS = 60_000;
/** keyId → when this process last wrote last_used_at: spares a burst of requests from each sending the UPDATE */
const touched = new Map<string, number>();
const TOUCHED_MAX = 10_000;

function touch(db: Database, keyId: string, log?: Logger): void {
  const now = Date.now();
  const last = touched.get(keyId);
  if (last !== undefined && now - last < TOUCH_INTERVAL_MS) return;
  touched.delete(keyId);
  touched.set(keyId, now);
  // Bounded: the oldest entries go first (a Map iterates in insertion order).
  while (touched.size > TOUCHED_MAX) touched.delete(touched.keys().next().value as string);
  db.em()
    .execute(
      `update execution.api_keys set last_used_at = now()
       where key_id = ? and (last_used_at is null or last_used_at <= now() - interval '1 minute')`,
      [keyId],
      'run',
    )
    .catch((error: unknown) => {
      touched.delete(keyId);
      log?.warn({ err: { message: (error as Error).message }, keyId }, 'could not record API key use');
    });
}

/**
 * The principal of an `Authorization: Bearer tq_…` header. Throws AppError UNAUTHENTICATED when the header is
 * missing or malformed, or the key is unknown or revoked (those two with the same message).
 */
export async function authenticate(db: Database, authorization: string | null | undefined, options: { log?: Logger } = {}): Promise<Principal> {
  if (typeof authorization !== 'string' || authorization.trim() === '') {
    throw new AppError('UNAUTHENTICATED', 'authentication required: send Authorization: Bearer <API key>');
  }
  const key = parseBearer(authorization);
  if (!key) throw new AppError('UNAUTHENTICATED', 'malformed Authorization header: expected Bearer <API key>');
  const hash = hashKey(key);
  const [row] = await db.read<{ keyId: string; name: string; role: Role; keyHash: string; accountIds: string[]; recentlyUsed: boolean | null }>(
    `select key_id as "keyId", name, role, key_hash as "keyHash", account_ids as "accountIds",
            last_used_at > now() - interval '1 minute' as "recentlyUsed"
     from execution.api_keys where key_hash = ? and revoked_at is null`,
    [hash],
    'primary',
  );
  const expected = Buffer.from(hash, 'hex');
  const stored = Buffer.from(row?.keyHash ?? '', 'hex');
  // The index found the row by hash; the constant-time comparison is the check that counts.
  if (!row || stored.length !== expected.length || !timingSafeEqual(stored, expected)) {
    throw new AppError('UNAUTHENTICATED', INVALID_KEY_MESSAGE);
  }
  if (!row.recentlyUsed) touch(db, row.keyId, options.log);
  return { keyId: row.keyId, name: row.name, role: row.role, accountIds: new Set(row.accountIds) };
}
