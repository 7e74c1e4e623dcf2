import { isTerminal } from '../dag/scheduler.js';
import { ReadyIndex } from '../dag/incremental.js';
import { resolveInput } from '../dag/refs.js';
import type { PlanValidationOptions } from '../dag/validate.js';
import { DreamAgentError, isDreamAgentError, type SerializedError } from '../errors/index.js';
import { approvalEffect, effectDigest } from '../hitl/effect.js';
import type { Command } from '../model/commands.js';
import { cloneJson, type Json, type JsonObject } from '../model/json.js';
import type { Plan, PlanVersionRecord, Todo } from '../model/plan.js';
import type {
  ApprovalEffect,
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
import { canonicalJson } from '../tools/canonical.js';
import { parseCommand, validateCommand, type CommandView } from '../agent/commands.js';
import type { DriverDeps } from '../agent/driver.js';
import { idempotencyKey, requestIds } from '../agent/ids.js';
import type { Journal } from './journal.js';

const clone = cloneJson;

/**
 * The session's state and the one reducer over it: applying a command (after validation), setting and
 * approving a plan, skipping, superseding approvals whose effect changed, failing or cancelling a turn
 * and summing it up. Every change is synchronous and goes through the {@link Journal} (events, changed
 * rows); nothing here awaits or talks to a store — the driver decides when to commit.
 *
 * @internal
 */
export class SessionModel {
  readonly d: DriverDeps;
  readonly rec: SessionRecord;
  plan: Plan | null;
  readonly todos: Map<string, TodoRecord>;
  readonly journal: Journal;
  /** Todos in flight (owned by the todo runner; read here so a failed turn does not skip them). */
  readonly running = new Map<string, Promise<void>>();
  /** Todos the approval gate let through in this drive (no need to ask the policy again). */
  readonly cleared = new Set<string>();
  /** Some todo failed or was skipped: dependents may be blocked (checked only then). */
  unhappy: boolean;
  /** A cancel applied but not yet finished (in-flight todos settle first). */
  cancel: { actor: string; reason?: string } | undefined;
  pauseActor = 'anonymous';
  pauseAnnounced: boolean;
  /** Set by a failed todo under `failurePolicy: 'fail-turn'`: the turn fails once in-flight todos settle. */
  failTurn: SerializedError | undefined;
  /** Aborts every layer call and todo of the current turn (cancel, close, lost ownership). */
  turnAbort = new AbortController();
  ready: { source: Plan; index: ReadyIndex } | undefined;
  readonly statusView: ReadonlyMap<string, TodoStatus>;

  constructor(
    deps: DriverDeps,
    rec: SessionRecord,
    plan: Plan | null,
    todos: Map<string, TodoRecord>,
    journal: Journal,
  ) {
    this.d = deps;
    this.rec = rec;
    this.plan = plan;
    this.todos = todos;
    this.journal = journal;
    this.statusView = new LiveStatusView(this.todos, this.running);
    this.unhappy = [...todos.values()].some((t) => t.status === 'failed' || t.status === 'skipped');
    this.pauseAnnounced = rec.state.turn?.paused ?? false;
  }

  readonly statusOf = (id: string): TodoStatus | undefined =>
    this.running.has(id) ? 'running' : this.todos.get(id)?.status;

  /** A live view of todo statuses (O(1) to create; the scheduler only calls `get`). */
  states(): ReadonlyMap<string, TodoStatus> {
    return this.statusView;
  }

  /** The incremental ready index of the current plan (rebuilt when the plan changes). */
  readyIndex(plan: Plan): ReadyIndex {
    if (this.ready?.source !== plan)
      this.ready = { source: plan, index: new ReadyIndex(plan.todos, this.statusOf) };
    return this.ready.index;
  }

  validationOptions(): PlanValidationOptions {
    return planValidationOptions(this.d);
  }

  touch(todoId: string): TodoRecord {
    const rec = this.todos.get(todoId);
    if (!rec) throw new DreamAgentError('INTERNAL', `no todo record "${todoId}"`);
    this.journal.touch(todoId);
    return rec;
  }

  ensureTodoRecords(): void {
    const turn = this.rec.state.turn;
    if (!turn || !this.plan) return;
    for (const todo of this.plan.todos) {
      if (this.todos.has(todo.id)) continue;
      this.todos.set(todo.id, {
        sessionId: this.rec.id,
        turnId: turn.id,
        todoId: todo.id,
        status: 'pending',
        attempts: 0,
        idempotencyKey: idempotencyKey(this.rec.id, turn.id, todo.id),
        todoVersion: this.plan.version,
      });
      this.journal.touch(todo.id);
    }
  }

  setPlan(plan: Plan, edits: PlanVersionRecord['edits'], actor: string): void {
    const turn = this.rec.state.turn;
    if (!turn) return;
    const previous = this.plan;
    this.plan = plan;
    // An edit may have changed a todo's approval flag or tool: ask the gate again for every todo.
    this.cleared.clear();
    if (previous && this.todos.size > 0) {
      // A todo whose definition changed gets a new todo version: an approval of the old one no longer covers it.
      const before = new Map(previous.todos.map((t) => [t.id, t]));
      for (const t of plan.todos) {
        const old = before.get(t.id);
        const rec = this.todos.get(t.id);
        if (!old || !rec) continue;
        if (old !== t && canonicalJson(old as unknown as Json) !== canonicalJson(t as unknown as Json))
          this.touch(t.id).todoVersion = plan.version;
      }
    }
    turn.planId = plan.id;
    turn.planVersion = plan.version;
    this.journal.planVersion({
      sessionId: this.rec.id,
      turnId: turn.id,
      plan: clone(plan),
      edits: clone(edits),
      actor,
      createdAt: this.d.clock.now(),
    });
  }

  approvePlan(turn: TurnState, actor: string): void {
    if (!this.plan) return;
    turn.pending = turn.pending.filter((r) => r.kind !== 'plan_review');
    turn.phase = 'executing';
    this.rec.status = 'running';
    this.ensureTodoRecords();
    this.journal.emit({ type: 'plan.approved', planId: this.plan.id, version: this.plan.version, actor });
  }

  isIdempotent(todo: Todo): boolean {
    const tool = todo.tool ? this.d.tools.get(todo.tool) : undefined;
    // A todo may lower but never raise its tool's idempotency: a planner (or an LLM) must not be able to
    // make a non-idempotent effect re-runnable after a crash.
    const base = tool ? tool.idempotent : (todo.idempotent ?? false);
    return base && todo.idempotent !== false;
  }

  skip(todoId: string, reason: SkipReason, detail?: string): void {
    this.unhappy = true;
    const r = this.touch(todoId);
    r.status = 'skipped';
    r.skipReason = reason;
    if (detail !== undefined) r.reason = detail;
    r.finishedAt = this.d.clock.now();
    this.journal.emit({ type: 'todo.skipped', todoId, reason, ...(detail !== undefined ? { detail } : {}) });
  }

  effectOf(todo: Todo, rec: TodoRecord): { effect: ApprovalEffect; digest: string } {
    const tool = todo.tool ? this.d.tools.get(todo.tool) : undefined;
    let input: JsonObject;
    try {
      input = resolveInput(todo.input, this.outputs(todo));
    } catch {
      // A reference that cannot resolve yet (an edit added a dependency): shown as written.
      input = todo.input;
    }
    const effect = approvalEffect({
      todoId: todo.id,
      todoVersion: rec.todoVersion ?? this.plan?.version ?? 1,
      tool: todo.tool,
      toolVersion: rec.toolVersion ?? tool?.version,
      toolRevision: (rec.toolVersion !== undefined && todo.tool
        ? this.d.tools.get(todo.tool, rec.toolVersion)
        : tool
      )?.revision,
      input,
      provided: rec.inputs,
    });
    return { effect, digest: effectDigest(effect) };
  }

  /**
   * Sends a todo whose row says `approved` without any digest back through the approval gate: this
   * engine records the digest of the effect with every grant (and every policy approval), so such a row
   * was not approved here. No event: nothing was granted; the gate raises the request again if needed.
   */
  revokeUnverifiedApproval(todoId: string): void {
    const r = this.touch(todoId);
    r.status = 'pending';
    delete r.approvedBy;
    this.cleared.delete(todoId);
  }

  /** Withdraws an approval (request or grant) whose effect changed; the gate asks again. */
  supersede(turn: TurnState, todoId: string, requestId: string, reason: string): void {
    turn.pending = turn.pending.filter((r) => r.id !== requestId);
    const r = this.touch(todoId);
    r.status = 'pending';
    delete r.approvedBy;
    delete r.approvedDigest;
    this.cleared.delete(todoId);
    this.journal.emit({
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
  supersedeChangedApprovals(turn: TurnState, plan: Plan): boolean {
    let any = false;
    for (const req of [...turn.pending]) {
      if (req.kind !== 'approval' || req.todoId === undefined || req.digest === undefined) continue;
      const rec = this.todos.get(req.todoId);
      if (rec?.status !== 'awaiting_approval') continue;
      const todo = this.readyIndex(plan).get(req.todoId);
      const digest = todo ? this.effectOf(todo, rec).digest : undefined;
      if (digest !== req.digest) {
        this.supersede(turn, req.todoId, req.id, 'the todo or its resolved input changed');
        any = true;
      }
    }
    return any;
  }

  outputs(todo: Todo): Map<string, Json> {
    const m = new Map<string, Json>();
    for (const id of todo.dependsOn) {
      const r = this.todos.get(id);
      if (r?.status === 'completed') m.set(id, r.output ?? null);
    }
    return m;
  }

  remember(turn: TurnState): void {
    const slots = turn.intent?.slots ?? {};
    this.rec.state.slots = { ...this.rec.state.slots, ...slots };
    this.rec.state.dialogue = [
      ...this.rec.state.dialogue,
      {
        turnId: turn.id,
        input: turn.input,
        slots: clone(slots),
        ...(turn.intent ? { intent: turn.intent.name } : {}),
        ...(turn.answer !== undefined ? { answer: turn.answer.slice(0, 2000) } : {}),
      },
    ].slice(-this.d.dialogueTurns);
  }

  /** How the turn's todos ended: counts, and (bounded) lists of failures and skips with reasons. */
  todoSummary(): TurnTodoSummary {
    const out: TurnTodoSummary = { total: 0, completed: 0, failed: 0, skipped: 0, failures: [], skips: [] };
    const order = this.plan?.todos.map((t) => t.id) ?? [...this.todos.keys()];
    for (const id of order) {
      const r = this.todos.get(id);
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

  failTurnNow(error: SerializedError): void {
    const turn = this.rec.state.turn;
    if (!turn || turn.phase === 'done') return;
    for (const [id, r] of this.todos)
      if (!isTerminal(r.status) && !this.running.has(id)) this.skip(id, 'cancelled', 'the turn failed');
    turn.outcome = 'failed';
    turn.error = error;
    turn.phase = 'done';
    turn.pending = [];
    turn.endedAt = this.d.clock.now();
    turn.todoSummary = this.todoSummary();
    this.failTurn = undefined;
    this.remember(turn);
    this.journal.emit({ type: 'turn.failed', error });
  }

  finishCancelled(actor: string, reason?: string): void {
    const turn = this.rec.state.turn;
    this.cancel = undefined;
    if (!turn || turn.phase === 'done') return;
    for (const [id, r] of this.todos)
      if (!isTerminal(r.status)) this.skip(id, 'cancelled', reason ?? 'the run was cancelled');
    turn.outcome = 'cancelled';
    turn.error = { code: 'ABORTED', message: reason ?? 'cancelled', retryable: false, details: { actor } };
    turn.phase = 'done';
    turn.pending = [];
    turn.paused = false;
    turn.endedAt = this.d.clock.now();
    turn.todoSummary = this.todoSummary();
    this.remember(turn);
    this.journal.emit({ type: 'run.cancelled', actor, ...(reason !== undefined ? { reason } : {}) });
    this.turnAbort = new AbortController();
  }

  assertEffectUnchanged(requestId: string): void {
    const req = this.rec.state.turn?.pending.find((r) => r.id === requestId);
    if (req?.digest === undefined || req.todoId === undefined) return;
    const todo = this.plan?.todos.find((t) => t.id === req.todoId);
    const rec = this.todos.get(req.todoId);
    if (!todo || !rec) return;
    if (this.effectOf(todo, rec).digest !== req.digest) {
      throw new DreamAgentError(
        'STALE_VERSION',
        `the effect of "${req.todoId}" changed since the request was raised; a new request asks again`,
        { details: { requestId, todoId: req.todoId } },
      );
    }
  }

  view(): CommandView {
    return {
      record: this.rec,
      plan: this.plan,
      todos: this.todos,
      validation: this.validationOptions(),
      now: this.d.clock.now(),
    };
  }

  applyEntry(entry: InboxEntry): void {
    let command: Command;
    try {
      command = parseCommand(entry.command, this.d.maxCommandBytes);
      const { plan } = validateCommand(command, this.view());
      if (command.type === 'approval.grant') this.assertEffectUnchanged(command.requestId);
      this.apply(command, entry.actor, plan);
      this.journal.ack({ commandId: entry.id, status: 'applied' });
    } catch (e) {
      if (!isDreamAgentError(e)) throw e;
      const error = e.toJSON();
      this.journal.ack({ commandId: entry.id, status: 'rejected', error });
      const type =
        typeof entry.command === 'object' && entry.command !== null && !Array.isArray(entry.command)
          ? String(entry.command['type'])
          : 'unknown';
      this.journal.emit({
        type: 'command.rejected',
        commandId: entry.id,
        commandType: type,
        error,
        actor: entry.actor,
      });
    }
  }

  apply(command: Command, actor: string, editedPlan: Plan | undefined): void {
    const turn = this.rec.state.turn;
    if (!turn) return;
    const removeRequest = (id: string): void => {
      turn.pending = turn.pending.filter((r) => r.id !== id);
    };
    switch (command.type) {
      case 'plan.approve':
      case 'plan.edit': {
        if (editedPlan && this.plan) {
          const previous = this.plan;
          const edits = command.edits ?? [];
          this.setPlan(editedPlan, edits, actor);
          this.journal.emit({ type: 'plan.updated', plan: clone(editedPlan), edits: clone(edits), actor });
          if (turn.phase === 'executing') {
            const kept = new Set(editedPlan.todos.map((t) => t.id));
            for (const t of previous.todos) {
              if (!kept.has(t.id) && this.todos.has(t.id)) {
                const rec = this.todos.get(t.id);
                if (rec?.status === 'awaiting_approval')
                  turn.pending = turn.pending.filter((r) => !(r.kind === 'approval' && r.todoId === t.id));
                this.skip(t.id, 'removed', `removed by ${actor}`);
              }
            }
            this.ensureTodoRecords();
          }
        }
        if (command.type === 'plan.approve') this.approvePlan(turn, actor);
        return;
      }
      case 'plan.reject': {
        const plan = this.plan;
        removeRequest(requestIds.planReview(turn.id));
        if (plan)
          this.journal.emit({
            type: 'plan.rejected',
            planId: plan.id,
            version: plan.version,
            actor,
            ...(command.reason !== undefined ? { reason: command.reason } : {}),
          });
        this.finishCancelled(actor, command.reason ?? 'plan rejected');
        return;
      }
      case 'approval.grant':
      case 'approval.deny': {
        const req = turn.pending.find((r) => r.id === command.requestId);
        const todoId = req?.todoId ?? '';
        removeRequest(command.requestId);
        const granted = command.type === 'approval.grant';
        const reason = command.type === 'approval.deny' ? command.reason : undefined;
        this.journal.emit({
          type: 'approval.resolved',
          requestId: command.requestId,
          todoId,
          granted,
          outcome: granted ? 'granted' : 'denied',
          actor,
          ...(reason !== undefined ? { reason } : {}),
        });
        if (granted) {
          const r = this.touch(todoId);
          r.status = 'approved';
          r.approvedBy = actor;
          if (req?.digest !== undefined) r.approvedDigest = req.digest;
        } else {
          this.skip(todoId, 'denied', reason ?? `denied by ${actor}`);
        }
        return;
      }
      case 'input.provide': {
        const req = turn.pending.find((r) => r.id === command.requestId);
        const todoId = req?.todoId ?? '';
        const key = String(req?.details?.['key'] ?? '');
        removeRequest(command.requestId);
        const r = this.touch(todoId);
        r.inputs = { ...(r.inputs ?? {}), [key]: clone(command.value) };
        if (r.approvedBy !== undefined) {
          const planned = this.plan?.todos.find((t) => t.id === todoId);
          if (this.d.hitl.keepApprovalAfterInput === true && planned) {
            // The policy allows it explicitly: the grant now covers the effect with the new value.
            if (r.approvedDigest !== undefined) r.approvedDigest = this.effectOf(planned, r).digest;
          } else {
            // The grant covered the effect without this value: the approver must see the new effect.
            delete r.approvedBy;
            delete r.approvedDigest;
            this.cleared.delete(todoId);
          }
        }
        r.status = r.approvedBy !== undefined ? 'approved' : 'pending';
        this.journal.emit({ type: 'input.received', requestId: command.requestId, todoId, actor });
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
        this.journal.emit({
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
        this.journal.emit({
          type: 'recovery.resolved',
          requestId: command.requestId,
          todoId,
          decision: command.decision,
          actor,
        });
        const r = this.touch(todoId);
        if (command.decision === 'retry') r.status = r.approvedBy !== undefined ? 'approved' : 'pending';
        else if (command.decision === 'skip')
          this.skip(todoId, 'recovery_skip', `skipped by ${actor} after a crash`);
        else {
          r.status = 'completed';
          this.ready?.index.completed(todoId);
          r.output = clone(command.output ?? null);
          r.finishedAt = this.d.clock.now();
          this.journal.emit({
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
        this.pauseActor = actor;
        this.pauseAnnounced = false;
        return;
      case 'resume':
        turn.paused = false;
        this.pauseAnnounced = false;
        this.rec.status = 'running';
        this.journal.emit({ type: 'run.resumed', actor, reason: 'command' });
        return;
      case 'cancel':
        this.cancel = { actor, ...(command.reason !== undefined ? { reason: command.reason } : {}) };
        this.turnAbort.abort(new DreamAgentError('ABORTED', command.reason ?? 'cancelled'));
        return;
    }
  }

  announceTurn(): void {
    const turn = this.rec.state.turn;
    if (turn) this.journal.emit({ type: 'turn.started', input: turn.input, index: turn.index });
  }

  /** Starts a new turn in this (idle) session. */
  startTurn(turnId: string, input: string): void {
    const turn = startTurnState(this.rec.state, turnId, input, this.d.clock.now());
    this.rec.status = 'running';
    this.plan = null;
    this.todos.clear();
    this.pauseAnnounced = false;
    this.journal.emit({ type: 'turn.started', input, index: turn.index });
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
  d: Pick<DriverDeps, 'domains' | 'tools' | 'requiresTool'> & Partial<Pick<DriverDeps, 'planLimits'>>,
): PlanValidationOptions {
  const domains = d.domains();
  return {
    ...(domains ? { domains } : {}),
    ...(d.planLimits ? { limits: d.planLimits } : {}),
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
