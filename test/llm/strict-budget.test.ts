/**
 * OpenAI strict schemas (conversion checked against strict mode's rules, answers mapped back) and the
 * one prompt-budget helper (every output within budget, truncation visible).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { OpenAIModel } from '@dream-agent/openai';
import { budgetJson, budgetText, estimateTokens, type Json, type JsonObject } from 'dream-agent';
import { strictSchemaIssues, stripStrictNulls, toStrictJsonSchema } from 'dream-agent/adapter-kit';
import { dataBlock } from '../../src/llm/prompts.js';
import { startLlmServer, type LlmServer } from '../helpers/llm-server.js';

/** Whether null is a real value of the schema (then an omitted optional and a null are the same answer). */
function nullOk(s: JsonObject): boolean {
  return (
    (Array.isArray(s['type']) && s['type'].includes('null')) ||
    (Array.isArray(s['enum']) && s['enum'].includes(null)) ||
    (Array.isArray(s['anyOf']) && s['anyOf'].some((b) => nullOk(b as JsonObject)))
  );
}

/** Random JSON Schemas of the shapes tool inputs and structured outputs use. */
const leaf: fc.Arbitrary<JsonObject> = fc.oneof<fc.Arbitrary<JsonObject>[]>(
  fc.constant({ type: 'string' }),
  fc.constant({ type: 'string', minLength: 1, maxLength: 20, default: 'x' }),
  fc.constant({ type: 'integer', minimum: 0 }),
  fc.constant({ type: 'number' }),
  fc.constant({ type: 'boolean', description: 'a flag' }),
  fc.constant({ type: ['string', 'null'] }),
  fc.constant({ enum: ['a', 'b'] }),
  fc.constant({ type: 'string', enum: ['x', 'y'] }),
  fc.constant({ const: 'fixed' }),
);
const { schema: objectSchema } = fc.letrec<{ schema: JsonObject; node: JsonObject }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    tie('schema'),
    tie('node').map((items) => ({ type: 'array', items })),
    fc.tuple(tie('node'), leaf).map(([a, b]) => ({ anyOf: [a, b] })),
  ),
  schema: fc
    .dictionary(fc.stringMatching(/^[a-z][a-zA-Z0-9_]{0,8}$/), tie('node'), { minKeys: 0, maxKeys: 5 })
    .chain((properties) =>
      fc.subarray(Object.keys(properties)).map((required) => ({
        type: 'object',
        properties,
        ...(required.length > 0 ? { required } : {}),
        ...(Object.keys(properties).length % 2 === 0 ? { additionalProperties: false } : {}),
      })),
    ),
}));

/** A value of the original schema where optionals may be absent, and the same value as strict mode would send it. */
function sample(schema: JsonObject, seed: number): { original: Json; strict: Json } {
  const type = Array.isArray(schema['type']) ? schema['type'][0] : schema['type'];
  if (schema['const'] !== undefined) return { original: schema['const'], strict: schema['const'] };
  if (Array.isArray(schema['enum'])) {
    const v = schema['enum'][seed % schema['enum'].length] as Json;
    return { original: v, strict: v };
  }
  if (Array.isArray(schema['anyOf'])) return sample(schema['anyOf'][0] as JsonObject, seed);
  switch (type) {
    case 'string':
      return { original: 'text', strict: 'text' };
    case 'integer':
    case 'number':
      return { original: 3, strict: 3 };
    case 'boolean':
      return { original: true, strict: true };
    case 'array': {
      const item = sample(schema['items'] as JsonObject, seed + 1);
      return { original: [item.original], strict: [item.strict] };
    }
    case 'object': {
      const props = (schema['properties'] ?? {}) as Record<string, JsonObject>;
      const required = (schema['required'] ?? []) as string[];
      const original: JsonObject = {};
      const strict: JsonObject = {};
      for (const [i, [k, s]] of Object.entries(props).entries()) {
        const omit = !required.includes(k) && (seed + i) % 2 === 0;
        if (omit) {
          strict[k] = null;
          // Strict mode cannot tell "omitted" from "null" for a nullable property: both arrive as null.
          if (nullOk(s)) original[k] = null;
          continue;
        }
        const v = sample(s, seed + i);
        original[k] = v.original;
        strict[k] = v.strict;
      }
      return { original, strict };
    }
    default:
      return { original: null, strict: null };
  }
}

describe('toStrictJsonSchema', () => {
  it('produces schemas that satisfy every strict-mode rule, for any convertible schema', () => {
    fc.assert(
      fc.property(objectSchema, (schema) => {
        const converted = toStrictJsonSchema(schema);
        expect(converted.strict).toBe(true);
        expect(strictSchemaIssues(converted.schema)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('round trip: a valid value, sent as strict mode would (nulls for omitted optionals), validates against the strict schema and maps back to the original', () => {
    fc.assert(
      fc.property(objectSchema, fc.nat(100), (schema, seed) => {
        const converted = toStrictJsonSchema(schema);
        const { original, strict } = sample(schema, seed);
        expect(z.fromJSONSchema(schema).safeParse(original).success).toBe(true);
        expect(z.fromJSONSchema(converted.schema).safeParse(strict).success).toBe(true);
        expect(stripStrictNulls(strict, schema)).toEqual(original);
      }),
      { numRuns: 200 },
    );
  });

  it('the checker catches what strict mode rejects', () => {
    expect(strictSchemaIssues({ type: 'object', properties: { a: { type: 'string' } } })).toEqual([
      '#: additionalProperties is not false',
      '#: property "a" is not required',
    ]);
    expect(strictSchemaIssues({ type: 'array', items: { type: 'string' } })).toContain(
      '#: the root must be { type: "object" }',
    );
    expect(
      strictSchemaIssues({
        type: 'object',
        properties: { a: { type: 'string', minLength: 2 } },
        required: ['a'],
        additionalProperties: false,
      }),
    ).toEqual(['#/properties/a: keyword "minLength" is not allowed']);
  });

  it('reports schemas that cannot be strict, with the reason, unchanged', () => {
    const freeForm = { type: 'object', properties: { input: { type: 'object' } } };
    const r = toStrictJsonSchema(freeForm);
    expect(r.strict).toBe(false);
    expect(r).toMatchObject({ reason: expect.stringContaining('#/properties/input: a free-form object') });
    expect(r.schema).toBe(freeForm);
    expect(toStrictJsonSchema({ type: 'object', properties: { x: {} } }).strict).toBe(false);
    expect(toStrictJsonSchema({ type: 'object', properties: { x: { allOf: [] } } }).strict).toBe(false);
    expect(
      toStrictJsonSchema({
        type: 'object',
        properties: { t: { type: 'array', items: [{ type: 'string' }] } },
      }).strict,
    ).toBe(false);
    expect(toStrictJsonSchema({ type: 'string' }).strict).toBe(false);
  });

  it('optional properties become nullable in the shape each kind needs', () => {
    const r = toStrictJsonSchema({
      type: 'object',
      properties: {
        s: { type: 'string' },
        e: { enum: ['a', 'b'] },
        c: { const: 'k' },
        u: { anyOf: [{ type: 'string' }, { type: 'number' }] },
        r: { $ref: '#/$defs/x' },
        n: { type: ['string', 'null'] },
      },
      $defs: { x: { type: 'object', properties: { y: { type: 'number' } }, required: ['y'] } },
    });
    expect(r.schema).toEqual({
      type: 'object',
      properties: {
        s: { type: ['string', 'null'] },
        e: { enum: ['a', 'b', null] },
        // no extra nesting level (strict mode caps nesting): a const becomes an enum, a union gains a branch
        c: { enum: ['k', null] },
        u: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'null' }] },
        r: { anyOf: [{ $ref: '#/$defs/x' }, { type: 'null' }] },
        n: { type: ['string', 'null'] },
      },
      required: ['s', 'e', 'c', 'u', 'r', 'n'],
      additionalProperties: false,
      $defs: {
        x: {
          type: 'object',
          properties: { y: { type: 'number' } },
          required: ['y'],
          additionalProperties: false,
        },
      },
    });
    expect(strictSchemaIssues(r.schema)).toEqual([]);
  });
});

describe('OpenAIModel strictSchemas over the wire', () => {
  let server: LlmServer;
  beforeAll(async () => {
    server = await startLlmServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('sends the strict schema with strict: true and maps the placeholder nulls back', async () => {
    const schema = {
      type: 'object',
      properties: {
        name: { type: 'string' },
        note: { type: 'string' },
        tags: { type: 'array', items: { type: 'string' } },
      },
      required: ['name'],
    };
    server.script({
      route: 'openai',
      reply: { text: JSON.stringify({ name: 'x', note: null, tags: ['a'] }) },
    });
    const llm = new OpenAIModel({
      model: 'gpt-x',
      apiKey: 'sk',
      baseURL: server.openaiBaseURL,
      strictSchemas: true,
    });
    const result = await llm.generate({
      messages: [{ role: 'user', content: 'go' }],
      responseFormat: { type: 'json', schema, name: 'thing' },
    });
    expect(JSON.parse(result.text)).toEqual({ name: 'x', tags: ['a'] });
    const sent = (
      server.requests[0]?.body['response_format'] as { json_schema: { strict: boolean; schema: JsonObject } }
    ).json_schema;
    expect(sent.strict).toBe(true);
    expect(strictSchemaIssues(sent.schema)).toEqual([]);
  });

  it('sends a schema that cannot be strict with strict: false, unchanged', async () => {
    server.script({ route: 'openai', reply: { text: '{"input":{"a":1}}' } });
    const llm = new OpenAIModel({
      model: 'gpt-x',
      apiKey: 'sk',
      baseURL: server.openaiBaseURL,
      strictSchemas: true,
    });
    const schema = { type: 'object', properties: { input: { type: 'object' } } };
    await llm.generate({
      messages: [{ role: 'user', content: 'go' }],
      responseFormat: { type: 'json', schema },
    });
    const sent = (
      server.requests.at(-1)?.body['response_format'] as {
        json_schema: { strict: boolean; schema: JsonObject };
      }
    ).json_schema;
    expect(sent).toMatchObject({ strict: false, schema });
  });
});

describe('prompt budget', () => {
  const json: fc.Arbitrary<Json> = fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>;

  it('budgetText: always within budget; unchanged when it fits; otherwise a prefix plus a visible marker', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 3000 }),
        fc.integer({ min: 16, max: 800 }),
        (text, max) => {
          const r = budgetText(text, max);
          expect(r.tokens).toBeLessThanOrEqual(max);
          expect(r.originalTokens).toBe(estimateTokens(text));
          if (estimateTokens(text) <= max) expect(r).toMatchObject({ text, truncated: false });
          else {
            expect(r.truncated).toBe(true);
            expect(r.text).toMatch(/…\[truncated: about \d+ of \d+ tokens shown\]$/);
            expect(text.startsWith(r.text.slice(0, r.text.lastIndexOf('…[truncated')))).toBe(true);
          }
        },
      ),
    );
  });

  it('budgetJson: always within budget, and marked when cut', () => {
    fc.assert(
      fc.property(json, fc.integer({ min: 16, max: 400 }), (value, max) => {
        const r = budgetJson(value, max);
        expect(r.tokens).toBeLessThanOrEqual(max);
        if (!r.truncated && typeof value === 'string') expect(r.text).toBe(value);
        else if (!r.truncated) expect(JSON.parse(r.text)).toEqual(JSON.parse(JSON.stringify(value)));
        else expect(r.text).toContain('…[truncated: about');
      }),
    );
  });

  it('a 2 MB tool output keeps its shape within budget', () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => ({
      id: i,
      region: `region-${i % 7}`,
      amount: i * 13.5,
      note: 'x'.repeat(60),
    }));
    const output = { rows, total: 20_000 };
    expect(JSON.stringify(output).length).toBeGreaterThan(2_000_000);
    const r = budgetJson(output, 2000);
    expect(r.truncated).toBe(true);
    expect(r.tokens).toBeLessThanOrEqual(2000);
    expect(r.text).toContain('more items)');
    expect(r.text).toContain('"total":20000');
    expect(r.text).toMatch(/…\[truncated: about \d+ of \d+ tokens shown\]$/);
  });

  it('every <data> block is budgeted (default 8000 tokens)', () => {
    const block = dataBlock('huge', 'word '.repeat(100_000));
    expect(estimateTokens(block)).toBeLessThan(8100);
    expect(block).toContain('…[truncated: about');
    expect(dataBlock('small', { a: 1 })).toBe('<data source="small">\n{\n  "a": 1\n}\n</data>');
  });

  it('rejects a budget below 16 tokens with INVALID_INPUT', () => {
    expect(() => budgetText('x', 3)).toThrow(/at least|>= 16/);
    expect(() => budgetJson({}, Number.NaN)).toThrow(/>= 16/);
  });
});
