/**
 * One error base for the whole SDK. Every error thrown by dream-agent (and by its adapters) is a
 * {@link DreamAgentError} with a `code` from the fixed {@link ErrorCode} list, a `retryable` flag, an
 * optional `cause` and structured `details`.
 *
 * Identity is checked with {@link isDreamAgentError} (a brand on the object), never with `instanceof`:
 * two copies of the package in one process (a common npm outcome) would make `instanceof` lie.
 *
 * @packageDocumentation
 */

/** The fixed list of error codes. Adapters map vendor errors onto these. */
export const ERROR_CODES = [
  /** A value failed its schema (command, tool input, plan, event). */
  'INVALID_INPUT',
  /** A command does not fit the session's current state (e.g. approve when nothing awaits approval). */
  'INVALID_STATE',
  /** A plan is invalid: cycle, unknown dependency, duplicate id, unknown domain or tool. */
  'INVALID_PLAN',
  /** A plan edit was refused; the plan is unchanged. */
  'INVALID_EDIT',
  /** `baseVersion` of a plan edit is not the current plan version. */
  'STALE_VERSION',
  /** No such session. */
  'SESSION_NOT_FOUND',
  /** The session already exists (create) or is mid-turn (a new turn was requested). */
  'SESSION_BUSY',
  /** No pending request with that id. */
  'REQUEST_NOT_FOUND',
  /** Optimistic concurrency or fencing check failed: another writer advanced the session. */
  'CONFLICT',
  /** The lease is held by another live owner. */
  'LEASE_HELD',
  /** A payload exceeds a configured size limit. */
  'PAYLOAD_TOO_LARGE',
  /** A tool with that name/version is not registered. */
  'TOOL_NOT_FOUND',
  /** A tool definition is invalid (YAML, schema, handler). */
  'TOOL_INVALID',
  /** A tool handler failed. */
  'TOOL_FAILED',
  /** An operation exceeded its timeout. */
  'TIMEOUT',
  /** An operation was aborted through its AbortSignal. */
  'ABORTED',
  /** The backing store (or another port) is unreachable. Runs pause and retry. */
  'UNAVAILABLE',
  /** A language model returned output that fails its schema after repair attempts. */
  'LLM_INVALID_OUTPUT',
  /** A language model provider rejected the request (auth, rate limit, server error). */
  'LLM_ERROR',
  /** Authentication failed. */
  'UNAUTHENTICATED',
  /** The actor may not perform this action. */
  'FORBIDDEN',
  /** The rate limit was exceeded. */
  'RATE_LIMITED',
  /** The agent was closed. */
  'CLOSED',
  /** A sealed (encrypted) record failed to open: wrong or unknown key, tampering, or a record moved from elsewhere. */
  'DECRYPTION_FAILED',
  /** A bug: an invariant did not hold. */
  'INTERNAL',
] as const;

/** A code from {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number];

const BRAND = Symbol.for('dream-agent.error');

/** Codes that are retryable unless the thrower says otherwise. */
const RETRYABLE_BY_DEFAULT: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'CONFLICT',
  'LEASE_HELD',
  'TIMEOUT',
  'UNAVAILABLE',
  'RATE_LIMITED',
]);

/** Options accepted by the {@link DreamAgentError} constructor. */
export interface DreamAgentErrorOptions {
  /** Whether retrying the same operation may succeed; defaults by code. */
  retryable?: boolean;
  /** The underlying error. */
  cause?: unknown;
  /** Structured, JSON-serialisable details (field paths, ids, versions…). */
  details?: Record<string, unknown>;
}

/**
 * The single error class of dream-agent.
 *
 * @example
 * ```ts
 * try { await agent.send(id, cmd).result(); }
 * catch (e) { if (isDreamAgentError(e) && e.code === 'STALE_VERSION') refresh(); }
 * ```
 */
export class DreamAgentError extends Error {
  /** The error code, from {@link ERROR_CODES}. */
  readonly code: ErrorCode;
  /** Whether the same operation may succeed when retried. */
  readonly retryable: boolean;
  /** Structured details; always an object. */
  readonly details: Record<string, unknown>;
  /** @internal brand used by {@link isDreamAgentError}. */
  readonly [BRAND] = true;

  /**
   * @param code - the error code
   * @param message - a human-readable message naming the bad value
   * @param options - retryable, cause, details
   */
  constructor(code: ErrorCode, message: string, options: DreamAgentErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DreamAgentError';
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT.has(code);
    this.details = options.details ?? {};
  }

  /** A JSON form suitable for transports and the event log. */
  toJSON(): SerializedError {
    return { code: this.code, message: this.message, retryable: this.retryable, details: this.details };
  }
}

/** The JSON form of an error, as stored in events and sent over transports. */
export interface SerializedError {
  /** The error code, from the fixed list {@link ERROR_CODES} (`INTERNAL` for errors that were not ours). */
  code: ErrorCode;
  /** What went wrong, for people; its wording may change between releases, so branch on `code`. */
  message: string;
  /** Whether trying the same thing again may succeed (timeouts, rate limits, unavailable backends). */
  retryable: boolean;
  /** Machine-readable specifics (`issues`, `retryAfterMs`, `reason`…); `{}` when there are none. */
  details: Record<string, unknown>;
}

/**
 * Whether `value` is a dream-agent error, optionally with a given code. Works across duplicate
 * package copies (brand check, not `instanceof`).
 *
 * @param value - anything caught
 * @param code - optionally, the code it must have
 * @returns true when `value` is a {@link DreamAgentError} (with that code)
 */
export function isDreamAgentError(value: unknown, code?: ErrorCode): value is DreamAgentError {
  if (typeof value !== 'object' || value === null) return false;
  if ((value as Record<symbol, unknown>)[BRAND] !== true) return false;
  return code === undefined || (value as DreamAgentError).code === code;
}

/**
 * Converts anything thrown into a {@link SerializedError}; non-dream-agent errors become `INTERNAL`
 * unless a fallback code is given.
 *
 * @param error - the thrown value
 * @param fallback - the code for errors that are not dream-agent errors
 * @returns the serialised form
 */
export function serializeError(error: unknown, fallback: ErrorCode = 'INTERNAL'): SerializedError {
  if (isDreamAgentError(error)) return error.toJSON();
  const message = error instanceof Error ? error.message : String(error);
  return { code: fallback, message, retryable: false, details: {} };
}

/**
 * Turns a {@link SerializedError} back into a {@link DreamAgentError}.
 *
 * @param e - the serialised error
 * @returns a new error with the same code, message, retryable flag and details
 */
export function deserializeError(e: SerializedError): DreamAgentError {
  return new DreamAgentError(e.code, e.message, { retryable: e.retryable, details: e.details });
}
