/**
 * Calls that always end: idle timeout, deadline, the agent's retry policy, and fallback models — with
 * the official clients against the local wire server where a socket matters, and a scripted model for
 * the policy arithmetic.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { AnthropicModel } from '@dream-agent/anthropic';
import { OpenAIModel } from '@dream-agent/openai';
import {
  DreamAgentError,
  fallbackModel,
  withResilience,
  type GenerateRequest,
  type LanguageModel,
  type StreamChunk,
} from 'dream-agent';
import { collectStream } from 'dream-agent/adapter-kit';
import { isResilient } from '../../src/llm/resilience.js';
import { ManualClock, ScriptedModel } from 'dream-agent/testing';
import { startLlmServer, type LlmServer } from '../helpers/llm-server.js';

let server: LlmServer;
beforeAll(async () => {
  server = await startLlmServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => server.reset());

/** A call still open after this long is taken to hang forever (the stand-in server never ends it by itself). */
const NEVER_ENDING_MS = 15_000;

const messages: GenerateRequest['messages'] = [{ role: 'user', content: 'hello' }];

const providers: { name: string; route: 'openai' | 'anthropic'; make: () => LanguageModel }[] = [
  {
    name: 'openai',
    route: 'openai',
    make: () => new OpenAIModel({ model: 'gpt-x', apiKey: 'sk-test', baseURL: server.openaiBaseURL }),
  },
  {
    name: 'anthropic',
    route: 'anthropic',
    make: () => new AnthropicModel({ model: 'claude-x', apiKey: 'sk-ant', baseURL: server.anthropicBaseURL }),
  },
];

async function rejection(p: Promise<unknown>): Promise<DreamAgentError> {
  try {
    await p;
  } catch (error) {
    return error as DreamAgentError;
  }
  throw new Error('expected a rejection');
}

/**
 * When the server saw request `i`'s socket close. The bound is generous on purpose: what is asserted is
 * that the socket closes at all (a hang would never close it), not how fast a loaded machine gets there.
 */
async function closed(i: number): Promise<number> {
  await vi.waitFor(() => expect(server.requests[i]?.closedAt).toBeDefined(), {
    timeout: 15_000,
    interval: 20,
  });
  return server.requests[i]?.closedAt as number;
}

describe.each(providers)('$name through the official client', ({ route, make }) => {
  // Each stall test warms its client up with an unlimited call first: on a loaded machine a cold client
  // can take longer than the idle limit to send its request, which would then time out before the
  // server saw it (no socket to check), or arrive late and take the next test's scripted step.
  it('a stream that stalls after its headers fails TIMEOUT (idle) and its socket is closed', async () => {
    server.script({ route, reply: { text: 'warm' } }, { route, fault: { type: 'stall' } });
    const model = make();
    await collectStream(model.stream({ messages }));
    const llm = withResilience(model, { idleTimeoutMs: 1000, retry: false });
    const started = Date.now();
    const error = await rejection(collectStream(llm.stream({ messages })));
    const took = Date.now() - started;
    expect(error).toMatchObject({ code: 'TIMEOUT', retryable: true, details: { timeout: 'idle' } });
    expect(took).toBeGreaterThanOrEqual(980);
    expect(took).toBeLessThan(NEVER_ENDING_MS);
    const closedAt = await closed(1);
    expect(closedAt - started).toBeLessThan(NEVER_ENDING_MS);
  });

  it('a stream that stalls mid-answer fails TIMEOUT after the deltas already passed on, not retried', async () => {
    server.script(
      { route, reply: { text: 'warm' } },
      { route, fault: { type: 'stall', afterEvents: 4 }, reply: { text: 'one two three four five six' } },
      { route, reply: { text: 'never used' } },
    );
    const model = make();
    await collectStream(model.stream({ messages }));
    const llm = withResilience(model, { idleTimeoutMs: 1000 });
    const deltas: string[] = [];
    const error = await rejection(collectStream(llm.stream({ messages }), (t) => deltas.push(t)));
    expect(error).toMatchObject({ code: 'TIMEOUT' });
    expect(deltas.length).toBeGreaterThan(0);
    expect(server.requests).toHaveLength(2); // the warm-up, then no retry after output was passed on
    await closed(1);
  });

  it('a stalled stream before any delta is retried and the retry answers', async () => {
    server.script({ route, fault: { type: 'stall' } }, { route, reply: { text: 'second try' } });
    const llm = withResilience(make(), { idleTimeoutMs: 250, retry: { baseDelayMs: 1 } });
    const result = await collectStream(llm.stream({ messages }));
    expect(result.text).toBe('second try');
    expect(server.requests).toHaveLength(2);
    await closed(0);
  });

  it('a non-streamed call whose body never comes ends at the deadline, socket closed', async () => {
    server.script({ route, fault: { type: 'stall' } });
    const llm = withResilience(make(), { deadlineMs: 300, retry: false });
    const started = Date.now();
    const error = await rejection(llm.generate({ messages }));
    expect(error).toMatchObject({ code: 'TIMEOUT', details: { timeout: 'deadline' } });
    expect(Date.now() - started).toBeLessThan(NEVER_ENDING_MS);
    await closed(0);
  });

  it('429 + Retry-After is retried by the agent (the client does not retry), the wait capped', async () => {
    server.script(
      { route, fault: { type: 'status', status: 429, headers: { 'retry-after': '5' } } },
      { route, reply: { text: 'ok' } },
    );
    const delays: number[] = [];
    const llm = withResilience(make(), {
      retry: { maxRetryAfterMs: 50 },
      onRetry: (i) => delays.push(i.delayMs),
    });
    const started = Date.now();
    const result = await llm.generate({ messages });
    expect(result.text).toBe('ok');
    expect(delays).toEqual([50]);
    expect(Date.now() - started).toBeLessThan(NEVER_ENDING_MS);
    expect(server.requests).toHaveLength(2);
  });

  it('without the wrapper one 429 is one request: the adapter creates its client with maxRetries 0', async () => {
    server.script({ route, fault: { type: 'status', status: 429, headers: { 'retry-after': '0' } } });
    const error = await rejection(make().generate({ messages }));
    expect(error).toMatchObject({ code: 'RATE_LIMITED' });
    expect(server.requests).toHaveLength(1);
  });

  it('cancel during a Retry-After sleep takes effect within 100 ms', async () => {
    server.script({ route, fault: { type: 'status', status: 429, headers: { 'retry-after': '5' } } });
    const a = new AbortController();
    let abortedAt = 0;
    const llm = withResilience(make(), {
      onRetry: () => {
        setTimeout(() => {
          abortedAt = Date.now();
          a.abort();
        }, 30);
      },
    });
    const error = await rejection(llm.generate({ messages, signal: a.signal }));
    expect(error.code).toBe('ABORTED');
    expect(Date.now() - abortedAt).toBeLessThan(100);
    expect(server.requests).toHaveLength(1);
  });
});

describe('retry policy', () => {
  const failing = (code: 'LLM_ERROR' | 'RATE_LIMITED' | 'UNAUTHENTICATED', retryAfterMs?: number) => ({
    error: new DreamAgentError(code, `scripted ${code}`, {
      retryable: code !== 'UNAUTHENTICATED',
      ...(retryAfterMs === undefined ? {} : { details: { retryAfterMs } }),
    }),
  });

  it('backs off exponentially with full jitter, up to the attempt limit', async () => {
    const model = new ScriptedModel({
      turns: [failing('LLM_ERROR'), failing('LLM_ERROR'), failing('LLM_ERROR')],
    });
    const delays: number[] = [];
    const llm = withResilience(model, {
      random: () => 0.5,
      retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 1000 },
      onRetry: (i) => delays.push(i.delayMs),
    });
    const error = await rejection(llm.generate({ messages }));
    expect(error.code).toBe('LLM_ERROR');
    expect(model.calls).toBe(3);
    expect(delays).toEqual([10, 20]); // 0.5 × 20, 0.5 × 40
  });

  it('caps one backoff delay at maxDelayMs', async () => {
    const model = new ScriptedModel({ turns: [failing('LLM_ERROR'), failing('LLM_ERROR'), { text: 'ok' }] });
    const delays: number[] = [];
    const llm = withResilience(model, {
      random: () => 0.999,
      retry: { baseDelayMs: 1000, maxDelayMs: 5 },
      onRetry: (i) => delays.push(i.delayMs),
    });
    expect((await llm.generate({ messages })).text).toBe('ok');
    expect(delays.every((d) => d <= 5)).toBe(true);
  });

  it('does not retry non-retryable errors (bad credentials)', async () => {
    const model = new ScriptedModel({ turns: [failing('UNAUTHENTICATED'), { text: 'never' }] });
    const error = await rejection(withResilience(model).generate({ messages }));
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(model.calls).toBe(1);
  });

  it('clamps Retry-After to maxRetryAfterMs (default 20 s) and the sleep races the abort signal', async () => {
    const model = new ScriptedModel({ turns: [failing('RATE_LIMITED', 65_000), { text: 'never' }] });
    const a = new AbortController();
    const delays: number[] = [];
    const llm = withResilience(model, {
      onRetry: (i) => {
        delays.push(i.delayMs);
        queueMicrotask(() => a.abort());
      },
    });
    const started = Date.now();
    const error = await rejection(llm.generate({ messages, signal: a.signal }));
    expect(error.code).toBe('ABORTED');
    expect(delays).toEqual([20_000]);
    expect(Date.now() - started).toBeLessThan(100);
  });

  it('gives up at once when the sleep would pass the deadline', async () => {
    const model = new ScriptedModel({ turns: [failing('RATE_LIMITED', 10_000), { text: 'never' }] });
    const llm = withResilience(model, { deadlineMs: 1000 });
    const started = Date.now();
    const error = await rejection(llm.generate({ messages }));
    expect(error.code).toBe('RATE_LIMITED');
    expect(Date.now() - started).toBeLessThan(100);
    expect(model.calls).toBe(1);
  });

  it('a custom retryOn decides', async () => {
    const model = new ScriptedModel({ turns: [failing('UNAUTHENTICATED'), { text: 'refreshed' }] });
    const llm = withResilience(model, {
      retry: { retryOn: (e) => e.code === 'UNAUTHENTICATED', baseDelayMs: 1 },
    });
    expect((await llm.generate({ messages })).text).toBe('refreshed');
  });

  it('a stream cut after its first delta is never retried (no duplicated output)', async () => {
    const model = new ScriptedModel({
      turns: [
        { text: 'a b c', failAfterDeltas: { count: 1, error: new TypeError('terminated') } },
        { text: 'never' },
      ],
    });
    const deltas: string[] = [];
    const error = await rejection(
      collectStream(withResilience(model).stream({ messages }), (t) => deltas.push(t)),
    );
    expect(error).toMatchObject({ code: 'LLM_ERROR' });
    expect(deltas).toEqual(['a ']);
    expect(model.calls).toBe(1);
  });

  it('rejects bad options with INVALID_INPUT naming the value', () => {
    const model = new ScriptedModel();
    expect(() => withResilience(model, { idleTimeoutMs: 0 })).toThrow(
      /idleTimeoutMs must be a number >= 1, got 0/,
    );
    expect(() => withResilience(model, { retry: { attempts: 1.5 } })).toThrow(/integer/);
    expect(() => withResilience(model, { deadlineMs: Number.NaN })).toThrow(DreamAgentError);
  });

  it('marks its result so the agent defaults do not wrap twice', () => {
    const model = new ScriptedModel();
    expect(isResilient(model)).toBe(false);
    expect(isResilient(withResilience(model))).toBe(true);
  });
});

/** A model that ignores its abort signal and never answers. */
const deaf: LanguageModel = {
  provider: 'deaf',
  model: 'deaf-1',
  generate: () => new Promise(() => undefined),
  stream: () => ({
    [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<StreamChunk>>(() => undefined) }),
  }),
};

describe('cancel always wins at the model layer', () => {
  it('generate on a model that ignores its signal rejects ABORTED within 100 ms of the cancel', async () => {
    const a = new AbortController();
    const p = withResilience(deaf).generate({ messages, signal: a.signal });
    await new Promise((r) => setTimeout(r, 20));
    const at = Date.now();
    a.abort();
    const error = await rejection(p);
    expect(error.code).toBe('ABORTED');
    expect(Date.now() - at).toBeLessThan(100);
  });

  it('stream on a model that ignores its signal rejects ABORTED within 100 ms of the cancel', async () => {
    const a = new AbortController();
    const p = collectStream(withResilience(deaf).stream({ messages, signal: a.signal }));
    await new Promise((r) => setTimeout(r, 20));
    const at = Date.now();
    a.abort();
    const error = await rejection(p);
    expect(error.code).toBe('ABORTED');
    expect(Date.now() - at).toBeLessThan(100);
  });

  it('an already aborted signal fails at once without calling the model', async () => {
    const model = new ScriptedModel({ turns: [{ text: 'x' }] });
    const a = new AbortController();
    a.abort();
    expect((await rejection(withResilience(model).generate({ messages, signal: a.signal }))).code).toBe(
      'ABORTED',
    );
  });
});

describe('fallbackModel', () => {
  it('on a 5xx, rate limit or timeout the next model answers (official clients over the wire)', async () => {
    server.script(
      { route: 'openai', fault: { type: 'status', status: 503 } },
      { route: 'anthropic', reply: { text: 'from claude' } },
    );
    const fell: string[] = [];
    const llm = fallbackModel(
      [
        new OpenAIModel({ model: 'gpt-x', apiKey: 'sk', baseURL: server.openaiBaseURL }),
        new AnthropicModel({ model: 'claude-x', apiKey: 'sk', baseURL: server.anthropicBaseURL }),
      ],
      { onFallback: (i) => fell.push(`${i.from.provider}->${i.to.provider}:${i.error.code}`) },
    );
    const result = await llm.generate({ messages, model: 'gpt-override' });
    expect(result.text).toBe('from claude');
    expect(fell).toEqual(['openai->anthropic:LLM_ERROR']);
    // The id override went to the first model only.
    expect(server.requests[0]?.body['model']).toBe('gpt-override');
    expect(server.requests[1]?.body['model']).toBe('claude-x');
  });

  it('a stalled primary stream times out and the fallback streams the answer', async () => {
    server.script(
      { route: 'openai', fault: { type: 'stall' } },
      { route: 'anthropic', reply: { text: 'rescued' } },
    );
    const llm = fallbackModel([
      withResilience(new OpenAIModel({ model: 'gpt-x', apiKey: 'sk', baseURL: server.openaiBaseURL }), {
        idleTimeoutMs: 200,
        retry: false,
      }),
      new AnthropicModel({ model: 'claude-x', apiKey: 'sk', baseURL: server.anthropicBaseURL }),
    ]);
    const result = await collectStream(llm.stream({ messages }));
    expect(result.text).toBe('rescued');
    await closed(0);
  });

  it('does not fall back after the first streamed delta', async () => {
    const a = new ScriptedModel({
      turns: [{ text: 'x y', failAfterDeltas: { count: 1, error: new DreamAgentError('LLM_ERROR', 'cut') } }],
    });
    const b = new ScriptedModel({ turns: [{ text: 'never' }] });
    const error = await rejection(collectStream(fallbackModel([a, b]).stream({ messages })));
    expect(error.code).toBe('LLM_ERROR');
    expect(b.calls).toBe(0);
  });

  it('does not fall back on a rejected request or an abort; reports every attempt when all fail', async () => {
    const bad = new ScriptedModel({
      turns: [{ error: new DreamAgentError('LLM_ERROR', 'bad request', { retryable: false }) }],
    });
    const spare = new ScriptedModel({ turns: [{ text: 'never' }] });
    expect((await rejection(fallbackModel([bad, spare]).generate({ messages }))).message).toBe('bad request');
    expect(spare.calls).toBe(0);

    const limited = () =>
      new ScriptedModel({
        turns: [{ error: new DreamAgentError('RATE_LIMITED', 'slow', { retryable: true }) }],
      });
    const error = await rejection(fallbackModel([limited(), limited()]).generate({ messages }));
    expect(error.code).toBe('RATE_LIMITED');
    expect(error.details['attempts']).toEqual([
      { provider: 'scripted', model: 'scripted-1', code: 'RATE_LIMITED' },
      { provider: 'scripted', model: 'scripted-1', code: 'RATE_LIMITED' },
    ]);
    expect(() => fallbackModel([])).toThrow(DreamAgentError);
  });
});

describe('timers on an injected clock', () => {
  it('concurrent calls each time out at their own moment; one shared timer serves them', async () => {
    const clock = new ManualClock();
    const llm = withResilience(deaf, { clock, idleTimeoutMs: 1000, deadlineMs: 5000, retry: false });
    const settled: string[] = [];
    const a = rejection(collectStream(llm.stream({ messages }))).then((e) => settled.push(`a:${e.code}`));
    clock.advance(500);
    const b = rejection(llm.generate({ messages })).then((e) => settled.push(`b:${e.code}`));
    const c = rejection(collectStream(llm.stream({ messages }))).then((e) => settled.push(`c:${e.code}`));
    await Promise.resolve();
    clock.advance(499);
    await new Promise((r) => setTimeout(r, 5));
    expect(settled).toEqual([]);
    clock.advance(1); // t = 1000: a is idle for 1000 ms
    await new Promise((r) => setTimeout(r, 5));
    expect(settled).toEqual(['a:TIMEOUT']);
    clock.advance(500); // t = 1500: c idle
    await new Promise((r) => setTimeout(r, 5));
    expect(settled).toEqual(['a:TIMEOUT', 'c:TIMEOUT']);
    clock.advance(4000); // t = 5500: b passes its deadline (generate has no idle limit)
    await Promise.all([a, b, c]);
    expect(settled).toEqual(['a:TIMEOUT', 'c:TIMEOUT', 'b:TIMEOUT']);
  });
});
