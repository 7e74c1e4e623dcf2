import { describe, expect, it } from 'vitest';
import { collectRefs, getPath, resolveInput } from '../../src/dag/refs.js';
import { isDreamAgentError } from '../../src/errors/index.js';
import type { Json, JsonObject } from '../../src/model/json.js';
import { ref } from './helpers.js';

describe('collectRefs', () => {
  it('finds references at any depth, in document order', () => {
    const input: Json = { a: ref('x'), b: [1, { c: ref('y', 'rows.0') }, [ref('z')]], d: 'text', e: null };
    expect(collectRefs(input)).toEqual([{ $ref: 'x' }, { $ref: 'y', path: 'rows.0' }, { $ref: 'z' }]);
  });

  it('ignores look-alikes', () => {
    expect(collectRefs({ a: { $ref: 1 }, b: { $ref: 'x', extra: true }, c: { $ref: 'x', path: 3 } })).toEqual(
      [],
    );
    expect(collectRefs('$ref')).toEqual([]);
  });

  it('does not descend into a reference', () => {
    expect(collectRefs(ref('x'))).toEqual([{ $ref: 'x' }]);
  });
});

describe('getPath', () => {
  const value: Json = { rows: [{ total: 5 }, { total: 7 }], meta: { '0': 'zero', n: null }, flag: false };
  it.each<[string | undefined, Json | undefined]>([
    [undefined, value],
    ['', value],
    ['rows.1.total', 7],
    ['rows.0', { total: 5 }],
    ['meta.0', 'zero'],
    ['meta.n', null],
    ['flag', false],
    ['rows.2', undefined],
    ['rows.-1', undefined],
    ['rows.01', undefined],
    ['rows.total', undefined],
    ['flag.x', undefined],
    ['meta.n.x', undefined],
    ['constructor', undefined],
    ['__proto__', undefined],
    ['rows.length', undefined],
  ])('path %j', (path, expected) => {
    expect(getPath(value, path)).toEqual(expected);
  });
});

describe('resolveInput', () => {
  const outputs = new Map<string, Json>([
    ['fetch', { rows: [{ total: 5, region: 'EU' }], count: 1 }],
    ['flag', false],
  ]);

  it('replaces references by typed values, at any depth', () => {
    const input: JsonObject = {
      total: ref('fetch', 'rows.0.total'),
      first: ref('fetch', 'rows.0'),
      all: ref('fetch'),
      nested: [{ c: ref('fetch', 'count') }, 'literal'],
      falsy: ref('flag'),
      keep: { x: 1 },
    };
    expect(resolveInput(input, outputs)).toEqual({
      total: 5,
      first: { total: 5, region: 'EU' },
      all: { rows: [{ total: 5, region: 'EU' }], count: 1 },
      nested: [{ c: 1 }, 'literal'],
      falsy: false,
      keep: { x: 1 },
    });
  });

  it('never mutates its arguments nor aliases outputs', () => {
    const input: JsonObject = { first: ref('fetch', 'rows.0') };
    const before = structuredClone(input);
    const outputsBefore = structuredClone([...outputs]);
    const resolved = resolveInput(input, outputs);
    (resolved['first'] as JsonObject)['total'] = 999;
    expect(input).toEqual(before);
    expect([...outputs]).toEqual(outputsBefore);
  });

  it('keeps "__proto__" keys as data', () => {
    const input = JSON.parse('{"__proto__": {"polluted": true}, "v": {"$ref": "flag"}}') as JsonObject;
    const resolved = resolveInput(input, outputs);
    expect(Object.getPrototypeOf(resolved)).toBe(Object.prototype);
    expect(Object.hasOwn(resolved, '__proto__')).toBe(true);
    expect(resolved['v']).toBe(false);
  });

  it.each<[JsonObject, string]>([
    [{ x: ref('missing') }, 'input.x: references the output of "missing", which has no output'],
    [
      { a: [0, { b: ref('fetch', 'rows.3.total') }] },
      'input.a.1.b: path "rows.3.total" does not exist in the output of "fetch"',
    ],
    [{ y: ref('flag', 'x') }, 'input.y: path "x" does not exist in the output of "flag"'],
  ])('throws INVALID_INPUT for %j', (input, message) => {
    let caught: unknown;
    try {
      resolveInput(input, outputs);
    } catch (e) {
      caught = e;
    }
    expect(isDreamAgentError(caught, 'INVALID_INPUT')).toBe(true);
    expect((caught as Error).message).toBe(message);
  });
});
