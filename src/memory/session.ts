/**
 * How the agent uses long-term memory: what it remembers of a finished turn — completed, failed or
 * cancelled (the turn with its outcome and each completed todo's result, under the session's tenant), the per-session recall handle the LLM layers put into their
 * prompts, and erasure with the session.
 *
 * @packageDocumentation
 */
import type { Json, JsonObject } from '../model/json.js';
import type { Plan } from '../model/plan.js';
import type { TodoRecord } from '../model/session.js';

/** The kinds of entry the agent writes. */
export type AgentMemoryKind = 'turn' | 'todo';

/** One entry the agent asks a {@link AgentMemory} to remember. */
export interface AgentMemoryEntry {
  /** Stable id: the turn id, or `<turn id>/<todo id>` (re-remembering replaces, so replays are safe). */
  id: string;
  /** What the user said, or the todo's title and description. */
  text: string;
  /** The answer, or the todo's output (both cut to a bound). */
  summary?: string;
  /** `turn` (default) or `todo`. */
  kind?: AgentMemoryKind;
  /** `sessionId` always, `tenantId` when the session has one, and `turnId`/`todoId`/`tool` for todos. */
  metadata?: JsonObject;
}

/** What recall returns to a prompt. */
export interface RecalledMemory {
  /** The recalled items as prompt lines, within the character budget ('' when nothing is relevant). */
  text: string;
  /** The recalled items (shape up to the memory). */
  items: readonly unknown[];
}

/**
 * Long-term memory as the agent uses it (`ContextMemory` matches it). Only `remember` is required;
 * with `context` the LLM layers get relevant memories in their prompts, with `forgetSession` deleting
 * a session erases its vectors.
 */
export interface AgentMemory {
  /** Stores (or replaces, by id) one entry. */
  remember(entry: AgentMemoryEntry): Promise<unknown>;
  /** Recalls a session's most relevant memories (and its tenant's shared documents) within a budget. */
  context?(
    query: string,
    options: { sessionId: string; tenantId?: string; k?: number; maxChars?: number },
  ): Promise<RecalledMemory>;
  /** Erases everything remembered for a session. */
  forgetSession?(sessionId: string, tenantId?: string): Promise<unknown>;
}

/** Recall bound to one session and tenant, handed to every layer as `ctx.memory`. */
export interface SessionMemory {
  /**
   * @param query - what to find memories for (the user's input)
   * @param options - `k` (default 5) and `maxChars` (default 2000)
   * @returns the recalled context
   */
  context(query: string, options?: { k?: number; maxChars?: number }): Promise<RecalledMemory>;
}

/** Longest output summary kept per todo memory, in characters. */
const TODO_SUMMARY_CHARS = 2000;

function outputText(output: Json | undefined): string {
  if (output === undefined) return '';
  const text = typeof output === 'string' ? output : JSON.stringify(output);
  return text.length > TODO_SUMMARY_CHARS ? `${text.slice(0, TODO_SUMMARY_CHARS - 1)}…` : text;
}

/** How a remembered turn ended (`metadata.outcome` of every entry {@link turnMemories} makes). */
export type TurnMemoryOutcome = 'completed' | 'failed' | 'cancelled';

/** The turn {@link turnMemories} and {@link rememberTurn} remember. */
export interface RememberedTurn {
  /** The turn id. */
  id: string;
  /** What the user said. */
  input: string;
  /** The detected intent's name. */
  intent?: string | undefined;
  /** The answer of a completed turn ('' or absent when it has none). Ignored for other outcomes. */
  answer?: string | undefined;
  /** How the turn ended (default `completed`). */
  outcome?: TurnMemoryOutcome | undefined;
  /**
   * Why: the turn's error for `failed` and `cancelled` (a cancel's is `ABORTED` with the reason as its
   * message and `details.actor`), the answer's error for a `completed` turn whose answer failed.
   */
  error?: { code: string; message: string; details?: unknown } | undefined;
}

/** Longest error message kept in a turn memory's summary. */
const ERROR_CHARS = 300;

/**
 * The summary of a turn memory: the answer of a completed turn, and for a turn without one a marker of
 * its outcome — never a partial answer (a failed or cancelled turn's streamed text is not its answer).
 */
function turnSummary(turn: RememberedTurn): string {
  const outcome = turn.outcome ?? 'completed';
  const answer = turn.answer ?? '';
  if (outcome === 'completed' && (answer !== '' || turn.error === undefined)) {
    return answer.slice(0, TODO_SUMMARY_CHARS);
  }
  const why = turn.error;
  const message = why === undefined ? '' : why.message.slice(0, ERROR_CHARS);
  if (outcome === 'completed') return `(not answered: the answer failed — ${why!.code}: ${message})`;
  if (outcome === 'failed') {
    return `(not answered: the turn failed${why === undefined ? '' : ` — ${why.code}: ${message}`})`;
  }
  const details = why?.details;
  const actor =
    typeof details === 'object' &&
    details !== null &&
    typeof (details as { actor?: unknown }).actor === 'string'
      ? ` by ${(details as { actor: string }).actor}`
      : '';
  return `(not answered: cancelled${actor}${message === '' || message === 'cancelled' ? '' : ` — ${message}`})`;
}

/**
 * What the agent remembers of a finished turn: the turn itself and every completed todo's result
 * (title and description → output), each tagged with the session, its tenant and the turn's outcome.
 *
 * A completed turn is remembered as input → answer. A failed or cancelled turn is remembered as its
 * request with a marker of how it ended (`(not answered: the turn failed — CODE: message)`,
 * `(not answered: cancelled by actor — reason)`) and never with any answer text, plus the results of
 * the todos that did complete before it ended: their side effects happened, and the next turn should
 * know. Failed, skipped and cancelled todos are not remembered.
 *
 * @param turn - the turn's id, input, intent name, answer, outcome and error
 * @param session - the session id and its tenant
 * @param plan - the turn's plan (null when it had none)
 * @param todos - the todo records by id
 * @returns the entries, the turn first, then completed todos in plan order
 * @example
 * ```ts
 * for (const e of turnMemories({ id: 't1', input: 'sales?', answer: '1.2M' }, { sessionId: 's1', tenantId: 'acme' }, plan, todos))
 *   await memory.remember(e);
 * ```
 */
export function turnMemories(
  turn: RememberedTurn,
  session: { sessionId: string; tenantId?: string | undefined },
  plan: Plan | null | undefined,
  todos: ReadonlyMap<string, TodoRecord>,
): AgentMemoryEntry[] {
  const outcome = turn.outcome ?? 'completed';
  const scope: JsonObject = { sessionId: session.sessionId };
  if (session.tenantId !== undefined) scope['tenantId'] = session.tenantId;
  const metadata: JsonObject = { ...scope, intent: turn.intent ?? null, outcome };
  if (turn.error !== undefined) metadata['errorCode'] = turn.error.code;
  const out: AgentMemoryEntry[] = [
    { id: turn.id, text: turn.input, summary: turnSummary(turn), kind: 'turn', metadata },
  ];
  for (const todo of plan?.todos ?? []) {
    const record = todos.get(todo.id);
    if (record?.status !== 'completed') continue;
    const metadata: JsonObject = { ...scope, turnId: turn.id, todoId: todo.id, outcome };
    if (todo.tool !== undefined) metadata['tool'] = todo.tool;
    out.push({
      id: `${turn.id}/${todo.id}`,
      text: todo.description === undefined ? todo.title : `${todo.title}: ${todo.description}`,
      summary: outputText(record.output),
      kind: 'todo',
      metadata,
    });
  }
  return out;
}

/**
 * Remembers a finished turn ({@link turnMemories}) without waiting: each write that fails is reported
 * to `onError` (memory is for context, never a reason to fail or repeat a turn).
 *
 * @param memory - the agent's memory (nothing happens without one)
 * @param turn - the turn's id, input, intent name, answer, outcome and error
 * @param session - the session id and its tenant
 * @param plan - the turn's plan
 * @param todos - the todo records by id
 * @param onError - called with each failure
 */
export function rememberTurn(
  memory: AgentMemory | undefined,
  turn: RememberedTurn,
  session: { sessionId: string; tenantId?: string | undefined },
  plan: Plan | null | undefined,
  todos: ReadonlyMap<string, TodoRecord>,
  onError: (err: unknown) => void,
): void {
  if (memory === undefined) return;
  for (const entry of turnMemories(turn, session, plan, todos)) memory.remember(entry).catch(onError);
}

/**
 * Binds a memory's `context` to one session and tenant (what layers receive as `ctx.memory`).
 *
 * @param memory - the agent's memory
 * @param sessionId - the session
 * @param tenantId - its tenant, if any
 * @returns the handle, or undefined when the memory cannot recall
 */
export function sessionMemory(
  memory: AgentMemory | undefined,
  sessionId: string,
  tenantId: string | undefined,
): SessionMemory | undefined {
  const recall = memory?.context?.bind(memory);
  if (recall === undefined || (memory instanceof TrackedMemory && !memory.canRecall)) return undefined;
  return {
    context: (query, options = {}) =>
      recall(query, {
        sessionId,
        ...(tenantId !== undefined ? { tenantId } : {}),
        ...(options.k !== undefined ? { k: options.k } : {}),
        ...(options.maxChars !== undefined ? { maxChars: options.maxChars } : {}),
      }),
  };
}

/**
 * Recalls memory for a prompt, best effort: a memory that fails (a vector store down) costs the prompt
 * its memory block, never the turn; the failure is logged.
 *
 * @param ctx - the layer context (`memory` and `logger`)
 * @param query - the text to recall for
 * @param maxTokens - the block's budget in estimated tokens (0 turns recall off)
 * @returns the prompt text of the recalled memories ('' when none)
 */
export async function recallForPrompt(
  ctx: {
    memory?: SessionMemory;
    logger?: { warn(obj: object, msg?: string): void };
  },
  query: string,
  maxTokens: number,
): Promise<string> {
  if (ctx.memory === undefined || maxTokens <= 0) return '';
  try {
    const { text } = await ctx.memory.context(query, { maxChars: maxTokens * 4 });
    return text;
  } catch (err) {
    ctx.logger?.warn({ err: String(err) }, 'recalling memory for the prompt failed');
    return '';
  }
}

/**
 * Wraps a memory so that the agent can wait for a session's writes still in flight (they run after the
 * turn's commit) before erasing it — otherwise a remember landing after the erasure would bring the
 * session's vectors back.
 */
export class TrackedMemory implements AgentMemory {
  readonly #inner: AgentMemory;
  readonly #pending = new Map<string, Set<Promise<unknown>>>();

  /** @param inner - the memory to wrap */
  constructor(inner: AgentMemory) {
    this.#inner = inner;
  }

  /** Whether the wrapped memory can recall (layers then get `ctx.memory`). */
  get canRecall(): boolean {
    return this.#inner.context !== undefined;
  }

  /**
   * The wrapped memory's recall (nothing when it cannot recall).
   *
   * @param query - what to recall for
   * @param options - session, tenant, k, budget
   * @returns the recalled context
   */
  async context(
    query: string,
    options: { sessionId: string; tenantId?: string; k?: number; maxChars?: number },
  ): Promise<RecalledMemory> {
    if (this.#inner.context === undefined) return { text: '', items: [] };
    return this.#inner.context(query, options);
  }

  /**
   * Waits for the session's writes in flight, then erases it in the wrapped memory (a no-op when it
   * cannot erase).
   *
   * @param sessionId - the session
   * @param tenantId - its tenant
   * @returns the wrapped memory's result
   */
  async forgetSession(sessionId: string, tenantId?: string): Promise<unknown> {
    await this.settled(sessionId);
    return this.#inner.forgetSession?.(sessionId, tenantId);
  }

  /**
   * @param entry - what to remember
   * @returns the inner memory's result
   */
  remember(entry: AgentMemoryEntry): Promise<unknown> {
    const session = entry.metadata?.['sessionId'];
    const p = this.#inner.remember(entry);
    if (typeof session !== 'string') return p;
    let set = this.#pending.get(session);
    if (set === undefined) this.#pending.set(session, (set = new Set()));
    set.add(p);
    const done = (): void => {
      set.delete(p);
      if (set.size === 0 && this.#pending.get(session) === set) this.#pending.delete(session);
    };
    p.then(done, done);
    return p;
  }

  /**
   * @param sessionId - the session
   * @returns once every write of the session started so far has settled
   */
  async settled(sessionId: string): Promise<void> {
    const set = this.#pending.get(sessionId);
    if (set !== undefined) await Promise.allSettled([...set]);
  }
}
