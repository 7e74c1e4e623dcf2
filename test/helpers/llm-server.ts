/**
 * The LLM wire-protocol test server moved to the public `dream-agent/testing` entry (so adapter tests and
 * users import it by package name); this module keeps the repository's own tests' imports working.
 */
export { startLlmServer, deterministicVector } from 'dream-agent/testing';
export type {
  LlmServer,
  RecordedRequest,
  WireFault,
  WireReply,
  WireRoute,
  WireStep,
  WireToolCall,
} from 'dream-agent/testing';
