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
