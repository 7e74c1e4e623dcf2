import { z } from 'zod';
import { JsonSchema } from './json.js';
import { PlanEditSchema } from './plan.js';

/** Who sent a command: an id, optionally with roles (used by approval role checks). */
export const ActorSchema = z.union([
  z.string().min(1).max(200),
  z.object({ id: z.string().min(1).max(200), roles: z.array(z.string().max(100)).max(50).optional() }),
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
      type: z.literal('plan.approve'),
      edits: z.array(PlanEditSchema).max(200).optional(),
      baseVersion: z.number().int().positive().optional(),
      ...base,
    })
    .strict(),
  z
    .object({
      type: z.literal('plan.edit'),
      edits: z.array(PlanEditSchema).min(1).max(200),
      baseVersion: z.number().int().positive().optional(),
      ...base,
    })
    .strict(),
  z.object({ type: z.literal('plan.reject'), reason: z.string().max(2000).optional(), ...base }).strict(),
  z
    .object({
      type: z.literal('approval.grant'),
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
    .object({ type: z.literal('approval.deny'), requestId, reason: z.string().max(2000).optional(), ...base })
    .strict(),
  z.object({ type: z.literal('input.provide'), requestId, value: JsonSchema, ...base }).strict(),
  z
    .object({
      type: z.literal('clarification.answer'),
      requestId,
      answer: z.string().min(1).max(10_000),
      ...base,
    })
    .strict(),
  z
    .object({
      type: z.literal('recovery.resolve'),
      requestId,
      decision: z.enum(['retry', 'mark_done', 'skip']),
      output: JsonSchema.optional(),
      ...base,
    })
    .strict(),
  z.object({ type: z.literal('pause'), ...base }).strict(),
  z.object({ type: z.literal('resume'), ...base }).strict(),
  z.object({ type: z.literal('cancel'), reason: z.string().max(2000).optional(), ...base }).strict(),
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
