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

/**
 * The risk levels of an approval, as the entries of a zod enum (an object rather than an array so that each
 * level is documented where the schema's type shows it).
 */
export const RISK_LEVELS = {
  /** Little harm if it goes wrong, easily undone (reading, drafting). */
  low: 'low',
  /** Visible to others or costly to undo (sending one message, a bounded spend). */
  medium: 'medium',
  /** Hard or impossible to undo (payments, deletions, mass messages). */
  high: 'high',
} as const;

/** Approval settings on a todo (overrides the tool's flag). */
export const TodoApprovalSchema = z.union([
  z.boolean(),
  z
    .object({
      /** Whether a human must approve before the todo runs (default true). */
      required: z.boolean().default(true),
      /** Why it needs approval, shown to the approver. */
      reason: z.string().optional(),
      /** How risky the effect is, shown to the approver (`low`, `medium` or `high`). */
      risk: z.enum(RISK_LEVELS).optional(),
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
    /** Longer explanation of the step, shown in plan review. */
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
  /** The plan's id (one per turn). */
  id: z.string().min(1),
  /** 1 for the planner's plan; each accepted edit adds one. */
  version: z.number().int().positive(),
  /** The todos, in plan order (the order breaks scheduling ties). */
  todos: z.array(TodoSchema),
  /** Why the planner chose these steps (shown in review). */
  rationale: z.string().optional(),
});
/** A plan: a versioned DAG of todos. */
export type Plan = z.infer<typeof PlanSchema>;

/** What a planner returns; the agent assigns id and version and validates it. */
export const PlanDraftSchema = z
  .object({
    /** The todos, in plan order. */
    todos: z.array(TodoSchema),
    /** Why the planner chose these steps (shown in review). */
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
    /** The new input (replaces the whole input). */
    input: z.record(z.string(), JsonSchema).optional(),
    /** The new dependencies (replace the whole list). */
    dependsOn: z.array(TodoIdSchema).optional(),
  })
  .partial()
  .strict();

/** One edit of a plan. */
export const PlanEditSchema = z.discriminatedUnion('op', [
  z
    .object({
      /** Adds a todo. */
      op: z.literal('add'),
      /** The todo to add (its id must be new). */
      todo: TodoSchema,
      /** Insert after this todo (plan order); at the end when omitted. */
      after: TodoIdSchema.optional(),
    })
    .strict(),
  z
    .object({
      /** Removes a todo (refused while another todo depends on it). */
      op: z.literal('remove'),
      /** The todo to remove. */
      todoId: TodoIdSchema,
    })
    .strict(),
  z
    .object({
      /** Changes fields of a todo. */
      op: z.literal('update'),
      /** The todo to change. */
      todoId: TodoIdSchema,
      /** The fields to change; the others keep their values. */
      patch: TodoPatchSchema,
    })
    .strict(),
  z
    .object({
      /** Moves a todo in plan order (never before one of its dependencies). */
      op: z.literal('move'),
      /** The todo to move. */
      todoId: TodoIdSchema,
      /** Place it just before this todo (exactly one of `before` and `after`). */
      before: TodoIdSchema.optional(),
      /** Place it just after this todo. */
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
  /** The session of the plan. */
  sessionId: string;
  /** The turn the plan belongs to. */
  turnId: string;
  /** The plan at this version. */
  plan: Plan;
  /** Edits that produced this version from the previous one (empty for the planner's version). */
  edits: PlanEdit[];
  /** Who made the change (`planner` for the planner's version). */
  actor: string;
  /** When the version was stored (ms since the epoch, the agent's clock). */
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
