/**
 * `@dream-agent/ai-sdk` against the AI SDK's own mock provider (`ai/test`) and, through the real
 * `@ai-sdk/openai-compatible` provider, against the local OpenAI wire server.
 */
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { APICallError, type LanguageModelV3StreamPart } from '@ai-sdk/provider';
import { MockEmbeddingModelV3, MockLanguageModelV3, convertArrayToReadableStream } from 'ai/test';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { AiSdkEmbedder, AiSdkModel, mapAiSdkError, toAiSdkPrompt } from '@dream-agent/ai-sdk';
import { DreamAgentError, generateObject, withResilience, type StreamChunk } from 'dream-agent';
import { collectStream } from 'dream-agent/adapter-kit';
import { startLlmServer, type LlmServer } from 'dream-agent/testing';

const usage = (input: number, output: number) => ({
  inputTokens: { total: input, noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: output, text: undefined, reasoning: undefined },
});
const stop = { unified: 'stop' as const, raw: 'stop' };

async function rejection(p: Promise<unknown>): Promise<DreamAgentError> {
  try {
    await p;
  } catch (error) {
    return error as DreamAgentError;
  }
  throw new Error('expected a rejection');
}

async function drain(stream: AsyncIterable<StreamChunk>): Promise<StreamChunk[]> {
  const out: StreamChunk[] = [];
  for await (const c of stream) out.push(c);
  return out;
}

describe('AiSdkModel with the AI SDK mock provider', () => {
  it('generate: text, tool calls, usage, finish reason and the request mapping', async () => {
    const mock = new MockLanguageModelV3({
      provider: 'mock.chat',
      modelId: 'mock-1',
      doGenerate: {
        content: [
          { type: 'text', text: 'Calling ' },
          { type: 'reasoning', text: 'hidden' },
          { type: 'text', text: 'the tool.' },
          { type: 'tool-call', toolCallId: 'c1', toolName: 'sales_query', input: '{"period":"Q3"}' },
        ],
        finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
        usage: usage(12, 5),
        response: { id: 'resp-1', modelId: 'mock-1-2026' },
        warnings: [],
      },
    });
    const llm = new AiSdkModel(mock);
    expect([llm.provider, llm.model]).toEqual(['mock.chat', 'mock-1']);
    const result = await llm.generate({
      messages: [
        { role: 'system', content: 'sys' },
        { role: 'user', content: 'hi' },
      ],
      tools: [{ name: 'sales_query', description: 'Query', parameters: { type: 'object', properties: {} } }],
      toolChoice: { name: 'sales_query' },
      maxTokens: 50,
      temperature: 0.2,
      stop: ['END'],
    });
    expect(result).toEqual({
      text: 'Calling the tool.',
      toolCalls: [{ id: 'c1', name: 'sales_query', arguments: '{"period":"Q3"}' }],
      finishReason: 'tool_calls',
      usage: { inputTokens: 12, outputTokens: 5, totalTokens: 17 },
      model: 'mock-1-2026',
      id: 'resp-1',
    });
    const call = mock.doGenerateCalls[0];
    expect(call).toMatchObject({
      prompt: [
        { role: 'system', content: 'sys' },
        { role: 'user', content: [{ type: 'text', text: 'hi' }] },
      ],
      tools: [
        {
          type: 'function',
          name: 'sales_query',
          description: 'Query',
          inputSchema: { type: 'object', properties: {} },
        },
      ],
      toolChoice: { type: 'tool', toolName: 'sales_query' },
      maxOutputTokens: 50,
      temperature: 0.2,
      stopSequences: ['END'],
    });
  });

  it('structured output: responseFormat reaches the provider and generateObject validates the answer', async () => {
    const mock = new MockLanguageModelV3({
      doGenerate: {
        content: [{ type: 'text', text: '{"region":"north","total":3}' }],
        finishReason: stop,
        usage: usage(1, 1),
        warnings: [],
      },
    });
    const { object: value } = await generateObject(new AiSdkModel(mock), {
      schema: z.object({ region: z.string(), total: z.number() }),
      name: 'summary',
      messages: [{ role: 'user', content: 'summarise' }],
    });
    expect(value).toEqual({ region: 'north', total: 3 });
    expect(mock.doGenerateCalls[0]?.responseFormat).toMatchObject({
      type: 'json',
      name: 'summary',
      schema: { type: 'object' },
    });
  });

  it('stream: text deltas, streamed and whole tool calls, then one finish chunk', async () => {
    const parts: LanguageModelV3StreamPart[] = [
      { type: 'stream-start', warnings: [] },
      { type: 'response-metadata', id: 'r1', modelId: 'mock-s' },
      { type: 'text-start', id: 't' },
      { type: 'text-delta', id: 't', delta: 'Hel' },
      { type: 'text-delta', id: 't', delta: 'lo' },
      { type: 'text-end', id: 't' },
      { type: 'tool-input-start', id: 'c1', toolName: 'a' },
      { type: 'tool-input-delta', id: 'c1', delta: '{"x":' },
      { type: 'tool-input-delta', id: 'c1', delta: '1}' },
      { type: 'tool-input-end', id: 'c1' },
      { type: 'tool-call', toolCallId: 'c1', toolName: 'a', input: '{"x":1}' },
      { type: 'tool-call', toolCallId: 'c2', toolName: 'b', input: '{}' },
      { type: 'finish', finishReason: { unified: 'tool-calls', raw: undefined }, usage: usage(3, 4) },
    ];
    const mock = new MockLanguageModelV3({ doStream: { stream: convertArrayToReadableStream(parts) } });
    const chunks = await drain(new AiSdkModel(mock).stream({ messages: [{ role: 'user', content: 'x' }] }));
    expect(chunks).toEqual([
      { type: 'text.delta', text: 'Hel' },
      { type: 'text.delta', text: 'lo' },
      { type: 'tool_call.start', index: 0, id: 'c1', name: 'a' },
      { type: 'tool_call.delta', index: 0, id: 'c1', argumentsDelta: '{"x":' },
      { type: 'tool_call.delta', index: 0, id: 'c1', argumentsDelta: '1}' },
      { type: 'tool_call.start', index: 1, id: 'c2', name: 'b' },
      { type: 'tool_call.delta', index: 1, id: 'c2', argumentsDelta: '{}' },
      {
        type: 'finish',
        result: {
          text: 'Hello',
          toolCalls: [
            { id: 'c1', name: 'a', arguments: '{"x":1}' },
            { id: 'c2', name: 'b', arguments: '{}' },
          ],
          finishReason: 'tool_calls',
          usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 },
          model: 'mock-s',
          id: 'r1',
        },
      },
    ]);
  });

  it('a stream error part and a stream without finish are typed LLM_ERROR (retryable)', async () => {
    const withError = new MockLanguageModelV3({
      doStream: {
        stream: convertArrayToReadableStream<LanguageModelV3StreamPart>([
          { type: 'text-delta', id: 't', delta: 'a' },
          { type: 'error', error: { message: 'overloaded' } },
        ]),
      },
    });
    const e1 = await rejection(collectStream(new AiSdkModel(withError).stream({ messages: [] })));
    expect(e1).toMatchObject({ code: 'LLM_ERROR', retryable: true });
    const cut = new MockLanguageModelV3({
      doStream: {
        stream: convertArrayToReadableStream<LanguageModelV3StreamPart>([
          { type: 'text-delta', id: 't', delta: 'a' },
        ]),
      },
    });
    const e2 = await rejection(collectStream(new AiSdkModel(cut).stream({ messages: [] })));
    expect(e2).toMatchObject({
      code: 'LLM_ERROR',
      retryable: true,
      message: expect.stringContaining('ended before'),
    });
  });

  it('breaking out of a stream cancels the provider stream', async () => {
    const cancelled = vi.fn();
    const stream = new ReadableStream<LanguageModelV3StreamPart>({
      start(controller) {
        controller.enqueue({ type: 'text-delta', id: 't', delta: 'first' });
      },
      cancel: cancelled,
    });
    const mock = new MockLanguageModelV3({ doStream: { stream } });
    for await (const chunk of new AiSdkModel(mock).stream({ messages: [] })) {
      expect(chunk).toEqual({ type: 'text.delta', text: 'first' });
      break;
    }
    expect(cancelled).toHaveBeenCalledOnce();
  });

  it('provider errors map to typed codes', () => {
    const apiError = (statusCode: number, headers: Record<string, string> = {}) =>
      new APICallError({
        message: `status ${statusCode}`,
        url: 'http://x',
        requestBodyValues: {},
        statusCode,
        responseHeaders: headers,
      });
    expect(mapAiSdkError(apiError(401))).toMatchObject({ code: 'UNAUTHENTICATED', retryable: false });
    expect(mapAiSdkError(apiError(429, { 'retry-after': '7' }))).toMatchObject({
      code: 'RATE_LIMITED',
      retryable: true,
      details: { retryAfterMs: 7000, status: 429 },
    });
    expect(mapAiSdkError(apiError(503))).toMatchObject({ code: 'LLM_ERROR', retryable: true });
    expect(mapAiSdkError(apiError(400))).toMatchObject({ code: 'LLM_ERROR', retryable: false });
    const a = new AbortController();
    a.abort();
    expect(mapAiSdkError(new Error('x'), a.signal).code).toBe('ABORTED');
    expect(mapAiSdkError(Object.assign(new Error('t'), { name: 'TimeoutError' })).code).toBe('TIMEOUT');
    expect(mapAiSdkError(Object.assign(new Error('k'), { name: 'AI_LoadAPIKeyError' })).code).toBe(
      'UNAUTHENTICATED',
    );
  });

  it('a rejected doGenerate is mapped; an aborted signal fails before any call', async () => {
    const mock = new MockLanguageModelV3({
      doGenerate: () => {
        throw new APICallError({ message: 'slow down', url: 'u', requestBodyValues: {}, statusCode: 429 });
      },
    });
    expect((await rejection(new AiSdkModel(mock).generate({ messages: [] }))).code).toBe('RATE_LIMITED');
    const a = new AbortController();
    a.abort();
    expect((await rejection(new AiSdkModel(mock).generate({ messages: [], signal: a.signal }))).code).toBe(
      'ABORTED',
    );
    expect(mock.doGenerateCalls).toHaveLength(1);
  });

  it('rejects what is not an AI SDK 6 model', () => {
    expect(() => new AiSdkModel({ specificationVersion: 'v2' } as never)).toThrow(
      /specificationVersion "v2"/,
    );
    expect(() => new AiSdkModel('gpt-4o' as never)).toThrow(DreamAgentError);
  });

  it('maps a tool round trip into the v3 prompt (tool name from the call, errors as error-text)', () => {
    expect(
      toAiSdkPrompt([
        {
          role: 'assistant',
          content: '',
          toolCalls: [
            { id: 'c1', name: 'a', arguments: '{"x":1}' },
            { id: 'c2', name: 'b', arguments: 'not json' },
          ],
        },
        { role: 'tool', toolCallId: 'c1', content: '{"ok":true}' },
        { role: 'tool', toolCallId: 'c2', content: 'boom', isError: true },
      ]),
    ).toEqual([
      {
        role: 'assistant',
        content: [
          { type: 'tool-call', toolCallId: 'c1', toolName: 'a', input: { x: 1 } },
          { type: 'tool-call', toolCallId: 'c2', toolName: 'b', input: 'not json' },
        ],
      },
      {
        role: 'tool',
        content: [
          {
            type: 'tool-result',
            toolCallId: 'c1',
            toolName: 'a',
            output: { type: 'text', value: '{"ok":true}' },
          },
          {
            type: 'tool-result',
            toolCallId: 'c2',
            toolName: 'b',
            output: { type: 'error-text', value: 'boom' },
          },
        ],
      },
    ]);
  });

  it('AiSdkEmbedder batches by maxEmbeddingsPerCall, keeps order and checks dimensions', async () => {
    const mock = new MockEmbeddingModelV3({
      maxEmbeddingsPerCall: 2,
      doEmbed: async ({ values }) => ({ embeddings: values.map((v) => [v.length, 1, 0]), warnings: [] }),
    });
    const embedder = new AiSdkEmbedder(mock, { dimensions: 3 });
    expect(await embedder.embed(['a', 'bb', 'ccc'])).toEqual([
      [1, 1, 0],
      [2, 1, 0],
      [3, 1, 0],
    ]);
    expect(mock.doEmbedCalls.map((c) => c.values)).toEqual([['a', 'bb'], ['ccc']]);
    const wrong = new AiSdkEmbedder(mock, { dimensions: 4 });
    expect(await rejection(wrong.embed(['a']))).toMatchObject({ code: 'LLM_ERROR', retryable: false });
    expect(() => new AiSdkEmbedder(mock, { dimensions: 0 })).toThrow(DreamAgentError);
  });
});

describe('AiSdkModel on @ai-sdk/openai-compatible against the OpenAI wire server', () => {
  let server: LlmServer;
  beforeAll(async () => {
    server = await startLlmServer();
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => server.reset());
  const provider = () =>
    createOpenAICompatible({
      name: 'local',
      baseURL: server.openaiBaseURL,
      apiKey: 'sk-test',
      includeUsage: true,
    });

  it('generate and stream text with usage equal to the wire', async () => {
    server.script(
      { route: 'openai', reply: { text: 'Hello there', usage: { input: 21, output: 3 } } },
      {
        route: 'openai',
        reply: {
          text: 'streamed answer',
          chunks: ['stream', 'ed ', 'answer'],
          usage: { input: 9, output: 4 },
        },
      },
    );
    const llm = new AiSdkModel(provider().chatModel('gpt-local'));
    const one = await llm.generate({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 20 });
    expect(one).toMatchObject({
      text: 'Hello there',
      finishReason: 'stop',
      usage: { inputTokens: 21, outputTokens: 3, totalTokens: 24 },
    });
    const deltas: string[] = [];
    const two = await collectStream(llm.stream({ messages: [{ role: 'user', content: 'hi' }] }), (t) =>
      deltas.push(t),
    );
    expect(deltas).toEqual(['stream', 'ed ', 'answer']);
    expect(two).toMatchObject({
      text: 'streamed answer',
      usage: { inputTokens: 9, outputTokens: 4, totalTokens: 13 },
    });
    expect(server.requests[0]?.body).toMatchObject({ model: 'gpt-local', max_tokens: 20 });
  });

  it('streamed tool calls arrive whole', async () => {
    server.script({
      route: 'openai',
      reply: { toolCalls: [{ id: 'call_1', name: 'sales_query', arguments: { period: 'Q3' } }] },
    });
    const llm = new AiSdkModel(provider().chatModel('gpt-local'));
    const result = await collectStream(
      llm.stream({
        messages: [{ role: 'user', content: 'q3' }],
        tools: [
          {
            name: 'sales_query',
            description: 'Query',
            parameters: { type: 'object', properties: { period: { type: 'string' } } },
          },
        ],
      }),
    );
    expect(result.finishReason).toBe('tool_calls');
    expect(result.toolCalls).toEqual([{ id: 'call_1', name: 'sales_query', arguments: '{"period":"Q3"}' }]);
  });

  it('429 with Retry-After is RATE_LIMITED with retryAfterMs; 401 UNAUTHENTICATED', async () => {
    server.script(
      { route: 'openai', fault: { type: 'status', status: 429, headers: { 'retry-after': '2' } } },
      { route: 'openai', fault: { type: 'status', status: 401 } },
    );
    const llm = new AiSdkModel(provider().chatModel('gpt-local'));
    expect(await rejection(llm.generate({ messages: [] }))).toMatchObject({
      code: 'RATE_LIMITED',
      details: { retryAfterMs: 2000 },
    });
    expect(await rejection(llm.generate({ messages: [] }))).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(server.requests).toHaveLength(2);
  });

  it('a stalled stream ends with TIMEOUT under withResilience and its socket is closed; abort is ABORTED', async () => {
    server.script({ route: 'openai', fault: { type: 'stall' } });
    const llm = withResilience(new AiSdkModel(provider().chatModel('gpt-local')), {
      idleTimeoutMs: 250,
      retry: false,
    });
    expect(await rejection(collectStream(llm.stream({ messages: [] })))).toMatchObject({ code: 'TIMEOUT' });
    await vi.waitFor(() => expect(server.requests[0]?.closedAt).toBeDefined(), { timeout: 2000 });

    server.script({ route: 'openai', fault: { type: 'stall' } });
    const a = new AbortController();
    const p = collectStream(
      new AiSdkModel(provider().chatModel('gpt-local')).stream({ messages: [], signal: a.signal }),
    );
    setTimeout(() => a.abort(), 50);
    expect((await rejection(p)).code).toBe('ABORTED');
    await vi.waitFor(() => expect(server.requests[1]?.closedAt).toBeDefined(), { timeout: 2000 });
  });

  it('an AI SDK embedding model embeds through the wire', async () => {
    const embedder = new AiSdkEmbedder(provider().textEmbeddingModel('embed-local'), { dimensions: 8 });
    const vectors = await embedder.embed(['north sales', 'south sales']);
    expect(vectors).toHaveLength(2);
    expect(vectors[0]).toHaveLength(8);
    expect(vectors[0]).not.toEqual(vectors[1]);
  });
});
