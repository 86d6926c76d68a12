/** Positions: reads for GraphQL, and what a fill does to a position (the fill's transaction locks and writes it). */
import type { Scope } from '../../platform/scope';
import { decimalText, Decimal } from '../../platform/decimal';
import { applyFill, markToMarket, type PositionFill } from './position-math';
import { PositionsRepository, type LockedPosition, type PositionRow } from './positions.repository';
import type { MarketDataService } from '../market-data/market-data.service';
import { validateAccountId } from '../accounts/account-rules';

export interface PortfolioLine {
  symbol: string;
  quantity: string;
  averagePrice: string;
  lastPrice: string | null;
  marketValue: string | null;
  unrealizedPnl: string | null;
  realizedPnl: string;
}

export class PositionsService {
  constructor(private readonly marketData: MarketDataService, private readonly repo = new PositionsRepository()) {}

  async positionsOf(scope: Scope, accountId: string): Promise<PositionRow[]> {
    validateAccountId(accountId);
    return (await this.repo.positionsOfAccounts(scope.reads, [accountId])).get(accountId) ?? [];
  }

  positionsOfAccounts(scope: Scope, accountIds: readonly string[]): Promise<Map<string, PositionRow[]>> {
    return this.repo.positionsOfAccounts(scope.reads, accountIds);
  }

  /**
   * A fill's effect on the account's position, from the row the caller has locked: the row as it will be stored,
   * with the version the update gives it. The fill locks the row (SELECT ... FOR UPDATE) rather than checking a
   * version: a hot position takes many fills a second, and optimistic retries would make them all contend; the lock
   * queues them. Callers lock the order first, then the position, always in that order, so fills cannot deadlock.
   */
  applyFill(accountId: string, symbol: string, locked: LockedPosition, fill: PositionFill, at: Date): PositionRow & { realizedDelta: string } {
    const next = applyFill(locked, fill);
    return { accountId, symbol, ...next, version: locked.version + 1, lastUpdated: at };
  }

  /** Per-symbol valuation at the latest bar's close, with totals (lines without a price count as 0). */
  async portfolio(scope: Scope, accountId: string) {
    const positions = await this.positionsOf(scope, accountId);
    const closes = positions.length ? await this.marketData.latestCloses(scope, positions.map((p) => p.symbol)) : new Map<string, string>();
    let totalMarketValue = new Decimal(0);
    let totalUnrealizedPnl = new Decimal(0);
    let totalRealizedPnl = new Decimal(0);
    const lines: PortfolioLine[] = positions.map((p) => {
      const lastPrice = closes.get(p.symbol) ?? null;
      const mtm = markToMarket(p, lastPrice);
      totalMarketValue = totalMarketValue.plus(mtm.marketValue ?? 0);
      totalUnrealizedPnl = totalUnrealizedPnl.plus(mtm.unrealizedPnl ?? 0);
      totalRealizedPnl = totalRealizedPnl.plus(p.realizedPnl);
      return { symbol: p.symbol, quantity: p.quantity, averagePrice: p.averagePrice, lastPrice, ...mtm, realizedPnl: p.realizedPnl };
    });
    return {
      accountId,
      positions: lines,
      totalMarketValue: decimalText(totalMarketValue),
      totalUnrealizedPnl: decimalText(totalUnrealizedPnl),
      totalRealizedPnl: decimalText(totalRealizedPnl),
      asOf: new Date(),
    };
  }
}
