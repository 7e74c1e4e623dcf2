import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DreamAgentError, isDreamAgentError } from '../../src/errors/index.js';
import { generateObject, parseJsonOutput, toJsonSchema } from '../../src/llm/structured.js';
import { ScriptedModel } from '../../src/testing/scripted-model.js';

const City = z.object({ city: z.string(), population: z.number().int().positive() });
const messages = [{ role: 'user' as const, content: 'Biggest city in France, as JSON' }];

async function failure(p: Promise<unknown>): Promise<DreamAgentError> {
  try {
    await p;
  } catch (e) {
    if (isDreamAgentError(e)) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

describe('generateObject', () => {
  it('returns a valid first answer without repair, and sends the JSON Schema as response format', async () => {
    const model = new ScriptedModel({ turns: [{ json: { city: 'Paris', population: 2_100_000 } }] });
    const result = await generateObject(model, { schema: City, messages, name: 'city', layer: 'cognitive' });
    expect(result.object).toEqual({ city: 'Paris', population: 2_100_000 });
    expect(result.attempts).toBe(1);
    const sent = model.requests[0];
    expect(sent?.layer).toBe('cognitive');
    expect(sent?.responseFormat).toMatchObject({ type: 'json', name: 'city' });
    const schema = sent?.responseFormat?.type === 'json' ? sent.responseFormat.schema : {};
    expect(schema).toMatchObject({ type: 'object', required: ['city', 'population'] });
    expect(schema['$schema']).toBeUndefined();
  });

  it('accepts JSON wrapped in a Markdown fence or surrounded by prose', async () => {
    const model = new ScriptedModel({
      turns: [
        { text: 'Sure!\n```json\n{"city":"Paris","population":1}\n```\nAnything else?' },
        { text: 'Here you go: {"city":"Lyon","population":2} — hope it helps' },
      ],
    });
    expect((await generateObject(model, { schema: City, messages })).object.city).toBe('Paris');
    expect((await generateObject(model, { schema: City, messages })).object.city).toBe('Lyon');
  });

  it('repairs once with the exact validation errors fed back after the invalid answer', async () => {
    const model = new ScriptedModel({
      turns: [{ json: { city: 'Paris', population: -3 } }, { json: { city: 'Paris', population: 3 } }],
    });
    const result = await generateObject(model, { schema: City, messages });
    expect(result.attempts).toBe(2);
    expect(result.usage.totalTokens).toBeGreaterThan(0);
    const repair = model.requests[1]?.messages ?? [];
    expect(repair).toHaveLength(3);
    expect(repair[1]).toEqual({ role: 'assistant', content: '{"city":"Paris","population":-3}' });
    expect(repair[2]?.content).toContain('population: Too small: expected number to be >0');
    // The original request is not mutated by the repair loop.
    expect(model.requests[0]?.messages).toHaveLength(1);
  });

  it('fails with LLM_INVALID_OUTPUT keeping the raw output once repairs are exhausted', async () => {
    const model = new ScriptedModel({ turns: [{ text: 'not json at all' }, { text: '{"city": 1' }] });
    const error = await failure(generateObject(model, { schema: City, messages }));
    expect(error.code).toBe('LLM_INVALID_OUTPUT');
    expect(error.retryable).toBe(false);
    expect(error.details).toMatchObject({ raw: '{"city": 1', stage: 'parse', attempts: 2 });
    expect(model.calls).toBe(2);
  });

  it('maxRepairs bounds the calls (0 = a single attempt; more than 5 is refused)', async () => {
    const model = new ScriptedModel({
      turns: [{ text: '[]' }, { text: '[]' }, { text: '[]' }, { text: '[]' }],
    });
    await expect(generateObject(model, { schema: City, messages, maxRepairs: 0 })).rejects.toMatchObject({
      code: 'LLM_INVALID_OUTPUT',
      details: { attempts: 1, stage: 'schema' },
    });
    expect(model.calls).toBe(1);
    await expect(generateObject(model, { schema: City, messages, maxRepairs: 2 })).rejects.toMatchObject({
      details: { attempts: 3 },
    });
    expect(model.calls).toBe(4);
    await expect(generateObject(model, { schema: City, messages, maxRepairs: 6 })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
    await expect(generateObject(model, { schema: City, messages, maxRepairs: 1.5 })).rejects.toThrow(/1\.5/);
  });

  it('runs semantic validation after the schema and repairs on its messages', async () => {
    const model = new ScriptedModel({
      turns: [{ json: { city: 'Atlantis', population: 5 } }, { json: { city: 'Paris', population: 5 } }],
    });
    const result = await generateObject(model, {
      schema: City,
      messages,
      validate: (v) => (v.city === 'Atlantis' ? ['city "Atlantis" does not exist'] : []),
    });
    expect(result.object.city).toBe('Paris');
    expect(model.requests[1]?.messages.at(-1)?.content).toContain('city "Atlantis" does not exist');
  });

  it('uses a custom repair prompt', async () => {
    const model = new ScriptedModel({ turns: [{ text: 'x' }, { json: { city: 'a', population: 1 } }] });
    await generateObject(model, {
      schema: City,
      messages,
      repairPrompt: (issues, stage) => `FIX(${stage}): ${issues.join(';')}`,
    });
    expect(model.requests[1]?.messages.at(-1)?.content).toBe('FIX(parse): the answer is not valid JSON');
  });

  it('accepts a JSON Schema instead of zod', async () => {
    const schema = { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] };
    const model = new ScriptedModel({ turns: [{ json: { n: 'three' } }, { json: { n: 3 } }] });
    const result = await generateObject<{ n: number }>(model, { schema, messages });
    expect(result.object.n).toBe(3);
    expect(model.requests[0]?.responseFormat).toMatchObject({ schema });
  });

  it('tells the model its answer was cut off when it stopped at the token limit', async () => {
    const model = new ScriptedModel({
      turns: [{ text: '{"city":"Par', finishReason: 'length' }, { json: { city: 'Paris', population: 1 } }],
    });
    await generateObject(model, { schema: City, messages, maxTokens: 5 });
    expect(model.requests[1]?.messages.at(-1)?.content).toContain('cut off at the token limit');
    expect(model.requests[0]?.maxTokens).toBe(5);
  });

  it('accepts an answer given as a tool call instead of text', async () => {
    const model = new ScriptedModel({
      turns: [{ toolCalls: [{ name: 'result', arguments: { city: 'Nice', population: 3 } }] }],
    });
    expect((await generateObject(model, { schema: City, messages })).object.city).toBe('Nice');
  });

  it('passes provider errors through typed, and wraps untyped ones', async () => {
    const limited = new ScriptedModel({
      turns: [{ error: new DreamAgentError('RATE_LIMITED', 'slow down') }],
    });
    await expect(generateObject(limited, { schema: City, messages })).rejects.toMatchObject({
      code: 'RATE_LIMITED',
    });
    const broken = new ScriptedModel({ turns: [{ error: new TypeError('socket hang up') }] });
    await expect(generateObject(broken, { schema: City, messages })).rejects.toMatchObject({
      code: 'LLM_ERROR',
      retryable: true,
    });
  });

  it('a throwing validator becomes an INTERNAL error, not an untyped one', async () => {
    const model = new ScriptedModel({ turns: [{ json: { city: 'a', population: 1 } }] });
    const error = await failure(
      generateObject(model, {
        schema: City,
        messages,
        validate: () => {
          throw new Error('validator bug');
        },
      }),
    );
    expect(error.code).toBe('INTERNAL');
  });
});

describe('parseJsonOutput / toJsonSchema', () => {
  it('parses plain, fenced and embedded JSON and gives up on garbage', () => {
    expect(parseJsonOutput(' [1,2] ')).toEqual({ value: [1, 2] });
    expect(parseJsonOutput('```\n{"a":1}\n```')).toEqual({ value: { a: 1 } });
    expect(parseJsonOutput('answer: {"a":{"b":2}} done')).toEqual({ value: { a: { b: 2 } } });
    expect(parseJsonOutput('')).toBeUndefined();
    expect(parseJsonOutput('{broken')).toBeUndefined();
  });

  it('converts zod to JSON Schema without $schema and passes JSON Schemas through', () => {
    const js = toJsonSchema(z.object({ a: z.string().optional() }));
    expect(js).toMatchObject({ type: 'object', properties: { a: { type: 'string' } } });
    expect(js['$schema']).toBeUndefined();
    const raw = { type: 'string' };
    expect(toJsonSchema(raw)).toBe(raw);
  });
});
