/** What a service call needs from the request it serves: the database, its read session, a logger, the outbox. */
import type { Database } from './database';
import type { Logger } from './logger';
import type { ReadSession } from './read-session';
import type { OutboxSignal } from './outbox';
import type { DbAccess } from './db-access';

export interface Scope {
  db: Database;
  reads: ReadSession;
  log: Logger;
  /** wake the outbox relay after a commit that wrote events */
  outbox: OutboxSignal;
  /** the request's API key as the database sees it (row-level security, audit); none for system work */
  access?: DbAccess;
}
