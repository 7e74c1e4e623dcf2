/**
 * The offline Cognitive layer: intents in YAML, a trained classifier with calibrated confidence, entity
 * extraction, dialogue management and context memory — all without network or model downloads.
 *
 * @packageDocumentation
 */
export { OfflineCognitive, DEFAULT_THRESHOLD } from './cognitive.js';
export type { OfflineCognitiveOptions, OfflineClassification, ScoredUtterance } from './cognitive.js';
export { IntentClassifier } from './classifier.js';
export type { Classification, ClassifierOptions, RankedIntent, TrainingExample } from './classifier.js';
export {
  BUILTIN_SLOT_TYPES,
  UNKNOWN_INTENT,
  GazetteerSchema,
  IntentSpecSchema,
  IntentsFileSchema,
  SlotSpecSchema,
  loadIntents,
  loadIntentsFile,
  parseIntents,
} from './intents.js';
export type {
  BuiltinSlotType,
  Gazetteer,
  IntentSpec,
  IntentsFile,
  IntentsFileInput,
  SlotSpec,
} from './intents.js';
export { extractEntities } from './entities.js';
export { describePeriod, dayLabel } from './periods.js';
export type { PeriodUnit, ResolvedPeriod } from './periods.js';
export { correctTypos, editDistance } from './typos.js';
export type { EntityOptions, MoneyValue, PeriodValue } from './entities.js';
export {
  followUpCue,
  pickOption,
  previousIntentTurn,
  resolveSlots,
  slotFromAnswer,
  slotsFromEntities,
} from './dialogue.js';
export type { FollowUpCue, SlotInputs, SlotResolution } from './dialogue.js';
export { Tokenizer, charNgrams, fold } from './tokenize.js';
export type { Token, TokenizerOptions } from './tokenize.js';
export { HashingEmbedder } from './embedder.js';
export type { HashingEmbedderOptions } from './embedder.js';
export { ContextMemory } from './memory.js';
export type { ContextMemoryOptions, MemoryEntry, Recollection } from './memory.js';
