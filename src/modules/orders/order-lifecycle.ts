/**
 * Pure order state machine and input validation: no I/O, decimal strings in and out, arithmetic in Decimal.
 * The service layer loads/stores orders; everything here decides what a submit, cancel, amend or fill may do.
 */
import { Decimal, PRICE, QUANTITY, decimalText, parseDecimal, roundToScale, type DecimalRule } from '../../platform/decimal';
import { ValidationError, type FieldProblem } from '../../platform/errors';

export type OrderSide = 'BUY' | 'SELL';
export type OrderType = 'MARKET' | 'LIMIT' | 'STOP' | 'STOP_LIMIT';
export type TimeInForce = 'DAY' | 'GTC' | 'IOC' | 'FOK';
export type OrderStatus = 'NEW' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELED' | 'REJECTED' | 'EXPIRED';

export const ORDER_SIDES: readonly OrderSide[] = ['BUY', 'SELL'];
export const ORDER_TYPES: readonly OrderType[] = ['MARKET', 'LIMIT', 'STOP', 'STOP_LIMIT'];
export const TIME_IN_FORCES: readonly TimeInForce[] = ['DAY', 'GTC', 'IOC', 'FOK'];
export const ORDER_STATUSES: readonly OrderStatus[] = ['NEW', 'PARTIALLY_FILLED', 'FILLED', 'CANCELED', 'REJECTED', 'EXPIRED'];
export const TERMINAL_STATUSES: readonly OrderStatus[] = ['FILLED', 'CANCELED', 'REJECTED', 'EXPIRED'];

export function isTerminal(status: OrderStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** Which order types carry which price; the single source for submit and amend checks. */
const HAS_LIMIT: readonly OrderType[] = ['LIMIT', 'STOP_LIMIT'];
const HAS_STOP: readonly OrderType[] = ['STOP', 'STOP_LIMIT'];

export const SYMBOL_PATTERN = /^[A-Z0-9.\-/]{1,20}$/;
const ACCOUNT_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
/** Printable ASCII, and the first and last characters are not spaces (a padded id is almost always a client bug). */
const CLIENT_ORDER_ID_PATTERN = /^[\x21-\x7E]([\x20-\x7E]{0,62}[\x21-\x7E])?$/;

export function validateSymbol(field: string, symbol: string): void {
  if (typeof symbol !== 'string' || !SYMBOL_PATTERN.test(symbol)) {
    throw ValidationError.field(field, 'must be 1 to 20 characters of A-Z, 0-9, ".", "-" or "/"');
  }
}

/** Raw submit input as it arrives from GraphQL. */
export interface SubmitOrderInput {
  accountId: string;
  clientOrderId: string;
  symbol: string;
  side: string;
  type: string;
  timeInForce?: string | null;
  quantity: string;
  limitPrice?: string | null;
  stopPrice?: string | null;
  strategy?: string | null;
}

/** Normalized, validated order: decimals are canonical text, absent optionals are null. */
export interface NewOrder {
  accountId: string;
  clientOrderId: string;
  symbol: string;
  side: OrderSide;
  type: OrderType;
  timeInForce: TimeInForce;
  quantity: string;
  limitPrice: string | null;
  stopPrice: string | null;
  strategy: string | null;
}

/** Runs one field check, turning a thrown ValidationError into collected problems so all are reported at once. */
function collect<T>(problems: FieldProblem[], check: () => T): T | undefined {
  try {
    return check();
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    problems.push(...(err.problems.length ? err.problems : [{ field: '', message: err.message }]));
    return undefined;
  }
}

function fail(field: string, message: string): never {
  throw ValidationError.field(field, message);
}

function decimalField(field: string, text: unknown, rule: DecimalRule): Decimal {
  if (typeof text !== 'string') fail(field, 'must be a decimal string');
  return parseDecimal(field, text, rule);
}

function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    fail(field, `must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function throwProblems(what: string, problems: FieldProblem[]): void {
  if (!problems.length) return;
  const text = problems.map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)).join('; ');
  throw new ValidationError(`${what}: ${text}`, problems);
}

const present = <T>(value: T | null | undefined): value is T => value !== null && value !== undefined;

/** Checks a price's presence against the order type (when the type is known) and its format. */
function priceField(
  problems: FieldProblem[],
  field: 'limitPrice' | 'stopPrice',
  text: string | null | undefined,
  type: OrderType | undefined,
): string | null {
  const needs = field === 'limitPrice' ? HAS_LIMIT : HAS_STOP;
  const label = field === 'limitPrice' ? 'limit price' : 'stop price';
  if (!present(text)) {
    if (type && needs.includes(type)) problems.push({ field, message: `required for a ${type} order` });
    return null;
  }
  if (type && !needs.includes(type)) {
    problems.push({ field, message: `a ${type} order has no ${label}` });
    return null;
  }
  const value = collect(problems, () => decimalField(field, text, PRICE));
  return value ? decimalText(value) : null;
}

/** Validates a submission, reporting every problem in one BAD_USER_INPUT error. */
export function validateSubmitOrder(input: SubmitOrderInput): NewOrder {
  const problems: FieldProblem[] = [];
  const accountId = collect(problems, () => {
    if (typeof input.accountId !== 'string' || !ACCOUNT_ID_PATTERN.test(input.accountId)) {
      fail('accountId', 'must be 1 to 64 characters of A-Z, a-z, 0-9, "_", ".", ":" or "-"');
    }
    return input.accountId;
  });
  const clientOrderId = collect(problems, () => {
    if (typeof input.clientOrderId !== 'string' || !CLIENT_ORDER_ID_PATTERN.test(input.clientOrderId)) {
      fail('clientOrderId', 'must be 1 to 64 printable ASCII characters without leading or trailing spaces');
    }
    return input.clientOrderId;
  });
  const symbol = collect(problems, () => (validateSymbol('symbol', input.symbol), input.symbol));
  const side = collect(problems, () => oneOf('side', input.side, ORDER_SIDES));
  const type = collect(problems, () => oneOf('type', input.type, ORDER_TYPES));
  const timeInForce = present(input.timeInForce)
    ? collect(problems, () => oneOf('timeInForce', input.timeInForce, TIME_IN_FORCES))
    : 'DAY';
  const quantity = collect(problems, () => decimalText(decimalField('quantity', input.quantity, QUANTITY)));
  const limitPrice = priceField(problems, 'limitPrice', input.limitPrice, type);
  const stopPrice = priceField(problems, 'stopPrice', input.stopPrice, type);
  let strategy: string | null = null;
  if (present(input.strategy)) {
    if (typeof input.strategy !== 'string' || input.strategy.length < 1 || input.strategy.length > 64) {
      problems.push({ field: 'strategy', message: 'must be 1 to 64 characters when given' });
    } else {
      strategy = input.strategy;
    }
  }
  throwProblems('invalid order', problems);
  // Every field is defined once no problem was collected.
  return { accountId: accountId!, clientOrderId: clientOrderId!, symbol: symbol!, side: side!, type: type!,
    timeInForce: timeInForce!, quantity: quantity!, limitPrice, stopPrice, strategy };
}

/** The stored fields of an earlier submission with the same key; decimals may carry database trailing zeros. */
export interface OrderPayload {
  symbol: string;
  side: string;
  type: string;
  timeInForce: string;
  quantity: string;
  limitPrice?: string | null;
  stopPrice?: string | null;
  strategy?: string | null;
}

function sameDecimal(a: string | null | undefined, b: string | null | undefined): boolean {
  if (!present(a) || !present(b)) return !present(a) && !present(b);
  return new Decimal(a).eq(new Decimal(b));
}

/** Idempotent retry check: same key and this payload means "return the existing order", else CONFLICT. */
export function samePayload(existing: OrderPayload, incoming: NewOrder): boolean {
  return (
    existing.side === incoming.side &&
    existing.type === incoming.type &&
    existing.timeInForce === incoming.timeInForce &&
    existing.symbol === incoming.symbol &&
    (existing.strategy ?? null) === (incoming.strategy ?? null) &&
    sameDecimal(existing.quantity, incoming.quantity) &&
    sameDecimal(existing.limitPrice, incoming.limitPrice) &&
    sameDecimal(existing.stopPrice, incoming.stopPrice)
  );
}

/** What the state machine needs of a stored order. filledNotional is the exact sum of fill qty × price. */
export interface OrderState {
  status: OrderStatus;
  type: OrderType;
  quantity: string;
  filledQuantity: string;
  filledNotional: string;
  limitPrice: string | null;
  stopPrice: string | null;
}

/** Quotients are computed wide so the later half-even rounding to 8 places is a single, exact rounding. */
const Wide = Decimal.clone({ precision: 100 });
const wide = (text: string | Decimal): Decimal => new Wide(text);
const canonical = (text: string | null): string | null => (text === null ? null : decimalText(wide(text)));

export function assertCancelable(order: OrderState): void {
  if (isTerminal(order.status)) {
    throw new ValidationError(`order is already ${order.status} and cannot be canceled`);
  }
}

export interface AmendChanges {
  quantity?: string | null;
  limitPrice?: string | null;
  stopPrice?: string | null;
}

export interface AmendPlan {
  quantity: string;
  limitPrice: string | null;
  stopPrice: string | null;
  /** FILLED when the new quantity equals what is already filled, else the order's status. */
  status: OrderStatus;
}

/** Decides the values after an amend; all problems are reported together. */
export function planAmend(order: OrderState, changes: AmendChanges): AmendPlan {
  if (isTerminal(order.status)) {
    throw new ValidationError(`order is already ${order.status} and cannot be amended`);
  }
  if (!present(changes.quantity) && !present(changes.limitPrice) && !present(changes.stopPrice)) {
    throw new ValidationError('an amend needs at least one of quantity, limitPrice or stopPrice');
  }
  const problems: FieldProblem[] = [];
  const filled = wide(order.filledQuantity);
  let quantity = wide(order.quantity);
  if (present(changes.quantity)) {
    const next = collect(problems, () => decimalField('quantity', changes.quantity, QUANTITY));
    if (next && next.lt(filled)) {
      problems.push({ field: 'quantity', message: `cannot be below the filled quantity ${decimalText(filled)}` });
    } else if (next) {
      quantity = next;
    }
  }
  let limitPrice = canonical(order.limitPrice);
  if (present(changes.limitPrice)) {
    limitPrice = priceField(problems, 'limitPrice', changes.limitPrice, order.type) ?? limitPrice;
  }
  let stopPrice = canonical(order.stopPrice);
  if (present(changes.stopPrice)) {
    stopPrice = priceField(problems, 'stopPrice', changes.stopPrice, order.type) ?? stopPrice;
  }
  throwProblems('invalid amend', problems);
  return {
    quantity: decimalText(quantity),
    limitPrice,
    stopPrice,
    status: quantity.eq(filled) ? 'FILLED' : order.status,
  };
}

export interface FillInput {
  /** defaults to the remaining quantity */
  quantity?: string | null;
  price: string;
}

export interface FillPlan {
  quantity: string;
  price: string;
  filledQuantity: string;
  filledNotional: string;
  averageFillPrice: string;
  status: OrderStatus;
}

/**
 * Applies one fill. The notional is kept exact (qty and price have 8 places, so 16), and the average is derived
 * from it with one rounding, so the result does not depend on the order in which fills arrive.
 */
export function planFill(order: OrderState, fill: FillInput): FillPlan {
  if (isTerminal(order.status)) {
    throw new ValidationError(`order is ${order.status}; it cannot be filled`);
  }
  const problems: FieldProblem[] = [];
  const orderQuantity = wide(order.quantity);
  const filled = wide(order.filledQuantity);
  const remaining = orderQuantity.minus(filled);
  const price = collect(problems, () => wide(decimalField('price', fill.price, PRICE)));
  let quantity: Decimal | undefined = remaining;
  if (present(fill.quantity)) {
    quantity = collect(problems, () => wide(decimalField('quantity', fill.quantity, QUANTITY)));
  }
  if (!remaining.gt(0)) {
    problems.push({ field: 'quantity', message: 'overfill: the order has no remaining quantity' });
  } else if (quantity && quantity.gt(remaining)) {
    problems.push({
      field: 'quantity',
      message: `overfill: ${decimalText(quantity)} exceeds the remaining ${decimalText(remaining)}`,
    });
  }
  throwProblems('invalid fill', problems);
  const qty = quantity!;
  const filledQuantity = filled.plus(qty);
  const filledNotional = wide(order.filledNotional).plus(qty.times(price!));
  return {
    quantity: decimalText(qty),
    price: decimalText(price!),
    filledQuantity: decimalText(filledQuantity),
    filledNotional: decimalText(filledNotional),
    averageFillPrice: decimalText(roundToScale(filledNotional.div(filledQuantity), 8)),
    status: filledQuantity.eq(orderQuantity) ? 'FILLED' : 'PARTIALLY_FILLED',
  };
}

export function orderSideSign(side: OrderSide): 1 | -1 {
  return side === 'BUY' ? 1 : -1;
}
