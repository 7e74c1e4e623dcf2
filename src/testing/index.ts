/**
 * `dream-agent/testing`: contract suites every port implementation runs, fakes that keep tests honest,
 * layer contexts for unit-testing a layer, and a local server speaking the OpenAI and Anthropic wire
 * protocols.
 *
 * @packageDocumentation
 */
export { ManualClock } from './clock.js';
export { useTestApi } from './contracts/api.js';
export type { TestApi } from './contracts/api.js';
export { guardStore } from './guard.js';
export { storeContract } from './contracts/store.js';
export { storeExtensionsContract } from './contracts/store-extensions.js';
export type { StoreContractContext, StoreContractSubject, StoreContractOptions } from './contracts/store.js';
export { busContract } from './contracts/bus.js';
export type { BusContractSubject } from './contracts/bus.js';
export { cacheContract } from './contracts/cache.js';
export { vectorContract, VECTOR_CONTRACT_PERSISTENCE_CASE } from './contracts/vector.js';
export type { VectorContractSubject, VectorContractOptions } from './contracts/vector.js';
export type { CacheContractSubject } from './contracts/cache.js';
export { pausableStore } from './pausable.js';
export type { PausableStore } from './pausable.js';
export { ScriptedModel } from './scripted-model.js';
export type {
  ScriptedModelOptions,
  ScriptedTurn,
  ScriptedReply,
  ScriptedFailure,
  ScriptedToolCall,
} from './scripted-model.js';
export { wrapStore, STORE_METHODS } from './wrap.js';
export {
  memoryLogger,
  toolCatalog,
  testCognitiveContext,
  testPlanningContext,
  testExecutionContext,
  testResponseContext,
} from './contexts.js';
export type {
  LoggedLine,
  MemoryLogger,
  RecordedProgress,
  RecordingExecutionContext,
  RecordingResponseContext,
} from './contexts.js';
export { startLlmServer, deterministicVector } from './llm-server.js';
export type {
  LlmServer,
  RecordedRequest,
  WireFault,
  WireStatusFault,
  WireMalformedFault,
  WireCutFault,
  WireStreamErrorFault,
  WireStallFault,
  WireReply,
  WireRoute,
  WireStep,
  WireToolCall,
} from './llm-server.js';
