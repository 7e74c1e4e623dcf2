import { Redis } from 'ioredis';
import { DreamAgentError, type Cache, type CacheSetOptions, type Json } from 'dream-agent';

/** How the Redis adapters reach Redis: your own ioredis client, or a URL (the adapter owns that client). */
export type RedisConnection = { client: Redis } | { url: string };

/** Options of {@link RedisCache}. */
export type RedisCacheOptions = RedisConnection & {
  /** Key prefix separating this cache from everything else in the database (default `dream-agent:cache`). */
  namespace?: string;
  /**
   * A version baked into every key (default `1`). Bumping it invalidates every entry at once (old keys
   * simply expire), e.g. when the shape of cached tool results changes in a deploy.
   */
  version?: string | number;
  /** How long one Redis call may take before it counts as a miss (default 250 ms). */
  timeoutMs?: number;
};

/** Counters of a {@link RedisCache}. */
export interface CacheMetrics {
  hits: number;
  misses: number;
  sets: number;
  /** Calls that failed or timed out (each `get` among them also counted as a miss). */
  errors: number;
}

/**
 * @internal creates an ioredis client for an adapter: commands issued while (re)connecting wait in the
 * offline queue, but each is rejected after one failed reconnection attempt (so an outage never grows
 * the queue without bound), and every call is also bounded by the adapter's own timeout.
 */
export function ownClient(url: string): Redis {
  const client = new Redis(url, {
    enableOfflineQueue: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(times * 100, 2_000),
  });
  client.on('error', () => undefined);
  return client;
}

/** @internal resolves `p`, or rejects after `ms`. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`redis ${what} timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** INCRBY, and an expiry on a counter that has none yet (one round trip, atomic). */
const INCREMENT_SCRIPT = `local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return v`;

/**
 * Writes an entry and records it in its session's index, in one atomic step: `SET key value PX ttl`,
 * `SADD index key`, and the index lives at least as long as its longest-lived entry (`PTTL` checked, so
 * it works on Redis before 7's `PEXPIRE … GT`).
 */
const SET_AND_INDEX = `redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], KEYS[1])
local ttl = tonumber(ARGV[2])
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1`;

/** How many keys one erasure `SSCAN`/`DEL` round handles. */
const ERASE_BATCH = 500;

/**
 * The execution {@link Cache} on Redis: TTL per entry (`SET … PX`), a namespace and a version in
 * every key, and hit/miss/error counters. It never fails a run: when Redis is down or slow, `get` is a
 * miss and `set`/`delete` are skipped (and counted in {@link RedisCache.metrics}).
 *
 * Erasure: an entry written for a session (`set(…, { sessionId })`, as the tool executor does) is also
 * recorded in a per-session set at `<namespace>:writers:<sessionId>` (expiring with the entries), and
 * {@link RedisCache.eraseSession} deletes every entry in it — whatever cache version wrote it.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * const cache = new RedisCache({ client: new Redis(process.env.REDIS_URL!), namespace: 'acme:agent' });
 * const agent = new Agent({ store, cache });
 * ```
 */
export class RedisCache implements Cache {
  readonly #client: Redis;
  readonly #owned: boolean;
  readonly #prefix: string;
  readonly #writersPrefix: string;
  readonly #timeoutMs: number;
  readonly #metrics: CacheMetrics = { hits: 0, misses: 0, sets: 0, errors: 0 };

  /**
   * @param options - your ioredis client or a URL, namespace, version, timeout; a string is taken as the URL
   */
  constructor(options: RedisCacheOptions | string) {
    const opts: RedisCacheOptions = typeof options === 'string' ? { url: options } : options;
    this.#owned = !('client' in opts);
    this.#client = 'client' in opts ? opts.client : ownClient(opts.url);
    const namespace = opts.namespace ?? 'dream-agent:cache';
    this.#prefix = `${namespace}:v${String(opts.version ?? 1)}:`;
    this.#writersPrefix = `${namespace}:writers:`;
    this.#timeoutMs = opts.timeoutMs ?? 250;
  }

  /**
   * The Redis key of a cache key.
   *
   * @param key - the cache key
   * @returns `<namespace>:v<version>:<key>`
   */
  keyOf(key: string): string {
    return `${this.#prefix}${key}`;
  }

  async get(key: string): Promise<Json | undefined> {
    try {
      const text = await withTimeout(this.#client.get(this.keyOf(key)), this.#timeoutMs, 'GET');
      if (text === null) {
        this.#metrics.misses += 1;
        return undefined;
      }
      this.#metrics.hits += 1;
      return JSON.parse(text) as Json;
    } catch {
      this.#metrics.errors += 1;
      this.#metrics.misses += 1;
      return undefined;
    }
  }

  /**
   * The Redis key of a session's index of the entries it wrote.
   *
   * @param sessionId - the session
   * @returns `<namespace>:writers:<sessionId>`
   */
  writersKeyOf(sessionId: string): string {
    return `${this.#writersPrefix}${sessionId}`;
  }

  async set(key: string, value: Json, ttlMs: number, options?: CacheSetOptions): Promise<void> {
    try {
      if (!(ttlMs > 0)) {
        await withTimeout(this.#client.del(this.keyOf(key)), this.#timeoutMs, 'DEL');
        return;
      }
      const text = JSON.stringify(value);
      const ms = Math.ceil(ttlMs);
      const sessionId = options?.sessionId;
      await withTimeout(
        sessionId === undefined
          ? this.#client.set(this.keyOf(key), text, 'PX', ms)
          : this.#client.eval(SET_AND_INDEX, 2, this.keyOf(key), this.writersKeyOf(sessionId), text, ms),
        this.#timeoutMs,
        'SET',
      );
      this.#metrics.sets += 1;
    } catch {
      this.#metrics.errors += 1;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await withTimeout(this.#client.del(this.keyOf(key)), this.#timeoutMs, 'DEL');
    } catch {
      this.#metrics.errors += 1;
    }
  }

  /**
   * Adds to an integer counter atomically (`INCRBY`, and `PEXPIRE` when the counter is new), for the
   * agent's per-tenant token budgets: every node sharing this Redis shares the counts.
   *
   * @param key - the counter (namespaced like every key)
   * @param by - an integer to add (0 reads the counter)
   * @param ttlMs - lifetime of a new counter
   * @returns the value after the addition
   * @throws DreamAgentError `UNAVAILABLE` when Redis does not answer (a budget must not pass silently)
   */
  async increment(key: string, by: number, ttlMs: number): Promise<number> {
    try {
      const v = await withTimeout(
        this.#client.eval(
          INCREMENT_SCRIPT,
          1,
          this.keyOf(key),
          Math.trunc(by),
          Math.max(1, Math.ceil(ttlMs)),
        ),
        this.#timeoutMs,
        'INCRBY',
      );
      return Number(v);
    } catch (cause) {
      this.#metrics.errors += 1;
      throw new DreamAgentError('UNAVAILABLE', 'the Redis counter could not be updated', {
        cause,
        retryable: true,
      });
    }
  }

  /**
   * Removes a counter made by {@link increment} (a tenant's token-budget counters, on tenant erasure).
   *
   * @param key - the counter (namespaced like every key)
   * @throws DreamAgentError `UNAVAILABLE` when Redis does not answer (the erasure is not done: retry)
   */
  async deleteCounter(key: string): Promise<void> {
    try {
      await withTimeout(this.#client.del(this.keyOf(key)), this.#timeoutMs, 'DEL');
    } catch (cause) {
      this.#metrics.errors += 1;
      throw new DreamAgentError('UNAVAILABLE', 'the Redis counter could not be deleted', {
        cause,
        retryable: true,
      });
    }
  }

  /**
   * Deletes every entry written for the session, then its index (see {@link Cache.eraseSession}). Entries
   * other sessions wrote under the same key are deleted too (the key is shared; they run the tool again).
   *
   * @param sessionId - the session
   * @returns how many entries were deleted
   * @throws DreamAgentError `UNAVAILABLE` (retryable) when Redis cannot be reached: the erasure is not
   *   complete, and calling again finishes it
   */
  async eraseSession(sessionId: string): Promise<number> {
    const index = this.writersKeyOf(sessionId);
    try {
      let removed = 0;
      let cursor = '0';
      do {
        const [next, keys] = await withTimeout(
          this.#client.sscan(index, cursor, 'COUNT', ERASE_BATCH),
          this.#timeoutMs,
          'SSCAN',
        );
        cursor = next;
        if (keys.length > 0) removed += await withTimeout(this.#client.del(...keys), this.#timeoutMs, 'DEL');
      } while (cursor !== '0');
      await withTimeout(this.#client.del(index), this.#timeoutMs, 'DEL');
      return removed;
    } catch (err) {
      this.#metrics.errors += 1;
      throw new DreamAgentError('UNAVAILABLE', `could not erase the cache entries of "${sessionId}"`, {
        retryable: true,
        cause: err,
        details: { sessionId },
      });
    }
  }

  /** @returns a copy of the hit/miss/set/error counters */
  metrics(): CacheMetrics {
    return { ...this.#metrics };
  }

  /** Closes the client when this cache created it (a client you passed in stays yours). */
  async close(): Promise<void> {
    if (this.#owned) this.#client.disconnect();
    await Promise.resolve();
  }
}
