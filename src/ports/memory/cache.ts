import { LRUCache } from 'lru-cache';
import type { Json } from '../../model/json.js';
import type { Cache } from '../cache.js';

/** Options of the {@link MemoryCache}. */
export interface MemoryCacheOptions {
  /** Maximum number of entries (least recently used are evicted first; default 1,000). */
  max?: number;
  /** Optional bound on the total size of stored values, in UTF-16 code units of their JSON. */
  maxBytes?: number;
  /** Time source for expiry (default `Date.now`); inject a manual clock in tests. */
  clock?: { now(): number };
}

interface Entry {
  /** The value as JSON text: callers get a fresh copy, so mutating a result never corrupts the cache. */
  text: string;
  expiresAt: number;
}

/**
 * The in-memory execution cache: an LRU with per-entry TTL. Values are stored as JSON text, so what
 * comes out is a copy and the behaviour matches a networked cache such as Redis.
 *
 * @example
 * ```ts
 * const cache = new MemoryCache({ max: 10_000 });
 * await cache.set('k', { rows: 3 }, 60_000);
 * await cache.get('k'); // { rows: 3 }
 * ```
 */
export class MemoryCache implements Cache {
  private readonly lru: LRUCache<string, Entry>;
  private readonly clock: { now(): number };

  /**
   * @param options - capacity and clock
   * @throws RangeError when `max` or `maxBytes` is not a positive integer
   */
  constructor(options: MemoryCacheOptions = {}) {
    const max = options.max ?? 1000;
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`MemoryCache: max must be a positive integer, got ${max}`);
    if (options.maxBytes !== undefined && (!Number.isInteger(options.maxBytes) || options.maxBytes < 1)) {
      throw new RangeError(`MemoryCache: maxBytes must be a positive integer, got ${options.maxBytes}`);
    }
    this.clock = options.clock ?? { now: () => Date.now() };
    this.lru =
      options.maxBytes === undefined
        ? new LRUCache<string, Entry>({ max })
        : new LRUCache<string, Entry>({
            max,
            maxSize: options.maxBytes,
            sizeCalculation: (e) => Math.max(1, e.text.length),
          });
  }

  /** @inheritDoc */
  get(key: string): Promise<Json | undefined> {
    const e = this.lru.get(key);
    if (e === undefined) return Promise.resolve(undefined);
    if (this.clock.now() >= e.expiresAt) {
      this.lru.delete(key);
      return Promise.resolve(undefined);
    }
    return Promise.resolve(JSON.parse(e.text) as Json);
  }

  /** @inheritDoc */
  set(key: string, value: Json, ttlMs: number): Promise<void> {
    if (!(ttlMs > 0)) {
      this.lru.delete(key);
      return Promise.resolve();
    }
    this.lru.set(key, { text: JSON.stringify(value), expiresAt: this.clock.now() + ttlMs });
    return Promise.resolve();
  }

  /** @inheritDoc */
  delete(key: string): Promise<void> {
    this.lru.delete(key);
    return Promise.resolve();
  }

  /** Removes every entry. */
  clear(): void {
    this.lru.clear();
  }

  /** The number of entries held (expired ones included until they are read or evicted). */
  get size(): number {
    return this.lru.size;
  }
}
