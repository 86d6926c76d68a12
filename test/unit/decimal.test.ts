import { ValidationError } from '../../src/platform/errors';
import {
  BAR_PRICE,
  Decimal,
  PRICE,
  QUANTITY,
  VOLUME,
  decimalText,
  parseDecimal,
  roundToScale,
  type DecimalRule,
} from '../../src/platform/decimal';

/** The problem parseDecimal reports, or null when it accepts the text. */
function problemOf(text: string, rule: DecimalRule): unknown {
  try {
    parseDecimal('qty', text, rule);
    return null;
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).code).toBe('BAD_USER_INPUT');
    return (err as ValidationError).problems;
  }
}

const ANY: DecimalRule = { precision: 20, scale: 8 };
const NON_NEGATIVE: DecimalRule = { precision: 20, scale: 8, nonNegative: true };

describe('parseDecimal', () => {
  it.each(['1e5', '1E5', '0x10', 'Infinity', 'NaN', '', ' ', '1,5', '1.2.3', '--1', '.', '5 5'])('rejects %j as not a decimal', (text) => {
    expect(problemOf(text, ANY)).toEqual([{ field: 'qty', message: `"${text}" is not a decimal number` }]);
  });

  it.each([
    ['.5', '0.5'],
    ['5.', '5'],
    ['+5', '5'],
    [' 12.50 ', '12.5'],
    ['0007.25', '7.25'],
    ['-3.5', '-3.5'],
  ])('parses %j as %s', (text, expected) => {
    expect(decimalText(parseDecimal('qty', text, ANY))).toBe(expected);
  });

  it('treats -0 as zero: refused by a positive rule, accepted by a non-negative one', () => {
    expect(problemOf('-0', QUANTITY)).toEqual([{ field: 'qty', message: 'must be greater than 0' }]);
    expect(decimalText(parseDecimal('qty', '-0', NON_NEGATIVE))).toBe('0');
    expect(decimalText(parseDecimal('qty', '-0.000', ANY))).toBe('0');
  });

  it('enforces the positive and non-negative rules', () => {
    expect(problemOf('0', PRICE)).toEqual([{ field: 'qty', message: 'must be greater than 0' }]);
    expect(problemOf('-0.00000001', PRICE)).toEqual([{ field: 'qty', message: 'must be greater than 0' }]);
    expect(problemOf('0.00000001', PRICE)).toBeNull();
    expect(problemOf('-1', NON_NEGATIVE)).toEqual([{ field: 'qty', message: 'must not be negative' }]);
    expect(problemOf('0', NON_NEGATIVE)).toBeNull();
  });

  it('limits decimal places to the scale, ignoring trailing zeros', () => {
    expect(problemOf('1.123456789', QUANTITY)).toEqual([{ field: 'qty', message: 'at most 8 decimal places' }]);
    expect(problemOf('1.12345678', QUANTITY)).toBeNull();
    expect(problemOf('1.123456780000', QUANTITY)).toBeNull();
    expect(problemOf('1.12345', BAR_PRICE)).toEqual([{ field: 'qty', message: 'at most 4 decimal places' }]);
  });

  it('limits integer digits to precision - scale, ignoring leading zeros', () => {
    expect(problemOf('1234567890123', QUANTITY)).toEqual([{ field: 'qty', message: 'at most 12 digits before the decimal point' }]);
    expect(problemOf('-1234567890123', ANY)).toEqual([{ field: 'qty', message: 'at most 12 digits before the decimal point' }]);
    expect(problemOf('999999999999.99999999', QUANTITY)).toBeNull();
    expect(problemOf('000999999999999', QUANTITY)).toBeNull();
    expect(problemOf('123456789012.5', BAR_PRICE)).toEqual([{ field: 'qty', message: 'at most 11 digits before the decimal point' }]);
    expect(problemOf('12345678901.5', BAR_PRICE)).toBeNull();
  });

  it('enforces the integer rule', () => {
    expect(problemOf('1.5', VOLUME)).toEqual([{ field: 'qty', message: 'must be a whole number' }]);
    expect(problemOf('-1', VOLUME)).toEqual([{ field: 'qty', message: 'must not be negative' }]);
    expect(decimalText(parseDecimal('qty', '1500.000', VOLUME))).toBe('1500');
    expect(problemOf('0', VOLUME)).toBeNull();
  });

  it('keeps full precision without floating error', () => {
    const sum = parseDecimal('a', '0.1', ANY).plus(parseDecimal('b', '0.2', ANY));
    expect(decimalText(sum)).toBe('0.3');
    const big = parseDecimal('a', '999999999999.99999999', QUANTITY);
    expect(decimalText(big.times(big))).toBe('999999999999999999980000.0000000000000001');
  });

  it('names the field in the message', () => {
    expect(() => parseDecimal('limitPrice', 'abc', PRICE)).toThrow('limitPrice: "abc" is not a decimal number');
  });
});

describe('decimalText', () => {
  it.each([
    ['100.50000000', '100.5'],
    ['100.00000000', '100'],
    ['100', '100'],
    ['1000', '1000'],
    ['0.10', '0.1'],
    ['0.00000001', '0.00000001'],
    ['-0', '0'],
    ['-0.000', '0'],
    ['-12.340', '-12.34'],
    ['5.', '5'],
  ])('trims %j to %s', (text, expected) => {
    expect(decimalText(text)).toBe(expected);
  });

  it('never uses an exponent', () => {
    expect(decimalText(new Decimal('1e-8'))).toBe('0.00000001');
    expect(decimalText(new Decimal('1.5e20'))).toBe('150000000000000000000');
    expect(decimalText(new Decimal('-2.50e-3'))).toBe('-0.0025');
  });
});

describe('roundToScale', () => {
  it.each([
    ['0.125', 2, '0.12'],
    ['0.135', 2, '0.14'],
    ['-0.125', 2, '-0.12'],
    ['0.1251', 2, '0.13'],
    ['1.000000015', 8, '1.00000002'],
    ['1.000000025', 8, '1.00000002'],
    ['2.5', 0, '2'],
    ['3.5', 0, '4'],
  ])('rounds %s to %i places half-even: %s', (text, scale, expected) => {
    expect(decimalText(roundToScale(new Decimal(text), scale))).toBe(expected);
  });
});
