/**
 * LlmCognitive: the Cognitive layer backed by a language model.
 *
 * @packageDocumentation
 */
import { recallForPrompt } from '../memory/session.js';
import { z } from 'zod';
import { DreamAgentError } from '../errors/index.js';
import type { Cognitive, CognitiveContext } from '../layers.js';
import type { Entity, Intent } from '../model/intent.js';
import type { Json, JsonObject } from '../model/json.js';
import type { LanguageModel } from '../ports/llm.js';
import { toLlmError } from '../ports/llm.js';
import { llmScope } from './observe.js';
import { cognitivePrompt, defaultClarification, type PromptIntent, type PromptSlot } from './prompts.js';
import { generateObject } from './structured.js';

/** A slot of an intent the LLM cognitive layer knows. */
export interface LlmIntentSlot extends PromptSlot {
  /** The slot's name (`period`), the key of `intent.slots`. */
  name: string;
  /** What the slot holds and in what form (`the reporting period, e.g. 2024-Q1`), shown to the model. */
  description?: string;
  /** A required slot that is unknown makes the layer ask a clarification question. */
  required?: boolean;
}

/** An intent the LLM cognitive layer may choose (the same shape the YAML intents declare). */
export interface LlmIntentSpec extends PromptIntent {
  /** The intent's name (`sales.report`): what `intent.name` is when the model chooses it. */
  name: string;
  /** When the intent applies, shown to the model to choose between intents. */
  description?: string;
  /** The slots the model extracts for this intent. Unset: none. */
  slots?: readonly LlmIntentSlot[];
  /** Example user inputs that mean this intent, shown to the model. Unset: none. */
  examples?: readonly string[];
}

/** Options of {@link LlmCognitive}. */
export interface LlmCognitiveOptions {
  /** The model this layer calls (wrap it in `withResilience` for timeouts and retries). */
  model: LanguageModel;
  /** The registered intents. Empty (the default) means open-ended. */
  intents?: readonly LlmIntentSpec[];
  /** Allow intents outside `intents` (default: true when `intents` is empty, else false). */
  openEnded?: boolean;
  /** Retrieves context relevant to the input (a vector store search…); failures are logged and ignored. */
  retrieve?: (input: string, ctx: CognitiveContext) => Promise<readonly string[]>;
  /** How many recent turns to show (default 6). */
  maxHistory?: number;
  /**
   * Budget of the memory part of the "retrieved context" block (estimated tokens): the session's past turns, todo results and
   * documents recalled through `ctx.memory` (the agent's `memory`). Default 500; 0 leaves memory out.
   */
  memoryTokens?: number;

  /** Structured-output repairs (default 1). */
  maxRepairs?: number;
  /** Sampling temperature of the understanding call (default 0: the most repeatable). */
  temperature?: number;
  /** Upper bound on the understanding call's output, in tokens (default 1024). */
  maxTokens?: number;
}

const JsonValue: z.ZodType<Json> = z.json() as z.ZodType<Json>;

const OutputSchema = z.object({
  intent: z.string().trim().min(1),
  confidence: z.coerce.number().min(0).max(1),
  entities: z
    .array(z.object({ type: z.string().min(1), value: JsonValue, text: z.string().default('') }))
    .nullish()
    .transform((v) => v ?? []),
  slots: z
    .record(z.string(), JsonValue)
    .nullish()
    .transform((v) => v ?? {}),
  missingSlots: z
    .array(z.string())
    .nullish()
    .transform((v) => v ?? []),
  clarification: z
    .object({
      question: z.string().min(1),
      slot: z.string().nullish(),
      options: z.array(z.string()).nullish(),
    })
    .nullish(),
});
type Output = z.infer<typeof OutputSchema>;

/** The compact JSON Schema the provider sees (validation uses the zod schema above). */
const OUTPUT_JSON_SCHEMA: JsonObject = {
  type: 'object',
  properties: {
    intent: { type: 'string' },
    confidence: { type: 'number', minimum: 0, maximum: 1 },
    entities: {
      type: 'array',
      items: {
        type: 'object',
        properties: { type: { type: 'string' }, value: {}, text: { type: 'string' } },
        required: ['type', 'value', 'text'],
      },
    },
    slots: { type: 'object' },
    missingSlots: { type: 'array', items: { type: 'string' } },
    clarification: {
      anyOf: [
        {
          type: 'object',
          properties: { question: { type: 'string' }, slot: { type: 'string' } },
          required: ['question'],
        },
        { type: 'null' },
      ],
    },
  },
  required: ['intent', 'confidence', 'entities', 'slots', 'missingSlots', 'clarification'],
};

/**
 * The Cognitive layer backed by a language model: intent (from the registered intents, or open-ended),
 * entities, slots, missing slots and one clarification question, using the dialogue history, carried
 * slots, clarification answers and retrieved context.
 *
 * What the model says is checked, not trusted: with registered intents an unlisted intent name is
 * repaired (re-prompted with the error) and then refused; missing required slots are recomputed from the
 * intent's declaration, so a model cannot skip a clarification by claiming a slot is known.
 *
 * @example
 * ```ts
 * const cognitive = new LlmCognitive({
 *   model: llm,
 *   intents: [{ name: 'sales.report', description: 'Sales analysis', slots: [{ name: 'period', required: true }] }],
 * });
 * const agent = new Agent({ tools, llm, cognitive });
 * ```
 */
export class LlmCognitive implements Cognitive {
  readonly #options: LlmCognitiveOptions;
  readonly #intents: ReadonlyMap<string, LlmIntentSpec>;
  readonly #openEnded: boolean;

  /**
   * @param options - model, intents, retrieval, limits
   * @throws DreamAgentError `INVALID_INPUT` for duplicate intent names
   */
  constructor(options: LlmCognitiveOptions) {
    this.#options = options;
    const intents = new Map<string, LlmIntentSpec>();
    for (const intent of options.intents ?? []) {
      if (intents.has(intent.name)) {
        throw new DreamAgentError('INVALID_INPUT', `duplicate intent name "${intent.name}"`);
      }
      intents.set(intent.name, intent);
    }
    this.#intents = intents;
    this.#openEnded = options.openEnded ?? intents.size === 0;
  }

  /**
   * {@inheritDoc Cognitive.understand}
   *
   * @throws DreamAgentError `LLM_INVALID_OUTPUT` when the output stays invalid after repair; provider
   *   errors (`LLM_ERROR`, `RATE_LIMITED`, …) and `ABORTED` as typed by the adapter
   */
  async understand(input: string, ctx: CognitiveContext): Promise<Intent> {
    try {
      return await this.#understand(input, ctx);
    } catch (error) {
      throw toLlmError(error, ctx.signal);
    }
  }

  async #understand(input: string, ctx: CognitiveContext): Promise<Intent> {
    const retrieved = await this.#retrieve(input, ctx);
    const maxHistory = this.#options.maxHistory ?? 6;
    const messages = cognitivePrompt({
      input,
      intents: [...this.#intents.values()],
      openEnded: this.#openEnded,
      history: maxHistory === 0 ? [] : ctx.history.slice(-maxHistory),
      slots: ctx.slots,
      clarifications: ctx.clarifications,
      retrieved,
    });
    const { object } = await generateObject(this.#options.model, {
      schema: OutputSchema,
      jsonSchema: OUTPUT_JSON_SCHEMA,
      name: 'intent',
      messages,
      validate: (o) => this.#issues(o),
      maxRepairs: this.#options.maxRepairs ?? 1,
      temperature: this.#options.temperature ?? 0,
      maxTokens: this.#options.maxTokens ?? 1024,
      signal: ctx.signal,
      layer: 'cognitive',
      scope: llmScope(ctx),
    });
    return this.#toIntent(object, ctx);
  }

  #issues(o: Output): string[] {
    if (this.#openEnded || o.intent === 'unknown' || this.#intents.has(o.intent)) return [];
    return [
      `intent "${o.intent}" is not one of the registered intents (${[...this.#intents.keys()].join(', ')}); use "unknown" when none fits`,
    ];
  }

  async #retrieve(input: string, ctx: CognitiveContext): Promise<readonly string[]> {
    const memory = await recallForPrompt(ctx, input, this.#options.memoryTokens ?? 500);
    const recalled = memory === '' ? [] : [memory];
    if (this.#options.retrieve === undefined) return recalled;
    try {
      return [...(await this.#options.retrieve(input, ctx)), ...recalled];
    } catch (error) {
      ctx.logger.warn({ err: String(error) }, 'LlmCognitive: retrieval failed; continuing without context');
      return recalled;
    }
  }

  #toIntent(o: Output, ctx: CognitiveContext): Intent {
    const spec = this.#intents.get(o.intent);
    const slots: JsonObject = { ...ctx.slots, ...dropNulls(o.slots) };
    let missing: string[];
    let slotSpecs: readonly LlmIntentSlot[];
    if (spec !== undefined && spec.slots !== undefined) {
      // Declared slots: recompute from the declaration, not from the model's claim.
      slotSpecs = spec.slots;
      missing = spec.slots.filter((s) => s.required === true && !(s.name in slots)).map((s) => s.name);
    } else {
      slotSpecs = [];
      missing = [...new Set(o.missingSlots)].filter((name) => !(name in slots));
    }
    const entities: Entity[] = o.entities.map((e) => ({ type: e.type, value: e.value, text: e.text }));
    const intent: Intent = {
      name: o.intent,
      confidence: o.confidence,
      entities,
      slots,
      missingSlots: missing,
    };
    const first = missing[0];
    if (first !== undefined) {
      const asked = o.clarification;
      const slotOfQuestion = asked?.slot ?? undefined;
      const usable =
        asked !== null &&
        asked !== undefined &&
        (slotOfQuestion === undefined || missing.includes(slotOfQuestion));
      const slot = usable ? (slotOfQuestion ?? first) : first;
      const question = usable
        ? asked.question
        : defaultClarification(slotSpecs.find((s) => s.name === first) ?? { name: first });
      const options =
        usable && asked.options !== null && asked.options !== undefined ? asked.options : undefined;
      intent.clarification = { question, slot, ...(options === undefined ? {} : { options }) };
    }
    return intent;
  }
}

function dropNulls(slots: Record<string, Json>): JsonObject {
  return Object.fromEntries(Object.entries(slots).filter(([, v]) => v !== null));
}
