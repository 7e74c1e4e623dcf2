/**
 * `@dream-agent/redis`: the execution {@link RedisCache} (TTL, namespaces, versioned keys, metrics)
 * and a pub/sub {@link RedisEventBus} with seq-based gap repair from the Store. Neither ever fails a
 * run: a Redis outage turns into cache misses and Store polling.
 *
 * @packageDocumentation
 */
export { RedisCache } from './cache.js';
export type { RedisCacheOptions, RedisConnection, CacheMetrics } from './cache.js';
export { RedisEventBus } from './bus.js';
export type { RedisEventBusOptions } from './bus.js';
