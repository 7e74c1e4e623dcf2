/**
 * dream-agent — an embeddable TypeScript SDK for enterprise AI agents with a durable human in the loop.
 *
 * Named exports, grouped by topic. Adapters (PostgreSQL, SQLite, Redis, OpenAI, Anthropic…) are
 * separate packages under `@dream-agent/*`; contract suites and fakes live in `dream-agent/testing`.
 *
 * @packageDocumentation
 */

// Agent and runs
export { Agent } from './agent/agent.js';
export type { RunOptions, EventsOptions, SessionSummary } from './agent/agent.js';
export { Run } from './agent/run.js';
export type {
  AgentOptions,
  HitlOptions,
  LimitOptions,
  ApprovalPolicy,
  ApprovalDecision,
  ApprovalContext,
  TurnMemory,
} from './agent/options.js';
export { parseCommand, validateCommand } from './agent/commands.js';
export type { CommandView } from './agent/commands.js';
export { PassthroughCognitive, FunctionPlanner, TemplateResponder } from './agent/defaults.js';

// Encryption at rest
export { AesGcmCodec, StaticKeyring, EnvelopeKeyProvider } from './security/codec.js';
export type {
  Codec,
  CodecContext,
  DataKey,
  KeyProvider,
  Kms,
  StaticKeyringOptions,
} from './security/codec.js';
export { encryptedStore, reencryptStore } from './security/encrypted-store.js';
export { encryptedCache } from './security/encrypted-cache.js';
export type { EncryptedCacheOptions } from './security/encrypted-cache.js';
export { encryptedVectorStore } from './security/encrypted-vectors.js';
export type { EncryptedVectorStoreOptions } from './security/encrypted-vectors.js';
export type {
  EncryptedStoreOptions,
  ReencryptOptions,
  ReencryptProgress,
  ReencryptResult,
} from './security/encrypted-store.js';
export { auditedStore, AuditedStore } from './security/audit.js';
export type { AuditEntry, AuditHead, AuditProblem, AuditReport } from './security/audit.js';

// Tenancy and ownership
export { scopedAgent, ScopedAgent, defaultAuthorize, expireSessions } from './security/tenancy.js';
export type {
  Principal,
  AgentAction,
  Authorize,
  AuthorizeRequest,
  SessionOwnership,
  ScopedAgentOptions,
  DefaultAuthorizeOptions,
  ExpireSessionsOptions,
} from './security/tenancy.js';

// Observability
export { InMemoryMetrics, teeMetrics, DEFAULT_BUCKETS_MS } from './observability/metrics.js';
export type {
  MetricsSink,
  MetricLabels,
  MetricsSnapshot,
  HistogramSummary,
  InMemoryMetricsOptions,
} from './observability/metrics.js';
export { AgentObserver, observedStore } from './observability/observer.js';
export { redact, redactingLogger, sensitiveKeys, DEFAULT_SECRET_KEYS } from './observability/redact.js';
export type { RedactOptions } from './observability/redact.js';
export type {
  AgentObserverOptions,
  ModelPrice,
  OtelApiLike,
  OtelSpanLike,
  OtelAttributeValue,
  UsageLike,
} from './observability/observer.js';

// Errors
export {
  DreamAgentError,
  ERROR_CODES,
  isDreamAgentError,
  serializeError,
  deserializeError,
} from './errors/index.js';
export type { ErrorCode, SerializedError, DreamAgentErrorOptions } from './errors/index.js';

// Domain model
export { JsonSchema, JsonObjectSchema } from './model/json.js';
export type { Json, JsonObject } from './model/json.js';
export { IntentSchema, EntitySchema } from './model/intent.js';
export type { Intent, Entity } from './model/intent.js';
export {
  TodoSchema,
  TodoIdSchema,
  TodoApprovalSchema,
  TodoPatchSchema,
  PlanSchema,
  PlanDraftSchema,
  PlanEditSchema,
  isOutputRef,
} from './model/plan.js';
export type {
  Todo,
  TodoInput,
  Plan,
  PlanDraft,
  PlanDraftInput,
  PlanEdit,
  PlanVersionRecord,
  OutputRef,
} from './model/plan.js';
export { diffPlanVersions, applyPlanPatch } from './model/plan-history.js';
export type { PlanChange, PlanPatch, TodoPatchRecord } from './model/plan-history.js';
export { CommandSchema, ActorSchema, actorId, actorRoles } from './model/commands.js';
export type { Command, CommandInput, CommandType, Actor } from './model/commands.js';
export { AGENT_EVENT_TYPES, REQUEST_EVENT } from './model/events.js';
export type {
  AgentEvent,
  AgentEventType,
  EventOf,
  EventEnvelope,
  EventPayloads,
  EventDraft,
} from './model/events.js';
export { REQUEST_KINDS, SESSION_STATUSES, TODO_STATUSES, RUN_STATUSES } from './model/session.js';
export type {
  HitlRequest,
  RequestKind,
  SessionStatus,
  TurnPhase,
  TurnOutcome,
  TurnState,
  DialogueTurn,
  SessionState,
  SessionRecord,
  TodoStatus,
  TodoRecord,
  SkipReason,
  InboxEntry,
  SessionSnapshot,
  RunResult,
} from './model/session.js';

// Layers
export type {
  LayerContext,
  Cognitive,
  CognitiveContext,
  Planner,
  PlanningContext,
  Executor,
  ExecutionContext,
  ExecutionResult,
  InputRequestSpec,
  Responder,
  ResponseContext,
  TurnSummary,
} from './layers.js';
export { Supervisor, SEED_DOMAINS } from './execution/supervisor.js';

// DAG
export { findPlanIssues, validatePlan, topologicalOrder } from './dag/validate.js';
export type {
  PlanValidationIssue,
  PlanValidationOptions,
  PlanIssueCode,
  PlanSizeLimits,
} from './dag/validate.js';
export {
  readyTodos,
  blockedByFailure,
  isTerminal,
  allTerminal,
  selectWithLimits,
  resourceClass,
} from './dag/scheduler.js';
export type { TodoStateView, ScheduleLimits } from './dag/scheduler.js';
export { collectRefs, resolveInput, getPath } from './dag/refs.js';
export { withTimeout } from './execution/timeout.js';
export { applyPlanEdits, planDiff } from './hitl/edits.js';
export type { ApplyPlanEditsOptions, PlanDiff } from './hitl/edits.js';

// Ports and in-memory implementations
export type {
  Store,
  Commit,
  CommitResult,
  LeaseToken,
  NewSession,
  InboxAck,
  SessionQuery,
} from './ports/store.js';
export type { SessionRecords, RecordsRewrite } from './ports/store.js';
export type { Cache, CacheSetOptions } from './ports/cache.js';
export type { EventBus, BusHandler } from './ports/bus.js';
export type { Clock } from './ports/clock.js';
export { systemClock } from './ports/clock.js';
export type { Logger } from './ports/logger.js';
export { silentLogger, consoleLogger } from './ports/logger.js';
export { MemoryStore } from './ports/memory/store.js';
export type { MemoryStoreOptions } from './ports/memory/store.js';
export { MemoryEventBus } from './ports/memory/bus.js';

// Tools
export type {
  ToolHandle,
  ToolContext,
  ToolCatalog,
  ToolApproval,
  ValidationResult,
  ToolDefinitionError,
  ToolSearchHit,
} from './tools/types.js';
export {
  ToolRegistry,
  ToolExecutor,
  defineTool,
  TOOL_NAME_PATTERN,
  parseToolFile,
  loadToolFile,
  formatToolDefinitionError,
  YamlToolDefinitionSchema,
  DEFAULT_MAX_TOOL_FILE_BYTES,
  compileJsonSchema,
  DEFAULT_JSON_SCHEMA_LIMITS,
  LexicalToolIndex,
  HTTP_METHODS,
} from './tools/index.js';
export type {
  ToolRegistryEvents,
  ToolRegistryEventName,
  ToolRegistryOptions,
  ToolFilter,
  WatchOptions,
  ToolWatcher,
  DiscoverResult,
  ToolExecutorOptions,
  DefineToolOptions,
  CodeToolHandler,
  ToolApprovalInput,
  ToolFileOptions,
  ToolFileResult,
  YamlToolDefinition,
  JsonSchemaLimits,
  JsonValidator,
  CompileJsonSchemaResult,
  SchemaIssue,
  HttpHandlerSpec,
  HttpHandlerOptions,
  ModuleHandlerSpec,
  ToolHandlerFn,
} from './tools/index.js';
export { MemoryCache } from './ports/memory/cache.js';
export type { MemoryCacheOptions } from './ports/memory/cache.js';

// Language models (the port) and the LLM-backed layers
export { UsageTracker, withUsageTracking, estimateTokens } from './ports/llm.js';
export type {
  LanguageModel,
  GenerateRequest,
  GenerateResult,
  StreamChunk,
  TokenUsage,
  FinishReason,
  ChatMessage,
  SystemMessage,
  UserMessage,
  AssistantMessage,
  ToolResultMessage,
  ToolSpec,
  ToolCall,
  ToolChoice,
  ResponseFormat,
  UsageRecord,
  UsageTrackerOptions,
  LlmCallRecord,
  LlmCallScope,
} from './ports/llm.js';
// LLM call attribution and per-tenant token budgets
export { llmScope, observeLlmCalls, isObserved, priceOf, TokenBudget, MemoryCounters } from './llm/index.js';
export type { ObserveLlmOptions, TokenBudgetOptions, BudgetState, CounterStore } from './llm/index.js';
export {
  LlmCognitive,
  LlmPlanner,
  LlmExecutor,
  LlmResponder,
  generateObject,
  MAX_REPAIRS,
  budgetText,
  budgetJson,
  DEFAULT_BLOCK_TOKENS,
  withResilience,
  DEFAULT_RESILIENCE,
  fallbackModel,
  shouldFallBack,
} from './llm/index.js';
export type {
  LlmCognitiveOptions,
  LlmIntentSlot,
  LlmIntentSpec,
  LlmExecutorOptions,
  LlmExecutorOutput,
  LlmPlannerOptions,
  ToolSearch,
  LlmResponderOptions,
  GenerateObjectOptions,
  GenerateObjectResult,
  ObjectSchema,
  OutputFailureStage,
  Budgeted,
  CallLimits,
  ResilienceOptions,
  RetryPolicy,
  FallbackOptions,
  LayerModels,
} from './llm/index.js';

// Vectors
export type {
  Embedder,
  VectorStore,
  VectorItem,
  VectorMatch,
  VectorFilter,
  VectorScope,
  VectorSpaceInfo,
} from './ports/vector.js';

// Offline layers
export { RecipePlanner, parseRecipes, RecipesFileSchema } from './planning/recipes.js';
export type { RecipesFile, Recipe, RecipePlannerOptions } from './planning/recipes.js';
export { SummaryResponder } from './response/summary.js';
export type { SummaryResponderOptions } from './response/summary.js';

// The offline cognitive layer (wink-nlp) is published at `dream-agent/offline` (src/offline.ts), so that
// `import 'dream-agent'` never loads the NLP model.
export { MemoryVectorStore } from './ports/memory/vector.js';
export type { ContextOptions, RecalledContext, MemoryKind } from './cognitive/offline/memory.js';

// Vector memory: embedding cache and checks, document ingestion, erasure
export {
  CachedEmbedder,
  SpaceGuard,
  checkEmbedding,
  ensureEmbeddingSpace,
  DocumentIngestor,
  splitMarkdown,
  splitText,
  eraseVectors,
  memoryNamespace,
} from './memory/index.js';
export type {
  CachedEmbedderOptions,
  Citation,
  DocumentIngestorOptions,
  DocumentInput,
  IngestResult,
  SplitOptions,
  TextChunk,
  EraseOptions,
  EraseTarget,
  AgentMemory,
  AgentMemoryEntry,
  AgentMemoryKind,
  RecalledMemory,
  SessionMemory,
} from './memory/index.js';
