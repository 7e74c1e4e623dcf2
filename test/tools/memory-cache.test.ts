import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryCache } from '../../src/ports/memory/cache.js';

describe('MemoryCache', () => {
  it('stores copies, expires by the injected clock and evicts least recently used', async () => {
    let now = 0;
    const cache = new MemoryCache({ max: 2, clock: { now: () => now } });
    const value = { rows: [1, 2] };
    await cache.set('a', value, 100);
    value.rows.push(3);
    const got = await cache.get('a');
    expect(got).toEqual({ rows: [1, 2] });
    (got as { rows: number[] }).rows.push(9);
    expect(await cache.get('a')).toEqual({ rows: [1, 2] });
    now = 99;
    expect(await cache.get('a')).toBeDefined();
    now = 100;
    expect(await cache.get('a')).toBeUndefined();

    await cache.set('x', 1, 1000);
    await cache.set('y', 2, 1000);
    await cache.get('x'); // x is now more recent than y
    await cache.set('z', 3, 1000);
    expect(await cache.get('y')).toBeUndefined();
    expect(await cache.get('x')).toBe(1);
    await cache.delete('x');
    expect(await cache.get('x')).toBeUndefined();
    await cache.set('n', null, 1000);
    expect(await cache.get('n')).toBeNull();
  });

  it('treats a non-positive TTL as "do not store" and validates its options', async () => {
    const cache = new MemoryCache();
    await cache.set('k', 1, 0);
    expect(await cache.get('k')).toBeUndefined();
    expect(() => new MemoryCache({ max: 0 })).toThrow('MemoryCache: max must be a positive integer, got 0');
    expect(() => new MemoryCache({ maxBytes: -1 })).toThrow(
      'MemoryCache: maxBytes must be a positive integer, got -1',
    );
  });

  it('bounds total size with maxBytes', async () => {
    const cache = new MemoryCache({ max: 100, maxBytes: 25 });
    await cache.set('a', 'x'.repeat(15), 1000);
    await cache.set('b', 'y'.repeat(15), 1000);
    expect(await cache.get('a')).toBeUndefined();
    expect(await cache.get('b')).toBe('y'.repeat(15));
  });
});

describe('MemoryCache against a reference model (property)', () => {
  it('agrees with a naive LRU + TTL model for any sequence of operations', async () => {
    type Op =
      | { op: 'set'; key: string; value: string; ttl: number }
      | { op: 'get' | 'delete'; key: string }
      | { op: 'tick'; ms: number };
    const key = fc.constantFrom('a', 'b', 'c', 'd', 'e');
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        op: fc.constant('set' as const),
        key,
        value: fc.string({ maxLength: 12 }),
        ttl: fc.integer({ min: -1, max: 50 }),
      }),
      fc.record({ op: fc.constantFrom('get' as const, 'delete' as const), key }),
      fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 30 }) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }),
        fc.array(op, { maxLength: 60 }),
        async (max, maxBytes, ops) => {
          let now = 0;
          const cache = new MemoryCache({
            max,
            ...(maxBytes === undefined ? {} : { maxBytes }),
            clock: { now: () => now },
          });
          // The model: an array in recency order (oldest first).
          let model: { key: string; text: string; expiresAt: number }[] = [];
          const bytes = (): number => model.reduce((n, e) => n + e.text.length, 0);
          for (const o of ops) {
            if (o.op === 'tick') now += o.ms;
            else if (o.op === 'delete') {
              await cache.delete(o.key);
              model = model.filter((e) => e.key !== o.key);
            } else if (o.op === 'set') {
              await cache.set(o.key, o.value, o.ttl);
              model = model.filter((e) => e.key !== o.key);
              const text = JSON.stringify(o.value);
              if (o.ttl > 0 && text.length <= (maxBytes ?? Infinity)) {
                model.push({ key: o.key, text, expiresAt: now + o.ttl });
                while (model.length > max || bytes() > (maxBytes ?? Infinity)) model.shift();
              }
            } else {
              const got = await cache.get(o.key);
              const e = model.find((m) => m.key === o.key);
              model = model.filter((m) => m.key !== o.key);
              if (e !== undefined && now < e.expiresAt) {
                model.push(e);
                expect(got).toBe(JSON.parse(e.text));
              } else expect(got).toBeUndefined();
            }
            expect(cache.size).toBe(model.length);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
