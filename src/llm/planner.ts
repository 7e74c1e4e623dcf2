/**
 * LlmPlanner: the Planning layer backed by a language model.
 *
 * @packageDocumentation
 */
import { recallForPrompt } from '../memory/session.js';
import { z } from 'zod';
import { collectRefs } from '../dag/refs.js';
import { findPlanIssues, type PlanValidationIssue } from '../dag/validate.js';
import { DreamAgentError, isDreamAgentError } from '../errors/index.js';
import type { Planner, PlanningContext } from '../layers.js';
import type { Intent } from '../model/intent.js';
import type { Json, JsonObject } from '../model/json.js';
import { TodoSchema, type PlanDraft, type Todo } from '../model/plan.js';
import type { LanguageModel } from '../ports/llm.js';
import { toLlmError } from '../ports/llm.js';
import { llmScope } from './observe.js';
import type { ToolCatalog, ToolHandle } from '../tools/types.js';
import { planRepairPrompt, plannerPrompt } from './prompts.js';
import { formatZodIssues, generateObject } from './structured.js';

/** Picks the `k` tools most relevant to `query` (e.g. the tool registry's search). */
export type ToolSearch = (
  query: string,
  k: number,
  catalog: ToolCatalog,
) => readonly ToolHandle[] | Promise<readonly ToolHandle[]>;

/** Options of {@link LlmPlanner}. */
export interface LlmPlannerOptions {
  /** The model this layer calls (wrap it in `withResilience` for timeouts and retries). */
  model: LanguageModel;
  /** At most this many tools go into the prompt (the top-k by `searchTools`); default 20. */
  maxTools?: number;
  /** Relevance search used when there are more than `maxTools` tools; default: the catalog's own search, else a deterministic lexical ranking. */
  searchTools?: ToolSearch;
  /** Domains that may run todos without a tool (LLM executors); default `insight` and `content`. */
  toolFreeDomains?: readonly string[];
  /** Upper bound on plan size; default 20. */
  maxTodos?: number;
  /** Re-prompts after an invalid plan (0–5); default 1. */
  maxRepairs?: number;
  /** Accept a plan with no todos (default false: an empty plan is an error the model must repair). */
  allowEmpty?: boolean;
  /** How many recent turns to show (default 4). */
  maxHistory?: number;
  /**
   * Budget of the "relevant memory" block (estimated tokens): the session's past turns, todo results and
   * documents recalled through `ctx.memory` (the agent's `memory`). Default 500; 0 leaves memory out.
   */
  memoryTokens?: number;
  /** Sampling temperature of the planning call (default 0: the most repeatable plans). */
  temperature?: number;
  /** Upper bound on the planning call's output, in tokens (default 4096). */
  maxTokens?: number;
}

const RawTodoSchema = z.object({
  id: z.string(),
  title: z.string(),
  description: z.string().nullish(),
  tool: z.string().nullish(),
  domain: z.string().nullish(),
  input: z
    .record(z.string(), z.json() as z.ZodType<Json>)
    .nullish()
    .transform((v) => v ?? {}),
  dependsOn: z
    .array(z.string())
    .nullish()
    .transform((v) => v ?? []),
  /** Read only to decide whether the model asked for *more* approval; never to lower it. */
  approval: z.unknown().optional(),
});
const RawPlanSchema = z.object({
  rationale: z.string().nullish(),
  todos: z.array(RawTodoSchema),
});
type RawPlan = z.infer<typeof RawPlanSchema>;

/** The compact JSON Schema the provider sees. */
const PLAN_JSON_SCHEMA: JsonObject = {
  type: 'object',
  properties: {
    rationale: { type: 'string' },
    todos: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          title: { type: 'string' },
          description: { type: 'string' },
          tool: { type: 'string' },
          domain: { type: 'string' },
          input: { type: 'object' },
          dependsOn: { type: 'array', items: { type: 'string' } },
        },
        required: ['id', 'title', 'input', 'dependsOn'],
      },
    },
  },
  required: ['rationale', 'todos'],
};

/** The result of checking one candidate plan. */
interface Checked {
  draft: PlanDraft;
  issues: PlanValidationIssue[];
}

/**
 * The Planning layer backed by a language model: a DAG of todos over the registered tools (only the
 * top-k relevant tools go into the prompt when there are many), with dependencies and `$ref` references
 * to dependency outputs.
 *
 * Its output is validated like any plan — unknown tool, unknown domain, cycle, dangling dependency,
 * dangling reference, input failing the tool's schema, empty plan — and an invalid plan is re-prompted
 * once (by default) with the exact errors, then refused with `INVALID_PLAN`. An invalid plan is never
 * returned. Safety settings are not the model's to choose: a todo's domain is its tool's domain, an
 * approval flag is kept only when it *adds* an approval gate, and `idempotent`, `timeoutMs`, `resource`
 * and `metadata` are dropped (they come from the tool definition).
 *
 * @example
 * ```ts
 * const agent = new Agent({ tools, llm, planner: new LlmPlanner({ model: llm, maxTools: 15 }) });
 * ```
 */
export class LlmPlanner implements Planner {
  readonly #options: LlmPlannerOptions;

  /**
   * @param options - model, tool selection, bounds
   * @throws DreamAgentError `INVALID_INPUT` for a non-positive `maxTools` or `maxTodos`
   */
  constructor(options: LlmPlannerOptions) {
    for (const key of ['maxTools', 'maxTodos'] as const) {
      const v = options[key];
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
        throw new DreamAgentError('INVALID_INPUT', `${key} must be a positive integer, got ${String(v)}`);
      }
    }
    this.#options = options;
  }

  /**
   * {@inheritDoc Planner.plan}
   *
   * @throws DreamAgentError `INVALID_PLAN` when the plan is still invalid after the repair (details:
   *   `issues`, `raw`); `LLM_INVALID_OUTPUT` when the output is not a plan-shaped JSON value; provider
   *   errors as the adapter typed them; `ABORTED`
   */
  async plan(intent: Intent, ctx: PlanningContext): Promise<PlanDraft> {
    try {
      return await this.#plan(intent, ctx);
    } catch (error) {
      throw toLlmError(error, ctx.signal);
    }
  }

  async #plan(intent: Intent, ctx: PlanningContext): Promise<PlanDraft> {
    const tools = await this.#selectTools(intent, ctx);
    // Only domains whose executor can really run a tool-free todo (e.g. an LlmExecutor) qualify.
    const canRunToolFree = ctx.toolFreeDomains ?? ctx.domains;
    const toolFree = (this.#options.toolFreeDomains ?? ['insight', 'content']).filter((d) =>
      canRunToolFree.includes(d),
    );
    const maxTodos = this.#options.maxTodos ?? 20;
    const maxHistory = this.#options.maxHistory ?? 4;
    const memoryTokens = this.#options.memoryTokens ?? 500;
    const memory = await recallForPrompt(ctx, ctx.input, memoryTokens);
    const messages = plannerPrompt({
      ...(memory !== '' ? { memory, memoryTokens } : {}),
      input: ctx.input,
      intent,
      tools: tools.map((t) => ({
        name: t.name,
        description: t.description,
        domain: t.domain,
        inputSchema: t.inputSchema,
        approvalRequired: t.approval.required,
      })),
      toolFreeDomains: toolFree,
      history: maxHistory === 0 ? [] : ctx.history.slice(-maxHistory),
      maxTodos,
    });
    let last: Checked | undefined;
    const check = (raw: RawPlan): Checked => (last = this.#check(raw, ctx, toolFree, maxTodos));
    try {
      const { object } = await generateObject(this.#options.model, {
        schema: RawPlanSchema,
        jsonSchema: PLAN_JSON_SCHEMA,
        name: 'plan',
        messages,
        validate: (raw) => check(raw).issues.map((i) => i.message),
        repairPrompt: (issues) => planRepairPrompt(issues),
        maxRepairs: this.#options.maxRepairs ?? 1,
        temperature: this.#options.temperature ?? 0,
        maxTokens: this.#options.maxTokens ?? 4096,
        signal: ctx.signal,
        layer: 'planner',
        scope: llmScope(ctx),
      });
      // Re-check the accepted output: the draft returned is exactly what passed validation.
      const { draft, issues } = this.#check(object, ctx, toolFree, maxTodos);
      if (issues.length > 0) throw invalidPlan(issues, undefined, 0);
      return draft;
    } catch (error) {
      if (
        isDreamAgentError(error, 'LLM_INVALID_OUTPUT') &&
        error.details['stage'] === 'validate' &&
        last !== undefined
      ) {
        throw invalidPlan(last.issues, error.details['raw'], error.details['attempts'], error);
      }
      throw error;
    }
  }

  async #selectTools(intent: Intent, ctx: PlanningContext): Promise<readonly ToolHandle[]> {
    const all = ctx.tools.list();
    const k = this.#options.maxTools ?? 20;
    if (all.length <= k) return all;
    const query = [ctx.input, intent.name, ...Object.values(intent.slots).map((v) => JSON.stringify(v))].join(
      ' ',
    );
    if (!this.#options.searchTools && ctx.tools.search) {
      // The registry's own search (lexical, or semantic when it has a VectorStore + Embedder).
      const hits = await ctx.tools.search(query, k);
      const found = hits.map((h) => h.tool);
      if (found.length > 0) return found.slice(0, k);
    }
    const search = this.#options.searchTools ?? rankToolsLexically;
    const found = await search(query, k, ctx.tools);
    return found.slice(0, k);
  }

  #check(raw: RawPlan, ctx: PlanningContext, toolFree: readonly string[], maxTodos: number): Checked {
    const issues: PlanValidationIssue[] = [];
    const todos: Todo[] = [];
    if (raw.todos.length === 0 && this.#options.allowEmpty !== true) {
      issues.push({ code: 'invalid_input', message: 'the plan has no todos: at least one todo is required' });
    }
    if (raw.todos.length > maxTodos) {
      issues.push({
        code: 'invalid_input',
        message: `the plan has ${raw.todos.length} todos; at most ${maxTodos} are allowed`,
      });
    }
    for (const [index, r] of raw.todos.entries()) {
      const toolName =
        r.tool === null || r.tool === undefined || r.tool.trim() === '' ? undefined : r.tool.trim();
      const tool = toolName === undefined ? undefined : ctx.tools.get(toolName);
      let domain: string;
      if (tool !== undefined) {
        // The tool decides which executor runs it; a model-chosen domain could route it around policy.
        domain = tool.domain;
      } else if (toolName === undefined) {
        domain = r.domain ?? toolFree[0] ?? '';
        if (!toolFree.includes(domain)) {
          issues.push({
            code: 'unknown_tool',
            todoId: r.id,
            message: `todo "${r.id}" has no tool, but only todos of domain ${toolFree.length === 0 ? '(none)' : toolFree.map((d) => `"${d}"`).join(' or ')} may run without one`,
          });
        }
      } else {
        // Unknown tool: findPlanIssues reports it; keep a plausible domain so that is the only issue.
        domain = r.domain ?? ctx.domains[0] ?? 'data';
      }
      const candidate = {
        id: r.id,
        title: r.title,
        ...(r.description === null || r.description === undefined ? {} : { description: r.description }),
        domain,
        ...(toolName === undefined ? {} : { tool: toolName }),
        input: r.input,
        dependsOn: r.dependsOn,
        ...(addsApproval(r.approval) ? { approval: true } : {}),
      };
      const parsed = TodoSchema.safeParse(candidate);
      if (!parsed.success) {
        for (const message of formatZodIssues(parsed.error)) {
          issues.push({
            code: 'invalid_input',
            todoId: r.id,
            message: `todo #${index + 1} ("${r.id}"): ${message}`,
          });
        }
        continue;
      }
      todos.push(parsed.data);
    }
    issues.push(
      ...findPlanIssues(todos, {
        domains: ctx.domains,
        hasTool: (name) => ctx.tools.get(name) !== undefined,
        validateToolInput: (todo) => validateToolInput(todo, ctx.tools),
      }),
    );
    const rationale = raw.rationale ?? undefined;
    return { draft: { todos, ...(rationale === undefined ? {} : { rationale }) }, issues };
  }
}

/**
 * Whether a model-written approval value asks for an approval gate. Only an escalation is honoured:
 * `false` or `{ required: false }` never lowers the tool's own flag (the engine decides from the tool
 * and the policy).
 */
function addsApproval(value: unknown): boolean {
  if (value === true) return true;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    return (value as { required?: unknown }).required !== false;
  }
  return false;
}

/**
 * Checks a todo's input against its tool's schema. Top-level fields holding `$ref`s are only known at
 * run time, so they are left out and issues about them ignored (the executor validates the resolved
 * input before the tool runs).
 */
function validateToolInput(todo: Todo, catalog: ToolCatalog): string[] {
  if (todo.tool === undefined) return [];
  const tool = catalog.get(todo.tool);
  if (tool === undefined) return [];
  const refKeys = new Set(
    Object.keys(todo.input).filter((k) => collectRefs(todo.input[k] as Json).length > 0),
  );
  const concrete: JsonObject = Object.fromEntries(
    Object.entries(todo.input).filter(([k]) => !refKeys.has(k)),
  );
  let result;
  try {
    result = tool.validateInput(concrete);
  } catch (error) {
    return [`the input could not be validated: ${error instanceof Error ? error.message : String(error)}`];
  }
  if (result.ok) return [];
  return result.issues
    .filter((issue) => !mentionsAny(issue, refKeys))
    .map((issue) =>
      issue.path === '' || issue.path === '/' ? issue.message : `${issue.path}: ${issue.message}`,
    );
}

function mentionsAny(issue: { path: string; message: string }, keys: ReadonlySet<string>): boolean {
  if (keys.size === 0) return false;
  const first = issue.path.replace(/^[$#]?[./]?/, '').split(/[./[\]]/)[0] ?? '';
  if (keys.has(first)) return true;
  // "missing required property 'x'" style messages name the key instead of pointing at it.
  return [...keys].some((k) =>
    new RegExp(`['"\`]${k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}['"\`]`).test(issue.message),
  );
}

function invalidPlan(
  issues: readonly PlanValidationIssue[],
  raw: unknown,
  attempts: unknown,
  cause?: unknown,
): DreamAgentError {
  const first = issues[0]?.message ?? 'unknown issue';
  const more = issues.length - 1;
  return new DreamAgentError(
    'INVALID_PLAN',
    `the model's plan is invalid${typeof attempts === 'number' && attempts > 0 ? ` after ${attempts} attempt(s)` : ''}: ${first}${more > 0 ? ` (and ${more} more)` : ''}`,
    {
      retryable: false,
      cause,
      details: { issues: issues.map((i) => ({ ...i })), raw: raw ?? null, attempts: attempts ?? null },
    },
  );
}

/**
 * The default tool search: ranks tools by how many query words (weighted by rarity across tools) occur
 * in their name, tags and description; ties keep registry order. Deterministic, no model call.
 *
 * @param query - the request, intent name and slot values
 * @param k - how many tools to return
 * @param catalog - the registered tools
 * @returns at most `k` tools, most relevant first
 */
export function rankToolsLexically(query: string, k: number, catalog: ToolCatalog): ToolHandle[] {
  const tools = catalog.list();
  const words = (text: string): string[] => text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
  const docs = tools.map((t) => ({
    name: new Set(words(t.name)),
    rest: new Set([...words(t.description), ...t.tags.flatMap(words), ...words(t.domain)]),
  }));
  const df = new Map<string, number>();
  for (const d of docs) for (const w of new Set([...d.name, ...d.rest])) df.set(w, (df.get(w) ?? 0) + 1);
  const q = new Set(words(query));
  const scored = tools.map((tool, index) => {
    const d = docs[index] as (typeof docs)[number];
    let score = 0;
    for (const w of q) {
      const idf = Math.log(1 + tools.length / (df.get(w) ?? tools.length));
      if (d.name.has(w)) score += 2 * idf;
      else if (d.rest.has(w)) score += idf;
    }
    if (query.toLowerCase().includes(tool.name.toLowerCase())) score += 10;
    return { tool, index, score };
  });
  scored.sort((a, b) => b.score - a.score || a.index - b.index);
  return scored.slice(0, k).map((s) => s.tool);
}
