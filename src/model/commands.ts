import { z } from 'zod';
import { JsonSchema } from './json.js';
import { PlanEditSchema } from './plan.js';

/** Who sent a command: an id, optionally with roles (used by approval role checks). */
export const ActorSchema = z.union([
  z.string().min(1).max(200),
  z.object({
    /** The actor's id (a user id, a service name). */
    id: z.string().min(1).max(200),
    /** The actor's roles, checked against an approval's `roles`. */
    roles: z.array(z.string().max(100)).max(50).optional(),
  }),
]);
/** Who sent a command. */
export type Actor = z.infer<typeof ActorSchema>;

const base = {
  /** Who sent it; recorded with the command and in the events it causes. */
  actor: ActorSchema.optional(),
  /** Client-chosen id: re-sending the same id is de-duplicated. */
  commandId: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9_.:-]+$/)
    .optional(),
};

const requestId = z.string().min(1).max(300);

/**
 * Every human action is a Command: one JSON shape shared by the in-process API, REST and WebSocket.
 * Parsed strictly: unknown fields are an error, so a typo never silently does nothing.
 */
export const CommandSchema = z.discriminatedUnion('type', [
  z
    .object({
      /** Approves the plan under review (optionally with last edits). */
      type: z.literal('plan.approve'),
      /** Plan edits, applied in order as one new version (all or none). */
      edits: z.array(PlanEditSchema).max(200).optional(),
      /** The plan version the edits were written against; refused (`STALE_VERSION`) when the plan moved on. */
      baseVersion: z.number().int().positive().optional(),
      ...base,
    })
    .strict(),
  z
    .object({
      /** Edits the plan under review (a new version; the review stays open). */
      type: z.literal('plan.edit'),
      /** Plan edits, applied in order as one new version (all or none). */
      edits: z.array(PlanEditSchema).min(1).max(200),
      /** The plan version the edits were written against; refused (`STALE_VERSION`) when the plan moved on. */
      baseVersion: z.number().int().positive().optional(),
      ...base,
    })
    .strict(),
  z
    .object({
      /** Rejects the plan under review; the turn ends. */
      type: z.literal('plan.reject'),
      /** Why, recorded with the command and its events. */
      reason: z.string().max(2000).optional(),
      ...base,
    })
    .strict(),
  z
    .object({
      /** Grants a pending approval. */
      type: z.literal('approval.grant'),
      /** The id of the pending request this command answers (from its `*.requested` event). */
      requestId,
      /** The digest of the effect the approver saw; refused (`STALE_VERSION`) when it no longer matches. */
      digest: z
        .string()
        .regex(/^[0-9a-f]{64}$/)
        .optional(),
      ...base,
    })
    .strict(),
  z
    .object({
      /** Denies a pending approval; the todo is skipped. */
      type: z.literal('approval.deny'),
      /** The id of the pending request this command answers (from its `*.requested` event). */
      requestId,
      /** Why, recorded with the command and its events. */
      reason: z.string().max(2000).optional(),
      ...base,
    })
    .strict(),
  z
    .object({
      /** Provides the value an executor asked for. */
      type: z.literal('input.provide'),
      /** The id of the pending request this command answers (from its `*.requested` event). */
      requestId,
      /** The value, validated against the request's schema. */
      value: JsonSchema,
      ...base,
    })
    .strict(),
  z
    .object({
      /** Answers a clarification question. */
      type: z.literal('clarification.answer'),
      /** The id of the pending request this command answers (from its `*.requested` event). */
      requestId,
      /** The user's answer. */
      answer: z.string().min(1).max(10_000),
      ...base,
    })
    .strict(),
  z
    .object({
      /** Decides what happens to a todo interrupted by a crash. */
      type: z.literal('recovery.resolve'),
      /** The id of the pending request this command answers (from its `*.requested` event). */
      requestId,
      /** `retry` runs the todo again, `mark_done` records it as completed (with `output`), `skip` skips it. */
      decision: z.enum(['retry', 'mark_done', 'skip']),
      /** The todo's output for `mark_done` (default null). */
      output: JsonSchema.optional(),
      ...base,
    })
    .strict(),
  z
    .object({
      /** Pauses the session at the next cycle boundary. */
      type: z.literal('pause'),
      ...base,
    })
    .strict(),
  z
    .object({
      /** Resumes a paused session. */
      type: z.literal('resume'),
      ...base,
    })
    .strict(),
  z
    .object({
      /** Cancels the running turn. */
      type: z.literal('cancel'),
      /** Why, recorded with the command and its events. */
      reason: z.string().max(2000).optional(),
      ...base,
    })
    .strict(),
]);
/** A validated command. */
export type Command = z.infer<typeof CommandSchema>;
/** The command type names. */
export type CommandType = Command['type'];
/** A command as a client writes it (before defaults). */
export type CommandInput = z.input<typeof CommandSchema>;

/**
 * The id of an actor.
 *
 * @param actor - a string id or an object with an id
 * @returns the id, or `anonymous` when absent
 */
export function actorId(actor: Actor | undefined): string {
  if (actor === undefined) return 'anonymous';
  return typeof actor === 'string' ? actor : actor.id;
}

/**
 * The roles of an actor (empty for string actors).
 *
 * @param actor - the actor
 * @returns its roles
 */
export function actorRoles(actor: Actor | undefined): string[] {
  return typeof actor === 'object' ? (actor.roles ?? []) : [];
}
