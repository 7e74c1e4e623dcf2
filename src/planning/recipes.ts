/**
 * The offline planner: recipes in YAML map an intent to todo templates.
 *
 * ```yaml
 * resources: { ops: 1 }              # at most one ops todo at a time (pass planner.resources to the Agent)
 * recipes:
 *   - intent: sales.report
 *     rationale: Query, analyse, write the report, then e-mail it.
 *     todos:
 *       - id: fetch
 *         title: Query sales for {period}          # {slot} is replaced by the slot's label
 *         tool: sales.query                        # domain defaults to the tool's domain
 *         input:
 *           period: { $slot: period }              # bound from a slot at plan time
 *           region: { $slot: region, default: null }
 *       - id: trend
 *         tool: sales.trend
 *         dependsOn: [fetch]
 *         input: { rows: { $ref: fetch, path: rows } }   # resolved from fetch's output at run time
 *       - id: email
 *         tool: email.send
 *         when: recipient                           # only when the slot is known (`a|b`: either; `!a`: absent; or `always`)
 *         dependsOn: [trend]
 * ```
 *
 * @packageDocumentation
 */
import { readFile } from 'node:fs/promises';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { z } from 'zod';
import { DreamAgentError } from '../errors/index.js';
import type { Planner, PlanningContext } from '../layers.js';
import type { Intent } from '../model/intent.js';
import { JsonSchema, type Json, type JsonObject } from '../model/json.js';
import { TodoApprovalSchema, TodoIdSchema, type PlanDraft, type Todo } from '../model/plan.js';
import { findPlanIssues } from '../dag/validate.js';

const TodoTemplateSchema = z.strictObject({
  /**
   * The todo's id in the plan (letters, digits, `_`, `-`, `.`; at most 64 characters); unique within the
   * recipe.
   */
  id: TodoIdSchema,
  /**
   * Title shown in plan review; `{slot}` is replaced by the slot's label. Unset: the tool's description, else
   * the id.
   */
  title: z.string().min(1).max(500).optional(),
  /** Longer explanation shown in plan review (at most 5000 characters). Unset: none. */
  description: z.string().max(5000).optional(),
  /** The registered tool the todo runs. Unset: an LLM executor handles the todo by its domain. */
  tool: z.string().min(1).optional(),
  /**
   * Which executor runs it. Unset: the tool's domain; a todo with neither fails planning with `INVALID_PLAN`.
   */
  domain: z.string().min(1).optional(),
  /**
   * The tool input (default `{}`): `{ $slot: name, default? }` is bound from the intent's slots at plan time,
   * `{ $ref: todo, path? }` from a dependency's output at run time.
   */
  input: z.record(z.string(), JsonSchema).default({}),
  /**
   * Ids of todos of this recipe that must complete first (default none); edges to todos dropped by `when` are
   * removed.
   */
  dependsOn: z.array(TodoIdSchema).default([]),
  /**
   * Approval gate of the todo: `true`, `false` or settings; overrides the tool's flag. Unset: the tool and
   * the agent's policy decide.
   */
  approval: TodoApprovalSchema.optional(),
  /** Resource class for concurrency limits (see the file's `resources`). Unset: the todo's domain. */
  resource: z.string().optional(),
  /**
   * Safe to re-run after a crash. With a tool, only `false` counts (a todo can lower its tool's flag,
   * never raise it); without one, the todo's own flag decides. Unset: the tool's flag, else false.
   */
  idempotent: z.boolean().optional(),
  /** Per-todo timeout in ms, overriding the tool's. Unset: the tool's timeout. */
  timeoutMs: z.number().int().positive().optional(),
  /** `always` (default), a slot name that must be present (`a|b`: any of them), or `!slot` that must be absent. */
  when: z.string().min(1).default('always'),
});

const RecipeSchema = z.strictObject({
  /**
   * The intent name this recipe plans for (`sales.report`); at most one recipe per intent, else
   * `INVALID_INPUT`.
   */
  intent: z.string().min(1),
  /** Why the plan looks like this, shown with the plan in review. Unset: none. */
  rationale: z.string().optional(),
  /** The todo templates, in plan order (the order breaks scheduling ties). */
  todos: z.array(TodoTemplateSchema),
});

/** The recipes file. */
export const RecipesFileSchema = z.strictObject({
  /**
   * Concurrency limits: resource class → how many todos of that class may run at once (positive integers;
   * default none). Pass them to `AgentOptions.resources` (`planner.resources` holds them).
   */
  resources: z.record(z.string(), z.number().int().positive()).default({}),
  /** The recipes, one per intent. */
  recipes: z.array(RecipeSchema),
});
/** A parsed recipes file. */
export type RecipesFile = z.infer<typeof RecipesFileSchema>;
/** One recipe. */
export type Recipe = z.infer<typeof RecipeSchema>;

/**
 * Parses a recipes YAML text. Errors name the file, line, column and key path.
 *
 * @param text - YAML
 * @param file - the file name for messages
 * @returns the recipes
 * @throws `INVALID_INPUT` naming where and what
 */
export function parseRecipes(text: string, file = '<recipes>'): RecipesFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = e?.linePos?.[0];
    throw new DreamAgentError(
      'INVALID_INPUT',
      `${file}:${pos?.line ?? 1}:${pos?.col ?? 1}: ${e?.message ?? 'invalid YAML'}`,
      { details: { file } },
    );
  }
  const parsed = RecipesFileSchema.safeParse(doc.toJS({ maxAliasCount: 100 }));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // An unknown key is reported at the key itself, not at the map holding it.
    const extra = issue?.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
    const path = [...(issue?.path ?? []), ...(extra !== undefined ? [extra] : [])];
    const node = nodeAt(doc.contents, path, extra !== undefined);
    const pos = node?.range ? lineCounter.linePos(node.range[0]) : undefined;
    throw new DreamAgentError(
      'INVALID_INPUT',
      `${file}:${pos?.line ?? 1}:${pos?.col ?? 1}: ${path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
      {
        details: {
          file,
          path: path.map(String),
          issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
        },
      },
    );
  }
  const seen = new Set<string>();
  for (const r of parsed.data.recipes) {
    if (seen.has(r.intent))
      throw new DreamAgentError('INVALID_INPUT', `${file}: two recipes for intent "${r.intent}"`, {
        details: { file },
      });
    seen.add(r.intent);
  }
  return parsed.data;
}

function nodeAt(node: unknown, path: readonly PropertyKey[], lastIsKey = false): Node | undefined {
  let current = node as Node | null | undefined;
  for (const [i, key] of path.entries()) {
    if (isAlias(current) || !current) return current ?? undefined;
    if (isMap(current)) {
      const pair = current.items.find((p) => isScalar(p.key) && p.key.value === key);
      current = (lastIsKey && i === path.length - 1 ? pair?.key : pair?.value) as Node | undefined;
    } else if (isSeq(current)) current = current.items[Number(key)] as Node | undefined;
    else return current;
  }
  return current ?? undefined;
}

/**
 * A human-readable label for a slot value (period objects have `label`, or `from`–`to`).
 *
 * @param value - a slot value
 * @returns its label
 */
export function slotLabel(value: Json | undefined): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return value.map((v) => slotLabel(v)).join(', ');
  if (typeof value['label'] === 'string') return value['label'];
  if (typeof value['from'] === 'string' && typeof value['to'] === 'string')
    return `${value['from']} – ${value['to']}`;
  if (typeof value['name'] === 'string') return value['name'];
  return JSON.stringify(value);
}

function bindSlots(value: Json, slots: JsonObject, path: string): Json {
  if (Array.isArray(value)) return value.map((v, i) => bindSlots(v, slots, `${path}.${i}`));
  if (value !== null && typeof value === 'object') {
    if (typeof value['$slot'] === 'string') {
      const name = value['$slot'];
      const v = slots[name];
      if (v !== undefined) return v;
      if ('default' in value) return value['default'] ?? null;
      throw new DreamAgentError(
        'INVALID_PLAN',
        `slot "${name}" needed by ${path} is missing and has no default`,
        { details: { slot: name, path } },
      );
    }
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) out[k] = bindSlots(v, slots, `${path}.${k}`);
    return out;
  }
  if (typeof value === 'string') {
    // "{slot}" inside a string becomes the slot's label when the slot is known; other braces stay.
    return value.replace(/\{([A-Za-z0-9_]+)\}/g, (m, name: string) =>
      slots[name] !== undefined ? slotLabel(slots[name]) : m,
    );
  }
  return value;
}

/** Options of {@link RecipePlanner}. */
export interface RecipePlannerOptions {
  /** What to plan when no recipe matches (default: an empty plan, which the responder explains). */
  fallback?: 'empty' | 'error';
}

/**
 * The offline planner: looks up the recipe of the intent, binds slots into todo inputs and titles,
 * drops todos whose `when` does not hold (and dependency edges to them), fills each todo's domain from
 * its tool and its resource class from its domain, and validates the result like any plan.
 *
 * @example
 * ```ts
 * const planner = await RecipePlanner.fromFile('recipes.yaml');
 * const agent = new Agent({ planner, resources: planner.resources, tools, cognitive });
 * ```
 */
export class RecipePlanner implements Planner {
  readonly #recipes: Map<string, Recipe>;
  /** Resource limits declared by the file (pass them to `AgentOptions.resources`). */
  readonly resources: Record<string, number>;
  readonly #fallback: 'empty' | 'error';

  /**
   * @param file - parsed recipes
   * @param options - fallback behaviour
   */
  constructor(file: RecipesFile, options: RecipePlannerOptions = {}) {
    this.#recipes = new Map(file.recipes.map((r) => [r.intent, r]));
    this.resources = { ...file.resources };
    this.#fallback = options.fallback ?? 'empty';
  }

  /**
   * @param path - a recipes YAML file
   * @param options - fallback behaviour
   * @returns the planner
   */
  static async fromFile(path: string, options: RecipePlannerOptions = {}): Promise<RecipePlanner> {
    return new RecipePlanner(parseRecipes(await readFile(path, 'utf8'), path), options);
  }

  /** The intents that have a recipe. */
  get intents(): string[] {
    return [...this.#recipes.keys()];
  }

  async plan(intent: Intent, ctx: PlanningContext): Promise<PlanDraft> {
    await Promise.resolve();
    // The cognitive layer understood the request but found something it cannot honour: plan nothing and
    // say why, rather than run a plan that silently answers a different question.
    const decline = intent.metadata?.['decline'];
    if (Array.isArray(decline) && decline.length > 0) {
      return { todos: [], rationale: `I can't do this as asked: ${decline.map(String).join(' ')}` };
    }
    const recipe = this.#recipes.get(intent.name);
    if (!recipe) {
      if (this.#fallback === 'error')
        throw new DreamAgentError('INVALID_PLAN', `no recipe for intent "${intent.name}"`, {
          details: { intent: intent.name },
        });
      return { todos: [], rationale: `No recipe for "${intent.name}".` };
    }
    const slots = intent.slots;
    const has = (name: string): boolean => slots[name] !== undefined && slots[name] !== null;
    const included = recipe.todos.filter((t) => {
      if (t.when === 'always') return true;
      if (t.when.startsWith('!')) return !has(t.when.slice(1));
      // `a|b`: when any of the slots is known.
      return t.when.split('|').some((name) => has(name.trim()));
    });
    const kept = new Set(included.map((t) => t.id));
    const todos: Todo[] = included.map((t) => {
      const tool = t.tool ? ctx.tools.get(t.tool) : undefined;
      const domain = t.domain ?? tool?.domain;
      if (!domain)
        throw new DreamAgentError(
          'INVALID_PLAN',
          `recipe "${recipe.intent}", todo "${t.id}": no domain and no known tool "${t.tool ?? ''}"`,
        );
      const title = (t.title ?? tool?.description ?? t.id).replace(
        /\{([A-Za-z0-9_]+)\}/g,
        (_m, name: string) => slotLabel(slots[name]) || name,
      );
      const todo: Todo = {
        id: t.id,
        title,
        domain,
        input: bindSlots(t.input, slots, `${t.id}.input`) as JsonObject,
        dependsOn: t.dependsOn.filter((d) => kept.has(d)),
        resource: t.resource ?? domain,
        ...(t.tool ? { tool: t.tool } : {}),
        ...(t.description ? { description: t.description } : {}),
        ...(t.approval !== undefined ? { approval: t.approval } : {}),
        ...(t.idempotent !== undefined ? { idempotent: t.idempotent } : {}),
        ...(t.timeoutMs !== undefined ? { timeoutMs: t.timeoutMs } : {}),
      };
      return todo;
    });
    const issues = findPlanIssues(todos, { hasTool: (n) => ctx.tools.get(n) !== undefined });
    if (issues.length > 0) {
      throw new DreamAgentError(
        'INVALID_PLAN',
        `recipe "${recipe.intent}" produced an invalid plan: ${issues[0]?.message ?? ''}`,
        { details: { issues: issues as unknown as Json } },
      );
    }
    return { todos, ...(recipe.rationale ? { rationale: recipe.rationale } : {}) };
  }
}
