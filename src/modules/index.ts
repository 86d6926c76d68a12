/**
 * The module layer's composition: one set of services per process, one set of DataLoaders and one read session per
 * request, and the resolvers of every module.
 */
import DataLoader from 'dataloader';
import type { Scope } from '../platform/scope';
import type { EventHub } from '../platform/event-hub';
import type { Principal } from './accounts/api-keys';
import { AccountsService, type AccountRow } from './accounts/accounts.service';
import { AnalyticsService } from './analytics/analytics.service';
import { MarketDataService } from './market-data/market-data.service';
import { OrdersService } from './orders/orders.service';
import type { OrderRow, TradeRow } from './orders/orders.repository';
import type { OrderStatus } from './orders/order-lifecycle';
import type { Connection } from '../platform/pagination';
import { PositionsService } from './positions/positions.service';
import type { PositionRow } from './positions/positions.repository';
import { PreloadingLoader } from './preloading-loader';

export interface Services {
  accounts: AccountsService;
  analytics: AnalyticsService;
  marketData: MarketDataService;
  orders: OrdersService;
  positions: PositionsService;
}

export function createServices(): Services {
  const marketData = new MarketDataService();
  const positions = new PositionsService(marketData);
  return { accounts: new AccountsService(), analytics: new AnalyticsService(), marketData, positions, orders: new OrdersService(positions) };
}

export interface AccountOrdersArgs {
  first?: number | null;
  after?: string | null;
  status?: OrderStatus[] | null;
}

/** One batch per field per request: N parents cost one statement, whatever N. */
export interface Loaders {
  /** loaded ahead for a page of orders that selects them (Query.orders) */
  account: PreloadingLoader<string, AccountRow | null>;
  order: DataLoader<string, OrderRow | null>;
  tradesOfOrder: PreloadingLoader<string, TradeRow[]>;
  positionsOfAccount: DataLoader<string, PositionRow[]>;
  latestClose: DataLoader<string, string | null>;
  ordersOfAccount(args: AccountOrdersArgs): DataLoader<string, Connection<OrderRow>>;
}

/**
 * `cache: false` for subscriptions: their context lives as long as the subscription, and a cached row would go
 * stale; batching within one event still applies. Each loader is made on first use: most requests need none or one.
 */
export function createLoaders(scope: Scope, s: Services, options: { cache?: boolean } = {}): Loaders {
  const cache = options.cache ?? true;
  const byArgs = new Map<string, DataLoader<string, Connection<OrderRow>>>();
  let account: Loaders['account'] | undefined;
  let order: Loaders['order'] | undefined;
  let tradesOfOrder: Loaders['tradesOfOrder'] | undefined;
  let positionsOfAccount: Loaders['positionsOfAccount'] | undefined;
  let latestClose: Loaders['latestClose'] | undefined;
  return {
    get account() {
      return (account ??= new PreloadingLoader(async (ids) => {
        const found = await s.accounts.byIds(scope, ids);
        return ids.map((id) => found.get(id) ?? null);
      }, { cache }));
    },
    get order() {
      return (order ??= new DataLoader(async (ids) => {
        const found = await s.orders.ordersByIds(scope, ids);
        return ids.map((id) => found.get(id) ?? null);
      }, { cache }));
    },
    get tradesOfOrder() {
      return (tradesOfOrder ??= new PreloadingLoader(async (ids) => {
        const found = await s.orders.tradesOfOrders(scope, ids);
        return ids.map((id) => found.get(id) ?? []);
      }, { cache }));
    },
    get positionsOfAccount() {
      return (positionsOfAccount ??= new DataLoader(async (ids) => {
        const found = await s.positions.positionsOfAccounts(scope, ids);
        return ids.map((id) => found.get(id) ?? []);
      }, { cache }));
    },
    get latestClose() {
      return (latestClose ??= new DataLoader(async (symbols) => {
        const found = await s.marketData.latestCloses(scope, symbols);
        return symbols.map((sym) => found.get(sym) ?? null);
      }, { cache }));
    },
    // Account.orders takes arguments: accounts asking with the same arguments share one batch.
    ordersOfAccount(args) {
      const key = JSON.stringify([args.first ?? null, args.after ?? null, args.status ?? null]);
      let loader = byArgs.get(key);
      if (!loader) {
        loader = new DataLoader(async (ids) => {
          const found = await s.orders.ordersOfAccounts(scope, ids, args);
          return ids.map((id) => found.get(id)!);
        }, { cache });
        byArgs.set(key, loader);
      }
      return loader;
    },
  };
}

/** What every resolver receives. */
export interface RequestContext {
  scope: Scope;
  services: Services;
  loaders: Loaders;
  hub: EventHub;
  requestId: string;
  /** the API key's holder: every request has one (src/server/access-policy.ts decides what it may do) */
  principal: Principal;
}
