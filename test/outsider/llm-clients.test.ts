/**
 * An outsider's probes of `@dream-agent/openai` and `@dream-agent/anthropic` given a client of the user's
 * own (`client` option) that throws odd things: a rate-limit error whose `headers` is a plain object (not
 * a `Headers`), a revoked Proxy. The error mapping answers typed instead of throwing a TypeError itself.
 */
import { describe, expect, it } from 'vitest';
import { AnthropicModel, mapAnthropicError } from '@dream-agent/anthropic';
import { OpenAIModel, mapOpenAIError } from '@dream-agent/openai';
import { isDreamAgentError, type LanguageModel } from 'dream-agent';

const messages = [{ role: 'user' as const, content: 'hi' }];
const revoked = Proxy.revocable({}, {});
revoked.revoke();

function models(thrown: () => unknown): [string, LanguageModel][] {
  const fail = (): never => {
    throw thrown();
  };
  const openai = { chat: { completions: { create: () => Promise.resolve().then(fail) } } };
  const anthropic = { messages: { create: () => Promise.resolve().then(fail), stream: fail } };
  return [
    ['openai', new OpenAIModel({ model: 'x', client: openai as never })],
    ['anthropic', new AnthropicModel({ model: 'x', client: anthropic as never })],
  ];
}

async function thrownBy(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('outsider: provider adapters with a user client that throws odd errors', () => {
  it.each([
    [
      'a 429 whose headers are a plain object',
      () => Object.assign(new Error('slow down'), { status: 429, headers: { 'retry-after': '3' } }),
      'RATE_LIMITED',
    ],
    [
      'a 429 whose headers are a plain object with an invalid name',
      () => Object.assign(new Error('slow down'), { status: 429, headers: { 'bad name': '1' } }),
      'RATE_LIMITED',
    ],
    ['a revoked Proxy', () => revoked.proxy, 'LLM_ERROR'],
  ])('%s maps to a typed error on generate and stream', async (_label, thrown, code) => {
    for (const [name, model] of models(thrown)) {
      for (const p of [
        model.generate({ messages }),
        (async () => {
          for await (const _ of model.stream({ messages })) void _;
        })(),
      ]) {
        const error = await thrownBy(p);
        expect(isDreamAgentError(error), `${name}: ${String((error as Error).message)}`).toBe(true);
        expect((error as { code: string }).code).toBe(code);
      }
    }
  });

  it('a Retry-After in plain-object headers is read', () => {
    const error = Object.assign(new Error('slow'), { status: 429, headers: { 'retry-after': '3' } });
    expect(mapOpenAIError(error).details['retryAfterMs']).toBe(3000);
    expect(mapAnthropicError(error).details['retryAfterMs']).toBe(3000);
  });
});
