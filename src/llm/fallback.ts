/**
 * Fallback models: one {@link LanguageModel} that tries a list of models in order.
 *
 * @packageDocumentation
 */
import { DreamAgentError, isDreamAgentError } from '../errors/index.js';
import type { GenerateRequest, GenerateResult, LanguageModel, StreamChunk } from '../ports/llm.js';
import { toLlmError } from '../ports/llm.js';

/** Options of {@link fallbackModel}. */
export interface FallbackOptions {
  /**
   * Whether a failure moves on to the next model (default: {@link shouldFallBack} — rate limits,
   * timeouts and retryable provider errors such as 5xx and lost connections; never `ABORTED`, bad
   * credentials or a rejected request, which another model would reject too).
   */
  shouldFallBack?: (error: DreamAgentError, model: LanguageModel) => boolean;
  /** Called when a model failed and the next one is tried (for logs and metrics). */
  onFallback?: (info: { from: LanguageModel; to: LanguageModel; error: DreamAgentError }) => void;
}

/**
 * The default fallback rule: `RATE_LIMITED` (even a quota that waiting would not fix), `TIMEOUT`,
 * `UNAVAILABLE`, and `LLM_ERROR` marked retryable (5xx, connection failures, cut streams).
 *
 * @param error - the failure of one model
 * @returns whether the next model should be tried
 */
export function shouldFallBack(error: DreamAgentError): boolean {
  switch (error.code) {
    case 'RATE_LIMITED':
    case 'TIMEOUT':
    case 'UNAVAILABLE':
      return true;
    case 'LLM_ERROR':
      return error.retryable;
    default:
      return false;
  }
}

/**
 * Composes models into one that tries them in order: when a call fails in a way
 * {@link FallbackOptions.shouldFallBack} accepts, the same request goes to the next model. A stream
 * falls back only before its first chunk was passed on (after a delta, switching models would splice
 * two answers); a later failure is thrown as is. `request.model` (an id override) is sent to the first
 * model only, since the others are different models. The last model's error is thrown when all fail,
 * with `details.attempts` listing each model's error code.
 *
 * Wrap each entry in {@link withResilience} for per-model retries and timeouts, or the composite for one
 * deadline over the whole chain.
 *
 * @param models - at least one model, preferred first
 * @param options - which failures fall back, a hook
 * @returns a model whose `provider` and `model` are the first model's
 * @throws DreamAgentError `INVALID_INPUT` for an empty list or an entry that is not a model
 * @example
 * ```ts
 * const llm = fallbackModel([
 *   withResilience(new OpenAIModel({ model: 'gpt-4.1' }), { retry: { attempts: 2 } }),
 *   withResilience(new AnthropicModel({ model: 'claude-sonnet-4-5' })),
 * ]);
 * ```
 */
export function fallbackModel(
  models: readonly LanguageModel[],
  options: FallbackOptions = {},
): LanguageModel {
  if (!Array.isArray(models) || models.length === 0) {
    throw new DreamAgentError('INVALID_INPUT', 'fallbackModel needs at least one model', {
      retryable: false,
    });
  }
  const list: LanguageModel[] = [...models];
  list.forEach((m, i) => {
    const model = m as Partial<LanguageModel> | null;
    if (
      typeof model !== 'object' ||
      model === null ||
      typeof model.generate !== 'function' ||
      typeof model.stream !== 'function'
    ) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `fallbackModel: entry ${i} is not a LanguageModel (it needs generate() and stream())`,
        { retryable: false, details: { index: i } },
      );
    }
  });
  const first = list[0] as LanguageModel;
  const accept = options.shouldFallBack ?? shouldFallBack;
  const requestFor = (request: GenerateRequest, i: number): GenerateRequest => {
    if (i === 0 || request.model === undefined) return request;
    const { model: _override, ...rest } = request;
    return rest;
  };
  const give = (
    error: DreamAgentError,
    i: number,
    request: GenerateRequest,
    attempts: { provider: string; model: string; code: string }[],
  ): boolean => {
    const current = list[i] as LanguageModel;
    attempts.push({ provider: current.provider, model: current.model, code: error.code });
    const next = list[i + 1];
    if (
      next === undefined ||
      request.signal?.aborted ||
      error.code === 'ABORTED' ||
      !accept(error, current)
    ) {
      return false;
    }
    options.onFallback?.({ from: current, to: next, error });
    return true;
  };
  const final = (error: DreamAgentError, attempts: unknown[]): DreamAgentError =>
    attempts.length <= 1
      ? error
      : new DreamAgentError(error.code, error.message, {
          cause: error,
          retryable: error.retryable,
          details: { ...error.details, attempts: attempts as never },
        });

  return {
    provider: first.provider,
    model: first.model,
    async generate(request: GenerateRequest): Promise<GenerateResult> {
      const attempts: { provider: string; model: string; code: string }[] = [];
      for (let i = 0; ; i++) {
        try {
          return await (list[i] as LanguageModel).generate(requestFor(request, i));
        } catch (thrown) {
          const error = toLlmError(thrown, request.signal);
          if (!give(error, i, request, attempts)) throw final(error, attempts);
        }
      }
    },
    async *stream(request: GenerateRequest): AsyncIterable<StreamChunk> {
      const attempts: { provider: string; model: string; code: string }[] = [];
      for (let i = 0; ; i++) {
        let passedOn = false;
        try {
          for await (const chunk of (list[i] as LanguageModel).stream(requestFor(request, i))) {
            passedOn = true;
            yield chunk;
          }
          return;
        } catch (thrown) {
          const error = isDreamAgentError(thrown) ? thrown : toLlmError(thrown, request.signal);
          if (passedOn || !give(error, i, request, attempts)) throw final(error, attempts);
        }
      }
    },
  };
}
