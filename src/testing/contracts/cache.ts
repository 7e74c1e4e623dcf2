import { describe, expect, it } from './api.js';
import type { Cache } from '../../ports/cache.js';

/** What a Cache factory returns. */
export interface CacheContractSubject {
  /** A fresh cache under test. */
  cache: Cache;
  /** Moves time forward by `ms` for TTL checks (a manual clock, or a real sleep for servers with their own clock). */
  advance: (ms: number) => Promise<void>;
  /** Called after each test (close connections…). */
  cleanup?: () => Promise<void>;
}

/**
 * The Cache contract suite: round-trips, misses, TTL expiry, delete, overwrite, and — for a cache that
 * implements `eraseSession` — erasure of the entries a session wrote.
 *
 * @param name - shown in the describe block
 * @param factory - creates a fresh cache
 */
export function cacheContract(name: string, factory: () => Promise<CacheContractSubject>): void {
  describe(`Cache contract: ${name}`, () => {
    const run = (title: string, fn: (s: CacheContractSubject) => Promise<void>): void => {
      it(title, async () => {
        const s = await factory();
        try {
          await fn(s);
        } finally {
          await s.cleanup?.();
        }
      });
    };
    const key = (): string => `k-${Math.random().toString(36).slice(2)}`;

    run('round-trips JSON values and misses unknown keys', async ({ cache }) => {
      const k = key();
      expect(await cache.get(k)).toBeUndefined();
      const value = { rows: [{ region: 'EMEA', total: 12.5 }], ok: true, none: null };
      await cache.set(k, value, 60_000);
      expect(await cache.get(k)).toEqual(value);
      await cache.set(k, 'replaced', 60_000);
      expect(await cache.get(k)).toBe('replaced');
    });

    run('entries expire after their TTL', async ({ cache, advance }) => {
      const k = key();
      await cache.set(k, 1, 1000);
      expect(await cache.get(k)).toBe(1);
      await advance(1500);
      expect(await cache.get(k)).toBeUndefined();
    });

    run('delete removes an entry and is a no-op for unknown keys', async ({ cache }) => {
      const k = key();
      await cache.set(k, [1, 2], 60_000);
      await cache.delete(k);
      await cache.delete(key());
      expect(await cache.get(k)).toBeUndefined();
    });

    run(
      'eraseSession (when implemented) removes the entries the session wrote, and only those',
      async ({ cache }) => {
        if (!cache.eraseSession) return; // optional method: nothing to check
        const s1 = `s-${key()}`;
        const s2 = `s-${key()}`;
        const [own, other, shared, anonymous] = [key(), key(), key(), key()];
        await cache.set(own, 'own', 60_000, { sessionId: s1 });
        await cache.set(other, 'other', 60_000, { sessionId: s2 });
        await cache.set(shared, 'first', 60_000, { sessionId: s2 });
        await cache.set(shared, 'second', 60_000, { sessionId: s1 });
        await cache.set(anonymous, 'anonymous', 60_000);
        // A read by s2 does not make s2 a writer: erasing s2 later leaves what only s1 wrote.
        expect(await cache.get(own)).toBe('own');

        expect(await cache.eraseSession(s1)).toBe(2);
        expect(await cache.get(own)).toBeUndefined();
        expect(await cache.get(shared)).toBeUndefined();
        expect(await cache.get(other)).toBe('other');
        expect(await cache.get(anonymous)).toBe('anonymous');
        expect(await cache.eraseSession(s1)).toBe(0);
        expect(await cache.eraseSession(`s-${key()}`)).toBe(0);

        // The session can write again after its erasure, and a second erasure removes that too.
        await cache.set(own, 'again', 60_000, { sessionId: s1 });
        expect(await cache.eraseSession(s1)).toBe(1);
        expect(await cache.get(own)).toBeUndefined();
        expect(await cache.eraseSession(s2)).toBe(1);
        expect(await cache.get(other)).toBeUndefined();
        expect(await cache.get(anonymous)).toBe('anonymous');
      },
    );
  });
}
