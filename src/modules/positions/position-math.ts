/**
 * Pure average-cost position math. Quantities are signed (long > 0, short < 0); all values are decimal strings
 * and the arithmetic is exact Decimal, rounded half-even to 8 places only where a result is stored.
 */
import { Decimal, PRICE, QUANTITY, decimalText, parseDecimal, roundToScale } from '../../platform/decimal';
import { ValidationError } from '../../platform/errors';

export interface PositionState {
  /** signed: long > 0, short < 0 */
  quantity: string;
  /** '0' when flat */
  averagePrice: string;
  realizedPnl: string;
}

export const FLAT: PositionState = Object.freeze({ quantity: '0', averagePrice: '0', realizedPnl: '0' });

export interface PositionFill {
  side: 'BUY' | 'SELL';
  quantity: string;
  price: string;
}

const SCALE = 8;

/**
 * Positions are sums of many fills and can outgrow numeric(20,8) products (40 digits), so intermediate
 * results use a wide context: the only rounding is the final half-even one to 8 places.
 */
const Wide = Decimal.clone({ precision: 100 });

/** Stored values (from our own tables) are trusted decimal text; a non-finite one is a bug, not user input. */
function stored(field: string, text: string): Decimal {
  const value = new Wide(text);
  if (!value.isFinite()) throw new Error(`position ${field} is not a finite decimal: ${text}`);
  return value;
}

const round = (value: Decimal): Decimal => roundToScale(value, SCALE);

/** Applies one fill with the average-cost method; returns the new state and the PnL it realized. */
export function applyFill(position: PositionState, fill: PositionFill): PositionState & { realizedDelta: string } {
  if (fill.side !== 'BUY' && fill.side !== 'SELL') throw ValidationError.field('side', 'must be one of BUY, SELL');
  const qty = new Wide(parseDecimal('quantity', fill.quantity, QUANTITY));
  const price = new Wide(parseDecimal('price', fill.price, PRICE));
  const held = stored('quantity', position.quantity);
  const average = stored('averagePrice', position.averagePrice);
  const realized = stored('realizedPnl', position.realizedPnl);

  const signedQty = fill.side === 'BUY' ? qty : qty.neg();
  const next = held.plus(signedQty);
  const size = held.abs();
  let nextAverage: Decimal;
  let delta = new Wide(0);

  if (held.isZero() || held.isPos() === signedQty.isPos()) {
    // Opening or adding: cost-weighted average of the old position and the fill.
    nextAverage = round(size.times(average).plus(qty.times(price)).div(size.plus(qty)));
  } else {
    // Reducing (and maybe flipping): realize the closed part against the average.
    // A long gains when selling above average, a short when buying below it, hence the position's sign.
    const closed = Wide.min(qty, size);
    delta = round(closed.times(price.minus(average)).times(held.isPos() ? 1 : -1));
    if (next.isZero()) nextAverage = new Wide(0);
    else if (qty.gt(size)) nextAverage = price; // flipped: the remainder opens at the fill price
    else nextAverage = average;
  }

  return {
    quantity: decimalText(next),
    averagePrice: decimalText(nextAverage),
    realizedPnl: decimalText(realized.plus(delta)),
    realizedDelta: decimalText(delta),
  };
}

export interface MarkToMarket {
  marketValue: string | null;
  unrealizedPnl: string | null;
}

/** Values a position at the last price: a short has negative market value; nulls when no price is known. */
export function markToMarket(position: PositionState, lastPrice: string | null): MarkToMarket {
  if (lastPrice === null || lastPrice === undefined) return { marketValue: null, unrealizedPnl: null };
  const last = stored('lastPrice', lastPrice);
  const held = stored('quantity', position.quantity);
  const average = stored('averagePrice', position.averagePrice);
  return {
    marketValue: decimalText(round(held.times(last))),
    unrealizedPnl: decimalText(round(last.minus(average).times(held))),
  };
}
