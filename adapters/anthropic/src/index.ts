/**
 * `@dream-agent/anthropic`: a {@link LanguageModel} on the official `@anthropic-ai/sdk` client
 * (Messages API: tools, structured output through a forced tool call, streaming with text and
 * tool-input deltas, usage, error mapping).
 *
 * @packageDocumentation
 */
import Anthropic from '@anthropic-ai/sdk';
import { DreamAgentError, isDreamAgentError } from 'dream-agent';
import { mapErrorSafely, parseRetryAfter } from 'dream-agent/adapter-kit';
import type {
  ChatMessage,
  FinishReason,
  GenerateRequest,
  GenerateResult,
  JsonObject,
  LanguageModel,
  StreamChunk,
  TokenUsage,
  ToolCall,
} from 'dream-agent';

type Params = Anthropic.MessageCreateParamsNonStreaming;
type MessageParam = Anthropic.MessageParam;
type ContentBlockParam = Anthropic.ContentBlockParam;

/** Options of {@link AnthropicModel}. */
export interface AnthropicModelOptions {
  /** The default model id, e.g. `claude-sonnet-4-5`. */
  model: string;
  /** Your own configured client (its retries, timeout and headers are used as they are). */
  client?: Anthropic;
  /** API key (default: the `ANTHROPIC_API_KEY` environment variable, read by the client). */
  apiKey?: string;
  baseURL?: string;
  /**
   * Retries of the client itself (default 0: the agent's retry policy, `withResilience`, retries instead —
   * capped Retry-After, sleeps that a cancel interrupts). A `client` you pass keeps its own setting.
   */
  maxRetries?: number;
  /** Request timeout in ms. */
  timeout?: number;
  defaultHeaders?: Record<string, string>;
  /** `max_tokens` when the request sets none (the Messages API requires it); default 4096. */
  defaultMaxTokens?: number;
}

const PROVIDER = 'anthropic';

/** How a structured-output request is carried: a forced call of a synthetic tool. */
interface StructuredTool {
  name: string;
  /** The schema was not an object schema and is wrapped as `{ value: … }`. */
  wrapped: boolean;
}

/**
 * A {@link LanguageModel} on the Anthropic Messages API.
 *
 * Structured output (`responseFormat: { type: 'json' }`) is requested as a forced call of a synthetic
 * tool whose input schema is the requested schema; the tool input comes back as the result `text`
 * (JSON) and is not listed in `toolCalls`. System messages are lifted into `system`; tool results are
 * sent as `tool_result` blocks in a user turn.
 *
 * Errors become `DreamAgentError`s: 401/403 → `UNAUTHENTICATED`; 404 → `LLM_ERROR` (not retryable);
 * 429 → `RATE_LIMITED` (retryable, `details.retryAfterMs` from Retry-After); 408/409/5xx/529 overloaded,
 * connection failures, malformed responses, stream `error` events and cut streams → `LLM_ERROR`
 * (retryable); client timeouts → `TIMEOUT`; an aborted signal → `ABORTED`.
 *
 * @example
 * ```ts
 * import { AnthropicModel } from '@dream-agent/anthropic';
 * const llm = new AnthropicModel({ model: 'claude-sonnet-4-5' }); // reads ANTHROPIC_API_KEY
 * ```
 */
export class AnthropicModel implements LanguageModel {
  /** Always `anthropic`. */
  readonly provider = PROVIDER;
  /** The default model id. */
  readonly model: string;
  /** The underlying client. */
  readonly client: Anthropic;
  readonly #defaultMaxTokens: number;

  /**
   * @param options - model id, client or connection options
   * @throws DreamAgentError `INVALID_INPUT` when `model` is empty or `defaultMaxTokens` is not a positive integer
   */
  constructor(options: AnthropicModelOptions) {
    if (typeof options.model !== 'string' || options.model === '') {
      throw new DreamAgentError(
        'INVALID_INPUT',
        'AnthropicModel needs a model id, e.g. { model: "claude-sonnet-4-5" }',
      );
    }
    const max = options.defaultMaxTokens ?? 4096;
    if (!Number.isInteger(max) || max < 1) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `defaultMaxTokens must be a positive integer, got ${String(max)}`,
      );
    }
    this.model = options.model;
    this.#defaultMaxTokens = max;
    this.client =
      options.client ??
      new Anthropic({
        ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
        ...(options.baseURL === undefined ? {} : { baseURL: options.baseURL }),
        // The agent's own retry policy (withResilience) retries, the same way for every provider; the
        // client's retries would sleep through a cancel and ignore our cap on Retry-After.
        maxRetries: options.maxRetries ?? 0,
        ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
        ...(options.defaultHeaders === undefined ? {} : { defaultHeaders: options.defaultHeaders }),
      });
  }

  /** {@inheritDoc src!LanguageModel.generate} */
  async generate(request: GenerateRequest): Promise<GenerateResult> {
    throwIfAborted(request.signal);
    const { params, structured } = this.#params(request);
    try {
      const message = await this.client.messages.create(params, optionsOf(request));
      let text = '';
      const toolCalls: ToolCall[] = [];
      let structuredText: string | undefined;
      for (const block of message.content) {
        if (block.type === 'text') text += block.text;
        else if (block.type === 'tool_use') {
          const args = JSON.stringify(block.input ?? {});
          if (structured !== undefined && block.name === structured.name && structuredText === undefined) {
            structuredText = unwrap(args, structured);
          } else {
            toolCalls.push({ id: block.id, name: block.name, arguments: args });
          }
        }
      }
      return {
        text: structuredText ?? text,
        toolCalls,
        finishReason:
          structuredText !== undefined && message.stop_reason === 'tool_use'
            ? 'stop'
            : mapStop(message.stop_reason),
        usage: mapUsage(message.usage),
        model: message.model,
        id: message.id,
      };
    } catch (error) {
      throw mapAnthropicError(error, request.signal);
    }
  }

  /** {@inheritDoc src!LanguageModel.stream} */
  async *stream(request: GenerateRequest): AsyncIterable<StreamChunk> {
    throwIfAborted(request.signal);
    const { params, structured } = this.#params(request);
    let text = '';
    let structuredText: string | undefined;
    const calls: ToolCall[] = [];
    /** Content block index → what it is. */
    const blocks = new Map<
      number,
      { kind: 'text' } | { kind: 'tool'; call: number } | { kind: 'structured' } | { kind: 'other' }
    >();
    let stop: FinishReason | undefined;
    let stopped = false;
    let usage: TokenUsage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 };
    let model = request.model ?? this.model;
    let id: string | undefined;
    try {
      const stream = await this.client.messages.create({ ...params, stream: true }, optionsOf(request));
      for await (const event of stream) {
        switch (event.type) {
          case 'message_start':
            model = event.message.model || model;
            id = event.message.id;
            usage = mapUsage(event.message.usage);
            break;
          case 'content_block_start': {
            const block = event.content_block;
            if (block.type === 'text') {
              blocks.set(event.index, { kind: 'text' });
              if (block.text !== '') {
                text += block.text;
                yield { type: 'text.delta', text: block.text };
              }
            } else if (block.type === 'tool_use') {
              if (
                structured !== undefined &&
                block.name === structured.name &&
                structuredText === undefined
              ) {
                blocks.set(event.index, { kind: 'structured' });
                structuredText = '';
              } else {
                calls.push({ id: block.id, name: block.name, arguments: '' });
                blocks.set(event.index, { kind: 'tool', call: calls.length - 1 });
                yield { type: 'tool_call.start', index: calls.length - 1, id: block.id, name: block.name };
              }
            } else {
              blocks.set(event.index, { kind: 'other' });
            }
            break;
          }
          case 'content_block_delta': {
            const kind = blocks.get(event.index);
            const delta = event.delta;
            if (delta.type === 'text_delta' && kind?.kind === 'text') {
              text += delta.text;
              yield { type: 'text.delta', text: delta.text };
            } else if (delta.type === 'input_json_delta' && kind?.kind === 'tool') {
              const call = calls[kind.call] as ToolCall;
              call.arguments += delta.partial_json;
              yield {
                type: 'tool_call.delta',
                index: kind.call,
                id: call.id,
                argumentsDelta: delta.partial_json,
              };
            } else if (delta.type === 'input_json_delta' && kind?.kind === 'structured') {
              structuredText = (structuredText ?? '') + delta.partial_json;
              // The JSON answer streams as text, unless it has to be unwrapped at the end.
              if (structured?.wrapped === false && delta.partial_json !== '') {
                yield { type: 'text.delta', text: delta.partial_json };
              }
            }
            break;
          }
          case 'content_block_stop':
            break;
          case 'message_delta':
            stop =
              structuredText !== undefined && event.delta.stop_reason === 'tool_use'
                ? 'stop'
                : mapStop(event.delta.stop_reason);
            usage = mergeDeltaUsage(usage, event.usage);
            break;
          case 'message_stop':
            stopped = true;
            break;
        }
      }
    } catch (error) {
      throw mapAnthropicError(error, request.signal);
    }
    // The SDK ends the iteration quietly when our signal aborts it: report the abort.
    throwIfAborted(request.signal);
    if (!stopped || stop === undefined) {
      throw new DreamAgentError('LLM_ERROR', 'the Anthropic stream ended before the message was complete', {
        retryable: true,
        details: details({ receivedChars: text.length }),
      });
    }
    for (const call of calls) if (call.arguments === '') call.arguments = '{}';
    let finalText = text;
    if (structuredText !== undefined) {
      finalText = unwrap(structuredText === '' ? '{}' : structuredText, structured as StructuredTool);
      if (structured?.wrapped === true) yield { type: 'text.delta', text: finalText };
    }
    yield {
      type: 'finish',
      result: {
        text: finalText,
        toolCalls: calls,
        finishReason: stop,
        usage,
        model,
        ...(id === undefined ? {} : { id }),
      },
    };
  }

  #params(request: GenerateRequest): { params: Params; structured: StructuredTool | undefined } {
    const { system, messages } = toAnthropicMessages(request.messages);
    const params: Params = {
      model: request.model ?? this.model,
      max_tokens: request.maxTokens ?? this.#defaultMaxTokens,
      messages,
    };
    if (system !== '') params.system = system;
    // `temperature` is not sent: the Messages API this SDK targets deprecated sampling parameters
    // (they are gone from its request types), and sending them can be rejected.
    if (request.stop !== undefined && request.stop.length > 0) params.stop_sequences = request.stop;
    const tools: Anthropic.Tool[] = (request.tools ?? []).map((t) => ({
      name: t.name,
      description: t.description,
      input_schema: objectSchema(t.parameters) as Anthropic.Tool.InputSchema,
    }));
    let structured: StructuredTool | undefined;
    const format = request.responseFormat;
    if (format?.type === 'json') {
      const wrapped = !isObjectSchema(format.schema);
      let name = format.name ?? 'structured_output';
      while (tools.some((t) => t.name === name)) name = `${name}_`;
      structured = { name, wrapped };
      tools.push({
        name,
        description: format.description ?? 'Return the answer as the input of this tool.',
        input_schema: (wrapped
          ? { type: 'object', properties: { value: format.schema }, required: ['value'] }
          : format.schema) as Anthropic.Tool.InputSchema,
      });
      params.tool_choice = { type: 'tool', name };
    } else if (request.toolChoice !== undefined && tools.length > 0) {
      params.tool_choice =
        request.toolChoice === 'auto'
          ? { type: 'auto' }
          : request.toolChoice === 'none'
            ? { type: 'none' }
            : request.toolChoice === 'required'
              ? { type: 'any' }
              : { type: 'tool', name: request.toolChoice.name };
    }
    if (tools.length > 0) params.tools = tools;
    return { params, structured };
  }
}

/**
 * Maps dream-agent messages to Messages API messages: system messages are joined into `system`,
 * tool results become `tool_result` blocks of a user turn, and consecutive turns of one role are
 * merged (the API expects alternating roles).
 *
 * @param messages - the conversation
 * @returns the system prompt and the messages
 */
export function toAnthropicMessages(messages: readonly ChatMessage[]): {
  system: string;
  messages: MessageParam[];
} {
  const system: string[] = [];
  const out: { role: 'user' | 'assistant'; content: ContentBlockParam[] }[] = [];
  const push = (role: 'user' | 'assistant', blocks: ContentBlockParam[]): void => {
    if (blocks.length === 0) return;
    const last = out[out.length - 1];
    if (last !== undefined && last.role === role) last.content.push(...blocks);
    else out.push({ role, content: blocks });
  };
  for (const m of messages) {
    switch (m.role) {
      case 'system':
        system.push(m.content);
        break;
      case 'user':
        push('user', [{ type: 'text', text: m.content }]);
        break;
      case 'assistant': {
        const blocks: ContentBlockParam[] = [];
        if (m.content !== '') blocks.push({ type: 'text', text: m.content });
        for (const c of m.toolCalls ?? []) {
          blocks.push({ type: 'tool_use', id: c.id, name: c.name, input: parseObject(c.arguments) });
        }
        push('assistant', blocks);
        break;
      }
      case 'tool':
        push('user', [
          {
            type: 'tool_result',
            tool_use_id: m.toolCallId,
            content: m.content,
            ...(m.isError === true ? { is_error: true } : {}),
          },
        ]);
        break;
    }
  }
  return {
    system: system.join('\n\n'),
    // A single text block is sent as a plain string: the most widely supported form.
    messages: out.map((m) => {
      const only = m.content[0];
      return m.content.length === 1 && only?.type === 'text' ? { role: m.role, content: only.text } : m;
    }),
  };
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : { value };
  } catch {
    return {};
  }
}

function isObjectSchema(schema: JsonObject): boolean {
  return schema['type'] === 'object';
}

function objectSchema(schema: JsonObject): JsonObject {
  return isObjectSchema(schema) ? schema : { type: 'object', ...schema };
}

function unwrap(json: string, structured: StructuredTool): string {
  if (!structured.wrapped) return json;
  try {
    const value = JSON.parse(json) as { value?: unknown };
    return JSON.stringify(value.value ?? null);
  } catch {
    return json;
  }
}

function optionsOf(request: GenerateRequest): { signal?: AbortSignal } {
  return request.signal === undefined ? {} : { signal: request.signal };
}

function mapStop(reason: string | null | undefined): FinishReason {
  switch (reason ?? null) {
    case null:
      return 'other';
    case 'end_turn':
    case 'stop_sequence':
      return 'stop';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      return 'other';
  }
}

interface WireUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

function mapUsage(usage: WireUsage | null | undefined): TokenUsage {
  // Total input is input + cache writes + cache reads (the API reports them apart).
  const inputTokens =
    (usage?.input_tokens ?? 0) +
    (usage?.cache_creation_input_tokens ?? 0) +
    (usage?.cache_read_input_tokens ?? 0);
  const outputTokens = usage?.output_tokens ?? 0;
  return { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
}

/** `message_delta` usage is cumulative; input counts, when present, replace those of `message_start`. */
function mergeDeltaUsage(start: TokenUsage, delta: WireUsage): TokenUsage {
  const hasInput =
    typeof delta.input_tokens === 'number' ||
    typeof delta.cache_creation_input_tokens === 'number' ||
    typeof delta.cache_read_input_tokens === 'number';
  const inputTokens = hasInput ? mapUsage(delta).inputTokens : start.inputTokens;
  const outputTokens = typeof delta.output_tokens === 'number' ? delta.output_tokens : start.outputTokens;
  return { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
}

function details(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { provider: PROVIDER, ...extra };
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new DreamAgentError('ABORTED', 'the Anthropic call was aborted', {
      cause: signal.reason,
      retryable: false,
      details: details(),
    });
  }
}

/**
 * Reads Retry-After (`retry-after-ms`, or `retry-after` in seconds or as an HTTP date) — the core's
 * {@link parseRetryAfter}, re-exported under this adapter's historical name.
 */
export const retryAfterMs = parseRetryAfter;

/**
 * Translates anything the Anthropic client threw into a `DreamAgentError` (see {@link AnthropicModel}
 * for the table). Checks by shape as well as by class, so errors from another copy of the SDK map the
 * same.
 *
 * @param error - the thrown value
 * @param signal - the call's signal (an aborted signal means `ABORTED`)
 * @returns the mapped error
 */
export function mapAnthropicError(error: unknown, signal?: AbortSignal): DreamAgentError {
  return mapErrorSafely(error, signal, mapAnthropicOrThrow, 'the Anthropic call', details());
}

function mapAnthropicOrThrow(error: unknown, signal: AbortSignal | undefined): DreamAgentError {
  if (isDreamAgentError(error)) return error;
  if (signal?.aborted || error instanceof Anthropic.APIUserAbortError) {
    return new DreamAgentError('ABORTED', 'the Anthropic call was aborted', {
      cause: error,
      retryable: false,
      details: details(),
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  const className = error instanceof Error ? error.constructor.name : '';
  if (error instanceof Anthropic.APIConnectionTimeoutError || className === 'APIConnectionTimeoutError') {
    return new DreamAgentError('TIMEOUT', `the Anthropic request timed out: ${message}`, {
      cause: error,
      retryable: true,
      details: details(),
    });
  }
  if (error instanceof Anthropic.APIConnectionError || className === 'APIConnectionError') {
    return new DreamAgentError('LLM_ERROR', `could not reach Anthropic: ${message}`, {
      cause: error,
      retryable: true,
      details: details(),
    });
  }
  const status =
    typeof error === 'object' && error !== null && typeof (error as { status?: unknown }).status === 'number'
      ? (error as { status: number }).status
      : undefined;
  if (status !== undefined || error instanceof Anthropic.APIError) {
    const e = error as { headers?: Headers; type?: unknown; requestID?: unknown; error?: unknown };
    const type =
      typeof e.type === 'string'
        ? e.type
        : typeof (e.error as { error?: { type?: unknown } } | undefined)?.error?.type === 'string'
          ? (e.error as { error: { type: string } }).error.type
          : null;
    const base = details({
      status: status ?? null,
      type,
      requestId: typeof e.requestID === 'string' ? e.requestID : null,
    });
    if (status === 401 || status === 403) {
      return new DreamAgentError(
        'UNAUTHENTICATED',
        `Anthropic rejected the credentials (${status}): ${message}`,
        {
          cause: error,
          retryable: false,
          details: base,
        },
      );
    }
    if (status === 429) {
      const after = retryAfterMs(headersOf(e.headers));
      return new DreamAgentError('RATE_LIMITED', `Anthropic rate limit: ${message}`, {
        cause: error,
        retryable: true,
        details: after === undefined ? base : { ...base, retryAfterMs: after },
      });
    }
    // No status: an `error` event inside a stream (e.g. overloaded_error) — transient by nature.
    const retryable = status === undefined || status === 408 || status === 409 || status >= 500;
    return new DreamAgentError(
      'LLM_ERROR',
      `Anthropic request failed${status === undefined ? '' : ` (${status})`}: ${message}`,
      {
        cause: error,
        retryable,
        details: base,
      },
    );
  }
  if (error instanceof SyntaxError) {
    return new DreamAgentError('LLM_ERROR', `Anthropic sent a malformed response: ${message}`, {
      cause: error,
      retryable: true,
      details: details(),
    });
  }
  return new DreamAgentError('LLM_ERROR', `the Anthropic call failed: ${message}`, {
    cause: error,
    retryable: true,
    details: details(),
  });
}

/**
 * The error's response headers as a `Headers`: the SDK gives one, a client of the user's own may give a
 * plain object (entries that are not valid header names or values are skipped).
 */
function headersOf(raw: unknown): Headers | undefined {
  if (raw instanceof Headers) return raw;
  if (typeof raw !== 'object' || raw === null) return undefined;
  const headers = new Headers();
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof value !== 'string') continue;
    try {
      headers.append(key, value);
    } catch {
      // not a header we can read
    }
  }
  return headers;
}
