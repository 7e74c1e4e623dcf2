/**
 * Small fixtures for the LLM layer tests: a tool catalog over JSON-Schema tools and layer contexts.
 */
import { z } from 'zod';
import type {
  CognitiveContext,
  ExecutionContext,
  LayerContext,
  PlanningContext,
  ResponseContext,
} from '../../src/layers.js';
import type { Json, JsonObject } from '../../src/model/json.js';
import type { Plan } from '../../src/model/plan.js';
import { systemClock } from '../../src/ports/clock.js';
import type { Logger } from '../../src/ports/logger.js';
import type { ToolCatalog, ToolHandle, ValidationResult } from '../../src/tools/types.js';

/** A logger that keeps what it was told. */
export function memoryLogger(): Logger & { lines: { level: string; msg?: string | undefined }[] } {
  const lines: { level: string; msg?: string | undefined }[] = [];
  const at =
    (level: string) =>
    (_obj: Record<string, unknown>, msg?: string): void => {
      lines.push({ level, msg });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A tool handle validated by its JSON Schema (through zod's converter). */
export function tool(
  name: string,
  options: {
    domain?: string;
    description?: string;
    input?: JsonObject;
    approval?: boolean;
    tags?: string[];
    idempotent?: boolean;
  } = {},
): ToolHandle {
  const inputSchema = options.input ?? { type: 'object' };
  const validator = z.fromJSONSchema(inputSchema);
  const validate = (value: Json): ValidationResult => {
    const r = validator.safeParse(value);
    return r.success
      ? { ok: true, value }
      : {
          ok: false,
          issues: r.error.issues.map((i) => ({ path: i.path.map(String).join('/'), message: i.message })),
        };
  };
  return {
    name,
    version: '1',
    description: options.description ?? `The ${name} tool`,
    domain: options.domain ?? 'data',
    tags: options.tags ?? [],
    approval: { required: options.approval ?? false },
    idempotent: options.idempotent ?? true,
    inputSchema,
    validateInput: validate,
    validateOutput: (output) => ({ ok: true, value: output }),
    invoke: () => Promise.reject(new Error(`tool ${name} must not run in LLM layer tests`)),
  };
}

/** A catalog over the given tools; counts invocations through `invoked`. */
export function catalog(tools: ToolHandle[]): ToolCatalog {
  const byName = new Map(tools.map((t) => [t.name, t]));
  return { get: (name) => byName.get(name), list: () => [...tools] };
}

/** The standard tools of the sales journey. */
export function salesTools(): ToolHandle[] {
  return [
    tool('sales.query', {
      domain: 'data',
      description: 'Query sales rows for a period and optional region',
      input: {
        type: 'object',
        properties: { period: { type: 'string' }, region: { type: 'string' } },
        required: ['period'],
      },
      tags: ['sales', 'sql'],
    }),
    tool('report.render', {
      domain: 'content',
      description: 'Render a report document from rows',
      input: {
        type: 'object',
        properties: { rows: { type: 'array' }, title: { type: 'string' } },
        required: ['rows'],
      },
    }),
    tool('email.send', {
      domain: 'ops',
      description: 'Send an email to recipients',
      input: {
        type: 'object',
        properties: { to: { type: 'array', items: { type: 'string' } }, body: { type: 'string' } },
        required: ['to', 'body'],
      },
      approval: true,
      idempotent: false,
    }),
  ];
}

function base(signal?: AbortSignal, logger?: Logger): LayerContext {
  return {
    sessionId: 's1',
    turnId: 't1',
    signal: signal ?? new AbortController().signal,
    clock: systemClock,
    logger: logger ?? memoryLogger(),
    metadata: {},
  };
}

/** A cognitive context. */
export function cognitiveContext(over: Partial<CognitiveContext> = {}): CognitiveContext {
  return { ...base(), history: [], slots: {}, clarifications: [], ...over };
}

/** A planning context over the sales tools (or the given catalog). */
export function planningContext(over: Partial<PlanningContext> = {}): PlanningContext {
  return {
    ...base(),
    input: 'analyse Q3 sales by region, draft a report and email it to the team',
    tools: catalog(salesTools()),
    domains: ['data', 'insight', 'content', 'ops'],
    history: [],
    ...over,
  };
}

/** An execution context that records deltas. */
export function executionContext(
  over: Partial<ExecutionContext> = {},
): ExecutionContext & { deltas: string[] } {
  const deltas: string[] = [];
  const plan: Plan = { id: 'p1', version: 1, todos: [] };
  return {
    ...base(),
    todoId: 'summary',
    idempotencyKey: 'k1',
    attempt: 1,
    plan,
    progress: () => undefined,
    delta: (text) => {
      deltas.push(text);
    },
    requestInput: () => Promise.reject(new Error('no input in these tests')),
    tools: catalog([]),
    cache: {
      get: () => Promise.resolve(undefined),
      set: () => Promise.resolve(),
      delete: () => Promise.resolve(),
    },
    ...over,
    deltas,
  };
}

/** A response context that records deltas. */
export function responseContext(over: Partial<ResponseContext> = {}): ResponseContext & { deltas: string[] } {
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
