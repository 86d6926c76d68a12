import { defineEntity, type InferEntity } from '@mikro-orm/core';

export const AccountEntity = defineEntity({
  name: 'Account',
  tableName: 'accounts',
  schema: 'execution',
  properties: (p) => ({
    accountId: p.string().primary().length(64),
    name: p.string().length(200),
    createdAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()),
  }),
});
export type Account = InferEntity<typeof AccountEntity>;
