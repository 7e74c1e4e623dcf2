/**
 * The peer range includes openai 7: the adapter runs with a client the user built from openai 7 (installed
 * here under the alias `openai-v7`), against the same wire stand-in as the main suite. openai 7 declares
 * Node 22+ in its engines; these tests show it works on this repository's Node as well.
 */
import type OpenAI from 'openai';
import OpenAI7 from 'openai-v7';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StreamChunk } from 'dream-agent';
import { rejection as caught } from 'dream-agent/adapter-kit';
import { deterministicVector, startLlmServer, type LlmServer } from 'dream-agent/testing';
import { OpenAIEmbedder, OpenAIModel } from '../src/index.js';

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

/**
 * An openai 7 client. In this repository both majors are installed, so TypeScript sees two distinct
 * `OpenAI` classes; a user has one, and `test/packaging/peer-types.test.ts` type-checks the adapter and
 * this usage with `openai` resolving to version 7. Here the cast only bridges the two copies.
 */
function client7(): OpenAI {
  return new OpenAI7({ apiKey: 'sk-7', baseURL: server.openaiBaseURL, maxRetries: 0 }) as unknown as OpenAI;
}

describe('OpenAIModel with an openai 7 client', () => {
  it('the client is used as given', () => {
    const client = client7();
    expect(client).toBeInstanceOf(OpenAI7);
    const llm = new OpenAIModel({ model: 'gpt-test', client });
    expect(llm.client).toBe(client);
  });

  it('generates text and tool calls over openai 7', async () => {
    server.script({
      reply: {
        toolCalls: [{ id: 'call_7', name: 'sales_query', arguments: { period: 'Q4' } }],
        usage: { input: 4, output: 6 },
      },
    });
    const llm = new OpenAIModel({ model: 'gpt-test', client: client7() });
    const result = await llm.generate({
      messages: [{ role: 'user', content: 'sales?' }],
      tools: [{ name: 'sales_query', description: 'Query sales', parameters: { type: 'object' } }],
    });
    expect(result).toMatchObject({
      finishReason: 'tool_calls',
      toolCalls: [{ id: 'call_7', name: 'sales_query', arguments: '{"period":"Q4"}' }],
      usage: { inputTokens: 4, outputTokens: 6, totalTokens: 10 },
    });
    expect(server.requests[0]?.headers['authorization']).toBe('Bearer sk-7');
  });

  it('streams deltas in order and ends with the result', async () => {
    server.script({ reply: { text: 'one two three' } });
    const llm = new OpenAIModel({ model: 'gpt-test', client: client7() });
    const chunks: StreamChunk[] = [];
    for await (const c of llm.stream({ messages: [{ role: 'user', content: 'count' }] })) chunks.push(c);
    const text = chunks.map((c) => (c.type === 'text.delta' ? c.text : '')).join('');
    expect(text).toBe('one two three');
    const last = chunks.at(-1);
    expect(last?.type === 'finish' ? last.result.text : undefined).toBe('one two three');
  });

  it("maps openai 7's errors to typed DreamAgentErrors", async () => {
    server.script({ fault: { type: 'status', status: 429, headers: { 'retry-after': '2' } } });
    const llm = new OpenAIModel({ model: 'gpt-test', client: client7() });
    const error = await caught(llm.generate({ messages: [{ role: 'user', content: 'hi' }] }));
    expect(error.code).toBe('RATE_LIMITED');
    expect(error.retryable).toBe(true);
  });

  it('embeds with an openai 7 client', async () => {
    const embedder = new OpenAIEmbedder({ client: client7(), dimensions: 8 });
    expect(await embedder.embed(['alpha'])).toEqual([deterministicVector('alpha', 8)]);
  });
});
