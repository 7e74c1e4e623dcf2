/**
 * The transport tests' journey agent and loopback HTTP helpers, shared with the example server's tests:
 * one copy, kept with the HTTP adapter's own tests (which may import only the public packages).
 */
export {
  closeServer,
  journeyAgent,
  journeyTodos,
  listen,
  readSse,
  request,
} from '../../adapters/http/test/helpers.js';
