/**
 * JSON Schema → validator for tools, compiled once when a tool is loaded. A thin face over the one
 * schema compiler in `../schema/` (limits, linear-time `pattern`s, the issue formatter), kept so the
 * tool layer's names stay stable.
 *
 * @packageDocumentation
 */
import type { z } from 'zod';
import type { Json, JsonObject } from '../model/json.js';
import {
  compileSchema,
  DEFAULT_SCHEMA_LIMITS,
  type SchemaIssue,
  type SchemaLimits,
} from '../schema/compile.js';
import { formatZodIssues } from '../schema/issues.js';
import type { ValidationResult } from './types.js';

export { formatZodIssues, zodIssueList, formatPath, describe } from '../schema/issues.js';
export type { SchemaIssue } from '../schema/compile.js';

/** Limits applied to JSON Schemas of tools (the same as `SchemaLimits`). */
export type JsonSchemaLimits = SchemaLimits;

/** The default {@link JsonSchemaLimits}. */
export const DEFAULT_JSON_SCHEMA_LIMITS: Readonly<Required<JsonSchemaLimits>> = DEFAULT_SCHEMA_LIMITS;

/** A compiled validator for one JSON Schema. */
export interface JsonValidator {
  /** The schema as given. */
  readonly schema: JsonObject | boolean;
  /**
   * @param value - the value to check
   * @returns the (possibly defaulted) value, or issues naming each bad field
   */
  validate(value: Json): ValidationResult;
}

/** The result of {@link compileJsonSchema}. */
export type CompileJsonSchemaResult =
  | {
      /** The schema is supported and within the limits. */
      ok: true;
      /** Validates values against it. */
      validator: JsonValidator;
    }
  | {
      /** The schema is invalid, unsupported or over a limit. */
      ok: false;
      /** Every problem found, each with its path inside the schema. */
      issues: SchemaIssue[];
    };

/**
 * Checks a JSON Schema and compiles it into a validator (cached: an equal schema is compiled once).
 * `pattern`s run on a linear-time engine, so no pattern can make validation backtrack.
 *
 * @param schema - the schema (an object or a boolean schema)
 * @param limits - size and pattern bounds (see {@link DEFAULT_JSON_SCHEMA_LIMITS})
 * @returns the validator, or every issue found (each with its path inside the schema)
 * @example
 * ```ts
 * const r = compileJsonSchema({ type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] });
 * if (r.ok) r.validator.validate({ n: 'x' }); // { ok: false, issues: [{ path: 'n', message: 'expected integer, got string' }] }
 * ```
 */
export function compileJsonSchema(schema: unknown, limits: JsonSchemaLimits = {}): CompileJsonSchemaResult {
  const r = compileSchema(schema, limits);
  if (!r.ok) return r;
  const { validator } = r;
  return {
    ok: true,
    validator: { schema: validator.schema, validate: (value) => validator.validate(value) },
  };
}

/**
 * Validates a value with a zod schema and returns a {@link ValidationResult} whose issues name each field.
 *
 * @param schema - a zod schema
 * @param value - the value
 * @returns the parsed value or the issues
 */
export function validateWithZod(schema: z.ZodType, value: unknown): ValidationResult {
  const r = schema.safeParse(value);
  if (r.success) return { ok: true, value: r.data as Json };
  return { ok: false, issues: formatZodIssues(r.error.issues, value) };
}
