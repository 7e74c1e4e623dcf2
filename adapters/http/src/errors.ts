import { isDreamAgentError, serializeError, type ErrorCode } from 'dream-agent';

/** Codes the HTTP transport adds to the core's list for conditions that exist only on the wire. */
export type TransportErrorCode = 'ROUTE_NOT_FOUND' | 'METHOD_NOT_ALLOWED' | 'UNSUPPORTED_MEDIA_TYPE';

/** The JSON body of every error response: `{ error: { code, message, details } }`. */
export interface ErrorBody {
  error: { code: ErrorCode | TransportErrorCode; message: string; details: Record<string, unknown> };
}

const STATUS: Record<ErrorCode, number> = {
  INVALID_INPUT: 400,
  INVALID_EDIT: 400,
  INVALID_PLAN: 400,
  TOOL_INVALID: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  SESSION_NOT_FOUND: 404,
  REQUEST_NOT_FOUND: 404,
  TOOL_NOT_FOUND: 404,
  STALE_VERSION: 409,
  SESSION_BUSY: 409,
  INVALID_STATE: 409,
  CONFLICT: 409,
  LEASE_HELD: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  CLOSED: 503,
  TIMEOUT: 504,
  ABORTED: 499,
  TOOL_FAILED: 502,
  LLM_ERROR: 502,
  LLM_INVALID_OUTPUT: 502,
  INTERNAL: 500,
  DECRYPTION_FAILED: 500,
};

/**
 * The HTTP status for a core error code. Client mistakes are 4xx; only `INTERNAL` (a bug), upstream
 * failures and unavailability are 5xx.
 *
 * @param code - a core error code
 * @returns the HTTP status
 * @example
 * ```ts
 * httpStatusOf('STALE_VERSION'); // 409
 * ```
 */
export function httpStatusOf(code: ErrorCode): number {
  return STATUS[code];
}

/**
 * Turns anything thrown into a status and an {@link ErrorBody}. Errors that are not dream-agent errors
 * become `500 INTERNAL` with a generic message (their text may hold internals and is not echoed).
 *
 * @param error - the thrown value
 * @returns the status and the body
 */
export function errorResponse(error: unknown): { status: number; body: ErrorBody } {
  if (!isDreamAgentError(error)) {
    return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error', details: {} } } };
  }
  const e = serializeError(error);
  return {
    status: httpStatusOf(e.code),
    body: { error: { code: e.code, message: e.message, details: e.details } },
  };
}
