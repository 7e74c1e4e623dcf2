/**
 * Declarative tools: YAML and code definitions, the registry with hot reload and search, the
 * ToolExecutor with validation, timeouts, retries and the execution cache.
 *
 * @packageDocumentation
 */
export type {
  ToolApproval,
  ToolCatalog,
  ToolContext,
  ToolDefinitionError,
  ToolHandle,
  ToolSearchHit,
  ValidationResult,
} from './types.js';
export { canonicalJson, toolCacheKey } from './canonical.js';
export {
  compileJsonSchema,
  DEFAULT_JSON_SCHEMA_LIMITS,
  type CompileJsonSchemaResult,
  type JsonSchemaLimits,
  type JsonValidator,
  type SchemaIssue,
} from './json-schema.js';
export {
  defineTool,
  TOOL_NAME_PATTERN,
  type CodeToolHandler,
  type DefineToolOptions,
  type ToolApprovalInput,
} from './define.js';
export {
  formatToolDefinitionError,
  loadToolFile,
  parseToolFile,
  YamlToolDefinitionSchema,
  DEFAULT_MAX_TOOL_FILE_BYTES,
  type ToolFileOptions,
  type ToolFileResult,
  type YamlToolDefinition,
} from './yaml.js';
export { HTTP_METHODS, type HttpHandlerOptions, type HttpHandlerSpec } from './handlers/http.js';
export type { ModuleHandlerSpec, ToolHandlerFn } from './handlers/module.js';
export {
  ToolRegistry,
  type DiscoverResult,
  type ToolFilter,
  type ToolRegistryEventName,
  type ToolRegistryEvents,
  type ToolRegistryOptions,
  type ToolWatcher,
  type WatchOptions,
} from './registry.js';
export { LexicalToolIndex, tokenize } from './search.js';
export { TOOL_VERSION_METADATA_KEY, ToolExecutor, type ToolExecutorOptions } from './executor.js';
