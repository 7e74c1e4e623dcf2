/**
 * The LLM-backed layers and helpers of dream-agent (model-agnostic: they talk to the
 * {@link LanguageModel} port only).
 *
 * @packageDocumentation
 */
export {
  LlmCognitive,
  type LlmCognitiveOptions,
  type LlmIntentSlot,
  type LlmIntentSpec,
} from './cognitive.js';
export { LlmExecutor, type LlmExecutorOptions, type LlmExecutorOutput } from './executor.js';
export { LlmPlanner, rankToolsLexically, type LlmPlannerOptions, type ToolSearch } from './planner.js';
export { LlmResponder, type LlmResponderOptions } from './responder.js';
export {
  formatZodIssues,
  generateObject,
  MAX_REPAIRS,
  parseJsonOutput,
  toJsonSchema,
  type GenerateObjectOptions,
  type GenerateObjectResult,
  type ObjectSchema,
  type OutputFailureStage,
} from './structured.js';
export {
  cognitivePrompt,
  DATA_RULE,
  dataBlock,
  defaultClarification,
  executorPrompt,
  planRepairPrompt,
  plannerPrompt,
  repairPrompt,
  responderPrompt,
  summarisePrompt,
  type CognitivePromptInput,
  type ExecutorPromptInput,
  type PlannerPromptInput,
  type PromptIntent,
  type PromptSlot,
  type PromptTool,
  type ResponderPromptInput,
  type ResponseSection,
} from './prompts.js';
export { budgetJson, budgetText, DEFAULT_BLOCK_TOKENS, type Budgeted } from './budget.js';
export {
  DEFAULT_RESILIENCE,
  isResilient,
  withResilience,
  type CallLimits,
  type ResilienceOptions,
  type RetryPolicy,
} from './resilience.js';
export { fallbackModel, shouldFallBack, type FallbackOptions } from './fallback.js';
export {
  stripStrictNulls,
  strictSchemaIssues,
  toStrictJsonSchema,
  type StrictConversion,
} from './strict-schema.js';
export { isObserved, llmScope, observeLlmCalls, priceOf, type ObserveLlmOptions } from './observe.js';
export {
  MemoryCounters,
  TokenBudget,
  type BudgetState,
  type CounterStore,
  type TokenBudgetOptions,
} from './token-budget.js';
export { llmLayerDefaults, type LayerModels, type LlmDefaults, type LlmDefaultsInput } from './defaults.js';
