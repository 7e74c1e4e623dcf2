import { describe, expect, it } from 'vitest';
import { isDreamAgentError, DreamAgentError } from '../../src/errors/index.js';
import {
  addUsage,
  collectStream,
  estimateTokens,
  parseToolArguments,
  toLlmError,
  UsageTracker,
  withUsageTracking,
  type StreamChunk,
} from '../../src/ports/llm.js';
import { ScriptedModel } from '../../src/testing/scripted-model.js';

const ask = { messages: [{ role: 'user' as const, content: 'hello there' }] };

describe('UsageTracker', () => {
  it('totals per call, per layer and per model, and keeps a bounded list of calls', () => {
    let now = 100;
    const tracker = new UsageTracker({ maxRecords: 2, now: () => now++ });
    const seen: string[] = [];
    const off = tracker.onRecord((r) => seen.push(r.layer));
    tracker.record({
      provider: 'openai',
      model: 'a',
      layer: 'planner',
      usage: { inputTokens: 1, outputTokens: 2, totalTokens: 3 },
    });
    tracker.record({
      provider: 'openai',
      model: 'b',
      layer: 'planner',
      usage: { inputTokens: 10, outputTokens: 0, totalTokens: 10 },
    });
    off();
    tracker.record({
      provider: 'anthropic',
      model: 'a',
      usage: { inputTokens: 5, outputTokens: 5, totalTokens: 10 },
    });
    expect(tracker.calls).toBe(3);
    expect(tracker.total()).toEqual({ inputTokens: 16, outputTokens: 7, totalTokens: 23 });
    expect(tracker.byLayer()).toEqual({
      planner: { inputTokens: 11, outputTokens: 2, totalTokens: 13 },
      unlabelled: { inputTokens: 5, outputTokens: 5, totalTokens: 10 },
    });
    expect(Object.keys(tracker.byModel()).sort()).toEqual(['anthropic:a', 'openai:a', 'openai:b']);
    expect(tracker.records().map((r) => [r.model, r.at])).toEqual([
      ['b', 101],
      ['a', 102],
    ]);
    expect(seen).toEqual(['planner', 'planner']);
    tracker.reset();
    expect(tracker.calls).toBe(0);
    expect(tracker.total().totalTokens).toBe(0);
  });

  it('returns copies, so callers cannot corrupt its totals', () => {
    const tracker = new UsageTracker();
    tracker.record({ provider: 'p', model: 'm', usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 } });
    tracker.total().totalTokens = 99;
    const byLayer = tracker.byLayer();
    (byLayer['unlabelled'] as { totalTokens: number }).totalTokens = 99;
    expect(tracker.total().totalTokens).toBe(2);
    expect(tracker.byLayer()['unlabelled']?.totalTokens).toBe(2);
  });

  it('rejects a bad maxRecords with a message naming the value', () => {
    expect(() => new UsageTracker({ maxRecords: -1 })).toThrow(/-1/);
  });

  it('withUsageTracking records generate and completed streams under the request layer, not failed calls', async () => {
    const model = new ScriptedModel({
      turns: [
        { text: 'a', usage: { inputTokens: 3, outputTokens: 1 } },
        { text: 'b c', usage: { inputTokens: 4, outputTokens: 2 } },
        { error: new DreamAgentError('LLM_ERROR', 'down') },
      ],
    });
    const tracker = new UsageTracker();
    const llm = withUsageTracking(model, tracker, 'default-layer');
    expect(llm.provider).toBe('scripted');
    await llm.generate({ ...ask, layer: 'cognitive' });
    await collectStream(llm.stream(ask));
    await expect(llm.generate(ask)).rejects.toMatchObject({ code: 'LLM_ERROR' });
    expect(tracker.calls).toBe(2);
    expect(Object.keys(tracker.byLayer())).toEqual(['cognitive', 'default-layer']);
    expect(tracker.byModel()['scripted:scripted-1']).toEqual({
      inputTokens: 7,
      outputTokens: 3,
      totalTokens: 10,
    });
  });
});

describe('port helpers', () => {
  it('addUsage sums; estimateTokens counts words, digit groups, punctuation and other characters', () => {
    expect(
      addUsage(
        { inputTokens: 1, outputTokens: 2, totalTokens: 3 },
        { inputTokens: 4, outputTokens: 5, totalTokens: 9 },
      ),
    ).toEqual({ inputTokens: 5, outputTokens: 7, totalTokens: 12 });
    expect(estimateTokens('12345678')).toBe(3); // tokenizers group at most three digits
    expect(estimateTokens({ a: 1 })).toBe(5); // { " a ": 1 } → punctuation pairs, a letter, a digit
    expect(estimateTokens('hello world')).toBe(2);
    expect(estimateTokens('日本語')).toBe(3);
    expect(estimateTokens('')).toBe(0);
  });

  it('collectStream returns the finish result and reports text; a stream without finish is an LLM_ERROR', async () => {
    const texts: string[] = [];
    const result = await collectStream(new ScriptedModel({ turns: [{ text: 'x y' }] }).stream(ask), (t) =>
      texts.push(t),
    );
    expect(result.text).toBe('x y');
    expect(texts.join('')).toBe('x y');
    async function* broken(): AsyncIterable<StreamChunk> {
      yield { type: 'text.delta', text: 'half' };
    }
    await expect(collectStream(broken())).rejects.toMatchObject({ code: 'LLM_ERROR', retryable: true });
  });

  it('parseToolArguments parses objects and types bad arguments as LLM_INVALID_OUTPUT keeping the raw text', () => {
    expect(parseToolArguments({ id: '1', name: 't', arguments: '{"a":1}' })).toEqual({ a: 1 });
    expect(parseToolArguments({ id: '1', name: 't', arguments: '' })).toEqual({});
    for (const raw of ['{"a":', '[1,2]', '"str"', 'null']) {
      try {
        parseToolArguments({ id: '1', name: 't', arguments: raw });
        expect.unreachable();
      } catch (e) {
        expect(isDreamAgentError(e, 'LLM_INVALID_OUTPUT')).toBe(true);
        expect((e as DreamAgentError).details['raw']).toBe(raw);
      }
    }
  });

  it('toLlmError passes typed errors through, types aborts and wraps the rest as retryable LLM_ERROR', () => {
    const typed = new DreamAgentError('RATE_LIMITED', 'slow down');
    expect(toLlmError(typed)).toBe(typed);
    const a = new AbortController();
    a.abort();
    expect(toLlmError(new Error('x'), a.signal).code).toBe('ABORTED');
    const wrapped = toLlmError('weird');
    expect(wrapped).toMatchObject({ code: 'LLM_ERROR', retryable: true });
  });
});

describe('ScriptedModel', () => {
  it('plays turns in order, records requests and reports usage', async () => {
    const model = new ScriptedModel({
      turns: [{ json: { a: 1 } }, { text: 'second', finishReason: 'length' }],
    });
    const first = await model.generate({ ...ask, layer: 'planner' });
    expect(first.text).toBe('{"a":1}');
    expect(first.usage.totalTokens).toBeGreaterThan(0);
    const second = await model.generate(ask);
    expect(second.finishReason).toBe('length');
    expect(model.requests.map((r) => r.layer)).toEqual(['planner', undefined]);
    expect(model.remaining).toBe(0);
    await expect(model.generate(ask)).rejects.toMatchObject({ code: 'INTERNAL' });
  });

  it('streams scripted deltas and tool calls, then a finish chunk', async () => {
    const model = new ScriptedModel({
      turns: [{ text: 'ab', deltas: ['a', 'b'], toolCalls: [{ id: 'c1', name: 'x', arguments: { k: 1 } }] }],
    });
    const chunks: StreamChunk[] = [];
    for await (const c of model.stream(ask)) chunks.push(c);
    expect(chunks.map((c) => c.type)).toEqual([
      'text.delta',
      'text.delta',
      'tool_call.start',
      'tool_call.delta',
      'finish',
    ]);
    const last = chunks.at(-1);
    expect(last?.type === 'finish' && last.result.toolCalls).toEqual([
      { id: 'c1', name: 'x', arguments: '{"k":1}' },
    ]);
    expect(last?.type === 'finish' && last.result.finishReason).toBe('tool_calls');
  });

  it('scripts errors, mid-stream failures, functions of the request and repeat-last', async () => {
    const model = new ScriptedModel({
      whenExhausted: 'repeat-last',
      turns: [
        { error: new DreamAgentError('RATE_LIMITED', 'slow', { details: { retryAfterMs: 5 } }) },
        { text: 'a b c', failAfterDeltas: { count: 1, error: new DreamAgentError('LLM_ERROR', 'cut') } },
        (request) => ({ text: `echo ${request.messages.length}` }),
      ],
    });
    await expect(model.generate(ask)).rejects.toMatchObject({
      code: 'RATE_LIMITED',
      details: { retryAfterMs: 5 },
    });
    const got: string[] = [];
    await expect(
      (async () => {
        for await (const c of model.stream(ask)) if (c.type === 'text.delta') got.push(c.text);
      })(),
    ).rejects.toMatchObject({ code: 'LLM_ERROR' });
    expect(got).toEqual(['a ']);
    expect((await model.generate(ask)).text).toBe('echo 1');
    expect((await model.generate(ask)).text).toBe('echo 1');
    expect(model.calls).toBe(4);
  });

  it('honours latency and aborts during it with ABORTED', async () => {
    const model = new ScriptedModel({ turns: [{ text: 'late', latencyMs: 5_000 }] });
    const a = new AbortController();
    const p = model.generate({ ...ask, signal: a.signal });
    a.abort();
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
  });
});
