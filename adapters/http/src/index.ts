/**
 * REST + SSE transport for dream-agent: an Express router and a framework-neutral Node handler that
 * expose an `Agent` (from `dream-agent`) — start a turn, get a session, send any Command, list waiting sessions,
 * replay events, and stream them with `Last-Event-ID` resume. Bodies are validated with the core's zod
 * schemas; errors are `{ error: { code, message, details } }` with a status mapped from the code.
 *
 * @packageDocumentation
 */
export { createHandler, tokenOf } from './handler.js';
export type { HttpTransportOptions, NodeHandler } from './handler.js';
export { createRouter } from './express.js';
export { httpStatusOf, errorResponse } from './errors.js';
export type { ErrorBody, TransportErrorCode } from './errors.js';
export { buildOpenApiDocument } from './openapi.js';
export { settle } from './settle.js';
export type { Accepted } from './settle.js';
export {
  StartTurnSchema,
  NewTurnSchema,
  ListQuerySchema,
  EventsQuerySchema,
  StreamQuerySchema,
} from './schemas.js';
export type {
  Principal,
  Operation,
  Credentials,
  CommandRecord,
  TransportHooks,
  SessionApi,
} from './types.js';
