/**
 * The reads of one request: where they are routed (replica unless the request must see the primary) and where they
 * were served, for the response's extensions, metrics and tests.
 */
import type { Database, ReadTarget } from './database';

export class ReadSession {
  readonly servedBy = new Set<ReadTarget>();
  statements = 0;

  constructor(private readonly db: Database, private prefer: ReadTarget = 'replica') {}

  all<T extends Record<string, any> = Record<string, any>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.db.read<T>(sql, params, this.prefer, this);
  }

  async one<T extends Record<string, any> = Record<string, any>>(sql: string, params: unknown[] = []): Promise<T | null> {
    return (await this.all<T>(sql, params))[0] ?? null;
  }

  onRead(target: ReadTarget): void {
    this.servedBy.add(target);
    this.statements++;
  }

  /** After this request wrote, its own later reads go to the primary (read-your-writes within the request). */
  preferPrimary(): void {
    this.prefer = 'primary';
  }
}
