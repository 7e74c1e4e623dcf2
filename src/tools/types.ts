import type { Json, JsonObject } from '../model/json.js';
import type { ExecutionContext } from '../layers.js';

/** Approval settings of a tool. */
export interface ToolApproval {
  /**
   * Whether a human must approve a todo that runs this tool before it runs (the agent's policy may still ask
   * when false).
   */
  required: boolean;
  /** Why approval is needed, shown to the approver. Unset: the approval request gives no reason. */
  reason?: string;
  /**
   * How risky the tool's effect is, shown to the approver in the approval request. Unset: not
   * rated.
   */
  risk?: 'low' | 'medium' | 'high';
  /** Roles allowed to grant; empty means any actor. */
  roles?: string[];
}

/** The result of validating a value against a tool schema. */
export type ValidationResult =
  | {
      /** The value is valid. */
      ok: true;
      /** The value, with the schema's defaults applied. */
      value: Json;
    }
  | {
      /** The value is invalid. */
      ok: false;
      /** The problems found (at least one). */
      issues: {
        /**
         * Where the problem is, as a key path into the value (`rows[0].total`); empty for the value itself.
         */
        path: string;
        /** What is wrong and what was expected. */
        message: string;
      }[];
    };

/**
 * A registered tool as the engine sees it: metadata, validators and an invoker. Both YAML tools and
 * `defineTool` tools end up in this shape.
 */
export interface ToolHandle {
  /** Unique name in the registry (`sales.query`): a letter, then letters, digits, `_`, `.`, `:` or `-`. */
  name: string;
  /** Version string (from the definition; YAML tools default to a content hash). */
  version: string;
  /** What the tool does, shown to planners (and the model) to choose it and to users in plan review. */
  description: string;
  /** Which executor runs it (`data`, `insight`, `content`, `ops`, or a custom domain). */
  domain: string;
  /** Free labels for search and {@link ToolFilter}; empty when the definition has none. */
  tags: string[];
  /** The tool's approval settings (`{ required: false }` when the definition sets none). */
  approval: ToolApproval;
  /**
   * Safe to run again after a crash with the same input (false unless the definition says so): a todo
   * interrupted mid-run is re-run when true, and waits for a human's recovery decision (retry, mark done
   * or skip) when false.
   */
  idempotent: boolean;
  /** Execution-cache TTL in seconds; absent means not cached. */
  cacheTtlSeconds?: number;
  /**
   * Per-attempt timeout in ms (a todo's `timeoutMs` overrides it); an attempt that exceeds it fails with
   * `TIMEOUT` (retryable). Unset: the executor's default, if any.
   */
  timeoutMs?: number;
  /** Retries of retryable failures. Unset: none. */
  retries?: {
    /** Extra attempts after the first (0–10). */
    max: number;
    /** Base delay in ms: retry n waits a random time up to `backoffMs * 2^n` (full jitter). */
    backoffMs: number;
  };
  /** The input JSON Schema (for planners and docs). */
  inputSchema: JsonObject;
  /** The output JSON Schema, when the definition declares one; without it any JSON output is accepted. */
  outputSchema?: JsonObject;
  /**
   * A hash of the whole definition: changes whenever the definition does, even when `version` is set
   * explicitly and not bumped (the registry uses it to tell a real change from a re-save).
   */
  revision?: string;
  /** Where it was defined (file path for YAML tools). */
  source?: string;
  /**
   * Validates (and, where the schema has defaults, completes) an input; the executor runs it before `invoke`,
   * and a failure fails the todo with `INVALID_INPUT` (not retried).
   */
  validateInput(input: Json): ValidationResult;
  /**
   * Validates a handler's output against `outputSchema` (or checks that it is plain JSON); a failure fails
   * the todo with `TOOL_FAILED` (not retried).
   */
  validateOutput(output: Json): ValidationResult;
  /** Runs the handler once (no validation, retries or caching: the ToolExecutor adds those). */
  invoke(input: Json, ctx: ToolContext): Promise<Json>;
}

/** Context passed to a tool handler. */
export interface ToolContext {
  /**
   * Aborted when the run is cancelled or this attempt times out; pass it to every request the handler makes.
   */
  signal: AbortSignal;
  /**
   * A hash of session, turn and todo: the same on every attempt and retry, in every process. Send it to
   * services that de-duplicate (HTTP tools send it as `Idempotency-Key`).
   */
  idempotencyKey: string;
  /** The session the todo belongs to. */
  sessionId: string;
  /** The turn whose plan the todo is part of. */
  turnId: string;
  /** The todo being run. */
  todoId: string;
  /**
   * 1-based attempt number of the todo: re-runs after a crash or an input request count, retries within one
   * attempt do not (see `retry`).
   */
  attempt: number;
  /** 0 on the first call of this execution, 1 on the first retry, and so on. */
  retry?: number;
  /** The version of the tool being run. */
  toolVersion?: string;
  /** Reports progress (`message`, optional `pct` 0–100) as a `todo.progress` event. */
  progress: ExecutionContext['progress'];
  /** Streams output text as `todo.output.delta` events. */
  delta: ExecutionContext['delta'];
  /**
   * Asks a human for a value and returns it once given. The todo suspends durably and later runs again from
   * the start, so code before this call must be free of side effects.
   */
  requestInput: ExecutionContext['requestInput'];
  /** The agent's logger (structured fields first, then the message). */
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
  /** The tool found. */
  tool: ToolHandle;
  /** Relevance; higher is better (lexical scores and vector similarities are not comparable). */
  score: number;
}
