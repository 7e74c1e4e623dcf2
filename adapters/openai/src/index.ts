/**
 * `@dream-agent/openai`: a {@link LanguageModel} on the official `openai` client (Chat Completions:
 * tools, JSON-schema structured output, streaming with usage) and an embeddings embedder. Works with
 * any OpenAI-compatible server (vLLM, Ollama, llama.cpp server…) through `baseURL`.
 *
 * @packageDocumentation
 */
import OpenAI from 'openai';
import { DreamAgentError, isDreamAgentError } from 'dream-agent';
import {
  mapErrorSafely,
  parseRetryAfter,
  stripStrictNulls,
  toStrictJsonSchema,
} from 'dream-agent/adapter-kit';
import type {
  ChatMessage,
  Embedder,
  FinishReason,
  GenerateRequest,
  GenerateResult,
  Json,
  LanguageModel,
  StreamChunk,
  TokenUsage,
  ToolCall,
} from 'dream-agent';

type ChatParams = OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming;
type ChatMessageParam = OpenAI.Chat.Completions.ChatCompletionMessageParam;

/** How the client is obtained: the user's own instance, or options to build one. */
export interface OpenAIClientOptions {
  /** Your own configured client (its retries, timeout, proxy and headers are used as they are). */
  client?: OpenAI;
  /** API key (default: the `OPENAI_API_KEY` environment variable, read by the client). */
  apiKey?: string;
  /** e.g. `http://localhost:11434/v1` for Ollama, `http://localhost:8000/v1` for vLLM. */
  baseURL?: string;
  organization?: string;
  project?: string;
  /**
   * Retries of the client itself (default 0: the agent's retry policy, `withResilience`, retries instead —
   * capped Retry-After, sleeps that a cancel interrupts). A `client` you pass keeps its own setting.
   */
  maxRetries?: number;
  /** Request timeout in ms (default: the client's, 10 minutes). */
  timeout?: number;
  defaultHeaders?: Record<string, string>;
}

/** Options of {@link OpenAIModel}. */
export interface OpenAIModelOptions extends OpenAIClientOptions {
  /** The default model id, e.g. `gpt-4.1-mini`. */
  model: string;
  /**
   * How structured output is requested: `json_schema` (default; OpenAI and recent compatible servers),
   * `json_object` (older compatible servers: JSON mode, schema only in the prompt) or `none`.
   */
  structuredOutput?: 'json_schema' | 'json_object' | 'none';
  /**
   * Send JSON schemas in strict mode (default false). Schemas are converted to the strict subset
   * (`toStrictJsonSchema`: all properties required, `additionalProperties: false`, optional as nullable)
   * and the placeholder `null`s are removed from answers; a schema that cannot be strict (a free-form
   * object, a tuple…) is sent with `strict: false`.
   */
  strictSchemas?: boolean;
  /** Ask for usage on streams (`stream_options.include_usage`); default true. Some compatible servers reject it. */
  streamUsage?: boolean;
  /** Name of the output-limit parameter: `max_completion_tokens` (default, OpenAI) or `max_tokens` (older servers). */
  maxTokensParameter?: 'max_completion_tokens' | 'max_tokens';
}

const PROVIDER = 'openai';

/**
 * Builds an `OpenAI` client from options (or returns the one given).
 *
 * @param options - client or connection options
 * @returns the client
 */
export function createOpenAIClient(options: OpenAIClientOptions): OpenAI {
  if (options.client !== undefined) return options.client;
  return new OpenAI({
    ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
    ...(options.baseURL === undefined ? {} : { baseURL: options.baseURL }),
    ...(options.organization === undefined ? {} : { organization: options.organization }),
    ...(options.project === undefined ? {} : { project: options.project }),
    // The agent's own retry policy (withResilience) retries, the same way for every provider; the
    // client's retries would sleep through a cancel and ignore our cap on Retry-After.
    maxRetries: options.maxRetries ?? 0,
    ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
    ...(options.defaultHeaders === undefined ? {} : { defaultHeaders: options.defaultHeaders }),
  });
}

/**
 * A {@link LanguageModel} on OpenAI Chat Completions.
 *
 * Errors become `DreamAgentError`s: 401/403 → `UNAUTHENTICATED`; 404 → `LLM_ERROR` (not retryable);
 * 429 → `RATE_LIMITED` (retryable, `details.retryAfterMs` from Retry-After; `insufficient_quota` is not
 * retryable); 408/409/5xx, connection failures, malformed responses and cut streams → `LLM_ERROR`
 * (retryable); client timeouts → `TIMEOUT`; an aborted signal → `ABORTED`. The client does not retry
 * (`maxRetries: 0`): the agent's retry policy (`withResilience`) does.
 *
 * @example
 * ```ts
 * import { OpenAIModel } from '@dream-agent/openai';
 * const llm = new OpenAIModel({ model: 'gpt-4.1-mini' }); // reads OPENAI_API_KEY
 * const local = new OpenAIModel({ model: 'llama3.1', baseURL: 'http://localhost:11434/v1', apiKey: 'ollama' });
 * ```
 */
export class OpenAIModel implements LanguageModel {
  /** Always `openai`. */
  readonly provider = PROVIDER;
  /** The default model id. */
  readonly model: string;
  /** The underlying client. */
  readonly client: OpenAI;
  readonly #options: OpenAIModelOptions;

  /**
   * @param options - model id, client or connection options, protocol switches
   * @throws DreamAgentError `INVALID_INPUT` when `model` is empty
   */
  constructor(options: OpenAIModelOptions) {
    if (typeof options.model !== 'string' || options.model === '') {
      throw new DreamAgentError(
        'INVALID_INPUT',
        'OpenAIModel needs a model id, e.g. { model: "gpt-4.1-mini" }',
      );
    }
    this.model = options.model;
    this.client = createOpenAIClient(options);
    this.#options = options;
  }

  /** {@inheritDoc src!LanguageModel.generate} */
  async generate(request: GenerateRequest): Promise<GenerateResult> {
    throwIfAborted(request.signal);
    try {
      const completion = await this.client.chat.completions.create(this.#params(request), optionsOf(request));
      const choice = completion.choices[0];
      if (choice === undefined) {
        throw new DreamAgentError('LLM_ERROR', 'OpenAI returned no choices', {
          retryable: true,
          details: details(),
        });
      }
      const message = choice.message;
      const toolCalls: ToolCall[] = [];
      for (const call of message.tool_calls ?? []) {
        if (call.type === 'function') {
          toolCalls.push({ id: call.id, name: call.function.name, arguments: call.function.arguments });
        }
      }
      const refused = typeof message.refusal === 'string' && message.refusal !== '';
      return {
        text: this.#unstrict(request, message.content ?? ''),
        toolCalls,
        finishReason: refused ? 'content_filter' : mapFinish(choice.finish_reason),
        usage: mapUsage(completion.usage),
        model: completion.model,
        id: completion.id,
      };
    } catch (error) {
      throw mapOpenAIError(error, request.signal);
    }
  }

  /** {@inheritDoc src!LanguageModel.stream} */
  async *stream(request: GenerateRequest): AsyncIterable<StreamChunk> {
    throwIfAborted(request.signal);
    const includeUsage = this.#options.streamUsage ?? true;
    let text = '';
    const calls: { id: string; name: string; arguments: string }[] = [];
    let finish: FinishReason | undefined;
    let usage: TokenUsage | undefined;
    let model = request.model ?? this.model;
    let id: string | undefined;
    try {
      const stream = await this.client.chat.completions.create(
        {
          ...this.#params(request),
          stream: true,
          ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
        },
        optionsOf(request),
      );
      for await (const chunk of stream) {
        model = chunk.model || model;
        id = chunk.id || id;
        if (chunk.usage !== undefined && chunk.usage !== null) usage = mapUsage(chunk.usage);
        const choice = chunk.choices[0];
        if (choice === undefined) continue;
        const delta = choice.delta;
        if (typeof delta.content === 'string' && delta.content !== '') {
          text += delta.content;
          yield { type: 'text.delta', text: delta.content };
        }
        for (const d of delta.tool_calls ?? []) {
          let call = calls[d.index];
          if (call === undefined) {
            call = { id: d.id ?? `call_${d.index}`, name: d.function?.name ?? '', arguments: '' };
            calls[d.index] = call;
            yield { type: 'tool_call.start', index: d.index, id: call.id, name: call.name };
          } else if (d.function?.name !== undefined && call.name === '') {
            call.name = d.function.name;
          }
          const piece = d.function?.arguments;
          if (typeof piece === 'string' && piece !== '') {
            call.arguments += piece;
            yield { type: 'tool_call.delta', index: d.index, id: call.id, argumentsDelta: piece };
          }
        }
        if (choice.finish_reason !== null && choice.finish_reason !== undefined) {
          finish = mapFinish(choice.finish_reason);
        }
      }
    } catch (error) {
      throw mapOpenAIError(error, request.signal);
    }
    // The SDK ends the iteration quietly when our signal aborts it: report the abort.
    throwIfAborted(request.signal);
    if (finish === undefined) {
      throw new DreamAgentError('LLM_ERROR', 'the OpenAI stream ended before the model finished', {
        retryable: true,
        details: details({ receivedChars: text.length }),
      });
    }
    const result: GenerateResult = {
      text: this.#unstrict(request, text),
      toolCalls: calls.filter((c) => c !== undefined),
      finishReason: finish,
      usage: usage ?? { inputTokens: 0, outputTokens: 0, totalTokens: 0 },
      model,
      ...(id === undefined ? {} : { id }),
    };
    yield { type: 'finish', result };
  }

  /** Removes the `null`s strict mode made the model send for omitted optional properties. */
  #unstrict(request: GenerateRequest, text: string): string {
    const format = request.responseFormat;
    if (this.#options.strictSchemas !== true || format?.type !== 'json') return text;
    if ((this.#options.structuredOutput ?? 'json_schema') !== 'json_schema') return text;
    if (!toStrictJsonSchema(format.schema).strict) return text;
    try {
      return JSON.stringify(stripStrictNulls(JSON.parse(text) as Json, format.schema));
    } catch {
      return text; // not JSON: the caller's validation reports it
    }
  }

  #params(request: GenerateRequest): ChatParams {
    const params: ChatParams = {
      model: request.model ?? this.model,
      messages: toOpenAIMessages(request.messages),
    };
    if (request.temperature !== undefined) params.temperature = request.temperature;
    if (request.maxTokens !== undefined) {
      if ((this.#options.maxTokensParameter ?? 'max_completion_tokens') === 'max_tokens')
        params.max_tokens = request.maxTokens;
      else params.max_completion_tokens = request.maxTokens;
    }
    if (request.stop !== undefined && request.stop.length > 0) params.stop = request.stop;
    if (request.tools !== undefined && request.tools.length > 0) {
      params.tools = request.tools.map((t) => ({
        type: 'function',
        function: { name: t.name, description: t.description, parameters: t.parameters },
      }));
      if (request.toolChoice !== undefined) {
        params.tool_choice =
          typeof request.toolChoice === 'string'
            ? request.toolChoice
            : { type: 'function', function: { name: request.toolChoice.name } };
      }
    }
    const format = request.responseFormat;
    const mode = this.#options.structuredOutput ?? 'json_schema';
    if (format?.type === 'json' && mode === 'json_schema') {
      // Strict mode accepts a subset of JSON Schema: convert; a schema that cannot be strict goes non-strict.
      const strict = this.#options.strictSchemas === true ? toStrictJsonSchema(format.schema) : undefined;
      params.response_format = {
        type: 'json_schema',
        json_schema: {
          name: format.name ?? 'result',
          schema: strict?.schema ?? format.schema,
          strict: strict?.strict ?? false,
          ...(format.description === undefined ? {} : { description: format.description }),
        },
      };
    } else if (format?.type === 'json' && mode === 'json_object') {
      params.response_format = { type: 'json_object' };
      // JSON mode needs the word "JSON" and the shape in the prompt.
      params.messages = [
        ...params.messages,
        {
          role: 'system',
          content: `Answer with a JSON value matching this JSON Schema:\n${JSON.stringify(format.schema)}`,
        },
      ];
    }
    return params;
  }
}

/**
 * Maps dream-agent messages to Chat Completions messages.
 *
 * @param messages - the conversation
 * @returns OpenAI message params
 */
export function toOpenAIMessages(messages: readonly ChatMessage[]): ChatMessageParam[] {
  return messages.map((m): ChatMessageParam => {
    switch (m.role) {
      case 'system':
        return { role: 'system', content: m.content };
      case 'user':
        return { role: 'user', content: m.content };
      case 'assistant':
        return {
          role: 'assistant',
          content: m.content === '' && (m.toolCalls?.length ?? 0) > 0 ? null : m.content,
          ...(m.toolCalls !== undefined && m.toolCalls.length > 0
            ? {
                tool_calls: m.toolCalls.map((c) => ({
                  id: c.id,
                  type: 'function' as const,
                  function: { name: c.name, arguments: c.arguments },
                })),
              }
            : {}),
        };
      case 'tool':
        return { role: 'tool', tool_call_id: m.toolCallId, content: m.content };
    }
  });
}

function optionsOf(request: GenerateRequest): { signal?: AbortSignal } {
  return request.signal === undefined ? {} : { signal: request.signal };
}

function mapFinish(reason: string | null | undefined): FinishReason {
  switch (reason ?? null) {
    case null:
      return 'other';
    case 'stop':
      return 'stop';
    case 'length':
      return 'length';
    case 'tool_calls':
    case 'function_call':
      return 'tool_calls';
    case 'content_filter':
      return 'content_filter';
    default:
      return 'other';
  }
}

function mapUsage(
  usage: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number } | null | undefined,
): TokenUsage {
  const inputTokens = usage?.prompt_tokens ?? 0;
  const outputTokens = usage?.completion_tokens ?? 0;
  return { inputTokens, outputTokens, totalTokens: usage?.total_tokens ?? inputTokens + outputTokens };
}

function details(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { provider: PROVIDER, ...extra };
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new DreamAgentError('ABORTED', 'the OpenAI call was aborted', {
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
 * Translates anything the OpenAI client threw into a `DreamAgentError` (see {@link OpenAIModel} for the
 * table). Checks by shape as well as by class, so errors from another copy of the `openai` package (a
 * client the user built) map the same.
 *
 * @param error - the thrown value
 * @param signal - the call's signal (an aborted signal means `ABORTED`)
 * @returns the mapped error
 */
export function mapOpenAIError(error: unknown, signal?: AbortSignal): DreamAgentError {
  return mapErrorSafely(error, signal, mapOpenAIOrThrow, 'the OpenAI call', details());
}

function mapOpenAIOrThrow(error: unknown, signal: AbortSignal | undefined): DreamAgentError {
  if (isDreamAgentError(error)) return error;
  if (signal?.aborted || error instanceof OpenAI.APIUserAbortError) {
    return new DreamAgentError('ABORTED', 'the OpenAI call was aborted', {
      cause: error,
      retryable: false,
      details: details(),
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  if (
    error instanceof OpenAI.APIConnectionTimeoutError ||
    (isConnectionError(error) && /timed? ?out/i.test(message))
  ) {
    return new DreamAgentError('TIMEOUT', `the OpenAI request timed out: ${message}`, {
      cause: error,
      retryable: true,
      details: details(),
    });
  }
  if (error instanceof OpenAI.APIConnectionError || isConnectionError(error)) {
    return new DreamAgentError('LLM_ERROR', `could not reach OpenAI: ${message}`, {
      cause: error,
      retryable: true,
      details: details(),
    });
  }
  const status = statusOf(error);
  if (status !== undefined || error instanceof OpenAI.APIError) {
    const e = error as { headers?: Headers; code?: unknown; type?: unknown; requestID?: unknown };
    const base = details({
      status: status ?? null,
      code: typeof e.code === 'string' ? e.code : null,
      type: typeof e.type === 'string' ? e.type : null,
      requestId: typeof e.requestID === 'string' ? e.requestID : null,
    });
    if (status === 401 || status === 403) {
      return new DreamAgentError(
        'UNAUTHENTICATED',
        `OpenAI rejected the credentials (${status}): ${message}`,
        {
          cause: error,
          retryable: false,
          details: base,
        },
      );
    }
    if (status === 429) {
      const after = retryAfterMs(headersOf(e.headers));
      // insufficient_quota is a billing state, not a burst: waiting does not help.
      const quota = e.code === 'insufficient_quota';
      return new DreamAgentError('RATE_LIMITED', `OpenAI rate limit: ${message}`, {
        cause: error,
        retryable: !quota,
        details: after === undefined ? base : { ...base, retryAfterMs: after },
      });
    }
    const retryable = status === undefined || status === 408 || status === 409 || status >= 500;
    return new DreamAgentError(
      'LLM_ERROR',
      `OpenAI request failed${status === undefined ? '' : ` (${status})`}: ${message}`,
      {
        cause: error,
        retryable,
        details: base,
      },
    );
  }
  if (error instanceof SyntaxError) {
    return new DreamAgentError('LLM_ERROR', `OpenAI sent a malformed response: ${message}`, {
      cause: error,
      retryable: true,
      details: details(),
    });
  }
  return new DreamAgentError('LLM_ERROR', `the OpenAI call failed: ${message}`, {
    cause: error,
    retryable: true,
    details: details(),
  });
}

function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const status = (error as { status?: unknown }).status;
  return typeof status === 'number' ? status : undefined;
}

function isConnectionError(error: unknown): boolean {
  // Stainless errors do not set `name`; the class name survives in unminified packages.
  const name = error instanceof Error ? error.constructor.name : '';
  return name === 'APIConnectionError' || name === 'APIConnectionTimeoutError';
}

/** Output sizes of OpenAI's embedding models, used when `dimensions` is not given. */
const KNOWN_DIMENSIONS: Readonly<Record<string, number>> = {
  'text-embedding-3-small': 1536,
  'text-embedding-3-large': 3072,
  'text-embedding-ada-002': 1536,
};

/** Options of {@link OpenAIEmbedder}. */
export interface OpenAIEmbedderOptions extends OpenAIClientOptions {
  /** Embedding model, default `text-embedding-3-small`. */
  model?: string;
  /**
   * Vector length. Required for models it does not know (e.g. on a compatible server); for
   * `text-embedding-3-*` models a smaller value is sent to the API, which shortens the vectors.
   */
  dimensions?: number;
  /** Texts per request (default 512; the API allows up to 2048). */
  batchSize?: number;
}

/**
 * An {@link Embedder} on the OpenAI embeddings endpoint (or a compatible one). Batches large inputs,
 * returns vectors in input order, and checks every vector has `dimensions` entries; errors map as for
 * {@link OpenAIModel}.
 *
 * @example
 * ```ts
 * const embedder = new OpenAIEmbedder({ model: 'text-embedding-3-small' });
 * const [v] = await embedder.embed(['quarterly sales by region']);
 * const local = new OpenAIEmbedder({ model: 'nomic-embed-text', dimensions: 768, baseURL: 'http://localhost:11434/v1', apiKey: 'ollama' });
 * ```
 */
export class OpenAIEmbedder implements Embedder {
  /** The embedding model id. */
  readonly model: string;
  /** The length of every vector returned. */
  readonly dimensions: number;
  /** The underlying client. */
  readonly client: OpenAI;
  readonly #batchSize: number;
  readonly #sendDimensions: boolean;

  /**
   * @param options - model, dimensions, client or connection options
   * @throws DreamAgentError `INVALID_INPUT` for a batch size outside 1–2048, bad dimensions, or an
   *   unknown model without `dimensions`
   */
  constructor(options: OpenAIEmbedderOptions = {}) {
    this.model = options.model ?? 'text-embedding-3-small';
    const dimensions = options.dimensions ?? KNOWN_DIMENSIONS[this.model];
    if (dimensions === undefined) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `OpenAIEmbedder does not know the size of "${this.model}" vectors: pass { dimensions }`,
      );
    }
    if (!Number.isInteger(dimensions) || dimensions < 1) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `dimensions must be a positive integer, got ${String(dimensions)}`,
      );
    }
    this.dimensions = dimensions;
    // Only text-embedding-3 models accept `dimensions`; other servers may reject the parameter.
    this.#sendDimensions = options.dimensions !== undefined && this.model.startsWith('text-embedding-3');
    this.client = createOpenAIClient(options);
    const batch = options.batchSize ?? 512;
    if (!Number.isInteger(batch) || batch < 1 || batch > 2048) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `batchSize must be an integer from 1 to 2048, got ${String(batch)}`,
      );
    }
    this.#batchSize = batch;
  }

  /**
   * Embeds texts.
   *
   * @param texts - the texts (empty list → empty result, no request)
   * @param options - an abort signal
   * @returns one vector per text, in order
   * @throws DreamAgentError as {@link mapOpenAIError}; `LLM_ERROR` when the response lacks a vector
   *   (retryable) or a vector has the wrong length (not retryable: the model does not match `dimensions`)
   */
  async embed(texts: readonly string[], options: { signal?: AbortSignal } = {}): Promise<number[][]> {
    const out: number[][] = [];
    for (let start = 0; start < texts.length; start += this.#batchSize) {
      const batch = texts.slice(start, start + this.#batchSize);
      throwIfAborted(options.signal);
      let response: OpenAI.Embeddings.CreateEmbeddingResponse;
      try {
        response = await this.client.embeddings.create(
          {
            model: this.model,
            input: batch,
            ...(this.#sendDimensions ? { dimensions: this.dimensions } : {}),
          },
          options.signal === undefined ? {} : { signal: options.signal },
        );
      } catch (error) {
        throw mapOpenAIError(error, options.signal);
      }
      const vectors = new Array<number[] | undefined>(batch.length).fill(undefined);
      for (const item of response.data) vectors[item.index] = Array.from(item.embedding);
      for (const [i, v] of vectors.entries()) {
        if (v === undefined) {
          throw new DreamAgentError('LLM_ERROR', `OpenAI returned no embedding for input #${start + i}`, {
            retryable: true,
            details: details(),
          });
        }
        if (v.length !== this.dimensions) {
          throw new DreamAgentError(
            'LLM_ERROR',
            `"${this.model}" returned a vector of ${v.length} dimensions; ${this.dimensions} were expected`,
            { retryable: false, details: details({ expected: this.dimensions, received: v.length }) },
          );
        }
        out.push(v);
      }
    }
    return out;
  }
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
