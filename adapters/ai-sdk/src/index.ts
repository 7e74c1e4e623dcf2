/**
 * `@dream-agent/ai-sdk`: any Vercel AI SDK provider model — Gemini, Bedrock, Mistral, Groq, Ollama,
 * OpenAI-compatible servers and the dozens of other `@ai-sdk/*` provider packages — as a dream-agent
 * {@link LanguageModel}, and any AI SDK embedding model as an {@link Embedder}.
 *
 * It talks to the provider specification (`LanguageModelV3` / `EmbeddingModelV3` of `@ai-sdk/provider`
 * 3.x, the one AI SDK 6 providers implement) directly, not through `generateText`: the agent has its own
 * retries, timeouts and structured-output repair, so the adapter is a thin, typed translation.
 *
 * @packageDocumentation
 */
import type {
  EmbeddingModelV3,
  LanguageModelV3,
  LanguageModelV3CallOptions,
  LanguageModelV3FinishReason,
  LanguageModelV3Message,
  LanguageModelV3StreamPart,
  LanguageModelV3Usage,
} from '@ai-sdk/provider';
import { DreamAgentError, isDreamAgentError } from 'dream-agent';
import { mapErrorSafely, parseRetryAfter } from 'dream-agent/adapter-kit';
import type {
  ChatMessage,
  Embedder,
  FinishReason,
  GenerateRequest,
  GenerateResult,
  LanguageModel,
  StreamChunk,
  TokenUsage,
  ToolCall,
} from 'dream-agent';

/** Options of {@link AiSdkModel}. */
export interface AiSdkModelOptions {
  /** Provider options passed on every call (`providerOptions` of the AI SDK, keyed by provider). */
  providerOptions?: LanguageModelV3CallOptions['providerOptions'];
  /** Extra HTTP headers sent on every call. */
  headers?: Record<string, string>;
}

/**
 * A {@link LanguageModel} on an AI SDK provider model (specification v3, AI SDK 6).
 *
 * Mapping: messages → the v3 prompt (tool results carry the tool name of the call they answer), `tools`
 * → function tools, `toolChoice`, `responseFormat` → `{ type: 'json', schema }`, `maxTokens` →
 * `maxOutputTokens`, `stop` → `stopSequences`, `signal` → `abortSignal`. Streams map `text-delta` to
 * `text.delta` and `tool-input-*` / `tool-call` parts to `tool_call.*` chunks, then one `finish` chunk.
 * `request.model` cannot change an AI SDK model's id and is ignored.
 *
 * Errors (by shape, so any copy of the AI SDK maps the same): 401/403 and a missing API key →
 * `UNAUTHENTICATED`; 429 → `RATE_LIMITED` (`details.retryAfterMs` from Retry-After); 408/409/5xx,
 * connection failures, unparsable responses, an `error` stream part and a stream that ends without
 * `finish` → `LLM_ERROR` (retryable); other 4xx, an unknown model → `LLM_ERROR` (not retryable); a
 * timeout → `TIMEOUT`; an aborted signal → `ABORTED`.
 *
 * @example
 * ```ts
 * import { google } from '@ai-sdk/google';
 * import { AiSdkModel } from '@dream-agent/ai-sdk';
 * const llm = new AiSdkModel(google('gemini-2.5-flash'));
 * new Agent({ tools, llm });
 * ```
 */
export class AiSdkModel implements LanguageModel {
  /** The AI SDK provider id (e.g. `google.generative-ai`, `openai.chat`). */
  readonly provider: string;
  /** The model id. */
  readonly model: string;
  /** The wrapped AI SDK model. */
  readonly inner: LanguageModelV3;
  readonly #options: AiSdkModelOptions;

  /**
   * @param model - an AI SDK 6 provider model (`specificationVersion: 'v3'`)
   * @param options - provider options and headers for every call
   * @throws DreamAgentError `INVALID_INPUT` for anything that is not a v3 language model (a model id
   *   string, an AI SDK 5 `v2` model)
   */
  constructor(model: LanguageModelV3, options: AiSdkModelOptions = {}) {
    const spec = (model as { specificationVersion?: unknown } | null)?.specificationVersion;
    if (
      typeof model !== 'object' ||
      model === null ||
      spec !== 'v3' ||
      typeof model.doGenerate !== 'function'
    ) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `AiSdkModel needs an AI SDK 6 provider model (specificationVersion "v3"), got ${
          typeof model === 'object' && model !== null
            ? `specificationVersion ${JSON.stringify(spec)}`
            : typeof model
        }`,
        { retryable: false },
      );
    }
    this.inner = model;
    this.provider = model.provider;
    this.model = model.modelId;
    this.#options = options;
  }

  /** {@inheritDoc src!LanguageModel.generate} */
  async generate(request: GenerateRequest): Promise<GenerateResult> {
    throwIfAborted(request.signal);
    try {
      const result = await this.inner.doGenerate(this.#callOptions(request));
      let text = '';
      const toolCalls: ToolCall[] = [];
      for (const part of result.content) {
        if (part.type === 'text') text += part.text;
        else if (part.type === 'tool-call' && part.providerExecuted !== true) {
          toolCalls.push({ id: part.toolCallId, name: part.toolName, arguments: jsonText(part.input) });
        }
      }
      return {
        text,
        toolCalls,
        finishReason: mapFinish(result.finishReason, toolCalls.length),
        usage: mapUsage(result.usage),
        model: result.response?.modelId ?? this.model,
        ...(result.response?.id === undefined ? {} : { id: result.response.id }),
      };
    } catch (error) {
      throw mapAiSdkError(error, request.signal);
    }
  }

  /** {@inheritDoc src!LanguageModel.stream} */
  async *stream(request: GenerateRequest): AsyncIterable<StreamChunk> {
    throwIfAborted(request.signal);
    let reader: ReadableStreamDefaultReader<LanguageModelV3StreamPart>;
    try {
      const { stream } = await this.inner.doStream(this.#callOptions(request));
      reader = stream.getReader();
    } catch (error) {
      throw mapAiSdkError(error, request.signal);
    }
    let text = '';
    const calls = new Map<string, { index: number; name: string; arguments: string; done: boolean }>();
    let finish: { reason: LanguageModelV3FinishReason; usage: LanguageModelV3Usage } | undefined;
    let model = this.model;
    let id: string | undefined;
    let finished = false;
    try {
      for (;;) {
        let step: ReadableStreamReadResult<LanguageModelV3StreamPart>;
        try {
          step = await reader.read();
        } catch (error) {
          throw mapAiSdkError(error, request.signal);
        }
        if (step.done) break;
        const part = step.value;
        switch (part.type) {
          case 'text-delta':
            // A provider bug (a non-string delta) must not put "[object Object]" in the answer.
            if (typeof part.delta === 'string' && part.delta !== '') {
              text += part.delta;
              yield { type: 'text.delta', text: part.delta };
            }
            break;
          case 'tool-input-start': {
            if (part.providerExecuted === true) break;
            const call = { index: calls.size, name: part.toolName, arguments: '', done: false };
            calls.set(part.id, call);
            yield { type: 'tool_call.start', index: call.index, id: part.id, name: part.toolName };
            break;
          }
          case 'tool-input-delta': {
            const call = calls.get(part.id);
            if (call === undefined || typeof part.delta !== 'string' || part.delta === '') break;
            call.arguments += part.delta;
            yield { type: 'tool_call.delta', index: call.index, id: part.id, argumentsDelta: part.delta };
            break;
          }
          case 'tool-call': {
            if (part.providerExecuted === true) break;
            const known = calls.get(part.toolCallId);
            if (known === undefined) {
              // Providers that do not stream tool input send the whole call at once.
              const call = {
                index: calls.size,
                name: part.toolName,
                arguments: jsonText(part.input),
                done: true,
              };
              calls.set(part.toolCallId, call);
              yield { type: 'tool_call.start', index: call.index, id: part.toolCallId, name: part.toolName };
              if (call.arguments !== '') {
                yield {
                  type: 'tool_call.delta',
                  index: call.index,
                  id: part.toolCallId,
                  argumentsDelta: call.arguments,
                };
              }
            } else {
              // The assembled call is authoritative (the deltas may have been partial).
              known.arguments = jsonText(part.input);
              known.name = part.toolName;
              known.done = true;
            }
            break;
          }
          case 'response-metadata':
            if (part.modelId !== undefined) model = part.modelId;
            if (part.id !== undefined) id = part.id;
            break;
          case 'finish':
            finish = { reason: part.finishReason, usage: part.usage };
            break;
          case 'error':
            throw mapAiSdkError(part.error, request.signal, true);
          default:
            break; // reasoning, sources, files, raw chunks: not part of the port
        }
      }
      throwIfAborted(request.signal);
      if (finish === undefined) {
        throw new DreamAgentError(
          'LLM_ERROR',
          `the ${this.provider} stream ended before the model finished`,
          {
            retryable: true,
            details: details(this.provider, { receivedChars: text.length }),
          },
        );
      }
      const toolCalls = [...calls.entries()]
        .sort((a, b) => a[1].index - b[1].index)
        .map(([callId, c]) => ({ id: callId, name: c.name, arguments: c.arguments }));
      finished = true;
      yield {
        type: 'finish',
        result: {
          text,
          toolCalls,
          finishReason: mapFinish(finish.reason, toolCalls.length),
          usage: mapUsage(finish.usage),
          model,
          ...(id === undefined ? {} : { id }),
        },
      };
    } finally {
      // A consumer that stops early (or an error) cancels the provider stream and its request.
      if (!finished) void reader.cancel().catch(() => undefined);
      reader.releaseLock();
    }
  }

  #callOptions(request: GenerateRequest): LanguageModelV3CallOptions {
    const options: LanguageModelV3CallOptions = { prompt: toAiSdkPrompt(request.messages) };
    if (request.maxTokens !== undefined) options.maxOutputTokens = request.maxTokens;
    if (request.temperature !== undefined) options.temperature = request.temperature;
    if (request.stop !== undefined && request.stop.length > 0) options.stopSequences = request.stop;
    if (request.signal !== undefined) options.abortSignal = request.signal;
    if (request.tools !== undefined && request.tools.length > 0) {
      options.tools = request.tools.map((t) => ({
        type: 'function' as const,
        name: t.name,
        description: t.description,
        inputSchema: t.parameters as never,
      }));
      if (request.toolChoice !== undefined) {
        options.toolChoice =
          typeof request.toolChoice === 'string'
            ? { type: request.toolChoice }
            : { type: 'tool', toolName: request.toolChoice.name };
      }
    }
    const format = request.responseFormat;
    if (format?.type === 'json') {
      options.responseFormat = {
        type: 'json',
        schema: format.schema as never,
        ...(format.name === undefined ? {} : { name: format.name }),
        ...(format.description === undefined ? {} : { description: format.description }),
      };
    }
    if (this.#options.providerOptions !== undefined) options.providerOptions = this.#options.providerOptions;
    if (this.#options.headers !== undefined) options.headers = this.#options.headers;
    return options;
  }
}

/**
 * Maps dream-agent messages to an AI SDK v3 prompt. A tool result carries the name of the tool call it
 * answers (looked up in the earlier assistant messages); arguments that are not valid JSON are passed
 * as the raw string.
 *
 * @param messages - the conversation
 * @returns the v3 prompt
 */
export function toAiSdkPrompt(messages: readonly ChatMessage[]): LanguageModelV3Message[] {
  const names = new Map<string, string>();
  const out: LanguageModelV3Message[] = [];
  for (const m of messages) {
    switch (m.role) {
      case 'system':
        out.push({ role: 'system', content: m.content });
        break;
      case 'user':
        out.push({ role: 'user', content: [{ type: 'text', text: m.content }] });
        break;
      case 'assistant': {
        const content: Extract<LanguageModelV3Message, { role: 'assistant' }>['content'] = [];
        if (m.content !== '') content.push({ type: 'text', text: m.content });
        for (const c of m.toolCalls ?? []) {
          names.set(c.id, c.name);
          content.push({
            type: 'tool-call',
            toolCallId: c.id,
            toolName: c.name,
            input: parseOrRaw(c.arguments),
          });
        }
        out.push({ role: 'assistant', content });
        break;
      }
      case 'tool': {
        const part = {
          type: 'tool-result' as const,
          toolCallId: m.toolCallId,
          toolName: names.get(m.toolCallId) ?? 'unknown',
          output:
            m.isError === true
              ? { type: 'error-text' as const, value: m.content }
              : { type: 'text' as const, value: m.content },
        };
        const last = out.at(-1);
        // Consecutive results of one assistant turn go in one tool message, as providers expect.
        if (last?.role === 'tool') last.content.push(part);
        else out.push({ role: 'tool', content: [part] });
        break;
      }
    }
  }
  return out;
}

/**
 * Tool-call input as the port carries it (JSON text): the v3 spec says `input` is a string, but some
 * providers hand over the parsed object.
 */
function jsonText(input: unknown): string {
  if (typeof input === 'string') return input;
  try {
    return JSON.stringify(input) ?? '';
  } catch {
    return '';
  }
}

function parseOrRaw(text: string): unknown {
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function mapFinish(
  reason: LanguageModelV3FinishReason | string | undefined,
  toolCalls: number,
): FinishReason {
  // Older providers of the v3 line sent a bare string; newer ones { unified, raw }.
  const unified = typeof reason === 'string' ? reason : reason?.unified;
  switch (unified) {
    case 'stop':
      return toolCalls > 0 ? 'tool_calls' : 'stop';
    case 'length':
      return 'length';
    case 'content-filter':
      return 'content_filter';
    case 'tool-calls':
      return 'tool_calls';
    default:
      return 'other';
  }
}

function mapUsage(usage: LanguageModelV3Usage | undefined): TokenUsage {
  const raw = usage as unknown as Record<string, unknown> | undefined;
  // { inputTokens: { total } } in v3; plain numbers in early v3 builds and v2.
  // A count is a non-negative integer whatever the provider sent (negative, NaN, Infinity, strings → 0).
  const count = (n: unknown): number =>
    typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.round(n) : 0;
  const read = (v: unknown): number =>
    typeof v === 'object' && v !== null ? count((v as { total?: unknown }).total) : count(v);
  const inputTokens = read(raw?.['inputTokens']);
  const outputTokens = read(raw?.['outputTokens']);
  return { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
}

function details(provider: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { provider, ...extra };
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new DreamAgentError('ABORTED', 'the model call was aborted', {
      cause: signal.reason,
      retryable: false,
    });
  }
}

function nameOf(error: unknown): string {
  if (typeof error !== 'object' || error === null) return '';
  const name = (error as { name?: unknown }).name;
  return typeof name === 'string' ? name : '';
}

/**
 * Translates anything an AI SDK provider threw (or sent as an `error` stream part) into a
 * `DreamAgentError` (see {@link AiSdkModel} for the table). Checks by shape — `statusCode`,
 * `responseHeaders`, `isRetryable`, the `AI_*` error names — so errors from any copy of the AI SDK map.
 *
 * @param error - the thrown value
 * @param signal - the call's signal (an aborted signal means `ABORTED`)
 * @param inStream - true for an `error` part of a stream (retryable unless its status says otherwise)
 * @returns the mapped error
 */
export function mapAiSdkError(error: unknown, signal?: AbortSignal, inStream = false): DreamAgentError {
  return mapErrorSafely(error, signal, (e, s) => mapOrThrow(e, s, inStream), 'the model call');
}

function mapOrThrow(error: unknown, signal: AbortSignal | undefined, inStream: boolean): DreamAgentError {
  if (isDreamAgentError(error)) return error;
  const name = nameOf(error);
  const message = describe(error);
  if (signal?.aborted || name === 'AbortError') {
    return new DreamAgentError('ABORTED', 'the model call was aborted', { cause: error, retryable: false });
  }
  if (name === 'TimeoutError') {
    return new DreamAgentError('TIMEOUT', `the model request timed out: ${message}`, {
      cause: error,
      retryable: true,
    });
  }
  if (name === 'AI_LoadAPIKeyError') {
    return new DreamAgentError('UNAUTHENTICATED', message, { cause: error, retryable: false });
  }
  if (name === 'AI_NoSuchModelError' || name === 'AI_UnsupportedFunctionalityError') {
    return new DreamAgentError('LLM_ERROR', message, { cause: error, retryable: false });
  }
  const e = (typeof error === 'object' && error !== null ? error : {}) as {
    statusCode?: unknown;
    responseHeaders?: unknown;
    isRetryable?: unknown;
  };
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const base = {
    status: status ?? null,
    errorName: name === '' ? null : name,
  };
  if (status === 401 || status === 403) {
    return new DreamAgentError(
      'UNAUTHENTICATED',
      `the provider rejected the credentials (${status}): ${message}`,
      {
        cause: error,
        retryable: false,
        details: base,
      },
    );
  }
  if (status === 429) {
    const after = parseRetryAfter(headersOf(e.responseHeaders));
    return new DreamAgentError('RATE_LIMITED', `rate limited: ${message}`, {
      cause: error,
      retryable: true,
      details: after === undefined ? base : { ...base, retryAfterMs: after },
    });
  }
  if (status !== undefined) {
    const retryable = status === 408 || status === 409 || status >= 500;
    return new DreamAgentError('LLM_ERROR', `the provider request failed (${status}): ${message}`, {
      cause: error,
      retryable,
      details: base,
    });
  }
  const retryable = typeof e.isRetryable === 'boolean' ? e.isRetryable || inStream : true;
  return new DreamAgentError('LLM_ERROR', `the model call failed: ${message}`, {
    cause: error,
    retryable,
    details: base,
  });
}

/** The message of anything thrown, without assuming it serialises (circular, BigInt, Symbol…). */
function describe(error: unknown): string {
  if (error instanceof Error) return typeof error.message === 'string' ? error.message : '';
  if (typeof error === 'string') return error;
  if (typeof error === 'object' && error !== null) {
    const m = (error as { message?: unknown }).message;
    if (typeof m === 'string') return m;
    try {
      return JSON.stringify(error) ?? Object.prototype.toString.call(error);
    } catch {
      return Object.prototype.toString.call(error);
    }
  }
  return String(error);
}

/** Response headers as a `Headers`, skipping entries that are not valid header names or values. */
function headersOf(raw: unknown): Headers | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const headers = new Headers();
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof value !== 'string') continue;
    try {
      headers.append(key, value);
    } catch {
      // An invalid name or value (a provider's or a proxy's bug): not a header we can read.
    }
  }
  return headers;
}

/** Options of {@link AiSdkEmbedder}. */
export interface AiSdkEmbedderOptions {
  /** The vector length the model returns (checked on every vector). */
  dimensions: number;
  /** Texts per call (default: the model's `maxEmbeddingsPerCall`, else 256). */
  batchSize?: number;
  providerOptions?: Parameters<EmbeddingModelV3['doEmbed']>[0]['providerOptions'];
}

/**
 * An {@link Embedder} on an AI SDK embedding model (specification v3): batches by the model's
 * `maxEmbeddingsPerCall`, returns vectors in input order, and checks each has `dimensions` entries.
 *
 * @example
 * ```ts
 * import { mistral } from '@ai-sdk/mistral';
 * const embedder = new AiSdkEmbedder(mistral.embedding('mistral-embed'), { dimensions: 1024 });
 * ```
 */
export class AiSdkEmbedder implements Embedder {
  /** The length of every vector. */
  readonly dimensions: number;
  /** The wrapped model. */
  readonly inner: EmbeddingModelV3;
  readonly #options: AiSdkEmbedderOptions;

  /**
   * @param model - an AI SDK 6 embedding model
   * @param options - dimensions, batch size
   * @throws DreamAgentError `INVALID_INPUT` for a non-v3 model or bad dimensions / batch size
   */
  constructor(model: EmbeddingModelV3, options: AiSdkEmbedderOptions) {
    if ((model as { specificationVersion?: unknown } | null)?.specificationVersion !== 'v3') {
      throw new DreamAgentError(
        'INVALID_INPUT',
        'AiSdkEmbedder needs an AI SDK 6 embedding model (specificationVersion "v3")',
      );
    }
    if (!Number.isInteger(options.dimensions) || options.dimensions < 1) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `dimensions must be a positive integer, got ${String(options.dimensions)}`,
      );
    }
    if (options.batchSize !== undefined && (!Number.isInteger(options.batchSize) || options.batchSize < 1)) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `batchSize must be a positive integer, got ${String(options.batchSize)}`,
      );
    }
    this.inner = model;
    this.dimensions = options.dimensions;
    this.#options = options;
  }

  /**
   * Embeds texts.
   *
   * @param texts - the texts (an empty list makes no call)
   * @param options - an abort signal
   * @returns one vector per text, in order
   * @throws DreamAgentError as {@link mapAiSdkError}; `LLM_ERROR` when a vector is missing (retryable) or
   *   has the wrong length (not retryable)
   */
  async embed(texts: readonly string[], options: { signal?: AbortSignal } = {}): Promise<number[][]> {
    const limit = await this.inner.maxEmbeddingsPerCall;
    const size = this.#options.batchSize ?? limit ?? 256;
    const out: number[][] = [];
    for (let start = 0; start < texts.length; start += size) {
      throwIfAborted(options.signal);
      const batch = texts.slice(start, start + size);
      let vectors: number[][];
      try {
        const result = await this.inner.doEmbed({
          values: [...batch],
          ...(options.signal === undefined ? {} : { abortSignal: options.signal }),
          ...(this.#options.providerOptions === undefined
            ? {}
            : { providerOptions: this.#options.providerOptions }),
        });
        vectors = result.embeddings;
      } catch (error) {
        throw mapAiSdkError(error, options.signal);
      }
      for (let i = 0; i < batch.length; i++) {
        const v = vectors[i];
        if (v === undefined) {
          throw new DreamAgentError(
            'LLM_ERROR',
            `the embedding model returned no vector for input #${start + i}`,
            {
              retryable: true,
            },
          );
        }
        if (v.length !== this.dimensions) {
          throw new DreamAgentError(
            'LLM_ERROR',
            `"${this.inner.modelId}" returned a vector of ${v.length} dimensions; ${this.dimensions} were expected`,
            { retryable: false, details: { expected: this.dimensions, received: v.length } },
          );
        }
        out.push(Array.from(v));
      }
    }
    return out;
  }
}
