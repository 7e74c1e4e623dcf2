/**
 * The one JSON Schema compiler (tools, `input.provide`, structured LLM output): limits, a linear-time
 * engine for `pattern`s, one issue formatter, cached compilation.
 *
 * @packageDocumentation
 */
export {
  compileSchema,
  compileSchemaOrThrow,
  schemaIssueLines,
  DEFAULT_SCHEMA_LIMITS,
  type CompiledSchema,
  type CompileSchemaResult,
  type SchemaIssue,
  type SchemaLimits,
  type SchemaValidation,
} from './compile.js';
export { formatZodIssues, zodIssueList, formatPath, describe, type ValueIssue } from './issues.js';
export {
  compileLinearPattern,
  toRe2Source,
  LinearRegExp,
  UnsupportedPatternError,
  type LinearPattern,
} from './regex.js';
