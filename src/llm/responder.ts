/**
 * LlmResponder: writes the answer from the todo results within a token budget, streaming it.
 *
 * @packageDocumentation
 */
import { recallForPrompt } from '../memory/session.js';
import { isDreamAgentError } from '../errors/index.js';
import type { Responder, ResponseContext, TurnSummary } from '../layers.js';
import type { Json } from '../model/json.js';
import type { TodoRecord } from '../model/session.js';
import type { LanguageModel } from '../ports/llm.js';
import { estimateTokens, toLlmError } from '../ports/llm.js';
import { llmScope } from './observe.js';
import { budgetText } from './budget.js';
import { responderPrompt, summarisePrompt, type ResponseSection } from './prompts.js';

/** Options of {@link LlmResponder}. */
export interface LlmResponderOptions {
  /** The model this layer calls (wrap it in `withResilience` for timeouts and retries). */
  model: LanguageModel;
  /** Token budget for all step results in the answer prompt (estimated); default 6000. */
  maxContextTokens?: number;
  /** A result larger than this is truncated before it is summarised; default 12000. */
  maxSummaryInputTokens?: number;
  /** Upper bound on the answer; default 1024. */
  maxTokens?: number;
  /** Sampling temperature of the answer call (default 0.3; summaries of large results use 0). */
  temperature?: number;
  /** How many recent turns to show (default 4). */
  maxHistory?: number;
  /**
   * Budget of the "relevant memory" block (estimated tokens): the session's past turns, todo results and
   * documents recalled through `ctx.memory` (the agent's `memory`). Default 500; 0 leaves memory out.
   */
  memoryTokens?: number;
}

/** The smallest share a result is given when the budget is split (estimated tokens). */
const MIN_SHARE = 64;

/**
 * The Response layer backed by a language model. Results of the turn's todos are aggregated in plan
 * order; when they exceed the token budget, the budget is split fairly (small results are kept whole,
 * the rest share what is left) and each oversized result is summarised by the model first — or, if
 * that call fails, truncated — so the answer prompt always fits. The answer streams as `response.delta`
 * through `ctx.delta`.
 *
 * @example
 * ```ts
 * new Agent({ tools, llm, responder: new LlmResponder({ model: llm, maxContextTokens: 4000 }) });
 * ```
 */
export class LlmResponder implements Responder {
  readonly #options: LlmResponderOptions;

  /** @param options - model and budgets */
  constructor(options: LlmResponderOptions) {
    this.#options = options;
  }

  /**
   * {@inheritDoc Responder.respond}
   *
   * @throws DreamAgentError provider errors as typed by the adapter (`LLM_ERROR`, `RATE_LIMITED`…);
   *   `ABORTED`. Failed summaries are not errors: the result is truncated instead.
   */
  async respond(turn: TurnSummary, ctx: ResponseContext): Promise<string> {
    try {
      const sections = await this.#budget(turn, this.sections(turn), ctx);
      const maxHistory = this.#options.maxHistory ?? 4;
      const memoryTokens = this.#options.memoryTokens ?? 500;
      const memory = await recallForPrompt(ctx, turn.input, memoryTokens);
      const messages = responderPrompt({
        ...(memory !== '' ? { memory, memoryTokens } : {}),
        input: turn.input,
        ...(turn.intent === undefined ? {} : { intent: turn.intent.name }),
        sections,
        history: maxHistory === 0 ? [] : ctx.history.slice(-maxHistory),
      });
      let text = '';
      let finished = false;
      for await (const chunk of this.#options.model.stream({
        messages,
        temperature: this.#options.temperature ?? 0.3,
        maxTokens: this.#options.maxTokens ?? 1024,
        signal: ctx.signal,
        layer: 'responder',
        scope: llmScope(ctx),
      })) {
        if (chunk.type === 'text.delta') {
          text += chunk.text;
          ctx.delta(chunk.text);
        } else if (chunk.type === 'finish') {
          finished = true;
        }
      }
      if (!finished) throw toLlmError(new Error('the model stream ended without a final result'));
      return text;
    } catch (error) {
      throw toLlmError(error, ctx.signal);
    }
  }

  /**
   * The step results as the prompt shows them, before budgeting (exposed for tests and subclasses).
   *
   * @param turn - the turn summary
   * @returns one section per todo, in plan order
   */
  sections(turn: TurnSummary): ResponseSection[] {
    const titles = new Map((turn.plan?.todos ?? []).map((t) => [t.id, t.title]));
    return turn.todos.map((r) => ({
      id: r.todoId,
      title: titles.get(r.todoId) ?? r.todoId,
      status: r.status,
      content: describe(r),
    }));
  }

  async #budget(
    turn: TurnSummary,
    sections: ResponseSection[],
    ctx: ResponseContext,
  ): Promise<ResponseSection[]> {
    const budget = this.#options.maxContextTokens ?? 6000;
    const sizes = sections.map((s) => estimateTokens(s.content));
    const shares = fairShares(sizes, budget);
    const out: ResponseSection[] = [];
    for (const [i, section] of sections.entries()) {
      const size = sizes[i] as number;
      const share = shares[i] as number;
      if (size <= share) {
        out.push(section);
        continue;
      }
      out.push({ ...section, content: await this.#summarise(turn.input, section, share, ctx) });
    }
    return out;
  }

  async #summarise(
    request: string,
    section: ResponseSection,
    share: number,
    ctx: ResponseContext,
  ): Promise<string> {
    const maxInput = this.#options.maxSummaryInputTokens ?? 12_000;
    const input = truncate(section.content, maxInput);
    try {
      const result = await this.#options.model.generate({
        messages: summarisePrompt({ request, title: section.title, content: input, maxTokens: share }),
        maxTokens: share,
        temperature: 0,
        signal: ctx.signal,
        layer: 'responder',
        scope: llmScope(ctx),
      });
      const summary = result.text.trim();
      if (summary === '') throw new Error('empty summary');
      return `[summary] ${truncate(summary, share)}`;
    } catch (error) {
      if (ctx.signal.aborted || (isDreamAgentError(error) && error.code === 'ABORTED')) throw error;
      ctx.logger.warn(
        { todoId: section.id, err: error instanceof Error ? error.message : String(error) },
        'LlmResponder: summarising a large result failed; truncating it instead',
      );
      return truncate(section.content, share);
    }
  }
}

function describe(r: TodoRecord): string {
  switch (r.status) {
    case 'completed':
      return r.output === undefined ? '(no output)' : render(r.output);
    case 'failed':
      return `failed: ${r.error?.message ?? r.reason ?? 'unknown error'}`;
    case 'skipped':
      return `skipped (${r.skipReason ?? 'unknown reason'})${r.reason === undefined ? '' : `: ${r.reason}`}`;
    case 'pending':
    case 'awaiting_approval':
    case 'approved':
    case 'awaiting_input':
    case 'running':
    case 'awaiting_recovery':
      return `not finished (${r.status})`;
  }
}

function render(value: Json): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * Splits `budget` among items of the given sizes: items at or below their fair share keep their size
 * and the rest is shared equally by the larger ones (water-filling), never below {@link MIN_SHARE}.
 */
function fairShares(sizes: readonly number[], budget: number): number[] {
  const shares = sizes.map(() => 0);
  const order = sizes.map((size, i) => ({ size, i })).sort((a, b) => a.size - b.size);
  let remaining = budget;
  for (const [k, { size, i }] of order.entries()) {
    const fair = Math.max(MIN_SHARE, Math.floor(remaining / (order.length - k)));
    const share = Math.min(size, fair);
    shares[i] = share;
    remaining = Math.max(0, remaining - share);
  }
  return shares;
}

function truncate(text: string, tokens: number): string {
  return budgetText(text, Math.max(16, tokens)).text;
}
