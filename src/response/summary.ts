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

/** Turns a column key into words: `sharePct` → `share (%)`, `total_units` → `total units`. */
function humanise(key: string): string {
  const pct = /pct$/i.test(key);
  const words = key
    .replace(/pct$/i, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .trim()
    .toLowerCase();
  return pct ? `${words} (%)` : words;
}

/**
 * Renders rows as a complete Markdown table within a budget: cells are never cut; rows that do not fit
 * are counted instead (`… 9 more rows (14 in all)`). Only scalar columns are shown (at most 6).
 *
 * @param rows - the rows
 * @param budget - characters
 * @returns the table, or an empty string when not even the header fits
 */
export function renderTable(rows: readonly JsonObject[], budget: number): string {
  const columns = [...new Set(rows.slice(0, 50).flatMap((r) => Object.keys(r)))]
    .filter((c) => rows.every((r) => r[c] === undefined || r[c] === null || typeof r[c] !== 'object'))
    .slice(0, 6);
  if (columns.length === 0) return '';
  const cell = (v: Json | undefined): string =>
    typeof v === 'number'
      ? formatNumber(v)
      : typeof v === 'boolean'
        ? v
          ? 'yes'
          : ''
        : v === undefined || v === null
          ? ''
          : String(v).replace(/\|/g, '\\|').replace(/\s+/g, ' ');
  const lines = [`| ${columns.map(humanise).join(' | ')} |`, `| ${columns.map(() => '---').join(' | ')} |`];
  let used = lines.join('\n').length;
  if (used > budget) return '';
  const more = (n: number): string => `… ${n} more row${n === 1 ? '' : 's'} (${rows.length} in all)`;
  for (let i = 0; i < rows.length; i++) {
    const line = `| ${columns.map((c) => cell(rows[i]?.[c])).join(' | ')} |`;
    const reserve = i + 1 < rows.length ? more(rows.length - i - 1).length + 1 : 0;
    if (used + 1 + line.length + reserve > budget) {
      const rest = more(rows.length - i);
      if (used + 1 + rest.length > budget)
        return i === 0
          ? ''
          : lines
              .slice(0, -1)
              .concat(more(rows.length - i + 1))
              .join('\n');
      lines.push(rest);
      break;
    }
    lines.push(line);
    used += 1 + line.length;
  }
  return lines.join('\n');
}

/** Cuts text at the last sentence end that fits (or at a word, with an ellipsis, when none does). */
function cutAtSentence(text: string, budget: number): string {
  if (text.length <= budget) return text;
  const slice = text.slice(0, budget);
  const end = Math.max(slice.lastIndexOf('. '), slice.lastIndexOf('.\n'));
  if (end > budget / 3) return slice.slice(0, end + 1);
  const word = slice.slice(0, Math.max(0, budget - 1)).replace(/\s+\S*$/, '');
  return `${word}…`;
}

/** The `narrative` sentences of an output, when it has them. */
function narrativeOf(output: Json | undefined): string | undefined {
  if (output === null || typeof output !== 'object' || Array.isArray(output)) return undefined;
  const n = output['narrative'];
  return typeof n === 'string' && n.trim() !== '' ? n.trim() : undefined;
}

/**
 * The offline responder. When the steps' outputs carry a `narrative` (plain sentences written by the
 * tool that computed the figures), the answer is: those sentences first, then what was not done and
 * why, then the key table (the first completed step's `rows`, complete rows only), then the files.
 * Without narratives it falls back to one short summary per step. Streams the answer as
 * `response.delta`s and never exceeds its budget; the same turn always gives the same text.
 *
 * @example
 * ```ts
 * const agent = new Agent({ tools, responder: new SummaryResponder({ budget: 2000 }) });
 * ```
 */
export class SummaryResponder implements Responder {
  readonly #budget: number;
  readonly #topRows: number;

  /** @param options - budget and table size */
  constructor(options: SummaryResponderOptions = {}) {
    this.#budget = options.budget ?? 2400;
    this.#topRows = options.topRows ?? 5;
  }

  /**
   * @param turn - the turn's input, intent, plan and todo records
   * @param ctx - receives the answer as deltas
   * @returns the answer text
   */
  async respond(turn: TurnSummary, ctx: ResponseContext): Promise<string> {
    await Promise.resolve();
    const text = this.#compose(turn);
    for (const part of text.split(/(?<=\n)/)) ctx.delta(part);
    return text;
  }

  #compose(turn: TurnSummary): string {
    const budget = this.#budget;
    const titles = new Map((turn.plan?.todos ?? []).map((t) => [t.id, t.title]));
    const title = (t: TodoRecord): string => titles.get(t.todoId) ?? t.todoId;
    const done = turn.todos.filter((t) => t.status === 'completed');
    const failed = turn.todos.filter((t) => t.status === 'failed');
    const skipped = turn.todos.filter((t) => t.status === 'skipped');
    if (turn.todos.length === 0) {
      const text = turn.plan?.rationale ?? `There was nothing to do for "${turn.input}".`;
      return cutAtSentence(text, budget);
    }
    const notDone = [
      ...failed.map((t) => `✗ ${title(t)} failed: ${t.error?.message ?? 'unknown error'}`),
      ...skipped.map(
        (t) =>
          `○ ${title(t)} was not run: ${t.skipReason ? SKIP_TEXT[t.skipReason] : 'skipped'}${t.reason && t.skipReason === 'denied' ? ` (${t.reason})` : ''}.`,
      ),
    ];
    const pending = turn.todos.length - done.length - failed.length - skipped.length;
    const artefacts = [...new Set(done.flatMap((t) => collectArtefacts(t.output)))];
    const files = artefacts.length > 0 ? `Files:\n${artefacts.map((a) => `  - ${a}`).join('\n')}` : '';

    // Narratives, in plan order, each once (a report repeats the sentences of the steps it is built on).
    const lead: string[] = [];
    for (const t of done) {
      const n = narrativeOf(t.output);
      if (n === undefined) continue;
      let rest = n;
      for (const l of lead) rest = rest.replace(l, '');
      if (rest.trim() !== '') lead.push(n);
    }
    if (lead.length === 0) return this.#perStep(turn, done, notDone, files, title);

    const status =
      done.length === turn.todos.length
        ? ''
        : `${done.length} of ${turn.todos.length} steps completed${failed.length ? `, ${failed.length} failed` : ''}${skipped.length ? `, ${skipped.length} not run` : ''}${pending > 0 ? `, ${pending} not started` : ''}:`;
    const tail = [status, ...notDone].filter((s) => s !== '').join('\n');
    const fixed = [tail, files].filter((s) => s !== '').join('\n\n');
    const leadText = cutAtSentence(lead.join(' '), Math.max(80, budget - fixed.length - 4));
    const keyRows = done
      .map((t) => t.output)
      .find((o) => {
        if (o === null || typeof o !== 'object' || Array.isArray(o)) return false;
        return narrativeOf(o) !== undefined && isRowArray(o['rows']);
      });
    const used = leadText.length + fixed.length + 6;
    const table =
      keyRows !== undefined && keyRows !== null && typeof keyRows === 'object' && !Array.isArray(keyRows)
        ? renderTable(keyRows['rows'] as JsonObject[], budget - used)
        : '';
    const text = [leadText, tail, table, files].filter((s) => s !== '').join('\n\n');
    return text.length <= budget ? text : cutAtSentence(text, budget);
  }

  /** The fallback for outputs without narratives: one summary per completed step. */
  #perStep(
    turn: TurnSummary,
    done: TodoRecord[],
    notDone: string[],
    files: string,
    title: (t: TodoRecord) => string,
  ): string {
    const failed = turn.todos.filter((t) => t.status === 'failed').length;
    const skipped = turn.todos.filter((t) => t.status === 'skipped').length;
    const sections: string[] = [
      `Done: ${done.length} of ${turn.todos.length} step${turn.todos.length === 1 ? '' : 's'} completed${failed ? `, ${failed} failed` : ''}${skipped ? `, ${skipped} skipped` : ''}.`,
    ];
    // Give each completed step an equal share of the budget left after the fixed parts.
    const share = Math.max(120, Math.floor((this.#budget * 0.75) / Math.max(1, done.length)));
    for (const t of done) {
      const body = summariseOutput(t.output, share, this.#topRows);
      sections.push(`✓ ${title(t)}${t.cached ? ' (from cache)' : ''}${body ? `\n${indent(body)}` : ''}`);
    }
    sections.push(...notDone);
    if (files !== '') sections.push(files);
    let text = sections.join('\n\n');
    const cut = '\n… (answer truncated)';
    if (text.length > this.#budget) text = `${text.slice(0, Math.max(0, this.#budget - cut.length))}${cut}`;
    return text;
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
