/**
 * LlmExecutor: runs tool-free insight and content todos with a language model, streaming the output;
 * todos of its domains that name a tool go to the tool executor.
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../errors/index.js';
import type { ExecutionContext, ExecutionResult, Executor } from '../layers.js';
import type { JsonObject } from '../model/json.js';
import type { Todo } from '../model/plan.js';
import type { GenerateResult, LanguageModel } from '../ports/llm.js';
import { toLlmError } from '../ports/llm.js';
import { llmScope } from './observe.js';
import { ToolExecutor } from '../tools/executor.js';
import { budgetJson } from './budget.js';
import { executorPrompt } from './prompts.js';

/** Options of {@link LlmExecutor}. */
export interface LlmExecutorOptions {
  /** The model this layer calls (wrap it in `withResilience` for timeouts and retries). */
  model: LanguageModel;
  /** Sampling temperature of a todo's call (default 0.3). */
  temperature?: number;
  /** Upper bound on the output of one todo; default 2048. */
  maxTokens?: number;
  /**
   * Token budget (estimated) of the todo's resolved input in the prompt; default 6000. A larger input —
   * typically a referenced tool output — is shrunk with {@link budgetJson} and marked as truncated.
   */
  maxInputTokens?: number;
  /**
   * Runs the todos that name a tool (default: a {@link ToolExecutor} on `ctx.tools` and `ctx.cache`).
   * Pass the agent's own tool executor to share its timeout and retry settings.
   */
  toolExecutor?: Executor;
}

/** What an {@link LlmExecutor} todo outputs. */
export interface LlmExecutorOutput extends JsonObject {
  /** The generated text. */
  text: string;
  /** True when the model stopped at the token limit. */
  truncated: boolean;
}

/**
 * Runs insight and content todos that have no tool: the model writes the output from the todo's title,
 * description and resolved input (budgeted to `maxInputTokens`), streamed as `todo.output.delta` through
 * `ctx.delta`. The model is given no tools, so nothing it reads (dependency outputs included) can make it
 * act. A todo that names a tool is delegated to the tool executor — a model never stands in for a real
 * tool — so registering it for a whole domain (`executors: { insight: writer }`) keeps that domain's
 * tools working.
 *
 * The output is `{ text, truncated }`, so later todos can reference `{ "$ref": id, "path": "text" }`.
 *
 * @example
 * ```ts
 * const llmExecutor = new LlmExecutor({ model: llm });
 * new Agent({ tools, llm, executors: { insight: llmExecutor, content: llmExecutor } });
 * ```
 */
export class LlmExecutor implements Executor {
  readonly #options: LlmExecutorOptions;
  readonly #tools: Executor;
  readonly #maxInputTokens: number;

  /**
   * @param options - model, limits, tool executor
   * @throws DreamAgentError `INVALID_INPUT` when `maxInputTokens` is below 16
   */
  constructor(options: LlmExecutorOptions) {
    this.#options = options;
    this.#tools = options.toolExecutor ?? new ToolExecutor();
    this.#maxInputTokens = options.maxInputTokens ?? 6000;
    if (!Number.isFinite(this.#maxInputTokens) || this.#maxInputTokens < 16) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `maxInputTokens must be a number >= 16, got ${String(options.maxInputTokens)}`,
      );
    }
  }

  /**
   * {@inheritDoc Executor.execute}
   *
   * @throws DreamAgentError for a todo with a tool, whatever the tool executor throws; otherwise
   *   provider errors as typed by the adapter; `ABORTED`
   */
  async execute(todo: Todo, input: JsonObject, ctx: ExecutionContext): Promise<ExecutionResult> {
    if (todo.tool !== undefined) return this.#tools.execute(todo, input, ctx);
    const messages = executorPrompt({
      title: todo.title,
      ...(todo.description === undefined ? {} : { description: todo.description }),
      domain: todo.domain,
      input: budgetJson(input, this.#maxInputTokens).text,
    });
    let text = '';
    let result: GenerateResult | undefined;
    try {
      for await (const chunk of this.#options.model.stream({
        messages,
        temperature: this.#options.temperature ?? 0.3,
        maxTokens: this.#options.maxTokens ?? 2048,
        signal: ctx.signal,
        layer: 'executor',
        scope: llmScope(ctx),
      })) {
        if (chunk.type === 'text.delta') {
          text += chunk.text;
          ctx.delta(chunk.text);
        } else if (chunk.type === 'finish') {
          result = chunk.result;
        }
      }
    } catch (error) {
      throw toLlmError(error, ctx.signal);
    }
    if (result === undefined) {
      throw new DreamAgentError('LLM_ERROR', 'the model stream ended without a final result', {
        retryable: true,
      });
    }
    // Prefer the assembled result: adapters guarantee it equals the deltas, but it is authoritative.
    const output: LlmExecutorOutput = {
      text: result.text === '' ? text : result.text,
      truncated: result.finishReason === 'length',
    };
    return { output };
  }
}
