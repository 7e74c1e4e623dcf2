/**
 * Live tests against a real OpenAI (or OpenAI-compatible) endpoint. Opt-in only, never in CI: set
 * DREAM_AGENT_LIVE=1 and OPENAI_API_KEY (optionally OPENAI_BASE_URL and OPENAI_MODEL, e.g. for Ollama).
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { generateObject } from 'dream-agent';
import { collectStream } from 'dream-agent/adapter-kit';
import { OpenAIModel } from '../src/index.js';

const enabled =
  process.env['DREAM_AGENT_LIVE'] === '1' &&
  process.env['CI'] === undefined &&
  process.env['OPENAI_API_KEY'] !== undefined;

describe.skipIf(!enabled)('OpenAI live (opt-in: DREAM_AGENT_LIVE=1 and OPENAI_API_KEY; never in CI)', () => {
  const llm = (): OpenAIModel =>
    new OpenAIModel({
      model: process.env['OPENAI_MODEL'] ?? 'gpt-4.1-mini',
      ...(process.env['OPENAI_BASE_URL'] === undefined ? {} : { baseURL: process.env['OPENAI_BASE_URL'] }),
    });

  it('generates, streams with usage, and returns structured output', async () => {
    const result = await llm().generate({ messages: [{ role: 'user', content: 'Say OK.' }], maxTokens: 10 });
    expect(result.text.length).toBeGreaterThan(0);
    expect(result.usage.totalTokens).toBeGreaterThan(0);
    const streamed = await collectStream(
      llm().stream({ messages: [{ role: 'user', content: 'Count to three.' }], maxTokens: 30 }),
    );
    expect(streamed.usage.outputTokens).toBeGreaterThan(0);
    const { object } = await generateObject(llm(), {
      schema: z.object({ capital: z.string() }),
      messages: [
        { role: 'user', content: 'What is the capital of France? Answer as JSON {"capital": string}.' },
      ],
    });
    expect(object.capital.toLowerCase()).toContain('paris');
  });
});
