import { ValidationError } from '../../src/platform/errors';
import {
  type OrderState,
  type SubmitOrderInput,
  assertCancelable,
  isTerminal,
  orderSideSign,
  planAmend,
  planFill,
  samePayload,
  validateSubmitOrder,
  validateSymbol,
} from '../../src/modules/orders/order-lifecycle';

const base: SubmitOrderInput = {
  accountId: 'acct-1',
  clientOrderId: 'cl-0001',
  symbol: 'AAPL',
  side: 'BUY',
  type: 'LIMIT',
  quantity: '100.50000000',
  limitPrice: '187.2500',
};

/** Runs fn, asserts a BAD_USER_INPUT ValidationError, and returns it. */
function badInput(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).code).toBe('BAD_USER_INPUT');
    return err as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

const fieldsOf = (err: ValidationError) => err.problems.map((p) => p.field);

describe('validateSubmitOrder', () => {
  it('normalizes a valid order', () => {
    expect(validateSubmitOrder(base)).toEqual({
      accountId: 'acct-1',
      clientOrderId: 'cl-0001',
      symbol: 'AAPL',
      side: 'BUY',
      type: 'LIMIT',
      timeInForce: 'DAY',
      quantity: '100.5',
      limitPrice: '187.25',
      stopPrice: null,
      strategy: null,
    });
  });

  it('keeps explicit timeInForce, stop prices and strategy', () => {
    const order = validateSubmitOrder({
      ...base,
      symbol: 'BRK.B',
      side: 'SELL',
      type: 'STOP_LIMIT',
      timeInForce: 'GTC',
      quantity: '.5',
      limitPrice: '10.00',
      stopPrice: '10.10000000',
      strategy: 'momentum',
    });
    expect(order).toMatchObject({ side: 'SELL', timeInForce: 'GTC', quantity: '0.5', limitPrice: '10', stopPrice: '10.1', strategy: 'momentum' });
  });

  it('accepts MARKET without prices and STOP with a stop price only', () => {
    expect(validateSubmitOrder({ ...base, type: 'MARKET', limitPrice: null })).toMatchObject({ limitPrice: null, stopPrice: null });
    expect(validateSubmitOrder({ ...base, type: 'STOP', limitPrice: undefined, stopPrice: '5' })).toMatchObject({ stopPrice: '5', limitPrice: null });
  });

  it.each([
    ['accountId', { accountId: '' }],
    ['accountId', { accountId: 'a'.repeat(65) }],
    ['accountId', { accountId: 'acct 1' }],
    ['accountId', { accountId: 'acct/1' }],
    ['clientOrderId', { clientOrderId: '' }],
    ['clientOrderId', { clientOrderId: ' padded' }],
    ['clientOrderId', { clientOrderId: 'padded ' }],
    ['clientOrderId', { clientOrderId: 'x'.repeat(65) }],
    ['clientOrderId', { clientOrderId: 'caf\u00e9' }],
    ['clientOrderId', { clientOrderId: 'tab\there' }],
    ['symbol', { symbol: 'aapl' }],
    ['symbol', { symbol: '' }],
    ['symbol', { symbol: 'A'.repeat(21) }],
    ['symbol', { symbol: 'AA PL' }],
    ['side', { side: 'buy' }],
    ['side', { side: 'SHORT' }],
    ['type', { type: 'ICEBERG' }],
    ['timeInForce', { timeInForce: 'GTD' }],
    ['quantity', { quantity: '0' }],
    ['quantity', { quantity: '-1' }],
    ['quantity', { quantity: '1e5' }],
    ['quantity', { quantity: '1.123456789' }],
    ['quantity', { quantity: '1234567890123' }],
    ['quantity', { quantity: 'abc' }],
    ['limitPrice', { limitPrice: '0' }],
    ['limitPrice', { limitPrice: '1.000000001' }],
    ['limitPrice', { limitPrice: null }],
    ['strategy', { strategy: '' }],
    ['strategy', { strategy: 's'.repeat(65) }],
  ])('rejects a bad %s (%j)', (field, patch) => {
    const err = badInput(() => validateSubmitOrder({ ...base, ...patch } as SubmitOrderInput));
    expect(fieldsOf(err)).toEqual([field]);
    expect(err.message).toContain(`${field}: `);
  });

  it('accepts boundary values', () => {
    const order = validateSubmitOrder({
      ...base,
      accountId: 'A'.repeat(64),
      clientOrderId: `!${' '.repeat(62)}~`,
      symbol: 'EUR/USD-1.X',
      quantity: '999999999999.99999999',
      limitPrice: '0.00000001',
      strategy: 's'.repeat(64),
    });
    expect(order.quantity).toBe('999999999999.99999999');
    expect(order.limitPrice).toBe('0.00000001');
  });

  it.each([
    ['LIMIT', { stopPrice: '1' }, ['stopPrice']],
    ['LIMIT', { limitPrice: null }, ['limitPrice']],
    ['STOP_LIMIT', { limitPrice: null, stopPrice: null }, ['limitPrice', 'stopPrice']],
    ['STOP_LIMIT', { stopPrice: null }, ['stopPrice']],
    ['STOP', { limitPrice: '1' }, ['limitPrice', 'stopPrice']],
    ['STOP', { limitPrice: null }, ['stopPrice']],
    ['MARKET', { limitPrice: '1', stopPrice: '1' }, ['limitPrice', 'stopPrice']],
  ])('checks price presence for %s %j', (type, patch, fields) => {
    const err = badInput(() => validateSubmitOrder({ ...base, type, ...patch }));
    expect(fieldsOf(err)).toEqual(fields);
  });

  it('names the rule in price presence messages', () => {
    const err = badInput(() => validateSubmitOrder({ ...base, type: 'MARKET' }));
    expect(err.problems).toEqual([{ field: 'limitPrice', message: 'a MARKET order has no limit price' }]);
    const missing = badInput(() => validateSubmitOrder({ ...base, type: 'STOP', limitPrice: null }));
    expect(missing.problems).toEqual([{ field: 'stopPrice', message: 'required for a STOP order' }]);
  });

  it('reports several problems at once in one error', () => {
    const err = badInput(() =>
      validateSubmitOrder({
        accountId: '',
        clientOrderId: ' x',
        symbol: 'bad symbol',
        side: 'HOLD',
        type: 'LIMIT',
        timeInForce: 'NEVER',
        quantity: '0',
        limitPrice: '-5',
        stopPrice: '1',
        strategy: '',
      }),
    );
    expect(fieldsOf(err)).toEqual([
      'accountId',
      'clientOrderId',
      'symbol',
      'side',
      'timeInForce',
      'quantity',
      'limitPrice',
      'stopPrice',
      'strategy',
    ]);
    expect(err.message).toMatch(/^invalid order: accountId: .*; clientOrderId: .*; symbol: /);
    expect(err.problems.find((p) => p.field === 'quantity')?.message).toBe('must be greater than 0');
    expect(err.details).toEqual({ problems: err.problems });
  });

  it('checks a price format even when the type is unknown', () => {
    const err = badInput(() => validateSubmitOrder({ ...base, type: 'WHAT', limitPrice: 'x' }));
    expect(fieldsOf(err)).toEqual(['type', 'limitPrice']);
  });
});

describe('validateSymbol', () => {
  it('throws a field error for a bad symbol and passes a good one', () => {
    expect(() => validateSymbol('symbol', 'MSFT')).not.toThrow();
    expect(badInput(() => validateSymbol('symbols[1]', 'msft')).problems[0].field).toBe('symbols[1]');
  });
});

describe('samePayload', () => {
  const incoming = validateSubmitOrder({ ...base, type: 'STOP_LIMIT', stopPrice: '190', strategy: 'x' });
  const stored = {
    symbol: 'AAPL',
    side: 'BUY',
    type: 'STOP_LIMIT',
    timeInForce: 'DAY',
    quantity: '100.50000000',
    limitPrice: '187.25000000',
    stopPrice: '190.00000000',
    strategy: 'x',
  };

  it('treats trailing zeros from the database as equal', () => {
    expect(samePayload(stored, incoming)).toBe(true);
  });

  it('treats null prices as equal and null vs a price as different', () => {
    const market = validateSubmitOrder({ ...base, type: 'MARKET', limitPrice: null });
    expect(samePayload({ ...stored, type: 'MARKET', limitPrice: null, stopPrice: null, strategy: null }, market)).toBe(true);
    expect(samePayload({ ...stored, type: 'MARKET', limitPrice: '0', stopPrice: null, strategy: null }, market)).toBe(false);
  });

  it.each([
    ['side', { side: 'SELL' }],
    ['type', { type: 'LIMIT' }],
    ['timeInForce', { timeInForce: 'GTC' }],
    ['symbol', { symbol: 'MSFT' }],
    ['strategy', { strategy: null }],
    ['quantity', { quantity: '100.50000001' }],
    ['limitPrice', { limitPrice: '187.26' }],
    ['stopPrice', { stopPrice: null }],
  ])('differs when %s differs', (_field, patch) => {
    expect(samePayload({ ...stored, ...patch }, incoming)).toBe(false);
  });
});

const order = (patch: Partial<OrderState> = {}): OrderState => ({
  status: 'NEW',
  type: 'LIMIT',
  quantity: '10.00000000',
  filledQuantity: '0',
  filledNotional: '0',
  limitPrice: '100.00000000',
  stopPrice: null,
  ...patch,
});

describe('cancel', () => {
  it.each(['FILLED', 'CANCELED', 'REJECTED', 'EXPIRED'] as const)('refuses a %s order', (status) => {
    expect(isTerminal(status)).toBe(true);
    expect(badInput(() => assertCancelable(order({ status }))).message).toBe(
      `order is already ${status} and cannot be canceled`,
    );
  });

  it.each(['NEW', 'PARTIALLY_FILLED'] as const)('allows a %s order', (status) => {
    expect(isTerminal(status)).toBe(false);
    expect(() => assertCancelable(order({ status }))).not.toThrow();
  });
});

describe('planAmend', () => {
  const partial = order({ status: 'PARTIALLY_FILLED', filledQuantity: '4.00000000', filledNotional: '400' });

  it('changes the quantity and keeps the rest normalized', () => {
    expect(planAmend(partial, { quantity: '12.5' })).toEqual({
      quantity: '12.5',
      limitPrice: '100',
      stopPrice: null,
      status: 'PARTIALLY_FILLED',
    });
  });

  it('refuses a quantity below the filled quantity', () => {
    const err = badInput(() => planAmend(partial, { quantity: '3.99999999' }));
    expect(err.problems).toEqual([{ field: 'quantity', message: 'cannot be below the filled quantity 4' }]);
  });

  it('marks the order FILLED when amended to exactly the filled quantity', () => {
    expect(planAmend(partial, { quantity: '4' })).toEqual({ quantity: '4', limitPrice: '100', stopPrice: null, status: 'FILLED' });
  });

  it('refuses a price the order type does not have', () => {
    expect(fieldsOf(badInput(() => planAmend(order({ type: 'MARKET', limitPrice: null }), { limitPrice: '5' })))).toEqual(['limitPrice']);
    expect(fieldsOf(badInput(() => planAmend(order(), { stopPrice: '5' })))).toEqual(['stopPrice']);
    expect(fieldsOf(badInput(() => planAmend(order({ type: 'STOP', limitPrice: null, stopPrice: '9' }), { limitPrice: '5' })))).toEqual(['limitPrice']);
  });

  it('amends both prices of a STOP_LIMIT order', () => {
    const stopLimit = order({ type: 'STOP_LIMIT', stopPrice: '101.0' });
    expect(planAmend(stopLimit, { limitPrice: '99.50', stopPrice: '100.10' })).toEqual({
      quantity: '10',
      limitPrice: '99.5',
      stopPrice: '100.1',
      status: 'NEW',
    });
  });

  it('refuses an empty amend, terminal orders and bad values', () => {
    expect(badInput(() => planAmend(order(), {})).message).toMatch(/at least one/);
    expect(badInput(() => planAmend(order(), { quantity: null, limitPrice: null })).message).toMatch(/at least one/);
    expect(badInput(() => planAmend(order({ status: 'CANCELED' }), { quantity: '1' })).message).toBe(
      'order is already CANCELED and cannot be amended',
    );
    expect(fieldsOf(badInput(() => planAmend(order(), { quantity: '0', limitPrice: '-1' })))).toEqual(['quantity', 'limitPrice']);
  });
});

describe('planFill', () => {
  it('defaults the quantity to the rest and fills the order', () => {
    const state = order({ status: 'PARTIALLY_FILLED', filledQuantity: '4', filledNotional: '398' });
    expect(planFill(state, { price: '101.00000000' })).toEqual({
      quantity: '6',
      price: '101',
      filledQuantity: '10',
      filledNotional: '1004',
      averageFillPrice: '100.4',
      status: 'FILLED',
    });
  });

  it('marks a partial fill PARTIALLY_FILLED', () => {
    expect(planFill(order(), { quantity: '2.5', price: '99.99' })).toEqual({
      quantity: '2.5',
      price: '99.99',
      filledQuantity: '2.5',
      filledNotional: '249.975',
      averageFillPrice: '99.99',
      status: 'PARTIALLY_FILLED',
    });
  });

  it('refuses an overfill', () => {
    const state = order({ status: 'PARTIALLY_FILLED', filledQuantity: '9.5', filledNotional: '950' });
    const err = badInput(() => planFill(state, { quantity: '0.50000001', price: '100' }));
    expect(err.problems).toEqual([{ field: 'quantity', message: 'overfill: 0.50000001 exceeds the remaining 0.5' }]);
  });

  it.each(['CANCELED', 'FILLED', 'REJECTED', 'EXPIRED'] as const)('refuses to fill a %s order', (status) => {
    expect(badInput(() => planFill(order({ status }), { price: '1' })).message).toBe(`order is ${status}; it cannot be filled`);
  });

  it.each(['0', '-1', '0.000000001', 'abc'])('refuses price %s', (price) => {
    expect(fieldsOf(badInput(() => planFill(order(), { price })))).toEqual(['price']);
  });

  it('refuses a non-positive quantity', () => {
    expect(fieldsOf(badInput(() => planFill(order(), { quantity: '0', price: '1' })))).toEqual(['quantity']);
  });

  it('averages fills at different prices from the exact notional', () => {
    const tiny = order({ type: 'MARKET', quantity: '0.3', limitPrice: null });
    const first = planFill(tiny, { quantity: '0.1', price: '10.00000001' });
    expect(first).toMatchObject({ filledNotional: '1.000000001', averageFillPrice: '10.00000001' });
    const second = planFill({ ...tiny, status: first.status, filledQuantity: first.filledQuantity, filledNotional: first.filledNotional }, {
      quantity: '0.2',
      price: '10.00000002',
    });
    // 3.000000005 / 0.3 = 10.0000000166... -> 10.00000002
    expect(second).toEqual({
      quantity: '0.2',
      price: '10.00000002',
      filledQuantity: '0.3',
      filledNotional: '3.000000005',
      averageFillPrice: '10.00000002',
      status: 'FILLED',
    });
  });

  it('rounds the average half-even', () => {
    const two = order({ quantity: '3' });
    // 2.00000003 / 2 = 1.000000015 -> 1.00000002 (up to even); 2.00000005 / 2 = 1.000000025 -> 1.00000002 (stays even)
    expect(planFill({ ...two, filledQuantity: '1', filledNotional: '1.00000001' }, { quantity: '1', price: '1.00000002' }).averageFillPrice).toBe('1.00000002');
    expect(planFill({ ...two, filledQuantity: '1', filledNotional: '1.00000002' }, { quantity: '1', price: '1.00000003' }).averageFillPrice).toBe('1.00000002');
  });

  it('gives the same plan whichever order two fills arrive in', () => {
    const start = order({ quantity: '1' });
    const fills = [
      { quantity: '0.33333333', price: '10.00000001' },
      { quantity: '0.66666667', price: '10.00000002' },
    ];
    const applyBoth = (a: (typeof fills)[0], b: (typeof fills)[0]) => {
      const p = planFill(start, a);
      return planFill({ ...start, status: p.status, filledQuantity: p.filledQuantity, filledNotional: p.filledNotional }, b);
    };
    const ab = applyBoth(fills[0], fills[1]);
    const ba = applyBoth(fills[1], fills[0]);
    // notional 3.3333333033333333 + 6.6666667133333334 = 10.0000000166666667 -> average 10.00000002
    expect({ ...ab, quantity: '', price: '' }).toEqual({ ...ba, quantity: '', price: '' });
    expect(ab).toMatchObject({
      filledQuantity: '1',
      filledNotional: '10.0000000166666667',
      averageFillPrice: '10.00000002',
      status: 'FILLED',
    });
  });
});

describe('orderSideSign', () => {
  it('is +1 for BUY and -1 for SELL', () => {
    expect(orderSideSign('BUY')).toBe(1);
    expect(orderSideSign('SELL')).toBe(-1);
  });
});
