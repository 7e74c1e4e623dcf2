import type { Json } from '../model/json.js';

/**
 * A key/value cache with TTL (the execution cache). Implementations: memory LRU (core), Redis (adapter).
 * A cache must never fail a run: callers treat errors as misses.
 */
export interface Cache {
  /**
   * @param key - the cache key
   * @returns the value, or undefined on a miss or after expiry
   */
  get(key: string): Promise<Json | undefined>;
  /**
   * @param key - the cache key
   * @param value - a JSON value
   * @param ttlMs - time to live in ms
   */
  set(key: string, value: Json, ttlMs: number): Promise<void>;
  /** @param key - the key to remove */
  delete(key: string): Promise<void>;
  /** Releases connections (optional). */
  close?(): Promise<void>;
}
