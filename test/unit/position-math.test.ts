import { ValidationError } from '../../src/platform/errors';
import { FLAT, type PositionState, applyFill, markToMarket } from '../../src/modules/positions/position-math';

const pos = (quantity: string, averagePrice: string, realizedPnl = '0'): PositionState => ({ quantity, averagePrice, realizedPnl });
const buy = (quantity: string, price: string) => ({ side: 'BUY' as const, quantity, price });
const sell = (quantity: string, price: string) => ({ side: 'SELL' as const, quantity, price });

describe('applyFill: opening and adding', () => {
  it('opens a long from flat', () => {
    expect(applyFill(FLAT, buy('10', '100.00000000'))).toEqual({ quantity: '10', averagePrice: '100', realizedPnl: '0', realizedDelta: '0' });
  });

  it('opens a short from flat', () => {
    expect(applyFill(FLAT, sell('2.5', '40.1'))).toEqual({ quantity: '-2.5', averagePrice: '40.1', realizedPnl: '0', realizedDelta: '0' });
  });

  it('adds to a long at the cost-weighted average', () => {
    // (10 * 100 + 5 * 103) / 15 = 1515 / 15 = 101
    expect(applyFill(pos('10', '100', '7'), buy('5', '103'))).toEqual({ quantity: '15', averagePrice: '101', realizedPnl: '7', realizedDelta: '0' });
  });

  it('adds to a short at the cost-weighted average', () => {
    // (10 * 50 + 10 * 52) / 20 = 51
    expect(applyFill(pos('-10', '50'), sell('10', '52'))).toMatchObject({ quantity: '-20', averagePrice: '51' });
  });

  it('rounds a repeating average to 8 places', () => {
    // (2 * 10 + 1 * 11) / 3 = 10.333333333... -> 10.33333333; (1 * 10 + 2 * 11) / 3 = 10.6666... -> 10.66666667
    expect(applyFill(pos('2', '10'), buy('1', '11')).averagePrice).toBe('10.33333333');
    expect(applyFill(pos('1', '10'), buy('2', '11')).averagePrice).toBe('10.66666667');
  });

  it('rounds a tie half-even', () => {
    // 2.00000003 / 2 = 1.000000015 -> 1.00000002 (up to even); 2.00000005 / 2 = 1.000000025 -> 1.00000002 (stays even)
    expect(applyFill(pos('1', '1.00000001'), buy('1', '1.00000002')).averagePrice).toBe('1.00000002');
    expect(applyFill(pos('1', '1.00000002'), buy('1', '1.00000003')).averagePrice).toBe('1.00000002');
  });
});

describe('applyFill: reducing', () => {
  it('realizes a gain on a partial close of a long above average', () => {
    // 4 * (110 - 100) = 40
    expect(applyFill(pos('10', '100', '1.5'), sell('4', '110'))).toEqual({ quantity: '6', averagePrice: '100', realizedPnl: '41.5', realizedDelta: '40' });
  });

  it('realizes a loss on a partial close of a long below average', () => {
    // 4 * (95 - 100) = -20
    expect(applyFill(pos('10', '100'), sell('4', '95'))).toEqual({ quantity: '6', averagePrice: '100', realizedPnl: '-20', realizedDelta: '-20' });
  });

  it('treats a short covering below average as a gain', () => {
    // 4 * (48 - 50) * -1 = 8
    expect(applyFill(pos('-10', '50'), buy('4', '48'))).toEqual({ quantity: '-6', averagePrice: '50', realizedPnl: '8', realizedDelta: '8' });
  });

  it('treats a short covering above average as a loss', () => {
    // 3 * (51.5 - 50) * -1 = -4.5
    expect(applyFill(pos('-10', '50', '10'), buy('3', '51.5'))).toEqual({ quantity: '-7', averagePrice: '50', realizedPnl: '5.5', realizedDelta: '-4.5' });
  });

  it('resets the average to 0 on an exact close', () => {
    expect(applyFill(pos('10', '101'), sell('10', '100'))).toEqual({ quantity: '0', averagePrice: '0', realizedPnl: '-10', realizedDelta: '-10' });
    expect(applyFill(pos('-3', '20'), buy('3.00000000', '18'))).toEqual({ quantity: '0', averagePrice: '0', realizedPnl: '6', realizedDelta: '6' });
  });

  it('rounds the realized delta half-even to 8 places', () => {
    // 0.5 * 0.00000001 = 0.000000005 -> 0 (even); 0.5 * 0.00000003 = 0.000000015 -> 0.00000002
    expect(applyFill(pos('1', '1.00000001'), sell('0.5', '1.00000002')).realizedDelta).toBe('0');
    expect(applyFill(pos('1', '1.00000001'), sell('0.5', '1.00000004')).realizedDelta).toBe('0.00000002');
    // 0.5 * -0.00000003 = -0.000000015 -> -0.00000002
    expect(applyFill(pos('1', '1.00000004'), sell('0.5', '1.00000001')).realizedDelta).toBe('-0.00000002');
  });
});

describe('applyFill: crossing zero', () => {
  it('flips long to short: realizes the closed part, opens the rest at the fill price', () => {
    // closes 10: 10 * (104 - 100) = 40; opens 5 short at 104
    expect(applyFill(pos('10', '100', '5'), sell('15', '104'))).toEqual({ quantity: '-5', averagePrice: '104', realizedPnl: '45', realizedDelta: '40' });
  });

  it('flips short to long: realizes the closed part, opens the rest at the fill price', () => {
    // closes 10: 10 * (45 - 50) * -1 = 50; opens 2 long at 45
    expect(applyFill(pos('-10', '50'), buy('12', '45'))).toEqual({ quantity: '2', averagePrice: '45', realizedPnl: '50', realizedDelta: '50' });
  });

  it('flips at a loss', () => {
    // closes 1.5: 1.5 * (99.9 - 100.1) = -0.3; opens 0.25 short at 99.9
    expect(applyFill(pos('1.5', '100.1'), sell('1.75', '99.9'))).toEqual({ quantity: '-0.25', averagePrice: '99.9', realizedPnl: '-0.3', realizedDelta: '-0.3' });
  });
});

describe('applyFill: extremes', () => {
  it('handles the smallest quantities exactly', () => {
    const opened = applyFill(FLAT, buy('0.00000001', '0.00000001'));
    expect(opened).toEqual({ quantity: '0.00000001', averagePrice: '0.00000001', realizedPnl: '0', realizedDelta: '0' });
    // 0.00000001 * 0.00000002 = 2e-16 rounds to 0 at 8 places
    expect(applyFill(opened, sell('0.00000001', '0.00000003'))).toEqual({ quantity: '0', averagePrice: '0', realizedPnl: '0', realizedDelta: '0' });
    // (0.00000001 * 1 + 0.00000002 * 2) / 0.00000003 = 1.6666... -> 1.66666667
    expect(applyFill(pos('0.00000001', '1'), buy('0.00000002', '2'))).toMatchObject({ quantity: '0.00000003', averagePrice: '1.66666667' });
  });

  it('handles values near 12 integer digits without floating error', () => {
    const max = '999999999999.99999999';
    const opened = applyFill(FLAT, buy(max, max));
    expect(opened).toEqual({ quantity: max, averagePrice: max, realizedPnl: '0', realizedDelta: '0' });
    // (Q*Q + 1e-16) / (Q + 1e-8) with Q = 1e12 - 1e-8 is 1e12 - 2e-8 + 2e-28 -> 999999999999.99999998
    expect(applyFill(opened, buy('0.00000001', '0.00000001'))).toMatchObject({ quantity: '1000000000000', averagePrice: '999999999999.99999998' });
    // Q * -0.00000001 = -9999.9999999999999999 -> -10000
    expect(applyFill(opened, sell(max, '999999999999.99999998'))).toEqual({ quantity: '0', averagePrice: '0', realizedPnl: '-10000', realizedDelta: '-10000' });
    // a position may outgrow one order: 2Q at the same price keeps the average exactly
    expect(applyFill(opened, buy(max, max))).toMatchObject({ quantity: '1999999999999.99999998', averagePrice: max });
  });

  it('rejects bad fills with BAD_USER_INPUT', () => {
    expect(() => applyFill(FLAT, buy('0', '1'))).toThrow(ValidationError);
    expect(() => applyFill(FLAT, buy('1', '-1'))).toThrow(ValidationError);
    expect(() => applyFill(FLAT, buy('1e3', '1'))).toThrow(ValidationError);
    expect(() => applyFill(FLAT, { side: 'HOLD' as 'BUY', quantity: '1', price: '1' })).toThrow(ValidationError);
  });
});

describe('markToMarket', () => {
  it('values a long', () => {
    // 10 * 105.5 = 1055; (105.5 - 100) * 10 = 55
    expect(markToMarket(pos('10', '100'), '105.50000000')).toEqual({ marketValue: '1055', unrealizedPnl: '55' });
  });

  it('values a short with negative market value and a gain when the price falls', () => {
    // -10 * 95 = -950; (95 - 100) * -10 = 50
    expect(markToMarket(pos('-10', '100'), '95')).toEqual({ marketValue: '-950', unrealizedPnl: '50' });
    expect(markToMarket(pos('-10', '100'), '101')).toEqual({ marketValue: '-1010', unrealizedPnl: '-10' });
  });

  it('returns nulls without a price', () => {
    expect(markToMarket(pos('10', '100'), null)).toEqual({ marketValue: null, unrealizedPnl: null });
  });

  it('values a flat position at zero', () => {
    expect(markToMarket(FLAT, '123.45')).toEqual({ marketValue: '0', unrealizedPnl: '0' });
  });

  it('rounds half-even to 8 places', () => {
    // 0.5 * 0.00000003 = 0.000000015 -> 0.00000002; (0.00000003 - 0.00000002) * 0.5 = 0.000000005 -> 0
    expect(markToMarket(pos('0.5', '0.00000002'), '0.00000003')).toEqual({ marketValue: '0.00000002', unrealizedPnl: '0' });
  });

  it('is exact for large values', () => {
    const max = '999999999999.99999999';
    // Q^2 = 1e24 - 2e4 + 1e-16; (Q - 1e-8) * Q = 1e24 - 3e4 + 2e-16; both round to whole numbers
    expect(markToMarket(pos(max, '0.00000001'), max)).toEqual({
      marketValue: '999999999999999999980000',
      unrealizedPnl: '999999999999999999970000',
    });
  });
});
