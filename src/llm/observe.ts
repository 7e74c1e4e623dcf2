/**
 * LLM call attribution: every call a layer makes carries a {@link LlmCallScope} (session, turn, todo,
 * tenant, and where to report), and {@link observeLlmCalls} — which the agent puts around every model it
 * uses — checks the tenant's token budget before the call, times it, prices it, charges the budget and
 * reports one {@link LlmCallRecord} when it settled. The agent turns the record into an `llm.call` event,
 * from which metrics and OpenTelemetry spans are derived (see `AgentObserver`).
 *
 * Nothing happens when no model is called: the offline default agent reports nothing.
 *
 * @packageDocumentation
 */
import { DreamAgentError, isDreamAgentError } from '../errors/index.js';
import type { LayerContext } from '../layers.js';
import type { ModelPrice } from '../observability/observer.js';
import type {
  GenerateRequest,
  GenerateResult,
  LanguageModel,
  LlmCallRecord,
  LlmCallScope,
  StreamChunk,
} from '../ports/llm.js';
import type { TokenBudget } from './token-budget.js';

/** Options of {@link observeLlmCalls}. */
export interface ObserveLlmOptions {
  /** USD prices per model id: the record's `costUsd`. */
  prices?: Record<string, ModelPrice>;
  /** Per-tenant token budget, checked before each call and charged after it. */
  budget?: TokenBudget;
  /** Clock for latency (default `Date.now`). */
  now?: () => number;
}

const OBSERVED = Symbol.for('dream-agent.llm-observed');

/**
 * The scope of an LLM call made from a layer: pass it as `scope` in every request a custom layer sends,
 * so its calls are attributed, budgeted and reported like the built-in layers' calls.
 *
 * @param ctx - the layer's context (an `ExecutionContext` adds its `todoId`)
 * @returns the call scope
 * @example
 * ```ts
 * await llm.generate({ messages, layer: 'executor', scope: llmScope(ctx) });
 * ```
 */
export function llmScope(ctx: LayerContext & { todoId?: string }): LlmCallScope {
  const scope: LlmCallScope = { sessionId: ctx.sessionId, turnId: ctx.turnId };
  if (ctx.todoId !== undefined) scope.todoId = ctx.todoId;
  if (ctx.tenantId !== undefined) scope.tenantId = ctx.tenantId;
  if (ctx.reportLlmCall !== undefined) scope.report = ctx.reportLlmCall;
  return scope;
}

/**
 * Computes the USD cost of a call from a price table.
 *
 * @param prices - USD per million tokens by model id
 * @param model - the model id
 * @param inputTokens - tokens sent
 * @param outputTokens - tokens generated
 * @returns the cost, or undefined when the model has no price
 */
export function priceOf(
  prices: Record<string, ModelPrice> | undefined,
  model: string,
  inputTokens: number,
  outputTokens: number,
): number | undefined {
  const p = prices && Object.hasOwn(prices, model) ? prices[model] : undefined;
  if (!p) return undefined;
  return (inputTokens * p.inputPerMTok + outputTokens * p.outputPerMTok) / 1e6;
}

/** @returns whether the model is already wrapped by {@link observeLlmCalls} */
export function isObserved(model: LanguageModel): boolean {
  return (model as unknown as Record<symbol, unknown>)[OBSERVED] === true;
}

/**
 * Wraps a model so that every call whose request carries a `scope` is budget-checked, timed, priced and
 * reported to `scope.report`. Calls without a scope pass through untouched (no cost).
 *
 * @param model - the model (wrap it inside `withResilience`, so each attempt is one reported call)
 * @param options - prices, budget, clock
 * @returns a model with the same provider and model id
 * @throws DreamAgentError `RATE_LIMITED` (from the budget, before the call) when the tenant's tokens
 *   for this period are spent
 * @example
 * ```ts
 * const llm = observeLlmCalls(openai, { prices: { 'gpt-4o': { inputPerMTok: 2.5, outputPerMTok: 10 } } });
 * ```
 */
export function observeLlmCalls(model: LanguageModel, options: ObserveLlmOptions = {}): LanguageModel {
  const now = options.now ?? Date.now;
  const { budget, prices } = options;

  const record = (
    scope: LlmCallScope,
    request: GenerateRequest,
    started: number,
    result: GenerateResult | undefined,
    error: unknown,
  ): LlmCallRecord => {
    const inputTokens = result?.usage.inputTokens ?? 0;
    const outputTokens = result?.usage.outputTokens ?? 0;
    const modelId = result?.model ?? request.model ?? model.model;
    const rec: LlmCallRecord = {
      provider: model.provider,
      model: modelId,
      layer: request.layer ?? 'unlabelled',
      inputTokens,
      outputTokens,
      latencyMs: Math.max(0, now() - started),
      outcome: result ? 'ok' : isDreamAgentError(error) ? error.code : 'LLM_ERROR',
    };
    if (scope.todoId !== undefined) rec.todoId = scope.todoId;
    if (scope.tenantId !== undefined) rec.tenantId = scope.tenantId;
    if (result) rec.finishReason = result.finishReason;
    const cost = priceOf(prices, modelId, inputTokens, outputTokens);
    if (cost !== undefined) rec.costUsd = cost;
    return rec;
  };

  const settle = async (
    scope: LlmCallScope,
    request: GenerateRequest,
    started: number,
    result: GenerateResult | undefined,
    error: unknown,
  ): Promise<void> => {
    const rec = record(scope, request, started, result, error);
    try {
      scope.report?.(rec);
    } catch {
      /* reporting never fails a call */
    }
    if (budget && result) await budget.charge(scope.tenantId, rec.inputTokens + rec.outputTokens);
  };

  const wrapped: LanguageModel = {
    provider: model.provider,
    model: model.model,
    async generate(request) {
      const scope = request.scope;
      if (!scope) return model.generate(request);
      if (budget) await budget.check(scope.tenantId);
      const started = now();
      let result: GenerateResult;
      try {
        result = await model.generate(request);
      } catch (e) {
        await settle(scope, request, started, undefined, e);
        throw e;
      }
      await settle(scope, request, started, result, undefined);
      return result;
    },
    async *stream(request): AsyncGenerator<StreamChunk> {
      const scope = request.scope;
      if (!scope) {
        yield* model.stream(request);
        return;
      }
      if (budget) await budget.check(scope.tenantId);
      const started = now();
      let result: GenerateResult | undefined;
      let error: unknown;
      try {
        for await (const chunk of model.stream(request)) {
          if (chunk.type === 'finish') result = chunk.result;
          yield chunk;
        }
      } catch (e) {
        error = e;
        throw e;
      } finally {
        // A consumer that broke out early still reports the call (as aborted when it never finished).
        await settle(
          scope,
          request,
          started,
          result,
          error ?? (result ? undefined : new DreamAgentError('ABORTED', 'the stream was abandoned')),
        );
      }
    },
  };
  Object.defineProperty(wrapped, OBSERVED, { value: true });
  return wrapped;
}
