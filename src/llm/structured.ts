/**
 * Structured output with bounded repair: ask a model for JSON matching a schema, validate what comes
 * back, and when it fails, re-ask with the exact validation errors — a bounded number of times — before
 * failing with a typed error that keeps the raw output.
 *
 * @packageDocumentation
 */
import { z } from 'zod';
import { DreamAgentError, isDreamAgentError } from '../errors/index.js';
import type { JsonObject } from '../model/json.js';
import type { ChatMessage, GenerateResult, LanguageModel, LlmCallScope, TokenUsage } from '../ports/llm.js';
import { addUsage, toLlmError, ZERO_USAGE } from '../ports/llm.js';
import { repairPrompt } from './prompts.js';
import { compileSchemaOrThrow } from '../schema/compile.js';

/** The most repairs {@link generateObject} allows (a guard against unbounded spending). */
export const MAX_REPAIRS = 5;

/** A schema given to {@link generateObject}: a zod schema, or a JSON Schema object. */
export type ObjectSchema<T> = z.ZodType<T> | JsonObject;

/** Options of {@link generateObject}. */
export interface GenerateObjectOptions<T> {
  /** What the value must satisfy. A zod schema gives a typed result; a JSON Schema is converted. */
  schema: ObjectSchema<T>;
  /**
   * The JSON Schema sent to the provider, when it should differ from the validation schema (a compact,
   * model-friendly version). Defaults to the schema itself (zod schemas are converted).
   */
  jsonSchema?: JsonObject;
  /** Name of the output (`^[a-zA-Z0-9_-]{1,64}$`), used by providers. Default `result`. */
  name?: string;
  /** What the output is, passed to providers that accept a schema description. Unset: none. */
  description?: string;
  /** The conversation; not modified (a repair appends the invalid answer and a re-prompt to a copy). */
  messages: ChatMessage[];
  /**
   * Semantic checks after the schema passed; every returned message is fed back for a repair.
   * Must not throw.
   */
  validate?: (value: T) => readonly string[];
  /** How many times to re-prompt after invalid output (0–{@link MAX_REPAIRS}); default 1. */
  maxRepairs?: number;
  /** Builds the re-prompt from the issues (default: the generic `repairPrompt`). */
  repairPrompt?: (issues: readonly string[], stage: OutputFailureStage) => string;
  /** Sampling temperature of every call. Unset: the model's default. */
  temperature?: number;
  /** Upper bound on each call's output, in tokens. Unset: the model's default. */
  maxTokens?: number;
  /** Overrides the model's default model id for these calls. */
  model?: string;
  /** Aborts the call in progress and every repair; rejects with `ABORTED`. */
  signal?: AbortSignal;
  /** Label for usage accounting. */
  layer?: string;
  /** Attribution of the calls (see `llmScope`). */
  scope?: LlmCallScope;
}

/** What {@link generateObject} returns. */
export interface GenerateObjectResult<T> {
  /** The validated value. */
  object: T;
  /** The raw text it was parsed from. */
  text: string;
  /** Calls made (1 + repairs used). */
  attempts: number;
  /** Usage summed over every attempt. */
  usage: TokenUsage;
}

/** At which stage an output failed (kept in `details.stage` of `LLM_INVALID_OUTPUT`). */
export type OutputFailureStage = 'parse' | 'schema' | 'validate';

/** The outcome of checking one output. */
type Check<T> = { ok: true; value: T } | { ok: false; stage: OutputFailureStage; issues: string[] };

/**
 * Asks the model for a JSON value matching `schema`, validates it, and repairs invalid output by
 * re-prompting with the exact errors, at most `maxRepairs` times.
 *
 * @param model - the language model
 * @param options - schema, messages, repair bound, limits
 * @returns the validated value, its raw text, attempts and summed usage
 * @throws DreamAgentError `LLM_INVALID_OUTPUT` after the last failed attempt, with `details.raw` (the
 *   last output), `details.issues`, `details.stage` and `details.attempts`; provider failures pass
 *   through as the adapter typed them (`LLM_ERROR`, `RATE_LIMITED`, …); `INVALID_INPUT` for a bad
 *   `maxRepairs` or an unusable JSON Schema.
 * @example
 * ```ts
 * const { object } = await generateObject(llm, {
 *   schema: z.object({ city: z.string() }),
 *   messages: [{ role: 'user', content: 'Where is the Eiffel tower? Answer as JSON.' }],
 * });
 * ```
 */
export async function generateObject<T>(
  model: LanguageModel,
  options: GenerateObjectOptions<T>,
): Promise<GenerateObjectResult<T>> {
  const maxRepairs = options.maxRepairs ?? 1;
  if (!Number.isInteger(maxRepairs) || maxRepairs < 0 || maxRepairs > MAX_REPAIRS) {
    throw new DreamAgentError(
      'INVALID_INPUT',
      `maxRepairs must be an integer from 0 to ${MAX_REPAIRS}, got ${String(maxRepairs)}`,
    );
  }
  const validator = toZod(options.schema);
  const jsonSchema = options.jsonSchema ?? toJsonSchema(options.schema);
  const messages = [...options.messages];
  let usage: TokenUsage = { ...ZERO_USAGE };
  let last: { text: string; stage: OutputFailureStage; issues: string[] } | undefined;

  for (let attempt = 1; attempt <= maxRepairs + 1; attempt++) {
    let result: GenerateResult;
    try {
      result = await model.generate({
        // A copy per call: the repair loop appends to `messages`, and a model may keep the request.
        messages: [...messages],
        responseFormat: {
          type: 'json',
          schema: jsonSchema,
          name: options.name ?? 'result',
          ...(options.description === undefined ? {} : { description: options.description }),
        },
        ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
        ...(options.maxTokens === undefined ? {} : { maxTokens: options.maxTokens }),
        ...(options.model === undefined ? {} : { model: options.model }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        ...(options.layer === undefined ? {} : { layer: options.layer }),
        ...(options.scope === undefined ? {} : { scope: options.scope }),
      });
    } catch (error) {
      throw toLlmError(error, options.signal);
    }
    usage = addUsage(usage, result.usage);
    const text = outputText(result);
    const check = checkOutput(text, validator, options.validate);
    if (result.finishReason === 'length' && !check.ok) {
      check.issues.unshift('the answer was cut off at the token limit: answer more briefly');
    }
    if (check.ok) return { object: check.value, text, attempts: attempt, usage };
    last = { text, stage: check.stage, issues: check.issues };
    const repair = options.repairPrompt?.(check.issues, check.stage) ?? repairPrompt(check.issues);
    messages.push({ role: 'assistant', content: text }, { role: 'user', content: repair });
  }

  const failure = last as { text: string; stage: OutputFailureStage; issues: string[] };
  throw new DreamAgentError(
    'LLM_INVALID_OUTPUT',
    `the model output failed ${failure.stage === 'validate' ? 'validation' : 'its schema'} after ${maxRepairs + 1} attempt(s): ${failure.issues[0] ?? 'unknown issue'}`,
    {
      retryable: false,
      details: {
        raw: failure.text,
        issues: failure.issues,
        stage: failure.stage,
        attempts: maxRepairs + 1,
        usage,
      },
    },
  );
}

/**
 * Parses model output as JSON, tolerating what models commonly wrap around it: Markdown code fences and
 * prose before or after a single object or array.
 *
 * @param text - the raw output
 * @returns the parsed value, or undefined when no JSON could be found
 */
export function parseJsonOutput(text: string): { value: unknown } | undefined {
  const attempts: string[] = [text.trim()];
  const fenced = /```(?:json|JSON)?\s*\n?([\s\S]*?)```/.exec(text);
  if (fenced?.[1] !== undefined) attempts.push(fenced[1].trim());
  const firstBrace = text.search(/[[{]/);
  if (firstBrace >= 0) {
    const close = text[firstBrace] === '{' ? '}' : ']';
    const lastClose = text.lastIndexOf(close);
    if (lastClose > firstBrace) attempts.push(text.slice(firstBrace, lastClose + 1));
  }
  for (const candidate of attempts) {
    if (candidate === '') continue;
    try {
      return { value: JSON.parse(candidate) as unknown };
    } catch {
      // try the next candidate
    }
  }
  return undefined;
}

/**
 * Converts a zod schema to a JSON Schema for providers (without the `$schema` key); JSON Schemas pass
 * through unchanged.
 *
 * @param schema - a zod schema or a JSON Schema
 * @returns a JSON Schema object
 */
export function toJsonSchema(schema: ObjectSchema<unknown>): JsonObject {
  if (!isZod(schema)) return schema;
  const converted = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonObject;
  const { $schema: _ignored, ...rest } = converted;
  return rest;
}

/**
 * Formats zod issues as `path: message` lines, the form fed back to models.
 *
 * @param error - a zod error
 * @returns one line per issue
 */
export function formatZodIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return path === '' ? issue.message : `${path}: ${issue.message}`;
  });
}

function isZod(schema: ObjectSchema<unknown>): schema is z.ZodType {
  return typeof (schema as { safeParse?: unknown }).safeParse === 'function';
}

function toZod<T>(schema: ObjectSchema<T>): z.ZodType<T> {
  if (isZod(schema)) return schema as z.ZodType<T>;
  return compileSchemaOrThrow(schema, 'the JSON Schema given to generateObject').zod as z.ZodType<T>;
}

/** The deepest nesting accepted in structured output. */
const MAX_DEPTH = 64;

function depthExceeds(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

function outputText(result: GenerateResult): string {
  if (result.text.trim() !== '') return result.text;
  // Some models answer a JSON request with a tool call instead of text: accept its arguments.
  const call = result.toolCalls[0];
  return call === undefined ? result.text : call.arguments;
}

function checkOutput<T>(
  text: string,
  schema: z.ZodType<T>,
  validate?: (value: T) => readonly string[],
): Check<T> {
  const parsed = parseJsonOutput(text);
  if (parsed === undefined) {
    return {
      ok: false,
      stage: 'parse',
      issues: [
        text.trim() === ''
          ? 'the answer was empty: a JSON value is required'
          : 'the answer is not valid JSON',
      ],
    };
  }
  // Schema validators and JSON.stringify recurse: a pathologically deep value (a model looping on
  // "[[[[…") would overflow the stack with an untyped RangeError. Refuse it as invalid output instead.
  if (depthExceeds(parsed.value, MAX_DEPTH)) {
    return { ok: false, stage: 'schema', issues: [`the value is nested more than ${MAX_DEPTH} levels deep`] };
  }
  const result = schema.safeParse(parsed.value);
  if (!result.success) return { ok: false, stage: 'schema', issues: formatZodIssues(result.error) };
  if (validate !== undefined) {
    let issues: readonly string[];
    try {
      issues = validate(result.data);
    } catch (error) {
      // A validator bug must not escape as an untyped error.
      if (isDreamAgentError(error)) throw error;
      throw new DreamAgentError('INTERNAL', 'the output validator threw', { cause: error });
    }
    if (issues.length > 0) return { ok: false, stage: 'validate', issues: [...issues] };
  }
  return { ok: true, value: result.data };
}
