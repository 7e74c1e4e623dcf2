import { describe, expect, it } from 'vitest';
import { compileJsonSchema, unsafePatternReason } from '../../src/tools/json-schema.js';

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

  it('rejects patterns that backtrack catastrophically and accepts common safe ones', () => {
    for (const p of [
      '(a+)+$',
      '(a*)*b',
      '(a|a)*',
      '(a|ab)*c',
      '(\\w|\\d)+$',
      '(.*a){12}',
      '^(a?){25}a{25}$',
      '(x+x+)+y',
    ]) {
      expect(unsafePatternReason(p), p).toBeDefined();
    }
    for (const p of [
      '^[a-z]+$',
      '^\\d{3}-\\d{4}$',
      '(foo|bar)+',
      '^([a-z0-9-]+\\.)+[a-z]{2,}$',
      '[a-z]+(\\.[a-z]+)*',
      '(\\d+,)*\\d+',
      '^(\\s|,)+$',
    ]) {
      expect(unsafePatternReason(p), p).toBeUndefined();
    }
  });

  it('bounds the length of strings checked by a pattern, so even a missed bad pattern cannot hang', () => {
    // `a*b` is not exponential, but unanchored on a long run of "a" it is quadratic in V8.
    const v = compile({ type: 'string', pattern: 'a*b' });
    const started = performance.now();
    expect(v.validate('a'.repeat(1_000_000))).toEqual({
      ok: false,
      issues: [{ path: '', message: 'expected a string of at most 10000 characters' }],
    });
    expect(performance.now() - started).toBeLessThan(500);
    expect(v.validate('xxab').ok).toBe(true);
    // The guard keeps JSON Schema's "match anywhere" semantics, anchors included.
    expect(compile({ type: 'string', pattern: '^ab$' }).validate('xab').ok).toBe(false);
    expect(compile({ type: 'string', pattern: 'b$' }).validate('xab').ok).toBe(true);
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
