/**
 * Scripting helpers for end-to-end tests that drive the LLM-backed layers through the real provider
 * adapters (`@dream-agent/openai`, `@dream-agent/anthropic`) against the scripted wire server: how each
 * provider carries a structured answer and a streamed text answer, and how to read what a request asked.
 */
import { AnthropicModel } from '@dream-agent/anthropic';
import { OpenAIModel } from '@dream-agent/openai';
import type { LanguageModel } from 'dream-agent';
import type { LlmServer, RecordedRequest, WireRoute, WireStep } from '../helpers/llm-server.js';

/** One provider as the e2e tests see it. */
export interface WireProvider {
  name: 'openai' | 'anthropic';
  route: WireRoute;
  /** The model id the adapter is configured with (echoed back by the server). */
  modelId: string;
  /** A fresh adapter (a fresh official client) pointed at the scripted server. */
  model(server: LlmServer): LanguageModel;
  /**
   * A structured-output answer as the provider carries it: JSON text for OpenAI (`response_format`),
   * a forced call of the synthetic tool `name` for Anthropic.
   */
  structured(name: string, value: unknown): WireStep;
  /** A text answer, streamed as exactly these deltas. */
  text(chunks: readonly string[]): WireStep;
  /** The name of the structured output a request asked for, or undefined for a free-text request. */
  structuredName(request: RecordedRequest): string | undefined;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** The two official-client adapters. */
export const WIRE_PROVIDERS: readonly WireProvider[] = [
  {
    name: 'openai',
    route: 'openai',
    modelId: 'gpt-e2e',
    model: (server) =>
      new OpenAIModel({ model: 'gpt-e2e', apiKey: 'sk-test', baseURL: server.openaiBaseURL, maxRetries: 0 }),
    structured: (_name, value) => ({ route: 'openai', reply: { text: JSON.stringify(value) } }),
    text: (chunks) => ({ route: 'openai', reply: { text: chunks.join(''), chunks: [...chunks] } }),
    structuredName: (request) => {
      const format = record(request.body['response_format']);
      const schema = record(format?.['json_schema']);
      return typeof schema?.['name'] === 'string' ? schema['name'] : undefined;
    },
  },
  {
    name: 'anthropic',
    route: 'anthropic',
    modelId: 'claude-e2e',
    model: (server) =>
      new AnthropicModel({
        model: 'claude-e2e',
        apiKey: 'sk-ant-test',
        baseURL: server.anthropicBaseURL,
        maxRetries: 0,
      }),
    structured: (name, value) => ({ route: 'anthropic', reply: { toolCalls: [{ name, arguments: value }] } }),
    text: (chunks) => ({ route: 'anthropic', reply: { text: chunks.join(''), chunks: [...chunks] } }),
    structuredName: (request) => {
      const choice = record(request.body['tool_choice']);
      return choice?.['type'] === 'tool' && typeof choice['name'] === 'string' ? choice['name'] : undefined;
    },
  },
];

function strings(value: unknown, out: string[]): void {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (typeof value === 'object' && value !== null) for (const v of Object.values(value)) strings(v, out);
}

/**
 * Every text of a request's prompt (system and messages, in order), joined by newlines, whatever the
 * provider's message shape.
 *
 * @param request - a recorded request
 * @returns the prompt text
 */
export function promptText(request: RecordedRequest): string {
  const out: string[] = [];
  strings(request.body['system'], out);
  strings(request.body['messages'], out);
  return out.join('\n');
}

/**
 * The messages of a request as `{ role, text }` (system lifted out by Anthropic is listed first).
 *
 * @param request - a recorded request
 * @returns the messages
 */
export function promptMessages(request: RecordedRequest): { role: string; text: string }[] {
  const out: { role: string; text: string }[] = [];
  if (request.body['system'] !== undefined) {
    const parts: string[] = [];
    strings(request.body['system'], parts);
    out.push({ role: 'system', text: parts.join('\n') });
  }
  const messages = request.body['messages'];
  for (const m of Array.isArray(messages) ? messages : []) {
    const msg = record(m) ?? {};
    const parts: string[] = [];
    strings(msg['content'], parts);
    out.push({ role: String(msg['role']), text: parts.join('\n') });
  }
  return out;
}
