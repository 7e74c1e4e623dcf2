/**
 * LlmExecutor: runs tool-free insight and content todos with a language model, streaming the output.
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../errors/index.js';
import type { ExecutionContext, ExecutionResult, Executor } from '../layers.js';
import type { JsonObject } from '../model/json.js';
import type { Todo } from '../model/plan.js';
import type { GenerateResult, LanguageModel } from '../ports/llm.js';
import { toLlmError } from '../ports/llm.js';
import { executorPrompt } from './prompts.js';

/** Options of {@link LlmExecutor}. */
export interface LlmExecutorOptions {
  model: LanguageModel;
  temperature?: number;
  /** Upper bound on the output of one todo; default 2048. */
  maxTokens?: number;
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
 * description and resolved input, streamed as `todo.output.delta` through `ctx.delta`. The model is
 * given no tools, so nothing it reads (dependency outputs included) can make it act.
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

  /** @param options - model and limits */
  constructor(options: LlmExecutorOptions) {
    this.#options = options;
  }

  /**
   * {@inheritDoc Executor.execute}
   *
   * @throws DreamAgentError `INVALID_INPUT` for a todo that names a tool (the tool executor runs
   *   those: a model must never stand in for a real tool); provider errors as typed by the adapter;
   *   `ABORTED`
   */
  async execute(todo: Todo, input: JsonObject, ctx: ExecutionContext): Promise<ExecutionResult> {
    if (todo.tool !== undefined) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `LlmExecutor runs todos without a tool; todo "${todo.id}" names tool "${todo.tool}"`,
        { retryable: false, details: { todoId: todo.id, tool: todo.tool } },
      );
    }
    const messages = executorPrompt({
      title: todo.title,
      ...(todo.description === undefined ? {} : { description: todo.description }),
      domain: todo.domain,
      input,
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
