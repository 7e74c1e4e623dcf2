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
