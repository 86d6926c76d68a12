/** What the database knows about the run: its clock against the bench's, and the outbox rows of the events. */
import { clock } from './shared';
import { withPg } from '../suite/pg';
import { round } from './stats';

/** The database's clock minus this process's clock(), from the probe with the shortest round trip (same machine: ~0). */
export function clockOffset(databaseUrl: string): Promise<{ offsetMs: number | null; roundTripMs: number | null }> {
  return withPg(databaseUrl, async (pg) => {
    let best = { offsetMs: NaN, roundTripMs: Infinity };
    for (let i = 0; i < 20; i++) {
      const before = clock();
      const { rows: [row] } = await pg.query(`select (extract(epoch from clock_timestamp()) * 1000)::text as t`);
      const after = clock();
      if (after - before < best.roundTripMs) best = { offsetMs: Number(row.t) - (before + after) / 2, roundTripMs: after - before };
    }
    return { offsetMs: round(best.offsetMs, 3), roundTripMs: round(best.roundTripMs, 3) };
  });
}

/**
 * The outbox insert times of the run's trade events, by tradeId. No publish time: the relay keeps a watermark, not a
 * time per row (the baseline's arrivals are the relay's share, plus Redis delivery).
 */
export function tradeEventTimes(databaseUrl: string, prefix: string): Promise<Map<string, { created: number }>> {
  return withPg(databaseUrl, async (pg) => {
    const { rows } = await pg.query(
      `select payload->'trade'->>'tradeId' as "tradeId", (extract(epoch from created_at) * 1000)::text as created
       from execution.outbox where topic = 'TRADE_EXECUTED' and starts_with(account_id, $1)`,
      [`${prefix}-`],
    );
    return new Map(rows.map((r: { tradeId: string; created: string }) => [String(r.tradeId), { created: Number(r.created) }]));
  });
}

/** The outbox as the database has it at the end, and the rows around the first anomalies on the channel. */
export function outboxSummary(databaseUrl: string, around: string[]) {
  return withPg(databaseUrl, async (pg) => {
    // Published: at or below the relay's watermark.
    const { rows: [totals] } = await pg.query(
      `with s as (select last_sequence, published_sequence from execution.outbox_state where id = 1)
       select count(*)::int as rows, count(*) filter (where sequence is null)::int as unsequenced,
              count(*) filter (where sequence is null or sequence > (select published_sequence from s))::int as unpublished,
              max(sequence)::text as "maxSequence", (count(sequence) - count(distinct sequence))::int as "repeatedSequences",
              (select last_sequence::text from s) as "lastSequence", (select published_sequence::text from s) as "publishedSequence"
       from execution.outbox`,
    );
    const neighbourhood = around.length
      ? (await pg.query(
        `select o.sequence::text as seq, o.topic, o.created_at as "createdAt", o.sequence <= s.published_sequence as published
         from execution.outbox o, execution.outbox_state s
         where s.id = 1 and exists (select 1 from unnest($1::bigint[]) a where o.sequence between a - 3 and a + 3) order by o.sequence`,
        [around],
      )).rows
      : [];
    return { ...totals, neighbourhood };
  });
}
