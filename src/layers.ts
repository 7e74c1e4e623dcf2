/**
 * The four pluggable layers and the contexts they receive. Any structurally matching object works.
 *
 * @packageDocumentation
 */
import type { Cache } from './ports/cache.js';
import type { Clock } from './ports/clock.js';
import type { Logger } from './ports/logger.js';
import type { LlmCallRecord } from './ports/llm.js';
import type { Intent } from './model/intent.js';
import type { Json, JsonObject } from './model/json.js';
import type { Plan, PlanDraftInput, Todo } from './model/plan.js';
import type { DialogueTurn, TodoRecord } from './model/session.js';
import type { ToolCatalog } from './tools/types.js';
import type { SessionMemory } from './memory/session.js';

/** What every layer receives. */
export interface LayerContext {
  /** The session this call belongs to. */
  sessionId: string;
  /** The turn this call belongs to. */
  turnId: string;
  /** Aborted when the turn is cancelled or the agent closes. */
  signal: AbortSignal;
  /** The agent's clock: read time from it (tests pass a `ManualClock`). */
  clock: Clock;
  /** The agent's logger. */
  logger: Logger;
  /** Host metadata of the session. */
  metadata: JsonObject;
  /** The session's tenant, when it has one. */
  tenantId?: string;
  /**
   * Long-term memory recall for this session and tenant (set when the agent's `memory` can recall):
   * the LLM layers put relevant past turns, todo results and documents into their prompts with it.
   */
  memory?: SessionMemory;
  /**
   * Receives the record of each LLM call made for this context (the agent emits it as `llm.call`). The
   * LLM layers pass it on through `llmScope(ctx)`; custom layers calling a model should do the same.
   */
  reportLlmCall?: (record: LlmCallRecord) => void;
  /**
   * W3C trace-context headers (`traceparent`, `tracestate`) of a todo's span (or the turn's), for
   * outgoing requests; set only when OpenTelemetry is configured.
   */
  traceHeaders?: (todoId?: string) => Record<string, string>;
}

/** Context of the Cognitive layer. */
export interface CognitiveContext extends LayerContext {
  /** Recent turns of this session, oldest first. */
  history: DialogueTurn[];
  /** Slots carried over from earlier turns. */
  slots: JsonObject;
  /** Clarification questions and answers of this turn, in order. */
  clarifications: {
    /** The question asked. */
    question: string;
    /** The user's answer. */
    answer: string;
    /** The slot the answer fills, when the question was about one. */
    slot?: string;
  }[];
}

/** Layer 1: understands the user's input. */
export interface Cognitive {
  /**
   * @param input - the user's text
   * @param ctx - history, slots, clarifications
   * @returns the intent; set `clarification` (or leave `missingSlots`) to ask the user first
   */
  understand(input: string, ctx: CognitiveContext): Promise<Intent>;
}

/** Context of the Planning layer. */
export interface PlanningContext extends LayerContext {
  /** The user's text of this turn. */
  input: string;
  /** The tools a todo may name. */
  tools: ToolCatalog;
  /** Executor domains available. */
  domains: string[];
  /** Domains whose executors can run a todo that names no tool (all of `domains` when absent). */
  toolFreeDomains?: string[];
  /** Recent turns of this session, oldest first. */
  history: DialogueTurn[];
}

/** Layer 2: turns an intent into a DAG of todos (validated by the agent before use). */
export interface Planner {
  /**
   * @param intent - what the user wants
   * @param ctx - tools, domains, dialogue
   * @returns the todos (order matters: it breaks scheduling ties)
   */
  plan(intent: Intent, ctx: PlanningContext): Promise<PlanDraftInput>;
}

/** A request for information from a human, made by an executor mid-todo. */
export interface InputRequestSpec {
  /** The question shown to the human. */
  prompt: string;
  /** JSON Schema the answer must satisfy (validated before the todo continues). */
  schema?: JsonObject;
  /**
   * A stable key for this question within the todo (defaults to its call order: `input-1`, `input-2`…).
   * The answer is replayed under this key when the todo continues.
   */
  key?: string;
}

/** Context of an executor running one todo. */
export interface ExecutionContext extends LayerContext {
  /** The todo being run. */
  todoId: string;
  /** hash(sessionId, turnId, todoId): the same on every attempt, in every process. */
  idempotencyKey: string;
  /** 1-based attempt number (re-runs after a crash or an input request count too). */
  attempt: number;
  /** The plan being executed. */
  plan: Plan;
  /** Reports progress (`todo.progress`). */
  progress(message: string, pct?: number): void;
  /** Streams output text (`todo.output.delta`). */
  delta(text: string): void;
  /**
   * Asks a human for a value. The todo suspends durably (no process resources) and continues — by
   * running again from the start — once `input.provide` delivers a valid value, which this call then
   * returns. Code before this call must therefore be free of side effects.
   */
  requestInput(spec: InputRequestSpec): Promise<Json>;
  /** The agent's tools. */
  tools: ToolCatalog;
  /** The agent's cache (tool results are cached through it). */
  cache: Cache;
}

/** What an executor returns. */
export interface ExecutionResult {
  /** The todo's output (JSON; later todos reference it with `$ref`). */
  output: Json;
  /** True when served from the execution cache (`todo.completed` carries it). */
  cached?: boolean;
}

/** Layer 3: runs one todo. The Supervisor picks the executor by `todo.domain`. */
export interface Executor {
  /**
   * @param todo - the todo
   * @param input - its input with dependency references resolved
   * @param ctx - execution context
   * @returns the output
   */
  execute(todo: Todo, input: JsonObject, ctx: ExecutionContext): Promise<ExecutionResult>;
}

/** What the Response layer is given. */
export interface TurnSummary {
  /** The user's text of this turn. */
  input: string;
  /** What the Cognitive layer understood, when it ran. */
  intent?: Intent;
  /** The plan that ran, or null when the turn needed none. */
  plan: Plan | null;
  /** Todo states in plan order. */
  todos: TodoRecord[];
}

/** Context of the Response layer. */
export interface ResponseContext extends LayerContext {
  /** Streams answer text (`response.delta`). */
  delta(text: string): void;
  /** Recent turns of this session, oldest first. */
  history: DialogueTurn[];
}

/** Layer 4: turns results into an answer. */
export interface Responder {
  /**
   * @param turn - the turn's input, intent, plan and todo results
   * @param ctx - response context
   * @returns the full answer text
   */
  respond(turn: TurnSummary, ctx: ResponseContext): Promise<string>;
}
