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
  /**
   * Adds `by` to an integer counter atomically, creating it at 0 with a lifetime of `ttlMs` (optional).
   * Unlike the other methods it must fail loudly: per-tenant token budgets count with it, across nodes
   * when the cache is shared (`RedisCache` implements it).
   *
   * @param key - the counter
   * @param by - what to add (0 reads it)
   * @param ttlMs - lifetime of a new counter
   * @returns the value after the addition
   * @throws DreamAgentError `UNAVAILABLE` when the counter cannot be reached
   */
  increment?(key: string, by: number, ttlMs: number): Promise<number>;
  /** Releases connections (optional). */
  close?(): Promise<void>;
}
