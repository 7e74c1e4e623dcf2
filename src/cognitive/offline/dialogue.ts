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

/** Prefix of the type of an entity the user excluded ("except EMEA" → `not:region`). */
export const NEGATED_PREFIX = 'not:';

/** Which entity types can fill a slot of each type (gazetteer slots take their own type). */
function acceptedTypes(slot: Pick<SlotSpec, 'type' | 'negated'>): readonly string[] {
  if (slot.negated) return [`${NEGATED_PREFIX}${slot.type}`];
  switch (slot.type) {
    case 'period':
      return ['period', 'date'];
    case 'date':
      return ['date', 'period'];
    case 'string':
      return [];
    default:
      return [slot.type];
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
 * first and the second period mentioned. A `multiple` slot takes every unused entity it accepts (a list
 * when there are two or more distinct values); a `negated` slot takes only excluded values.
 *
 * @param spec - the intent
 * @param entities - entities in order of appearance
 * @returns the slots that could be filled
 */
export function slotsFromEntities(spec: IntentSpec, entities: readonly Entity[]): JsonObject {
  const used = new Set<number>();
  const slots: JsonObject = {};
  for (const slot of spec.slots) {
    const types = acceptedTypes(slot);
    if (slot.multiple) {
      const values: Json[] = [];
      const seen = new Set<string>();
      entities.forEach((e, j) => {
        if (used.has(j) || !types.includes(e.type)) return;
        const value = coerce(slot.type, { ...e, type: e.type.replace(NEGATED_PREFIX, '') });
        if (value === undefined) return;
        used.add(j);
        const key = JSON.stringify(value);
        if (seen.has(key)) return;
        seen.add(key);
        values.push(value);
      });
      if (values.length === 1) slots[slot.name] = values[0] ?? null;
      else if (values.length > 1) slots[slot.name] = values;
      continue;
    }
    for (const type of types) {
      const i = entities.findIndex((e, j) => !used.has(j) && e.type === type);
      const entity = entities[i];
      if (entity === undefined) continue;
      const value = coerce(slot.type, { ...entity, type: entity.type.replace(NEGATED_PREFIX, '') });
      if (value === undefined) continue;
      used.add(i);
      slots[slot.name] = value;
      break;
    }
  }
  return slots;
}

/** Short answers that accept what was offered ("yes", "ok", "sure", "go ahead"). */
const YES =
  /^\s*(?:y|yes|yeah|yep|yup|sure|ok(?:ay)?|correct|right|exactly|please|yes please|go ahead|do it|sounds good|that'?s right|affirmative)[\s.!]*$/i;
/** Short answers that refuse what was offered. */
const NO = /^\s*(?:n|no|nope|nah|not really|no thanks|wrong|neither|none)[\s.!]*$/i;

/**
 * Reads a short answer to a question that offered options: `yes` takes the first option, a number (or
 * `the second one`) takes that option, `no` refuses them all.
 *
 * @param answer - the user's answer
 * @param count - how many options were offered
 * @returns the 0-based option index, `'no'`, or `undefined` when the answer says something else
 */
export function pickOption(answer: string, count: number): number | 'no' | undefined {
  if (NO.test(answer)) return 'no';
  if (YES.test(answer)) return count > 0 ? 0 : undefined;
  const m =
    /^\s*(?:(?:option|number|no\.?|#)\s*)?(\d{1,2}|one|two|three|four|five|first|second|third|fourth|fifth)(?:\s+(?:one|option|please))?[\s.!)]*$/i.exec(
      answer.replace(/^\s*the\s+/i, ''),
    );
  if (m === null) return undefined;
  const words: Record<string, number> = {
    one: 1,
    two: 2,
    three: 3,
    four: 4,
    five: 5,
    first: 1,
    second: 2,
    third: 3,
    fourth: 4,
    fifth: 5,
  };
  const n = words[(m[1] ?? '').toLowerCase()] ?? Number(m[1]);
  return n >= 1 && n <= count ? n - 1 : undefined;
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
  for (const type of acceptedTypes(slot)) {
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
  clarification?: {
    /** The question to ask the user (from the slot's `question`, else a generic one naming the slot). */
    question: string;
    /** The slot the answer fills. */
    slot: string;
    /** Choices to offer, from the slot's `options`; the user may answer with one or with its number. */
    options?: string[];
  };
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
  clarifications?: readonly {
    /** The question that was asked. */
    question: string;
    /** What the user answered: read as the slot's type, or as one of the offered options (`yes`, `2`). */
    answer: string;
    /** The slot the question was for; answers without one fill nothing. */
    slot?: string;
  }[];
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
    let value = slotFromAnswer(slot, c.answer, inputs.entityOptions);
    // "yes" or "2" answer the options the question offered.
    const picked = value === undefined ? pickOption(c.answer, slot.options?.length ?? 0) : undefined;
    if (typeof picked === 'number' && slot.options?.[picked] !== undefined)
      value = slotFromAnswer(slot, slot.options[picked], inputs.entityOptions);
    if (value !== undefined) slots[slot.name] = value;
  }
  for (const slot of spec.slots) {
    if (slots[slot.name] === undefined && slot.default !== undefined) slots[slot.name] = slot.default;
  }
  const missingSlots = spec.slots.filter((s) => s.required && slots[s.name] === undefined).map((s) => s.name);
  const first = spec.slots.find((s) => s.name === missingSlots[0]);
  if (first === undefined) return { slots, missingSlots };
  const question = first.question ?? `What ${first.name.replace(/[_.-]+/g, ' ')} should I use?`;
  return {
    slots,
    missingSlots,
    clarification: { question, slot: first.name, ...(first.options ? { options: first.options } : {}) },
  };
}
