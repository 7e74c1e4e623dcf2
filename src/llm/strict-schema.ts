/**
 * JSON Schemas for OpenAI's strict structured output (`response_format.json_schema.strict: true`, and
 * strict function tools): conversion from an ordinary schema, the rules strict mode enforces as a
 * checker, and the inverse mapping of the answers (the `null`s that stand for omitted optionals).
 *
 * Strict mode accepts a subset of JSON Schema: every object lists all its properties in `required` and
 * sets `additionalProperties: false` (an optional property becomes a required one that may be `null`),
 * the root is an object, unions are `anyOf`, and only a set of keywords is allowed. A schema that cannot
 * be expressed so — a free-form object (`{ type: 'object' }` with no properties), a tuple, `allOf`/`not`/
 * conditionals, an untyped `{}` — is reported as not convertible, and callers send it non-strict.
 *
 * @packageDocumentation
 */
import type { Json, JsonObject } from '../model/json.js';

/** The result of {@link toStrictJsonSchema}. */
export type StrictConversion =
  | {
      /** The schema could be converted: send it with `strict: true`. */
      strict: true;
      /** The strict form: every property required (optionals nullable), `additionalProperties: false`. */
      schema: JsonObject;
    }
  | {
      /** The schema cannot be expressed in strict mode: send it non-strict. */
      strict: false;
      /** The original schema, unchanged. */
      schema: JsonObject;
      /** Why it is not convertible, naming the place (`the root of a strict schema must be …`). */
      reason: string;
    };

/** Keywords strict mode accepts (others are dropped; dream-agent validates the answer against the original anyway). */
const ALLOWED = new Set([
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'anyOf',
  'enum',
  'const',
  'description',
  'title',
  '$ref',
  '$defs',
  'definitions',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minItems',
  'maxItems',
]);
/** Keywords that change what validates and cannot be dropped or rewritten. */
const UNSUPPORTED = [
  'allOf',
  'not',
  'if',
  'then',
  'else',
  'patternProperties',
  'dependentRequired',
  'dependentSchemas',
  'unevaluatedProperties',
  'unevaluatedItems',
  'prefixItems',
  'contains',
  'propertyNames',
];
/** OpenAI's documented limits. */
const MAX_DEPTH = 10;
const MAX_PROPERTIES = 5000;
const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'object', 'array', 'null']);

class NotStrict extends Error {}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typesOf(schema: JsonObject): string[] | undefined {
  const t = schema['type'];
  if (typeof t === 'string') return [t];
  if (Array.isArray(t) && t.every((x) => typeof x === 'string')) return t as string[];
  return undefined;
}

/** Whether `null` already validates against the schema (so an optional needs no extra union). */
function allowsNull(schema: JsonObject): boolean {
  if (typesOf(schema)?.includes('null') === true) return true;
  if (Array.isArray(schema['enum']) && schema['enum'].includes(null)) return true;
  if ('const' in schema && schema['const'] === null) return true;
  return [schema['anyOf'], schema['oneOf']].some(
    (union) => Array.isArray(union) && union.some((s) => isObject(s) && allowsNull(s)),
  );
}

/**
 * `schema` widened to admit null, without adding a nesting level where it can be avoided (a union gets a
 * null branch, a `const` becomes a two-value `enum`); `depth` is where `schema` sits, so a wrap that would
 * push it past strict mode's nesting limit is refused rather than produced.
 */
function nullable(schema: JsonObject, path: string, depth: number): JsonObject {
  if (allowsNull(schema)) return schema;
  const types = typesOf(schema);
  if (Array.isArray(schema['anyOf'])) return { ...schema, anyOf: [...schema['anyOf'], { type: 'null' }] };
  if ('const' in schema && schema['enum'] === undefined) {
    const { const: value, ...rest } = schema;
    const out: JsonObject = { ...rest, enum: [value as Json, null] };
    if (types !== undefined) out['type'] = [...types, 'null'];
    return out;
  }
  if (
    schema['$ref'] !== undefined ||
    'const' in schema ||
    (types === undefined && !Array.isArray(schema['enum']))
  ) {
    if (depth + 1 > MAX_DEPTH) throw new NotStrict(`${path}: nesting deeper than ${MAX_DEPTH} levels`);
    return { anyOf: [schema, { type: 'null' }] };
  }
  const out: JsonObject = { ...schema };
  if (types !== undefined) out['type'] = [...types, 'null'];
  if (Array.isArray(schema['enum'])) out['enum'] = [...schema['enum'], null];
  return out;
}

interface Walk {
  properties: number;
}

function convert(schema: Json, path: string, depth: number, walk: Walk): JsonObject {
  if (!isObject(schema)) throw new NotStrict(`${path}: a schema must be an object`);
  if (depth > MAX_DEPTH) throw new NotStrict(`${path}: nesting deeper than ${MAX_DEPTH} levels`);
  for (const k of UNSUPPORTED) {
    if (k in schema) throw new NotStrict(`${path}: "${k}" is not supported in strict mode`);
  }
  if (schema['oneOf'] !== undefined && schema['anyOf'] !== undefined) {
    throw new NotStrict(`${path}: both "oneOf" and "anyOf"`);
  }
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(schema)) {
    if (ALLOWED.has(k)) out[k] = v;
  }
  // oneOf of disjoint branches validates like anyOf for the model's purpose; we re-validate anyway.
  const union = schema['anyOf'] ?? schema['oneOf'];
  if (union !== undefined) {
    if (!Array.isArray(union) || union.length === 0) throw new NotStrict(`${path}: an empty union`);
    out['anyOf'] = union.map((s, i) => convert(s, `${path}/anyOf/${i}`, depth + 1, walk));
  }
  for (const defsKey of ['$defs', 'definitions'] as const) {
    const defs = schema[defsKey];
    if (defs === undefined) continue;
    if (!isObject(defs)) throw new NotStrict(`${path}/${defsKey}: must be an object`);
    out[defsKey] = Object.fromEntries(
      Object.entries(defs).map(([k, v]) => [k, convert(v, `${path}/${defsKey}/${k}`, 1, walk)]),
    );
  }
  const types = typesOf(schema);
  if (schema['type'] !== undefined && (types === undefined || types.some((t) => !TYPES.has(t)))) {
    throw new NotStrict(`${path}: unknown type ${JSON.stringify(schema['type'])}`);
  }
  if (
    types === undefined &&
    union === undefined &&
    schema['$ref'] === undefined &&
    schema['enum'] === undefined &&
    !('const' in schema)
  ) {
    throw new NotStrict(`${path}: an untyped schema (any value) cannot be strict`);
  }
  if (types?.includes('object') === true) {
    const props = schema['properties'];
    const extra = schema['additionalProperties'];
    if (!isObject(props) || (extra !== undefined && extra !== false)) {
      throw new NotStrict(
        `${path}: a free-form object (no "properties", or "additionalProperties" other than false) cannot be strict`,
      );
    }
    const required = new Set(
      Array.isArray(schema['required']) ? schema['required'].filter((r) => typeof r === 'string') : [],
    );
    const converted: JsonObject = {};
    for (const [key, value] of Object.entries(props)) {
      walk.properties += 1;
      if (walk.properties > MAX_PROPERTIES) throw new NotStrict(`more than ${MAX_PROPERTIES} properties`);
      const child = convert(value, `${path}/properties/${key}`, depth + 1, walk);
      converted[key] = required.has(key) ? child : nullable(child, `${path}/properties/${key}`, depth + 1);
    }
    out['properties'] = converted;
    out['required'] = Object.keys(props);
    out['additionalProperties'] = false;
  }
  if (types?.includes('array') === true) {
    const items = schema['items'];
    if (items === undefined) throw new NotStrict(`${path}: an array needs "items" in strict mode`);
    if (Array.isArray(items)) throw new NotStrict(`${path}: tuple "items" are not supported`);
    out['items'] = convert(items, `${path}/items`, depth + 1, walk);
  }
  return out;
}

/**
 * Converts a JSON Schema into one OpenAI's strict mode accepts: every object gets all its properties in
 * `required` and `additionalProperties: false`, optional properties become nullable (`type: [t, 'null']`,
 * or `anyOf: [s, { type: 'null' }]`), `oneOf` becomes `anyOf`, and keywords strict mode rejects without
 * changing the shape (`default`, `examples`, `minLength`…) are dropped. A schema that cannot be expressed
 * strictly is returned unchanged with `strict: false` and the reason.
 *
 * @param schema - the original schema (its root must be an object schema)
 * @returns the strict schema, or the original with the reason it cannot be strict
 * @example
 * ```ts
 * toStrictJsonSchema({ type: 'object', properties: { a: { type: 'string' } } }).schema;
 * // { type: 'object', properties: { a: { type: ['string', 'null'] } }, required: ['a'], additionalProperties: false }
 * ```
 */
export function toStrictJsonSchema(schema: JsonObject): StrictConversion {
  try {
    if (typesOf(schema)?.join() !== 'object') {
      throw new NotStrict('the root of a strict schema must be { type: "object" }');
    }
    return { strict: true, schema: convert(schema, '#', 1, { properties: 0 }) };
  } catch (error) {
    if (error instanceof NotStrict) return { strict: false, schema, reason: error.message };
    throw error;
  }
}

/**
 * Lists the ways a schema breaks OpenAI's strict-mode rules (empty when it complies): root not an
 * object, an object without `additionalProperties: false` or with a property missing from `required`,
 * an unsupported keyword, an array without `items`, an untyped schema, too deep or too many properties.
 *
 * @param schema - a schema meant for `strict: true`
 * @returns human-readable violations, with JSON pointers
 */
export function strictSchemaIssues(schema: JsonObject): string[] {
  const issues: string[] = [];
  let properties = 0;
  if (typesOf(schema)?.join() !== 'object') issues.push('#: the root must be { type: "object" }');
  const visit = (s: Json, path: string, depth: number): void => {
    if (!isObject(s)) {
      issues.push(`${path}: not a schema object`);
      return;
    }
    if (depth > MAX_DEPTH) issues.push(`${path}: deeper than ${MAX_DEPTH}`);
    for (const k of Object.keys(s)) {
      if (!ALLOWED.has(k)) issues.push(`${path}: keyword "${k}" is not allowed`);
    }
    const types = typesOf(s);
    if (
      types === undefined &&
      s['anyOf'] === undefined &&
      s['$ref'] === undefined &&
      s['enum'] === undefined &&
      !('const' in s)
    ) {
      issues.push(`${path}: no type`);
    }
    if (types?.includes('object') === true) {
      const props = s['properties'];
      if (!isObject(props)) issues.push(`${path}: object without properties`);
      if (s['additionalProperties'] !== false) issues.push(`${path}: additionalProperties is not false`);
      const required = Array.isArray(s['required']) ? s['required'] : [];
      for (const key of Object.keys(isObject(props) ? props : {})) {
        properties += 1;
        if (!required.includes(key)) issues.push(`${path}: property "${key}" is not required`);
      }
      for (const [key, v] of Object.entries(isObject(props) ? props : {})) {
        visit(v, `${path}/properties/${key}`, depth + 1);
      }
    }
    if (types?.includes('array') === true) {
      if (s['items'] === undefined || Array.isArray(s['items']))
        issues.push(`${path}: array without items schema`);
      else visit(s['items'], `${path}/items`, depth + 1);
    }
    if (Array.isArray(s['anyOf'])) s['anyOf'].forEach((b, i) => visit(b, `${path}/anyOf/${i}`, depth + 1));
    for (const defsKey of ['$defs', 'definitions']) {
      const defs = s[defsKey];
      if (isObject(defs)) for (const [k, v] of Object.entries(defs)) visit(v, `${path}/${defsKey}/${k}`, 1);
    }
  };
  visit(schema, '#', 1);
  if (properties > MAX_PROPERTIES) issues.push(`more than ${MAX_PROPERTIES} properties`);
  return issues;
}

/**
 * Undoes the optional-as-nullable rewrite on an answer: a property that the original schema did not
 * require, and whose schema does not itself allow `null`, is removed when the model sent `null` for it
 * — so the answer validates against the original schema again. Follows `properties`, `items` and,
 * for unions, the first branch that declares all of an object's keys; other values are returned as they
 * are.
 *
 * @param value - the parsed answer
 * @param original - the schema before {@link toStrictJsonSchema}
 * @returns the answer without the placeholder nulls (a new value; the input is not changed)
 */
export function stripStrictNulls(value: Json, original: JsonObject): Json {
  const union = original['anyOf'] ?? original['oneOf'];
  if (Array.isArray(union) && typeof value === 'object' && value !== null) {
    const branch = branchOf(value, original);
    return branch === undefined ? value : stripStrictNulls(value, branch);
  }
  if (Array.isArray(value)) {
    const items = original['items'];
    return isObject(items) ? value.map((v) => stripStrictNulls(v, items)) : value;
  }
  if (!isObject(value)) return value;
  const props = original['properties'];
  if (!isObject(props)) return value;
  const required = Array.isArray(original['required']) ? original['required'] : [];
  const out: JsonObject = {};
  for (const [key, v] of Object.entries(value)) {
    const schema = props[key];
    if (!isObject(schema)) {
      out[key] = v;
      continue;
    }
    if (v === null && !required.includes(key) && !allowsNull(schema)) continue;
    out[key] = stripStrictNulls(v, schema);
  }
  return out;
}

/** The branch of a (possibly nested) union an object or array answer took: the first that can hold it. */
function branchOf(value: Json, schema: JsonObject): JsonObject | undefined {
  const union = schema['anyOf'] ?? schema['oneOf'];
  if (Array.isArray(union)) {
    for (const b of union) {
      const found = isObject(b) ? branchOf(value, b) : undefined;
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (Array.isArray(value)) return typesOf(schema)?.includes('array') === true ? schema : undefined;
  const props = schema['properties'];
  if (!isObject(value) || !isObject(props)) return undefined;
  return Object.keys(value).every((k) => k in props) ? schema : undefined;
}
