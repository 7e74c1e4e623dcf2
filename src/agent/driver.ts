import { blockedByFailure, allTerminal, selectWithLimits, isTerminal } from '../dag/scheduler.js';
import { ReadyIndex } from '../dag/incremental.js';
import { resolveInput } from '../dag/refs.js';
import { findPlanIssues, type PlanValidationOptions } from '../dag/validate.js';
import { withTimeout } from '../execution/timeout.js';
import { startHeartbeat } from '../session/lease.js';
import { DreamAgentError, isDreamAgentError, serializeError, type SerializedError } from '../errors/index.js';
import type {
  Cognitive,
  ExecutionContext,
  Executor,
  InputRequestSpec,
  Planner,
  Responder,
  TurnSummary,
} from '../layers.js';
import type { Command } from '../model/commands.js';
import type { AgentEvent, EventDraft } from '../model/events.js';
import { IntentSchema } from '../model/intent.js';
import { cloneJson, freezeJson, type Json, type JsonObject } from '../model/json.js';
import { PlanDraftSchema, type Plan, type PlanVersionRecord, type Todo } from '../model/plan.js';
import type {
  ApprovalEffect,
  HitlRequest,
  InboxEntry,
  RunResult,
  SessionRecord,
  SessionState,
  SkipReason,
  TodoRecord,
  TodoStatus,
  TurnState,
  TurnTodoSummary,
} from '../model/session.js';
import { eventsTopic, type EventBus } from '../ports/bus.js';
import type { Cache } from '../ports/cache.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { InboxAck, LeaseToken, Store } from '../ports/store.js';
import type { ToolCatalog } from '../tools/types.js';
import { TOOL_VERSION_METADATA_KEY } from '../tools/executor.js';
import { parseCommand, validateCommand, type CommandView } from './commands.js';
import { approvalEffect, effectDigest } from '../hitl/effect.js';
import { canonicalJson } from '../tools/canonical.js';
import { idempotencyKey, requestIds } from './ids.js';
import { rememberTurn, sessionMemory, type SessionMemory } from '../memory/session.js';
import type { ApprovalPolicy, HitlOptions, TurnMemory } from './options.js';

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
  dialogueTurns: number;
  memory: TurnMemory | undefined;
  /**
   * Delivery of each event, in seq order. Events a listener may react to with a command (requests,
   * rests, turn ends) are delivered only once their commit is durable, so the reaction is validated
   * against a store that already shows them; streaming events (progress, deltas, starts) go out live.
   */
  onEvent: (event: AgentEvent) => void;
}

/** Thrown through an executor when a todo asks for human input; never escapes the driver. */
class SuspendForInput extends Error {
  constructor(readonly spec: InputRequestSpec & { key: string }) {
    super('todo suspended for human input');
  }
}

const clone = cloneJson;

/**
 * Events delivered as soon as they are emitted (streaming: nobody answers them with a command). Every
 * other event is delivered once its commit is durable, so a listener that reacts at once (approves the
 * plan on `plan.review.requested`, grants on `approval.requested`, starts a turn on `turn.completed`) is
 * validated against a store that already shows what the event says — never a false refusal.
 */
const LIVE_EVENTS: ReadonlySet<string> = new Set([
  'intent.detected',
  'todo.started',
  'todo.progress',
  'todo.output.delta',
  'todo.completed',
  'todo.failed',
  'todo.skipped',
  'response.delta',
]);

/**
 * Drives one session while holding its lease: applies inbox commands at cycle boundaries, runs the
 * four layers, executes todos one per cycle (or N ready ones), commits every cycle as one atomic
 * delta, and comes to rest — releasing the lease — when the session waits for a human, is paused,
 * or the turn ended. Nothing of a resting session stays in memory.
 *
 * @internal
 */
export class SessionDriver {
  readonly #d: DriverDeps;
  #rec: SessionRecord;
  readonly #lease: LeaseToken;
  #plan: Plan | null;
  readonly #todos: Map<string, TodoRecord>;
  #seq: number;
  #buffer: AgentEvent[] = [];
  readonly #dirty = new Set<string>();
  #planVersions: PlanVersionRecord[] = [];
  #acks: InboxAck[] = [];
  #commitChain: Promise<unknown> = Promise.resolve();
  #lost: DreamAgentError | undefined;
  #turnAbort = new AbortController();
  #inboxDirty = true;
  #wakers: (() => void)[] = [];
  #cancel: { actor: string; reason?: string } | undefined;
  #pauseActor = 'anonymous';
  #pauseAnnounced: boolean;
  #failTurn: SerializedError | undefined;
  #stopping = false;
  #heartbeat: AbortController | undefined;
  readonly #running = new Map<string, Promise<void>>();

  private constructor(
    deps: DriverDeps,
    rec: SessionRecord,
    lease: LeaseToken,
    plan: Plan | null,
    todos: TodoRecord[],
  ) {
    this.#d = deps;
    this.#rec = rec;
    this.#lease = lease;
    this.#plan = plan;
    this.#todos = new Map(todos.map((t) => [t.todoId, t]));
    this.#statusView = new LiveStatusView(this.#todos, this.#running);
    this.#unhappy = todos.some((t) => t.status === 'failed' || t.status === 'skipped');
    this.#seq = rec.lastSeq;
    this.#committedState = JSON.stringify(rec.state);
    this.#committedStatus = rec.status;
    this.#pauseAnnounced = rec.state.turn?.paused ?? false;
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
    return this.#rec.id;
  }

  get record(): SessionRecord {
    return this.#rec;
  }

  /** Wakes the loop: new inbox commands may be waiting. */
  wake(commandType?: string): void {
    this.#inboxDirty = true;
    // Cancel must not wait for the todo in flight: abort it now; the command itself is applied
    // (and recorded) at the next boundary.
    if (commandType === 'cancel') this.#turnAbort.abort(new DreamAgentError('ABORTED', 'turn cancelled'));
    const w = this.#wakers;
    this.#wakers = [];
    for (const fn of w) fn();
  }

  /** Stops dispatching new todos; in-flight todos finish; the lease is released without resting. */
  stop(abort: boolean): void {
    this.#stopping = true;
    if (abort) this.#turnAbort.abort(new DreamAgentError('CLOSED', 'agent closed'));
    this.wake();
  }

  // ---------------------------------------------------------------- events and commits

  #emit(draft: EventDraft): void {
    if (this.#lost) return;
    this.#seq += 1;
    const event = {
      ...draft,
      sessionId: this.#rec.id,
      turnId: this.#rec.state.turn?.id ?? null,
      seq: this.#seq,
      at: this.#d.clock.now(),
    } as AgentEvent;
    this.#buffer.push(event);
    if (this.#undelivered.length === 0 && LIVE_EVENTS.has(event.type)) this.#d.onEvent(event);
    else this.#undelivered.push(event);
  }

  /** The JSON of the state and the status as last committed (unchanged ones are not re-sent). */
  #committedState: string | undefined;
  #committedStatus: string | undefined;

  /** Events emitted but not yet delivered (held until their commit, in seq order). */
  #undelivered: AgentEvent[] = [];

  /** Delivers held events up to `committedSeq`, and live ones that follow them. */
  #deliver(committedSeq: number): void {
    const q = this.#undelivered;
    let i = 0;
    for (; i < q.length; i += 1) {
      const e = q[i] as AgentEvent;
      if (e.seq > committedSeq && !LIVE_EVENTS.has(e.type)) break;
      this.#d.onEvent(e);
    }
    if (i > 0) this.#undelivered = i === q.length ? [] : q.slice(i);
  }

  #touch(todoId: string): TodoRecord {
    const rec = this.#todos.get(todoId);
    if (!rec) throw new DreamAgentError('INTERNAL', `no todo record "${todoId}"`);
    this.#dirty.add(todoId);
    return rec;
  }

  #ensureTodoRecords(): void {
    const turn = this.#rec.state.turn;
    if (!turn || !this.#plan) return;
    for (const todo of this.#plan.todos) {
      if (this.#todos.has(todo.id)) continue;
      this.#todos.set(todo.id, {
        sessionId: this.#rec.id,
        turnId: turn.id,
        todoId: todo.id,
        status: 'pending',
        attempts: 0,
        idempotencyKey: idempotencyKey(this.#rec.id, turn.id, todo.id),
        todoVersion: this.#plan.version,
      });
      this.#dirty.add(todo.id);
    }
  }

  /** Commits everything buffered, as one atomic delta. Serialised: one commit in flight at a time. */
  commit(leaseAction: 'renew' | 'release' = 'renew'): Promise<void> {
    // Completions that land while a commit is in flight share the next one: a queued commit that has
    // not started yet takes everything buffered when it starts, so a second one would be empty work.
    if (leaseAction === 'renew' && this.#queuedCommit) return this.#queuedCommit;
    const next: Promise<void> = this.#commitChain.then(() => {
      if (this.#queuedCommit === next) this.#queuedCommit = undefined;
      return this.#doCommit(leaseAction);
    });
    if (leaseAction === 'renew') this.#queuedCommit = next;
    this.#commitChain = next.catch(() => undefined);
    return next;
  }

  /** A renewing commit queued behind the one in flight and not started yet (shared by later callers). */
  #queuedCommit: Promise<void> | undefined;

  async #doCommit(leaseAction: 'renew' | 'release'): Promise<void> {
    if (this.#lost) throw this.#lost;
    const events = this.#buffer;
    this.#buffer = [];
    // Shallow copies: the engine replaces a record's nested values (output, error, inputs) instead of
    // mutating them, and outputs are frozen — so a copy of the shell is a stable snapshot.
    const todos = [...this.#dirty].flatMap((id) => {
      const t = this.#todos.get(id);
      return t ? [{ ...t }] : [];
    });
    this.#dirty.clear();
    const planVersions = this.#planVersions;
    this.#planVersions = [];
    const acks = this.#acks;
    this.#acks = [];
    // The small state is sent only when it changed (most execution cycles change only todo rows).
    const stateText = JSON.stringify(this.#rec.state);
    const stateChanged = stateText !== this.#committedState;
    const statusChanged = this.#rec.status !== this.#committedStatus;
    const commit = {
      sessionId: this.#rec.id,
      expectedVersion: this.#rec.version,
      lease: this.#lease,
      ...(statusChanged ? { status: this.#rec.status } : {}),
      ...(stateChanged ? { state: JSON.parse(stateText) as SessionState } : {}),
      events,
      todos,
      planVersions,
      inboxAcks: acks,
      leaseAction,
      leaseTtlMs: this.#d.leaseTtlMs,
    };
    let retried = false;
    for (let attempt = 0; ; attempt += 1) {
      try {
        const res = await this.#d.store.commit(commit);
        if (stateChanged) this.#committedState = stateText;
        if (statusChanged) this.#committedStatus = commit.status ?? this.#rec.status;
        this.#rec.version = res.version;
        this.#rec.lastSeq = res.lastSeq;
        // The store tells us, in the same round trip, whether commands wait in the inbox: a command sent
        // to another node (or over a bus that dropped it) is applied at this cycle boundary.
        if (res.pendingCommands > 0) this.#inboxDirty = true;
        break;
      } catch (e) {
        if (
          isDreamAgentError(e, 'CONFLICT') &&
          retried &&
          (await this.#committedAnyway(commit.expectedVersion, events))
        )
          break;
        if (isDreamAgentError(e, 'CONFLICT') || isDreamAgentError(e, 'INVALID_INPUT')) {
          this.#lose(e);
          throw this.#lost ?? e;
        }
        if (isDreamAgentError(e) && !e.retryable && e.code !== 'UNAVAILABLE') throw e;
        // Fail closed: the store blinked. Never continue without recording; wait and retry the
        // same commit. If the lease runs out meanwhile, the retry gets CONFLICT and we stop.
        retried = true;
        this.#d.logger.warn({ sessionId: this.#rec.id, attempt, err: String(e) }, 'commit failed; retrying');
        await this.#d.clock.sleep(Math.min(100 * 2 ** attempt, 5000));
      }
    }
    if (this.#undelivered.length > 0) this.#deliver(this.#rec.lastSeq);
    // A release is published too (even without events): followers waiting for the lease learn of it.
    if (events.length > 0 || leaseAction === 'release') {
      this.#d.bus
        .publish(eventsTopic(this.#rec.id), { events: events as unknown as Json })
        .catch((err: unknown) => {
          this.#d.logger.warn(
            { sessionId: this.#rec.id, err: String(err) },
            'event publish failed; followers repair from the store',
          );
        });
    }
  }

  /** After a retried commit conflicts: was it our own first attempt that landed? */
  async #committedAnyway(expectedVersion: number, events: AgentEvent[]): Promise<boolean> {
    try {
      const rec = await this.#d.store.getSession(this.#rec.id);
      const lastSeq = events.at(-1)?.seq ?? this.#rec.lastSeq;
      if (
        rec &&
        rec.version === expectedVersion + 1 &&
        rec.leaseEpoch === this.#lease.epoch &&
        rec.lastSeq === lastSeq
      ) {
        this.#rec.version = rec.version;
        this.#rec.lastSeq = rec.lastSeq;
        return true;
      }
    } catch {
      /* treat as not committed */
    }
    return false;
  }

  #lose(cause: unknown): void {
    if (this.#lost) return;
    this.#lost = new DreamAgentError(
      'CONFLICT',
      `lost ownership of session "${this.#rec.id}"; another node continues it`,
      {
        cause,
        details: { sessionId: this.#rec.id, epoch: this.#lease.epoch },
      },
    );
    this.#turnAbort.abort(this.#lost);
    this.#heartbeat?.abort();
    this.wake();
  }

  get lost(): DreamAgentError | undefined {
    return this.#lost;
  }

  #startHeartbeat(): void {
    this.#heartbeat = startHeartbeat(this.#d, this.#rec.id, this.#lease, this.#d.leaseTtlMs, (cause) =>
      this.#lose(cause),
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
      if (this.#lost || isDreamAgentError(e, 'CLOSED') || isDreamAgentError(e, 'CONFLICT')) throw e;
      // A bug (or a broken plugin) must not leave the session stuck under a lease: record the failure
      // on the turn and rest, so the session is consistent and the error is visible to everyone.
      this.#d.logger.error(
        { sessionId: this.#rec.id, err: String(e) },
        'session driver failed; failing the turn',
      );
      try {
        await this.#settleRunning();
        this.#failTurnNow(serializeError(e));
        return await this.#rest();
      } catch {
        throw e;
      }
    } finally {
      this.#heartbeat?.abort();
    }
  }

  async #loop(reason: 'run' | 'command' | 'recovery' | 'restart'): Promise<RunResult> {
    this.#startup(reason);
    // A new turn is durable before any layer runs: other nodes can see it (and cancel or pause it)
    // while the cognitive layer thinks, and a crash right after start still leaves the turn to recover.
    // (A new session's turn was created atomically with it: nothing to commit then.)
    if (reason === 'run' && this.#buffer.length > 0) await this.commit();
    for (;;) {
      if (this.#lost) throw this.#lost;
      await this.#drainInbox();
      const turn = this.#rec.state.turn;
      if (this.#cancel && turn && turn.phase !== 'done') {
        await this.#settleRunning();
        this.#finishCancelled(this.#cancel.actor, this.#cancel.reason);
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
          if ((await this.#execute(turn)) === 'rest') return await this.#rest();
          break;
        case 'responding':
          await this.#guardLayer(() => this.#respond(turn));
          break;
      }
    }
  }

  #startup(reason: 'run' | 'command' | 'recovery' | 'restart'): void {
    const turn = this.#rec.state.turn;
    if (!turn || turn.phase === 'done') return;
    let recovered = false;
    for (const rec of this.#todos.values()) {
      if (rec.status !== 'running') continue;
      // A start was committed but no outcome: the process that ran it died (or lost its lease).
      recovered = true;
      const todo = this.#plan?.todos.find((t) => t.id === rec.todoId);
      if (todo && this.#isIdempotent(todo)) {
        const r = this.#touch(rec.todoId);
        r.status = r.approvedBy !== undefined ? 'approved' : 'pending';
      } else {
        const r = this.#touch(rec.todoId);
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
        turn.pending = [...turn.pending.filter((p) => p.id !== request.id), request];
        this.#emit({ type: 'recovery.requested', request });
      }
    }
    if (recovered || reason === 'recovery') {
      this.#emit({ type: 'run.resumed', actor: 'system', reason: 'recovery' });
    }
    if (this.#rec.status !== 'running' && !turn.paused) this.#rec.status = 'running';
  }

  async #guardLayer(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (this.#lost) throw this.#lost;
      if (this.#turnAbort.signal.aborted && !this.#cancel) {
        // Aborted by a cancel that is in the inbox but not applied yet: apply it now.
        this.#inboxDirty = true;
        await this.#drainInbox();
      }
      if (this.#cancel) return; // the cancel path finishes the turn
      this.#failTurnNow(serializeError(e));
      await this.commit();
    }
  }

  #layerContext(turn: TurnState): {
    sessionId: string;
    turnId: string;
    signal: AbortSignal;
    clock: Clock;
    logger: Logger;
    metadata: JsonObject;
    tenantId?: string;
    memory?: SessionMemory;
  } {
    // issue 15: tenant and session-bound memory recall for the layers (LLM prompts).
    const memory = sessionMemory(this.#d.memory, this.#rec.id, this.#rec.tenantId);
    return {
      sessionId: this.#rec.id,
      turnId: turn.id,
      signal: this.#turnAbort.signal,
      clock: this.#d.clock,
      logger: this.#d.logger,
      metadata: this.#rec.state.metadata,
      ...(this.#rec.tenantId !== undefined ? { tenantId: this.#rec.tenantId } : {}),
      ...(memory !== undefined ? { memory } : {}),
    };
  }

  /**
   * Races a layer call with the turn's abort signal: a call that ignores its signal is abandoned (as
   * executors are), so a cancel always wins.
   */
  #abandonable<T>(call: Promise<T>): Promise<T> {
    const signal = this.#turnAbort.signal;
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
        history: clone(this.#rec.state.dialogue),
        slots: clone(this.#rec.state.slots),
        clarifications: clone(turn.clarifications),
      }),
    );
    const parsed = IntentSchema.safeParse(raw);
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
    this.#emit({ type: 'intent.detected', intent });
    if (intent.clarification || intent.missingSlots.length > 0) {
      const max = this.#d.hitl.maxClarifications ?? 3;
      if (turn.clarifications.length >= max) {
        this.#failTurnNow({
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
        this.#rec.status = 'waiting';
        this.#emit({ type: 'clarification.requested', request });
      }
    } else {
      turn.phase = 'planning';
    }
    await this.commit();
  }

  #validationOptions(): PlanValidationOptions {
    return planValidationOptions(this.#d);
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
        history: clone(this.#rec.state.dialogue),
      }),
    );
    const parsed = PlanDraftSchema.safeParse(draftRaw);
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
    const issues = findPlanIssues(parsed.data.todos, this.#validationOptions());
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
    this.#setPlan(plan, [], 'planner');
    this.#emit({ type: 'plan.created', plan: clone(plan) });
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
      this.#rec.status = 'waiting';
      this.#emit({ type: 'plan.review.requested', request, plan: clone(plan) });
    } else {
      this.#approvePlan(turn, 'auto');
    }
    await this.commit();
  }

  #setPlan(plan: Plan, edits: PlanVersionRecord['edits'], actor: string): void {
    const turn = this.#rec.state.turn;
    if (!turn) return;
    const previous = this.#plan;
    this.#plan = plan;
    // An edit may have changed a todo's approval flag or tool: ask the gate again for every todo.
    this.#cleared.clear();
    if (previous && this.#todos.size > 0) {
      // A todo whose definition changed gets a new todo version: an approval of the old one no longer covers it.
      const before = new Map(previous.todos.map((t) => [t.id, t]));
      for (const t of plan.todos) {
        const old = before.get(t.id);
        const rec = this.#todos.get(t.id);
        if (!old || !rec) continue;
        if (old !== t && canonicalJson(old as unknown as Json) !== canonicalJson(t as unknown as Json))
          this.#touch(t.id).todoVersion = plan.version;
      }
    }
    turn.planId = plan.id;
    turn.planVersion = plan.version;
    this.#planVersions.push({
      sessionId: this.#rec.id,
      turnId: turn.id,
      plan: clone(plan),
      edits: clone(edits),
      actor,
      createdAt: this.#d.clock.now(),
    });
  }

  #approvePlan(turn: TurnState, actor: string): void {
    if (!this.#plan) return;
    turn.pending = turn.pending.filter((r) => r.kind !== 'plan_review');
    turn.phase = 'executing';
    this.#rec.status = 'running';
    this.#ensureTodoRecords();
    this.#emit({ type: 'plan.approved', planId: this.#plan.id, version: this.#plan.version, actor });
  }

  #isIdempotent(todo: Todo): boolean {
    const tool = todo.tool ? this.#d.tools.get(todo.tool) : undefined;
    // A todo may lower but never raise its tool's idempotency: a planner (or an LLM) must not be able to
    // make a non-idempotent effect re-runnable after a crash.
    const base = tool ? tool.idempotent : (todo.idempotent ?? false);
    return base && todo.idempotent !== false;
  }

  /** A live view of todo statuses (O(1) to create; the scheduler only calls `get`). */
  #states(): ReadonlyMap<string, TodoStatus> {
    return this.#statusView;
  }

  readonly #statusView: ReadonlyMap<string, TodoStatus>;

  #skip(todoId: string, reason: SkipReason, detail?: string): void {
    this.#unhappy = true;
    const r = this.#touch(todoId);
    r.status = 'skipped';
    r.skipReason = reason;
    if (detail !== undefined) r.reason = detail;
    r.finishedAt = this.#d.clock.now();
    this.#emit({ type: 'todo.skipped', todoId, reason, ...(detail !== undefined ? { detail } : {}) });
  }

  async #approvalDecision(
    todo: Todo,
    turn: TurnState,
  ): Promise<
    | { kind: 'run' }
    | { kind: 'ask'; roles?: string[]; risk?: 'low' | 'medium' | 'high'; reason?: string }
    | { kind: 'deny'; reason: string }
    | { kind: 'auto' }
  > {
    const tool = todo.tool ? this.#d.tools.get(todo.tool) : undefined;
    const todoApproval =
      todo.approval === undefined
        ? undefined
        : typeof todo.approval === 'boolean'
          ? { required: todo.approval }
          : todo.approval;
    // The todo can add a gate but never remove the tool's.
    const flagged = (tool?.approval.required ?? false) || (todoApproval?.required ?? false);
    const roles = [
      ...(tool?.approval.roles ?? []),
      ...(todoApproval && 'roles' in todoApproval ? (todoApproval.roles ?? []) : []),
    ];
    const risk =
      (todoApproval && 'risk' in todoApproval ? todoApproval.risk : undefined) ?? tool?.approval.risk;
    const reason =
      (todoApproval && 'reason' in todoApproval ? todoApproval.reason : undefined) ?? tool?.approval.reason;
    const ask = {
      kind: 'ask' as const,
      ...(roles.length ? { roles } : {}),
      ...(risk ? { risk } : {}),
      ...(reason ? { reason } : {}),
    };
    if (this.#d.approvals && this.#plan) {
      const decision = await this.#d.approvals(clone(todo), {
        sessionId: this.#rec.id,
        turnId: turn.id,
        plan: clone(this.#plan),
        ...(tool ? { tool } : {}),
        flagged,
        metadata: clone(this.#rec.state.metadata),
      });
      if (decision === 'require') return ask;
      if (decision === 'approve') return { kind: 'auto' };
      if (typeof decision === 'object') return { kind: 'deny', reason: decision.deny };
    }
    return flagged ? ask : { kind: 'run' };
  }

  async #execute(turn: TurnState): Promise<'rest' | 'continue'> {
    const plan = this.#plan;
    if (!plan) throw new DreamAgentError('INTERNAL', 'executing without a plan');
    this.#ensureTodoRecords();
    for (;;) {
      if (this.#lost) throw this.#lost;
      await this.#drainInbox();
      const current = this.#plan ?? plan;
      if (this.#cancel || turn.paused || this.#stopping || this.#failTurn) {
        if (this.#running.size > 0) {
          await this.#raceRunning();
          continue;
        }
        if (this.#failTurn && !this.#cancel) {
          this.#failTurnNow(this.#failTurn);
          await this.commit();
        }
        return 'continue';
      }
      // Todos that can never run because a dependency failed, was denied or skipped.
      if (this.#unhappy) {
        for (const t of blockedByFailure(current.todos, this.#states())) {
          if (!this.#running.has(t.id))
            this.#skip(t.id, 'dependency_failed', `a dependency of "${t.id}" did not complete`);
        }
      }
      const runnable: Todo[] = [];
      let gated = false;
      if (turn.pending.length > 0 && this.#supersedeChangedApprovals(turn, current)) gated = true;
      for (const todo of this.#readyIndex(current).ready(this.#statusOf)) {
        if (this.#running.has(todo.id)) continue;
        const rec = this.#todos.get(todo.id);
        if (!rec) continue;
        if (rec.status === 'approved' && rec.approvedDigest !== undefined) {
          // A grant covers one effect: if it changed since (a new tool version, say), ask again.
          if (this.#effectOf(todo, rec).digest !== rec.approvedDigest) {
            this.#supersede(
              turn,
              todo.id,
              requestIds.approval(turn.id, todo.id, rec.approvedDigest),
              'the effect changed after the grant',
            );
            gated = true;
          }
        }
        if (rec.status === 'pending' && !this.#cleared.has(todo.id)) {
          const decision = await this.#approvalDecision(todo, turn);
          if (decision.kind === 'ask') {
            const r = this.#touch(todo.id);
            r.status = 'awaiting_approval';
            const tool = todo.tool ? this.#d.tools.get(todo.tool) : undefined;
            const { effect, digest } = this.#effectOf(todo, r);
            const request: HitlRequest = {
              id: requestIds.approval(turn.id, todo.id, digest),
              kind: 'approval',
              turnId: turn.id,
              todoId: todo.id,
              prompt: decision.reason ?? `Approve "${todo.title}"${todo.tool ? ` (${todo.tool})` : ''}?`,
              createdAt: this.#d.clock.now(),
              details: {
                title: todo.title,
                tool: todo.tool ?? null,
                domain: todo.domain,
                input: effect.input,
                toolDescription: tool?.description ?? null,
              },
              effect,
              digest,
              ...(decision.risk ? { risk: decision.risk } : {}),
              ...(decision.roles ? { roles: decision.roles } : {}),
              ...(this.#d.hitl.approvalTtlMs
                ? { expiresAt: this.#d.clock.now() + this.#d.hitl.approvalTtlMs }
                : {}),
            };
            turn.pending = [...turn.pending, request];
            this.#emit({ type: 'approval.requested', request });
            gated = true;
            continue;
          }
          if (decision.kind === 'deny') {
            this.#emit({
              type: 'approval.resolved',
              requestId: requestIds.approval(turn.id, todo.id, this.#effectOf(todo, rec).digest),
              todoId: todo.id,
              granted: false,
              outcome: 'denied',
              actor: 'policy',
              reason: decision.reason,
            });
            this.#skip(todo.id, 'policy', decision.reason);
            gated = true;
            continue;
          }
          if (decision.kind === 'auto') {
            const r = this.#touch(todo.id);
            r.status = 'approved';
            r.approvedBy = 'policy';
          }
          // Asked once per todo: a todo held back only by the concurrency limit is not re-evaluated.
          this.#cleared.add(todo.id);
        }
        runnable.push(todo);
      }
      const index = this.#readyIndex(current);
      const runningTodos = [...this.#running.keys()].flatMap((id) => {
        const t = index.get(id);
        return t ? [t] : [];
      });
      const start = selectWithLimits(runnable, runningTodos, {
        concurrency: this.#d.concurrency,
        resources: this.#d.resources,
      });
      for (const todo of start) {
        const p = this.#runTodo(todo, turn).finally(() => this.#running.delete(todo.id));
        this.#running.set(todo.id, p);
        p.catch(() => undefined);
      }
      if (this.#running.size === 0) {
        if (allTerminal(current.todos, this.#states())) {
          turn.phase = 'responding';
          return 'continue';
        }
        if (gated) await this.commit();
        if (turn.pending.length === 0) {
          const states = Object.fromEntries([...this.#todos].map(([id, r]) => [id, r.status]));
          throw new DreamAgentError('INTERNAL', 'no todo can run and nothing is awaited', {
            details: { states },
          });
        }
        return 'rest';
      }
      if (gated && start.length === 0) await this.commit();
      await this.#raceRunning();
    }
  }

  /** The effect an approval of this todo covers now, and its digest. */
  #effectOf(todo: Todo, rec: TodoRecord): { effect: ApprovalEffect; digest: string } {
    const tool = todo.tool ? this.#d.tools.get(todo.tool) : undefined;
    let input: JsonObject;
    try {
      input = resolveInput(todo.input, this.#outputs(todo));
    } catch {
      // A reference that cannot resolve yet (an edit added a dependency): shown as written.
      input = todo.input;
    }
    const effect = approvalEffect({
      todoId: todo.id,
      todoVersion: rec.todoVersion ?? this.#plan?.version ?? 1,
      tool: todo.tool,
      toolVersion: rec.toolVersion ?? tool?.version,
      input,
      provided: rec.inputs,
    });
    return { effect, digest: effectDigest(effect) };
  }

  /** Withdraws an approval (request or grant) whose effect changed; the gate asks again. */
  #supersede(turn: TurnState, todoId: string, requestId: string, reason: string): void {
    turn.pending = turn.pending.filter((r) => r.id !== requestId);
    const r = this.#touch(todoId);
    r.status = 'pending';
    delete r.approvedBy;
    delete r.approvedDigest;
    this.#cleared.delete(todoId);
    this.#emit({
      type: 'approval.resolved',
      requestId,
      todoId,
      granted: false,
      outcome: 'superseded',
      actor: 'system',
      reason,
    });
  }

  /** Withdraws every open approval request whose effect no longer matches its digest. */
  #supersedeChangedApprovals(turn: TurnState, plan: Plan): boolean {
    let any = false;
    for (const req of [...turn.pending]) {
      if (req.kind !== 'approval' || req.todoId === undefined || req.digest === undefined) continue;
      const rec = this.#todos.get(req.todoId);
      if (rec?.status !== 'awaiting_approval') continue;
      const todo = this.#readyIndex(plan).get(req.todoId);
      const digest = todo ? this.#effectOf(todo, rec).digest : undefined;
      if (digest !== req.digest) {
        this.#supersede(turn, req.todoId, req.id, 'the todo or its resolved input changed');
        any = true;
      }
    }
    return any;
  }

  async #raceRunning(): Promise<void> {
    // Nothing in flight (it settled while a commit was queued): waiting on an empty race would hang
    // forever under our own heartbeat.
    if (this.#running.size === 0) return;
    const running = [...this.#running.values()];
    let waker: (() => void) | undefined;
    const woken = new Promise<void>((resolve) => {
      waker = resolve;
      this.#wakers.push(resolve);
    });
    try {
      await Promise.race([
        Promise.race(
          running.map((p) =>
            p.then(
              () => undefined,
              () => undefined,
            ),
          ),
        ),
        woken,
      ]);
    } finally {
      // Drop our waker so a long run without commands does not accumulate closures.
      this.#wakers = this.#wakers.filter((w) => w !== waker);
    }
    if (this.#lost) throw this.#lost;
  }

  async #settleRunning(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running.values()]);
  }

  /** Outputs of a todo's completed dependencies: references may only name dependencies. */
  #outputs(todo: Todo): Map<string, Json> {
    const m = new Map<string, Json>();
    for (const id of todo.dependsOn) {
      const r = this.#todos.get(id);
      if (r?.status === 'completed') m.set(id, r.output ?? null);
    }
    return m;
  }

  /** The current plan, deep-frozen once per version and shared by every executor context. */
  #frozenPlan(): { plan: Plan; byId: ReadonlyMap<string, Todo> } {
    const plan = this.#plan ?? { id: '', version: 1, todos: [] };
    if (this.#frozen?.source !== plan) {
      const frozen = deepFreeze(clone(plan));
      this.#frozen = { source: plan, plan: frozen, byId: new Map(frozen.todos.map((t) => [t.id, t])) };
    }
    return this.#frozen;
  }

  #frozen: { source: Plan; plan: Plan; byId: ReadonlyMap<string, Todo> } | undefined;
  #ready: { source: Plan; index: ReadyIndex } | undefined;
  readonly #statusOf = (id: string): TodoStatus | undefined =>
    this.#running.has(id) ? 'running' : this.#todos.get(id)?.status;

  /** The incremental ready index of the current plan (rebuilt when the plan changes). */
  #readyIndex(plan: Plan): ReadyIndex {
    if (this.#ready?.source !== plan)
      this.#ready = { source: plan, index: new ReadyIndex(plan.todos, this.#statusOf) };
    return this.#ready.index;
  }
  /** Todos the approval gate let through in this drive (no need to ask the policy again). */
  readonly #cleared = new Set<string>();
  /** Some todo failed or was skipped: dependents may be blocked (checked only then). */
  #unhappy = false;

  async #runTodo(todo: Todo, turn: TurnState): Promise<void> {
    const rec = this.#touch(todo.id);
    const tool = todo.tool ? this.#d.tools.get(todo.tool) : undefined;
    rec.status = 'running';
    rec.attempts += 1;
    rec.startedAt = this.#d.clock.now();
    // A todo that started with tool version N finishes with N, even if the tool is hot-reloaded meanwhile.
    if (tool && rec.toolVersion === undefined) rec.toolVersion = tool.version;
    // Executors get the frozen copy of the todo: they cannot change the plan.
    const frozen = this.#frozenPlan();
    const base = frozen.byId.get(todo.id) ?? deepFreeze(clone(todo));
    const pinned: Todo =
      rec.toolVersion === undefined
        ? base
        : Object.freeze({
            ...base,
            metadata: Object.freeze({
              ...(base.metadata ?? {}),
              [TOOL_VERSION_METADATA_KEY]: rec.toolVersion,
            }),
          });
    const started = rec.startedAt;
    this.#emit({
      type: 'todo.started',
      todoId: todo.id,
      attempt: rec.attempts,
      idempotencyKey: rec.idempotencyKey,
      ...(todo.tool ? { tool: todo.tool } : {}),
    });
    // Never twice: the start of a non-idempotent todo is durable before its code runs, so a crash
    // between start and outcome is detected and handed to a human instead of silently re-run.
    if (!this.#isIdempotent(todo)) await this.commit();
    let suspended: (InputRequestSpec & { key: string }) | undefined;
    let inputCalls = 0;
    const executor = this.#d.executorFor(todo.domain);
    try {
      if (!executor)
        throw new DreamAgentError('INVALID_PLAN', `no executor for domain "${todo.domain}"`, {
          details: { domain: todo.domain },
        });
      const input = resolveInput(todo.input, this.#outputs(todo));
      const timeout = todo.timeoutMs ?? tool?.timeoutMs ?? this.#d.todoTimeoutMs;
      const result = await withTimeout(
        (signal) => {
          const ctx: ExecutionContext = {
            ...this.#layerContext(turn),
            signal,
            todoId: todo.id,
            idempotencyKey: rec.idempotencyKey,
            attempt: rec.attempts,
            plan: frozen.plan,
            progress: (message, pct) => {
              if (!signal.aborted)
                this.#emit({
                  type: 'todo.progress',
                  todoId: todo.id,
                  message: String(message),
                  ...(pct !== undefined ? { pct } : {}),
                });
            },
            delta: (text) => {
              if (!signal.aborted)
                this.#emit({ type: 'todo.output.delta', todoId: todo.id, delta: String(text) });
            },
            requestInput: async (spec) => {
              await Promise.resolve();
              inputCalls += 1;
              const key = spec.key ?? `input-${inputCalls}`;
              const provided = rec.inputs?.[key];
              if (provided !== undefined) return clone(provided);
              suspended = { ...spec, key };
              throw new SuspendForInput(suspended);
            },
            tools: this.#d.tools,
            cache: this.#d.cache,
          };
          return executor.execute(pinned, input, ctx);
        },
        timeout,
        this.#turnAbort.signal,
      );
      if (suspended) throw new SuspendForInput(suspended);
      if (
        result === null ||
        typeof result !== 'object' ||
        !('output' in result) ||
        (result as { output?: unknown }).output === undefined
      ) {
        throw new DreamAgentError(
          'INVALID_INPUT',
          `the executor of domain "${todo.domain}" returned a result without "output" for "${todo.id}" (return { output: null } for no output)`,
          { details: { todoId: todo.id, domain: todo.domain } },
        );
      }
      const output = result.output;
      // One serialisation: the size check and the owned copy (frozen, shared by record, event, store).
      const text = JSON.stringify(output) ?? 'null';
      // UTF-8 takes at most 3 bytes per UTF-16 unit: count bytes only when it could matter.
      const size = text.length * 3 <= this.#d.maxOutputBytes ? text.length : Buffer.byteLength(text, 'utf8');
      if (size > this.#d.maxOutputBytes) {
        throw new DreamAgentError(
          'PAYLOAD_TOO_LARGE',
          `output of "${todo.id}" is ${size} bytes; the limit is ${this.#d.maxOutputBytes}`,
          { details: { size } },
        );
      }
      if (this.#lost) return;
      // One copy of the output, frozen: the record, the event and every listener share it safely.
      const owned = freezeJson(JSON.parse(text) as Json);
      rec.status = 'completed';
      this.#ready?.index.completed(todo.id);
      rec.output = owned;
      rec.cached = result.cached === true;
      rec.finishedAt = this.#d.clock.now();
      this.#dirty.add(todo.id);
      this.#emit({
        type: 'todo.completed',
        todoId: todo.id,
        output: owned,
        cached: result.cached === true,
        durationMs: rec.finishedAt - started,
      });
    } catch (e) {
      if (this.#lost) return;
      if (suspended) {
        rec.status = 'awaiting_input';
        this.#dirty.add(todo.id);
        const request: HitlRequest = {
          id: requestIds.input(turn.id, todo.id, suspended.key),
          kind: 'input',
          turnId: turn.id,
          todoId: todo.id,
          prompt: suspended.prompt,
          createdAt: this.#d.clock.now(),
          details: { key: suspended.key, title: todo.title },
          ...(suspended.schema ? { schema: suspended.schema } : {}),
        };
        turn.pending = [...turn.pending.filter((r) => r.id !== request.id), request];
        this.#emit({ type: 'input.requested', request });
      } else if (this.#cancel || this.#turnAbort.signal.aborted) {
        // Cancelled (or the agent is closing): the cancel path records the outcome.
        rec.status = this.#stopping && !this.#cancel ? rec.status : 'running';
        if (this.#stopping && !this.#cancel) return;
      } else {
        const error = serializeError(e, 'TOOL_FAILED');
        rec.status = 'failed';
        this.#unhappy = true;
        rec.error = error;
        rec.finishedAt = this.#d.clock.now();
        this.#dirty.add(todo.id);
        this.#emit({ type: 'todo.failed', todoId: todo.id, error, attempt: rec.attempts });
        if (this.#d.failurePolicy === 'fail-turn') this.#failTurn = error;
      }
    }
    if (this.#cancel && rec.status === 'running') return; // recorded by the cancel path
    await this.commit();
  }

  async #respond(turn: TurnState): Promise<void> {
    const ordered = (this.#plan?.todos ?? []).flatMap((t) => {
      const r = this.#todos.get(t.id);
      return r ? [clone(r)] : [];
    });
    const summary: TurnSummary = {
      input: turn.input,
      plan: clone(this.#plan),
      todos: ordered,
      ...(turn.intent ? { intent: clone(turn.intent) } : {}),
    };
    const attempt = (): Promise<string> =>
      this.#abandonable(
        this.#d.responder.respond(summary, {
          ...this.#layerContext(turn),
          delta: (text) => this.#emit({ type: 'response.delta', delta: String(text) }),
          history: clone(this.#rec.state.dialogue),
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
        if (this.#lost || this.#cancel || this.#turnAbort.signal.aborted) throw e;
        this.#d.logger.warn({ sessionId: this.#rec.id, err: String(e) }, 'responder failed; retrying once');
        answer = await attempt();
      }
      text = typeof answer === 'string' ? answer : String(answer);
    } catch (e) {
      if (this.#lost || this.#cancel || this.#turnAbort.signal.aborted) throw e;
      answerError = serializeError(e, 'LLM_ERROR');
      text = '';
    }
    if (answerError) turn.answerError = answerError;
    else this.#emit({ type: 'response.completed', text });
    turn.answer = text;
    turn.outcome = 'completed';
    turn.phase = 'done';
    turn.pending = [];
    turn.endedAt = this.#d.clock.now();
    turn.todoSummary = this.#todoSummary();
    this.#remember(turn);
    this.#emit({ type: 'turn.completed', answer: text, ...(answerError ? { answerError } : {}) });
    await this.commit();
    // Best effort, after the commit: memory is for context, never a reason to fail or repeat a turn.
    // issue 15: the turn and each completed todo's result, tagged with the session and its tenant.
    const said = { id: turn.id, input: turn.input, answer: text, intent: turn.intent?.name };
    rememberTurn(
      this.#d.memory,
      said,
      { sessionId: this.#rec.id, tenantId: this.#rec.tenantId },
      this.#plan,
      this.#todos,
      (err) =>
        this.#d.logger.warn({ sessionId: this.#rec.id, err: String(err) }, 'remembering the turn failed'),
    );
  }

  #remember(turn: TurnState): void {
    const slots = turn.intent?.slots ?? {};
    this.#rec.state.slots = { ...this.#rec.state.slots, ...slots };
    this.#rec.state.dialogue = [
      ...this.#rec.state.dialogue,
      {
        turnId: turn.id,
        input: turn.input,
        slots: clone(slots),
        ...(turn.intent ? { intent: turn.intent.name } : {}),
        ...(turn.answer !== undefined ? { answer: turn.answer.slice(0, 2000) } : {}),
      },
    ].slice(-this.#d.dialogueTurns);
  }

  /** How the turn's todos ended: counts, and (bounded) lists of failures and skips with reasons. */
  #todoSummary(): TurnTodoSummary {
    const out: TurnTodoSummary = { total: 0, completed: 0, failed: 0, skipped: 0, failures: [], skips: [] };
    const order = this.#plan?.todos.map((t) => t.id) ?? [...this.#todos.keys()];
    for (const id of order) {
      const r = this.#todos.get(id);
      if (!r) continue;
      out.total += 1;
      if (r.status === 'completed') out.completed += 1;
      else if (r.status === 'failed') {
        out.failed += 1;
        if (out.failures.length < 50 && r.error) out.failures.push({ todoId: id, error: r.error });
      } else if (r.status === 'skipped') {
        out.skipped += 1;
        if (out.skips.length < 50)
          out.skips.push({
            todoId: id,
            reason: r.skipReason ?? 'cancelled',
            ...(r.reason !== undefined ? { detail: r.reason } : {}),
          });
      }
    }
    return out;
  }

  #failTurnNow(error: SerializedError): void {
    const turn = this.#rec.state.turn;
    if (!turn || turn.phase === 'done') return;
    for (const [id, r] of this.#todos)
      if (!isTerminal(r.status) && !this.#running.has(id)) this.#skip(id, 'cancelled', 'the turn failed');
    turn.outcome = 'failed';
    turn.error = error;
    turn.phase = 'done';
    turn.pending = [];
    turn.endedAt = this.#d.clock.now();
    turn.todoSummary = this.#todoSummary();
    this.#failTurn = undefined;
    this.#remember(turn);
    this.#emit({ type: 'turn.failed', error });
  }

  #finishCancelled(actor: string, reason?: string): void {
    const turn = this.#rec.state.turn;
    this.#cancel = undefined;
    if (!turn || turn.phase === 'done') return;
    for (const [id, r] of this.#todos)
      if (!isTerminal(r.status)) this.#skip(id, 'cancelled', reason ?? 'the run was cancelled');
    turn.outcome = 'cancelled';
    turn.error = { code: 'ABORTED', message: reason ?? 'cancelled', retryable: false, details: { actor } };
    turn.phase = 'done';
    turn.pending = [];
    turn.paused = false;
    turn.endedAt = this.#d.clock.now();
    turn.todoSummary = this.#todoSummary();
    this.#remember(turn);
    this.#emit({ type: 'run.cancelled', actor, ...(reason !== undefined ? { reason } : {}) });
    this.#turnAbort = new AbortController();
  }

  async #rest(): Promise<RunResult> {
    const turn = this.#rec.state.turn;
    if (this.#stopping && turn && turn.phase !== 'done' && !turn.paused) {
      // Graceful shutdown: leave the session running with its lease released; recover() elsewhere continues it.
      this.#rec.status = 'running';
    } else {
      this.#rec.status =
        !turn || turn.phase === 'done'
          ? 'idle'
          : turn.paused
            ? 'paused'
            : turn.pending.length > 0
              ? 'waiting'
              : 'running';
    }
    if (turn?.paused && !this.#pauseAnnounced && turn.phase !== 'done') {
      this.#pauseAnnounced = true;
      this.#emit({ type: 'run.paused', actor: this.#pauseActor });
    }
    await this.commit('release');
    if (this.#stopping && this.#rec.status === 'running') {
      throw new DreamAgentError(
        'CLOSED',
        `the agent closed while session "${this.#rec.id}" was running; recover() on any node continues it`,
        {
          details: { sessionId: this.#rec.id },
        },
      );
    }
    return this.result();
  }

  /** The run result for the session's current state. */
  result(): RunResult {
    return resultOf(this.#rec);
  }

  // ---------------------------------------------------------------- commands

  async #drainInbox(): Promise<void> {
    if (!this.#inboxDirty || this.#lost) return;
    this.#inboxDirty = false;
    let entries: InboxEntry[];
    try {
      entries = await this.#d.store.pendingCommands(this.#rec.id);
    } catch (e) {
      this.#inboxDirty = true;
      this.#d.logger.warn(
        { sessionId: this.#rec.id, err: String(e) },
        'reading the inbox failed; will retry',
      );
      await this.#d.clock.sleep(200);
      return;
    }
    if (entries.length === 0) return;
    for (const entry of entries) this.#applyEntry(entry);
    await this.commit();
  }

  /** A grant applies only while the effect it names is still what would run (e.g. no new tool version). */
  #assertEffectUnchanged(requestId: string): void {
    const req = this.#rec.state.turn?.pending.find((r) => r.id === requestId);
    if (req?.digest === undefined || req.todoId === undefined) return;
    const todo = this.#plan?.todos.find((t) => t.id === req.todoId);
    const rec = this.#todos.get(req.todoId);
    if (!todo || !rec) return;
    if (this.#effectOf(todo, rec).digest !== req.digest) {
      throw new DreamAgentError(
        'STALE_VERSION',
        `the effect of "${req.todoId}" changed since the request was raised; a new request asks again`,
        { details: { requestId, todoId: req.todoId } },
      );
    }
  }

  #view(): CommandView {
    return { record: this.#rec, plan: this.#plan, todos: this.#todos, validation: this.#validationOptions() };
  }

  #applyEntry(entry: InboxEntry): void {
    let command: Command;
    try {
      command = parseCommand(entry.command, this.#d.maxCommandBytes);
      const { plan } = validateCommand(command, this.#view());
      if (command.type === 'approval.grant') this.#assertEffectUnchanged(command.requestId);
      this.#apply(command, entry.actor, plan);
      this.#acks.push({ commandId: entry.id, status: 'applied' });
    } catch (e) {
      if (!isDreamAgentError(e)) throw e;
      const error = e.toJSON();
      this.#acks.push({ commandId: entry.id, status: 'rejected', error });
      const type =
        typeof entry.command === 'object' && entry.command !== null && !Array.isArray(entry.command)
          ? String(entry.command['type'])
          : 'unknown';
      this.#emit({
        type: 'command.rejected',
        commandId: entry.id,
        commandType: type,
        error,
        actor: entry.actor,
      });
    }
  }

  #apply(command: Command, actor: string, editedPlan: Plan | undefined): void {
    const turn = this.#rec.state.turn;
    if (!turn) return;
    const removeRequest = (id: string): void => {
      turn.pending = turn.pending.filter((r) => r.id !== id);
    };
    switch (command.type) {
      case 'plan.approve':
      case 'plan.edit': {
        if (editedPlan && this.#plan) {
          const previous = this.#plan;
          const edits = command.edits ?? [];
          this.#setPlan(editedPlan, edits, actor);
          this.#emit({ type: 'plan.updated', plan: clone(editedPlan), edits: clone(edits), actor });
          if (turn.phase === 'executing') {
            const kept = new Set(editedPlan.todos.map((t) => t.id));
            for (const t of previous.todos) {
              if (!kept.has(t.id) && this.#todos.has(t.id)) {
                const rec = this.#todos.get(t.id);
                if (rec?.status === 'awaiting_approval')
                  turn.pending = turn.pending.filter((r) => !(r.kind === 'approval' && r.todoId === t.id));
                this.#skip(t.id, 'removed', `removed by ${actor}`);
              }
            }
            this.#ensureTodoRecords();
          }
        }
        if (command.type === 'plan.approve') this.#approvePlan(turn, actor);
        return;
      }
      case 'plan.reject': {
        const plan = this.#plan;
        removeRequest(requestIds.planReview(turn.id));
        if (plan)
          this.#emit({
            type: 'plan.rejected',
            planId: plan.id,
            version: plan.version,
            actor,
            ...(command.reason !== undefined ? { reason: command.reason } : {}),
          });
        this.#finishCancelled(actor, command.reason ?? 'plan rejected');
        return;
      }
      case 'approval.grant':
      case 'approval.deny': {
        const req = turn.pending.find((r) => r.id === command.requestId);
        const todoId = req?.todoId ?? '';
        removeRequest(command.requestId);
        const granted = command.type === 'approval.grant';
        const reason = command.type === 'approval.deny' ? command.reason : undefined;
        this.#emit({
          type: 'approval.resolved',
          requestId: command.requestId,
          todoId,
          granted,
          outcome: granted ? 'granted' : 'denied',
          actor,
          ...(reason !== undefined ? { reason } : {}),
        });
        if (granted) {
          const r = this.#touch(todoId);
          r.status = 'approved';
          r.approvedBy = actor;
          if (req?.digest !== undefined) r.approvedDigest = req.digest;
        } else {
          this.#skip(todoId, 'denied', reason ?? `denied by ${actor}`);
        }
        return;
      }
      case 'input.provide': {
        const req = turn.pending.find((r) => r.id === command.requestId);
        const todoId = req?.todoId ?? '';
        const key = String(req?.details?.['key'] ?? '');
        removeRequest(command.requestId);
        const r = this.#touch(todoId);
        r.inputs = { ...(r.inputs ?? {}), [key]: clone(command.value) };
        if (r.approvedBy !== undefined) {
          const planned = this.#plan?.todos.find((t) => t.id === todoId);
          if (this.#d.hitl.keepApprovalAfterInput === true && planned) {
            // The policy allows it explicitly: the grant now covers the effect with the new value.
            if (r.approvedDigest !== undefined) r.approvedDigest = this.#effectOf(planned, r).digest;
          } else {
            // The grant covered the effect without this value: the approver must see the new effect.
            delete r.approvedBy;
            delete r.approvedDigest;
            this.#cleared.delete(todoId);
          }
        }
        r.status = r.approvedBy !== undefined ? 'approved' : 'pending';
        this.#emit({ type: 'input.received', requestId: command.requestId, todoId, actor });
        return;
      }
      case 'clarification.answer': {
        const req = turn.pending.find((r) => r.id === command.requestId);
        removeRequest(command.requestId);
        const slot = req?.details?.['slot'];
        turn.clarifications = [
          ...turn.clarifications,
          {
            question: req?.prompt ?? '',
            answer: command.answer,
            ...(typeof slot === 'string' ? { slot } : {}),
          },
        ];
        turn.phase = 'understanding';
        this.#emit({
          type: 'clarification.answered',
          requestId: command.requestId,
          answer: command.answer,
          actor,
        });
        return;
      }
      case 'recovery.resolve': {
        const req = turn.pending.find((r) => r.id === command.requestId);
        const todoId = req?.todoId ?? '';
        removeRequest(command.requestId);
        this.#emit({
          type: 'recovery.resolved',
          requestId: command.requestId,
          todoId,
          decision: command.decision,
          actor,
        });
        const r = this.#touch(todoId);
        if (command.decision === 'retry') r.status = r.approvedBy !== undefined ? 'approved' : 'pending';
        else if (command.decision === 'skip')
          this.#skip(todoId, 'recovery_skip', `skipped by ${actor} after a crash`);
        else {
          r.status = 'completed';
          this.#ready?.index.completed(todoId);
          r.output = clone(command.output ?? null);
          r.finishedAt = this.#d.clock.now();
          this.#emit({
            type: 'todo.completed',
            todoId,
            output: clone(r.output),
            cached: false,
            durationMs: 0,
          });
        }
        return;
      }
      case 'pause':
        turn.paused = true;
        this.#pauseActor = actor;
        this.#pauseAnnounced = false;
        return;
      case 'resume':
        turn.paused = false;
        this.#pauseAnnounced = false;
        this.#rec.status = 'running';
        this.#emit({ type: 'run.resumed', actor, reason: 'command' });
        return;
      case 'cancel':
        this.#cancel = { actor, ...(command.reason !== undefined ? { reason: command.reason } : {}) };
        this.#turnAbort.abort(new DreamAgentError('ABORTED', command.reason ?? 'cancelled'));
        return;
    }
  }

  /** Emits `turn.started` for a turn created with the session by a store that stored no events. */
  announceTurn(): void {
    const turn = this.#rec.state.turn;
    if (turn) this.#emit({ type: 'turn.started', input: turn.input, index: turn.index });
  }

  /** Starts a new turn in this (idle) session. */
  startTurn(turnId: string, input: string): void {
    const turn = startTurnState(this.#rec.state, turnId, input, this.#d.clock.now());
    this.#rec.status = 'running';
    this.#plan = null;
    this.#todos.clear();
    this.#pauseAnnounced = false;
    this.#emit({ type: 'turn.started', input, index: turn.index });
  }
}

/**
 * Starts a new turn in a session state (mutates it): the turn counter, the turn itself.
 *
 * @param state - the session state
 * @param turnId - the new turn's id
 * @param input - the user's request
 * @param now - epoch ms
 * @returns the new turn
 */
export function startTurnState(state: SessionState, turnId: string, input: string, now: number): TurnState {
  state.turns += 1;
  const turn: TurnState = {
    id: turnId,
    index: state.turns,
    input,
    phase: 'understanding',
    clarifications: [],
    pending: [],
    paused: false,
    startedAt: now,
  };
  state.turn = turn;
  return turn;
}

/**
 * The plan validation every plan and plan edit goes through: known domains, known tools, and a tool on
 * every todo whose domain only the tool executor serves.
 *
 * @param d - the agent's wiring
 * @returns options for `findPlanIssues` / `applyPlanEdits`
 */
export function planValidationOptions(
  d: Pick<DriverDeps, 'domains' | 'tools' | 'requiresTool'>,
): PlanValidationOptions {
  const domains = d.domains();
  return {
    ...(domains ? { domains } : {}),
    hasTool: (name) => d.tools.get(name) !== undefined,
    validateToolInput: (todo) =>
      todo.tool === undefined && d.requiresTool(todo.domain)
        ? [`todo "${todo.id}" names no tool, and domain "${todo.domain}" is served only by the tool executor`]
        : [],
  };
}

/**
 * The run result a session record stands for.
 *
 * @param rec - a session row
 * @returns the status union and what goes with it
 */
export function resultOf(rec: SessionRecord): RunResult {
  const turn = rec.state.turn;
  const base = {
    sessionId: rec.id,
    turnId: turn?.id ?? null,
    lastSeq: rec.lastSeq,
    pending: clone(turn?.pending ?? []),
  };
  if (!turn) return { ...base, status: 'completed' };
  if (turn.phase === 'done') {
    const status =
      turn.outcome === 'failed' ? 'failed' : turn.outcome === 'cancelled' ? 'cancelled' : 'completed';
    return {
      ...base,
      status,
      ...(turn.answer !== undefined ? { answer: turn.answer } : {}),
      ...(turn.error ? { error: clone(turn.error) } : {}),
      ...(turn.answerError ? { answerError: clone(turn.answerError) } : {}),
      ...(turn.todoSummary ? { todos: clone(turn.todoSummary) } : {}),
    };
  }
  if (turn.paused) return { ...base, status: 'paused' };
  return { ...base, status: 'waiting' };
}

/** Todo statuses read live from the driver's records; running todos read as `running`. */
class LiveStatusView extends Map<string, TodoStatus> {
  constructor(
    private readonly todos: ReadonlyMap<string, TodoRecord>,
    private readonly running: ReadonlyMap<string, unknown>,
  ) {
    super();
  }

  override get(id: string): TodoStatus | undefined {
    return this.running.has(id) ? 'running' : this.todos.get(id)?.status;
  }

  override has(id: string): boolean {
    return this.todos.has(id);
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
