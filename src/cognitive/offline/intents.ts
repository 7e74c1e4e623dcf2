/**
 * The intents file of the offline Cognitive layer: intents with example utterances, slots and
 * clarification questions, domain gazetteers (regions, products…) and out-of-scope examples, declared
 * in YAML and validated with zod. Errors name the file and the line.
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { DreamAgentError } from '../../errors/index.js';
import { JsonSchema } from '../../model/json.js';

/** Slot types understood by the entity extractor; any gazetteer name is a slot type too. */
export const BUILTIN_SLOT_TYPES = [
  'period',
  'date',
  'number',
  'money',
  'percent',
  'email',
  'limit',
  'string',
] as const;
/** A built-in slot type. */
export type BuiltinSlotType = (typeof BUILTIN_SLOT_TYPES)[number];

/** The intent name used for out-of-scope input (reserved: no declared intent may use it). */
export const UNKNOWN_INTENT = 'unknown';

const NAME = /^[A-Za-z][\w.-]*$/;

/** zod schema of one slot. */
export const SlotSpecSchema = z.strictObject({
  /** Slot name, e.g. `period`. */
  name: z.string().regex(NAME, 'a slot name starts with a letter and holds letters, digits, _ . -'),
  /** A built-in type or the name of a gazetteer. */
  type: z.string().min(1),
  /** Whether the intent cannot proceed without it (default false). */
  required: z.boolean().default(false),
  /** The question asked when it is required and missing. */
  question: z.string().min(1).optional(),
  /** Value used when the user gives none (the slot then never counts as missing). */
  default: JsonSchema.optional(),
  /**
   * Whether the slot takes every value of its type the user names ("EMEA and APAC"): then it holds a
   * list when two or more are named, a single value otherwise (default false: the first one).
   */
  multiple: z.boolean().default(false),
  /**
   * Whether the slot takes the values the user excludes ("everything except EMEA") instead of those
   * named plainly (default false). An excluded value is never put into a plain slot: an intent without
   * a negated slot for that type asks the user what they mean instead of inverting the request.
   */
  negated: z.boolean().default(false),
  /**
   * Values the agent understands but cannot honour, each with the reason told to the user (e.g.
   * `margin: the data has no cost figures`). A request naming one is declined with that reason.
   */
  unsupported: z.record(z.string(), z.string().min(1)).default({}),
  /** Suggested answers offered with the question (numbered in a terminal, buttons in a UI). */
  options: z.array(z.string().min(1)).optional(),
});
/** One slot of an intent. */
export type SlotSpec = z.infer<typeof SlotSpecSchema>;

/** zod schema of one intent. */
export const IntentSpecSchema = z.strictObject({
  /** Unique name, e.g. `sales.report`. */
  name: z
    .string()
    .regex(NAME, 'an intent name starts with a letter and holds letters, digits, _ . -')
    .refine((n) => n !== UNKNOWN_INTENT, `"${UNKNOWN_INTENT}" is reserved for out-of-scope input`),
  /** What it does (shown to humans and to LLM planners). */
  description: z.string().optional(),
  /** Example utterances: the training data of the classifier. */
  examples: z.array(z.string().trim().min(1)).min(1, 'an intent needs at least one example'),
  /** Slots the intent takes. */
  slots: z.array(SlotSpecSchema).default([]),
  /** The question asked when this intent is the best guess but its confidence is below the threshold. */
  clarification: z.string().min(1).optional(),
  /**
   * Another intent this one continues ("e-mail it to Bob" continues the sales report): the turn is
   * planned as that intent, with the slots of its latest turn carried over, this intent's slots added
   * and `sets` applied; when there is no such turn, that intent's required slots are asked for.
   */
  continues: z.string().regex(NAME).optional(),
  /**
   * Entity types that make the request another intent's: `{ grain: sales.trend }` turns "monthly
   * revenue for 2025", classified as a report, into a trend — the word the user chose decides.
   */
  handoff: z.record(z.string(), z.string().regex(NAME)).default({}),
  /** Slot values set whenever this intent is detected (e.g. `{ delivery: email }`). */
  sets: z.record(z.string(), JsonSchema).default({}),
});
/** One intent. */
export type IntentSpec = z.infer<typeof IntentSpecSchema>;

/** A gazetteer: canonical value → synonyms (the canonical value itself always matches too). */
export const GazetteerSchema = z.record(z.string().min(1), z.array(z.string().trim().min(1)));
/** A gazetteer: canonical value → synonyms. */
export type Gazetteer = z.infer<typeof GazetteerSchema>;

/** zod schema of a whole intents file. */
export const IntentsFileSchema = z
  .strictObject({
    /** Confidence below which the user is asked to clarify (overridden by the constructor option). */
    threshold: z.number().min(0).max(1).optional(),
    /** The intents. */
    intents: z.array(IntentSpecSchema).min(1, 'declare at least one intent'),
    /** Named gazetteers, e.g. `region`, `product`. */
    gazetteers: z.record(z.string().regex(NAME), GazetteerSchema).default({}),
    /** Out-of-scope examples: utterances that match no intent (trained as the `unknown` class). */
    oos: z.array(z.string().trim().min(1)).default([]),
    /** The question asked when nothing matches. */
    fallback: z.string().min(1).optional(),
  })
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.intents.forEach((intent, i) => {
      if (seen.has(intent.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['intents', i, 'name'],
          message: `duplicate intent "${intent.name}"`,
        });
      }
      seen.add(intent.name);
      for (const [type, target] of Object.entries(intent.handoff)) {
        if (!file.intents.some((o) => o.name === target)) {
          ctx.addIssue({
            code: 'custom',
            path: ['intents', i, 'handoff', type],
            message: `intent "${intent.name}" hands off to unknown intent "${target}"`,
          });
        }
      }
      if (intent.continues !== undefined && !file.intents.some((o) => o.name === intent.continues)) {
        ctx.addIssue({
          code: 'custom',
          path: ['intents', i, 'continues'],
          message: `intent "${intent.name}" continues unknown intent "${intent.continues}"`,
        });
      }
      const slotNames = new Set<string>();
      intent.slots.forEach((slot, j) => {
        if (slotNames.has(slot.name)) {
          ctx.addIssue({
            code: 'custom',
            path: ['intents', i, 'slots', j, 'name'],
            message: `duplicate slot "${slot.name}"`,
          });
        }
        slotNames.add(slot.name);
        const builtin = (BUILTIN_SLOT_TYPES as readonly string[]).includes(slot.type);
        if (!builtin && !(slot.type in file.gazetteers)) {
          ctx.addIssue({
            code: 'custom',
            path: ['intents', i, 'slots', j, 'type'],
            message: `unknown slot type "${slot.type}": use one of ${BUILTIN_SLOT_TYPES.join(', ')} or a gazetteer name`,
          });
        }
      });
    });
  });
/** A validated intents file. */
export type IntentsFile = z.infer<typeof IntentsFileSchema>;
/** What an intents file looks like before defaults are applied (what you may pass in code). */
export type IntentsFileInput = z.input<typeof IntentsFileSchema>;

/**
 * Validates an intents definition given as a JavaScript object.
 *
 * @param value - the parsed definition
 * @param source - a name for error messages (file path)
 * @returns the validated intents file, defaults applied
 * @throws DreamAgentError `INVALID_INPUT` naming the first bad field
 */
export function parseIntents(value: unknown, source = '<intents>'): IntentsFile {
  const result = IntentsFileSchema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.map(String) ?? [];
  throw new DreamAgentError(
    'INVALID_INPUT',
    `${source}: ${path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
    {
      details: {
        file: source,
        path,
        issues: result.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })),
      },
    },
  );
}

/**
 * Parses and validates an intents file from YAML text. Errors carry the file and the 1-based line and
 * column of the offending node, in the message and in `details`.
 *
 * @param yamlText - the YAML source
 * @param file - the file name used in error messages
 * @returns the validated intents file
 * @throws DreamAgentError `INVALID_INPUT` for YAML syntax errors and schema violations
 * @example
 * ```ts
 * const intents = loadIntents(`
 * intents:
 *   - name: greet
 *     examples: [hello, hi there]
 * `);
 * ```
 */
export function loadIntents(yamlText: string, file = '<intents>'): IntentsFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(yamlText, { lineCounter, prettyErrors: false });
  const syntax = doc.errors[0];
  if (syntax !== undefined) {
    const pos = lineCounter.linePos(syntax.pos[0]);
    throw new DreamAgentError('INVALID_INPUT', `${file}:${pos.line}:${pos.col}: ${syntax.message}`, {
      details: { file, line: pos.line, column: pos.col },
    });
  }
  const result = IntentsFileSchema.safeParse(doc.toJS());
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.map((p) => (typeof p === 'number' ? p : String(p))) ?? [];
  // Walk up the path until a node exists (a missing key is reported at its parent).
  let line = 1;
  let col = 1;
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) {
      ({ line, col } = lineCounter.linePos(node.range[0]));
      break;
    }
  }
  const where = path.map(String).join('.') || '(root)';
  throw new DreamAgentError(
    'INVALID_INPUT',
    `${file}:${line}:${col}: ${where}: ${issue?.message ?? 'invalid'}`,
    {
      details: { file, line, column: col, path: path.map(String) },
    },
  );
}

/**
 * Reads and validates an intents YAML file.
 *
 * @param path - file path or `file:` URL
 * @returns the validated intents file
 * @throws DreamAgentError `INVALID_INPUT` when the file cannot be read or is invalid (with file and line)
 */
export function loadIntentsFile(path: string | URL): IntentsFile {
  const file = typeof path === 'string' ? path : fileURLToPath(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new DreamAgentError('INVALID_INPUT', `${file}: cannot read the intents file`, {
      cause,
      details: { file },
    });
  }
  return loadIntents(text, file);
}
