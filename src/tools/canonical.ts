/**
 * Canonical JSON and execution-cache keys.
 *
 * The execution cache is keyed by (tool name, tool version, input). Two inputs that are equal as JSON
 * values must produce the same key whatever order their keys were written in, so the input is first
 * serialised canonically: object keys sorted by UTF-16 code units (as RFC 8785 / JCS does), no
 * whitespace, `-0` written as `0`. The key embeds a SHA-256 of that text so keys stay short for large
 * inputs and never contain user data verbatim.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import { DreamAgentError } from '../errors/index.js';
import type { Json } from '../model/json.js';

/**
 * Serialises a JSON value canonically: object keys sorted, no whitespace, so that equal values always
 * produce the same text.
 *
 * @param value - a JSON value
 * @returns the canonical JSON text
 * @throws DreamAgentError `INVALID_INPUT` when the value holds something JSON cannot represent
 *   (a non-finite number, `undefined`, a function, a cycle)
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [true, null] }); // '{"a":[true,null],"b":1}'
 * ```
 */
export function canonicalJson(value: Json): string {
  const parts: string[] = [];
  write(value, parts, new Set());
  return parts.join('');
}

function write(value: unknown, out: string[], seen: Set<object>): void {
  switch (typeof value) {
    case 'string':
      out.push(JSON.stringify(value));
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'number':
      if (!Number.isFinite(value)) {
        throw new DreamAgentError(
          'INVALID_INPUT',
          `cannot canonicalise the non-finite number ${String(value)}`,
        );
      }
      out.push(Object.is(value, -0) ? '0' : JSON.stringify(value));
      return;
    case 'object': {
      if (value === null) {
        out.push('null');
        return;
      }
      if (seen.has(value)) throw new DreamAgentError('INVALID_INPUT', 'cannot canonicalise a cyclic value');
      seen.add(value);
      if (Array.isArray(value)) {
        out.push('[');
        value.forEach((item: unknown, i) => {
          if (i > 0) out.push(',');
          write(item, out, seen);
        });
        out.push(']');
      } else {
        const record = value as Record<string, unknown>;
        // Keys whose value is undefined are dropped, as JSON.stringify does.
        const keys = Object.keys(record)
          .filter((k) => record[k] !== undefined)
          .sort();
        out.push('{');
        keys.forEach((k, i) => {
          if (i > 0) out.push(',');
          out.push(JSON.stringify(k), ':');
          write(record[k], out, seen);
        });
        out.push('}');
      }
      seen.delete(value);
      return;
    }
    case 'undefined':
    case 'bigint':
    case 'function':
    case 'symbol':
      throw new DreamAgentError('INVALID_INPUT', `cannot canonicalise a value of type ${typeof value}`);
  }
}

/**
 * Hashes a string with SHA-256.
 *
 * @param text - the text
 * @returns the lowercase hex digest
 */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * The execution-cache key of one tool call: name and version in clear (so operators can find and purge
 * a tool's entries), the canonical input hashed. A new tool version never reads an old version's entry
 * because the version is part of the key.
 *
 * @param name - the tool name
 * @param version - the tool version
 * @param input - the validated tool input
 * @returns a key such as `dream-agent:tool:sales.query@3:9f86d0…`
 * @throws DreamAgentError `INVALID_INPUT` when the input is not representable as JSON
 * @example
 * ```ts
 * toolCacheKey('math.add', '1', { a: 1, b: 2 }) === toolCacheKey('math.add', '1', { b: 2, a: 1 }); // true
 * ```
 */
export function toolCacheKey(name: string, version: string, input: Json): string {
  return `dream-agent:tool:${encodeURIComponent(name)}@${encodeURIComponent(version)}:${sha256Hex(canonicalJson(input))}`;
}
