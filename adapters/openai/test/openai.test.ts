import OpenAI from 'openai';
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
  deterministicVector,
  startLlmServer,
  testPlanningContext,
  testResponseContext,
  toolCatalog,
  type LlmServer,
} from 'dream-agent/testing';
import { mapOpenAIError, OpenAIEmbedder, OpenAIModel, retryAfterMs } from '../src/index.js';

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

function model(options: Partial<ConstructorParameters<typeof OpenAIModel>[0]> = {}): OpenAIModel {
  return new OpenAIModel({
    model: 'gpt-test',
    apiKey: 'sk-test',
    baseURL: server.openaiBaseURL,
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

describe('OpenAIModel.generate', () => {
  it('sends a Chat Completions request and maps text, finish reason, usage and model', async () => {
    server.script({ reply: { text: 'Hello there.', usage: { input: 21, output: 3 } } });
    const result = await model().generate({ ...hello, temperature: 0.2, maxTokens: 50, stop: ['END'] });
    expect(result).toMatchObject({
      text: 'Hello there.',
      toolCalls: [],
      finishReason: 'stop',
      usage: { inputTokens: 21, outputTokens: 3, totalTokens: 24 },
      model: 'gpt-test',
    });
    const req = server.requests[0];
    expect(req?.route).toBe('openai');
    expect(req?.headers['authorization']).toBe('Bearer sk-test');
    expect(req?.body).toMatchObject({
      model: 'gpt-test',
      temperature: 0.2,
      max_completion_tokens: 50,
      stop: ['END'],
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hi' },
      ],
    });
    expect(req?.body['stream']).toBeUndefined();
  });

  it('uses max_tokens for older compatible servers and a per-request model override', async () => {
    server.script({ reply: { text: 'ok' } });
    const result = await model({ maxTokensParameter: 'max_tokens' }).generate({
      ...hello,
      maxTokens: 9,
      model: 'other',
    });
    expect(server.requests[0]?.body).toMatchObject({ max_tokens: 9, model: 'other' });
    expect(server.requests[0]?.body['max_completion_tokens']).toBeUndefined();
    expect(result.model).toBe('other');
  });

  it('sends tools and tool choice, and returns tool calls with their raw arguments', async () => {
    server.script({
      reply: {
        toolCalls: [{ id: 'call_1', name: 'sales_query', arguments: { period: 'Q3' } }],
        usage: { input: 5, output: 9 },
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
      toolChoice: { name: 'sales_query' },
    });
    expect(result.finishReason).toBe('tool_calls');
    expect(result.text).toBe('');
    expect(result.toolCalls).toEqual([{ id: 'call_1', name: 'sales_query', arguments: '{"period":"Q3"}' }]);
    expect(server.requests[0]?.body).toMatchObject({
      tools: [{ type: 'function', function: { name: 'sales_query', description: 'Query sales' } }],
      tool_choice: { type: 'function', function: { name: 'sales_query' } },
    });
  });

  it('maps a tool-calling conversation (assistant tool calls, tool results) onto the wire', async () => {
    server.script({ reply: { text: 'Q3 was 42.' } });
    await model().generate({
      messages: [
        { role: 'user', content: 'sales?' },
        {
          role: 'assistant',
          content: '',
          toolCalls: [{ id: 'c1', name: 'sales_query', arguments: '{"period":"Q3"}' }],
        },
        { role: 'tool', toolCallId: 'c1', content: '{"total":42}' },
      ],
    });
    expect(server.requests[0]?.body['messages']).toEqual([
      { role: 'user', content: 'sales?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'sales_query', arguments: '{"period":"Q3"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'c1', content: '{"total":42}' },
    ]);
  });

  it('requests structured output as a JSON-schema response format', async () => {
    server.script({ reply: { text: '{"city":"Paris"}' } });
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
    const result = await model().generate({
      ...hello,
      responseFormat: { type: 'json', schema, name: 'place' },
    });
    expect(JSON.parse(result.text)).toEqual({ city: 'Paris' });
    expect(server.requests[0]?.body['response_format']).toEqual({
      type: 'json_schema',
      json_schema: { name: 'place', schema, strict: false },
    });
  });

  it('falls back to JSON mode with the schema in the prompt for older compatible servers', async () => {
    server.script({ reply: { text: '{"city":"Paris"}' } });
    const schema = { type: 'object', properties: { city: { type: 'string' } } };
    await model({ structuredOutput: 'json_object' }).generate({
      ...hello,
      responseFormat: { type: 'json', schema },
    });
    const body = server.requests[0]?.body;
    expect(body?.['response_format']).toEqual({ type: 'json_object' });
    const messages = body?.['messages'] as { role: string; content: string }[];
    expect(messages.at(-1)?.content).toContain(JSON.stringify(schema));
  });

  it('generateObject repairs invalid output over the real client, feeding the exact error back', async () => {
    server.script({ reply: { text: '{"city": 7}' } }, { reply: { text: '{"city":"Paris"}' } });
    const { object, attempts, usage } = await generateObject(model(), {
      schema: z.object({ city: z.string() }),
      messages: [{ role: 'user', content: 'Where is the Eiffel tower?' }],
    });
    expect(object).toEqual({ city: 'Paris' });
    expect(attempts).toBe(2);
    expect(usage.totalTokens).toBe(36);
    const second = server.requests[1]?.body['messages'] as { role: string; content: string }[];
    expect(second.at(-2)).toEqual({ role: 'assistant', content: '{"city": 7}' });
    expect(second.at(-1)?.content).toContain('city: Invalid input: expected string, received number');
  });

  it('uses a client instance the user built', async () => {
    const client = new OpenAI({
      apiKey: 'sk-own',
      baseURL: server.openaiBaseURL,
      maxRetries: 0,
      defaultHeaders: { 'x-tenant': 'acme' },
    });
    server.script({ reply: { text: 'ok' } });
    const llm = new OpenAIModel({ model: 'gpt-test', client });
    expect(llm.client).toBe(client);
    await llm.generate(hello);
    expect(server.requests[0]?.headers['x-tenant']).toBe('acme');
    expect(server.requests[0]?.headers['authorization']).toBe('Bearer sk-own');
  });

  it('records usage per call, per layer and per model through withUsageTracking', async () => {
    server.script(
      { reply: { text: 'a', usage: { input: 10, output: 1 } } },
      { reply: { text: 'b', usage: { input: 20, output: 2 } } },
    );
    const tracker = new UsageTracker();
    const llm = withUsageTracking(model(), tracker);
    await llm.generate({ ...hello, layer: 'cognitive' });
    await drain(llm.stream({ ...hello, layer: 'responder' }));
    expect(tracker.calls).toBe(2);
    expect(tracker.byLayer()).toEqual({
      cognitive: { inputTokens: 10, outputTokens: 1, totalTokens: 11 },
      responder: { inputTokens: 20, outputTokens: 2, totalTokens: 22 },
    });
    expect(tracker.byModel()).toEqual({
      'openai:gpt-test': { inputTokens: 30, outputTokens: 3, totalTokens: 33 },
    });
  });
});

describe('OpenAIModel.stream', () => {
  it('streams text deltas and ends with the full result and usage (include_usage)', async () => {
    server.script({
      reply: { text: 'one two three', chunks: ['one ', 'two ', 'three'], usage: { input: 8, output: 3 } },
    });
    const chunks = await drain(model().stream(hello));
    const deltas = chunks
      .filter((c) => c.type === 'text.delta')
      .map((c) => (c.type === 'text.delta' ? c.text : ''));
    expect(deltas).toEqual(['one ', 'two ', 'three']);
    const last = chunks.at(-1);
    expect(last?.type).toBe('finish');
    if (last?.type !== 'finish') return;
    expect(last.result).toMatchObject({
      text: 'one two three',
      finishReason: 'stop',
      usage: { inputTokens: 8, outputTokens: 3, totalTokens: 11 },
      model: 'gpt-test',
    });
    expect(server.requests[0]?.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('streams tool-call deltas that reassemble into the arguments', async () => {
    server.script({
      reply: {
        toolCalls: [
          { id: 'call_a', name: 'lookup', arguments: { q: 'alpha', n: 1 } },
          { id: 'call_b', name: 'lookup', arguments: { q: 'beta', n: 2 } },
        ],
      },
    });
    const chunks = await drain(model().stream(hello));
    const starts = chunks.filter((c) => c.type === 'tool_call.start');
    expect(starts).toEqual([
      { type: 'tool_call.start', index: 0, id: 'call_a', name: 'lookup' },
      { type: 'tool_call.start', index: 1, id: 'call_b', name: 'lookup' },
    ]);
    const args = ['', ''];
    for (const c of chunks) if (c.type === 'tool_call.delta') args[c.index] += c.argumentsDelta;
    expect(args.map((a) => JSON.parse(a) as unknown)).toEqual([
      { q: 'alpha', n: 1 },
      { q: 'beta', n: 2 },
    ]);
    expect(chunks.filter((c) => c.type === 'tool_call.delta').length).toBeGreaterThanOrEqual(4);
    const last = chunks.at(-1);
    if (last?.type !== 'finish') throw new Error('no finish chunk');
    expect(last.result.finishReason).toBe('tool_calls');
    expect(last.result.toolCalls.map((c) => c.arguments)).toEqual(args);
  });

  it('does not ask for stream usage when disabled (servers that reject stream_options)', async () => {
    server.script({ reply: { text: 'ok' } });
    const chunks = await drain(model({ streamUsage: false }).stream(hello));
    expect(server.requests[0]?.body['stream_options']).toBeUndefined();
    const last = chunks.at(-1);
    expect(last?.type === 'finish' && last.result.usage.totalTokens).toBe(0);
  });

  it('a stream cut mid-way (socket destroyed) fails with a retryable LLM_ERROR after the first deltas', async () => {
    server.script({ reply: { text: 'a b c d e f' }, fault: { type: 'cut', afterEvents: 3 } });
    const received: string[] = [];
    const error = await caught(
      (async () => {
        for await (const c of model().stream(hello)) if (c.type === 'text.delta') received.push(c.text);
      })(),
    );
    expect(error.code).toBe('LLM_ERROR');
    expect(error.retryable).toBe(true);
    expect(received.length).toBeGreaterThan(0);
    expect(received.join('')).not.toBe('a b c d e f');
  });

  it('a stream that ends cleanly without finishing fails with a retryable LLM_ERROR', async () => {
    server.script({ reply: { text: 'a b c d' }, fault: { type: 'cut', afterEvents: 3, mode: 'end' } });
    const error = await caught(drain(model().stream(hello)));
    expect(error.code).toBe('LLM_ERROR');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('ended before');
  });

  it('a malformed SSE event fails with a retryable LLM_ERROR', async () => {
    server.script({ reply: { text: 'a b c' }, fault: { type: 'malformed' } });
    // logLevel 'off': the SDK logs the unparsable event before throwing.
    const client = new OpenAI({ apiKey: 'k', baseURL: server.openaiBaseURL, maxRetries: 0, logLevel: 'off' });
    const error = await caught(drain(model({ client }).stream(hello)));
    expect(error.code).toBe('LLM_ERROR');
    expect(error.retryable).toBe(true);
  });

  it('an in-stream error event fails with a retryable LLM_ERROR carrying the message', async () => {
    server.script({
      reply: { text: 'a b c' },
      fault: { type: 'stream-error', afterEvents: 2, message: 'engine overloaded' },
    });
    const error = await caught(drain(model().stream(hello)));
    expect(error.code).toBe('LLM_ERROR');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('engine overloaded');
  });

  it('breaking out of the loop stops reading (the next request still works)', async () => {
    server.script({ reply: { text: 'a b c d e f g h' } }, { reply: { text: 'next' } });
    for await (const c of model().stream(hello)) if (c.type === 'text.delta') break;
    const result = await model().generate(hello);
    expect(result.text).toBe('next');
  });
});

describe('OpenAIModel errors', () => {
  it.each([
    [401, 'UNAUTHENTICATED', false],
    [403, 'UNAUTHENTICATED', false],
    [404, 'LLM_ERROR', false],
    [400, 'LLM_ERROR', false],
    [500, 'LLM_ERROR', true],
    [503, 'LLM_ERROR', true],
  ] as const)('HTTP %i → %s (retryable: %s)', async (status, code, retryable) => {
    server.script({ fault: { type: 'status', status } });
    const error = await caught(model().generate(hello));
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
    expect(error.details).toMatchObject({ provider: 'openai', status });
  });

  it('429 → RATE_LIMITED, retryable, with Retry-After in details.retryAfterMs', async () => {
    server.script({ fault: { type: 'status', status: 429, headers: { 'retry-after': '7' } } });
    const error = await caught(model().generate(hello));
    expect(error.code).toBe('RATE_LIMITED');
    expect(error.retryable).toBe(true);
    expect(error.details['retryAfterMs']).toBe(7000);
  });

  it('429 insufficient_quota is not retryable', async () => {
    server.script({ fault: { type: 'status', status: 429, code: 'insufficient_quota' } });
    const error = await caught(model().generate(hello));
    expect(error.code).toBe('RATE_LIMITED');
    expect(error.retryable).toBe(false);
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

  it('the client retries a 500 on a stream request before any byte, then streams', async () => {
    server.script(
      { fault: { type: 'status', status: 500, headers: { 'retry-after-ms': '5' } } },
      { reply: { text: 'fine now' } },
    );
    const chunks = await drain(model({ maxRetries: 1 }).stream(hello));
    const last = chunks.at(-1);
    expect(last?.type === 'finish' && last.result.text).toBe('fine now');
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

  it('a slow first byte within the timeout is fine', async () => {
    server.script({ delayMs: 100, reply: { text: 'slow but fine' } });
    const result = await model({ timeout: 5000 }).generate(hello);
    expect(result.text).toBe('slow but fine');
  });

  it('aborting the signal → ABORTED (generate and stream), not retryable', async () => {
    server.script({ delayMs: 3000, reply: { text: 'x' } }, { delayMs: 3000, reply: { text: 'y' } });
    const a = new AbortController();
    const p = model().generate({ ...hello, signal: a.signal });
    setTimeout(() => a.abort(), 50);
    const e1 = await caught(p);
    expect(e1.code).toBe('ABORTED');
    expect(e1.retryable).toBe(false);

    const b = new AbortController();
    const s = drain(model().stream({ ...hello, signal: b.signal }));
    setTimeout(() => b.abort(), 50);
    const e2 = await caught(s);
    expect(e2.code).toBe('ABORTED');
  });

  it('an already aborted signal fails before any request', async () => {
    const a = new AbortController();
    a.abort();
    const error = await caught(model().generate({ ...hello, signal: a.signal }));
    expect(error.code).toBe('ABORTED');
    expect(server.requests).toHaveLength(0);
  });

  it('an unreachable server → retryable LLM_ERROR', async () => {
    const dead = new OpenAIModel({
      model: 'm',
      apiKey: 'k',
      baseURL: 'http://127.0.0.1:1/v1',
      maxRetries: 0,
    });
    const error = await caught(dead.generate(hello));
    expect(error.code).toBe('LLM_ERROR');
    expect(error.retryable).toBe(true);
  });

  it('mapOpenAIError passes dream-agent errors through and wraps unknown errors', () => {
    const own = mapOpenAIError(new Error('boom'));
    expect(own.code).toBe('LLM_ERROR');
    expect(mapOpenAIError(own)).toBe(own);
  });

  it('retryAfterMs reads retry-after-ms, seconds and HTTP dates', () => {
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '250' }))).toBe(250);
    expect(retryAfterMs(new Headers({ 'retry-after': '2' }))).toBe(2000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }), now)).toBe(5000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'soon' }))).toBeUndefined();
    expect(retryAfterMs(new Headers())).toBeUndefined();
  });

  it('rejects a missing model id', () => {
    expect(() => new OpenAIModel({ model: '' })).toThrow(/model id/);
  });
});

describe('OpenAIEmbedder', () => {
  function embedder(options: Partial<ConstructorParameters<typeof OpenAIEmbedder>[0]> = {}): OpenAIEmbedder {
    return new OpenAIEmbedder({
      apiKey: 'sk-test',
      baseURL: server.openaiBaseURL,
      maxRetries: 0,
      ...options,
    });
  }

  it('embeds texts in order, decoding the base64 wire format the client asks for', async () => {
    const vectors = await embedder({ dimensions: 16 }).embed(['alpha', 'beta']);
    expect(vectors).toEqual([deterministicVector('alpha', 16), deterministicVector('beta', 16)]);
    expect(server.requests[0]?.body).toMatchObject({
      model: 'text-embedding-3-small',
      input: ['alpha', 'beta'],
      dimensions: 16,
    });
  });

  it('batches large inputs and keeps the order', async () => {
    const e = embedder({ batchSize: 2, dimensions: 8 });
    const texts = ['a1', 'b2', 'c3', 'd4', 'e5'];
    const vectors = await e.embed(texts);
    expect(server.requests.map((r) => r.body['input'])).toEqual([['a1', 'b2'], ['c3', 'd4'], ['e5']]);
    expect(vectors).toEqual(texts.map((t) => deterministicVector(t, 8)));
  });

  it('knows the size of OpenAI models, needs dimensions for others, and checks vector lengths', async () => {
    expect(embedder().dimensions).toBe(1536);
    expect(embedder({ model: 'text-embedding-3-large' }).dimensions).toBe(3072);
    expect(() => embedder({ model: 'nomic-embed-text' })).toThrow(/pass \{ dimensions \}/);
    // A non-OpenAI model: `dimensions` is not sent (compatible servers may reject it) and the server's
    // 8-dimensional vectors do not match the declared 16.
    const local = embedder({ model: 'nomic-embed-text', dimensions: 16 });
    const error = await caught(local.embed(['x']));
    expect(server.requests[0]?.body['dimensions']).toBeUndefined();
    expect(error.code).toBe('LLM_ERROR');
    expect(error.retryable).toBe(false);
    expect(error.details).toMatchObject({ expected: 16, received: 8 });
  });

  it('makes no request for an empty list and maps errors', async () => {
    expect(await embedder().embed([])).toEqual([]);
    expect(server.requests).toHaveLength(0);
    server.script({ route: 'embeddings', fault: { type: 'status', status: 401 } });
    const error = await caught(embedder().embed(['x']));
    expect(error.code).toBe('UNAUTHENTICATED');
  });

  it('rejects a bad batch size or dimensions', () => {
    expect(() => embedder({ batchSize: 0 })).toThrow(/batchSize/);
    expect(() => embedder({ dimensions: -1 })).toThrow(/dimensions.*-1/);
  });
});

describe('LLM-backed layers over the openai adapter', () => {
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
    server.script({ reply: { text: JSON.stringify(cyclic) } }, { reply: { text: JSON.stringify(fixed) } });
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
