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

/** The outbox times of the run's trade events, by tradeId. */
export function tradeEventTimes(databaseUrl: string, accountId: string): Promise<Map<string, { created: number; published: number }>> {
  return withPg(databaseUrl, async (pg) => {
    const { rows } = await pg.query(
      `select payload->'trade'->>'tradeId' as "tradeId", (extract(epoch from created_at) * 1000)::text as created,
              (extract(epoch from published_at) * 1000)::text as published
       from execution.outbox where topic = 'TRADE_EXECUTED' and account_id = $1`,
      [accountId],
    );
    return new Map(rows.map((r: { tradeId: string; created: string; published: string | null }) =>
      [String(r.tradeId), { created: Number(r.created), published: r.published === null ? NaN : Number(r.published) }]));
  });
}

/** The outbox as the database has it at the end, and the rows around the first anomalies on the channel. */
export function outboxSummary(databaseUrl: string, around: string[]) {
  return withPg(databaseUrl, async (pg) => {
    const { rows: [totals] } = await pg.query(
      `select count(*)::int as rows, count(*) filter (where sequence is null)::int as unsequenced,
              count(*) filter (where published_at is null)::int as unpublished, max(sequence)::text as "maxSequence",
              (count(sequence) - count(distinct sequence))::int as "repeatedSequences",
              (select last_sequence::text from execution.outbox_state where id = 1) as "lastSequence"
       from execution.outbox`,
    );
    const neighbourhood = around.length
      ? (await pg.query(
        `select o.sequence::text as seq, o.topic, o.created_at as "createdAt", o.published_at as "publishedAt" from execution.outbox o
         where exists (select 1 from unnest($1::bigint[]) a where o.sequence between a - 3 and a + 3) order by o.sequence`,
        [around],
      )).rows
      : [];
    return { ...totals, neighbourhood };
  });
}
