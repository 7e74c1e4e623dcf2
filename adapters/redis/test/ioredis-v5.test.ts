/**
 * The peer range includes ioredis 5: the cache and the bus pass their contract suites with clients the user
 * built from ioredis 5 (installed here under the alias `ioredis-v5`), against a real redis-server.
 */
import type { Redis } from 'ioredis';
import { Redis as Redis5 } from 'ioredis-v5';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busContract, cacheContract } from 'dream-agent/testing';
import { RedisCache, RedisEventBus } from '@dream-agent/redis';
import { serviceSkipReason, startRedis, type RedisService } from '@dream-agent/test-services';

const skip = serviceSkipReason('redis');
/**
 * An ioredis 5 client. Both majors are installed in this repository, so TypeScript sees two `Redis`
 * classes; a user has one, and `test/packaging/peer-types.test.ts` type-checks the adapter with
 * `ioredis` resolving to version 5. Here the cast only bridges the two copies.
 */
const client5 = (url: string): Redis => new Redis5(url) as unknown as Redis;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

if (skip) {
  describe.skip(`@dream-agent/redis with ioredis 5 — skipped: ${skip}`, () => {
    it('needs redis-server', () => undefined);
  });
} else {
  let server: RedisService;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });

  cacheContract('RedisCache (ioredis 5 client)', async () => {
    const client = client5(server.url);
    const cache = new RedisCache({ client, namespace: `v5${Math.random().toString(36).slice(2)}` });
    return {
      cache,
      advance: (ms) => sleep(ms),
      cleanup: async () => {
        await cache.close();
        client.disconnect();
      },
    };
  });

  busContract('RedisEventBus (ioredis 5 clients)', async () => {
    const ca = client5(server.url);
    const cb = client5(server.url);
    const a = new RedisEventBus({ client: ca });
    const b = new RedisEventBus({ client: cb });
    return {
      a,
      b,
      cleanup: async () => {
        await a.close();
        await b.close();
        ca.disconnect();
        cb.disconnect();
      },
    };
  });

  describe('ioredis 5', () => {
    it('is the version under test', async () => {
      const { createRequire } = await import('node:module');
      const require = createRequire(import.meta.url);
      const main = require.resolve('ioredis-v5');
      const { readFileSync } = await import('node:fs');
      const { join } = await import('node:path');
      const pkg = JSON.parse(readFileSync(join(main, '../../package.json'), 'utf8')) as { version: string };
      expect(pkg.version).toMatch(/^5\./);
    });
  });
}
