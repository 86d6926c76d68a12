import { Migration } from '@mikro-orm/migrations';

/**
 * API keys: a key is shown once at creation and stored only as the hex SHA-256 of the whole key. The unique
 * constraint on the hash is the index authentication looks keys up by; `prefix` (a few characters after `tq_`)
 * lets an operator recognise a key in a listing without being enough to use it.
 */
export class Migration20261127000003_api_keys extends Migration {
  override up(): void {
    this.addSql(`
      create table execution.api_keys (
        key_id uuid primary key,
        name varchar(100) not null,
        role varchar(16) not null check (role in ('viewer', 'trader', 'admin')),
        key_hash char(64) not null check (key_hash ~ '^[0-9a-f]{64}$'),
        prefix varchar(12) not null,
        -- no foreign key is possible on an array: the accounts are checked when the key is created
        account_ids text[] not null default '{}',
        created_at timestamptz not null default now(),
        last_used_at timestamptz,
        revoked_at timestamptz,
        constraint api_keys_key_hash_key unique (key_hash)
      )`);
  }

  override down(): void {
    this.addSql(`drop table execution.api_keys`);
  }
}
