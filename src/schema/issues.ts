/**
 * The one formatter of schema validation issues: zod issues → `{ path, message }` with short messages
 * that say what was expected (`expected integer, got string`, `is required (expected string)`), paths
 * written the way users write them (`rows[0].total`). Tools, commands and structured output all report
 * through it.
 *
 * @packageDocumentation
 */
import type { z } from 'zod';

/** One validation issue: where (`rows[0].total`, empty for the root) and what was expected. */
export interface ValueIssue {
  path: string;
  message: string;
}

/**
 * At most this many issues are reported for one value; the rest are counted in one last issue. A value
 * with thousands of bad items (a 100 KB array against `items` or `uniqueItems`) would otherwise turn into
 * an error dozens of times its own size, sent back to whoever sent it.
 */
const MAX_ISSUES = 50;

/**
 * Formats zod issues as `{ path, message }` pairs with short messages that say what was expected.
 *
 * @param zodIssues - issues from a failed parse
 * @param value - the value that was parsed (used to tell "missing" from "wrong type")
 * @returns formatted issues, one per bad field
 * @internal
 */
export function formatZodIssues(zodIssues: readonly z.core.$ZodIssue[], value: unknown): ValueIssue[] {
  return zodIssueList(zodIssues, value).map((i) => ({
    path: formatPath(i.segments),
    message: i.message,
  }));
}

/**
 * Like {@link formatZodIssues} but keeps each path as segments (used to locate YAML nodes).
 *
 * @param zodIssues - issues from a failed parse
 * @param value - the value that was parsed
 * @returns issues with path segments
 * @internal
 */
export function zodIssueList(
  zodIssues: readonly z.core.$ZodIssue[],
  value: unknown,
): { segments: (string | number)[]; message: string }[] {
  const out: { segments: (string | number)[]; message: string }[] = [];
  const tooLong = new Set<string>();
  let unread = zodIssues.length;
  for (const issue of zodIssues) {
    // Enough to show (some may still be filtered out below): the rest are only counted.
    if (out.length >= 2 * MAX_ISSUES) break;
    unread -= 1;
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
          // A schema-author message (zod `.regex(re, message)`) says more than the pattern does.
          const custom = !issue.message.startsWith('Invalid string');
          out.push({
            segments: path,
            message: custom ? issue.message : `does not match the pattern ${src}`,
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
          out.push(...zodIssueList(nested, value));
        } else {
          out.push({ segments: path, message: 'does not match any of the allowed schemas' });
        }
        break;
      }
      case 'invalid_key':
        // A key refused by `propertyNames` (or by `additionalProperties: false` next to `patternProperties`).
        out.push({ segments: path, message: 'is not an allowed property' });
        break;
      case 'invalid_element':
      case 'custom':
        out.push({ segments: path, message: issue.message });
        break;
    }
  }
  // A string that is too long also fails its (length-guarded) pattern: report only the length.
  const shown = out.filter(
    (i) => !(tooLong.has(formatPath(i.segments)) && i.message.startsWith('does not match the pattern')),
  );
  const more = Math.max(0, shown.length - MAX_ISSUES) + unread;
  if (more === 0) return shown;
  return [
    ...shown.slice(0, MAX_ISSUES),
    { segments: [], message: `${String(more)} more issue${more === 1 ? '' : 's'} not shown` },
  ];
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
