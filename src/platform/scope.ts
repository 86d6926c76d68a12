/** What a service call needs from the request it serves: the database, its read session, and a logger. */
import type { Database } from './database';
import type { Logger } from './logger';
import type { ReadSession } from './read-session';

export interface Scope {
  db: Database;
  reads: ReadSession;
  log: Logger;
}
