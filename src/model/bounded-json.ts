import { DreamAgentError } from '../errors/index.js';

/**
 * Nesting depth allowed in JSON that comes from outside the process (REST bodies, WebSocket messages)
 * when the caller does not choose one. Real commands nest a handful of levels; validators and clones
 * recurse per level, and a few thousand levels overflow V8's stack — which is how a 9 KB message used
 * to take a server down.
 */
export const DEFAULT_MAX_JSON_DEPTH = 64;

/**
 * Measures the nesting depth of JSON text without parsing it: one linear, non-recursive pass that
 * skips string contents. Stops early once `stopAbove` is exceeded.
 *
 * @param text - JSON text (need not be valid; brackets are counted outside strings)
 * @param stopAbove - stop scanning and return as soon as the depth exceeds this (default: scan all)
 * @returns the greatest depth of `[`/`{` nesting seen (0 for a scalar)
 * @example
 * ```ts
 * jsonTextDepth('{"a":[1,{"b":"[[["}]}'); // 3
 * ```
 */
export function jsonTextDepth(text: string, stopAbove = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i += 1;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth += 1;
      if (depth > max) {
        max = depth;
        if (max > stopAbove) return max;
      }
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth -= 1;
  }
  return max;
}

/**
 * Checks the nesting depth of an already-parsed value (e.g. a body a framework parsed), iteratively.
 *
 * @param value - any value
 * @param maxDepth - the deepest allowed nesting (default {@link DEFAULT_MAX_JSON_DEPTH})
 * @param what - what the value is, for the error message (default `JSON`)
 * @throws `INVALID_INPUT` (details `{ maxDepth }`) when the value nests deeper
 */
export function assertJsonDepth(value: unknown, maxDepth = DEFAULT_MAX_JSON_DEPTH, what = 'JSON'): void {
  const stack: [unknown, number][] = [[value, 0]];
  const seen = new Set<object>();
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    if (d + 1 > maxDepth) throw tooDeep(what, maxDepth);
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
}

/**
 * `JSON.parse` for text from outside the process: refuses nesting deeper than `maxDepth` before
 * anything recursive (zod, clones) sees the value, and turns syntax errors into `INVALID_INPUT`.
 *
 * @param text - the JSON text
 * @param options - `maxDepth` (default {@link DEFAULT_MAX_JSON_DEPTH}); `what` names the input in messages
 * @returns the parsed value
 * @throws `INVALID_INPUT` when the text is not JSON or nests too deeply (details `{ maxDepth }`)
 * @example
 * ```ts
 * const body = parseJsonBounded(text, { maxDepth: 32, what: 'body' });
 * ```
 */
export function parseJsonBounded(text: string, options: { maxDepth?: number; what?: string } = {}): unknown {
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_JSON_DEPTH;
  const what = options.what ?? 'JSON';
  if (jsonTextDepth(text, maxDepth) > maxDepth) throw tooDeep(what, maxDepth);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new DreamAgentError('INVALID_INPUT', `the ${what} is not valid JSON: ${(e as Error).message}`, {
      details: {},
    });
  }
}

function tooDeep(what: string, maxDepth: number): DreamAgentError {
  return new DreamAgentError('INVALID_INPUT', `the ${what} nests deeper than ${maxDepth} levels`, {
    details: { maxDepth },
  });
}
