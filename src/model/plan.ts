import { z } from 'zod';
import { JsonSchema, type Json } from './json.js';

/** A todo id: letters, digits, `_`, `-`, `.`, at most 64 characters. */
export const TodoIdSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.-]+$/, 'todo ids use letters, digits, "_", "-" and "." only');

/**
 * A structured reference to the output of a dependency, placed anywhere inside a todo's `input`:
 * `{ "$ref": "fetch", "path": "rows" }` is replaced at run time by the value at `rows` in the output
 * of todo `fetch` (a typed value, not string substitution). The referenced todo must be one of the
 * todo's `dependsOn`.
 */
export interface OutputRef {
  /** The id of the dependency whose output is referenced. */
  $ref: string;
  /** A dot path into that output (`rows.0.total`); the whole output when omitted. */
  path?: string;
}

/** Approval settings on a todo (overrides the tool's flag). */
export const TodoApprovalSchema = z.union([
  z.boolean(),
  z
    .object({
      required: z.boolean().default(true),
      reason: z.string().optional(),
      risk: z.enum(['low', 'medium', 'high']).optional(),
      /** Roles allowed to grant; empty means any actor. */
      roles: z.array(z.string()).optional(),
    })
    .strict(),
]);

/** One step of a plan. */
export const TodoSchema = z
  .object({
    /** Unique within the plan. */
    id: TodoIdSchema,
    /** Short human-readable title shown in plan review. */
    title: z.string().min(1).max(500),
    description: z.string().max(5000).optional(),
    /** Which executor runs it (`data`, `insight`, `content`, `ops`, or a custom domain). */
    domain: z.string().min(1).max(64),
    /** The registered tool to run; LLM executors may run todos without a tool. */
    tool: z.string().min(1).max(200).optional(),
    /** Tool input; may contain {@link OutputRef}s to dependency outputs. */
    input: z.record(z.string(), JsonSchema).default({}),
    /** Ids of todos that must complete first. */
    dependsOn: z.array(TodoIdSchema).default([]),
    /** Approval gate: true, false, or settings. Unset → the tool's flag and the agent's policy decide. */
    approval: TodoApprovalSchema.optional(),
    /** Resource class used for concurrency limits (defaults to the domain). */
    resource: z.string().max(64).optional(),
    /** Safe to re-run after a crash (defaults to the tool's flag, else false). */
    idempotent: z.boolean().optional(),
    /** Per-todo timeout in ms. */
    timeoutMs: z.number().int().positive().optional(),
    /** Free-form metadata. */
    metadata: z.record(z.string(), JsonSchema).optional(),
  })
  // Strict: a misspelt key (`dependson`) is an error naming its path, never silently dropped.
  .strict();
/** One step of a plan (after defaults are applied). */
export type Todo = z.infer<typeof TodoSchema>;
/** A todo as written by a planner or a user (defaults not yet applied). */
export type TodoInput = z.input<typeof TodoSchema>;

/** A plan: a versioned DAG of todos. Todo order is meaningful — it breaks scheduling ties. */
export const PlanSchema = z.object({
  id: z.string().min(1),
  version: z.number().int().positive(),
  todos: z.array(TodoSchema),
  /** Why the planner chose these steps (shown in review). */
  rationale: z.string().optional(),
});
/** A plan: a versioned DAG of todos. */
export type Plan = z.infer<typeof PlanSchema>;

/** What a planner returns; the agent assigns id and version and validates it. */
export const PlanDraftSchema = z
  .object({
    todos: z.array(TodoSchema),
    rationale: z.string().optional(),
  })
  .strict();
/** A plan draft after validation (defaults applied). */
export type PlanDraft = z.infer<typeof PlanDraftSchema>;
/** What a planner may return: todos as written (defaults such as `input: {}` and `dependsOn: []` optional). */
export type PlanDraftInput = z.input<typeof PlanDraftSchema>;

/**
 * A patch to a todo: any field but `id`. No defaults: a field the patch does not name keeps its value
 * (a `{ title }` patch never empties `input` or `dependsOn`).
 */
export const TodoPatchSchema = TodoSchema.omit({ id: true, input: true, dependsOn: true })
  .extend({
    input: z.record(z.string(), JsonSchema).optional(),
    dependsOn: z.array(TodoIdSchema).optional(),
  })
  .partial()
  .strict();

/** One edit of a plan. */
export const PlanEditSchema = z.discriminatedUnion('op', [
  z
    .object({
      op: z.literal('add'),
      todo: TodoSchema,
      /** Insert after this todo (plan order); at the end when omitted. */
      after: TodoIdSchema.optional(),
    })
    .strict(),
  z.object({ op: z.literal('remove'), todoId: TodoIdSchema }).strict(),
  z.object({ op: z.literal('update'), todoId: TodoIdSchema, patch: TodoPatchSchema }).strict(),
  z
    .object({
      op: z.literal('move'),
      todoId: TodoIdSchema,
      before: TodoIdSchema.optional(),
      after: TodoIdSchema.optional(),
    })
    .strict()
    .refine((m) => (m.before === undefined) !== (m.after === undefined), {
      message: 'move needs exactly one of "before" or "after"',
    }),
]);
/** One edit of a plan. */
export type PlanEdit = z.infer<typeof PlanEditSchema>;

/** One stored plan version, with who changed it and how. */
export interface PlanVersionRecord {
  sessionId: string;
  turnId: string;
  plan: Plan;
  /** Edits that produced this version from the previous one (empty for the planner's version). */
  edits: PlanEdit[];
  /** Who made the change (`planner` for the planner's version). */
  actor: string;
  createdAt: number;
}

/**
 * Whether a JSON value is an {@link OutputRef}.
 *
 * @param value - any JSON value
 * @returns true for `{ $ref: string, path?: string }` objects
 */
export function isOutputRef(value: Json | undefined): value is Json & OutputRef {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return (
    typeof value['$ref'] === 'string' &&
    keys.every((k) => k === '$ref' || k === 'path') &&
    (value['path'] === undefined || typeof value['path'] === 'string')
  );
}
