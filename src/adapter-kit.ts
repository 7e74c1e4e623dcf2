/**
 * `dream-agent/adapter-kit`: what an adapter author needs beyond the public API — the shared commit
 * pre-check every Store runs, the helpers LLM adapters use to map a provider's stream, usage and errors
 * onto the `LanguageModel` port, and small test helpers for rejections and runs.
 *
 * Applications never need this subpath; first-party adapters import only `dream-agent` and this.
 *
 * @packageDocumentation
 */
import { DreamAgentError, isDreamAgentError } from './errors/index.js';
import type { AgentEvent } from './model/events.js';

// Stores: the version / lease / seq pre-check of a commit, shared by every backend.
export { assertCommitApplies, assertRewriteApplies } from './ports/store.js';
export type { CommitGuardState } from './ports/store.js';

// Language models: streams, tool calls, usage, provider errors.
export {
  parseRetryAfter,
  toLlmError,
  collectStream,
  parseToolArguments,
  addUsage,
  estimateTokens,
  ZERO_USAGE,
} from './ports/llm.js';

/**
 * Runs a provider's error mapping so that it can never throw itself: a thrown value that fights back while
 * it is read (a revoked Proxy, getters that throw, circular or BigInt fields) still becomes a typed
 * `LLM_ERROR`, retryable unless the call was aborted.
 *
 * @param error - the value the provider's client threw
 * @param signal - the call's signal
 * @param map - the adapter's own mapping (it may throw on a hostile value)
 * @param call - what failed, for the message (`'the OpenAI call'`)
 * @param details - details of the fallback error (e.g. `{ provider: 'openai' }`)
 * @returns the mapped error
 * @example
 * ```ts
 * export const mapMyError = (e: unknown, signal?: AbortSignal) =>
 *   mapErrorSafely(e, signal, mapOrThrow, 'the My call', { provider: 'my' });
 * ```
 */
export function mapErrorSafely(
  error: unknown,
  signal: AbortSignal | undefined,
  map: (error: unknown, signal: AbortSignal | undefined) => DreamAgentError,
  call: string,
  details?: Record<string, unknown>,
): DreamAgentError {
  try {
    return map(error, signal);
  } catch {
    return new DreamAgentError('LLM_ERROR', `${call} failed with an unreadable error value`, {
      cause: error,
      retryable: !signal?.aborted,
      ...(details !== undefined ? { details } : {}),
    });
  }
}

/**
 * The typed error a promise rejects with: resolves to the {@link DreamAgentError}, and rejects when the
 * promise resolves or fails with anything else. Framework-neutral: assert on the result with your own
 * `expect`.
 *
 * @param p - the promise expected to fail
 * @returns the DreamAgentError it rejected with
 * @throws Error when `p` resolves, or rejects with something that is not a DreamAgentError
 * @example
 * ```ts
 * const err = await rejection(store.acquireLease('nope', 'node-a', 30_000));
 * err.code; // 'SESSION_NOT_FOUND'
 * ```
 */
export async function rejection(p: Promise<unknown>): Promise<DreamAgentError> {
  let settled: { ok: true } | { ok: false; error: unknown };
  try {
    await p;
    settled = { ok: true };
  } catch (error) {
    settled = { ok: false, error };
  }
  if (settled.ok) throw new Error('expected the promise to reject with a DreamAgentError, but it resolved');
  if (!isDreamAgentError(settled.error)) {
    throw new Error(`expected a DreamAgentError, got ${String(settled.error)}`, { cause: settled.error });
  }
  return settled.error;
}

/**
 * Drains a run (or any event stream with a `result()`): every event it yields, then its result.
 *
 * @param run - what `agent.run`, `agent.send` or `agent.resume` returned
 * @returns the events in order and the run's result
 * @example
 * ```ts
 * const { events, result } = await collectRun(agent.run('hello'));
 * ```
 */
export async function collectRun<R>(run: AsyncIterable<AgentEvent> & { result(): Promise<R> }): Promise<{
  /** Every event of the run, in order. */
  events: AgentEvent[];
  /** What `run.result()` resolved with. */
  result: R;
}> {
  const events: AgentEvent[] = [];
  for await (const e of run) events.push(e);
  return { events, result: await run.result() };
}
