import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  defineTool,
  generateObject,
  LlmPlanner,
  LlmResponder,
  UsageTracker,
  withUsageTracking,
} from 'dream-agent';
import type { GenerateRequest, StreamChunk } from 'dream-agent';
import { rejection as caught } from 'dream-agent/adapter-kit';
import {
  startLlmServer,
  testPlanningContext,
  testResponseContext,
  toolCatalog,
  type LlmServer,
} from 'dream-agent/testing';
import { AnthropicModel, mapAnthropicError, retryAfterMs, toAnthropicMessages } from '../src/index.js';

/** The planner's context: the one tool its plans name, and the sales question. */
const planningContext = () =>
  testPlanningContext({
    input: 'analyse Q3 sales by region, draft a report and email it to the team',
    tools: toolCatalog([
      defineTool({
        name: 'sales.query',
        description: 'Query sales rows for a period and optional region',
        domain: 'data',
        input: z.object({ period: z.string(), region: z.string().optional() }),
        handler: () => Promise.reject(new Error('tools do not run in these tests')),
      }),
    ]),
  });

let server: LlmServer;

beforeAll(async () => {
  server = await startLlmServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.reset();
});

function model(options: Partial<ConstructorParameters<typeof AnthropicModel>[0]> = {}): AnthropicModel {
  return new AnthropicModel({
    model: 'claude-test',
    apiKey: 'sk-ant-test',
    baseURL: server.anthropicBaseURL,
    maxRetries: 0,
    ...options,
  });
}

const hello: GenerateRequest = {
  messages: [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'hi' },
  ],
};

async function drain(iterable: AsyncIterable<StreamChunk>): Promise<StreamChunk[]> {
  const chunks: StreamChunk[] = [];
  for await (const c of iterable) chunks.push(c);
  return chunks;
}

function finish(chunks: StreamChunk[]): Extract<StreamChunk, { type: 'finish' }>['result'] {
  const last = chunks.at(-1);
  if (last?.type !== 'finish') throw new Error('no finish chunk');
  return last.result;
}

describe('AnthropicModel.generate', () => {
  it('sends a Messages request (system lifted out, max_tokens defaulted) and maps the result', async () => {
    server.script({ reply: { text: 'Hello there.', usage: { input: 21, output: 3 } } });
    const result = await model().generate({ ...hello, stop: ['END'] });
    expect(result).toMatchObject({
      text: 'Hello there.',
      toolCalls: [],
      finishReason: 'stop',
      usage: { inputTokens: 21, outputTokens: 3, totalTokens: 24 },
      model: 'claude-test',
    });
    const req = server.requests[0];
    expect(req?.route).toBe('anthropic');
    // This SDK line sends the key as a bearer token (older lines used x-api-key).
    expect(String(req?.headers['authorization'] ?? req?.headers['x-api-key'])).toContain('sk-ant-test');
    expect(req?.headers['anthropic-version']).toBeTypeOf('string');
    expect(req?.body).toEqual({
      model: 'claude-test',
      max_tokens: 4096,
      system: 'be brief',
      stop_sequences: ['END'],
      messages: [{ role: 'user', content: 'hi' }],
    });
  });

  it('maps max_tokens → length', async () => {
    server.script({ reply: { text: 'cut', finishReason: 'length' } });
    const result = await model().generate({ ...hello, maxTokens: 3 });
    expect(result.finishReason).toBe('length');
    expect(server.requests[0]?.body['max_tokens']).toBe(3);
  });

  it('sends tools with input_schema and tool choice; returns tool_use blocks as tool calls', async () => {
    server.script({
      reply: {
        text: 'Let me check.',
        toolCalls: [{ id: 'toolu_1', name: 'sales_query', arguments: { period: 'Q3' } }],
      },
    });
    const result = await model().generate({
      messages: [{ role: 'user', content: 'sales?' }],
      tools: [
        {
          name: 'sales_query',
          description: 'Query sales',
          parameters: { type: 'object', properties: { period: { type: 'string' } } },
        },
      ],
      toolChoice: 'required',
    });
    expect(result.text).toBe('Let me check.');
    expect(result.finishReason).toBe('tool_calls');
    expect(result.toolCalls).toEqual([{ id: 'toolu_1', name: 'sales_query', arguments: '{"period":"Q3"}' }]);
    expect(server.requests[0]?.body).toMatchObject({
      tools: [{ name: 'sales_query', description: 'Query sales', input_schema: { type: 'object' } }],
      tool_choice: { type: 'any' },
    });
  });

  it('sends tool results as tool_result blocks in one user turn', async () => {
    server.script({ reply: { text: 'Both done.' } });
    await model().generate({
      messages: [
        { role: 'user', content: 'do both' },
        {
          role: 'assistant',
          content: 'ok',
          toolCalls: [
            { id: 't1', name: 'a', arguments: '{"x":1}' },
            { id: 't2', name: 'b', arguments: '{}' },
          ],
        },
        { role: 'tool', toolCallId: 't1', content: '{"ok":true}' },
        { role: 'tool', toolCallId: 't2', content: 'failed', isError: true },
      ],
    });
    expect(server.requests[0]?.body['messages']).toEqual([
      { role: 'user', content: 'do both' },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'ok' },
          { type: 'tool_use', id: 't1', name: 'a', input: { x: 1 } },
          { type: 'tool_use', id: 't2', name: 'b', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 't1', content: '{"ok":true}' },
          { type: 'tool_result', tool_use_id: 't2', content: 'failed', is_error: true },
        ],
      },
    ]);
  });

  it('carries structured output as a forced tool call and returns its input as JSON text', async () => {
    server.script({ reply: { toolCalls: [{ name: 'place', arguments: { city: 'Paris' } }] } });
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
    const result = await model().generate({
      ...hello,
      responseFormat: { type: 'json', schema, name: 'place' },
    });
    expect(JSON.parse(result.text)).toEqual({ city: 'Paris' });
    expect(result.toolCalls).toEqual([]);
    expect(result.finishReason).toBe('stop');
    expect(server.requests[0]?.body).toMatchObject({
      tools: [{ name: 'place', input_schema: schema }],
      tool_choice: { type: 'tool', name: 'place' },
    });
  });

  it('wraps a non-object schema as { value } and unwraps the answer', async () => {
    server.script({
      reply: { toolCalls: [{ name: 'structured_output', arguments: { value: ['a', 'b'] } }] },
    });
    const result = await model().generate({
      ...hello,
      responseFormat: { type: 'json', schema: { type: 'array', items: { type: 'string' } } },
    });
    expect(JSON.parse(result.text)).toEqual(['a', 'b']);
    expect(server.requests[0]?.body['tools']).toEqual([
      {
        name: 'structured_output',
        description: 'Return the answer as the input of this tool.',
        input_schema: {
          type: 'object',
          properties: { value: { type: 'array', items: { type: 'string' } } },
          required: ['value'],
        },
      },
    ]);
  });

  it('generateObject repairs invalid output over the real client', async () => {
    server.script(
      { reply: { toolCalls: [{ name: 'result', arguments: { city: 7 } }] } },
      { reply: { toolCalls: [{ name: 'result', arguments: { city: 'Paris' } }] } },
    );
    const { object, attempts } = await generateObject(model(), {
      schema: z.object({ city: z.string() }),
      messages: [{ role: 'user', content: 'Where is the Eiffel tower?' }],
    });
    expect(object).toEqual({ city: 'Paris' });
    expect(attempts).toBe(2);
    const second = server.requests[1]?.body['messages'] as { role: string; content: unknown }[];
    expect(second.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(String(second[2]?.content)).toContain('city: Invalid input: expected string, received number');
  });

  it('uses a client instance the user built, and tracks usage', async () => {
    const client = new Anthropic({ apiKey: 'own', baseURL: server.anthropicBaseURL, maxRetries: 0 });
    server.script({ reply: { text: 'ok', usage: { input: 4, output: 2 } } });
    const tracker = new UsageTracker();
    const llm = withUsageTracking(new AnthropicModel({ model: 'claude-test', client }), tracker, 'planner');
    await llm.generate(hello);
    expect(
      String(server.requests[0]?.headers['authorization'] ?? server.requests[0]?.headers['x-api-key']),
    ).toContain('own');
    expect(tracker.byModel()).toEqual({
      'anthropic:claude-test': { inputTokens: 4, outputTokens: 2, totalTokens: 6 },
    });
    expect(Object.keys(tracker.byLayer())).toEqual(['planner']);
  });
});

describe('AnthropicModel.stream', () => {
  it('streams text deltas and ends with the result and usage from message_start/message_delta', async () => {
    server.script({
      reply: { text: 'one two three', chunks: ['one ', 'two ', 'three'], usage: { input: 8, output: 3 } },
    });
    const chunks = await drain(model().stream(hello));
    expect(
      chunks.filter((c) => c.type === 'text.delta').map((c) => (c.type === 'text.delta' ? c.text : '')),
    ).toEqual(['one ', 'two ', 'three']);
    expect(finish(chunks)).toMatchObject({
      text: 'one two three',
      finishReason: 'stop',
      usage: { inputTokens: 8, outputTokens: 3, totalTokens: 11 },
      model: 'claude-test',
    });
    expect(server.requests[0]?.body['stream']).toBe(true);
  });

  it('streams tool-input deltas that reassemble into the arguments', async () => {
    server.script({
      reply: {
        text: 'Checking.',
        toolCalls: [
          { id: 'toolu_a', name: 'lookup', arguments: { q: 'alpha' } },
          { id: 'toolu_b', name: 'lookup', arguments: { q: 'beta' } },
        ],
      },
    });
    const chunks = await drain(model().stream(hello));
    expect(chunks.filter((c) => c.type === 'tool_call.start')).toEqual([
      { type: 'tool_call.start', index: 0, id: 'toolu_a', name: 'lookup' },
      { type: 'tool_call.start', index: 1, id: 'toolu_b', name: 'lookup' },
    ]);
    const args = ['', ''];
    for (const c of chunks) if (c.type === 'tool_call.delta') args[c.index] += c.argumentsDelta;
    expect(args).toEqual(['{"q":"alpha"}', '{"q":"beta"}']);
    const result = finish(chunks);
    expect(result.finishReason).toBe('tool_calls');
    expect(result.text).toBe('Checking.');
    expect(result.toolCalls.map((c) => c.arguments)).toEqual(args);
  });

  it('streams structured output as JSON text deltas', async () => {
    server.script({
      reply: { toolCalls: [{ name: 'result', arguments: { city: 'Paris', country: 'France' } }] },
    });
    const chunks = await drain(
      model().stream({
        ...hello,
        responseFormat: { type: 'json', schema: { type: 'object' }, name: 'result' },
      }),
    );
    const streamed = chunks.map((c) => (c.type === 'text.delta' ? c.text : '')).join('');
    expect(JSON.parse(streamed)).toEqual({ city: 'Paris', country: 'France' });
    expect(chunks.filter((c) => c.type === 'text.delta').length).toBeGreaterThan(1);
    const result = finish(chunks);
    expect(result.text).toBe(streamed);
    expect(result.toolCalls).toEqual([]);
    expect(result.finishReason).toBe('stop');
  });

  it('a stream cut mid-way fails with a retryable LLM_ERROR', async () => {
    server.script({ reply: { text: 'a b c d e f' }, fault: { type: 'cut', afterEvents: 4 } });
    const received: string[] = [];
    const error = await caught(
      (async () => {
        for await (const c of model().stream(hello)) if (c.type === 'text.delta') received.push(c.text);
      })(),
    );
    expect(error.code).toBe('LLM_ERROR');
    expect(error.retryable).toBe(true);
    expect(received.length).toBeGreaterThan(0);
  });

  it('a stream that ends cleanly before message_stop fails with a retryable LLM_ERROR', async () => {
    server.script({ reply: { text: 'a b c d' }, fault: { type: 'cut', afterEvents: 4, mode: 'end' } });
    const error = await caught(drain(model().stream(hello)));
    expect(error.code).toBe('LLM_ERROR');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('ended before');
  });

  it('an in-stream error event (overloaded) fails with a retryable LLM_ERROR', async () => {
    server.script({
      reply: { text: 'a b c' },
      fault: { type: 'stream-error', afterEvents: 3, message: 'Overloaded' },
    });
    const error = await caught(drain(model().stream(hello)));
    expect(error.code).toBe('LLM_ERROR');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('Overloaded');
  });

  it('a malformed SSE event fails with a retryable LLM_ERROR', async () => {
    server.script({ reply: { text: 'a b c' }, fault: { type: 'malformed' } });
    const client = new Anthropic({
      apiKey: 'k',
      baseURL: server.anthropicBaseURL,
      maxRetries: 0,
      logLevel: 'off',
    });
    const error = await caught(drain(model({ client }).stream(hello)));
    expect(error.code).toBe('LLM_ERROR');
    expect(error.retryable).toBe(true);
  });
});

describe('AnthropicModel errors', () => {
  it.each([
    [401, 'UNAUTHENTICATED', false],
    [403, 'UNAUTHENTICATED', false],
    [404, 'LLM_ERROR', false],
    [400, 'LLM_ERROR', false],
    [500, 'LLM_ERROR', true],
    [529, 'LLM_ERROR', true],
  ] as const)('HTTP %i → %s (retryable: %s)', async (status, code, retryable) => {
    server.script({ fault: { type: 'status', status } });
    const error = await caught(model().generate(hello));
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
    expect(error.details).toMatchObject({ provider: 'anthropic', status });
  });

  it('keeps the provider error type (overloaded_error) in details', async () => {
    server.script({ fault: { type: 'status', status: 529 } });
    const error = await caught(model().generate(hello));
    expect(error.details['type']).toBe('overloaded_error');
  });

  it('429 → RATE_LIMITED, retryable, with Retry-After in details.retryAfterMs', async () => {
    server.script({ fault: { type: 'status', status: 429, headers: { 'retry-after': '3' } } });
    const error = await caught(model().generate(hello));
    expect(error.code).toBe('RATE_LIMITED');
    expect(error.retryable).toBe(true);
    expect(error.details['retryAfterMs']).toBe(3000);
  });

  it('the client honours Retry-After and retries a 429, then succeeds', async () => {
    server.script(
      { fault: { type: 'status', status: 429, headers: { 'retry-after': '0.01' } } },
      { reply: { text: 'after wait' } },
    );
    const result = await model({ maxRetries: 1 }).generate(hello);
    expect(result.text).toBe('after wait');
    expect(server.requests).toHaveLength(2);
  });

  it('a malformed JSON body → retryable LLM_ERROR', async () => {
    server.script({ fault: { type: 'malformed' } });
    const error = await caught(model().generate(hello));
    expect(error.code).toBe('LLM_ERROR');
    expect(error.retryable).toBe(true);
  });

  it('a slow first byte past the client timeout → retryable TIMEOUT', async () => {
    server.script({ delayMs: 3000, reply: { text: 'too late' } });
    const error = await caught(model({ timeout: 150 }).generate(hello));
    expect(error.code).toBe('TIMEOUT');
    expect(error.retryable).toBe(true);
  });

  it('aborting the signal → ABORTED (generate and stream)', async () => {
    server.script({ delayMs: 3000, reply: { text: 'x' } }, { delayMs: 3000, reply: { text: 'y' } });
    const a = new AbortController();
    const p = model().generate({ ...hello, signal: a.signal });
    setTimeout(() => a.abort(), 50);
    expect((await caught(p)).code).toBe('ABORTED');
    const b = new AbortController();
    const s = drain(model().stream({ ...hello, signal: b.signal }));
    setTimeout(() => b.abort(), 50);
    expect((await caught(s)).code).toBe('ABORTED');
  });

  it('an unreachable server → retryable LLM_ERROR', async () => {
    const dead = new AnthropicModel({
      model: 'm',
      apiKey: 'k',
      baseURL: 'http://127.0.0.1:1',
      maxRetries: 0,
    });
    const error = await caught(dead.generate(hello));
    expect(error.code).toBe('LLM_ERROR');
    expect(error.retryable).toBe(true);
  });

  it('mapAnthropicError wraps unknown errors; retryAfterMs parses headers', () => {
    expect(mapAnthropicError(new Error('boom')).code).toBe('LLM_ERROR');
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '40' }))).toBe(40);
    expect(retryAfterMs(new Headers({ 'retry-after': '1.5' }))).toBe(1500);
  });

  it('validates its options', () => {
    expect(() => new AnthropicModel({ model: '' })).toThrow(/model id/);
    expect(() => new AnthropicModel({ model: 'm', apiKey: 'k', defaultMaxTokens: 0 })).toThrow(
      /defaultMaxTokens/,
    );
  });
});

describe('toAnthropicMessages', () => {
  it('joins system messages and merges consecutive user turns', () => {
    const { system, messages } = toAnthropicMessages([
      { role: 'system', content: 'a' },
      { role: 'user', content: 'one' },
      { role: 'system', content: 'b' },
      { role: 'user', content: 'two' },
    ]);
    expect(system).toBe('a\n\nb');
    expect(messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'one' },
          { type: 'text', text: 'two' },
        ],
      },
    ]);
  });
});

describe('LLM-backed layers over the anthropic adapter', () => {
  const intent = {
    name: 'sales.report',
    confidence: 0.9,
    entities: [],
    slots: { period: 'Q3' },
    missingSlots: [],
  };
  const fetch = { id: 'fetch', title: 'Fetch', tool: 'sales.query', input: { period: 'Q3' }, dependsOn: [] };

  it('LlmPlanner repairs a cyclic plan over real HTTP and returns the valid one', async () => {
    const cyclic = {
      todos: [
        { ...fetch, dependsOn: ['write'] },
        { id: 'write', title: 'Write', domain: 'content', input: {}, dependsOn: ['fetch'] },
      ],
    };
    const fixed = {
      todos: [fetch, { id: 'write', title: 'Write', domain: 'content', input: {}, dependsOn: ['fetch'] }],
    };
    server.script(
      { reply: { toolCalls: [{ name: 'plan', arguments: cyclic }] } },
      { reply: { toolCalls: [{ name: 'plan', arguments: fixed }] } },
    );
    const draft = await new LlmPlanner({ model: model() }).plan(intent, planningContext());
    expect(draft.todos.map((t) => t.id)).toEqual(['fetch', 'write']);
    expect(server.requests).toHaveLength(2);
    expect(JSON.stringify(server.requests[1]?.body['messages'])).toContain(
      'dependency cycle: fetch → write → fetch',
    );
  });

  it('LlmResponder streams its answer from the wire as response deltas', async () => {
    server.script({ reply: { text: 'Sales rose in Q3.', chunks: ['Sales ', 'rose ', 'in Q3.'] } });
    const ctx = testResponseContext();
    const answer = await new LlmResponder({ model: model() }).respond(
      { input: 'how were sales?', plan: null, todos: [] },
      ctx,
    );
    expect(answer).toBe('Sales rose in Q3.');
    expect(ctx.deltas).toEqual(['Sales ', 'rose ', 'in Q3.']);
  });
});
