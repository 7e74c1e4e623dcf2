import { describe, expect, it } from 'vitest';
import { compileJsonSchema } from '../../src/tools/json-schema.js';

const compile = (
  schema: unknown,
): NonNullable<Extract<ReturnType<typeof compileJsonSchema>, { ok: true }>['validator']> => {
  const r = compileJsonSchema(schema);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.validator;
};

describe('compileJsonSchema', () => {
  it('validates the common subset and names each bad field', () => {
    const v = compile({
      type: 'object',
      properties: {
        name: { type: 'string', minLength: 2, maxLength: 5 },
        age: { type: 'integer', minimum: 0, maximum: 150 },
        kind: { enum: ['a', 'b'] },
        tags: { type: 'array', items: { type: 'string' }, maxItems: 2 },
        code: { type: 'string', pattern: '^[A-Z]{3}$' },
      },
      required: ['name', 'age'],
      additionalProperties: false,
    });
    expect(v.validate({ name: 'Al', age: 3, kind: 'a', tags: ['x'], code: 'ABC' }).ok).toBe(true);
    expect(v.validate({ name: 'A', age: -1, kind: 'c', tags: ['x', 1], code: 'abc', more: 1 })).toEqual({
      ok: false,
      issues: [
        { path: 'name', message: 'expected a string of at least 2 characters' },
        { path: 'age', message: 'expected a number >= 0' },
        { path: 'kind', message: 'expected one of "a", "b", got "c"' },
        { path: 'tags[1]', message: 'expected string, got integer' },
        { path: 'code', message: 'does not match the pattern /^[A-Z]{3}$/' },
        { path: 'more', message: 'is not an allowed property' },
      ],
    });
    expect(v.validate({})).toEqual({
      ok: false,
      issues: [
        { path: 'name', message: 'is required (expected string)' },
        { path: 'age', message: 'is required (expected number)' },
      ],
    });
  });

  it('resolves local $refs and refuses remote ones', () => {
    const v = compile({
      type: 'object',
      properties: { p: { $ref: '#/$defs/s' } },
      $defs: { s: { type: 'string' } },
    });
    expect(v.validate({ p: 1 }).ok).toBe(false);
    const r = compileJsonSchema({ $ref: 'https://evil.example/schema.json' });
    expect(r).toEqual({
      ok: false,
      issues: [
        {
          path: ['$ref'],
          message: 'only local references ("#/...") are supported, got "https://evil.example/schema.json"',
        },
      ],
    });
  });

  it('accepts patterns that would backtrack catastrophically in V8 and runs them in linear time', () => {
    // These were refused by the old static check; on the linear-time engine they are merely patterns.
    for (const p of ['(a+)+$', '(a*)*b', '(a|a)*', '(a|ab)*c', '(\\w|\\d)+$', '(.*a){12}', '(x+x+)+y']) {
      expect(compileJsonSchema({ type: 'string', pattern: p }).ok, p).toBe(true);
    }
    const v = compile({ type: 'string', pattern: '^(a+)+$' });
    expect(v.validate('a'.repeat(5_000) + '!')).toEqual({
      ok: false,
      issues: [{ path: '', message: 'does not match the pattern /^(a+)+$/' }],
    });
    expect(v.validate('aaaa').ok).toBe(true);
  });

  it('bounds the length of strings checked by a pattern', () => {
    const v = compile({ type: 'string', pattern: 'a*b' });
    expect(v.validate('a'.repeat(1_000_000))).toEqual({
      ok: false,
      issues: [{ path: '', message: 'expected a string of at most 10000 characters' }],
    });
    expect(v.validate('xxab').ok).toBe(true);
    // JSON Schema's "match anywhere" semantics, anchors included.
    expect(compile({ type: 'string', pattern: '^ab$' }).validate('xab').ok).toBe(false);
    expect(compile({ type: 'string', pattern: 'b$' }).validate('xab').ok).toBe(true);
  });

  it('refuses lookaround and backreferences, which have no linear-time match', () => {
    for (const [p, reason] of [
      ['^(?=a)a', /lookahead and lookbehind/],
      ['(?<!x)y', /lookahead and lookbehind/],
      ['(a)\\1', /backreferences/],
    ] as const) {
      const r = compileJsonSchema({ type: 'object', properties: { s: { type: 'string', pattern: p } } });
      expect(r.ok, p).toBe(false);
      if (!r.ok) {
        expect(r.issues[0]?.path).toEqual(['properties', 's', 'pattern']);
        expect(r.issues[0]?.message).toMatch(reason);
      }
    }
  });

  it('reports invalid regular expressions and non-schema values', () => {
    expect(compileJsonSchema({ type: 'string', pattern: '(' })).toMatchObject({
      ok: false,
      issues: [
        { path: ['pattern'], message: expect.stringMatching(/^invalid regular expression: /) as unknown },
      ],
    });
    expect(compileJsonSchema('string')).toEqual({
      ok: false,
      issues: [{ path: [], message: 'expected a JSON Schema object, got string' }],
    });
    expect(compileJsonSchema({ properties: 5 })).toEqual({
      ok: false,
      issues: [{ path: ['properties'], message: 'expected an object mapping names to schemas, got integer' }],
    });
  });
});
