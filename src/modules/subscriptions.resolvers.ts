/**
 * Subscriptions: each opens a filtered event stream (replay after `afterSequence`, then live) on the process's event
 * hub and maps events to the GraphQL types. Filters run on the event's account and symbol, before any resolver.
 */
import type { RequestContext } from './index';
import type { PublishedEvent } from '../platform/outbox';
import { ValidationError } from '../platform/errors';
import { validateAccountId } from './accounts/account-rules';
import { validateSymbol } from './orders/order-lifecycle';
import { TOPIC, barAt, barCount, type BarLike, type BarsPayload, type TradeEventPayload } from './events';

type Ctx = RequestContext;

function checkSequence(afterSequence?: string | null): void {
  if (afterSequence != null && !/^\d{1,19}$/.test(afterSequence)) throw ValidationError.field('afterSequence', 'must be a sequence number');
}

/**
 * Yields every bar of each market-data event (one event carries the bars of one symbol from one ingestion), one
 * object at a time, so a subscriber holds no copy of a whole batch. Not an async generator: a generator's return()
 * waits for its pending await, so a client that leaves while no event comes would never release its stream; this
 * return() ends the stream at once.
 */
function barsOf(events: AsyncIterableIterator<PublishedEvent<BarsPayload>>): AsyncIterableIterator<BarLike> {
  let event: PublishedEvent<BarsPayload> | undefined;
  let next = 0;
  let count = 0;
  return {
    async next(): Promise<IteratorResult<BarLike>> {
      while (next >= count) {
        const result = await events.next();
        if (result.done) return { value: undefined, done: true };
        event = result.value;
        next = 0;
        count = barCount(event.payload);
      }
      return { value: barAt(event!.symbol!, event!.payload, next++), done: false };
    },
    async return(): Promise<IteratorResult<BarLike>> {
      await events.return?.();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

export const subscriptionResolvers = {
  Subscription: {
    tradeExecuted: {
      // accountIds: set by the access policy to the key's accounts when it names none
      subscribe: (_: unknown, a: { symbol?: string; accountId?: string; accountIds?: string[]; afterSequence?: string }, ctx: Ctx) => {
        if (a.symbol) validateSymbol('symbol', a.symbol);
        if (a.accountId) validateAccountId(a.accountId);
        checkSequence(a.afterSequence);
        return ctx.hub.stream(
          { topics: [TOPIC.trade], accountId: a.accountId, accountIds: a.accountIds, symbols: a.symbol ? [a.symbol] : null },
          a.afterSequence,
        );
      },
      resolve: (e: PublishedEvent<TradeEventPayload>) => ({ eventId: e.eventId, sequence: e.sequence, trade: e.payload.trade }),
    },
    orderUpdated: {
      subscribe: (_: unknown, a: { accountId: string; afterSequence?: string }, ctx: Ctx) => {
        validateAccountId(a.accountId);
        checkSequence(a.afterSequence);
        return ctx.hub.stream({ topics: [TOPIC.order], accountId: a.accountId }, a.afterSequence);
      },
      resolve: (e: PublishedEvent) => ({ eventId: e.eventId, sequence: e.sequence, type: e.payload.type, order: e.payload.order }),
    },
    positionUpdated: {
      subscribe: (_: unknown, a: { accountId: string }, ctx: Ctx) => {
        validateAccountId(a.accountId);
        return ctx.hub.stream({ topics: [TOPIC.position], accountId: a.accountId });
      },
      resolve: (e: PublishedEvent) => e.payload.position,
    },
    marketDataUpdated: {
      subscribe: async (_: unknown, a: { symbols: string[] }, ctx: Ctx) => {
        if (!a.symbols.length || a.symbols.length > 500) throw ValidationError.field('symbols', 'give 1 to 500 symbols, or ["*"]');
        for (const s of a.symbols) if (s !== '*') validateSymbol('symbols', s);
        return barsOf(await ctx.hub.stream({ topics: [TOPIC.bars], symbols: a.symbols }));
      },
      resolve: (bar: BarLike) => bar,
    },
  },
};
