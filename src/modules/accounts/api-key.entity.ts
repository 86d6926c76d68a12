import { defineEntity, type InferEntity } from '@mikro-orm/core';

/** An API key: only the SHA-256 of the key is stored (see api-keys.ts); `prefix` identifies it in listings. */
export const ApiKeyEntity = defineEntity({
  name: 'ApiKey',
  tableName: 'api_keys',
  schema: 'execution',
  properties: (p) => ({
    keyId: p.uuid().primary(),
    name: p.string().length(100),
    role: p.string().length(16),
    keyHash: p.character().length(64).unique(),
    prefix: p.string().length(12),
    accountIds: p.array().defaultRaw(`'{}'`),
    createdAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()),
    lastUsedAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
  }),
});
export type ApiKey = InferEntity<typeof ApiKeyEntity>;
