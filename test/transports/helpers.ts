/**
 * The transport tests' journey agent and loopback HTTP helpers, shared with the example server's tests:
 * one copy, in the private test harness package (which the transport adapters' tests import by name).
 */
export {
  closeServer,
  journeyAgent,
  journeyTodos,
  listen,
  readSse,
  request,
} from '@dream-agent/test-services/transport';
