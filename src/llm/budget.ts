/**
 * Prompt budgets: one helper, used by every LLM-backed layer, that fits a text or a JSON value into a
 * number of (estimated) tokens and says so in the text when it had to cut.
 *
 * Why one helper: before it, the responder budgeted its step results to ~1 KB while the executor sent a
 * referenced 2 MB tool output to the writer model pretty-printed as 3.2 MB. Every `<data>` block of every
 * prompt now passes through {@link budgetText} or {@link budgetJson}.
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../errors/index.js';
import type { Json } from '../model/json.js';
import { estimateTokens } from '../ports/llm.js';

/** What a budget helper returns. */
export interface Budgeted {
  /** The text to put in the prompt (within the budget). */
  text: string;
  /** True when something was cut (the text then carries a visible marker saying so). */
  truncated: boolean;
  /** Estimated tokens of `text`. */
  tokens: number;
  /** Estimated tokens of the full input, before any cut. */
  originalTokens: number;
}

/** The budget a `<data>` block gets when the caller names none (estimated tokens). */
export const DEFAULT_BLOCK_TOKENS = 8000;

/** Below this, a budget cannot hold a useful excerpt plus the marker. */
const MIN_BUDGET = 16;

function checkBudget(maxTokens: number): void {
  if (!Number.isFinite(maxTokens) || maxTokens < MIN_BUDGET) {
    throw new DreamAgentError(
      'INVALID_INPUT',
      `a prompt budget must be a number of tokens >= ${MIN_BUDGET}, got ${String(maxTokens)}`,
      { retryable: false, details: { maxTokens } },
    );
  }
}

function marker(shown: number, total: number): string {
  return `…[truncated: about ${shown} of ${total} tokens shown]`;
}

/**
 * Fits a text into `maxTokens` estimated tokens. A text that fits is returned as is; a longer one keeps
 * its beginning and ends with a marker (`…[truncated: about N of M tokens shown]`), so the model knows it
 * is reading an excerpt rather than the whole.
 *
 * @param text - any text
 * @param maxTokens - the budget (estimated tokens, at least 16)
 * @returns the text within budget, and whether it was cut
 * @throws DreamAgentError `INVALID_INPUT` for a budget below 16 or not finite
 * @example
 * ```ts
 * budgetText(hugeLog, 500).text; // '2026-01-01 … …[truncated: about 470 of 61234 tokens shown]'
 * ```
 */
export function budgetText(text: string, maxTokens: number): Budgeted {
  checkBudget(maxTokens);
  const originalTokens = estimateTokens(text);
  if (originalTokens <= maxTokens) return { text, truncated: false, tokens: originalTokens, originalTokens };
  const room = maxTokens - estimateTokens(marker(maxTokens, originalTokens)) - 1;
  // Binary search on the prefix length: the estimate is monotone in the prefix.
  let lo = 0;
  let hi = Math.min(text.length, Math.max(0, room) * 8);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (estimateTokens(text.slice(0, mid)) <= room) lo = mid;
    else hi = mid - 1;
  }
  // Do not split a surrogate pair.
  let cut = lo;
  const last = text.charCodeAt(cut - 1);
  if (cut > 0 && last >= 0xd800 && last <= 0xdbff) cut -= 1;
  const head = text.slice(0, cut);
  const shown = estimateTokens(head);
  const out = `${head}${marker(shown, originalTokens)}`;
  return { text: out, truncated: true, tokens: estimateTokens(out), originalTokens };
}

/**
 * Fits a JSON value into `maxTokens` estimated tokens. A value that fits is rendered pretty-printed
 * (when that fits) or compact; a larger one is shrunk structurally — long arrays keep their first
 * items and gain a `"…(N more items)"` entry, long strings keep their beginning, deep nesting is
 * elided — so the model still sees the shape of the data, and a marker says it was cut. Only if that is
 * not enough is the compact text cut like {@link budgetText}.
 *
 * @param value - a JSON value (a tool output, a todo input…)
 * @param maxTokens - the budget (estimated tokens, at least 16)
 * @returns the rendered text within budget, and whether it was cut
 * @throws DreamAgentError `INVALID_INPUT` for a budget below 16 or not finite
 * @example
 * ```ts
 * budgetJson({ rows: twoMegabytesOfRows }, 2000).text;
 * // '{"rows":[{…},{…},…,"…(41230 more items)"]}\n…[truncated: about 1990 of 612000 tokens shown]'
 * ```
 */
export function budgetJson(value: Json, maxTokens: number): Budgeted {
  checkBudget(maxTokens);
  if (typeof value === 'string') return budgetText(value, maxTokens);
  const compact = JSON.stringify(value);
  const originalTokens = estimateTokens(compact);
  if (originalTokens <= maxTokens) {
    const pretty = JSON.stringify(value, null, 2);
    const prettyTokens = estimateTokens(pretty);
    return prettyTokens <= maxTokens
      ? { text: pretty, truncated: false, tokens: prettyTokens, originalTokens }
      : { text: compact, truncated: false, tokens: originalTokens, originalTokens };
  }
  const room = maxTokens - estimateTokens(`\n${marker(maxTokens, originalTokens)}`) - 1;
  // Shrink limits geometrically until the structure fits (a few dozen renders at most).
  let items = 64;
  let chars = 4096;
  let depth = 12;
  for (let round = 0; round < 40 && room > 0; round++) {
    const rendered = JSON.stringify(shrink(value, items, chars, depth));
    if (estimateTokens(rendered) <= room) {
      const out = `${rendered}\n${marker(estimateTokens(rendered), originalTokens)}`;
      return { text: out, truncated: true, tokens: estimateTokens(out), originalTokens };
    }
    if (chars > 32) chars = Math.floor(chars / 2);
    if (items > 1) items = Math.floor(items / 2);
    else if (depth > 1) depth -= 1;
    else if (chars <= 32) break;
  }
  return budgetText(compact, maxTokens);
}

function shrink(value: Json, items: number, chars: number, depth: number): Json {
  if (typeof value === 'string') {
    return value.length <= chars ? value : `${value.slice(0, chars)}…(${value.length - chars} more chars)`;
  }
  if (value === null || typeof value !== 'object') return value;
  if (depth <= 0) return Array.isArray(value) ? `…(array of ${value.length})` : '…(object)';
  if (Array.isArray(value)) {
    const kept = value.slice(0, items).map((v) => shrink(v, items, chars, depth - 1));
    if (value.length > items) kept.push(`…(${value.length - items} more items)`);
    return kept;
  }
  const entries = Object.entries(value);
  const out: Record<string, Json> = {};
  // Objects keep more keys than arrays keep items: keys are usually the schema, items the bulk.
  const maxKeys = Math.max(items * 4, 8);
  for (const [k, v] of entries.slice(0, maxKeys)) out[k] = shrink(v, items, chars, depth - 1);
  if (entries.length > maxKeys) out['…'] = `(${entries.length - maxKeys} more keys)`;
  return out;
}
