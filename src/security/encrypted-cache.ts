/**
 * `encryptedCache` wraps a {@link Cache} so that the values it holds — cached tool outputs, which are as
 * sensitive as the todo outputs `encryptedStore` seals — reach the backend (Redis, memory) only as
 * ciphertext. Keys stay readable (they are a tool name, its version and a hash of the input); counters
 * (`increment`, used by token budgets) hold numbers and are passed through.
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../errors/index.js';
import type { Json } from '../model/json.js';
import type { Cache, CacheSetOptions } from '../ports/cache.js';
import type { Codec, CodecContext } from './codec.js';

/** Options of {@link encryptedCache}. */
export interface EncryptedCacheOptions {
  /** Seals and opens the cached values (the same codec as the store's is fine). */
  codec: Codec;
}

/**
 * Cache entries are shared across sessions (and so across the tenants of a shared cache): they are
 * sealed under the key provider's tenant-less key, so that any session can open an entry another one
 * wrote.
 */
const CONTEXT: CodecContext = Object.freeze({ sessionId: '' });

/** Associated data of an entry: the cache key, so an entry copied onto another key fails to open. */
const aadOf = (key: string): string => `cache\u0000${key}`;

/**
 * Wraps a cache so that every value is sealed by `codec` before it is stored, bound (through the codec's
 * associated data) to its cache key: an entry copied onto another key, a flipped byte, a wrong key or a
 * plaintext value written behind the wrapper's back fails to open with `DECRYPTION_FAILED`, which the
 * tool executor treats as a miss (it logs a warning and runs the tool). `Agent` wraps its cache this way
 * when given `codec`.
 *
 * @param cache - the backend cache
 * @param options - the codec
 * @returns a Cache with the same contract whose stored values are ciphertext
 * @example
 * ```ts
 * const codec = new AesGcmCodec(keys);
 * const cache = encryptedCache(new RedisCache({ client }), { codec });
 * ```
 */
export function encryptedCache(cache: Cache, options: EncryptedCacheOptions): Cache {
  const codec = options.codec;
  const wrapped: Cache = {
    async get(key: string): Promise<Json | undefined> {
      const raw = await cache.get(key);
      if (raw === undefined) return undefined;
      if (typeof raw !== 'string') {
        throw new DreamAgentError('DECRYPTION_FAILED', 'plaintext cache entry refused', {
          details: { record: 'cache' },
        });
      }
      return codec.open(raw, aadOf(key), CONTEXT);
    },
    async set(key: string, value: Json, ttlMs: number, setOptions?: CacheSetOptions): Promise<void> {
      const sealed = await codec.seal(value, aadOf(key), CONTEXT);
      return setOptions === undefined
        ? cache.set(key, sealed, ttlMs)
        : cache.set(key, sealed, ttlMs, setOptions);
    },
    delete: (key: string) => cache.delete(key),
  };
  if (cache.increment) wrapped.increment = cache.increment.bind(cache);
  if (cache.deleteCounter) wrapped.deleteCounter = cache.deleteCounter.bind(cache);
  if (cache.eraseSession) wrapped.eraseSession = cache.eraseSession.bind(cache);
  if (cache.close) wrapped.close = cache.close.bind(cache);
  return wrapped;
}
