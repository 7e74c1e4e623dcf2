import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AesGcmCodec,
  MemoryCache,
  MemoryCounters,
  StaticKeyring,
  encryptedCache,
  isDreamAgentError,
  type Json,
} from 'dream-agent';

const codec = (): AesGcmCodec =>
  new AesGcmCodec(new StaticKeyring({ keys: { k1: new Uint8Array(randomBytes(32)) }, current: 'k1' }));

describe('encryptedCache', () => {
  it('round-trips any JSON value; the backend holds only a sealed string bound to its key', async () => {
    const inner = new MemoryCache();
    const cache = encryptedCache(inner, { codec: codec() });
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1 }), fc.jsonValue(), async (key, value) => {
        await cache.set(key, value as Json, 60_000);
        const stored = await inner.get(key);
        expect(typeof stored).toBe('string');
        expect(String(stored).startsWith('da1.k1.')).toBe(true);
        // JSON round trip: -0 becomes 0 as it does in every store.
        expect(await cache.get(key)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 100 },
    );
  });

  it('a flipped byte, an entry moved onto another key, a wrong key or plaintext → DECRYPTION_FAILED', async () => {
    const inner = new MemoryCache();
    const c = codec();
    const cache = encryptedCache(inner, { codec: c });
    await cache.set('a', { secret: 'alpha' }, 60_000);
    const sealed = String(await inner.get('a'));
    const refused = async (p: Promise<unknown>): Promise<void> => {
      const e = await p.then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isDreamAgentError(e, 'DECRYPTION_FAILED'), String(e)).toBe(true);
    };
    const last = sealed.length - 3;
    await inner.set(
      'a',
      sealed.slice(0, last) + (sealed[last] === 'A' ? 'B' : 'A') + sealed.slice(last + 1),
      60_000,
    );
    await refused(cache.get('a'));
    await inner.set('b', sealed, 60_000);
    await refused(cache.get('b'));
    await inner.set('a', sealed, 60_000);
    await refused(encryptedCache(inner, { codec: codec() }).get('a'));
    await inner.set('p', { secret: 'plain' }, 60_000);
    await refused(cache.get('p'));
    expect(await cache.get('a')).toEqual({ secret: 'alpha' });
    expect(await cache.get('missing')).toBeUndefined();
  });

  it('passes counters, deletes and session erasure through to the backend', async () => {
    const counters = new MemoryCounters();
    const inner = Object.assign(new MemoryCache(), {
      increment: (k: string, by: number, ttl: number) => counters.increment(k, by, ttl),
    });
    const cache = encryptedCache(inner, { codec: codec() });
    expect(await cache.increment?.('n', 5, 60_000)).toBe(5);
    expect(await counters.increment('n', 0, 60_000)).toBe(5);
    await cache.set('x', 1, 60_000, { sessionId: 's1' });
    await cache.set('y', 2, 60_000, { sessionId: 's2' });
    expect(await cache.eraseSession?.('s1')).toBe(1);
    expect(await inner.get('x')).toBeUndefined();
    await cache.delete('y');
    expect(await inner.get('y')).toBeUndefined();
  });
});
