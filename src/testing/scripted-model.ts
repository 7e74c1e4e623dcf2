/**
 * A scripted {@link LanguageModel} for unit tests of LLM-backed layers: each call consumes the next
 * scripted turn (text, JSON, tool calls, deltas, errors, latency), and every request is recorded so a
 * test can assert what the layer asked.
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../errors/index.js';
import type { Json } from '../model/json.js';
import type {
  FinishReason,
  GenerateRequest,
  GenerateResult,
  LanguageModel,
  StreamChunk,
  TokenUsage,
  ToolCall,
} from '../ports/llm.js';
import { estimateTokens } from '../ports/llm.js';

/** A scripted tool call; `arguments` may be a JSON value (serialised) or raw text (sent as is). */
export interface ScriptedToolCall {
  /** The call id (default: generated). */
  id?: string;
  /** The tool name. */
  name: string;
  /** The arguments: a JSON value (serialised) or raw text (sent as is, even if invalid JSON). */
  arguments: Json | string;
}

/** One scripted answer. */
export interface ScriptedReply {
  /** The answer text. */
  text?: string;
  /** Shorthand for `text: JSON.stringify(json)`. */
  json?: Json;
  /** Tool calls the model makes. */
  toolCalls?: ScriptedToolCall[];
  /** How `stream` splits the text (default: words). Joined, they must equal the text. */
  deltas?: string[];
  /** Why the answer ended (default: `tool_calls` when there are tool calls, else `stop`). */
  finishReason?: FinishReason;
  /** Reported usage (default: estimated from the request and the answer). */
  usage?: Partial<TokenUsage>;
  /** Milliseconds before the answer (or the first delta) arrives. */
  latencyMs?: number;
  /** Milliseconds between stream deltas. */
  deltaDelayMs?: number;
  /** When streaming, throw this error after emitting this many deltas (a stream cut mid-way). */
  failAfterDeltas?: {
    /** Deltas emitted before the failure. */
    count: number;
    /** What the stream throws. */
    error: Error;
  };
}

/** A scripted failure: the call rejects with `error` (after `latencyMs`). */
export interface ScriptedFailure {
  /** What the call rejects with. */
  error: Error;
  /** Milliseconds before it rejects. */
  latencyMs?: number;
}

/** A scripted turn: a reply, a failure, or a function of the request returning either. */
export type ScriptedTurn =
  | ScriptedReply
  | ScriptedFailure
  | ((
      request: GenerateRequest,
      index: number,
    ) => ScriptedReply | ScriptedFailure | Promise<ScriptedReply | ScriptedFailure>);

/** Options of a {@link ScriptedModel}. */
export interface ScriptedModelOptions {
  /** The turns, consumed in order, one per call. */
  turns?: ScriptedTurn[];
  /** What happens when the turns run out: throw `INTERNAL` (default) or repeat the last turn. */
  whenExhausted?: 'throw' | 'repeat-last';
  /** Model id reported in results and usage (default `scripted-1`). */
  model?: string;
  /** Provider name reported in results and usage (default `scripted`). */
  provider?: string;
}

/**
 * A scripted language model.
 *
 * @example
 * ```ts
 * const llm = new ScriptedModel({ turns: [{ json: { intent: 'sales.report', confidence: 0.9 } }, { text: 'Done.' }] });
 * const cognitive = new LlmCognitive({ model: llm, intents });
 * await cognitive.understand('sales please', ctx);
 * expect(llm.requests[0]?.layer).toBe('cognitive');
 * ```
 */
export class ScriptedModel implements LanguageModel {
  /** Provider name reported in results and usage. */
  readonly provider: string;
  /** Model id reported in results and usage. */
  readonly model: string;
  /** Every request received, in order. */
  readonly requests: GenerateRequest[] = [];
  readonly #turns: ScriptedTurn[];
  readonly #whenExhausted: 'throw' | 'repeat-last';
  #last: ScriptedTurn | undefined;
  #calls = 0;

  /** @param options - turns, exhaustion behaviour, names */
  constructor(options: ScriptedModelOptions = {}) {
    this.#turns = [...(options.turns ?? [])];
    this.#whenExhausted = options.whenExhausted ?? 'throw';
    this.model = options.model ?? 'scripted-1';
    this.provider = options.provider ?? 'scripted';
  }

  /**
   * Appends turns to the script.
   *
   * @param turns - more turns
   * @returns this model
   */
  push(...turns: ScriptedTurn[]): this {
    this.#turns.push(...turns);
    return this;
  }

  /** @returns how many scripted turns are left */
  get remaining(): number {
    return this.#turns.length;
  }

  /** @returns how many calls were made */
  get calls(): number {
    return this.#calls;
  }

  /** {@inheritDoc src!LanguageModel.generate} */
  async generate(request: GenerateRequest): Promise<GenerateResult> {
    const reply = await this.#next(request);
    await sleep(reply.latencyMs ?? 0, request.signal);
    return this.#result(reply, request);
  }

  /** {@inheritDoc src!LanguageModel.stream} */
  async *stream(request: GenerateRequest): AsyncIterable<StreamChunk> {
    const reply = await this.#next(request);
    await sleep(reply.latencyMs ?? 0, request.signal);
    const result = this.#result(reply, request);
    const deltas = reply.deltas ?? splitWords(result.text);
    let emitted = 0;
    for (const text of deltas) {
      if (reply.failAfterDeltas !== undefined && emitted >= reply.failAfterDeltas.count) {
        throw reply.failAfterDeltas.error;
      }
      if (emitted > 0) await sleep(reply.deltaDelayMs ?? 0, request.signal);
      throwIfAborted(request.signal);
      yield { type: 'text.delta', text };
      emitted += 1;
    }
    if (reply.failAfterDeltas !== undefined && emitted >= reply.failAfterDeltas.count) {
      throw reply.failAfterDeltas.error;
    }
    for (const [index, call] of result.toolCalls.entries()) {
      yield { type: 'tool_call.start', index, id: call.id, name: call.name };
      yield { type: 'tool_call.delta', index, id: call.id, argumentsDelta: call.arguments };
    }
    yield { type: 'finish', result };
  }

  async #next(request: GenerateRequest): Promise<ScriptedReply> {
    this.requests.push(request);
    const index = this.#calls;
    this.#calls += 1;
    throwIfAborted(request.signal);
    let turn = this.#turns.shift();
    if (turn === undefined) {
      if (this.#whenExhausted === 'repeat-last' && this.#last !== undefined) turn = this.#last;
      else {
        throw new DreamAgentError('INTERNAL', `ScriptedModel: no scripted turn left for call #${index + 1}`, {
          retryable: false,
          details: { layer: request.layer ?? null },
        });
      }
    }
    this.#last = turn;
    const step = typeof turn === 'function' ? await turn(request, index) : turn;
    if ('error' in step) {
      await sleep(step.latencyMs ?? 0, request.signal);
      throw step.error;
    }
    return step;
  }

  #result(reply: ScriptedReply, request: GenerateRequest): GenerateResult {
    const text = reply.text ?? (reply.json === undefined ? '' : JSON.stringify(reply.json));
    const toolCalls: ToolCall[] = (reply.toolCalls ?? []).map((c, i) => ({
      id: c.id ?? `call_${this.#calls}_${i}`,
      name: c.name,
      arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments),
    }));
    const inputTokens =
      reply.usage?.inputTokens ?? request.messages.reduce((n, m) => n + estimateTokens(m.content), 0);
    const outputTokens =
      reply.usage?.outputTokens ??
      estimateTokens(text) + toolCalls.reduce((n, c) => n + estimateTokens(c.arguments), 0);
    return {
      text,
      toolCalls,
      finishReason: reply.finishReason ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop'),
      usage: {
        inputTokens,
        outputTokens,
        totalTokens: reply.usage?.totalTokens ?? inputTokens + outputTokens,
      },
      model: request.model ?? this.model,
      id: `scripted-${this.#calls}`,
    };
  }
}

function splitWords(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new DreamAgentError('ABORTED', 'the model call was aborted', {
      cause: signal.reason,
      retryable: false,
    });
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  throwIfAborted(signal);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(
        new DreamAgentError('ABORTED', 'the model call was aborted', {
          cause: signal?.reason,
          retryable: false,
        }),
      );
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
