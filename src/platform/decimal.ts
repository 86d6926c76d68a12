/** Exact decimal arithmetic for money and quantities: never a JS number. */
import DecimalJs from 'decimal.js';
import { ValidationError } from './errors';

/** 40 significant digits covers numeric(24,8) products; results are rounded half-even where we choose to round. */
export const Decimal = DecimalJs.clone({ precision: 40, rounding: DecimalJs.ROUND_HALF_EVEN, toExpNeg: -40, toExpPos: 40 });
export type Decimal = DecimalJs;

const DECIMAL_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

export interface DecimalRule {
  /** digits after the point that the column keeps */
  scale: number;
  /** total digits the column keeps (numeric(precision, scale)) */
  precision: number;
  positive?: boolean;
  nonNegative?: boolean;
  integer?: boolean;
}

/** Parses a decimal string for `field` against a column's rule; throws BAD_USER_INPUT naming the field. */
export function parseDecimal(field: string, text: string, rule: DecimalRule): Decimal {
  const raw = text.trim();
  if (!DECIMAL_TEXT.test(raw)) throw ValidationError.field(field, `"${text}" is not a decimal number`);
  const value = new Decimal(raw);
  if (rule.integer && !value.isInteger()) throw ValidationError.field(field, 'must be a whole number');
  if (value.decimalPlaces() > rule.scale) {
    throw ValidationError.field(field, `at most ${rule.scale} decimal places`);
  }
  const integerDigits = value.abs().trunc().toFixed().replace(/^0+/, '').length;
  if (integerDigits > rule.precision - rule.scale) {
    throw ValidationError.field(field, `at most ${rule.precision - rule.scale} digits before the decimal point`);
  }
  if (rule.positive && !value.gt(0)) throw ValidationError.field(field, 'must be greater than 0');
  if (rule.nonNegative && value.lt(0)) throw ValidationError.field(field, 'must not be negative');
  return value;
}

/**
 * Canonical text for a decimal: no exponent, no trailing zeros ("100.50000000" -> "100.5"). Any text with a point
 * loses its trailing zeros, then a trailing point. Runs once per decimal leaf of every response: a scan from the end
 * and at most one slice, no regular expression.
 */
export function decimalText(value: Decimal | string): string {
  const text = typeof value === 'string' ? value : value.toFixed();
  if (text.indexOf('.') === -1) return text === '-0' ? '0' : text;
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 48 /* 0 */) end--;
  if (end > 0 && text.charCodeAt(end - 1) === 46 /* . */) end--;
  if (end === 2 && text.charCodeAt(0) === 45 /* - */ && text.charCodeAt(1) === 48) return '0';
  return end === text.length ? text : text.slice(0, end);
}

/** Rounds to a column's scale, half-even (banker's rounding keeps long-run averages unbiased). */
export function roundToScale(value: Decimal, scale: number): Decimal {
  return value.toDecimalPlaces(scale, Decimal.ROUND_HALF_EVEN);
}

/** Column rules shared by the schema and validation. */
export const QUANTITY: DecimalRule = { precision: 20, scale: 8, positive: true };
export const PRICE: DecimalRule = { precision: 20, scale: 8, positive: true };
export const BAR_PRICE: DecimalRule = { precision: 15, scale: 4, positive: true };
export const VOLUME: DecimalRule = { precision: 19, scale: 0, nonNegative: true, integer: true };
