import type { Json } from '../model/json.js';

/** Options of {@link Cache.set}. */
export interface CacheSetOptions {
  /**
   * The session on whose behalf the entry is written (the tool executor passes the todo's session). A
   * cache that implements {@link Cache.eraseSession} records it, so erasing the session removes the entry.
   */
  sessionId?: string;
}

/**
 * A key/value cache with TTL (the execution cache). Implementations: memory LRU (core), Redis (adapter).
 * A cache must never fail a run: callers treat errors as misses.
 *
 * Keys are shared across sessions (tool, version and a hash of the input), so one session can be served
 * an entry another session wrote. For erasure, a cache records which sessions wrote each entry
 * (`set(…, { sessionId })`) and {@link Cache.eraseSession} removes every entry a session wrote — also
 * when other sessions could still have hit it (they simply run the tool again). Entries a session only
 * read are left to the sessions that wrote them.
 */
export interface Cache {
  /**
   * @param key - the cache key
   * @returns the value, or undefined on a miss or after expiry
   */
  get(key: string): Promise<Json | undefined>;
  /**
   * Stores a value under `key` for `ttlMs`, replacing any earlier one. A cache may decline to store it
   * (too large, evicted early): callers treat the cache as an optimisation, never as storage.
   *
   * @param key - the cache key
   * @param value - a JSON value
   * @param ttlMs - time to live in ms
   * @param options - the session writing the entry (recorded for {@link Cache.eraseSession})
   */
  set(key: string, value: Json, ttlMs: number, options?: CacheSetOptions): Promise<void>;
  /**
   * Removes the entry under `key`, if any (a no-op for a missing key).
   *
   * @param key - the key to remove
   */
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
  /**
   * Optional, with `increment`: removes a counter (token budgets erase a tenant's counters with it when
   * the tenant's data is erased). Like `increment` it must fail loudly.
   *
   * @param key - the counter
   * @throws DreamAgentError `UNAVAILABLE` when the counter cannot be reached
   */
  deleteCounter?(key: string): Promise<void>;

  /**
   * Optional: removes every entry written with `set(…, { sessionId })` for this session, and the record
   * of them. `agent.deleteSession` (and so `expireSessions`) calls it before erasing the session's rows.
   * Unlike the other methods it must not swallow errors: an erasure that could not reach the backend
   * throws, so the caller retries it.
   *
   * @param sessionId - the session
   * @returns how many entries were removed
   */
  eraseSession?(sessionId: string): Promise<number>;
  /** Releases connections (optional). */
  close?(): Promise<void>;
}
