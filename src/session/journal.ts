import { DreamAgentError, isDreamAgentError } from '../errors/index.js';
import type { AgentEvent, EventDraft } from '../model/events.js';
import type { Json } from '../model/json.js';
import type { PlanVersionRecord } from '../model/plan.js';
import type { SessionRecord, SessionState, TodoRecord } from '../model/session.js';
import { eventsTopic, type EventBus } from '../ports/bus.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { Commit, InboxAck, LeaseToken, Store } from '../ports/store.js';

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
  'llm.call',
]);

/** What a journal writes to and tells. @internal */
export interface JournalDeps {
  store: Store;
  bus: EventBus;
  clock: Clock;
  logger: Logger;
  leaseTtlMs: number;
  /**
   * Delivery of each event, in seq order. Events a listener may react to with a command (requests,
   * rests, turn ends) are delivered only once their commit is durable, so the reaction is validated
   * against a store that already shows them; streaming events (progress, deltas, starts) go out live.
   */
  onEvent: (event: AgentEvent) => void;
}

/** How the journal reaches back into its owner. @internal */
export interface JournalHooks {
  /** Ownership is gone (fenced, or the store refused our version): stop everything. */
  onLost: (error: DreamAgentError) => void;
  /** The commit reported commands waiting in the inbox (sent to another node, or a dropped bus message). */
  onPendingCommands: (count: number) => void;
}

/**
 * The session's journal: numbers and buffers events, collects the changed todo rows, plan versions and
 * inbox acks of a cycle, and commits them as one atomic, fenced delta — serialised, one commit in flight
 * at a time, and fail closed (a store that blinks is retried with backoff; never continue unrecorded).
 *
 * It shares the session record and the todo map with its owner: the owner mutates them, the journal
 * snapshots what changed at commit time.
 *
 * @internal
 */
export class Journal {
  readonly #d: JournalDeps;
  readonly #rec: SessionRecord;
  readonly #lease: LeaseToken;
  readonly #todos: ReadonlyMap<string, TodoRecord>;
  readonly #hooks: JournalHooks;
  #seq: number;
  #buffer: AgentEvent[] = [];
  readonly #dirty = new Set<string>();
  #planVersions: PlanVersionRecord[] = [];
  #acks: InboxAck[] = [];
  #commitChain: Promise<unknown> = Promise.resolve();
  #lost: DreamAgentError | undefined;
  /** The JSON of the state and the status as last committed (unchanged ones are not re-sent). */
  #committedState: string | undefined;
  #committedStatus: string | undefined;
  /** The state's and its turn's field values as last committed (see {@link shallowFingerprint}). */
  #committedFingerprint: unknown[] | undefined;
  /** Events emitted but not yet delivered (held until their commit, in seq order). */
  #undelivered: AgentEvent[] = [];
  /** A renewing commit queued behind the one in flight and not started yet (shared by later callers). */
  #queuedCommit: Promise<void> | undefined;

  constructor(
    deps: JournalDeps,
    rec: SessionRecord,
    lease: LeaseToken,
    todos: ReadonlyMap<string, TodoRecord>,
    hooks: JournalHooks,
  ) {
    this.#d = deps;
    this.#rec = rec;
    this.#lease = lease;
    this.#todos = todos;
    this.#hooks = hooks;
    this.#seq = rec.lastSeq;
    this.#committedState = JSON.stringify(rec.state);
    this.#committedFingerprint = shallowFingerprint(rec.state);
    this.#committedStatus = rec.status;
  }

  /** The lease this journal's commits are fenced by. */
  get lease(): LeaseToken {
    return this.#lease;
  }

  /** Set once ownership is lost: every later commit throws it. */
  get lost(): DreamAgentError | undefined {
    return this.#lost;
  }

  /** Events emitted and not yet handed to a commit. */
  get buffered(): number {
    return this.#buffer.length;
  }

  /** Numbers an event, buffers it for the next commit, and delivers it (live, or after its commit). */
  emit(draft: EventDraft): void {
    if (this.#lost) return;
    this.#seq += 1;
    // Object.assign and plain stores, not a spread literal: a spread of differently shaped drafts
    // followed by more keys takes V8's slow path (µs per event, the largest cost per todo).
    const event = Object.assign({}, draft) as Record<string, unknown>;
    event['sessionId'] = this.#rec.id;
    event['turnId'] = this.#rec.state.turn?.id ?? null;
    event['seq'] = this.#seq;
    event['at'] = this.#d.clock.now();
    const e = event as unknown as AgentEvent;
    this.#buffer.push(e);
    if (this.#undelivered.length === 0 && LIVE_EVENTS.has(e.type)) this.#d.onEvent(e);
    else this.#undelivered.push(e);
  }

  /** Marks a todo row as changed: the next commit writes it. */
  touch(todoId: string): void {
    this.#dirty.add(todoId);
  }

  /** Adds a plan version to the next commit. */
  planVersion(record: PlanVersionRecord): void {
    this.#planVersions.push(record);
  }

  /** Adds an inbox acknowledgement to the next commit. */
  ack(ack: InboxAck): void {
    this.#acks.push(ack);
  }

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

  async #doCommit(leaseAction: 'renew' | 'release'): Promise<void> {
    if (this.#lost) throw this.#lost;
    const events = this.#buffer;
    this.#buffer = [];
    // Shallow copies: the engine replaces a record's nested values (output, error, inputs) instead of
    // mutating them, and outputs are frozen — so a copy of the shell is a stable snapshot.
    const todos: TodoRecord[] = [];
    for (const id of this.#dirty) {
      const t = this.#todos.get(id);
      if (t) todos.push(Object.assign({}, t));
    }
    this.#dirty.clear();
    const planVersions = this.#planVersions;
    this.#planVersions = [];
    const acks = this.#acks;
    this.#acks = [];
    // The small state is sent only when it changed (most execution cycles change only todo rows). The
    // engine replaces nested state values instead of mutating them, so a state whose fields (and its
    // turn's) are all the same values as at the last commit is unchanged without serialising it; a
    // release serialises anyway, so a session always rests with exactly what it holds.
    // Compared in place: an unchanged state (most cycles) allocates no new fingerprint.
    const same =
      leaseAction === 'renew' &&
      this.#committedFingerprint !== undefined &&
      sameFingerprint(this.#rec.state, this.#committedFingerprint);
    const fingerprint = same
      ? (this.#committedFingerprint as unknown[])
      : shallowFingerprint(this.#rec.state);
    const stateText = same ? (this.#committedState as string) : JSON.stringify(this.#rec.state);
    const stateChanged = stateText !== this.#committedState;
    const statusChanged = this.#rec.status !== this.#committedStatus;
    const commit: Commit = {
      sessionId: this.#rec.id,
      expectedVersion: this.#rec.version,
      lease: this.#lease,
      events,
      todos,
      planVersions,
      inboxAcks: acks,
      leaseAction,
      leaseTtlMs: this.#d.leaseTtlMs,
    };
    if (statusChanged) commit.status = this.#rec.status;
    if (stateChanged) commit.state = JSON.parse(stateText) as SessionState;
    let retried = false;
    for (let attempt = 0; ; attempt += 1) {
      try {
        const res = await this.#d.store.commit(commit);
        if (stateChanged) this.#committedState = stateText;
        this.#committedFingerprint = fingerprint;
        if (statusChanged) this.#committedStatus = commit.status ?? this.#rec.status;
        this.#rec.version = res.version;
        this.#rec.lastSeq = res.lastSeq;
        // The store tells us, in the same round trip, whether commands wait in the inbox: a command sent
        // to another node (or over a bus that dropped it) is applied at this cycle boundary.
        if (res.pendingCommands > 0) this.#hooks.onPendingCommands(res.pendingCommands);
        break;
      } catch (e) {
        if (
          isDreamAgentError(e, 'CONFLICT') &&
          retried &&
          (await this.#committedAnyway(commit.expectedVersion, events))
        )
          break;
        if (isDreamAgentError(e, 'CONFLICT') || isDreamAgentError(e, 'INVALID_INPUT')) {
          this.lose(e);
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

  /** Records that ownership is lost (once) and tells the owner. */
  lose(cause: unknown): void {
    if (this.#lost) return;
    this.#lost = new DreamAgentError(
      'CONFLICT',
      `lost ownership of session "${this.#rec.id}"; another node continues it`,
      {
        cause,
        details: { sessionId: this.#rec.id, epoch: this.#lease.epoch },
      },
    );
    this.#hooks.onLost(this.#lost);
  }
}

/**
 * The values of the state's fields and of its turn's fields, in key order (keys included): equal
 * fingerprints mean no field was assigned, added or removed since.
 */
function shallowFingerprint(state: SessionState): unknown[] {
  const out: unknown[] = [];
  for (const key in state) out.push(key, (state as unknown as Record<string, unknown>)[key]);
  const turn = state.turn as unknown as Record<string, unknown> | null;
  if (turn) for (const key in turn) out.push(key, turn[key]);
  return out;
}

/** Whether {@link shallowFingerprint} of `state` would equal `fp`, computed without building it. */
function sameFingerprint(state: SessionState, fp: unknown[]): boolean {
  let i = 0;
  for (const key in state) {
    if (fp[i] !== key || fp[i + 1] !== (state as unknown as Record<string, unknown>)[key]) return false;
    i += 2;
  }
  const turn = state.turn as unknown as Record<string, unknown> | null;
  if (turn)
    for (const key in turn) {
      if (fp[i] !== key || fp[i + 1] !== turn[key]) return false;
      i += 2;
    }
  return i === fp.length;
}
