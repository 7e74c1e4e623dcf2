/**
 * `dream-agent/adapter-kit`: what an adapter author needs beyond the public API — the shared commit
 * pre-check every Store runs, the helpers LLM adapters use to map a provider's stream, usage and errors
 * onto the `LanguageModel` port (and strict structured-output schemas), the bus topics, the checks every
 * VectorStore shares, bounded JSON parsing for transports, canonical tool-call keys, and small test
 * helpers for rejections and runs.
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

// Stores: plan history as patches between versions, with a full checkpoint every few versions.
export {
  PLAN_CHECKPOINT_EVERY,
  encodePlanVersion,
  encodePlanVersions,
  planBasesNeeded,
  decodePlanVersions,
  decodePlanVersionAt,
  storedPlanKey,
  makePlanPatch,
} from './model/plan-history.js';
export type {
  StoredPlanVersion,
  PatchedPlanFields,
  PlanVersionKey,
  DecodedPlanVersion,
} from './model/plan-history.js';

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
// Providers with a strict structured-output mode (OpenAI's `strict: true`): schema conversion and back.
export { toStrictJsonSchema, strictSchemaIssues, stripStrictNulls } from './llm/strict-schema.js';
export type { StrictConversion } from './llm/strict-schema.js';

// Event buses: the topic names every bus implementation publishes on.
export { eventsTopic, inboxTopic } from './ports/bus.js';

// Vector stores: the input checks, top-k selection and metadata filters every backend shares.
export {
  DEFAULT_VECTOR_NAMESPACE,
  TopK,
  checkK,
  checkSpaceChange,
  checkUpsert,
  checkVector,
  compileVectorFilter,
  vectorNamespace,
} from './ports/vector-kit.js';
export type { MetadataPredicate } from './ports/vector-kit.js';

// Transports: JSON from the network, parsed with a depth bound before any object is built.
export {
  DEFAULT_MAX_JSON_DEPTH,
  jsonTextDepth,
  assertJsonDepth,
  parseJsonBounded,
} from './model/bounded-json.js';

// Tool caches and idempotent bridges: the canonical JSON text and cache key of a tool call.
export { canonicalJson, toolCacheKey } from './tools/canonical.js';

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

// Transports: the plan history sent with a session snapshot (REST and WebSocket share it).
export { MAX_CHANGES_PAGE, planVersions, snapshotWithHistory } from './transport/history.js';
export type {
  HistorySnapshot,
  PlanChangesCursor,
  PlanChangesPage,
  SnapshotSource,
} from './transport/history.js';
