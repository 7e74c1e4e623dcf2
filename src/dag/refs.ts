/**
 * Output references: `{ "$ref": "fetch", "path": "rows.0.total" }` placed anywhere inside a todo's
 * `input` stands for a value taken from the output of a dependency. They are resolved to typed values
 * (a number stays a number, an object stays an object) right before the todo runs, never by string
 * substitution — templating JSON as text is how injection bugs and "[object Object]" inputs happen.
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../errors/index.js';
import { cloneJson, type Json, type JsonObject } from '../model/json.js';
import { isOutputRef, type OutputRef } from '../model/plan.js';

/**
 * Collects every {@link OutputRef} inside a JSON value, at any depth, in document order.
 *
 * @param input - a todo input (or any JSON value)
 * @returns the references found (fresh objects; the input is not retained)
 * @example
 * ```ts
 * collectRefs({ rows: { $ref: 'fetch', path: 'rows' }, n: 3 }); // [{ $ref: 'fetch', path: 'rows' }]
 * ```
 */
export function collectRefs(input: Json): OutputRef[] {
  const found: OutputRef[] = [];
  // Explicit stack rather than recursion: inputs come from LLM planners and users, and a
  // pathologically deep value must not crash validation with a RangeError.
  const stack: Json[] = [input];
  while (stack.length > 0) {
    const value = stack.pop() as Json;
    if (isOutputRef(value)) {
      found.push(value.path === undefined ? { $ref: value.$ref } : { $ref: value.$ref, path: value.path });
      continue;
    }
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push(value[i] as Json);
    } else if (typeof value === 'object' && value !== null) {
      const keys = Object.keys(value);
      for (let i = keys.length - 1; i >= 0; i--) stack.push(value[keys[i] as string] as Json);
    }
  }
  return found;
}

/**
 * Reads the value at a dot path (`rows.0.total`). Numeric segments index arrays; on objects every
 * segment is a key (so `{"0": …}` is reachable too). Only own properties are followed, so a path like
 * `constructor` or `__proto__` never escapes into the prototype chain.
 *
 * @param value - the value to read from
 * @param path - a dot path; `undefined` or `''` means the whole value
 * @returns the value at the path, or `undefined` when the path does not exist
 * @example
 * ```ts
 * getPath({ rows: [{ total: 5 }] }, 'rows.0.total'); // 5
 * getPath({ rows: [] }, 'rows.0'); // undefined
 * ```
 */
export function getPath(value: Json, path: string | undefined): Json | undefined {
  if (path === undefined || path === '') return value;
  let current: Json | undefined = value;
  for (const segment of path.split('.')) {
    if (current === undefined || current === null || typeof current !== 'object') return undefined;
    if (Array.isArray(current)) {
      // Only canonical non-negative integers index arrays: "01", "-1" or "1.5" are not positions.
      if (!/^(0|[1-9][0-9]*)$/.test(segment)) return undefined;
      current = current[Number(segment)];
    } else {
      current = Object.hasOwn(current, segment) ? current[segment] : undefined;
    }
  }
  return current;
}

/**
 * Returns a copy of `input` in which every {@link OutputRef} is replaced by the value it points to.
 * Neither `input` nor the outputs are mutated, and resolved values are copied, so a tool that
 * mutates its input cannot corrupt a stored output.
 *
 * @param input - a todo input that may contain references
 * @param outputs - the outputs of completed todos, by todo id
 * @returns the resolved input
 * @throws DreamAgentError `INVALID_INPUT` when a referenced output is missing or the path does not
 *   exist in it; the message names the referenced todo, the path and where the reference sits.
 * @example
 * ```ts
 * const outputs = new Map([['fetch', { rows: [{ total: 5 }] }]]);
 * resolveInput({ amount: { $ref: 'fetch', path: 'rows.0.total' } }, outputs); // { amount: 5 }
 * ```
 */
export function resolveInput(input: JsonObject, outputs: ReadonlyMap<string, Json>): JsonObject {
  return resolveValue(input, outputs, 'input') as JsonObject;
}

function resolveValue(value: Json, outputs: ReadonlyMap<string, Json>, at: string): Json {
  if (isOutputRef(value)) {
    const ref = value.$ref;
    const path = value.path;
    if (!outputs.has(ref)) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `${at}: references the output of "${ref}", which has no output`,
        {
          details: { at, ref, path: path ?? null },
        },
      );
    }
    const resolved = getPath(outputs.get(ref) as Json, path);
    if (resolved === undefined) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `${at}: path "${path ?? ''}" does not exist in the output of "${ref}"`,
        { details: { at, ref, path: path ?? null } },
      );
    }
    return cloneJson(resolved);
  }
  if (Array.isArray(value)) return value.map((item, i) => resolveValue(item, outputs, `${at}.${i}`));
  if (typeof value === 'object' && value !== null) {
    // fromEntries defines own properties, so a "__proto__" key stays data instead of setting the prototype.
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, resolveValue(item, outputs, `${at}.${key}`)]),
    );
  }
  return value;
}
