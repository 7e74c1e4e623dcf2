import type { Cognitive, Planner, Responder, TurnSummary } from '../layers.js';
import type { Intent } from '../model/intent.js';
import type { Json } from '../model/json.js';
import type { PlanDraftInput } from '../model/plan.js';

/**
 * A Cognitive layer that understands nothing: every input becomes the intent `default` with full
 * confidence. Useful when the planner does the understanding itself.
 */
export class PassthroughCognitive implements Cognitive {
  async understand(): Promise<Intent> {
    await Promise.resolve();
    return { name: 'default', confidence: 1, entities: [], slots: {}, missingSlots: [] };
  }
}

/** A planner from a function: the simplest way to plug in your own planning. */
export class FunctionPlanner implements Planner {
  /** @param fn - returns the todos for an intent */
  constructor(
    private readonly fn: (intent: Intent, input: string) => PlanDraftInput | Promise<PlanDraftInput>,
  ) {}

  async plan(intent: Intent, ctx: { input: string }): Promise<PlanDraftInput> {
    return this.fn(intent, ctx.input);
  }
}

function preview(value: Json | undefined, max = 300): string {
  if (value === undefined) return '';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters)` : text;
}

/** Characters of answer text a {@link TemplateResponder} delta carries at most (unless one line is longer). */
const DELTA_CHARS = 4096;

/**
 * A plain-text responder: what was done, what failed or was skipped and why, with compact output
 * previews, streamed as `response.delta` events of whole lines (up to ~4 KB each). The offline defaults
 * ship a richer one.
 */
export class TemplateResponder implements Responder {
  async respond(turn: TurnSummary, ctx: { delta(text: string): void }): Promise<string> {
    await Promise.resolve();
    const titles = new Map((turn.plan?.todos ?? []).map((t) => [t.id, t.title]));
    const lines: string[] = [];
    const done = turn.todos.filter((t) => t.status === 'completed');
    lines.push(
      turn.todos.length === 0
        ? `Nothing to do for: ${turn.input}`
        : `Completed ${done.length} of ${turn.todos.length} steps.`,
    );
    for (const t of turn.todos) {
      const title = titles.get(t.todoId) ?? t.todoId;
      if (t.status === 'completed')
        lines.push(`- ✓ ${title}${t.cached ? ' (cached)' : ''}: ${preview(t.output)}`);
      else if (t.status === 'failed') lines.push(`- ✗ ${title}: ${t.error?.message ?? 'failed'}`);
      else if (t.status === 'skipped')
        lines.push(`- ○ ${title}: skipped (${t.skipReason ?? 'unknown'}${t.reason ? `: ${t.reason}` : ''})`);
    }
    const text = lines.join('\n');
    // Streamed in whole lines, up to ~4 KB a delta: one `response.delta` per line made a 1,000-step
    // answer 1,000 events (each numbered, stored and delivered), for text that arrives all at once.
    let chunk = '';
    for (const line of lines) {
      if (chunk.length > 0 && chunk.length + line.length >= DELTA_CHARS) {
        ctx.delta(chunk);
        chunk = '';
      }
      chunk += `${line}\n`;
    }
    if (chunk.length > 0) ctx.delta(chunk);
    return text;
  }
}
