/** The paper venue's fill rules: every order type and time in force against hand-built bar sequences. */
import { afterFill, isDone, onArrival, onBar, type Quote, type WorkingOrder } from '../../src/modules/venue/fill-rules';
import { lastCloseAtOrBefore, nextCloseAfter, parseSessionClose } from '../../src/modules/venue/session';

/** open high low close volume */
function bar(text: string): Quote {
  const [open, high, low, close, volume] = text.split(/\s+/);
  return { open, high, low, close, volume };
}

function order(o: Partial<WorkingOrder> & Pick<WorkingOrder, 'side' | 'type'>): WorkingOrder {
  return { timeInForce: 'GTC', quantity: '100', filledQuantity: '0', limitPrice: null, stopPrice: null, triggered: false, ...o };
}

/** Runs an order through arrival and the bars that follow, as the venue does: fills and the final status. */
function simulate(start: WorkingOrder, latest: Quote | null, bars: Quote[]) {
  const fills: string[] = [];
  let o = start;
  let status = 'NEW';
  const step = (decision: ReturnType<typeof onArrival>, at: string) => {
    if (decision.fill) fills.push(`${decision.fill.quantity}@${decision.fill.price} ${at}`);
    o = afterFill(o, decision);
    if (isDone(o)) status = 'FILLED';
    else if (decision.expire) status = 'EXPIRED';
    else if (decision.fill) status = 'PARTIALLY_FILLED';
  };
  step(onArrival(o, latest), 'arrival');
  bars.forEach((b, i) => {
    if (status === 'NEW' || status === 'PARTIALLY_FILLED') step(onBar(o, b), `bar${i + 1}`);
  });
  return { fills, status, triggered: o.triggered };
}

const L = bar('100 101 99 100 1000'); // the latest bar when the order arrives: close 100

describe('MARKET', () => {
  it('fills at the latest close on arrival', () => {
    expect(simulate(order({ side: 'BUY', type: 'MARKET' }), L, [])).toEqual({ fills: ['100@100 arrival'], status: 'FILLED', triggered: false });
    expect(simulate(order({ side: 'SELL', type: 'MARKET' }), L, []).fills).toEqual(['100@100 arrival']);
  });

  it('with no bar yet, waits and fills at the next bar\'s open', () => {
    expect(simulate(order({ side: 'BUY', type: 'MARKET' }), null, [bar('102 103 101 102.5 500')])).toMatchObject({ fills: ['100@102 bar1'], status: 'FILLED' });
  });

  it('takes at most a bar\'s volume; the rest works and fills at the next opens', () => {
    const r = simulate(order({ side: 'BUY', type: 'MARKET', quantity: '250' }), bar('100 101 99 100 100'), [bar('101 102 100 101 80'), bar('99 100 98 99.5 1000')]);
    expect(r).toMatchObject({ fills: ['100@100 arrival', '80@101 bar1', '70@99 bar2'], status: 'FILLED' });
  });

  it('fills nothing on a bar with no volume', () => {
    expect(simulate(order({ side: 'SELL', type: 'MARKET' }), bar('100 100 100 100 0'), [])).toMatchObject({ fills: [], status: 'NEW' });
  });

  it('keeps fractional quantities exact', () => {
    expect(simulate(order({ side: 'BUY', type: 'MARKET', quantity: '0.12345678' }), bar('65000.1234 65010 64990 65001.0001 3'), []).fills)
      .toEqual(['0.12345678@65001.0001 arrival']);
  });
});

describe('LIMIT', () => {
  it('a marketable limit fills at the latest close, which is at or better than the limit', () => {
    expect(simulate(order({ side: 'BUY', type: 'LIMIT', limitPrice: '100.5' }), L, []).fills).toEqual(['100@100 arrival']);
    expect(simulate(order({ side: 'BUY', type: 'LIMIT', limitPrice: '100' }), L, []).fills).toEqual(['100@100 arrival']);
    expect(simulate(order({ side: 'SELL', type: 'LIMIT', limitPrice: '99.5' }), L, []).fills).toEqual(['100@100 arrival']);
  });

  it('a buy rests until a bar\'s low reaches the limit, and fills at the limit', () => {
    const bars = [bar('100 100.5 99.5 100 1000'), bar('100 100.2 98.9 99.2 1000'), bar('99 99.5 98 98.5 1000')];
    expect(simulate(order({ side: 'BUY', type: 'LIMIT', limitPrice: '99' }), L, bars)).toMatchObject({ fills: ['100@99 bar2'], status: 'FILLED' });
  });

  it('a low that only touches the limit fills', () => {
    expect(simulate(order({ side: 'BUY', type: 'LIMIT', limitPrice: '99' }), L, [bar('100 100 99 99.5 10')]).fills).toEqual(['10@99 bar1']);
  });

  it('a buy fills at the open when the bar gapped below the limit', () => {
    expect(simulate(order({ side: 'BUY', type: 'LIMIT', limitPrice: '99' }), L, [bar('97.5 98 97 97.8 1000')]).fills).toEqual(['100@97.5 bar1']);
  });

  it('a sell rests until a bar\'s high reaches the limit; a gap up fills at the open', () => {
    const sell = order({ side: 'SELL', type: 'LIMIT', limitPrice: '101.5' });
    expect(simulate(sell, L, [bar('100 101.4 99 101 1000'), bar('101 101.6 100.5 101.2 1000')]).fills).toEqual(['100@101.5 bar2']);
    expect(simulate(sell, L, [bar('103 104 102.5 103.5 1000')]).fills).toEqual(['100@103 bar1']);
  });

  it('partially fills across bars by volume: PARTIALLY_FILLED, then FILLED', () => {
    const buy = order({ side: 'BUY', type: 'LIMIT', limitPrice: '99', quantity: '150' });
    const once = simulate(buy, L, [bar('99 99.5 98.5 99 60')]);
    expect(once).toMatchObject({ fills: ['60@99 bar1'], status: 'PARTIALLY_FILLED' });
    expect(simulate(buy, L, [bar('99 99.5 98.5 99 60'), bar('100 100 99.5 99.8 500'), bar('98 99 97 98 500')]))
      .toMatchObject({ fills: ['60@99 bar1', '90@98 bar3'], status: 'FILLED' });
  });
});

describe('STOP', () => {
  it('a buy stop at or below the latest close triggers on arrival and fills at the close', () => {
    expect(simulate(order({ side: 'BUY', type: 'STOP', stopPrice: '100' }), L, [])).toMatchObject({ fills: ['100@100 arrival'], status: 'FILLED', triggered: true });
  });

  it('a buy stop triggers when a bar\'s high reaches it and fills at the stop', () => {
    const r = simulate(order({ side: 'BUY', type: 'STOP', stopPrice: '102' }), L, [bar('100 101.9 99 101 1000'), bar('101 102.5 100.5 102.2 1000')]);
    expect(r).toMatchObject({ fills: ['100@102 bar2'], status: 'FILLED', triggered: true });
  });

  it('a gap through the stop fills at the open', () => {
    expect(simulate(order({ side: 'BUY', type: 'STOP', stopPrice: '102' }), L, [bar('104 105 103.5 104 1000')]).fills).toEqual(['100@104 bar1']);
    expect(simulate(order({ side: 'SELL', type: 'STOP', stopPrice: '98' }), L, [bar('96 96.5 95 95.5 1000')]).fills).toEqual(['100@96 bar1']);
  });

  it('a sell stop triggers on a low at or below it, at the stop', () => {
    expect(simulate(order({ side: 'SELL', type: 'STOP', stopPrice: '98' }), L, [bar('99 99.5 98.2 99 10'), bar('99 99 97.5 97.8 1000')]).fills)
      .toEqual(['100@98 bar2']);
  });

  it('once triggered, the rest of a volume-limited stop fills at the following opens', () => {
    const r = simulate(order({ side: 'SELL', type: 'STOP', stopPrice: '98' }), L, [bar('99 99 97 97.5 30'), bar('97 97.5 96 96.5 1000')]);
    expect(r).toMatchObject({ fills: ['30@98 bar1', '70@97 bar2'], status: 'FILLED' });
  });
});

describe('STOP_LIMIT', () => {
  it('triggered inside a bar, fills there at the stop when the stop satisfies the limit', () => {
    const r = simulate(order({ side: 'BUY', type: 'STOP_LIMIT', stopPrice: '102', limitPrice: '102.5' }), L, [bar('101 102.3 100.8 102 1000')]);
    expect(r).toMatchObject({ fills: ['100@102 bar1'], status: 'FILLED' });
  });

  it('gapping past the limit triggers it without a fill; it then works as a limit order', () => {
    const buy = order({ side: 'BUY', type: 'STOP_LIMIT', stopPrice: '102', limitPrice: '102.5' });
    const bars = [bar('103 104 102.8 103.5 1000'), bar('103.5 103.8 102.7 103 1000'), bar('102.9 103 102.1 102.4 1000')];
    expect(simulate(buy, L, bars.slice(0, 2))).toMatchObject({ fills: [], status: 'NEW', triggered: true });
    expect(simulate(buy, L, bars)).toMatchObject({ fills: ['100@102.5 bar3'], status: 'FILLED', triggered: true });
  });

  it('a sell stop-limit triggered on arrival fills at the close if the limit allows, else works', () => {
    expect(simulate(order({ side: 'SELL', type: 'STOP_LIMIT', stopPrice: '100.5', limitPrice: '99.5' }), L, []).fills).toEqual(['100@100 arrival']);
    const resting = simulate(order({ side: 'SELL', type: 'STOP_LIMIT', stopPrice: '100.5', limitPrice: '100.8' }), L, [bar('100.5 101 100.2 100.9 1000')]);
    expect(resting).toMatchObject({ fills: ['100@100.8 bar1'], status: 'FILLED', triggered: true });
  });

  it('does nothing until its stop trades', () => {
    expect(simulate(order({ side: 'SELL', type: 'STOP_LIMIT', stopPrice: '95', limitPrice: '94' }), L, [bar('99 100 96 97 1000')]))
      .toMatchObject({ fills: [], status: 'NEW', triggered: false });
  });
});

describe('time in force', () => {
  it('IOC fills what the latest bar offers and expires the rest', () => {
    expect(simulate(order({ side: 'BUY', type: 'MARKET', timeInForce: 'IOC', quantity: '1500' }), L, [bar('100 101 99 100 1000')]))
      .toMatchObject({ fills: ['1000@100 arrival'], status: 'EXPIRED' });
    expect(simulate(order({ side: 'BUY', type: 'MARKET', timeInForce: 'IOC' }), L, [])).toMatchObject({ fills: ['100@100 arrival'], status: 'FILLED' });
  });

  it('IOC that is not marketable expires with nothing filled and never meets a later bar', () => {
    expect(simulate(order({ side: 'BUY', type: 'LIMIT', limitPrice: '99', timeInForce: 'IOC' }), L, [bar('98 98 97 97 1000')]))
      .toMatchObject({ fills: [], status: 'EXPIRED' });
    expect(simulate(order({ side: 'BUY', type: 'MARKET', timeInForce: 'IOC' }), null, [])).toMatchObject({ fills: [], status: 'EXPIRED' });
  });

  it('FOK fills everything or nothing', () => {
    expect(simulate(order({ side: 'SELL', type: 'MARKET', timeInForce: 'FOK', quantity: '1000' }), L, [])).toMatchObject({ fills: ['1000@100 arrival'], status: 'FILLED' });
    expect(simulate(order({ side: 'SELL', type: 'MARKET', timeInForce: 'FOK', quantity: '1000.5' }), L, [])).toMatchObject({ fills: [], status: 'EXPIRED' });
    expect(simulate(order({ side: 'SELL', type: 'LIMIT', limitPrice: '100.01', timeInForce: 'FOK', quantity: '10' }), L, [])).toMatchObject({ fills: [], status: 'EXPIRED' });
  });

  it('DAY and GTC keep working across bars (DAY expiry is the session clock\'s)', () => {
    for (const timeInForce of ['DAY', 'GTC'] as const) {
      expect(simulate(order({ side: 'BUY', type: 'LIMIT', limitPrice: '90', timeInForce }), L, [bar('100 101 99 100 10'), bar('99 99 95 96 10')]))
        .toMatchObject({ fills: [], status: 'NEW' });
    }
  });
});

describe('session close', () => {
  const close = parseSessionClose('21:00');
  it('parses HH:MM and refuses anything else', () => {
    expect(close).toBe(21 * 60);
    expect(parseSessionClose('00:00')).toBe(0);
    for (const bad of ['24:00', '9:00', '21:60', '2100', '']) expect(() => parseSessionClose(bad)).toThrow(/HH:MM/);
  });

  it('finds the latest close at or before a time, and the next one after it', () => {
    expect(lastCloseAtOrBefore(new Date('2026-11-27T20:59:59Z'), close).toISOString()).toBe('2026-11-26T21:00:00.000Z');
    expect(lastCloseAtOrBefore(new Date('2026-11-27T21:00:00Z'), close).toISOString()).toBe('2026-11-27T21:00:00.000Z');
    expect(nextCloseAfter(new Date('2026-11-27T21:00:00Z'), close).toISOString()).toBe('2026-11-28T21:00:00.000Z');
    expect(nextCloseAfter(new Date('2026-11-27T03:00:00Z'), close).toISOString()).toBe('2026-11-27T21:00:00.000Z');
  });
});
