/**
 * An outsider's probes of `@dream-agent/ai-sdk`: AI SDK providers that throw odd things or return odd
 * values. Whatever a provider does, the adapter answers with a typed `DreamAgentError` (never a raw
 * TypeError out of the error mapping itself) and a result that keeps the port's contract (usage counts
 * are non-negative integers, tool-call arguments are JSON text).
 */
import { APICallError } from '@ai-sdk/provider';
import { MockLanguageModelV3, convertArrayToReadableStream } from 'ai/test';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AiSdkModel, mapAiSdkError } from '@dream-agent/ai-sdk';
import { isDreamAgentError, type StreamChunk } from 'dream-agent';

const messages = [{ role: 'user' as const, content: 'hi' }];

async function thrownBy(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

async function drain(stream: AsyncIterable<StreamChunk>): Promise<StreamChunk[]> {
  const out: StreamChunk[] = [];
  for await (const c of stream) out.push(c);
  return out;
}

const circular: Record<string, unknown> = { reason: 'loop' };
circular['self'] = circular;
const revoked = Proxy.revocable({}, {});
revoked.revoke();

/** Values seen thrown by real-world code paths (or crafted to break naive mapping). */
const ODD_THROWS: [string, () => unknown][] = [
  ['a circular object', () => circular],
  ['an object holding a BigInt', () => ({ n: 10n })],
  [
    'an object whose getters throw',
    () => ({
      get message(): string {
        throw new Error('message getter');
      },
      get name(): string {
        throw new Error('name getter');
      },
    }),
  ],
  ['a revoked Proxy', () => revoked.proxy],
  [
    'a 429 whose response headers have invalid names',
    () =>
      new APICallError({
        message: 'slow down',
        url: 'http://127.0.0.1/x',
        requestBodyValues: {},
        statusCode: 429,
        responseHeaders: { 'retry after': '5', 'x-bad\n': 'y' },
      }),
  ],
  ['a Symbol', () => Symbol('odd')],
];

describe('outsider: AI SDK providers that throw odd things', () => {
  it.each(ODD_THROWS)('generate and stream map %s to a typed error', async (_label, make) => {
    const model = new AiSdkModel(
      new MockLanguageModelV3({
        doGenerate: () => Promise.reject(make()),
        doStream: () => Promise.reject(make()),
      }),
    );
    for (const p of [model.generate({ messages }), drain(model.stream({ messages }))]) {
      const error = await thrownBy(p);
      expect(isDreamAgentError(error), String((error as Error | undefined)?.message)).toBe(true);
      expect((error as { code: string }).code).toMatch(/^(LLM_ERROR|RATE_LIMITED)$/);
    }
  });

  it('a 429 with broken header names is still RATE_LIMITED, and a valid Retry-After among them is read', () => {
    const error = mapAiSdkError(
      new APICallError({
        message: 'slow down',
        url: 'http://127.0.0.1/x',
        requestBodyValues: {},
        statusCode: 429,
        responseHeaders: { 'bad name': 'x', 'retry-after': '7' },
      }),
    );
    expect(error.code).toBe('RATE_LIMITED');
    expect(error.details['retryAfterMs']).toBe(7000);
  });

  it('an error part or a stream error carrying a circular object is typed', async () => {
    const withPart = new AiSdkModel(
      new MockLanguageModelV3({
        doStream: () =>
          Promise.resolve({
            stream: convertArrayToReadableStream([
              { type: 'text-delta', id: '1', delta: 'partial' },
              { type: 'error', error: circular },
            ]),
          }),
      }),
    );
    const a = await thrownBy(drain(withPart.stream({ messages })));
    expect(isDreamAgentError(a) && a.code).toBe('LLM_ERROR');
    const erroring = new AiSdkModel(
      new MockLanguageModelV3({
        doStream: () =>
          Promise.resolve({
            stream: new ReadableStream({
              pull(controller) {
                controller.error(circular);
              },
            }),
          }),
      }),
    );
    const b = await thrownBy(drain(erroring.stream({ messages })));
    expect(isDreamAgentError(b) && b.code).toBe('LLM_ERROR');
  });

  it('property: mapAiSdkError never throws, whatever is thrown (any value, any status, any headers)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything({ withBigInt: true, withBoxedValues: true, withMap: true, withSet: true }),
          fc.record({
            statusCode: fc.constantFrom(401, 403, 408, 429, 429, 429, 500, 503),
            responseHeaders: fc.oneof(
              fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.anything({ withBigInt: true }))),
              fc.anything({ withBigInt: true }),
            ),
            message: fc.anything({ withBigInt: true }),
            name: fc.anything(),
            isRetryable: fc.anything(),
          }),
        ),
        fc.boolean(),
        (thrown, inStream) => {
          const error = mapAiSdkError(thrown, undefined, inStream);
          expect(isDreamAgentError(error)).toBe(true);
          expect(typeof error.message).toBe('string');
          expect(() => JSON.stringify(error.details)).not.toThrow();
        },
      ),
    );
  });
});

describe('outsider: AI SDK providers that return odd values', () => {
  it('negative, fractional or non-numeric usage counts become non-negative integers', async () => {
    const model = new AiSdkModel(
      new MockLanguageModelV3({
        doGenerate: {
          content: [{ type: 'text', text: 'ok' }],
          finishReason: { unified: 'stop', raw: 'stop' },
          usage: { inputTokens: { total: -5 }, outputTokens: { total: 2.7 } } as never,
          warnings: [],
        },
      }),
    );
    const result = await model.generate({ messages });
    expect(result.usage).toEqual({ inputTokens: 0, outputTokens: 3, totalTokens: 3 });
    const nan = new AiSdkModel(
      new MockLanguageModelV3({
        doGenerate: {
          content: [{ type: 'text', text: 'ok' }],
          finishReason: { unified: 'stop', raw: 'stop' },
          usage: { inputTokens: Number.NaN, outputTokens: Number.POSITIVE_INFINITY } as never,
          warnings: [],
        },
      }),
    );
    expect((await nan.generate({ messages })).usage).toEqual({
      inputTokens: 0,
      outputTokens: 0,
      totalTokens: 0,
    });
  });

  it('a tool call whose input is an object (not JSON text) reaches the port as JSON text', async () => {
    const model = new AiSdkModel(
      new MockLanguageModelV3({
        doGenerate: {
          content: [{ type: 'tool-call', toolCallId: 'c1', toolName: 't', input: { a: 1 } as never }],
          finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
          usage: { inputTokens: { total: 1 }, outputTokens: { total: 1 } } as never,
          warnings: [],
        },
        doStream: {
          stream: convertArrayToReadableStream([
            { type: 'tool-call', toolCallId: 'c1', toolName: 't', input: { a: 1 } as never },
            {
              type: 'finish',
              finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
              usage: { inputTokens: { total: 1 }, outputTokens: { total: 1 } } as never,
            },
          ]),
        },
      }),
    );
    const result = await model.generate({ messages });
    expect(result.toolCalls).toEqual([{ id: 'c1', name: 't', arguments: '{"a":1}' }]);
    const chunks = await drain(model.stream({ messages }));
    const finish = chunks.find((c) => c.type === 'finish');
    expect(finish?.type === 'finish' && finish.result.toolCalls).toEqual([
      { id: 'c1', name: 't', arguments: '{"a":1}' },
    ]);
    for (const c of chunks) {
      if (c.type === 'tool_call.delta') expect(typeof c.argumentsDelta).toBe('string');
    }
  });
});
