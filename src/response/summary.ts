/**
 * The offline Responder: aggregates todo results into a readable answer within a character budget —
 * "smart summarisation" without an LLM.
 *
 * @packageDocumentation
 */
import type { Responder, ResponseContext, TurnSummary } from '../layers.js';
import type { Json, JsonObject } from '../model/json.js';
import type { SkipReason, TodoRecord } from '../model/session.js';

/** Options of {@link SummaryResponder}. */
export interface SummaryResponderOptions {
  /** Total characters of the answer (default 2400). Large outputs are cut to fit. */
  budget?: number;
  /** Rows shown for a table-like output (default 5). */
  topRows?: number;
}

const SKIP_TEXT: Record<SkipReason, string> = {
  denied: 'denied',
  dependency_failed: 'a step it needs did not complete',
  removed: 'removed from the plan',
  recovery_skip: 'skipped after a crash',
  cancelled: 'cancelled',
  policy: 'refused by policy',
};

const ARTEFACT_KEYS = /^(path|file|filePath|url|href|outbox|report|chart|artifact|artefact)s?$/i;

/** Formats a number compactly (thousands separators, ≤ 2 decimals). */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  const digits = abs >= 100 ? 0 : abs >= 1 ? 2 : 4;
  return n.toLocaleString('en-US', { maximumFractionDigits: digits });
}

function isRowArray(v: Json | undefined): v is JsonObject[] {
  return (
    Array.isArray(v) &&
    v.length > 0 &&
    v.every((r) => r !== null && typeof r === 'object' && !Array.isArray(r))
  );
}

/** Summarises a list of rows: count, the first rows as a compact table, totals of numeric columns. */
export function summariseRows(rows: JsonObject[], topRows: number, budget: number): string {
  const columns = [...new Set(rows.slice(0, 50).flatMap((r) => Object.keys(r)))].slice(0, 8);
  const numeric = columns.filter((c) =>
    rows.every((r) => r[c] === undefined || r[c] === null || typeof r[c] === 'number'),
  );
  const cell = (v: Json | undefined): string =>
    typeof v === 'number'
      ? formatNumber(v)
      : v === undefined || v === null
        ? ''
        : typeof v === 'string'
          ? v
          : JSON.stringify(v);
  const lines = [`| ${columns.join(' | ')} |`, `| ${columns.map(() => '---').join(' | ')} |`];
  for (const r of rows.slice(0, topRows))
    lines.push(`| ${columns.map((c) => cell(r[c]).slice(0, 40)).join(' | ')} |`);
  if (rows.length > topRows)
    lines.push(
      `… ${rows.length - topRows} more row${rows.length - topRows === 1 ? '' : 's'} (${rows.length} in all)`,
    );
  const totals = numeric
    .filter((c) => !/(^|_)(id|year|month|day|rank|index)$/i.test(c))
    .map((c) => `${c} ${formatNumber(rows.reduce((s, r) => s + (typeof r[c] === 'number' ? r[c] : 0), 0))}`);
  if (totals.length > 0 && rows.length > 1) lines.push(`Totals: ${totals.join(', ')}`);
  const text = lines.join('\n');
  const cut = '\n… (truncated)';
  return text.length > budget ? `${text.slice(0, Math.max(0, budget - cut.length))}${cut}` : text;
}

/** Key figures of an object: numbers and short strings at the top level, nested once. */
function keyFigures(obj: JsonObject, budget: number): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (ARTEFACT_KEYS.test(k) || k === 'summary') continue;
    if (typeof v === 'number') out.push(`${k}: ${formatNumber(v)}`);
    else if (typeof v === 'string' && v.length <= 80) out.push(`${k}: ${v}`);
    else if (typeof v === 'boolean') out.push(`${k}: ${v ? 'yes' : 'no'}`);
    else if (Array.isArray(v) && !isRowArray(v))
      out.push(`${k}: ${v.length} item${v.length === 1 ? '' : 's'}`);
    if (out.join(', ').length > budget) break;
  }
  return out;
}

/** Collects artefact paths/urls anywhere in an output (depth-limited). */
export function collectArtefacts(value: Json | undefined, depth = 0, out: string[] = []): string[] {
  if (depth > 4 || value === null || value === undefined || typeof value !== 'object') return out;
  if (Array.isArray(value)) {
    for (const v of value.slice(0, 20)) collectArtefacts(v, depth + 1, out);
    return out;
  }
  for (const [k, v] of Object.entries(value)) {
    if (ARTEFACT_KEYS.test(k) && typeof v === 'string' && v.length < 500) out.push(v);
    else collectArtefacts(v, depth + 1, out);
  }
  return out;
}

/**
 * Summarises one todo's output within a budget.
 *
 * @param output - the output
 * @param budget - characters
 * @param topRows - rows shown for tables
 * @returns text (may be empty)
 */
export function summariseOutput(output: Json | undefined, budget: number, topRows = 5): string {
  if (output === undefined || output === null) return '';
  if (typeof output === 'string') {
    if (output.length <= budget) return output;
    const keep = Math.max(0, budget - 40);
    return `${output.slice(0, keep)}… (${output.length - keep} more characters)`;
  }
  if (typeof output !== 'object') return String(output);
  if (isRowArray(output)) return summariseRows(output, topRows, budget);
  if (Array.isArray(output)) return `${output.length} item${output.length === 1 ? '' : 's'}`;
  const parts: string[] = [];
  if (typeof output['summary'] === 'string') parts.push(output['summary']);
  const figures = keyFigures(output, budget / 2);
  if (figures.length > 0) parts.push(figures.join(', '));
  for (const [k, v] of Object.entries(output)) {
    if (isRowArray(v)) {
      parts.push(`${k}:\n${summariseRows(v, topRows, Math.max(200, budget - parts.join('\n').length))}`);
      break;
    }
  }
  const text = parts.join('\n');
  const cut = '… (truncated)';
  return text.length > budget ? `${text.slice(0, Math.max(0, budget - cut.length))}${cut}` : text;
}

/**
 * The offline responder: what was done (with each step's key figures or a compact table), what failed or
 * was skipped and why, and where the artefacts are. Streams the answer as `response.delta`s.
 */
export class SummaryResponder implements Responder {
  readonly #budget: number;
  readonly #topRows: number;

  /** @param options - budget and table size */
  constructor(options: SummaryResponderOptions = {}) {
    this.#budget = options.budget ?? 2400;
    this.#topRows = options.topRows ?? 5;
  }

  async respond(turn: TurnSummary, ctx: ResponseContext): Promise<string> {
    await Promise.resolve();
    const titles = new Map((turn.plan?.todos ?? []).map((t) => [t.id, t.title]));
    const title = (t: TodoRecord): string => titles.get(t.todoId) ?? t.todoId;
    const done = turn.todos.filter((t) => t.status === 'completed');
    const failed = turn.todos.filter((t) => t.status === 'failed');
    const skipped = turn.todos.filter((t) => t.status === 'skipped');
    const sections: string[] = [];
    if (turn.todos.length === 0) {
      sections.push(
        turn.plan?.rationale
          ? `I understood "${turn.intent?.name ?? 'your request'}" but have no steps for it. ${turn.plan.rationale}`
          : `There was nothing to do for "${turn.input}".`,
      );
    } else {
      sections.push(
        `Done: ${done.length} of ${turn.todos.length} step${turn.todos.length === 1 ? '' : 's'} completed${failed.length ? `, ${failed.length} failed` : ''}${skipped.length ? `, ${skipped.length} skipped` : ''}.`,
      );
    }
    // Give each completed step an equal share of the budget left after the fixed parts.
    const share = Math.max(120, Math.floor((this.#budget * 0.75) / Math.max(1, done.length)));
    for (const t of done) {
      const body = summariseOutput(t.output, share, this.#topRows);
      sections.push(`✓ ${title(t)}${t.cached ? ' (from cache)' : ''}${body ? `\n${indent(body)}` : ''}`);
    }
    for (const t of failed) sections.push(`✗ ${title(t)} failed: ${t.error?.message ?? 'unknown error'}`);
    for (const t of skipped)
      sections.push(
        `○ ${title(t)} was not run: ${t.skipReason ? SKIP_TEXT[t.skipReason] : 'skipped'}${t.reason && t.skipReason === 'denied' ? ` (${t.reason})` : ''}.`,
      );
    const artefacts = [...new Set(done.flatMap((t) => collectArtefacts(t.output)))];
    if (artefacts.length > 0) sections.push(`Files:\n${artefacts.map((a) => `  - ${a}`).join('\n')}`);
    let text = sections.join('\n\n');
    const cut = '\n… (answer truncated)';
    if (text.length > this.#budget) text = `${text.slice(0, Math.max(0, this.#budget - cut.length))}${cut}`;
    for (const part of text.split(/(?<=\n)/)) ctx.delta(part);
    return text;
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
