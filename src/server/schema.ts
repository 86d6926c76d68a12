/** The executable schema: schema.graphql (the contract) + the scalars + every module's resolvers. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { checkoutRoot } from '../platform/checkout-root';
import { accountsResolvers } from '../modules/accounts/accounts.resolvers';
import { analyticsResolvers } from '../modules/analytics/analytics.resolvers';
import { marketDataResolvers } from '../modules/market-data/market-data.resolvers';
import { opsResolvers } from '../modules/ops/ops.resolvers';
import { ordersResolvers } from '../modules/orders/orders.resolvers';
import { positionsResolvers } from '../modules/positions/positions.resolvers';
import { subscriptionResolvers } from '../modules/subscriptions.resolvers';
import { DateScalar, DateTimeScalar, DecimalScalar } from './scalars';

/** At the checkout's root, whether this runs from src/ (tsx) or from the build in dist/src/. */
export const SCHEMA_PATH = path.join(checkoutRoot(), 'schema.graphql');

export function loadTypeDefs(): string {
  return readFileSync(SCHEMA_PATH, 'utf8');
}

type ResolverMap = Record<string, Record<string, unknown>>;

function merge(...maps: ResolverMap[]): ResolverMap {
  const out: ResolverMap = {};
  for (const map of maps) {
    for (const [type, fields] of Object.entries(map)) out[type] = { ...(out[type] ?? {}), ...fields };
  }
  return out;
}

export function buildResolvers() {
  return {
    Decimal: DecimalScalar,
    DateTime: DateTimeScalar,
    Date: DateScalar,
    ...merge(accountsResolvers, analyticsResolvers, marketDataResolvers, opsResolvers, ordersResolvers, positionsResolvers, subscriptionResolvers),
  };
}
