/**
 * `dream-agent/testing`: contract suites every port implementation runs, and fakes that keep tests honest.
 *
 * @packageDocumentation
 */
export { ManualClock } from './clock.js';
export { useTestApi } from './contracts/api.js';
export type { TestApi } from './contracts/api.js';
export { guardStore } from './guard.js';
export { storeContract } from './contracts/store.js';
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
