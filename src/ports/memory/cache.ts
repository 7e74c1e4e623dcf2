import type { Json } from '../../model/json.js';
import type { Cache, CacheSetOptions } from '../cache.js';

/** Options of the {@link MemoryCache}. */
export interface MemoryCacheOptions {
  /** Maximum number of entries (least recently used are evicted first; default 1,000). */
  max?: number;
  /**
   * Optional bound on the total size of stored values, in UTF-16 code units of their JSON. A single value
   * larger than the bound is not stored.
   */
  maxBytes?: number;
  /** Time source for expiry (default `Date.now`); inject a manual clock in tests. */
  clock?: {
    /** The current time, epoch ms. */
    now(): number;
  };
}

interface Entry {
  /** The value as JSON text: callers get a fresh copy, so mutating a result never corrupts the cache. */
  text: string;
  expiresAt: number;
  /** The sessions that wrote this entry (for `eraseSession`), when any did. */
  writers?: Set<string>;
}

/**
 * The in-memory execution cache: an LRU with per-entry TTL. Values are stored as JSON text, so what
 * comes out is a copy and the behaviour matches a networked cache such as Redis.
 *
 * The LRU is a `Map` in recency order (a read re-inserts the key at the end, eviction takes the first
 * key): that is all an LRU needs, and it replaced `lru-cache`, a 3.6 MB dependency whose TTL this class
 * did not use (expiry follows the injected clock, checked on read).
 *
 * @example
 * ```ts
 * const cache = new MemoryCache({ max: 10_000 });
 * await cache.set('k', { rows: 3 }, 60_000);
 * await cache.get('k'); // { rows: 3 }
 * ```
 */
export class MemoryCache implements Cache {
  readonly #entries = new Map<string, Entry>();
  /** Session id → keys of the live entries it wrote (kept in step with evictions and expiry). */
  readonly #bySession = new Map<string, Set<string>>();
  readonly #clock: { now(): number };
  readonly #max: number;
  readonly #maxBytes: number;
  #bytes = 0;

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
    this.#max = max;
    this.#maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    this.#clock = options.clock ?? { now: () => Date.now() };
  }

  /** @inheritDoc */
  get(key: string): Promise<Json | undefined> {
    const e = this.#entries.get(key);
    if (e === undefined) return Promise.resolve(undefined);
    if (this.#clock.now() >= e.expiresAt) {
      this.#remove(key, e);
      return Promise.resolve(undefined);
    }
    // Re-insert at the end: the Map's order is the recency order.
    this.#entries.delete(key);
    this.#entries.set(key, e);
    return Promise.resolve(JSON.parse(e.text) as Json);
  }

  /** @inheritDoc */
  set(key: string, value: Json, ttlMs: number, options?: CacheSetOptions): Promise<void> {
    const old = this.#entries.get(key);
    if (old !== undefined) this.#remove(key, old);
    if (!(ttlMs > 0)) return Promise.resolve();
    const text = JSON.stringify(value);
    if (text.length > this.#maxBytes) return Promise.resolve();
    const entry: Entry = { text, expiresAt: this.#clock.now() + ttlMs };
    // An overwrite keeps the earlier writers: the value may be the same one they computed.
    const writers = old?.writers;
    const sessionId = options?.sessionId;
    if (writers !== undefined || sessionId !== undefined) {
      entry.writers = writers ?? new Set();
      if (sessionId !== undefined) entry.writers.add(sessionId);
      for (const s of entry.writers) this.#index(s).add(key);
    }
    this.#entries.set(key, entry);
    this.#bytes += text.length;
    while (this.#entries.size > this.#max || this.#bytes > this.#maxBytes) {
      const oldest = this.#entries.entries().next().value;
      if (oldest === undefined) break;
      this.#remove(oldest[0], oldest[1]);
    }
    return Promise.resolve();
  }

  /** @inheritDoc */
  delete(key: string): Promise<void> {
    const e = this.#entries.get(key);
    if (e !== undefined) this.#remove(key, e);
    return Promise.resolve();
  }

  /**
   * Removes every entry the session wrote (see {@link Cache.eraseSession}).
   *
   * @param sessionId - the session
   * @returns how many entries were removed
   */
  eraseSession(sessionId: string): Promise<number> {
    const keys = this.#bySession.get(sessionId);
    let removed = 0;
    if (keys !== undefined) {
      for (const key of [...keys]) {
        const e = this.#entries.get(key);
        if (e === undefined) continue;
        this.#remove(key, e);
        removed += 1;
      }
      this.#bySession.delete(sessionId);
    }
    return Promise.resolve(removed);
  }

  /** Removes every entry. */
  clear(): void {
    this.#entries.clear();
    this.#bySession.clear();
    this.#bytes = 0;
  }

  /** The number of entries held (expired ones included until they are read or evicted). */
  get size(): number {
    return this.#entries.size;
  }

  #remove(key: string, e: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= e.text.length;
    if (e.writers === undefined) return;
    for (const s of e.writers) {
      const keys = this.#bySession.get(s);
      if (keys === undefined) continue;
      keys.delete(key);
      if (keys.size === 0) this.#bySession.delete(s);
    }
  }

  #index(sessionId: string): Set<string> {
    let keys = this.#bySession.get(sessionId);
    if (keys === undefined) {
      keys = new Set();
      this.#bySession.set(sessionId, keys);
    }
    return keys;
  }
}
