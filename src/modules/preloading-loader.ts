/**
 * A DataLoader whose values can also be loaded ahead, in one batch, by the resolver that returns their parents: the
 * trades and the account of a page of orders, loaded by `orders` once it has the page. Values loaded ahead are then
 * answered without a promise. The statements are the same ones (one batch per field); what goes is a promise per
 * parent, which graphql-jit follows with a `then` and its closures, and which AsyncLocalStorage's hooks see: on a
 * page of 100 orders with their trades and account, 200 of them.
 */
import DataLoader from 'dataloader';

const isPromise = (value: unknown): value is Promise<unknown> => typeof (value as { then?: unknown } | null)?.then === 'function';

export class PreloadingLoader<K, V> {
  private readonly known = new Map<K, V>();
  private readonly loader: DataLoader<K, V>;
  private readonly cache: boolean;

  /** `batch` answers for every key, in the keys' order (DataLoader's contract). */
  constructor(private readonly batch: (keys: readonly K[]) => Promise<V[]>, options: { cache?: boolean } = {}) {
    this.cache = options.cache ?? true;
    this.loader = new DataLoader(batch, { cache: this.cache });
  }

  /** The value, as it is when it was loaded ahead, otherwise promised through the request's batch. */
  load(key: K): V | Promise<V> {
    const value = this.known.get(key);
    if (value !== undefined || this.known.has(key)) return value as V;
    return this.loader.load(key);
  }

  /**
   * Loads the keys not known yet in one batch. Without a cache (a subscription's context, which outlives each
   * event) nothing is kept, so nothing can go stale: the fields load through the batch as before.
   */
  async preload(keys: readonly K[]): Promise<void> {
    if (!this.cache) return;
    const missing = [...new Set(keys)].filter((key) => !this.known.has(key));
    if (!missing.length) return;
    const values = await this.batch(missing);
    for (let i = 0; i < missing.length; i++) this.known.set(missing[i], values[i]);
  }
}

/** A value that must be there, promised or not: the error `missing` gives when it is null. */
export function required<V>(value: V | null | Promise<V | null>, missing: () => Error): V | Promise<V> {
  if (isPromise(value)) return value.then((v) => v ?? Promise.reject(missing()));
  if (value == null) throw missing();
  return value;
}
