/**
 * An outsider's probes of `withResilience` and `fallbackModel`: a slow consumer of a stream is not the
 * model's silence, models that break the port's shape synchronously still fail typed, and a fallback
 * list with something that is not a model is refused when it is built.
 */
import { describe, expect, it } from 'vitest';
import {
  fallbackModel,
  isDreamAgentError,
  withResilience,
  type DreamAgentError,
  type LanguageModel,
  type StreamChunk,
} from 'dream-agent';
import { collectStream } from 'dream-agent/adapter-kit';
import { ManualClock } from 'dream-agent/testing';

const messages = [{ role: 'user' as const, content: 'hi' }];

async function rejection(p: Promise<unknown>): Promise<DreamAgentError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isDreamAgentError(error)) throw new Error(`expected a DreamAgentError, got ${String(error)}`);
  return error;
}

const done = {
  type: 'finish' as const,
  result: {
    text: 'a b',
    toolCalls: [],
    finishReason: 'stop' as const,
    usage: { inputTokens: 1, outputTokens: 2, totalTokens: 3 },
    model: 'm',
  },
};

/** A model that streams two deltas and a finish at once (it is never silent). */
const eager: LanguageModel = {
  provider: 'test',
  model: 'eager',
  generate: () => Promise.resolve(done.result),
  async *stream(): AsyncIterable<StreamChunk> {
    await Promise.resolve();
    yield { type: 'text.delta', text: 'a ' };
    yield { type: 'text.delta', text: 'b' };
    yield done;
  },
};

describe('outsider: withResilience', () => {
  it('a consumer that takes longer than the idle timeout per chunk does not time the model out', async () => {
    const clock = new ManualClock();
    const llm = withResilience(eager, { clock, idleTimeoutMs: 1000, retry: false });
    const seen: string[] = [];
    for await (const chunk of llm.stream({ messages })) {
      if (chunk.type !== 'text.delta') continue;
      seen.push(chunk.text);
      // The consumer is busy for 5 s (the idle limit is 1 s): the model has already sent what follows.
      clock.advance(5000);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(seen).toEqual(['a ', 'b']);
  });

  it('the idle limit is armed again once the consumer asks for more', async () => {
    const clock = new ManualClock();
    let release: (() => void) | undefined;
    const stalls: LanguageModel = {
      ...eager,
      async *stream(): AsyncIterable<StreamChunk> {
        yield { type: 'text.delta', text: 'a ' };
        await new Promise<void>((resolve) => (release = resolve)); // then silent
        yield done;
      },
    };
    const llm = withResilience(stalls, { clock, idleTimeoutMs: 1000, deadlineMs: 600_000, retry: false });
    const iterator = llm.stream({ messages })[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toEqual({ type: 'text.delta', text: 'a ' });
    clock.advance(30_000); // the consumer is busy
    const next = iterator.next();
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(1000); // the model is silent for the idle limit after the consumer came back
    const error = await rejection(next);
    expect(error.code).toBe('TIMEOUT');
    expect(error.details['timeout']).toBe('idle');
    release?.();
  });

  it('a model whose stream() throws synchronously, or returns no async iterable, fails typed', async () => {
    const throws: LanguageModel = {
      ...eager,
      stream: () => {
        throw new TypeError('sync boom');
      },
    };
    const array: LanguageModel = {
      ...eager,
      stream: () => [done] as unknown as AsyncIterable<StreamChunk>,
    };
    for (const model of [throws, array]) {
      const error = await rejection(
        collectStream(withResilience(model, { retry: false }).stream({ messages })),
      );
      expect(error.code).toBe('LLM_ERROR');
    }
  });

  it('a model whose generate() returns a plain value or throws synchronously is handled', async () => {
    const plain: LanguageModel = {
      ...eager,
      generate: () => done.result as unknown as Promise<typeof done.result>,
    };
    expect(await withResilience(plain, { retry: false }).generate({ messages })).toEqual(done.result);
    const throws: LanguageModel = {
      ...eager,
      generate: () => {
        throw new TypeError('sync boom');
      },
    };
    expect((await rejection(withResilience(throws, { retry: false }).generate({ messages }))).code).toBe(
      'LLM_ERROR',
    );
  });
});

describe('outsider: fallbackModel', () => {
  it.each([
    ['null in the list', [null]],
    ['an empty object', [{}]],
    ['a string', 'gpt-4'],
    ['a model without stream()', [{ provider: 'p', model: 'm', generate: () => Promise.resolve({}) }]],
  ])('refuses %s with INVALID_INPUT', (_label, models) => {
    let error: unknown;
    try {
      fallbackModel(models as unknown as LanguageModel[]);
    } catch (e) {
      error = e;
    }
    expect(isDreamAgentError(error) && error.code).toBe('INVALID_INPUT');
  });
});
