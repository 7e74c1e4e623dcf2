import { findPlanIssues, type PlanSizeLimits } from '../dag/validate.js';
import { startHeartbeat } from '../session/lease.js';
import { Journal } from '../session/journal.js';
import { planValidationOptions, resultOf, SessionModel } from '../session/transitions.js';
import { TodoRunner } from '../execution/todo-runner.js';
import { DreamAgentError, isDreamAgentError, serializeError, type SerializedError } from '../errors/index.js';
import type { Cognitive, Executor, Planner, Responder, TurnSummary } from '../layers.js';
import type { AgentEvent } from '../model/events.js';
import { IntentSchema } from '../model/intent.js';
import { cloneJson, type Json, type JsonObject } from '../model/json.js';
import { PlanDraftSchema, type Plan } from '../model/plan.js';
import { fastIntent, fastPlanDraft } from '../model/fast-parse.js';
import type {
  HitlRequest,
  InboxEntry,
  RunResult,
  SessionRecord,
  TodoRecord,
  TurnState,
} from '../model/session.js';
import type { EventBus } from '../ports/bus.js';
import type { Cache } from '../ports/cache.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { LeaseToken, Store } from '../ports/store.js';
import { recoveryRetryRoles } from '../hitl/recovery.js';
import type { ToolCatalog } from '../tools/types.js';
import { requestIds } from './ids.js';
import { rememberTurn, sessionMemory, type SessionMemory } from '../memory/session.js';
import type { ApprovalPolicy, HitlOptions, TurnMemory } from './options.js';
import type { AgentObserver } from '../observability/observer.js';
import type { LlmCallRecord } from '../ports/llm.js';

const clone = cloneJson;

/**
 * The reason the heartbeat is stopped with: one shared value, because `abort()` without a reason builds
 * a DOMException with a stack trace on every drive (4% of a 100-todo turn's CPU time). Nobody reads it:
 * the heartbeat's sleep rejects with it and the loop ends.
 */
const STOPPED = new Error('stopped');

/** Everything a driver needs, resolved by the Agent. @internal */
export interface DriverDeps {
  store: Store;
  bus: EventBus;
  clock: Clock;
  logger: Logger;
  cache: Cache;
  tools: ToolCatalog;
  cognitive: Cognitive;
  planner: Planner;
  responder: Responder;
  executorFor: (domain: string) => Executor | undefined;
  domains: () => string[] | undefined;
  /** Whether a todo of this domain must name a tool (only the tool executor serves it). */
  requiresTool: (domain: string) => boolean;
  toolFreeDomains: () => string[] | undefined;
  hitl: HitlOptions;
  approvals: ApprovalPolicy | undefined;
  concurrency: number;
  resources: Record<string, number>;
  failurePolicy: 'continue' | 'fail-turn';
  todoTimeoutMs: number | undefined;
  leaseTtlMs: number;
  maxCommandBytes: number;
  maxOutputBytes: number;
  /** Size limits every plan and plan edit is checked against. */
  planLimits: PlanSizeLimits;
  dialogueTurns: number;
  memory: TurnMemory | undefined;
  /** Spans of this node's sessions, for the trace headers of outgoing tool requests (when set). */
  observer?: AgentObserver | undefined;
  /**
   * Delivery of each event, in seq order. Events a listener may react to with a command (requests,
   * rests, turn ends) are delivered only once their commit is durable, so the reaction is validated
   * against a store that already shows them; streaming events (progress, deltas, starts) go out live.
   */
  onEvent: (event: AgentEvent) => void;
}

/** What every layer call of a turn gets (each call adds its own fields). */
interface LayerContext {
  sessionId: string;
  turnId: string;
  signal: AbortSignal;
  clock: Clock;
  logger: Logger;
  metadata: JsonObject;
  tenantId?: string;
  memory?: SessionMemory;
  reportLlmCall: (record: LlmCallRecord) => void;
  traceHeaders?: (todoId?: string) => Record<string, string>;
}

/**
 * Drives one session while holding its lease: applies inbox commands at cycle boundaries, runs the
 * four layers, executes todos one per cycle (or N ready ones), commits every cycle as one atomic
 * delta, and comes to rest — releasing the lease — when the session waits for a human, is paused,
 * or the turn ended. Nothing of a resting session stays in memory.
 *
 * The driver is only the loop: the journal (`session/journal`) numbers events and commits, the model
 * (`session/transitions`) applies commands and ends turns, the todo runner (`execution/todo-runner`)
 * schedules and settles todos, and the heartbeat (`session/lease`) keeps the lease.
 *
 * @internal
 */
export class SessionDriver {
  readonly #d: DriverDeps;
  readonly #m: SessionModel;
  readonly #runner: TodoRunner;
  #inboxDirty = true;
  #stopping = false;
  #heartbeat: AbortController | undefined;
  /** The last turn this driver remembered (memory is written once per finished turn). */
  #remembered: string | undefined;

  private constructor(
    deps: DriverDeps,
    rec: SessionRecord,
    lease: LeaseToken,
    plan: Plan | null,
    todos: TodoRecord[],
  ) {
    this.#d = deps;
    const todoMap = new Map(todos.map((t) => [t.todoId, t]));
    const journal = new Journal(deps, rec, lease, todoMap, {
      onLost: (lost) => {
        this.#m.turnAbort.abort(lost);
        this.#heartbeat?.abort(STOPPED);
        this.wake();
      },
      onPendingCommands: () => {
        this.#inboxDirty = true;
      },
    });
    this.#m = new SessionModel(deps, rec, plan, todoMap, journal);
    this.#runner = new TodoRunner(this.#m, {
      commit: () => this.commit(),
      drainInbox: () => (this.#inboxDirty && !this.#m.journal.lost ? this.#drainInbox() : undefined),
      layerContext: (turn) => this.#layerContext(turn),
      stopping: () => this.#stopping,
      commandsWaiting: (type) => this.wake(type),
    });
  }

  /** Loads a session the caller holds the lease of. */
  static async load(
    deps: DriverDeps,
    sessionId: string,
    lease: LeaseToken,
    record?: SessionRecord,
  ): Promise<SessionDriver> {
    const rec = record ?? (await deps.store.getSession(sessionId));
    if (!rec)
      throw new DreamAgentError('SESSION_NOT_FOUND', `no session "${sessionId}"`, { details: { sessionId } });
    const turn = rec.state.turn;
    let plan: Plan | null = null;
    let todos: TodoRecord[] = [];
    if (turn && turn.phase !== 'done') {
      if (turn.planId)
        plan = (await deps.store.getPlan(sessionId, turn.planId, turn.planVersion))?.plan ?? null;
      todos = await deps.store.getTodos(sessionId, turn.id);
    }
    return new SessionDriver(deps, clone(rec), lease, plan, clone(todos));
  }

  get sessionId(): string {
    return this.#m.rec.id;
  }

  get record(): SessionRecord {
    return this.#m.rec;
  }

  /** Wakes the loop: new inbox commands may be waiting. */
  wake(commandType?: string): void {
    this.#inboxDirty = true;
    // Cancel must not wait for the todo in flight: abort it now; the command itself is applied
    // (and recorded) at the next boundary.
    if (commandType === 'cancel') this.#m.turnAbort.abort(new DreamAgentError('ABORTED', 'turn cancelled'));
    this.#runner.wake();
  }

  /** Stops dispatching new todos; in-flight todos finish; the lease is released without resting. */
  stop(abort: boolean): void {
    this.#stopping = true;
    if (abort) this.#m.turnAbort.abort(new DreamAgentError('CLOSED', 'agent closed'));
    this.wake();
  }

  /** Commits everything buffered, as one atomic delta (see {@link Journal.commit}). */
  commit(leaseAction: 'renew' | 'release' = 'renew'): Promise<void> {
    return this.#m.journal.commit(leaseAction);
  }

  /** Set once ownership is lost. */
  get lost(): DreamAgentError | undefined {
    return this.#m.journal.lost;
  }

  /** Emits `turn.started` for a turn created with the session by a store that stored no events. */
  announceTurn(): void {
    this.#m.announceTurn();
  }

  /** Starts a new turn in this (idle) session. */
  startTurn(turnId: string, input: string): void {
    this.#m.startTurn(turnId, input);
  }

  #startHeartbeat(): void {
    this.#heartbeat = startHeartbeat(
      this.#d,
      this.#m.rec.id,
      this.#m.journal.lease,
      this.#d.leaseTtlMs,
      (cause) => this.#m.journal.lose(cause),
    );
  }

  // ---------------------------------------------------------------- the loop

  /**
   * Advances the session until it rests.
   *
   * @param reason - why this driver started (a run, a command, recovery)
   * @returns the result; throws CONFLICT when ownership was lost
   */
  async drive(reason: 'run' | 'command' | 'recovery' | 'restart'): Promise<RunResult> {
    this.#startHeartbeat();
    try {
      return await this.#loop(reason);
    } catch (e) {
      if (this.#m.journal.lost || isDreamAgentError(e, 'CLOSED') || isDreamAgentError(e, 'CONFLICT')) throw e;
      // A bug (or a broken plugin) must not leave the session stuck under a lease: record the failure
      // on the turn and rest, so the session is consistent and the error is visible to everyone.
      this.#d.logger.error(
        { sessionId: this.#m.rec.id, err: String(e) },
        'session driver failed; failing the turn',
      );
      try {
        await this.#runner.settleRunning();
        this.#m.failTurnNow(serializeError(e));
        return await this.#rest();
      } catch {
        throw e;
      }
    } finally {
      this.#heartbeat?.abort(STOPPED);
      this.#runner.stopInboxProbe();
    }
  }

  async #loop(reason: 'run' | 'command' | 'recovery' | 'restart'): Promise<RunResult> {
    this.#startup(reason);
    // A new turn is durable before any layer runs: other nodes can see it (and cancel or pause it)
    // while the cognitive layer thinks, and a crash right after start still leaves the turn to recover.
    // (A new session's turn was created atomically with it: nothing to commit then.)
    if (reason === 'run' && this.#m.journal.buffered > 0) await this.commit();
    for (;;) {
      if (this.#m.journal.lost) throw this.#m.journal.lost;
      await this.#drainInbox();
      const turn = this.#m.rec.state.turn;
      if (this.#m.cancel && turn && turn.phase !== 'done') {
        await this.#runner.settleRunning();
        this.#m.finishCancelled(this.#m.cancel.actor, this.#m.cancel.reason);
        continue;
      }
      if (!turn || turn.phase === 'done' || turn.paused || this.#stopping) return await this.#rest();
      switch (turn.phase) {
        case 'understanding':
          if (turn.pending.some((r) => r.kind === 'clarification')) return await this.#rest();
          await this.#guardLayer(() => this.#understand(turn));
          break;
        case 'planning':
          await this.#guardLayer(() => this.#planTurn(turn));
          break;
        case 'reviewing':
          return await this.#rest();
        case 'executing':
          if ((await this.#runner.execute(turn)) === 'rest') return await this.#rest();
          break;
        case 'responding':
          await this.#guardLayer(() => this.#respond(turn));
          break;
      }
    }
  }

  #startup(reason: 'run' | 'command' | 'recovery' | 'restart'): void {
    const turn = this.#m.rec.state.turn;
    if (!turn || turn.phase === 'done') return;
    let recovered = false;
    for (const rec of this.#m.todos.values()) {
      if (rec.status !== 'running') continue;
      // A start was committed but no outcome: the process that ran it died (or lost its lease).
      recovered = true;
      const todo = this.#m.plan?.todos.find((t) => t.id === rec.todoId);
      if (todo && this.#m.isIdempotent(todo)) {
        const r = this.#m.touch(rec.todoId);
        r.status = r.approvedBy !== undefined ? 'approved' : 'pending';
      } else {
        const r = this.#m.touch(rec.todoId);
        r.status = 'awaiting_recovery';
        const request: HitlRequest = {
          id: requestIds.recovery(turn.id, rec.todoId, rec.attempts),
          kind: 'recovery',
          turnId: turn.id,
          todoId: rec.todoId,
          prompt: `"${todo?.title ?? rec.todoId}" was running when its process stopped and is not idempotent: did it take effect? Retry, mark it done, or skip it.`,
          options: ['retry', 'mark_done', 'skip'],
          createdAt: this.#d.clock.now(),
          details: { tool: todo?.tool ?? null, attempts: rec.attempts },
        };
        // A retry runs the approved effect again: it needs the roles its approval needed.
        const roles = recoveryRetryRoles(todo, r.approvedBy, this.#d.tools);
        if (roles.length > 0) request.roles = roles;
        turn.pending = [...turn.pending.filter((p) => p.id !== request.id), request];
        this.#m.journal.emit({ type: 'recovery.requested', request });
      }
    }
    if (recovered || reason === 'recovery') {
      this.#m.journal.emit({ type: 'run.resumed', actor: 'system', reason: 'recovery' });
    }
    if (this.#m.rec.status !== 'running' && !turn.paused) this.#m.rec.status = 'running';
  }

  async #guardLayer(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (this.#m.journal.lost) throw this.#m.journal.lost;
      if (this.#m.turnAbort.signal.aborted && !this.#m.cancel) {
        // Aborted by a cancel that is in the inbox but not applied yet: apply it now.
        this.#inboxDirty = true;
        await this.#drainInbox();
      }
      if (this.#m.cancel) return; // the cancel path finishes the turn
      this.#m.failTurnNow(serializeError(e));
      await this.commit();
    }
  }

  #layerContext(turn: TurnState): LayerContext {
    // The same context for every call of a turn (each todo spreads it into its own): built again only
    // when the turn, its abort signal or the session metadata changed.
    const signal = this.#m.turnAbort.signal;
    const metadata = this.#m.rec.state.metadata;
    const last = this.#context;
    if (last && last.turn === turn && last.signal === signal && last.metadata === metadata) return last.value;
    // The tenant, and memory recall bound to this session and tenant, for the layers' prompts.
    const memory = sessionMemory(this.#d.memory, this.#m.rec.id, this.#m.rec.tenantId);
    const observer = this.#d.observer;
    const sessionId = this.#m.rec.id;
    const value = {
      // Each LLM call becomes an `llm.call` event of this turn (a call settling after the turn ended,
      // e.g. one a cancel abandoned, is dropped: the log of a finished turn does not grow).
      reportLlmCall: (record: LlmCallRecord) => {
        const current = this.#m.rec.state.turn;
        if (current?.id === turn.id && current.phase !== 'done')
          this.#m.journal.emit({ type: 'llm.call', ...record });
      },
      ...(observer?.tracing
        ? {
            traceHeaders: (todoId?: string) =>
              observer.traceHeaders(
                sessionId,
                todoId,
                (todoId !== undefined ? this.#m.todos.get(todoId)?.startedAt : undefined) ??
                  this.#d.clock.now(),
              ),
          }
        : {}),
      sessionId: this.#m.rec.id,
      turnId: turn.id,
      signal: this.#m.turnAbort.signal,
      clock: this.#d.clock,
      logger: this.#d.logger,
      metadata: this.#m.rec.state.metadata,
      ...(this.#m.rec.tenantId !== undefined ? { tenantId: this.#m.rec.tenantId } : {}),
      ...(memory !== undefined ? { memory } : {}),
    };
    this.#context = { turn, signal, metadata, value };
    return value;
  }

  #context: { turn: TurnState; signal: AbortSignal; metadata: JsonObject; value: LayerContext } | undefined;

  /**
   * Races a layer call with the turn's abort signal: a call that ignores its signal is abandoned (as
   * executors are), so a cancel always wins.
   */
  #abandonable<T>(call: Promise<T>): Promise<T> {
    const signal = this.#m.turnAbort.signal;
    if (signal.aborted) {
      call.catch(() => undefined);
      return Promise.reject(signal.reason as Error);
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      call.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e as Error);
        },
      );
    });
  }

  async #understand(turn: TurnState): Promise<void> {
    const raw = await this.#abandonable(
      this.#d.cognitive.understand(turn.input, {
        ...this.#layerContext(turn),
        history: clone(this.#m.rec.state.dialogue),
        slots: clone(this.#m.rec.state.slots),
        clarifications: clone(turn.clarifications),
      }),
    );
    const fast = fastIntent(raw);
    const parsed = fast ? { success: true as const, data: fast } : IntentSchema.safeParse(raw);
    if (!parsed.success) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `the cognitive layer returned an invalid intent: ${parsed.error.issues[0]?.message ?? ''}`,
        {
          details: {
            issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
          },
        },
      );
    }
    const intent = parsed.data;
    turn.intent = intent;
    this.#m.journal.emit({ type: 'intent.detected', intent });
    if (intent.clarification || intent.missingSlots.length > 0) {
      const max = this.#d.hitl.maxClarifications ?? 3;
      if (turn.clarifications.length >= max) {
        this.#m.failTurnNow({
          code: 'INVALID_INPUT',
          message: `the request is still unclear after ${max} clarifications`,
          retryable: false,
          details: { missingSlots: intent.missingSlots },
        });
      } else {
        const slot = intent.clarification?.slot ?? intent.missingSlots[0];
        const request: HitlRequest = {
          id: requestIds.clarification(turn.id, turn.clarifications.length + 1),
          kind: 'clarification',
          turnId: turn.id,
          prompt: intent.clarification?.question ?? `Please tell me the ${intent.missingSlots.join(', ')}.`,
          createdAt: this.#d.clock.now(),
          details: {
            intent: intent.name,
            confidence: intent.confidence,
            ...(slot !== undefined ? { slot } : {}),
          },
          ...(intent.clarification?.options ? { options: intent.clarification.options } : {}),
        };
        turn.pending = [...turn.pending, request];
        this.#m.rec.status = 'waiting';
        this.#m.journal.emit({ type: 'clarification.requested', request });
      }
    } else {
      turn.phase = 'planning';
    }
    await this.commit();
  }

  async #planTurn(turn: TurnState): Promise<void> {
    const intent = turn.intent;
    if (!intent) throw new DreamAgentError('INTERNAL', 'planning without an intent');
    const draftRaw = await this.#abandonable(
      this.#d.planner.plan(intent, {
        ...this.#layerContext(turn),
        input: turn.input,
        tools: this.#d.tools,
        domains: this.#d.domains() ?? [],
        ...(this.#d.toolFreeDomains() ? { toolFreeDomains: this.#d.toolFreeDomains() ?? [] } : {}),
        history: clone(this.#m.rec.state.dialogue),
      }),
    );
    // The zod-free fast path vouches for the drafts planners usually write (the same result as the
    // schema's); anything else goes through the schema, which also words the error.
    const fast = fastPlanDraft(draftRaw);
    const parsed = fast ? { success: true as const, data: fast } : PlanDraftSchema.safeParse(draftRaw);
    if (!parsed.success) {
      throw new DreamAgentError(
        'INVALID_PLAN',
        `the planner returned an invalid plan: ${parsed.error.issues[0]?.path.join('.') ?? ''} ${parsed.error.issues[0]?.message ?? ''}`,
        {
          details: {
            issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
          },
        },
      );
    }
    const issues = findPlanIssues(parsed.data.todos, this.#m.validationOptions());
    if (issues.length > 0) {
      throw new DreamAgentError(
        'INVALID_PLAN',
        `the planner returned an invalid plan: ${issues[0]?.message ?? ''}`,
        { details: { issues: issues as unknown as Json } },
      );
    }
    const plan: Plan = {
      id: `${turn.id}-plan`,
      version: 1,
      todos: parsed.data.todos,
      ...(parsed.data.rationale ? { rationale: parsed.data.rationale } : {}),
    };
    this.#m.setPlan(plan, [], 'planner');
    this.#m.journal.emit({ type: 'plan.created', plan: clone(plan) });
    const review = this.#d.hitl.planReview ?? 'never';
    const needsReview =
      review === 'always' || (typeof review === 'function' && review(clone(plan), clone(intent)));
    if (needsReview) {
      const request: HitlRequest = {
        id: requestIds.planReview(turn.id),
        kind: 'plan_review',
        turnId: turn.id,
        prompt: 'Review the plan: approve it, edit it, or reject it.',
        createdAt: this.#d.clock.now(),
        details: { planId: plan.id, version: plan.version },
      };
      turn.pending = [...turn.pending, request];
      turn.phase = 'reviewing';
      this.#m.rec.status = 'waiting';
      this.#m.journal.emit({ type: 'plan.review.requested', request, plan: clone(plan) });
    } else {
      this.#m.approvePlan(turn, 'auto');
    }
    await this.commit();
  }

  async #respond(turn: TurnState): Promise<void> {
    const ordered = (this.#m.plan?.todos ?? []).flatMap((t) => {
      const r = this.#m.todos.get(t.id);
      return r ? [clone(r)] : [];
    });
    const summary: TurnSummary = {
      input: turn.input,
      plan: clone(this.#m.plan),
      todos: ordered,
      ...(turn.intent ? { intent: clone(turn.intent) } : {}),
    };
    // Whether answer text went out since the last reset: a retried or failed answer must tell clients
    // that concatenate the deltas to drop the partial text, or they show it twice ("The mail The mail…").
    let streamed = false;
    const discardStreamed = (): void => {
      if (!streamed) return;
      streamed = false;
      this.#m.journal.emit({ type: 'response.delta', delta: '', reset: true });
    };
    const attempt = (): Promise<string> =>
      this.#abandonable(
        this.#d.responder.respond(summary, {
          ...this.#layerContext(turn),
          delta: (text) => {
            streamed = true;
            this.#m.journal.emit({ type: 'response.delta', delta: String(text) });
          },
          history: clone(this.#m.rec.state.dialogue),
        }),
      );
    let text: string;
    let answerError: SerializedError | undefined;
    try {
      // Every todo has run (side effects are done): a failure of the answer alone must not fail the
      // turn. Retry it once; then complete with a typed answer failure and the results intact.
      let answer: string;
      try {
        answer = await attempt();
      } catch (e) {
        if (this.#m.journal.lost || this.#m.cancel || this.#m.turnAbort.signal.aborted) throw e;
        this.#d.logger.warn({ sessionId: this.#m.rec.id, err: String(e) }, 'responder failed; retrying once');
        discardStreamed();
        answer = await attempt();
      }
      text = typeof answer === 'string' ? answer : String(answer);
    } catch (e) {
      if (this.#m.journal.lost || this.#m.cancel || this.#m.turnAbort.signal.aborted) throw e;
      answerError = serializeError(e, 'LLM_ERROR');
      text = '';
      discardStreamed();
    }
    if (answerError) turn.answerError = answerError;
    else this.#m.journal.emit({ type: 'response.completed', text });
    turn.answer = text;
    turn.outcome = 'completed';
    turn.phase = 'done';
    turn.pending = [];
    turn.endedAt = this.#d.clock.now();
    turn.todoSummary = this.#m.todoSummary();
    this.#m.remember(turn);
    this.#m.journal.emit({ type: 'turn.completed', answer: text, ...(answerError ? { answerError } : {}) });
    await this.commit();
    // Best effort, after the commit: memory is for context, never a reason to fail or repeat a turn.
    // The turn and each completed todo's result, tagged with the session and its tenant.
    this.#rememberTurn(turn);
  }

  /**
   * Remembers a finished turn (best effort, after its commit): a completed one with its answer, a
   * failed or cancelled one with its outcome and never a partial answer; both with the results of the
   * todos that completed. Once per turn and driver (a re-remember would only replace the same ids).
   */
  #rememberTurn(turn: TurnState): void {
    if (this.#remembered === turn.id) return;
    this.#remembered = turn.id;
    const outcome = turn.outcome ?? 'completed';
    const error = outcome === 'completed' ? turn.answerError : turn.error;
    rememberTurn(
      this.#d.memory,
      {
        id: turn.id,
        input: turn.input,
        intent: turn.intent?.name,
        outcome,
        ...(outcome === 'completed' ? { answer: turn.answer ?? '' } : {}),
        ...(error !== undefined ? { error } : {}),
      },
      { sessionId: this.#m.rec.id, tenantId: this.#m.rec.tenantId },
      this.#m.plan,
      this.#m.todos,
      (err) =>
        this.#d.logger.warn({ sessionId: this.#m.rec.id, err: String(err) }, 'remembering the turn failed'),
    );
  }

  async #rest(): Promise<RunResult> {
    const turn = this.#m.rec.state.turn;
    if (this.#stopping && turn && turn.phase !== 'done' && !turn.paused) {
      // Graceful shutdown: leave the session running with its lease released; recover() elsewhere continues it.
      this.#m.rec.status = 'running';
    } else {
      this.#m.rec.status =
        !turn || turn.phase === 'done'
          ? 'idle'
          : turn.paused
            ? 'paused'
            : turn.pending.length > 0
              ? 'waiting'
              : 'running';
    }
    if (turn?.paused && !this.#m.pauseAnnounced && turn.phase !== 'done') {
      this.#m.pauseAnnounced = true;
      this.#m.journal.emit({ type: 'run.paused', actor: this.#m.pauseActor });
    }
    await this.commit('release');
    // A failed or cancelled turn is remembered once it is durable (a completed one was, in #respond).
    if (turn?.phase === 'done' && (turn.outcome === 'failed' || turn.outcome === 'cancelled'))
      this.#rememberTurn(turn);
    if (this.#stopping && this.#m.rec.status === 'running') {
      throw new DreamAgentError(
        'CLOSED',
        `the agent closed while session "${this.#m.rec.id}" was running; recover() on any node continues it`,
        {
          details: { sessionId: this.#m.rec.id },
        },
      );
    }
    return this.result();
  }

  /** The run result for the session's current state. */
  result(): RunResult {
    return resultOf(this.#m.rec);
  }

  // ---------------------------------------------------------------- commands

  async #drainInbox(): Promise<void> {
    if (!this.#inboxDirty || this.#m.journal.lost) return;
    this.#inboxDirty = false;
    let entries: InboxEntry[];
    try {
      entries = await this.#d.store.pendingCommands(this.#m.rec.id);
    } catch (e) {
      this.#inboxDirty = true;
      this.#d.logger.warn(
        { sessionId: this.#m.rec.id, err: String(e) },
        'reading the inbox failed; will retry',
      );
      await this.#d.clock.sleep(200);
      return;
    }
    if (entries.length === 0) return;
    for (const entry of entries) this.#m.applyEntry(entry);
    await this.commit();
  }
}

export { planValidationOptions, resultOf };
export { startTurnState } from '../session/transitions.js';
