import { AnalyticsFold, foldTrades, isWin, positionValue, utcDate, winRate, type TradeRecord } from '../../src/modules/analytics/rebuild';

let id = 0;
const fill = (accountId: string, symbol: string, side: 'BUY' | 'SELL', quantity: string, price: string, executedAt: string, strategy: string | null = 's1'): TradeRecord =>
  ({ tradeId: String(++id), accountId, symbol, side, quantity, price, executedAt, strategy });

describe('analytics helpers', () => {
  it('values a position at its fill price, rounded half-even to 8 places', () => {
    expect(positionValue('10', '100')).toBe('1000');
    expect(positionValue('-2.5', '40.1')).toBe('-100.25');
    expect(positionValue('0', '55.5')).toBe('0');
    // 0.00000001 * 1.5 = 0.000000015 -> 0.00000002 (to even); 0.00000001 * 2.5 = 0.000000025 -> 0.00000002
    expect(positionValue('0.00000001', '1.5')).toBe('0.00000002');
    expect(positionValue('0.00000001', '2.5')).toBe('0.00000002');
  });

  it('takes the UTC day of a fill, from ISO text or a Date', () => {
    expect(utcDate('2026-11-20T23:59:59.999Z')).toBe('2026-11-20');
    expect(utcDate('2026-11-21T01:00:00+02:00')).toBe('2026-11-20');
    expect(utcDate(new Date(Date.UTC(2026, 0, 1)))).toBe('2026-01-01');
    expect(() => utcDate(null)).toThrow(/not a time/);
  });

  it('rounds the win rate to 4 places half away from zero, as numeric(7,4) does', () => {
    expect(winRate(1, 3)).toBe('0.3333');
    expect(winRate(2, 3)).toBe('0.6667');
    expect(winRate(1, 32)).toBe('0.0313'); // 0.03125
    expect(winRate(3, 3)).toBe('1');
    expect(winRate(0, 5)).toBe('0');
    expect(winRate(0, 0)).toBe('0');
  });

  it('counts only a positive realized PnL as a win', () => {
    expect(isWin('0.00000001')).toBe(true);
    expect(isWin('0')).toBe(false);
    expect(isWin('-40')).toBe(false);
  });
});

describe('AnalyticsFold', () => {
  it('replays each position through average-cost math and counts strategy fills per UTC day', () => {
    const fold = foldTrades([
      fill('A', 'AAPL', 'BUY', '10', '100', '2026-11-20T10:00:00Z'),
      fill('B', 'AAPL', 'SELL', '3', '20', '2026-11-20T10:00:00Z', 's2'),
      fill('A', 'AAPL', 'SELL', '4', '90', '2026-11-20T11:00:00Z'), // closes 4 at -10: -40, a loss
      fill('A', 'AAPL', 'SELL', '8', '110', '2026-11-20T12:00:00Z'), // closes 6 at +10: +60, opens a 2 short at 110
      fill('A', 'MSFT', 'BUY', '2.5', '40.1', '2026-11-20T12:00:00Z', null), // no strategy: not in the metrics
      fill('A', 'AAPL', 'BUY', '2', '100', '2026-11-21T00:00:00Z'), // covers the short at +20: a win, the next day
    ]);
    expect(fold.trades).toBe(6);
    const byKey = (rows: { accountId?: string; strategy?: string; symbol?: string; date?: string }[]) =>
      rows.sort((x, y) => `${x.accountId ?? x.strategy}${x.symbol ?? x.date}`.localeCompare(`${y.accountId ?? y.strategy}${y.symbol ?? y.date}`));
    expect(byKey(fold.summaries())).toEqual([
      { accountId: 'A', symbol: 'AAPL', quantity: '0', totalValue: '0', realizedPnl: '40' },
      { accountId: 'A', symbol: 'MSFT', quantity: '2.5', totalValue: '100.25', realizedPnl: '0' },
      { accountId: 'B', symbol: 'AAPL', quantity: '-3', totalValue: '-60', realizedPnl: '0' },
    ]);
    expect(byKey(fold.metricRows())).toEqual([
      { strategy: 's1', date: '2026-11-20', totalTrades: 3, winningTrades: 1, winRate: '0.3333' },
      { strategy: 's1', date: '2026-11-21', totalTrades: 1, winningTrades: 1, winRate: '1' },
      { strategy: 's2', date: '2026-11-20', totalTrades: 1, winningTrades: 0, winRate: '0' },
    ]);
  });

  it('is empty with no trades', () => {
    const fold = new AnalyticsFold();
    expect(fold.summaries()).toEqual([]);
    expect(fold.metricRows()).toEqual([]);
  });
});
