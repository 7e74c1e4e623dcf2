import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateAgainstSchema } from '../../src/agent/commands.js';
import { isDreamAgentError } from '../../src/errors/index.js';
import { generateObject } from '../../src/llm/structured.js';
import { compileSchema, compileSchemaOrThrow, schemaIssueLines } from '../../src/schema/index.js';
import { ScriptedModel } from '../../src/testing/index.js';

const compiled = (schema: unknown) => {
  const r = compileSchema(schema);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.validator;
};

describe('the one schema compiler', () => {
  it('compiles an equal schema once (cache by canonical form, key order ignored)', () => {
    const a = compileSchema({
      type: 'object',
      properties: { x: { type: 'string', pattern: '^x+$' } },
      required: ['x'],
    });
    const b = compileSchema({
      required: ['x'],
      properties: { x: { pattern: '^x+$', type: 'string' } },
      type: 'object',
    });
    expect(a.ok && b.ok && a.validator === b.validator).toBe(true);
    // Different limits are a different compilation.
    const c = compileSchema(
      { type: 'object', properties: { x: { type: 'string', pattern: '^x+$' } }, required: ['x'] },
      { maxPatternInputLength: 5 },
    );
    expect(c.ok && a.ok && c.validator !== a.validator).toBe(true);
  });

  it('runs every pattern it compiles on the linear-time engine, including patternProperties and $defs', () => {
    const v = compiled({
      type: 'object',
      properties: {
        code: { type: ['string', 'null'], pattern: '^(a+)+$' },
        list: { type: 'array', items: { $ref: '#/$defs/id' } },
        pick: { anyOf: [{ type: 'string', pattern: '^\\d*\\d*\\d*\\d*$' }, { type: 'integer' }] },
      },
      patternProperties: { '^x-(a|a)*$': { type: 'integer' } },
      $defs: { id: { type: 'string', pattern: '^(\\w|\\d)+$' } },
    });
    const hostileA = `${'a'.repeat(5_000)}!`;
    const hostileD = `${'1'.repeat(5_000)}x`;
    const r = v.validate({
      code: hostileA,
      list: ['ok', hostileD.replace('x', '!')],
      pick: hostileD,
      'x-aaa': 'no',
    });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.issues.map((i) => i.path).sort()).toEqual(['code', 'list[1]', 'pick', 'x-aaa'].sort());
      expect(r.issues.find((i) => i.path === 'code')?.message).toBe('does not match the pattern /^(a+)+$/');
    }
    expect(v.validate({ code: 'aaa', list: ['a1'], pick: '123', 'x-aa': 3, other: true }).ok).toBe(true);
    expect(v.validate({ code: null }).ok).toBe(true);
  });

  it('keeps additionalProperties: false beside patternProperties, with the same answer', () => {
    const v = compiled({
      type: 'object',
      properties: { id: { type: 'string' } },
      patternProperties: { '^x-[a-z]+$': { type: 'string' } },
      additionalProperties: false,
    });
    expect(v.validate({ id: '1', 'x-ab': 'v' }).ok).toBe(true);
    expect(v.validate({ id: '1', 'x-AB': 'v', extra: 1 })).toEqual({
      ok: false,
      issues: [
        { path: 'x-AB', message: 'is not an allowed property' },
        { path: 'extra', message: 'is not an allowed property' },
      ],
    });
    expect(v.validate({ 'x-ab': 5 }).ok).toBe(false);
  });

  it('bounds depth and size and names the path of a bad keyword', () => {
    let deep: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 40; i += 1) deep = { type: 'array', items: deep };
    const r = compileSchema(deep);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues[0]?.message).toMatch(/nested too deeply/);
    const wide = {
      type: 'object',
      properties: Object.fromEntries(Array.from({ length: 6_000 }, (_, i) => [`p${i}`, { type: 'string' }])),
    };
    expect(compileSchema(wide)).toEqual({
      ok: false,
      issues: [{ path: [], message: 'schema is too large (more than 10000 nodes)' }],
    });
    expect(compileSchema({ type: 'string', pattern: 'x'.repeat(1_001) })).toMatchObject({
      ok: false,
      issues: [{ path: ['pattern'] }],
    });
  });

  it('never throws from validate, whatever the value', () => {
    const v = compiled({
      type: 'object',
      properties: { s: { type: 'string', pattern: '^[a-z]+(-[a-z]+)*$' }, n: { type: 'integer' } },
      required: ['s'],
    });
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const r = v.validate(value);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a bad schema with a typed error where callers need one', () => {
    try {
      compileSchemaOrThrow({ type: 'string', pattern: '(?=x)' }, 'the input schema');
      expect.unreachable();
    } catch (e) {
      expect(isDreamAgentError(e, 'INVALID_INPUT')).toBe(true);
      expect((e as Error).message).toBe(
        'the input schema is not a supported JSON Schema: pattern: lookahead and lookbehind assertions are not supported',
      );
    }
    // The line form fails closed: the value is refused, with the reason.
    expect(schemaIssueLines({ type: 'string', pattern: '(a)\\1' }, 'aa')).toEqual([
      '(schema).pattern: backreferences (\\1…) are not supported',
    ]);
  });
});

describe('every call site uses it', () => {
  it('input.provide values (validateAgainstSchema) run hostile patterns on the linear-time engine', () => {
    // 10.6 s in V8 before, at 29 characters; here 10,000 characters.
    const schema = {
      type: 'object',
      properties: { to: { type: 'string', pattern: '^(a+)+$' } },
      required: ['to'],
    };
    expect(validateAgainstSchema(schema, { to: `${'a'.repeat(9_999)}!` })).toEqual([
      'to: does not match the pattern /^(a+)+$/',
    ]);
    expect(validateAgainstSchema(schema, { to: 'aaa' })).toEqual([]);
    expect(validateAgainstSchema(schema, {})).toEqual(['to: is required (expected string)']);
    expect(
      validateAgainstSchema({ type: 'string', pattern: '^\\d*\\d*\\d*\\d*$' }, `${'1'.repeat(400)}x`),
    ).toEqual(['(value): does not match the pattern /^\\d*\\d*\\d*\\d*$/']);
  });

  it('structured output given a JSON Schema validates through it (hostile pattern, then a repair)', async () => {
    const model = new ScriptedModel({
      turns: [{ json: { code: `${'a'.repeat(5_000)}!` } }, { json: { code: 'aaaa' } }],
    });
    const r = await generateObject(model, {
      schema: {
        type: 'object',
        properties: { code: { type: 'string', pattern: '^(a+)+$' } },
        required: ['code'],
      },
      messages: [{ role: 'user', content: 'go' }],
    });
    expect(r.object).toEqual({ code: 'aaaa' });
    expect(r.attempts).toBe(2);
    await expect(
      generateObject(model, {
        schema: { type: 'object', properties: { c: { type: 'string', pattern: '(?<=a)b' } } },
        messages: [],
      }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});
