import { defineEntity, type InferEntity } from '@mikro-orm/core';

/** A fill of an order. trade_id is an identity: fills of one order get increasing ids in the order they were applied. */
export const TradeEntity = defineEntity({
  name: 'Trade',
  tableName: 'trades',
  schema: 'execution',
  properties: (p) => ({
    tradeId: p.bigint('string').primary().autoincrement(),
    orderId: p.uuid(),
    accountId: p.string().length(64),
    symbol: p.string().length(20),
    side: p.string().length(4),
    quantity: p.decimal().precision(20).scale(8),
    price: p.decimal().precision(20).scale(8),
    executedAt: p.datetime(),
    strategy: p.string().length(64).nullable(),
    createdAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()),
  }),
});
export type Trade = InferEntity<typeof TradeEntity>;
