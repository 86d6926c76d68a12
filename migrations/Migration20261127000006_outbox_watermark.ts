import { Migration } from '@mikro-orm/migrations';

/**
 * The relay records what it has published as one watermark, `outbox_state.published_sequence`, instead of setting
 * `published_at` on every row: a row is published when `sequence <= published_sequence`. One relay at a time (an
 * advisory lock) numbers rows in order and publishes them in sequence order, so everything at or below the highest
 * sequence it published went out. This saves an UPDATE per event (a new row version and an entry in each of the
 * outbox's indexes) and the two indexes that served `published_at`; the unique index on `sequence` serves
 * `sequence > watermark order by sequence`.
 *
 * `published_at` stays, unwritten, for one release: a gateway of the previous release can keep running during a
 * rolling upgrade. Its relay still marks rows one by one and leaves the watermark alone, so the new relay publishes
 * those rows again (at least once still holds; subscribers drop sequences they have seen), and its queries on
 * `published_at` lose their indexes for that while. Drop the column in the release after this one.
 */
export class Migration20261127000006_outbox_watermark extends Migration {
  override up(): void {
    this.addSql(`alter table execution.outbox_state add column published_sequence bigint`);
    // The highest sequence with every numbered row at or below it published: just below the first unpublished one,
    // else the last one handed out (every row up to it went out, or was pruned). Never above last_sequence, so the
    // next number handed out is above the watermark.
    this.addSql(`
      update execution.outbox_state set published_sequence = coalesce(
        (select min(sequence) - 1 from execution.outbox where sequence is not null and published_at is null), last_sequence)
      where id = 1`);
    this.addSql(`alter table execution.outbox_state alter column published_sequence set not null`);
    this.addSql(`drop index execution.idx_outbox_unpublished`);
    this.addSql(`drop index execution.idx_outbox_published_at`);
  }

  override down(): void {
    // Rows the watermark covers were published at a time nobody recorded: now() keeps them the full retention.
    this.addSql(`
      update execution.outbox set published_at = now()
      where published_at is null and sequence <= (select published_sequence from execution.outbox_state where id = 1)`);
    this.addSql(`create index idx_outbox_unpublished on execution.outbox (sequence) where sequence is not null and published_at is null`);
    this.addSql(`create index idx_outbox_published_at on execution.outbox (published_at) where published_at is not null`);
    this.addSql(`alter table execution.outbox_state drop column published_sequence`);
  }
}
