import { defineEntity, type InferEntity } from '@mikro-orm/core';

/** One row per account and symbol; signed quantity, average cost, realized PnL; `version` is the optimistic lock. */
export const PositionEntity = defineEntity({
  name: 'Position',
  tableName: 'positions',
  schema: 'execution',
  properties: (p) => ({
    accountId: p.string().primary().length(64),
    symbol: p.string().primary().length(20),
    quantity: p.decimal().precision(28).scale(8).default('0'),
    averagePrice: p.decimal().precision(20).scale(8).default('0'),
    realizedPnl: p.decimal().precision(32).scale(8).default('0'),
    version: p.integer().version(),
    lastUpdated: p.datetime().defaultRaw('now()').onCreate(() => new Date()).onUpdate(() => new Date()),
  }),
});
export type Position = InferEntity<typeof PositionEntity>;
