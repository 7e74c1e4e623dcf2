import type { Json, JsonObject } from '../model/json.js';
import type { ExecutionContext } from '../layers.js';

/** Approval settings of a tool. */
export interface ToolApproval {
  required: boolean;
  reason?: string;
  risk?: 'low' | 'medium' | 'high';
  /** Roles allowed to grant; empty means any actor. */
  roles?: string[];
}

/** The result of validating a value against a tool schema. */
export type ValidationResult =
  { ok: true; value: Json } | { ok: false; issues: { path: string; message: string }[] };

/**
 * A registered tool as the engine sees it: metadata, validators and an invoker. Both YAML tools and
 * `defineTool` tools end up in this shape.
 */
export interface ToolHandle {
  name: string;
  /** Version string (from the definition; YAML tools default to a content hash). */
  version: string;
  description: string;
  domain: string;
  tags: string[];
  approval: ToolApproval;
  idempotent: boolean;
  /** Execution-cache TTL in seconds; absent means not cached. */
  cacheTtlSeconds?: number;
  timeoutMs?: number;
  retries?: { max: number; backoffMs: number };
  /** The input JSON Schema (for planners and docs). */
  inputSchema: JsonObject;
  outputSchema?: JsonObject;
  /**
   * A hash of the whole definition: changes whenever the definition does, even when `version` is set
   * explicitly and not bumped (the registry uses it to tell a real change from a re-save).
   */
  revision?: string;
  /** Where it was defined (file path for YAML tools). */
  source?: string;
  validateInput(input: Json): ValidationResult;
  validateOutput(output: Json): ValidationResult;
  /** Runs the handler once (no validation, retries or caching: the ToolExecutor adds those). */
  invoke(input: Json, ctx: ToolContext): Promise<Json>;
}

/** Context passed to a tool handler. */
export interface ToolContext {
  signal: AbortSignal;
  idempotencyKey: string;
  sessionId: string;
  turnId: string;
  todoId: string;
  attempt: number;
  /** 0 on the first call of this execution, 1 on the first retry, and so on. */
  retry?: number;
  /** The version of the tool being run. */
  toolVersion?: string;
  progress: ExecutionContext['progress'];
  delta: ExecutionContext['delta'];
  requestInput: ExecutionContext['requestInput'];
  logger: ExecutionContext['logger'];
  /**
   * Trace-context headers (`traceparent`…) of this todo's span, for the tool's outgoing requests (HTTP
   * tools send them); absent when OpenTelemetry is not configured.
   */
  traceHeaders?: () => Record<string, string>;
}

/** Read access to the registered tools: what the engine and the layers need. */
export interface ToolCatalog {
  /** @returns the tool (latest version when `version` is omitted), or undefined */
  get(name: string, version?: string): ToolHandle | undefined;
  /** @returns every registered tool (latest versions) */
  list(): ToolHandle[];
  /**
   * Finds tools relevant to a query (names, descriptions, tags); optional.
   *
   * @param query - free text
   * @param k - how many hits at most
   * @returns the best hits first
   */
  search?(query: string, k?: number): Promise<ToolSearchHit[]>;
}

/** A problem in a tool definition, located in its file. */
export interface ToolDefinitionError {
  /** The file (as given to the loader); `<code>` for tools defined in code. */
  file: string;
  /** 1-based line of the offending key (1 when unknown). */
  line: number;
  /** 1-based column of the offending key (1 when unknown). */
  column: number;
  /** The key path inside the file (`[1].input.properties.period.type`); empty for file-level errors. */
  path: string;
  /** What is wrong and what was expected. */
  message: string;
}

/** One result of a tool search. */
export interface ToolSearchHit {
  tool: ToolHandle;
  /** Relevance; higher is better (lexical scores and vector similarities are not comparable). */
  score: number;
}
