/**
 * `dream-agent/offline`: the offline Cognitive layer — intents declared in YAML, a trained classifier with
 * calibrated confidence, entity extraction, dialogue management and context memory, all without network
 * or model downloads.
 *
 * It is a subpath of its own because it runs on wink-nlp and its English model (≈4.7 MB installed):
 * users of the LLM layers never install or load them. Install the two optional peers to use it:
 *
 * ```sh
 * npm install wink-nlp wink-eng-lite-web-model
 * ```
 *
 * @example
 * ```ts
 * import { Agent } from 'dream-agent';
 * import { OfflineCognitive } from 'dream-agent/offline';
 *
 * const agent = new Agent({ cognitive: new OfflineCognitive('intents.yaml') });
 * ```
 *
 * @packageDocumentation
 */
export {
  OfflineCognitive,
  DEFAULT_THRESHOLD,
  IntentClassifier,
  loadIntents,
  loadIntentsFile,
  parseIntents,
  IntentsFileSchema,
  IntentSpecSchema,
  SlotSpecSchema,
  GazetteerSchema,
  BUILTIN_SLOT_TYPES,
  UNKNOWN_INTENT,
  extractEntities,
  resolveSlots,
  slotsFromEntities,
  slotFromAnswer,
  followUpCue,
  previousIntentTurn,
  Tokenizer,
  charNgrams,
  fold,
  HashingEmbedder,
  ContextMemory,
} from './cognitive/offline/index.js';
export type {
  OfflineCognitiveOptions,
  OfflineClassification,
  ScoredUtterance,
  Classification,
  ClassifierOptions,
  RankedIntent,
  TrainingExample,
  IntentsFile,
  IntentsFileInput,
  IntentSpec,
  SlotSpec,
  Gazetteer,
  BuiltinSlotType,
  EntityOptions,
  PeriodValue,
  MoneyValue,
  FollowUpCue,
  SlotInputs,
  SlotResolution,
  Token,
  TokenizerOptions,
  HashingEmbedderOptions,
  ContextMemoryOptions,
  MemoryEntry,
  Recollection,
} from './cognitive/offline/index.js';
