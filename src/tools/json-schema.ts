/**
 * JSON Schema → validator, compiled once when a tool is loaded.
 *
 * The conversion itself is zod 4's `z.fromJSONSchema`. Before handing a schema to it we walk it once to
 * (1) report malformed keywords with their path (so YAML errors point at the right line), and
 * (2) bound hostile schemas: nesting depth, total size, and regular expressions. `pattern`s with nested
 * or overlapping repetition (`(a+)+`, `(a|a)*`) are rejected, and every string checked by a pattern is
 * bounded in length: V8's backtracking engine has no time limit, so a heuristic that misses a bad
 * pattern must still not be able to spin a core on a megabyte input.
 *
 * @packageDocumentation
 */
import { z } from 'zod';
import type { Json, JsonObject } from '../model/json.js';
import type { ValidationResult } from './types.js';

/** Limits applied to JSON Schemas of tools. */
export interface JsonSchemaLimits {
  /** Maximum nesting depth of schema objects (default 32). */
  maxDepth?: number;
  /** Maximum number of JSON values in the schema (default 10,000). */
  maxNodes?: number;
  /** Maximum length of one `pattern` (default 1,000 characters). */
  maxPatternLength?: number;
  /**
   * Maximum length of a string checked by a `pattern` (default 10,000 characters): longer strings fail
   * validation without the pattern being run.
   */
  maxPatternInputLength?: number;
}

/** The default {@link JsonSchemaLimits}. */
export const DEFAULT_JSON_SCHEMA_LIMITS: Readonly<Required<JsonSchemaLimits>> = Object.freeze({
  maxDepth: 32,
  maxNodes: 10_000,
  maxPatternLength: 1_000,
  maxPatternInputLength: 10_000,
});

/** A problem found in a schema, with the path of the offending keyword inside the schema. */
export interface SchemaIssue {
  path: (string | number)[];
  message: string;
}

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
  { ok: true; validator: JsonValidator } | { ok: false; issues: SchemaIssue[] };

const JSON_TYPES = ['string', 'number', 'integer', 'boolean', 'object', 'array', 'null'] as const;
const SCHEMA_KEYWORDS = [
  'additionalProperties',
  'additionalItems',
  'not',
  'contains',
  'propertyNames',
  'if',
  'then',
  'else',
  'unevaluatedProperties',
  'unevaluatedItems',
];
const SCHEMA_MAP_KEYWORDS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'];
const SCHEMA_LIST_KEYWORDS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
const NUMBER_KEYWORDS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'];
const COUNT_KEYWORDS = ['minLength', 'maxLength', 'minItems', 'maxItems', 'minProperties', 'maxProperties'];

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks a JSON Schema and compiles it into a validator.
 *
 * @param schema - the schema (an object or a boolean schema)
 * @param limits - size and regex bounds (see {@link DEFAULT_JSON_SCHEMA_LIMITS})
 * @returns the validator, or every issue found (each with its path inside the schema)
 * @example
 * ```ts
 * const r = compileJsonSchema({ type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] });
 * if (r.ok) r.validator.validate({ n: 'x' }); // { ok: false, issues: [{ path: 'n', message: 'expected integer, got string' }] }
 * ```
 */
export function compileJsonSchema(schema: unknown, limits: JsonSchemaLimits = {}): CompileJsonSchemaResult {
  const lim = { ...DEFAULT_JSON_SCHEMA_LIMITS, ...limits };
  const issues: SchemaIssue[] = [];
  if (typeof schema !== 'boolean' && !isPlainObject(schema)) {
    return {
      ok: false,
      issues: [{ path: [], message: `expected a JSON Schema object, got ${describe(schema)}` }],
    };
  }
  const counter = { nodes: 0, tooBig: false };
  countNodes(schema, counter, lim.maxNodes);
  if (counter.tooBig) {
    return {
      ok: false,
      issues: [{ path: [], message: `schema is too large (more than ${lim.maxNodes} nodes)` }],
    };
  }
  const patterns = new Map<string, string>();
  const rewritten = checkNode(schema, [], 0, schema, lim, issues, patterns);
  if (issues.length > 0) return { ok: false, issues };
  let zodSchema: z.ZodType;
  try {
    zodSchema = z.fromJSONSchema(rewritten as Parameters<typeof z.fromJSONSchema>[0]);
  } catch (e) {
    return {
      ok: false,
      issues: [{ path: [], message: `unsupported schema: ${e instanceof Error ? e.message : String(e)}` }],
    };
  }
  return {
    ok: true,
    validator: {
      schema: schema as JsonObject | boolean,
      validate: (value) => runZod(zodSchema, value, patterns),
    },
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
  return runZod(schema, value, new Map());
}

function runZod(schema: z.ZodType, value: unknown, patterns: Map<string, string>): ValidationResult {
  const r = schema.safeParse(value);
  if (r.success) return { ok: true, value: r.data as Json };
  const issues = formatZodIssues(r.error.issues, value, patterns);
  return { ok: false, issues };
}

/**
 * Formats zod issues as `{ path, message }` pairs with short messages that say what was expected.
 *
 * @param zodIssues - issues from a failed parse
 * @param value - the value that was parsed (used to tell "missing" from "wrong type")
 * @param patterns - rewritten regex source → the pattern as written
 * @returns formatted issues, one per bad field
 * @internal
 */
export function formatZodIssues(
  zodIssues: readonly z.core.$ZodIssue[],
  value: unknown,
  patterns: Map<string, string> = new Map(),
): { path: string; message: string }[] {
  return zodIssueList(zodIssues, value, patterns).map((i) => ({
    path: formatPath(i.segments),
    message: i.message,
  }));
}

/**
 * Like {@link formatZodIssues} but keeps each path as segments (used to locate YAML nodes).
 *
 * @param zodIssues - issues from a failed parse
 * @param value - the value that was parsed
 * @param patterns - rewritten regex source → the pattern as written
 * @returns issues with path segments
 * @internal
 */
export function zodIssueList(
  zodIssues: readonly z.core.$ZodIssue[],
  value: unknown,
  patterns: Map<string, string> = new Map(),
): { segments: (string | number)[]; message: string }[] {
  const out: { segments: (string | number)[]; message: string }[] = [];
  const tooLong = new Set<string>();
  for (const issue of zodIssues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    const at = valueAt(value, path);
    switch (issue.code) {
      case 'invalid_type':
        out.push({
          segments: path,
          message: at.found
            ? `expected ${issue.expected}, got ${describe(at.value)}`
            : `is required (expected ${issue.expected})`,
        });
        break;
      case 'unrecognized_keys':
        for (const key of issue.keys)
          out.push({ segments: [...path, key], message: 'is not an allowed property' });
        break;
      case 'invalid_value':
        out.push({
          segments: path,
          message: `expected ${issue.values.length === 1 ? '' : 'one of '}${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${at.found ? (JSON.stringify(at.value) ?? describe(at.value)) : 'nothing'}`,
        });
        break;
      case 'invalid_format':
        if (issue.format === 'regex') {
          if (tooLong.has(formatPath(path))) break;
          const src = 'pattern' in issue && typeof issue.pattern === 'string' ? issue.pattern : '';
          const original = patterns.get(src.replace(/^\/(.*)\/[a-z]*$/s, '$1'));
          // A schema-author message (zod `.regex(re, message)`) says more than the pattern does.
          const custom = original === undefined && !issue.message.startsWith('Invalid string');
          out.push({
            segments: path,
            message: custom ? issue.message : `does not match the pattern ${original ?? src}`,
          });
        } else {
          out.push({ segments: path, message: `is not a valid ${issue.format}` });
        }
        break;
      case 'too_big':
      case 'too_small': {
        const word = issue.code === 'too_big' ? 'at most' : 'at least';
        const limit = issue.code === 'too_big' ? issue.maximum : issue.minimum;
        const excl = issue.inclusive === false;
        let message: string;
        switch (issue.origin) {
          case 'string':
            message =
              issue.code === 'too_small' && Number(limit) === 1
                ? 'expected a non-empty string'
                : `expected a string of ${word} ${String(limit)} character${Number(limit) === 1 ? '' : 's'}`;
            if (issue.code === 'too_big') tooLong.add(formatPath(path));
            break;
          case 'array':
          case 'set':
            message = `expected ${word} ${String(limit)} item${Number(limit) === 1 ? '' : 's'}`;
            break;
          case 'number':
          case 'int':
          case 'bigint':
          case 'date':
          case 'file':
          default:
            message = `expected a number ${issue.code === 'too_big' ? (excl ? '<' : '<=') : excl ? '>' : '>='} ${String(limit)}`;
        }
        out.push({ segments: path, message });
        break;
      }
      case 'not_multiple_of':
        out.push({ segments: path, message: `expected a multiple of ${String(issue.divisor)}` });
        break;
      case 'invalid_union': {
        // When exactly one branch got past the type check, its issues say what is wrong: report those.
        const deep = issue.errors.filter(
          (branch) => !branch.every((b) => b.code === 'invalid_type' && b.path.length === 0),
        );
        const only = deep.length === 1 ? deep[0] : undefined;
        if (only !== undefined) {
          const nested = only.map((b) => ({ ...b, path: [...issue.path, ...b.path] }) as z.core.$ZodIssue);
          out.push(...zodIssueList(nested, value, patterns));
        } else {
          out.push({ segments: path, message: 'does not match any of the allowed schemas' });
        }
        break;
      }
      case 'invalid_key':
      case 'invalid_element':
      case 'custom':
        out.push({ segments: path, message: issue.message });
        break;
    }
  }
  // A string that is too long also fails its (length-guarded) pattern: report only the length.
  return out.filter(
    (i) => !(tooLong.has(formatPath(i.segments)) && i.message.startsWith('does not match the pattern')),
  );
}

/**
 * Formats a key path the way users write it: `rows[0].total`.
 *
 * @param path - path segments
 * @returns the dotted path (empty string for the root)
 */
export function formatPath(path: readonly (string | number)[]): string {
  let s = '';
  for (const p of path) {
    if (typeof p === 'number') s += `[${p}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(p)) s += s === '' ? p : `.${p}`;
    else s += `[${JSON.stringify(p)}]`;
  }
  return s;
}

/**
 * Describes the JSON type of a value for messages (`string`, `array`, `null`, `integer`…).
 *
 * @param v - any value
 * @returns a short type name
 */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function valueAt(value: unknown, path: readonly (string | number)[]): { found: boolean; value: unknown } {
  let cur: unknown = value;
  for (const p of path) {
    if (typeof cur !== 'object' || cur === null) return { found: false, value: undefined };
    if (!Object.prototype.hasOwnProperty.call(cur, p)) return { found: false, value: undefined };
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return { found: cur !== undefined, value: cur };
}

function countNodes(v: unknown, counter: { nodes: number; tooBig: boolean }, max: number): void {
  // Iterative, so a deeply nested schema cannot overflow the stack before the depth check sees it.
  const stack: unknown[] = [v];
  while (stack.length > 0) {
    const cur = stack.pop();
    if (++counter.nodes > max) {
      counter.tooBig = true;
      return;
    }
    if (typeof cur === 'object' && cur !== null) {
      for (const child of Object.values(cur)) stack.push(child);
    }
  }
}

type Limits = Required<JsonSchemaLimits>;

/** Checks one schema node and returns a copy with length-guarded patterns. */
function checkNode(
  node: unknown,
  path: (string | number)[],
  depth: number,
  root: unknown,
  lim: Limits,
  issues: SchemaIssue[],
  patterns: Map<string, string>,
): unknown {
  if (typeof node === 'boolean') return node;
  if (!isPlainObject(node)) {
    issues.push({ path, message: `expected a JSON Schema object, got ${describe(node)}` });
    return node;
  }
  if (depth > lim.maxDepth) {
    issues.push({ path, message: `schema is nested too deeply (more than ${lim.maxDepth} levels)` });
    return node;
  }
  const out: Record<string, unknown> = { ...node };
  const sub = (v: unknown, p: (string | number)[]): unknown =>
    checkNode(v, p, depth + 1, root, lim, issues, patterns);

  if ('type' in node) {
    const t = node['type'];
    const list = Array.isArray(t) ? t : [t];
    const bad = list.find((x) => typeof x !== 'string' || !(JSON_TYPES as readonly string[]).includes(x));
    if (list.length === 0 || bad !== undefined) {
      issues.push({
        path: [...path, 'type'],
        message: `unsupported type ${bad === undefined ? '[]' : JSON.stringify(bad)} (expected one of ${JSON_TYPES.join(', ')})`,
      });
    }
  }
  for (const k of SCHEMA_KEYWORDS) if (k in node) out[k] = sub(node[k], [...path, k]);
  for (const k of SCHEMA_MAP_KEYWORDS) {
    if (!(k in node)) continue;
    const m = node[k];
    if (!isPlainObject(m)) {
      issues.push({
        path: [...path, k],
        message: `expected an object mapping names to schemas, got ${describe(m)}`,
      });
      continue;
    }
    const copy: Record<string, unknown> = {};
    for (const [name, s] of Object.entries(m)) {
      if (k === 'patternProperties') checkPattern(name, [...path, k, name], lim, issues);
      copy[name] = sub(s, [...path, k, name]);
    }
    out[k] = copy;
  }
  for (const k of SCHEMA_LIST_KEYWORDS) {
    if (!(k in node)) continue;
    const l = node[k];
    if (!Array.isArray(l) || l.length === 0) {
      issues.push({
        path: [...path, k],
        message: `expected a non-empty list of schemas, got ${describe(l)}`,
      });
      continue;
    }
    out[k] = l.map((s, i) => sub(s, [...path, k, i]));
  }
  if ('items' in node) {
    const items = node['items'];
    out['items'] = Array.isArray(items)
      ? items.map((s, i) => sub(s, [...path, 'items', i]))
      : sub(items, [...path, 'items']);
  }
  if ('required' in node) {
    const r = node['required'];
    if (!Array.isArray(r) || r.some((x) => typeof x !== 'string')) {
      issues.push({
        path: [...path, 'required'],
        message: `expected a list of property names, got ${describe(r)}`,
      });
    }
  }
  if ('enum' in node && !Array.isArray(node['enum'])) {
    issues.push({
      path: [...path, 'enum'],
      message: `expected a list of values, got ${describe(node['enum'])}`,
    });
  }
  for (const k of NUMBER_KEYWORDS) {
    if (k in node && (typeof node[k] !== 'number' || !Number.isFinite(node[k]))) {
      issues.push({ path: [...path, k], message: `expected a number, got ${describe(node[k])}` });
    }
  }
  for (const k of COUNT_KEYWORDS) {
    const v = node[k];
    if (k in node && (typeof v !== 'number' || !Number.isInteger(v) || v < 0)) {
      issues.push({
        path: [...path, k],
        message: `expected a non-negative integer, got ${JSON.stringify(v) ?? describe(v)}`,
      });
    }
  }
  if ('$ref' in node) {
    const ref = node['$ref'];
    if (typeof ref !== 'string' || !ref.startsWith('#')) {
      issues.push({
        path: [...path, '$ref'],
        message: `only local references ("#/...") are supported, got ${JSON.stringify(ref)}`,
      });
    } else if (!resolvePointer(root, ref)) {
      issues.push({ path: [...path, '$ref'], message: `reference ${JSON.stringify(ref)} does not resolve` });
    }
  }
  if ('pattern' in node) {
    const p = node['pattern'];
    if (typeof p !== 'string') {
      issues.push({
        path: [...path, 'pattern'],
        message: `expected a regular expression string, got ${describe(p)}`,
      });
    } else if (checkPattern(p, [...path, 'pattern'], lim, issues)) {
      const guarded = `^(?![\\s\\S]{${lim.maxPatternInputLength + 1}})[\\s\\S]*?(?:${p})`;
      patterns.set(guarded, `/${p}/`);
      out['pattern'] = guarded;
      const max = node['maxLength'];
      if (typeof max !== 'number' || max > lim.maxPatternInputLength)
        out['maxLength'] = lim.maxPatternInputLength;
    }
  }
  return out;
}

function resolvePointer(root: unknown, ref: string): boolean {
  if (ref === '#') return true;
  if (!ref.startsWith('#/')) return false;
  let cur: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof cur !== 'object' || cur === null || !Object.prototype.hasOwnProperty.call(cur, key))
      return false;
    cur = (cur as Record<string, unknown>)[key];
  }
  return true;
}

function checkPattern(p: string, path: (string | number)[], lim: Limits, issues: SchemaIssue[]): boolean {
  if (p.length > lim.maxPatternLength) {
    issues.push({ path, message: `pattern is too long (more than ${lim.maxPatternLength} characters)` });
    return false;
  }
  try {
    new RegExp(p);
  } catch (e) {
    issues.push({
      path,
      message: `invalid regular expression: ${e instanceof Error ? e.message : String(e)}`,
    });
    return false;
  }
  const unsafe = unsafePatternReason(p);
  if (unsafe !== undefined) {
    issues.push({ path, message: `pattern ${JSON.stringify(p)} may backtrack catastrophically (${unsafe})` });
    return false;
  }
  return true;
}

/**
 * Whether two single-character descriptors can match the same character. Descriptors: `Lc` (the
 * literal c), `C[...]` (a character class), `\d` `\w` `\s`, `*` (anything), `` (an empty alternative).
 */
function mayOverlap(a: string, b: string): boolean {
  if (a === '' || b === '') return a === b;
  if (a === '*' || b === '*' || a === b) return true;
  const lit = (d: string): string | undefined => (d.startsWith('L') ? d.slice(1) : undefined);
  const la = lit(a);
  const lb = lit(b);
  if (la !== undefined && lb !== undefined) return la === lb;
  if (la === undefined && lb === undefined) {
    const pair = new Set([a, b]);
    return !(pair.has('\\s') && (pair.has('\\d') || pair.has('\\w')));
  }
  const [d, ch] = la === undefined ? [a, lb as string] : [b, la];
  try {
    return new RegExp(d.startsWith('C') ? d.slice(1) : d).test(ch);
  } catch {
    return true;
  }
}

interface Frame {
  /** Descriptors of atoms whose match count varies (`?`, `+`, `*`, `{n,m}`). */
  repeated: string[];
  /** Descriptors of literal atoms that must match exactly once (separators). */
  fixed: string[];
  /** Descriptors of every atom. */
  all: string[];
  /** First-character descriptors of each alternative. */
  firsts: string[];
  /** Whether the current alternative has seen its first atom. */
  started: boolean;
  alternation: boolean;
}

const newFrame = (): Frame => ({
  repeated: [],
  fixed: [],
  all: [],
  firsts: [],
  started: false,
  alternation: false,
});

/**
 * A conservative static check for regexes that can backtrack exponentially: a repeated group that
 * contains a repetition without a separator the repetition cannot consume (`(a+)+`, `(\d*)*`, `(.*a){12}`;
 * `([a-z]+\.)+` is fine), or a repeated group whose alternatives can start with the same character
 * (`(a|ab)*`, `(\w|\d)+`). It is a heuristic — the length bound on checked strings is the backstop.
 *
 * @param p - the regex source
 * @returns why the pattern is unsafe, or undefined
 * @internal
 */
export function unsafePatternReason(p: string): string | undefined {
  const stack: Frame[] = [newFrame()];
  const top = (): Frame => stack[stack.length - 1] as Frame;
  let i = 0;
  // Reads a quantifier at i: 'many' (may match more than once), 'optional' (0 or 1), 'one' (none).
  const quantifier = (): 'many' | 'optional' | 'one' => {
    const c = p[i];
    let q: 'many' | 'optional' | 'one' = 'one';
    if (c === '+') {
      q = 'many';
      i++;
    } else if (c === '*') {
      q = 'many';
      i++;
    } else if (c === '?') {
      q = 'optional';
      i++;
    } else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i));
      if (m) {
        const min = Number(m[1]);
        const max = m[2] === undefined ? min : m[3] === '' || m[3] === undefined ? Infinity : Number(m[3]);
        q = max > 1 ? 'many' : min === 0 ? 'optional' : 'one';
        i += m[0].length;
      }
    }
    if (q !== 'one' && (p[i] === '?' || p[i] === '+')) i++; // lazy suffix
    return q;
  };
  const atom = (desc: string): void => {
    const f = top();
    if (!f.started) {
      f.firsts.push(desc);
      f.started = true;
    }
    f.all.push(desc);
    const q = quantifier();
    if (q !== 'one') f.repeated.push(desc);
    else if (q === 'one' && desc.startsWith('L')) f.fixed.push(desc);
  };
  while (i < p.length) {
    const c = p[i] as string;
    if (c === '\\') {
      const next = p[i + 1] ?? '';
      i += 2;
      if (next === 'b' || next === 'B') continue; // assertions, not atoms
      atom(/[dws]/.test(next) ? `\\${next}` : /[DWS0-9pPuxck]/.test(next) ? '*' : `L${next}`);
    } else if (c === '[') {
      let j = i + 1;
      if (p[j] === '^') j++;
      if (p[j] === ']') j++;
      while (j < p.length && p[j] !== ']') j += p[j] === '\\' ? 2 : 1;
      const cls = p.slice(i, j + 1);
      i = j + 1;
      atom(cls.startsWith('[^') ? '*' : `C${cls}`);
    } else if (c === '(') {
      i++;
      if (p[i] === '?') {
        const m = /^\?(?::|=|!|<=|<!|<[A-Za-z_$][\w$]*>)/.exec(p.slice(i));
        i += m ? m[0].length : 1;
      }
      stack.push(newFrame());
    } else if (c === ')') {
      i++;
      const f = stack.length > 1 ? (stack.pop() as Frame) : newFrame();
      if (f.alternation && !f.started) f.firsts.push('');
      const parent = top();
      const first = f.firsts.length === 1 ? (f.firsts[0] as string) : '*';
      if (!parent.started) {
        parent.firsts.push(first);
        parent.started = true;
      }
      const q = quantifier();
      if (q === 'many') {
        const separated = f.fixed.some((s) => f.repeated.every((r) => !mayOverlap(s, r)));
        if (f.repeated.length > 0 && !separated) return 'a repeated group contains a repetition';
        if (f.firsts.some((a, ai) => f.firsts.some((b, bi) => ai < bi && mayOverlap(a, b)))) {
          return 'a repeated group has alternatives that can match the same text';
        }
        parent.repeated.push(...f.all);
      } else if (q === 'optional') {
        parent.repeated.push(...f.all);
      } else {
        parent.repeated.push(...f.repeated);
        if (q === 'one' && !f.alternation) parent.fixed.push(...f.fixed);
      }
      parent.all.push(...f.all);
    } else if (c === '|') {
      i++;
      const f = top();
      if (!f.started) f.firsts.push('');
      f.started = false;
      f.alternation = true;
    } else if (c === '^' || c === '$') {
      i++;
    } else {
      i++;
      atom(c === '.' ? '*' : `L${c}`);
    }
  }
  return undefined;
}
