/**
 * Dialogue management for the offline Cognitive layer: entities → slots, answers to clarification
 * questions → the slot that was asked, follow-ups ("now do the same for Europe") → the previous turn's
 * intent and slots with only what the new text names overridden.
 *
 * Everything here is a pure function of its arguments; the session's history, carried slots and this
 * turn's clarifications are stored by the engine and passed in through the `CognitiveContext`.
 *
 * @packageDocumentation
 */
import type { Entity } from '../../model/intent.js';
import type { Json, JsonObject } from '../../model/json.js';
import type { DialogueTurn } from '../../model/session.js';
import { extractEntities } from './entities.js';
import type { EntityOptions } from './entities.js';
import type { IntentSpec, SlotSpec } from './intents.js';

/** Which entity types can fill a slot of each type (gazetteer slots take their own type). */
function acceptedTypes(slotType: string): readonly string[] {
  switch (slotType) {
    case 'period':
      return ['period', 'date'];
    case 'date':
      return ['date', 'period'];
    case 'string':
      return [];
    default:
      return [slotType];
  }
}

/** Converts an entity value into the shape a slot of `slotType` holds, or `undefined` when it cannot. */
function coerce(slotType: string, entity: Entity): Json | undefined {
  const v = entity.value;
  if (slotType === 'period' && entity.type === 'date' && typeof v === 'string') return { from: v, to: v };
  if (slotType === 'date' && entity.type === 'period') {
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && v['from'] === v['to'])
      return v['from'] ?? null;
    return undefined;
  }
  return v;
}

/**
 * Fills the slots of `spec` from entities, in declaration order: each slot takes the first unused
 * entity its type accepts (a `period` slot also takes a single `date`), so two period slots take the
 * first and the second period mentioned.
 *
 * @param spec - the intent
 * @param entities - entities in order of appearance
 * @returns the slots that could be filled
 */
export function slotsFromEntities(spec: IntentSpec, entities: readonly Entity[]): JsonObject {
  const used = new Set<number>();
  const slots: JsonObject = {};
  for (const slot of spec.slots) {
    for (const type of acceptedTypes(slot.type)) {
      const i = entities.findIndex((e, j) => !used.has(j) && e.type === type);
      const entity = entities[i];
      if (entity === undefined) continue;
      const value = coerce(slot.type, entity);
      if (value === undefined) continue;
      used.add(i);
      slots[slot.name] = value;
      break;
    }
  }
  return slots;
}

/**
 * Reads the answer to a clarification question as the value of one slot: the first entity of an
 * accepted type, or the trimmed answer itself for `string` slots.
 *
 * @param slot - the slot that was asked for
 * @param answer - the user's answer
 * @param options - clock and gazetteers for entity extraction
 * @returns the value, or `undefined` when the answer does not contain one
 */
export function slotFromAnswer(slot: SlotSpec, answer: string, options: EntityOptions): Json | undefined {
  if (slot.type === 'string') {
    const text = answer.trim();
    return text === '' ? undefined : text;
  }
  const entities = extractEntities(answer, options);
  for (const type of acceptedTypes(slot.type)) {
    for (const entity of entities) {
      if (entity.type !== type) continue;
      const value = coerce(slot.type, entity);
      if (value !== undefined) return value;
    }
  }
  return undefined;
}

/** Phrases that make an utterance a follow-up whatever else it says. */
const STRONG_FOLLOW_UP =
  /\b(?:the\s+same|same\s+(?:thing|for|but)|again|as\s+well|instead|likewise|similarly|too)\b/i;
/** Openings that make a short utterance a follow-up unless it clearly asks for something else. */
const WEAK_FOLLOW_UP =
  /^\s*(?:and|now|then|also|ok(?:ay)?|what\s+about|how\s+about|same|but|for|in|with|only|just)\b/i;

/** How strongly an utterance reads as a follow-up of the previous turn. */
export type FollowUpCue = 'strong' | 'weak' | 'none';

/**
 * Classifies the wording of an utterance as a follow-up cue: `strong` ("do the same for Europe", "again
 * for March"), `weak` ("and for March?", "what about APAC?") or `none`.
 *
 * @param text - the utterance
 * @returns the cue
 */
export function followUpCue(text: string): FollowUpCue {
  if (STRONG_FOLLOW_UP.test(text)) return 'strong';
  if (WEAK_FOLLOW_UP.test(text)) return 'weak';
  return 'none';
}

/**
 * The most recent turn that had an intent (other than `unknown`), if any.
 *
 * @param history - past turns, oldest first
 * @returns that turn
 */
export function previousIntentTurn(history: readonly DialogueTurn[]): DialogueTurn | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const turn = history[i];
    if (turn?.intent !== undefined && turn.intent !== 'unknown') return turn;
  }
  return undefined;
}

/** The outcome of {@link resolveSlots}. */
export interface SlotResolution {
  /** Slot values (defaults applied). */
  slots: JsonObject;
  /** Required slots still missing, in declaration order. */
  missingSlots: string[];
  /** The question for the first missing slot, when one is missing. */
  clarification?: { question: string; slot: string };
}

/** Inputs of {@link resolveSlots}. */
export interface SlotInputs {
  /** The intent. */
  spec: IntentSpec;
  /** Entities of the utterance (and of answers that were not about a slot). */
  entities: readonly Entity[];
  /** Slots carried from the previous turn (follow-ups only); only the intent's own slots are kept. */
  carried?: JsonObject;
  /** This turn's clarification answers, in order; those naming a slot fill it. */
  clarifications?: readonly { question: string; answer: string; slot?: string }[];
  /** Clock reading and gazetteers for reading answers. */
  entityOptions: EntityOptions;
}

/**
 * Resolves the slots of a turn. Precedence, lowest first: defaults, carried slots (follow-ups), entities
 * of the utterance, answers to clarification questions (the latest answer for a slot wins).
 *
 * @param inputs - see {@link SlotInputs}
 * @returns the slots, the missing required slots and the next question to ask
 */
export function resolveSlots(inputs: SlotInputs): SlotResolution {
  const { spec } = inputs;
  const names = new Set(spec.slots.map((s) => s.name));
  const slots: JsonObject = {};
  for (const [k, v] of Object.entries(inputs.carried ?? {})) if (names.has(k)) slots[k] = v;
  Object.assign(slots, slotsFromEntities(spec, inputs.entities));
  for (const c of inputs.clarifications ?? []) {
    const slot = spec.slots.find((s) => s.name === c.slot);
    if (slot === undefined) continue;
    const value = slotFromAnswer(slot, c.answer, inputs.entityOptions);
    if (value !== undefined) slots[slot.name] = value;
  }
  for (const slot of spec.slots) {
    if (slots[slot.name] === undefined && slot.default !== undefined) slots[slot.name] = slot.default;
  }
  const missingSlots = spec.slots.filter((s) => s.required && slots[s.name] === undefined).map((s) => s.name);
  const first = spec.slots.find((s) => s.name === missingSlots[0]);
  if (first === undefined) return { slots, missingSlots };
  const question = first.question ?? `What ${first.name.replace(/[_.-]+/g, ' ')} should I use?`;
  return { slots, missingSlots, clarification: { question, slot: first.name } };
}
