import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Json } from '../../src/model/json.js';
import { canonicalJson, toolCacheKey } from '../../src/tools/canonical.js';

/** Rebuilds every object of a value with its keys in a shuffled order. */
function shuffleKeys(value: Json, seed: number): Json {
  if (Array.isArray(value)) return value.map((v, i) => shuffleKeys(v, seed + i));
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    // Deterministic permutation from the seed.
    const order = keys
      .map((k, i) => ({ k, r: Math.sin(seed * 9301 + i * 49297) }))
      .sort((a, b) => a.r - b.r)
      .map((x) => x.k);
    // fromEntries, not assignment: a "__proto__" key must stay an own property.
    return Object.fromEntries(order.map((k) => [k, shuffleKeys(value[k] as Json, seed + 1)]));
  }
  return value;
}

const json = fc.jsonValue() as fc.Arbitrary<Json>;

describe('canonicalJson', () => {
  it('sorts keys at every depth and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: null, y: true }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[1,{"y":true,"z":null}]},"b":1}',
    );
  });

  it('writes -0 as 0 and rejects non-finite numbers', () => {
    expect(canonicalJson({ n: -0 })).toBe('{"n":0}');
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(/non-finite/);
  });

  it('property: key order never changes the canonical form or the cache key', () => {
    fc.assert(
      fc.property(json, fc.integer(), (value, seed) => {
        const shuffled = shuffleKeys(value, seed);
        expect(canonicalJson(shuffled)).toBe(canonicalJson(value));
        expect(toolCacheKey('t', '1', shuffled)).toBe(toolCacheKey('t', '1', value));
      }),
      { numRuns: 300 },
    );
    // The case fast-check once found: a "__proto__" key.
    const tricky = JSON.parse('{"b":1,"__proto__":{"x":null}}') as Json;
    expect(canonicalJson(tricky)).toBe('{"__proto__":{"x":null},"b":1}');
  });

  it('property: the canonical form parses back to an equal value', () => {
    fc.assert(
      fc.property(json, (value) => {
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 300 },
    );
  });

  it('property: different values give different keys', () => {
    fc.assert(
      fc.property(json, json, (a, b) => {
        fc.pre(canonicalJson(a) !== canonicalJson(b));
        expect(toolCacheKey('t', '1', a)).not.toBe(toolCacheKey('t', '1', b));
      }),
      { numRuns: 200 },
    );
  });

  it('keys differ by tool name and version', () => {
    const input = { a: 1 };
    expect(toolCacheKey('t', '1', input)).not.toBe(toolCacheKey('t', '2', input));
    expect(toolCacheKey('t', '1', input)).not.toBe(toolCacheKey('u', '1', input));
    expect(toolCacheKey('a@b', '1', input)).not.toBe(toolCacheKey('a', 'b@1', input));
  });
});
