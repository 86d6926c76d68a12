/**
 * Writing events: rows of the outbox table, inserted in the caller's transaction so an event exists exactly when the
 * change it describes committed. Topics and payloads belong to the modules; this file only stores them.
 */
import { randomUUID } from 'node:crypto';
import type { Sql } from './sql-transaction';

export interface NewEvent {
  topic: string;
  accountId?: string | null;
  symbol?: string | null;
  payload: unknown;
}

/** An event as the relay publishes it and subscribers receive it. `sequence` is commit-ordered, as a string. */
export interface PublishedEvent<P = any> {
  eventId: string;
  sequence: string;
  topic: string;
  accountId: string | null;
  symbol: string | null;
  payload: P;
}

export async function writeEvents(tx: Sql, events: NewEvent[]): Promise<void> {
  if (!events.length) return;
  const insert = eventsInsert(events);
  await tx.execute(insert.sql, insert.params);
}

/**
 * The outbox insert of writeEvents as SQL (knex `?` parameters) and its parameters, for a caller that makes it a
 * sub-statement (`with e as (...)`) of a statement of its own, to write its events in the same round trip.
 * `source` may rewrite the events' JSON in SQL (it gets the parameter and returns an expression), to fill in what
 * only that statement knows; when the expression is null, no event is written.
 */
export function eventsInsert(events: NewEvent[], source = (json: string) => json): { sql: string; params: unknown[] } {
  const rows = events.map((e) => ({ event_id: randomUUID(), topic: e.topic, account_id: e.accountId ?? null, symbol: e.symbol ?? null, payload: e.payload }));
  // Rows of one statement get strictly increasing created_at (clock + position), so the relay keeps their order.
  return {
    sql: `insert into execution.outbox (event_id, topic, account_id, symbol, payload, created_at)
     select e.event_id, e.topic, e.account_id, e.symbol, e.payload, clock_timestamp() + e.ord * interval '1 microsecond'
     from rows from (jsonb_to_recordset(${source('?::jsonb')}) as (event_id uuid, topic text, account_id text, symbol text, payload jsonb))
          with ordinality as e(event_id, topic, account_id, symbol, payload, ord)`,
    params: [JSON.stringify(rows)],
  };
}

/** Wakes the local relay after a commit that wrote events, so they go out at once instead of at the next poll. */
export interface OutboxSignal {
  wake(): void;
}
