import { z } from 'zod';
import { JsonSchema } from './json.js';

/** An entity found in the user's text (a date range, an amount, a region…). */
export const EntitySchema = z.object({
  /** Entity type, e.g. `period`, `money`, `email`, `region`. */
  type: z.string().min(1),
  /** The normalised value (e.g. `{ from: '2026-07-01', to: '2026-09-30' }`). */
  value: JsonSchema,
  /** The text it was found in. */
  text: z.string(),
  /** Character offset in the input where the entity starts, when known. */
  start: z.number().int().nonnegative().optional(),
  /** Character offset in the input just after the entity, when known. */
  end: z.number().int().nonnegative().optional(),
});
/** An entity found in the user's text. */
export type Entity = z.infer<typeof EntitySchema>;

/** What the Cognitive layer understood from the user's input. */
export const IntentSchema = z.object({
  /** Intent name, e.g. `sales.report`; `unknown` when nothing matched. */
  name: z.string().min(1),
  /** Calibrated confidence in [0, 1]. */
  confidence: z.number().min(0).max(1),
  /** Entities found in the input. */
  entities: z.array(EntitySchema).default([]),
  /** Slot values filled so far (from entities, dialogue and clarifications). */
  slots: z.record(z.string(), JsonSchema).default({}),
  /** Required slots still missing. */
  missingSlots: z.array(z.string()).default([]),
  /** When set, the agent asks the user this question before planning. */
  clarification: z
    .object({
      /** The question to ask. */
      question: z.string().min(1),
      /** The slot the answer fills. */
      slot: z.string().optional(),
      /** Answers to offer (a UI may show them as choices). */
      options: z.array(z.string()).optional(),
    })
    .optional(),
  /** Anything else the layer wants to pass to the planner. */
  metadata: z.record(z.string(), JsonSchema).optional(),
});
/** What the Cognitive layer understood from the user's input. */
export type Intent = z.infer<typeof IntentSchema>;
