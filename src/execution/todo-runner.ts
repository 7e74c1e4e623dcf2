import { blockedByFailure, allTerminal, resourceClass } from '../dag/scheduler.js';
import type { ReadyIndex } from '../dag/incremental.js';
import { resolveInput } from '../dag/refs.js';
import { DreamAgentError, serializeError } from '../errors/index.js';
import type { ExecutionContext, InputRequestSpec } from '../layers.js';
import type { EventDraft } from '../model/events.js';
import { cloneJson, freezeJson, type Json } from '../model/json.js';
import type { Plan, Todo } from '../model/plan.js';
import type { HitlRequest, InboxEntry, TodoRecord, TurnState } from '../model/session.js';
import { checkJsonValue } from '../tools/define.js';
import { TOOL_VERSION_METADATA_KEY } from '../tools/executor.js';
import { requestIds } from '../agent/ids.js';
import type { SessionModel } from '../session/transitions.js';
import { withTimeout } from './timeout.js';

const clone = cloneJson;

/**
 * How often the inbox is probed while a todo runs: a third of the lease (the heartbeat's rhythm), at
 * most a second, so a cancel from a node without a shared bus stops a long todo within about a second.
 */
export function inboxProbeMs(leaseTtlMs: number): number {
  return Math.max(5, Math.min(1000, Math.floor(leaseTtlMs / 3)));
}

/** What the approval gate decided for one todo. */
type Decision =
  | { kind: 'run' }
  | { kind: 'ask'; roles?: string[]; risk?: 'low' | 'medium' | 'high'; reason?: string }
  | { kind: 'deny'; reason: string }
  | { kind: 'auto' };

/** Whether a todo may start now (`run`), and whether the gate changed anything to commit. */
type Gate = 'run' | 'gated-run' | 'gated' | 'held';

const RUN: Decision = Object.freeze({ kind: 'run' });

/** The inbox probe's stop reason (nobody reads it: the probe's sleep rejects with it and the loop ends). */
const PROBE_STOPPED = new Error('inbox probe stopped');

/** Resource limits during one scheduling cycle (see `TodoRunner.#limits`). */
interface CycleLimits {
  /** Whether the todo's resource class has room. */
  fits(todo: Todo): boolean;
  /** Counts a todo taken to start. */
  take(todo: Todo): void;
  /** Every resource class of the plan is at its limit. */
  full(): boolean;
}

/** Thrown through an executor when a todo asks for human input; never escapes the runner. */
class SuspendForInput extends Error {
  constructor(readonly spec: InputRequestSpec & { key: string }) {
    super('todo suspended for human input');
  }
}

/** What the todo runner needs from the driver that owns it. @internal */
export interface TodoRunnerHost {
  /** Commits the journal (serialised; completions that land together share one commit). */
  commit(): Promise<void>;
  /** Applies inbox commands that arrived; `undefined` (nothing to await) when none are known to wait. */
  drainInbox(): Promise<void> | undefined;
  /** The context every layer call gets. */
  layerContext(
    turn: TurnState,
  ): Omit<
    ExecutionContext,
    | 'todoId'
    | 'idempotencyKey'
    | 'attempt'
    | 'plan'
    | 'progress'
    | 'delta'
    | 'requestInput'
    | 'tools'
    | 'cache'
  >;
  /** Commands wait in the inbox (seen by the in-flight probe): wake, and abort the todos for a cancel. */
  commandsWaiting(commandType: string | undefined): void;
  /** The agent is closing: start nothing new. */
  stopping(): boolean;
}

/**
 * Runs the todos of the executing phase: picks ready todos from the incremental ready index, asks the
 * approval gate (policy, tool and todo flags), raises approval requests with the effect they cover,
 * starts up to the concurrency and resource limits, and settles each todo into the session model
 * (completed, failed, awaiting input) — then hands back to the driver to rest or respond.
 *
 * @internal
 */
export class TodoRunner {
  readonly #m: SessionModel;
  readonly #h: TodoRunnerHost;
  #wakers: (() => void)[] = [];

  constructor(model: SessionModel, host: TodoRunnerHost) {
    this.#m = model;
    this.#h = host;
  }

  /** Wakes a wait on running todos (new commands may be waiting). */
  wake(): void {
    const w = this.#wakers;
    this.#wakers = [];
    for (const fn of w) fn();
  }

  /**
   * The approval decision for one todo: from the tool's and the todo's flags alone (synchronous: the
   * hot path of a plan with no policy awaits nothing), or from the Agent's approval policy when one is set.
   */
  #approvalDecision(todo: Todo, turn: TurnState): Decision | Promise<Decision> {
    const tool = todo.tool ? this.#m.d.tools.get(todo.tool) : undefined;
    const todoApproval =
      todo.approval === undefined
        ? undefined
        : typeof todo.approval === 'boolean'
          ? { required: todo.approval }
          : todo.approval;
    // The todo can add a gate but never remove the tool's.
    const flagged = (tool?.approval.required ?? false) || (todoApproval?.required ?? false);
    const policy = this.#m.d.approvals;
    if (!flagged && !(policy && this.#m.plan)) return RUN;
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
    if (policy && this.#m.plan) {
      return Promise.resolve(
        policy(clone(todo), {
          sessionId: this.#m.rec.id,
          turnId: turn.id,
          plan: clone(this.#m.plan),
          ...(tool ? { tool } : {}),
          flagged,
          metadata: clone(this.#m.rec.state.metadata),
        }),
      ).then((decision): Decision => {
        if (decision === 'require') return ask;
        if (decision === 'approve') return { kind: 'auto' };
        if (typeof decision === 'object') return { kind: 'deny', reason: decision.deny };
        return flagged ? ask : RUN;
      });
    }
    return ask;
  }

  async execute(turn: TurnState): Promise<'rest' | 'continue'> {
    const plan = this.#m.plan;
    if (!plan) throw new DreamAgentError('INTERNAL', 'executing without a plan');
    this.#m.ensureTodoRecords();
    for (;;) {
      if (this.#m.journal.lost) throw this.#m.journal.lost;
      const draining = this.#h.drainInbox();
      if (draining) await draining;
      const current = this.#m.plan ?? plan;
      if (this.#m.cancel || turn.paused || this.#h.stopping() || this.#m.failTurn) {
        if (this.#m.running.size > 0) {
          await this.#raceRunning();
          continue;
        }
        if (this.#m.failTurn && !this.#m.cancel) {
          this.#m.failTurnNow(this.#m.failTurn);
          await this.#h.commit();
        }
        return 'continue';
      }
      // Todos that can never run because a dependency failed, was denied or skipped.
      if (this.#m.unhappy) {
        for (const t of blockedByFailure(current.todos, this.#m.states())) {
          if (!this.#m.running.has(t.id))
            this.#m.skip(t.id, 'dependency_failed', `a dependency of "${t.id}" did not complete`);
        }
      }
      const runnable: Todo[] = [];
      let gated = false;
      if (turn.pending.length > 0 && this.#m.supersedeChangedApprovals(turn, current)) gated = true;
      const index = this.#m.readyIndex(current);
      // Every todo that became ready since the last cycle goes through the gate now, so its approval is
      // requested as soon as it is ready — not only once a slot frees up for it.
      for (const todo of index.takeFresh()) {
        if (this.#m.running.has(todo.id)) continue;
        const s = this.#m.statusOf(todo.id);
        if (s !== 'pending' && s !== 'approved') continue;
        let g = this.#gate(todo, turn);
        if (typeof g !== 'string') g = await g;
        if (g === 'gated' || g === 'gated-run') gated = true;
      }
      // Then only as many runnable todos as there are free slots: the index yields lazily, so a cycle of
      // a 4,000-wide plan costs what it starts, not the plan's width (it scanned and sorted the whole
      // ready set every cycle: 580 µs per todo at 4,000 wide against 98 µs at 100). Resource limits are
      // counted as the todos are taken, and the loop stops once every resource class of the plan is
      // full (it used to take every ready todo through the gate and let the limits choose, every cycle).
      const free = this.#m.d.concurrency - this.#m.running.size;
      const limits = free > 0 && this.#limited ? this.#limits(index) : undefined;
      if (free > 0 && !limits?.full()) {
        for (const todo of index.iterate(this.#m.statusOf)) {
          if (this.#m.running.has(todo.id)) continue;
          if (limits && !limits.fits(todo)) {
            if (limits.full()) break;
            continue;
          }
          let g = this.#gate(todo, turn);
          if (typeof g !== 'string') g = await g;
          if (g === 'gated' || g === 'gated-run') gated = true;
          if (g === 'run' || g === 'gated-run') {
            runnable.push(todo);
            limits?.take(todo);
            if (runnable.length >= free || limits?.full()) break;
          }
        }
      }
      const start = runnable;
      for (const todo of start) {
        const p = this.#runTodo(todo, turn).then(
          () => this.#settled(todo.id),
          (e: unknown) => {
            this.#settled(todo.id);
            throw e;
          },
        );
        this.#m.running.set(todo.id, p);
        p.catch(() => undefined);
      }
      if (this.#m.running.size === 0) {
        if (allTerminal(current.todos, this.#m.states())) {
          turn.phase = 'responding';
          return 'continue';
        }
        if (gated) await this.#h.commit();
        if (turn.pending.length === 0) {
          const states = Object.fromEntries([...this.#m.todos].map(([id, r]) => [id, r.status]));
          throw new DreamAgentError('INTERNAL', 'no todo can run and nothing is awaited', {
            details: { states },
          });
        }
        return 'rest';
      }
      if (gated && start.length === 0) await this.#h.commit();
      await this.#raceRunning();
    }
  }

  /**
   * Puts one ready todo through the approval gate: verifies a grant still covers its effect, asks the
   * policy once per todo and drive, raises the approval request or applies a denial.
   *
   * @returns whether it may start now (`run`), and whether the gate changed anything to commit
   */
  #gate(todo: Todo, turn: TurnState): Gate | Promise<Gate> {
    let gated = false;
    const rec = this.#m.todos.get(todo.id);
    if (!rec) return 'held';
    if (rec.status === 'approved') {
      // A todo runs as approved only under a grant of the effect that would run now. A grant covers
      // one effect: if it changed since (a new tool version, say), ask again. A row that says
      // `approved` with no digest at all was not approved by this engine (a database edit, a bug):
      // it goes back through the gate, which asks again if the todo needs approval.
      if (rec.approvedDigest === undefined) {
        this.#m.revokeUnverifiedApproval(todo.id);
      } else if (this.#m.effectOf(todo, rec).digest !== rec.approvedDigest) {
        this.#m.supersede(
          turn,
          todo.id,
          requestIds.approval(turn.id, todo.id, rec.approvedDigest),
          'the effect changed after the grant',
        );
        gated = true;
      }
    }
    if (rec.status === 'pending' && !this.#m.cleared.has(todo.id)) {
      const decision = this.#approvalDecision(todo, turn);
      // Synchronous unless an approval policy is consulted: a cleared todo costs no await.
      if (decision instanceof Promise)
        return decision.then((d) => this.#applyDecision(todo, turn, rec, d, gated));
      return this.#applyDecision(todo, turn, rec, decision, gated);
    }
    return gated ? 'gated-run' : 'run';
  }

  #applyDecision(todo: Todo, turn: TurnState, rec: TodoRecord, decision: Decision, gated: boolean): Gate {
    if (decision.kind === 'ask') {
      const r = this.#m.touch(todo.id);
      r.status = 'awaiting_approval';
      const tool = todo.tool ? this.#m.d.tools.get(todo.tool) : undefined;
      const { effect, digest } = this.#m.effectOf(todo, r);
      const request: HitlRequest = {
        id: requestIds.approval(turn.id, todo.id, digest),
        kind: 'approval',
        turnId: turn.id,
        todoId: todo.id,
        prompt: decision.reason ?? `Approve "${todo.title}"${todo.tool ? ` (${todo.tool})` : ''}?`,
        createdAt: this.#m.d.clock.now(),
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
        ...(this.#m.d.hitl.approvalTtlMs
          ? { expiresAt: this.#m.d.clock.now() + this.#m.d.hitl.approvalTtlMs }
          : {}),
      };
      // (A request for the same effect may still be open, e.g. after a forged row was revoked.)
      turn.pending = [...turn.pending.filter((p) => p.id !== request.id), request];
      this.#m.journal.emit({ type: 'approval.requested', request });
      return 'gated';
    }
    if (decision.kind === 'deny') {
      this.#m.journal.emit({
        type: 'approval.resolved',
        requestId: requestIds.approval(turn.id, todo.id, this.#m.effectOf(todo, rec).digest),
        todoId: todo.id,
        granted: false,
        outcome: 'denied',
        actor: 'policy',
        reason: decision.reason,
      });
      this.#m.skip(todo.id, 'policy', decision.reason);
      return 'gated';
    }
    if (decision.kind === 'auto') {
      const r = this.#m.touch(todo.id);
      r.status = 'approved';
      r.approvedBy = 'policy';
      r.approvedDigest = this.#m.effectOf(todo, r).digest;
    }
    // Asked once per todo: a todo held back only by the concurrency limit is not re-evaluated.
    this.#m.cleared.add(todo.id);
    return gated ? 'gated-run' : 'run';
  }

  /** A todo left the running set: wake the loop if it waits. */
  #settled(id: string): void {
    this.#m.running.delete(id);
    this.#settledSinceWait = true;
    this.wake();
  }

  /** Set when a todo settles; a wait that starts after that returns at once. */
  #settledSinceWait = false;

  /** Resource limits are configured. */
  get #limited(): boolean {
    return Object.keys(this.#m.d.resources).length > 0;
  }

  /**
   * The resource limits' state for one cycle: each class's running count (from the running todos),
   * whether a todo's class has room, and whether every class of the plan is full (then no ready todo
   * can start and the loop stops without walking the rest of the ready set).
   */
  #limits(index: ReadyIndex): CycleLimits {
    const resources = this.#m.d.resources;
    let classes = this.#planClasses;
    if (classes?.index !== index) {
      const all = new Set<string>();
      for (const t of index.todos) all.add(resourceClass(t));
      classes = { index, all: [...all] };
      this.#planClasses = classes;
    }
    const inUse = new Map<string, number>();
    for (const id of this.#m.running.keys()) {
      const t = index.get(id);
      if (t) {
        const cls = resourceClass(t);
        inUse.set(cls, (inUse.get(cls) ?? 0) + 1);
      }
    }
    const limitOf = (cls: string): number =>
      Object.hasOwn(resources, cls) ? (resources[cls] as number) : Infinity;
    const planClasses = classes.all;
    // Classes of the plan without room; the plan is full when it reaches their number.
    let fullClasses = 0;
    for (const cls of planClasses) if ((inUse.get(cls) ?? 0) >= limitOf(cls)) fullClasses += 1;
    return {
      fits: (t) => {
        const cls = resourceClass(t);
        return (inUse.get(cls) ?? 0) < limitOf(cls);
      },
      take: (t) => {
        const cls = resourceClass(t);
        const used = (inUse.get(cls) ?? 0) + 1;
        inUse.set(cls, used);
        if (used === limitOf(cls)) fullClasses += 1;
      },
      full: () => fullClasses >= planClasses.length,
    };
  }

  #planClasses: { index: ReadyIndex; all: string[] } | undefined;

  async #raceRunning(): Promise<void> {
    // Nothing in flight (it settled while a commit was queued): waiting on an empty race would hang
    // forever under our own heartbeat.
    if (this.#m.running.size === 0) return;
    this.#startInboxProbe();
    // One promise per wait, resolved by the first todo to settle or by a wake (new commands): no race
    // over every running promise.
    if (!this.#settledSinceWait) await new Promise<void>((resolve) => this.#wakers.push(resolve));
    this.#settledSinceWait = false;
    if (this.#m.journal.lost) throw this.#m.journal.lost;
  }

  /**
   * While todos are in flight, looks into the inbox every {@link inboxProbeMs} on the clock. Commits
   * report waiting commands at every cycle boundary, and a shared bus wakes the owner at once — but a
   * command sent from a node without a shared bus (or over a bus that dropped it) would otherwise wait
   * for the todo in flight to finish: a `cancel` must abort it now. One loop per drive, started at the
   * first wait on a running todo (a turn of quick todos never starts it), and one cheap read per tick
   * only while something runs.
   */
  #startInboxProbe(): void {
    if (this.#probe) return;
    const ctrl = new AbortController();
    this.#probe = ctrl;
    const every = inboxProbeMs(this.#m.d.leaseTtlMs);
    const loop = async (): Promise<void> => {
      while (!ctrl.signal.aborted) {
        await this.#m.d.clock.sleep(every, ctrl.signal);
        if (this.#m.running.size === 0 || this.#m.journal.lost) continue;
        let entries: InboxEntry[];
        try {
          entries = await this.#m.d.store.pendingCommands(this.#m.rec.id);
        } catch {
          continue; // the store blinked: the next tick (or the next commit) looks again
        }
        if (ctrl.signal.aborted) return;
        for (const e of entries) {
          const type =
            typeof e.command === 'object' && e.command !== null && !Array.isArray(e.command)
              ? e.command['type']
              : undefined;
          this.#h.commandsWaiting(typeof type === 'string' ? type : undefined);
        }
      }
    };
    loop().catch(() => undefined);
  }

  /** Stops the inbox probe (the drive left the executing phase). */
  stopInboxProbe(): void {
    // A shared reason: `abort()` without one builds a DOMException with a stack trace each time.
    this.#probe?.abort(PROBE_STOPPED);
    this.#probe = undefined;
  }

  #probe: AbortController | undefined;

  async settleRunning(): Promise<void> {
    while (this.#m.running.size > 0) await Promise.allSettled([...this.#m.running.values()]);
  }

  #frozenPlan(): { plan: Plan; byId: ReadonlyMap<string, Todo> } {
    const plan = this.#m.plan ?? { id: '', version: 1, todos: [] };
    if (this.#frozen?.source !== plan) {
      const frozen = deepFreeze(clone(plan));
      this.#frozen = { source: plan, plan: frozen, byId: new Map(frozen.todos.map((t) => [t.id, t])) };
    }
    return this.#frozen;
  }

  #frozen: { source: Plan; plan: Plan; byId: ReadonlyMap<string, Todo> } | undefined;

  async #runTodo(todo: Todo, turn: TurnState): Promise<void> {
    const rec = this.#m.touch(todo.id);
    const tool = todo.tool ? this.#m.d.tools.get(todo.tool) : undefined;
    rec.status = 'running';
    rec.attempts += 1;
    rec.startedAt = this.#m.d.clock.now();
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
    const startedEvent: EventDraft = {
      type: 'todo.started',
      todoId: todo.id,
      attempt: rec.attempts,
      idempotencyKey: rec.idempotencyKey,
    };
    if (todo.tool) startedEvent.tool = todo.tool;
    this.#m.journal.emit(startedEvent);
    // Never twice: the start of a non-idempotent todo is durable before its code runs, so a crash
    // between start and outcome is detected and handed to a human instead of silently re-run.
    if (!this.#m.isIdempotent(todo)) await this.#h.commit();
    let suspended: (InputRequestSpec & { key: string }) | undefined;
    let inputCalls = 0;
    const executor = this.#m.d.executorFor(todo.domain);
    try {
      if (!executor)
        throw new DreamAgentError('INVALID_PLAN', `no executor for domain "${todo.domain}"`, {
          details: { domain: todo.domain },
        });
      const input = resolveInput(todo.input, this.#m.outputs(todo));
      const timeout = todo.timeoutMs ?? tool?.timeoutMs ?? this.#m.d.todoTimeoutMs;
      const result = await withTimeout(
        (signal) => {
          // Object.assign and stores, not a spread literal (V8's slow path: µs per todo).
          const ctx = Object.assign({}, this.#h.layerContext(turn)) as ExecutionContext;
          ctx.signal = signal;
          ctx.todoId = todo.id;
          ctx.idempotencyKey = rec.idempotencyKey;
          ctx.attempt = rec.attempts;
          ctx.plan = frozen.plan;
          ctx.progress = (message, pct) => {
            if (!signal.aborted)
              this.#m.journal.emit({
                type: 'todo.progress',
                todoId: todo.id,
                message: String(message),
                ...(pct !== undefined ? { pct } : {}),
              });
          };
          ctx.delta = (text) => {
            if (!signal.aborted)
              this.#m.journal.emit({ type: 'todo.output.delta', todoId: todo.id, delta: String(text) });
          };
          ctx.requestInput = async (spec) => {
            await Promise.resolve();
            inputCalls += 1;
            const key = spec.key ?? `input-${inputCalls}`;
            const provided = rec.inputs?.[key];
            if (provided !== undefined) return clone(provided);
            suspended = { ...spec, key };
            throw new SuspendForInput(suspended);
          };
          ctx.tools = this.#m.d.tools;
          ctx.cache = this.#m.d.cache;
          return executor.execute(pinned, input, ctx);
        },
        timeout,
        this.#m.turnAbort.signal,
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
      // The check a tool output gets: never let JSON.stringify silently turn a Map into {}.
      const json = checkJsonValue(output);
      if (!json.ok) {
        const issue = json.issues[0];
        throw new DreamAgentError(
          'TOOL_FAILED',
          `the executor of domain "${todo.domain}" returned an output for "${todo.id}" that is not plain JSON: ${issue?.path || '(root)'}: ${issue?.message ?? 'invalid'}`,
          { details: { todoId: todo.id, domain: todo.domain, issues: json.issues } },
        );
      }
      // One serialisation: the size check and the owned copy (frozen, shared by record, event, store).
      const text = JSON.stringify(output) ?? 'null';
      // UTF-8 takes at most 3 bytes per UTF-16 unit: count bytes only when it could matter.
      const size =
        text.length * 3 <= this.#m.d.maxOutputBytes ? text.length : Buffer.byteLength(text, 'utf8');
      if (size > this.#m.d.maxOutputBytes) {
        throw new DreamAgentError(
          'PAYLOAD_TOO_LARGE',
          `output of "${todo.id}" is ${size} bytes; the limit is ${this.#m.d.maxOutputBytes}`,
          { details: { size } },
        );
      }
      if (this.#m.journal.lost) return;
      // One copy of the output, frozen: the record, the event and every listener share it safely. A
      // string, boolean or null is its own copy.
      const owned =
        typeof output === 'string' || typeof output === 'boolean' || output === null
          ? output
          : freezeJson(JSON.parse(text) as Json);
      rec.status = 'completed';
      this.#m.ready?.index.completed(todo.id);
      rec.output = owned;
      rec.cached = result.cached === true;
      rec.finishedAt = this.#m.d.clock.now();
      this.#m.journal.touch(todo.id);
      this.#m.journal.emit({
        type: 'todo.completed',
        todoId: todo.id,
        output: owned,
        cached: result.cached === true,
        durationMs: rec.finishedAt - started,
      });
    } catch (e) {
      if (this.#m.journal.lost) return;
      if (suspended) {
        rec.status = 'awaiting_input';
        this.#m.journal.touch(todo.id);
        const request: HitlRequest = {
          id: requestIds.input(turn.id, todo.id, suspended.key),
          kind: 'input',
          turnId: turn.id,
          todoId: todo.id,
          prompt: suspended.prompt,
          createdAt: this.#m.d.clock.now(),
          details: { key: suspended.key, title: todo.title },
          ...(suspended.schema ? { schema: suspended.schema } : {}),
        };
        turn.pending = [...turn.pending.filter((r) => r.id !== request.id), request];
        this.#m.journal.emit({ type: 'input.requested', request });
      } else if (this.#m.cancel || this.#m.turnAbort.signal.aborted) {
        // Cancelled (or the agent is closing): the cancel path records the outcome.
        rec.status = this.#h.stopping() && !this.#m.cancel ? rec.status : 'running';
        if (this.#h.stopping() && !this.#m.cancel) return;
      } else {
        const error = serializeError(e, 'TOOL_FAILED');
        rec.status = 'failed';
        this.#m.unhappy = true;
        rec.error = error;
        rec.finishedAt = this.#m.d.clock.now();
        this.#m.journal.touch(todo.id);
        this.#m.journal.emit({ type: 'todo.failed', todoId: todo.id, error, attempt: rec.attempts });
        if (this.#m.d.failurePolicy === 'fail-turn') this.#m.failTurn = error;
      }
    }
    if (this.#m.cancel && rec.status === 'running') return; // recorded by the cancel path
    await this.#h.commit();
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
