/**
 * Live tests against the real Anthropic API. Opt-in only, never in CI: set DREAM_AGENT_LIVE=1 and
 * ANTHROPIC_API_KEY (optionally ANTHROPIC_MODEL).
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { generateObject } from 'dream-agent';
import { collectStream } from 'dream-agent/adapter-kit';
import { AnthropicModel } from '../src/index.js';

const enabled =
  process.env['DREAM_AGENT_LIVE'] === '1' &&
  process.env['CI'] === undefined &&
  process.env['ANTHROPIC_API_KEY'] !== undefined;

describe.skipIf(!enabled)(
  'Anthropic live (opt-in: DREAM_AGENT_LIVE=1 and ANTHROPIC_API_KEY; never in CI)',
  () => {
    const llm = (): AnthropicModel =>
      new AnthropicModel({ model: process.env['ANTHROPIC_MODEL'] ?? 'claude-sonnet-4-5' });

    it('generates, streams with usage, and returns structured output through a forced tool call', async () => {
      const result = await llm().generate({
        messages: [{ role: 'user', content: 'Say OK.' }],
        maxTokens: 10,
      });
      expect(result.text.length).toBeGreaterThan(0);
      expect(result.usage.totalTokens).toBeGreaterThan(0);
      const streamed = await collectStream(
        llm().stream({ messages: [{ role: 'user', content: 'Count to three.' }], maxTokens: 30 }),
      );
      expect(streamed.usage.outputTokens).toBeGreaterThan(0);
      const { object } = await generateObject(llm(), {
        schema: z.object({ capital: z.string() }),
        messages: [{ role: 'user', content: 'What is the capital of France?' }],
      });
      expect(object.capital.toLowerCase()).toContain('paris');
    });
  },
);
