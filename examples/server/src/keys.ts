/**
 * Where the example server keeps its API keys. With several nodes every node must see a key the moment
 * another node issues or revokes it, so with `REDIS_URL` the records live in one Redis hash; without it
 * (one node) they stay in memory. Only hashes of the secrets are stored.
 */
import type { ApiKeyRecord } from './auth.js';

/** The API-key records, shared by every node that uses the same backend. */
export interface ApiKeyStore {
  put(record: ApiKeyRecord): Promise<void>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  list(): Promise<ApiKeyRecord[]>;
  close?(): Promise<void>;
}

/** One process only: keys vanish on restart and other nodes never see them. */
export class MemoryApiKeyStore implements ApiKeyStore {
  readonly #keys = new Map<string, ApiKeyRecord>();
  put(record: ApiKeyRecord): Promise<void> {
    this.#keys.set(record.id, { ...record, roles: [...record.roles] });
    return Promise.resolve();
  }
  get(id: string): Promise<ApiKeyRecord | undefined> {
    const r = this.#keys.get(id);
    return Promise.resolve(r ? { ...r, roles: [...r.roles] } : undefined);
  }
  list(): Promise<ApiKeyRecord[]> {
    return Promise.resolve([...this.#keys.values()].map((r) => ({ ...r, roles: [...r.roles] })));
  }
}

interface RedisLike {
  hset(key: string, field: string, value: string): Promise<unknown>;
  hget(key: string, field: string): Promise<string | null>;
  hvals(key: string): Promise<string[]>;
  quit(): Promise<unknown>;
}

/** Keys in one Redis hash (`<prefix>apikeys`), seen by every node at once. */
export class RedisApiKeyStore implements ApiKeyStore {
  readonly #redis: RedisLike;
  readonly #key: string;
  /** @param redis - an ioredis client; @param prefix - key prefix (default `dream:`) */
  constructor(redis: RedisLike, prefix = 'dream:') {
    this.#redis = redis;
    this.#key = `${prefix}apikeys`;
  }
  async put(record: ApiKeyRecord): Promise<void> {
    await this.#redis.hset(this.#key, record.id, JSON.stringify(record));
  }
  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const v = await this.#redis.hget(this.#key, id);
    return v === null ? undefined : (JSON.parse(v) as ApiKeyRecord);
  }
  async list(): Promise<ApiKeyRecord[]> {
    return (await this.#redis.hvals(this.#key)).map((v) => JSON.parse(v) as ApiKeyRecord);
  }
  async close(): Promise<void> {
    await this.#redis.quit();
  }
}

/**
 * The key store for a configuration: Redis when `redisUrl` is set, memory otherwise.
 *
 * @param redisUrl - the shared Redis, if any
 * @returns the store
 */
export async function createApiKeyStore(redisUrl: string | undefined): Promise<ApiKeyStore> {
  if (!redisUrl) return new MemoryApiKeyStore();
  const { Redis } = (await import('ioredis' as string)) as {
    Redis: new (url: string, opts: Record<string, unknown>) => RedisLike;
  };
  return new RedisApiKeyStore(new Redis(redisUrl, { maxRetriesPerRequest: 2, lazyConnect: false }));
}
