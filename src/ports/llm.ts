/**
 * The LanguageModel port: the one interface every LLM-backed layer talks to, and every provider adapter
 * (`@dream-agent/openai`, `@dream-agent/anthropic`, the `ScriptedModel` of `dream-agent/testing`)
 * implements. Vendor types never cross it: messages, tools, structured output, results and stream chunks
 * are plain JSON-shaped values defined here.
 *
 * Also here: {@link UsageTracker} (token usage per call, per layer, per model) and
 * {@link withUsageTracking}, a wrapper that records every call a model makes.
 *
 * @packageDocumentation
 */
import { DreamAgentError, isDreamAgentError, type ErrorCode } from '../errors/index.js';
import type { Json, JsonObject } from '../model/json.js';

/** A system instruction. Adapters whose API has a separate system field (Anthropic) lift it out. */
export interface SystemMessage {
  /** Always `'system'`. */
  role: 'system';
  /** The instruction text. */
  content: string;
}

/** A message from the user. */
export interface UserMessage {
  /** Always `'user'`. */
  role: 'user';
  /** What the user wrote (plain text). */
  content: string;
}

/** A message from the model (text and/or tool calls), as returned earlier in the conversation. */
export interface AssistantMessage {
  /** Always `'assistant'`. */
  role: 'assistant';
  /** The text the model wrote; an empty string when it only called tools. */
  content: string;
  /** Tool calls the model made in that turn. */
  toolCalls?: ToolCall[];
}

/** The result of a tool call, sent back to the model. */
export interface ToolResultMessage {
  /** Always `'tool'`. */
  role: 'tool';
  /** The {@link ToolCall.id} this answers. */
  toolCallId: string;
  /** The result, usually JSON text. */
  content: string;
  /** Marks a failed call (Anthropic `is_error`; ignored where unsupported). */
  isError?: boolean;
}

/** One message of a conversation with a model. */
export type ChatMessage = SystemMessage | UserMessage | AssistantMessage | ToolResultMessage;

/** A tool the model may call: a name, a description and a JSON Schema for its arguments. */
export interface ToolSpec {
  /** `^[a-zA-Z0-9_-]{1,64}$` is safe for every provider (dots are not: map them, see the planner). */
  name: string;
  /** What the tool does and when to call it: the model reads this to choose it, so say what it returns. */
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: JsonObject;
}

/** A tool call made by the model. `arguments` is the raw JSON text, exactly as the model wrote it. */
export interface ToolCall {
  /** Provider-assigned call id (changes on every retry: never use it as an idempotency key). */
  id: string;
  /** The tool's name as the model saw it in {@link ToolSpec.name}; look the tool up by it. */
  name: string;
  /** The arguments as JSON text (may be invalid JSON when the model misbehaves). */
  arguments: string;
}

/** How the model may use tools. */
export type ToolChoice =
  | 'auto'
  | 'none'
  | 'required'
  | {
      /** The one tool the model must call ({@link ToolSpec.name}). */
      name: string;
    };

/** The output format requested: free text, or JSON matching a JSON Schema. */
export type ResponseFormat =
  | {
      /** Free text: no schema is sent to the provider. */
      type: 'text';
    }
  | {
      /**
       * JSON matching `schema`; not every provider enforces it, so `generateObject` validates and repairs.
       */
      type: 'json';
      /** JSON Schema of the expected value (an object schema works with every provider). */
      schema: JsonObject;
      /** A short identifier for the schema (`^[a-zA-Z0-9_-]{1,64}$`). */
      name?: string;
      /** What the value is for, passed to providers that accept a schema description. Unset: none. */
      description?: string;
    };

/** One request to a model. */
export interface GenerateRequest {
  /**
   * The conversation so far, oldest first. System messages may appear anywhere; adapters whose API takes one
   * system field join them.
   */
  messages: ChatMessage[];
  /** Tools the model may call. */
  tools?: ToolSpec[];
  /**
   * Whether the model may, must or must not call a tool. Unset: the provider's default (`auto` when `tools`
   * are given).
   */
  toolChoice?: ToolChoice;
  /** Ask for JSON matching a schema (see `generateObject` for validation and repair). */
  responseFormat?: ResponseFormat;
  /**
   * Sampling temperature, usually 0–2 (0 is the most deterministic). Unset: the provider's default. Adapters
   * pass it through unchanged.
   */
  temperature?: number;
  /** Upper bound on generated tokens. */
  maxTokens?: number;
  /** Sequences that end generation when the model writes them (not included in the text). Unset: none. */
  stop?: string[];
  /** Overrides the adapter's default model id for this call. */
  model?: string;
  /** Aborts the call; the adapter rejects with an `ABORTED` error. */
  signal?: AbortSignal;
  /** Which layer makes the call (`cognitive`, `planner`…): a label for usage accounting. */
  layer?: string;
  /**
   * Who the call is made for (session, turn, todo, tenant) and where its record goes. The LLM layers set
   * it from their context (see `llmScope`); provider adapters ignore it.
   */
  scope?: LlmCallScope;
}

/** What one settled LLM call reports: the payload of the `llm.call` event. */
export interface LlmCallRecord {
  /** Provider name of the model called (`openai`, `scripted`…). */
  provider: string;
  /** The model id that answered (the requested or default one when the call failed). */
  model: string;
  /** The layer that made the call (`unlabelled` when the request named none). */
  layer: string;
  /** The todo the call was made for, when inside one. */
  todoId?: string;
  /** The session's tenant, when it has one. */
  tenantId?: string;
  /** Tokens sent (as the provider reported them; 0 for a failed call). */
  inputTokens: number;
  /** Tokens generated (0 for a failed call). */
  outputTokens: number;
  /** From the call to its result (or failure), in ms. */
  latencyMs: number;
  /** `ok`, or the error code the call failed with. */
  outcome: 'ok' | ErrorCode;
  /** Why the model stopped (successful calls). */
  finishReason?: FinishReason;
  /** USD cost from the configured price table (absent when the model has no price). */
  costUsd?: number;
}

/** The attribution of an LLM call (see {@link GenerateRequest.scope}). */
export interface LlmCallScope {
  /** The session the call is made for. */
  sessionId: string;
  /** The turn the call is made for. */
  turnId: string;
  /** Set when the call is made inside a todo. */
  todoId?: string;
  /** The session's tenant: whose token budget the call is charged to. */
  tenantId?: string;
  /** Receives the call's record once it settled; the agent turns it into an `llm.call` event. */
  report?: (record: LlmCallRecord) => void;
}

/** Token counts of one or more calls. */
export interface TokenUsage {
  /** Tokens in the prompt: messages, tool specs and the response schema. */
  inputTokens: number;
  /** Tokens the model generated (text and tool-call arguments). */
  outputTokens: number;
  /** `inputTokens + outputTokens`. */
  totalTokens: number;
}

/** Why the model stopped. */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'other';

/** The outcome of one call. */
export interface GenerateResult {
  /** The text the model produced (all text parts concatenated; empty when it only called tools). */
  text: string;
  /** The tool calls the model made, in the order it made them; empty when it made none. */
  toolCalls: ToolCall[];
  /**
   * Why the model stopped: `tool_calls` when it wants tool results back, `length` when `maxTokens` cut it
   * off.
   */
  finishReason: FinishReason;
  /** Tokens this call consumed, as the provider reported them (the `ScriptedModel` estimates them). */
  usage: TokenUsage;
  /** The model id that answered (as the provider reports it). */
  model: string;
  /** Provider response id, when there is one. */
  id?: string;
}

/** One chunk of a streamed call. The last chunk is always `finish`, carrying the whole result. */
export type StreamChunk =
  | {
      /** A piece of the model's text. */
      type: 'text.delta';
      /** The new text, to append to what came before. */
      text: string;
    }
  | {
      /** The model began a tool call. */
      type: 'tool_call.start';
      /** The call's position among this response's tool calls (0-based); its deltas carry the same index. */
      index: number;
      /** The provider's call id ({@link ToolCall.id}). */
      id: string;
      /** The tool called ({@link ToolCall.name}). */
      name: string;
    }
  | {
      /** More of a tool call's arguments. */
      type: 'tool_call.delta';
      /** The call this belongs to (as in its `tool_call.start`). */
      index: number;
      /** The call's id (as in its `tool_call.start`). */
      id: string;
      /**
       * The next piece of the arguments' JSON text; concatenated, the pieces make {@link ToolCall.arguments}.
       */
      argumentsDelta: string;
    }
  | {
      /** The last chunk: the call completed. */
      type: 'finish';
      /** The whole result, as {@link LanguageModel.generate} would have returned it. */
      result: GenerateResult;
    };

/**
 * A language model. Implementations translate requests into their provider's API and every failure
 * into a {@link DreamAgentError}: `UNAUTHENTICATED`, `RATE_LIMITED` (with `details.retryAfterMs`),
 * `TIMEOUT`, `ABORTED` or `LLM_ERROR`, with `retryable` set as the provider's status implies.
 *
 * @example
 * ```ts
 * const result = await llm.generate({ messages: [{ role: 'user', content: 'Hello' }], maxTokens: 50 });
 * for await (const chunk of llm.stream({ messages })) if (chunk.type === 'text.delta') write(chunk.text);
 * ```
 */
export interface LanguageModel {
  /** Provider name (`openai`, `anthropic`, `scripted`…). */
  readonly provider: string;
  /** The default model id. */
  readonly model: string;
  /**
   * Runs one call to completion.
   *
   * @param request - messages, tools, format, limits, signal
   * @returns the text, tool calls, finish reason and usage
   * @throws DreamAgentError `LLM_ERROR`, `RATE_LIMITED`, `UNAUTHENTICATED`, `TIMEOUT`, `ABORTED`
   */
  generate(request: GenerateRequest): Promise<GenerateResult>;
  /**
   * Streams one call. Breaking out of the loop cancels the request.
   *
   * @param request - as for {@link LanguageModel.generate}
   * @returns deltas, then one final `finish` chunk
   * @throws DreamAgentError as {@link LanguageModel.generate}, also mid-stream
   */
  stream(request: GenerateRequest): AsyncIterable<StreamChunk>;
}

/** An all-zero {@link TokenUsage}. */
export const ZERO_USAGE: Readonly<TokenUsage> = Object.freeze({
  inputTokens: 0,
  outputTokens: 0,
  totalTokens: 0,
});

/**
 * Adds token usages.
 *
 * @param parts - usages to add
 * @returns their sum
 */
export function addUsage(...parts: readonly TokenUsage[]): TokenUsage {
  const sum = { inputTokens: 0, outputTokens: 0, totalTokens: 0 };
  for (const p of parts) {
    sum.inputTokens += p.inputTokens;
    sum.outputTokens += p.outputTokens;
    sum.totalTokens += p.totalTokens;
  }
  return sum;
}

/**
 * Drains a stream and returns its final result (the `finish` chunk).
 *
 * @param stream - a {@link LanguageModel.stream} result
 * @param onText - called with every text delta
 * @returns the final result
 * @throws DreamAgentError `LLM_ERROR` when the stream ends without a `finish` chunk
 */
export async function collectStream(
  stream: AsyncIterable<StreamChunk>,
  onText?: (text: string) => void,
): Promise<GenerateResult> {
  let result: GenerateResult | undefined;
  for await (const chunk of stream) {
    if (chunk.type === 'text.delta') onText?.(chunk.text);
    else if (chunk.type === 'finish') result = chunk.result;
  }
  if (result === undefined) {
    throw new DreamAgentError('LLM_ERROR', 'the model stream ended without a final result', {
      retryable: true,
    });
  }
  return result;
}

/**
 * Parses the arguments of a tool call as a JSON object.
 *
 * @param call - the tool call
 * @returns the arguments object
 * @throws DreamAgentError `LLM_INVALID_OUTPUT` when they are not a JSON object (details keep the raw text)
 */
export function parseToolArguments(call: ToolCall): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(call.arguments === '' ? '{}' : call.arguments);
  } catch (cause) {
    throw new DreamAgentError(
      'LLM_INVALID_OUTPUT',
      `the arguments of tool call "${call.name}" are not valid JSON`,
      {
        cause,
        retryable: false,
        details: { tool: call.name, raw: call.arguments },
      },
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DreamAgentError(
      'LLM_INVALID_OUTPUT',
      `the arguments of tool call "${call.name}" are not a JSON object`,
      {
        retryable: false,
        details: { tool: call.name, raw: call.arguments },
      },
    );
  }
  return value as JsonObject;
}

/** One recorded call. */
export interface UsageRecord {
  /** Provider name of the model that answered ({@link LanguageModel.provider}). */
  provider: string;
  /** The model id that answered, as the provider reported it. */
  model: string;
  /** The layer that made the call (`unlabelled` when the request carried none). */
  layer: string;
  /** Tokens the call consumed. */
  usage: TokenUsage;
  /** Epoch ms when the call finished. */
  at: number;
}

/** Options of a {@link UsageTracker}. */
export interface UsageTrackerOptions {
  /** How many per-call records to keep (oldest dropped first; totals keep counting). Default 1000. */
  maxRecords?: number;
  /** Clock for `at` (default `Date.now`). */
  now?: () => number;
}

/**
 * Accumulates token usage per call, per layer and per model. Memory is bounded: totals are counters,
 * and only the last `maxRecords` calls are kept.
 *
 * @example
 * ```ts
 * const usage = new UsageTracker();
 * const llm = withUsageTracking(openai, usage);
 * // … run the agent with `llm` …
 * usage.byLayer(); // { cognitive: { inputTokens, … }, planner: { … }, … }
 * ```
 */
export class UsageTracker {
  readonly #records: UsageRecord[] = [];
  readonly #byLayer = new Map<string, TokenUsage>();
  readonly #byModel = new Map<string, TokenUsage>();
  #total: TokenUsage = { ...ZERO_USAGE };
  #calls = 0;
  readonly #max: number;
  readonly #now: () => number;
  readonly #listeners = new Set<(record: UsageRecord) => void>();

  /** @param options - record bound and clock */
  constructor(options: UsageTrackerOptions = {}) {
    const max = options.maxRecords ?? 1000;
    if (!Number.isInteger(max) || max < 0) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `maxRecords must be a non-negative integer, got ${String(max)}`,
      );
    }
    this.#max = max;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Records one call.
   *
   * @param entry - provider, model, layer and usage of the call
   * @returns the stored record
   */
  record(entry: {
    provider: string;
    model: string;
    layer?: string | undefined;
    usage: TokenUsage;
  }): UsageRecord {
    const record: UsageRecord = {
      provider: entry.provider,
      model: entry.model,
      layer: entry.layer ?? 'unlabelled',
      usage: { ...entry.usage },
      at: this.#now(),
    };
    this.#calls += 1;
    this.#total = addUsage(this.#total, record.usage);
    this.#byLayer.set(record.layer, addUsage(this.#byLayer.get(record.layer) ?? ZERO_USAGE, record.usage));
    const modelKey = `${record.provider}:${record.model}`;
    this.#byModel.set(modelKey, addUsage(this.#byModel.get(modelKey) ?? ZERO_USAGE, record.usage));
    if (this.#max > 0) {
      this.#records.push(record);
      if (this.#records.length > this.#max) this.#records.shift();
    }
    for (const listener of this.#listeners) listener(record);
    return record;
  }

  /** @returns the number of calls recorded since creation (or the last reset) */
  get calls(): number {
    return this.#calls;
  }

  /** @returns the last recorded calls, oldest first (at most `maxRecords`) */
  records(): UsageRecord[] {
    return this.#records.map((r) => ({ ...r, usage: { ...r.usage } }));
  }

  /** @returns the sum over every call */
  total(): TokenUsage {
    return { ...this.#total };
  }

  /** @returns sums keyed by layer */
  byLayer(): Record<string, TokenUsage> {
    return Object.fromEntries([...this.#byLayer].map(([k, v]) => [k, { ...v }]));
  }

  /** @returns sums keyed by `provider:model` */
  byModel(): Record<string, TokenUsage> {
    return Object.fromEntries([...this.#byModel].map(([k, v]) => [k, { ...v }]));
  }

  /**
   * Subscribes to new records (for metrics exporters).
   *
   * @param listener - called after each record
   * @returns an unsubscribe function
   */
  onRecord(listener: (record: UsageRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Clears records and totals. */
  reset(): void {
    this.#records.length = 0;
    this.#byLayer.clear();
    this.#byModel.clear();
    this.#total = { ...ZERO_USAGE };
    this.#calls = 0;
  }
}

/**
 * Wraps a model so that every completed call (generate, or a stream that reached its `finish` chunk) is
 * recorded in `tracker`, labelled with `request.layer` (or `defaultLayer`).
 *
 * @param model - the model to wrap
 * @param tracker - where usage goes
 * @param defaultLayer - the label for requests that carry no `layer`
 * @returns a model with the same provider and model id
 */
export function withUsageTracking(
  model: LanguageModel,
  tracker: UsageTracker,
  defaultLayer?: string,
): LanguageModel {
  const label = (request: GenerateRequest): string | undefined => request.layer ?? defaultLayer;
  return {
    provider: model.provider,
    model: model.model,
    async generate(request) {
      const result = await model.generate(request);
      tracker.record({
        provider: model.provider,
        model: result.model,
        layer: label(request),
        usage: result.usage,
      });
      return result;
    },
    async *stream(request) {
      for await (const chunk of model.stream(request)) {
        if (chunk.type === 'finish') {
          tracker.record({
            provider: model.provider,
            model: chunk.result.model,
            layer: label(request),
            usage: chunk.result.usage,
          });
        }
        yield chunk;
      }
    },
  };
}

/**
 * Converts anything a model call threw into a {@link DreamAgentError}: dream-agent errors pass through,
 * an aborted signal becomes `ABORTED`, anything else `LLM_ERROR` (retryable).
 *
 * @param error - the thrown value
 * @param signal - the call's signal, to recognise aborts
 * @returns a dream-agent error
 */
export function toLlmError(error: unknown, signal?: AbortSignal): DreamAgentError {
  if (isDreamAgentError(error)) return error;
  if (signal?.aborted) {
    return new DreamAgentError('ABORTED', 'the model call was aborted', { cause: error, retryable: false });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new DreamAgentError('LLM_ERROR', `the model call failed: ${message}`, {
    cause: error,
    retryable: true,
  });
}

/**
 * Estimates the number of tokens of a text the way BPE tokenizers (OpenAI's o200k/cl100k, Anthropic's)
 * split it, without shipping a vocabulary: runs of letters cost about one token per five characters,
 * digits one per three (tokenizers group at most three digits), punctuation one per two characters,
 * spaces nothing (they merge into the next word), line breaks one per run, and every other character
 * (CJK, emoji, accents) one. It errs on the high side for English and JSON, which is the safe side for
 * a budget. Used for every prompt budget, so the core stays independent of one vendor's tokenizer.
 *
 * @param text - any text or JSON value (serialised compactly)
 * @returns an estimate, at least 1 for a non-empty text
 */
export function estimateTokens(text: string | Json): number {
  const s = typeof text === 'string' ? text : JSON.stringify(text);
  let tokens = 0;
  let run = 0;
  // 0 none, 1 letters, 2 digits, 3 punctuation, 4 line breaks
  let kind = 0;
  const flush = (): void => {
    if (kind === 1) tokens += Math.ceil(run / 5);
    else if (kind === 2) tokens += Math.ceil(run / 3);
    else if (kind === 3) tokens += Math.ceil(run / 2);
    else if (kind === 4) tokens += 1;
    run = 0;
  };
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let k: number;
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90)) k = 1;
    else if (c >= 48 && c <= 57) k = 2;
    else if (c === 32 || c === 9) k = 0;
    else if (c === 10 || c === 13) k = 4;
    else if (c < 128) k = 3;
    else {
      flush();
      kind = 0;
      // A surrogate pair is one character.
      if (c >= 0xd800 && c <= 0xdbff) i += 1;
      tokens += 1;
      continue;
    }
    if (k !== kind) {
      flush();
      kind = k;
    }
    run += 1;
  }
  flush();
  return tokens;
}

/**
 * Reads a provider's Retry-After hint (`retry-after-ms`, or `retry-after` in seconds or as an HTTP
 * date). Shared by the LLM adapters so every provider honours it the same way.
 *
 * @param headers - response headers
 * @param now - the current time (for HTTP dates)
 * @returns milliseconds to wait, or undefined when there is no usable hint
 */
export function parseRetryAfter(headers: Headers | undefined, now: number = Date.now()): number | undefined {
  if (headers === undefined) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
