/**
 * The one JSON Schema compiler: tool input/output schemas, `input.provide` schemas and JSON Schemas given
 * to structured LLM output all go through {@link compileSchema}.
 *
 * The conversion itself is zod 4's `z.fromJSONSchema`. Around it:
 * - one walk over the schema first reports malformed keywords with their path (so YAML errors point at
 *   the right line) and bounds hostile schemas (nesting depth, total size, pattern length);
 * - every `pattern` and `patternProperties` key runs on the linear-time engine of `./regex.ts`, never on
 *   V8's backtracking one. zod builds its regex checks with `new RegExp(source)`; after conversion each
 *   such check is pointed at a {@link LinearRegExp}, and the compile fails closed (the schema is refused)
 *   if any pattern could not be reached that way — so a zod upgrade that changes its internals makes
 *   schemas with patterns fail loudly rather than run unguarded;
 * - compiled validators are cached by the canonical form of (schema, limits): a schema sent again
 *   (every `input.provide`, every structured-output call) is not converted again.
 *
 * @packageDocumentation
 */
import { z } from 'zod';
import { DreamAgentError } from '../errors/index.js';
import type { Json, JsonObject } from '../model/json.js';
import { canonicalJson } from '../tools/canonical.js';
import { describe, formatZodIssues, type ValueIssue } from './issues.js';
import { compileLinearPattern, LinearRegExp, UnsupportedPatternError, type LinearPattern } from './regex.js';

/** Limits applied to every JSON Schema before it is compiled. */
export interface SchemaLimits {
  /** Maximum nesting depth of schema objects (default 32). */
  maxDepth?: number;
  /** Maximum number of JSON values in the schema (default 10,000). */
  maxNodes?: number;
  /** Maximum length of one `pattern` (default 1,000 characters). */
  maxPatternLength?: number;
  /**
   * Maximum length of a string checked by a `pattern` (default 10,000 characters): longer strings fail
   * validation with a length issue. Matching is linear-time, so this bounds cost, not safety.
   */
  maxPatternInputLength?: number;
}

/** The default {@link SchemaLimits}. */
export const DEFAULT_SCHEMA_LIMITS: Readonly<Required<SchemaLimits>> = Object.freeze({
  maxDepth: 32,
  maxNodes: 10_000,
  maxPatternLength: 1_000,
  maxPatternInputLength: 10_000,
});

/** A problem found in a schema, with the path of the offending keyword inside the schema. */
export interface SchemaIssue {
  /**
   * Where the offending keyword is inside the schema, as segments (`['properties', 'period', 'type']`); empty
   * for the root.
   */
  path: (string | number)[];
  /** What is wrong and what is supported instead. */
  message: string;
}

/** The result of validating a value: the (possibly defaulted) value, or one issue per bad field. */
export type SchemaValidation = { ok: true; value: Json } | { ok: false; issues: ValueIssue[] };

/** A compiled validator for one JSON Schema. */
export interface CompiledSchema {
  /** The schema as given. */
  readonly schema: JsonObject | boolean;
  /** The zod schema it compiled to (patterns on the linear-time engine); for `safeParse` callers. */
  readonly zod: z.ZodType;
  /**
   * Validates a value. Never throws.
   *
   * @param value - the value to check
   * @returns the (possibly defaulted) value, or issues naming each bad field
   */
  validate(value: unknown): SchemaValidation;
}

/** The result of {@link compileSchema}. */
export type CompileSchemaResult =
  { ok: true; validator: CompiledSchema } | { ok: false; issues: SchemaIssue[] };

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
/** Annotation key that makes zod hand the converted node to our registry (see {@link capture}). */
const MARK = 'x-dream-agent-linear-pattern';

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Compiled validators by canonical (limits, schema). Bounded: schemas can come from outside. */
/** Compiled schemas by canonical text: a Map in recency order is all an LRU of 512 needs. */
const compiled = new Map<string, CompileSchemaResult>();
const cache = {
  get(key: string): CompileSchemaResult | undefined {
    const hit = compiled.get(key);
    if (hit !== undefined) {
      compiled.delete(key);
      compiled.set(key, hit);
    }
    return hit;
  },
  set(key: string, value: CompileSchemaResult): void {
    compiled.delete(key);
    compiled.set(key, value);
    if (compiled.size > 512) {
      const oldest = compiled.keys().next();
      if (!oldest.done) compiled.delete(oldest.value);
    }
  },
};

/**
 * Checks a JSON Schema and compiles it into a validator, or returns the cached validator of an equal schema.
 *
 * @param schema - the schema (an object or a boolean schema)
 * @param limits - size and pattern bounds (see {@link DEFAULT_SCHEMA_LIMITS})
 * @returns the validator, or every issue found (each with its path inside the schema)
 * @example
 * ```ts
 * const r = compileSchema({ type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] });
 * if (r.ok) r.validator.validate({ n: 'x' }); // { ok: false, issues: [{ path: 'n', message: 'expected integer, got string' }] }
 * ```
 */
export function compileSchema(schema: unknown, limits: SchemaLimits = {}): CompileSchemaResult {
  const lim = { ...DEFAULT_SCHEMA_LIMITS, ...limits };
  if (typeof schema !== 'boolean' && !isPlainObject(schema)) {
    return {
      ok: false,
      issues: [{ path: [], message: `expected a JSON Schema object, got ${describe(schema)}` }],
    };
  }
  // Bounded before anything proportional to the schema's size (the cache key) is computed.
  if (!withinNodeLimit(schema, lim.maxNodes)) {
    return {
      ok: false,
      issues: [{ path: [], message: `schema is too large (more than ${lim.maxNodes} nodes)` }],
    };
  }
  let key: string | undefined;
  try {
    key = `${lim.maxDepth}:${lim.maxNodes}:${lim.maxPatternLength}:${lim.maxPatternInputLength}:${canonicalJson(schema as Json)}`;
  } catch {
    key = undefined; // not plain JSON (e.g. undefined values): compile without caching
  }
  const hit = key === undefined ? undefined : cache.get(key);
  if (hit) return hit;
  const result = compileUncached(schema as JsonObject | boolean, lim);
  if (key !== undefined) cache.set(key, result);
  return result;
}

/**
 * Like {@link compileSchema}, for callers that treat a bad schema as bad input.
 *
 * @param schema - the schema
 * @param what - what the schema is for, in the error message (`'the requested input schema'`)
 * @param limits - size and pattern bounds
 * @returns the compiled validator
 * @throws DreamAgentError `INVALID_INPUT` with `details.issues` (path inside the schema + message)
 */
export function compileSchemaOrThrow(
  schema: unknown,
  what: string,
  limits: SchemaLimits = {},
): CompiledSchema {
  const r = compileSchema(schema, limits);
  if (r.ok) return r.validator;
  const first = r.issues[0];
  throw new DreamAgentError(
    'INVALID_INPUT',
    `${what} is not a supported JSON Schema${first ? `: ${first.path.length > 0 ? `${first.path.join('.')}: ` : ''}${first.message}` : ''}`,
    { details: { issues: r.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) } },
  );
}

/**
 * Validates a value against a JSON Schema and returns its issues as `path: message` lines (empty when
 * valid). The schema is compiled once (cached). Fails closed: a schema that cannot be compiled (an
 * unsupported pattern, a size limit) yields issues describing it, so the value is refused.
 *
 * @param schema - the schema
 * @param value - the value
 * @returns one line per issue (`(value)` stands for the root)
 * @example
 * ```ts
 * schemaIssueLines({ type: 'string', pattern: '^(a+)+$' }, 'aaaa!'); // ['(value): does not match the pattern /^(a+)+$/']
 * ```
 */
export function schemaIssueLines(schema: unknown, value: unknown): string[] {
  const compiled = compileSchema(schema);
  if (!compiled.ok) {
    return compiled.issues.map(
      (i) => `(schema)${i.path.length > 0 ? `.${i.path.join('.')}` : ''}: ${i.message}`,
    );
  }
  const r = compiled.validator.validate(value);
  return r.ok ? [] : r.issues.map((i) => `${i.path === '' ? '(value)' : i.path}: ${i.message}`);
}

function compileUncached(schema: JsonObject | boolean, lim: Limits): CompileSchemaResult {
  const issues: SchemaIssue[] = [];
  const patterns = new Map<string, LinearPattern>();
  const rewritten = checkNode(schema, [], 0, schema, lim, issues, patterns);
  if (issues.length > 0) return { ok: false, issues };
  const captured: z.ZodType[] = [];
  let zodSchema: z.ZodType;
  try {
    zodSchema = z.fromJSONSchema(rewritten as Parameters<typeof z.fromJSONSchema>[0], {
      registry: capture(captured),
    });
  } catch (e) {
    return {
      ok: false,
      issues: [{ path: [], message: `unsupported schema: ${e instanceof Error ? e.message : String(e)}` }],
    };
  }
  const enforced = linearize([zodSchema, ...captured], patterns);
  const missed = [...patterns.keys()].filter((src) => !enforced.has(src));
  if (missed.length > 0) {
    // Fail closed: a pattern we could not move off V8's engine must not run there.
    return {
      ok: false,
      issues: missed.map((src) => ({
        path: [],
        message: `pattern /${patterns.get(src)?.source ?? src}/ cannot be enforced by the linear-time engine here`,
      })),
    };
  }
  return {
    ok: true,
    validator: {
      schema,
      zod: zodSchema,
      validate: (value) => {
        try {
          const r = zodSchema.safeParse(value);
          if (r.success) return { ok: true, value: r.data as Json };
          return { ok: false, issues: formatZodIssues(r.error.issues, value) };
        } catch (e) {
          // A validator must not throw on hostile values (e.g. a stack overflow on a pathological one).
          return {
            ok: false,
            issues: [
              { path: '', message: `could not be validated: ${e instanceof Error ? e.message : String(e)}` },
            ],
          };
        }
      },
    },
  };
}

/**
 * A registry that only collects the zod schemas built for annotated nodes. zod passes every node with
 * unknown keys to `registry.add`; marking the nodes with patterns makes it hand us their schemas, even
 * those it then hides inside closures (`propertyNames` guards).
 */
function capture(into: z.ZodType[]): z.core.$ZodRegistry<Record<string, unknown>> {
  const registry = {
    add(schema: z.ZodType, meta: Record<string, unknown>) {
      if (MARK in meta) into.push(schema);
      return registry;
    },
  };
  return registry as unknown as z.core.$ZodRegistry<Record<string, unknown>>;
}

interface ZodNode {
  _zod?: { def?: Record<string, unknown> };
}

/**
 * Walks zod schemas and points every regex check whose source is one of ours at its linear-time
 * matcher. @returns the V8 sources that were found
 */
function linearize(roots: readonly unknown[], patterns: Map<string, LinearPattern>): Set<string> {
  const enforced = new Set<string>();
  if (patterns.size === 0) return enforced;
  const seen = new Set<unknown>();
  const stack: unknown[] = [...roots];
  const push = (v: unknown): void => {
    if (typeof v !== 'object' || v === null || seen.has(v)) return;
    if (Array.isArray(v)) {
      for (const x of v) push(x);
    } else if ((v as ZodNode)._zod !== undefined) {
      stack.push(v);
    } else if (Object.getPrototypeOf(v) === Object.prototype) {
      seen.add(v);
      for (const x of Object.values(v)) push(x); // an object shape
    }
  };
  while (stack.length > 0) {
    const node = stack.pop() as ZodNode;
    if (seen.has(node)) continue;
    seen.add(node);
    const def = node._zod?.def;
    if (def === undefined) continue;
    if (def['check'] === 'string_format' && def['format'] === 'regex') {
      const re = def['pattern'];
      if (re instanceof RegExp && !(re instanceof LinearRegExp)) {
        const linear = patterns.get(re.source);
        if (linear !== undefined) {
          def['pattern'] = new LinearRegExp(linear);
          enforced.add(re.source);
        }
      } else if (re instanceof LinearRegExp) {
        enforced.add(re.source);
      }
    }
    for (const [k, v] of Object.entries(def)) {
      if (k === 'getter' && typeof v === 'function') {
        push((v as () => unknown)()); // z.lazy, used for $ref
      } else {
        push(v);
      }
    }
  }
  return enforced;
}

function withinNodeLimit(v: unknown, max: number): boolean {
  // Iterative, so a deeply nested schema cannot overflow the stack before the depth check sees it.
  const stack: unknown[] = [v];
  let nodes = 0;
  while (stack.length > 0) {
    const cur = stack.pop();
    if (++nodes > max) return false;
    if (typeof cur === 'object' && cur !== null) {
      for (const child of Object.values(cur)) stack.push(child);
    }
  }
  return true;
}

type Limits = Required<SchemaLimits>;

/** Checks one schema node and returns a copy ready for zod (patterns marked and length-bounded). */
function checkNode(
  node: unknown,
  path: (string | number)[],
  depth: number,
  root: unknown,
  lim: Limits,
  issues: SchemaIssue[],
  patterns: Map<string, LinearPattern>,
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
  delete out[MARK];
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
      if (k === 'patternProperties') addPattern(name, [...path, k, name], lim, issues, patterns);
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
    } else if (addPattern(p, [...path, 'pattern'], lim, issues, patterns)) {
      out[MARK] = true;
      const max = node['maxLength'];
      if (typeof max !== 'number' || max > lim.maxPatternInputLength)
        out['maxLength'] = lim.maxPatternInputLength;
    }
  }
  const pp = out['patternProperties'];
  if (isPlainObject(pp) && Object.keys(pp).length > 0) {
    out[MARK] = true;
    if (out['additionalProperties'] === false) {
      // zod enforces this combination with V8 regexes held in a closure we cannot reach. The same rule
      // as `propertyNames` (a key is a declared property or matches a pattern) uses checks we can.
      const props = isPlainObject(out['properties']) ? Object.keys(out['properties']) : [];
      const allowed: unknown[] = Object.keys(pp).map((src) => ({
        type: 'string',
        pattern: src,
        [MARK]: true,
      }));
      if (props.length > 0) allowed.unshift({ enum: props });
      const names = { anyOf: allowed };
      out['propertyNames'] =
        out['propertyNames'] === undefined ? names : { allOf: [out['propertyNames'], names] };
      delete out['additionalProperties'];
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

/** Compiles one pattern for the linear-time engine; reports it when it is too long, invalid or unsupported. */
function addPattern(
  p: string,
  path: (string | number)[],
  lim: Limits,
  issues: SchemaIssue[],
  patterns: Map<string, LinearPattern>,
): boolean {
  if (p.length > lim.maxPatternLength) {
    issues.push({ path, message: `pattern is too long (more than ${lim.maxPatternLength} characters)` });
    return false;
  }
  try {
    const linear = compileLinearPattern(p);
    // Keyed by V8's normalised source, which is what zod's checks report (`new RegExp(p).source`).
    patterns.set(new RegExp(p).source, linear);
    return true;
  } catch (e) {
    if (!(e instanceof UnsupportedPatternError)) throw e;
    issues.push({ path, message: e.message });
    return false;
  }
}
