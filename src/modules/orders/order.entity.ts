import { defineEntity, type InferEntity } from '@mikro-orm/core';

/** An order; `version` is the optimistic lock: every update is `... where version = <read version>`. */
export const OrderEntity = defineEntity({
  name: 'Order',
  tableName: 'orders',
  schema: 'execution',
  properties: (p) => ({
    orderId: p.uuid().primary(),
    clientOrderId: p.string().length(64),
    accountId: p.string().length(64),
    symbol: p.string().length(20),
    side: p.string().length(4),
    type: p.string().length(10),
    timeInForce: p.string().length(3),
    quantity: p.decimal().precision(20).scale(8),
    limitPrice: p.decimal().precision(20).scale(8).nullable(),
    stopPrice: p.decimal().precision(20).scale(8).nullable(),
    filledQuantity: p.decimal().precision(20).scale(8).default('0'),
    filledNotional: p.decimal().precision(40).scale(16).default('0'),
    averageFillPrice: p.decimal().precision(20).scale(8).nullable(),
    status: p.string().length(16).default('NEW'),
    strategy: p.string().length(64).nullable(),
    version: p.integer().version(),
    createdAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()),
    updatedAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()).onUpdate(() => new Date()),
  }),
});
export type Order = InferEntity<typeof OrderEntity>;
