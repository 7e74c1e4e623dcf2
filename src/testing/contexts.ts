/**
 * Layer contexts for unit-testing a layer on its own (your `Planner`, `Responder`, an LLM-backed layer
 * over a model adapter) without an `Agent`: each function fills every required field with a harmless
 * default and takes overrides. The streaming contexts record what the layer streamed.
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../errors/index.js';
import type {
  CognitiveContext,
  ExecutionContext,
  LayerContext,
  PlanningContext,
  ResponseContext,
} from '../layers.js';
import { SEED_DOMAINS } from '../execution/supervisor.js';
import { systemClock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import { MemoryCache } from '../ports/memory/cache.js';
import type { ToolCatalog, ToolHandle } from '../tools/types.js';

/** One line a {@link memoryLogger} was given. */
export interface LoggedLine {
  /** `debug`, `info`, `warn` or `error`. */
  level: 'debug' | 'info' | 'warn' | 'error';
  /** The structured fields. */
  fields: Record<string, unknown>;
  /** The message, when one was given. */
  msg?: string | undefined;
}

/** A {@link Logger} that keeps what it was given. */
export interface MemoryLogger extends Logger {
  /** Every line, in the order it was logged. */
  lines: LoggedLine[];
}

/** A progress report a {@link testExecutionContext} recorded. */
export interface RecordedProgress {
  /** The message. */
  message: string;
  /** The percentage, when one was given. */
  pct?: number | undefined;
}

/** An {@link ExecutionContext} that records what the executor reported. */
export interface RecordingExecutionContext extends ExecutionContext {
  /** Every `delta` text, in order. */
  deltas: string[];
  /** Every `progress` report, in order. */
  progressed: RecordedProgress[];
}

/** A {@link ResponseContext} that records the streamed answer. */
export interface RecordingResponseContext extends ResponseContext {
  /** Every `delta` text, in order. */
  deltas: string[];
}

/**
 * A {@link Logger} that keeps every line in memory, for asserting on what a layer logged.
 *
 * @returns the logger; its `lines` are in the order they were logged
 * @example
 * ```ts
 * const logger = memoryLogger();
 * await planner.plan(intent, testPlanningContext({ logger }));
 * logger.lines.filter((l) => l.level === 'warn'); // what it warned about
 * ```
 */
export function memoryLogger(): MemoryLogger {
  const lines: LoggedLine[] = [];
  const at =
    (level: LoggedLine['level']) =>
    (fields: Record<string, unknown>, msg?: string): void => {
      lines.push({ level, fields, msg });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/**
 * A {@link ToolCatalog} over a fixed list of tools (a `ToolRegistry` without loading or versions).
 *
 * @param tools - the tools, e.g. from `defineTool`
 * @returns the catalog; `get(name)` finds a tool by name
 * @throws DreamAgentError `INVALID_INPUT` when two tools share a name
 */
export function toolCatalog(tools: readonly ToolHandle[]): ToolCatalog {
  const byName = new Map<string, ToolHandle>();
  for (const t of tools) {
    if (byName.has(t.name)) {
      throw new DreamAgentError('INVALID_INPUT', `toolCatalog: two tools are named "${t.name}"`);
    }
    byName.set(t.name, t);
  }
  return { get: (name) => byName.get(name), list: () => [...tools] };
}

function base(): LayerContext {
  return {
    sessionId: 'test-session',
    turnId: 'test-turn',
    signal: new AbortController().signal,
    clock: systemClock,
    logger: memoryLogger(),
    metadata: {},
  };
}

/**
 * A Cognitive layer context: no history, no slots, no clarifications.
 *
 * @param over - fields to set
 * @returns the context
 */
export function testCognitiveContext(over: Partial<CognitiveContext> = {}): CognitiveContext {
  return { ...base(), history: [], slots: {}, clarifications: [], ...over };
}

/**
 * A Planning layer context: no tools (pass `tools: toolCatalog([...])`), the four seed domains, no
 * history.
 *
 * @param over - fields to set (`input`, `tools`, `domains`…)
 * @returns the context
 * @example
 * ```ts
 * const draft = await myPlanner.plan(intent, testPlanningContext({ input: 'report Q3 sales', tools }));
 * ```
 */
export function testPlanningContext(over: Partial<PlanningContext> = {}): PlanningContext {
  return {
    ...base(),
    input: '',
    tools: toolCatalog([]),
    domains: [...SEED_DOMAINS],
    history: [],
    ...over,
  };
}

/**
 * An Execution layer context for one todo that records its progress and deltas; `requestInput` rejects
 * unless overridden, the cache is an empty {@link MemoryCache}.
 *
 * @param over - fields to set
 * @returns the context, with `deltas` and `progressed` (the progress messages) recorded
 */
export function testExecutionContext(over: Partial<ExecutionContext> = {}): RecordingExecutionContext {
  const deltas: string[] = [];
  const progressed: RecordedProgress[] = [];
  return {
    ...base(),
    todoId: 'test-todo',
    idempotencyKey: 'test-key',
    attempt: 1,
    plan: { id: 'test-plan', version: 1, todos: [] },
    progress: (message, pct) => {
      progressed.push({ message, pct });
    },
    delta: (text) => {
      deltas.push(text);
    },
    requestInput: () =>
      Promise.reject(new DreamAgentError('INVALID_STATE', 'testExecutionContext: no input is scripted')),
    tools: toolCatalog([]),
    cache: new MemoryCache(),
    ...over,
    deltas,
    progressed,
  };
}

/**
 * A Response layer context that records the streamed answer.
 *
 * @param over - fields to set
 * @returns the context, with `deltas` (every streamed piece, in order)
 * @example
 * ```ts
 * const ctx = testResponseContext();
 * const answer = await myResponder.respond({ input: 'hi', plan: null, todos: [] }, ctx);
 * ctx.deltas.join('') === answer;
 * ```
 */
export function testResponseContext(over: Partial<ResponseContext> = {}): RecordingResponseContext {
  const deltas: string[] = [];
  return {
    ...base(),
    history: [],
    delta: (text) => {
      deltas.push(text);
    },
    ...over,
    deltas,
  };
}
