import { Migration } from '@mikro-orm/migrations';

/**
 * The transactional outbox: events are inserted in the same transaction as the data they describe; a relay gives
 * them a commit-ordered sequence, publishes them, and marks them published. The analytics synchronizer records the
 * events it has applied, so a replay changes nothing.
 */
export class Migration20261126000002_outbox extends Migration {
  override up(): void {
    this.addSql(`
      create table execution.outbox (
        event_id uuid primary key,
        topic varchar(32) not null,
        account_id varchar(64),
        symbol varchar(20),
        payload jsonb not null,
        -- clock_timestamp(), not now(): taken at insert, after the writer's row locks, so two events of one
        -- aggregate are ordered as their transactions committed
        created_at timestamptz not null default clock_timestamp(),
        -- assigned by the relay to committed rows only (see src/platform/outbox-relay.ts): a plain serial would be
        -- taken at insert and could commit out of order
        sequence bigint unique,
        published_at timestamptz
      )`);
    this.addSql(`create index idx_outbox_unsequenced on execution.outbox (created_at, event_id) where sequence is null`);
    this.addSql(`create index idx_outbox_unpublished on execution.outbox (sequence) where sequence is not null and published_at is null`);
    this.addSql(`create index idx_outbox_account_sequence on execution.outbox (account_id, sequence)`);
    this.addSql(`create index idx_outbox_published_at on execution.outbox (published_at) where published_at is not null`);
    // The last sequence handed out: survives pruning, and its row lock serialises relays handing out sequences.
    this.addSql(`create table execution.outbox_state (id integer primary key check (id = 1), last_sequence bigint not null)`);
    this.addSql(`insert into execution.outbox_state (id, last_sequence) values (1, 0)`);

    this.addSql(`
      create table analytics.processed_events (
        consumer varchar(64) not null,
        event_id uuid not null,
        sequence bigint not null,
        processed_at timestamptz not null default now(),
        primary key (consumer, event_id)
      )`);
    this.addSql(`create index idx_processed_events_sequence on analytics.processed_events (consumer, sequence desc)`);
    // The sequence of the event that last set a summary row: an older event replayed later cannot overwrite it.
    this.addSql(`alter table analytics.portfolio_summary add column quantity numeric(28,8) not null default 0`);
    this.addSql(`alter table analytics.portfolio_summary add column last_sequence bigint not null default 0`);
  }

  override down(): void {
    this.addSql(`alter table analytics.portfolio_summary drop column last_sequence, drop column quantity`);
    this.addSql(`drop table analytics.processed_events`);
    this.addSql(`drop table execution.outbox_state`);
    this.addSql(`drop table execution.outbox`);
  }
}
