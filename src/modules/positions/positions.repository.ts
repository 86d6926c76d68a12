/** Position SQL for reads. */
import type { ReadSession } from '../../platform/read-session';
import { toPgArray } from '../../platform/pg-array';

export interface PositionRow {
  accountId: string;
  symbol: string;
  quantity: string;
  averagePrice: string;
  realizedPnl: string;
  version: number;
  lastUpdated: string | Date;
}

/** A position row as a fill finds it, locked. */
export type LockedPosition = Pick<PositionRow, 'quantity' | 'averagePrice' | 'realizedPnl' | 'version'>;

export class PositionsRepository {
  /** Positions of several accounts in one statement, grouped by account, by symbol. */
  async positionsOfAccounts(reads: ReadSession, accountIds: readonly string[]): Promise<Map<string, PositionRow[]>> {
    const rows = await reads.all<PositionRow>(
      `select account_id as "accountId", symbol, quantity, average_price as "averagePrice", realized_pnl as "realizedPnl",
              version, last_updated as "lastUpdated"
       from execution.positions where account_id = any(?::text[]) order by account_id, symbol`,
      [toPgArray(accountIds)],
    );
    const byAccount = new Map<string, PositionRow[]>();
    for (const row of rows) {
      const list = byAccount.get(row.accountId) ?? [];
      list.push(row);
      byAccount.set(row.accountId, list);
    }
    return byAccount;
  }
}
