import { DreamAgentError, deserializeError, isDreamAgentError } from '../errors/index.js';
import { actorId, type CommandInput } from '../model/commands.js';
import type { AgentEvent } from '../model/events.js';
import { jsonByteLength, type Json, type JsonObject } from '../model/json.js';
import type { Plan, PlanVersionRecord } from '../model/plan.js';
import { diffPlanVersions, type PlanChange } from '../model/plan-history.js';
import type {
  RunResult,
  SessionRecord,
  SessionSnapshot,
  SessionState,
  SessionStatus,
} from '../model/session.js';
import { eventsTopic, inboxTopic, type EventBus } from '../ports/bus.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { LeaseToken, Store } from '../ports/store.js';
import { parseCommand, validateCommand } from './commands.js';
import {
  planValidationOptions,
  resultOf,
  startTurnState,
  type DriverDeps,
  type SessionDriver,
} from './driver.js';
import { newId } from './ids.js';
import type { AgentOptions } from './options.js';
import { Run } from './run.js';
import { followEvents } from '../events/follow.js';
import { hostSession, type ActiveSession, type HostContext } from './host.js';
import { wireAgent } from './wiring.js';
import type { TokenBudget } from '../llm/token-budget.js';
import type { InMemoryMetrics, MetricsSnapshot } from '../observability/metrics.js';
import type { AgentObserver } from '../observability/observer.js';

type Active = ActiveSession;

/** Options of {@link Agent.run}. */
export interface RunOptions {
  /** Continue this session (a new turn) or create it with this id; a new id when omitted. */
  sessionId?: string;
  /** Host metadata stored with a new session (tenant, user…), passed to every layer. */
  metadata?: JsonObject;
  /** Tenant of a new session (stored and indexed; see `scopedAgent`). */
  tenantId?: string;
  /** Owner of a new session (stored and indexed; see `scopedAgent`). */
  ownerId?: string;
}

/** Options of {@link Agent.events}. */
export interface EventsOptions {
  /** Only events with a seq greater than this (default 0: from the start). */
  after?: number;
  /** Keep following live events after the replay (default false). */
  follow?: boolean;
  /** Stops following. */
  signal?: AbortSignal;
}

/** A row of {@link Agent.listSessions}. */
export interface SessionSummary {
  /** The session id. */
  id: string;
  /** Where the session is: `running`, `waiting` for a human, `idle` between turns, or `paused` */
  status: SessionStatus;
  /** The current (or last) turn's id; null before the first turn. */
  turnId: string | null;
  /** The user's text of that turn; null before the first turn. */
  input: string | null;
  /** How many human requests (plan review, approvals, clarifications, inputs) the turn waits for. */
  pending: number;
  /** When the session row last changed, epoch ms (the store's clock). */
  updatedAt: number;
  /** Tenant, when the session has one. */
  tenantId?: string;
  /** Owner, when the session has one. */
  ownerId?: string;
}

const emptyState = (metadata: JsonObject): SessionState => ({
  turn: null,
  turns: 0,
  dialogue: [],
  slots: {},
  metadata,
});

/**
 * The agent: hosts sessions whose turns flow through Cognitive → Planning → Execution → Response, with a
 * human in the loop. Every human action is a {@link Command}; every state change is an event with a
 * per-session `seq`; every cycle is one atomic commit to the {@link Store}. A session waiting for a
 * human holds nothing in memory, and any Agent sharing the Store — another process, another server —
 * can apply the next command or continue it after a crash.
 *
 * @example
 * ```ts
 * const agent = new Agent({ tools, planner, hitl: { planReview: 'always' } });
 * const run = agent.run('analyse last quarter by region');
 * for await (const e of run) console.log(e.seq, e.type);
 * const r = await run.result(); // { status: 'waiting', pending: [{ kind: 'plan_review', … }] }
 * await agent.send(r.sessionId, { type: 'plan.approve', actor: 'alice' }).result();
 * ```
 */
export class Agent {
  /** This agent's id in leases. */
  readonly nodeId: string;
  readonly #store: Store;
  readonly #bus: EventBus;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #deps: Omit<DriverDeps, 'onEvent'>;
  readonly #active = new Map<string, Active>();
  readonly #followers = new Map<string, Set<(event: AgentEvent) => void>>();
  readonly #maxInputBytes: number;
  readonly #maxCommandBytes: number;
  readonly #leaseTtlMs: number;
  #closing = false;

  /**
   * @param options - layers, ports and policies; everything has a default
   * @throws `INVALID_INPUT` for invalid options (e.g. concurrency below 1)
   */
  constructor(options: AgentOptions = {}) {
    const w = wireAgent(options);
    this.nodeId = w.nodeId;
    this.#clock = w.clock;
    this.#logger = w.logger;
    this.#store = w.store;
    this.#bus = w.bus;
    this.observer = w.observer;
    this.#metrics = w.metrics;
    this.#budget = w.budget;
    this.#leaseTtlMs = w.leaseTtlMs;
    this.#maxInputBytes = w.maxInputBytes;
    this.#maxCommandBytes = w.maxCommandBytes;
    this.#deps = w.deps;
    this.#host = {
      nodeId: this.nodeId,
      store: this.#store,
      bus: this.#bus,
      logger: this.#logger,
      leaseTtlMs: this.#leaseTtlMs,
      active: this.#active,
      driverDeps: (active, sessionId) => this.#driverDeps(active, sessionId),
      closing: () => this.#closing,
    };
  }

  readonly #host: HostContext;

  /** Number of sessions this agent is driving right now (waiting and paused sessions are never held). */
  get activeSessions(): number {
    return this.#active.size;
  }

  /** The store this agent writes to. */
  get store(): Store {
    return this.#store;
  }

  /**
   * The observer fed by every commit when `observability` is set. LLM token and cost metrics come from
   * the agent's `llm.call` events; `observer.usage(record)` is for calls made outside the agent.
   */
  readonly observer: AgentObserver | undefined;
  #metrics: InMemoryMetrics | undefined;
  readonly #budget: TokenBudget | undefined;

  /**
   * A snapshot of this node's metrics: time per layer, todo and turn outcomes, human wait times, cache
   * hits, store commit latency, active sessions, tokens and cost (see `docs/observability.md`).
   *
   * @returns the snapshot, or undefined when `observability.metrics` is off
   */
  metrics(): MetricsSnapshot | undefined {
    return this.#metrics?.snapshot();
  }

  // ------------------------------------------------------------------ public API

  /**
   * Starts a turn: a new session, or a new turn of an idle session.
   *
   * @param input - the user's request
   * @param options - session id and metadata
   * @returns a Run streaming the turn's events until the session rests
   * @throws (through the Run) `INVALID_INPUT`, `PAYLOAD_TOO_LARGE`, `SESSION_BUSY` when the session is mid-turn, `CLOSED`
   */
  run(input: string, options: RunOptions = {}): Run {
    const sessionId = options.sessionId ?? newId('ses');
    const run = new Run(sessionId);
    this.#start(run, async () => {
      this.#assertOpen();
      if (typeof input !== 'string' || input.trim().length === 0) {
        throw new DreamAgentError('INVALID_INPUT', 'input must be a non-empty string');
      }
      const size = Buffer.byteLength(input, 'utf8');
      if (size > this.#maxInputBytes) {
        throw new DreamAgentError(
          'PAYLOAD_TOO_LARGE',
          `input is ${size} bytes; the limit is ${this.#maxInputBytes}`,
          { details: { size } },
        );
      }
      if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(sessionId)) {
        throw new DreamAgentError(
          'INVALID_INPUT',
          `session ids use letters, digits, "_", ".", ":" and "-" (1–128), got "${sessionId.slice(0, 140)}"`,
        );
      }
      if (options.metadata !== undefined && jsonByteLength(options.metadata) > this.#maxInputBytes) {
        throw new DreamAgentError('PAYLOAD_TOO_LARGE', 'metadata is too large');
      }
      if (this.#active.has(sessionId)) throw this.#busy(sessionId);
      const turnId = newId('turn');
      let lease: LeaseToken | undefined;
      const existing = await this.#retrying('getSession', () => this.#store.getSession(sessionId));
      if (!existing) {
        // Creation and the turn's first commit are one atomic step: a process killed right after it
        // still leaves the user's input (and the started turn) in the store for recover() to continue.
        const now = this.#clock.now();
        const state = emptyState(options.metadata ?? {});
        const started = startTurnState(state, turnId, input, now);
        const first = {
          type: 'turn.started',
          sessionId,
          turnId,
          seq: 1,
          at: now,
          input,
          index: started.index,
        } as AgentEvent;
        const created = await this.#retrying('createSession', async (retried) => {
          try {
            return await this.#store.createSession(
              {
                id: sessionId,
                status: 'running',
                state,
                events: [first],
                ...(options.tenantId !== undefined ? { tenantId: options.tenantId } : {}),
                ...(options.ownerId !== undefined ? { ownerId: options.ownerId } : {}),
              },
              this.nodeId,
              this.#leaseTtlMs,
            );
          } catch (e) {
            if (!isDreamAgentError(e, 'SESSION_BUSY')) throw e;
            // Our own earlier attempt may have landed before the store blinked.
            const rec = retried ? await this.#store.getSession(sessionId) : undefined;
            if (rec && rec.leaseOwner === this.nodeId && rec.state.turn?.id === turnId)
              return { record: rec, lease: { owner: this.nodeId, epoch: rec.leaseEpoch } };
            return undefined;
          }
        });
        if (created) {
          lease = created.lease;
          let announce: ((driver: SessionDriver) => void) | undefined;
          if (created.record.lastSeq >= 1) run.push(first);
          // A store that predates `NewSession.events`: the driver commits the event with its first cycle.
          else announce = (driver) => driver.announceTurn();
          const active = this.#startActive(sessionId, lease, 'run', announce);
          return this.#attach(run, active, 0);
        }
      }
      if (!lease) {
        const rec = existing ?? (await this.#retrying('getSession', () => this.#store.getSession(sessionId)));
        if (rec?.state.turn && rec.state.turn.phase !== 'done') throw this.#busy(sessionId);
        lease = await this.#retrying('acquireLease', () =>
          this.#store.acquireLease(sessionId, this.nodeId, this.#leaseTtlMs),
        );
        if (!lease) throw this.#busy(sessionId);
      }
      const active = this.#startActive(sessionId, lease, 'run', (driver) => {
        const turn = driver.record.state.turn;
        if (turn && turn.phase !== 'done') throw this.#busy(sessionId);
        driver.startTurn(turnId, input);
      });
      return this.#attach(run, active, 0);
    });
    return run;
  }

  /**
   * Sends a human action to a session. The command is validated against the session's current state
   * (a bad one is refused with a typed error and changes nothing), stored in the session's inbox, and
   * applied by the session's owner at the next cycle boundary — by this agent when nobody owns it.
   *
   * @param sessionId - the session
   * @param command - a {@link CommandInput}: typed so a typo fails to compile; untrusted JSON from a
   *   transport is validated at run time all the same (strict: an unknown key is refused naming its path)
   * @returns a Run streaming what the command causes until the session rests again
   * @throws (through the Run) `INVALID_INPUT`, `PAYLOAD_TOO_LARGE`, `SESSION_NOT_FOUND`, `INVALID_STATE`, `REQUEST_NOT_FOUND`, `STALE_VERSION`, `INVALID_EDIT`, `FORBIDDEN`, `CLOSED`
   */
  send(sessionId: string, command: CommandInput): Run {
    const run = new Run(sessionId);
    this.#start(run, async () => {
      this.#assertOpen();
      const cmd = parseCommand(command, this.#maxCommandBytes);
      const rec = await this.#store.getSession(sessionId);
      if (!rec)
        throw new DreamAgentError('SESSION_NOT_FOUND', `no session "${sessionId}"`, {
          details: { sessionId },
        });
      const turn = rec.state.turn;
      const plan = turn?.planId
        ? ((await this.#store.getPlan(sessionId, turn.planId, turn.planVersion))?.plan ?? null)
        : null;
      const todos = turn ? await this.#store.getTodos(sessionId, turn.id) : [];
      validateCommand(cmd, {
        record: rec,
        plan,
        todos: new Map(todos.map((t) => [t.todoId, t])),
        validation: planValidationOptions(this.#deps),
        now: this.#clock.now(),
      });
      const commandId = cmd.commandId ?? newId('cmd');
      const entry = await this.#store.enqueueCommand({
        id: commandId,
        sessionId,
        command: cmd as unknown as Json,
        actor: actorId(cmd.actor),
        receivedAt: this.#clock.now(),
      });
      if (entry.status === 'rejected' && entry.error) throw deserializeError(entry.error);
      if (entry.status === 'applied') return resultOf((await this.#store.getSession(sessionId)) ?? rec);
      this.#bus.publish(inboxTopic(sessionId), { commandId, type: cmd.type }).catch(() => undefined);
      this.#active.get(sessionId)?.driver?.wake(cmd.type);
      return this.#process(run, sessionId, commandId, rec.lastSeq);
    });
    return run;
  }

  /**
   * Continues a session: after a pause (sends `resume`), after a restart or a crash (claims the session
   * and continues where the store says it is — completed todos never run again), or simply reports
   * where a resting session stands.
   *
   * @param sessionId - the session
   * @returns a Run until the session rests
   * @throws (through the Run) `SESSION_NOT_FOUND`, `CLOSED`
   */
  resume(sessionId: string): Run {
    const run = new Run(sessionId);
    this.#start(run, async () => {
      this.#assertOpen();
      const rec = await this.#store.getSession(sessionId);
      if (!rec)
        throw new DreamAgentError('SESSION_NOT_FOUND', `no session "${sessionId}"`, {
          details: { sessionId },
        });
      if (rec.state.turn?.paused && rec.state.turn.phase !== 'done') {
        const inner = this.send(sessionId, { type: 'resume', actor: 'system' });
        inner.onAny((e) => run.push(e));
        return inner.result();
      }
      return this.#continue(run, sessionId, rec);
    });
    return run;
  }

  /**
   * Claims sessions whose owner died (lease expired while running) or that have unapplied commands and
   * no owner, and continues them. Call it at start-up and periodically from workers.
   *
   * @param options - how many sessions to claim at most (default 100)
   * @returns the ids of the sessions claimed by this agent
   */
  async recover(options: { limit?: number } = {}): Promise<string[]> {
    this.#assertOpen();
    const now = this.#clock.now();
    const limit = options.limit ?? 100;
    const claimed: string[] = [];
    const start = (id: string, lease: LeaseToken, reason: 'recovery' | 'command'): void => {
      claimed.push(id);
      const active = this.#startActive(id, lease, reason);
      active.done.catch((e: unknown) =>
        this.#logger.warn({ sessionId: id, err: String(e) }, 'recovered session stopped'),
      );
    };
    if (this.#store.claimStale) {
      // One atomic claim: racing workers never pick the same session.
      for (const { sessionId, lease } of await this.#store.claimStale(limit, this.nodeId, this.#leaseTtlMs))
        start(sessionId, lease, 'recovery');
    } else {
      for (const rec of await this.#store.listSessions({
        status: ['running'],
        leaseExpiredBefore: now,
        limit,
      })) {
        if (this.#active.has(rec.id)) continue;
        const lease = await this.#store.acquireLease(rec.id, this.nodeId, this.#leaseTtlMs);
        if (lease) start(rec.id, lease, 'recovery');
      }
    }
    // Commands waiting in the inbox of a session nobody drives (their sender died before applying them).
    for (const rec of await this.#store.listSessions({
      hasPendingCommands: true,
      leaseExpiredBefore: now,
      limit,
    })) {
      if (this.#active.has(rec.id) || claimed.includes(rec.id)) continue;
      const lease = await this.#store.acquireLease(rec.id, this.nodeId, this.#leaseTtlMs);
      if (lease) start(rec.id, lease, rec.status === 'running' ? 'recovery' : 'command');
    }
    return claimed;
  }

  /**
   * The state of a session: status, plan and its version history, todo states, pending requests.
   *
   * Plan history comes in two forms. `history: 'full'` (the default) puts every version whole in
   * `planHistory` — its size is versions × plan size, so five 200 KB edits make a megabyte-sized
   * snapshot. `history: 'changes'` leaves `planHistory` empty and lists `planChanges` instead: each
   * version's actor, edits and the ids of the todos it added, removed or changed, so the snapshot grows
   * with the edits, not with versions × plan size; {@link Agent.getPlanVersion} returns any version whole.
   *
   * @param sessionId - the session
   * @param options - `history`: `'full'` (default) or `'changes'`
   * @returns a snapshot (a copy)
   * @throws `SESSION_NOT_FOUND`
   * @example
   * ```ts
   * const snap = await agent.getSession(id, { history: 'changes' });
   * for (const c of snap.planChanges ?? []) console.log(c.version, c.actor, c.diff?.changed);
   * const v2 = await agent.getPlanVersion(id, 2);
   * ```
   */
  async getSession(
    sessionId: string,
    options: { history?: 'full' | 'changes' } = {},
  ): Promise<SessionSnapshot> {
    const rec = await this.#store.getSession(sessionId);
    if (!rec)
      throw new DreamAgentError('SESSION_NOT_FOUND', `no session "${sessionId}"`, { details: { sessionId } });
    const turn = rec.state.turn;
    const changesOnly = options.history === 'changes';
    let plan: Plan | null = null;
    let history: SessionSnapshot['planHistory'] = [];
    let changes: PlanChange[] | undefined;
    let todos: SessionSnapshot['todos'] = [];
    if (turn) {
      if (turn.planId) {
        const versions = await this.#store.listPlanVersions(sessionId, turn.planId);
        plan =
          versions.find((h) => h.plan.version === turn.planVersion)?.plan ?? versions.at(-1)?.plan ?? null;
        if (changesOnly) changes = diffPlanVersions(versions);
        else history = versions;
      } else if (changesOnly) changes = [];
      const rows = await this.#store.getTodos(sessionId, turn.id);
      const order = new Map((plan?.todos ?? []).map((t, i) => [t.id, i]));
      todos = [...rows].sort((a, b) => (order.get(a.todoId) ?? 1e9) - (order.get(b.todoId) ?? 1e9));
    } else if (changesOnly) changes = [];
    return {
      id: rec.id,
      status: rec.status,
      version: rec.version,
      lastSeq: rec.lastSeq,
      turn,
      plan,
      planHistory: history,
      ...(changes !== undefined ? { planChanges: changes } : {}),
      todos,
      pending: turn?.pending ?? [],
      dialogue: rec.state.dialogue,
      lease: { owner: rec.leaseOwner, epoch: rec.leaseEpoch, expiresAt: rec.leaseExpiresAt },
      createdAt: rec.createdAt,
      updatedAt: rec.updatedAt,
    };
  }

  /**
   * One version of a session's plan, whole — what `getSession(id, { history: 'changes' })` leaves out.
   *
   * @param sessionId - the session
   * @param version - the plan version (the latest when omitted)
   * @param planId - the plan (default: the current turn's)
   * @returns the stored version with its plan, actor and edits, or undefined when there is no such version
   * @throws `SESSION_NOT_FOUND`
   * @example
   * ```ts
   * const [a, b] = await Promise.all([agent.getPlanVersion(id, 1), agent.getPlanVersion(id, 3)]);
   * ```
   */
  async getPlanVersion(
    sessionId: string,
    version?: number,
    planId?: string,
  ): Promise<PlanVersionRecord | undefined> {
    const rec = await this.#store.getSession(sessionId);
    if (!rec)
      throw new DreamAgentError('SESSION_NOT_FOUND', `no session "${sessionId}"`, { details: { sessionId } });
    const id = planId ?? rec.state.turn?.planId;
    if (!id) return undefined;
    return this.#store.getPlan(sessionId, id, version);
  }

  /**
   * Lists sessions from the Store — across every node sharing it — e.g. all sessions waiting for a human.
   *
   * @param query - status filter and paging
   * @returns summaries, ids ascending
   */
  async listSessions(
    query: {
      status?: SessionStatus[];
      after?: string;
      limit?: number;
      tenantId?: string;
      ownerId?: string;
    } = {},
  ): Promise<SessionSummary[]> {
    const rows = await this.#store.listSessions(query);
    return rows.map((r) => ({
      id: r.id,
      status: r.status,
      turnId: r.state.turn?.id ?? null,
      input: r.state.turn?.input ?? null,
      pending: r.state.turn?.pending.length ?? 0,
      updatedAt: r.updatedAt,
      ...(r.tenantId !== undefined ? { tenantId: r.tenantId } : {}),
      ...(r.ownerId !== undefined ? { ownerId: r.ownerId } : {}),
    }));
  }

  /**
   * Erases a session: its state, plan history, todos, events and inbox (the store's `deleteSession`),
   * and first what the agent's `memory` remembered of it (its `forgetSession`, after writes in flight)
   * and the execution-cache entries its todos wrote (the cache's `eraseSession`, when it has one; an
   * entry is removed even when other sessions could have hit it).
   * A session driven right now (a live lease) is refused; cancel it first.
   *
   * @param sessionId - the session
   * @returns whether it existed
   * @throws `SESSION_BUSY` while it is driven, `INVALID_STATE` when the store cannot delete,
   *   `UNAVAILABLE` when the cache could not erase (nothing deleted from the store; retry)
   */
  async deleteSession(sessionId: string): Promise<boolean> {
    this.#assertOpen();
    const del = this.#store.deleteSession?.bind(this.#store);
    if (!del)
      throw new DreamAgentError('INVALID_STATE', 'this store cannot delete sessions (no deleteSession)');
    const rec = await this.#store.getSession(sessionId);
    if (!rec) return false;
    if (this.#active.has(sessionId) || (rec.leaseOwner !== null && rec.leaseExpiresAt > this.#clock.now())) {
      throw this.#busy(sessionId);
    }
    // The session's vectors and cache entries first: a failure leaves the session, so a retry erases all.
    await this.#deps.memory?.forgetSession?.(sessionId, rec.tenantId);
    await this.#deps.cache.eraseSession?.(sessionId);
    return del(sessionId);
  }

  /**
   * Erases everything stored for a tenant — or, with `ownerId`, for one user of it: every session
   * (each as {@link deleteSession} erases it: rows, vectors, cache entries it wrote) and, for a whole
   * tenant, its token-budget counters (a tenant's count is an aggregate of its use, not data about a
   * person, so erasing one user's sessions leaves it). Sessions driven right now are not erased: they are
   * listed in `busy` (cancel them, then call again; the call is idempotent).
   *
   * @param tenantId - the tenant
   * @param options - `ownerId` to erase only that user's sessions of the tenant
   * @returns the sessions erased, those left because they were busy, and whether budget counters were erased
   * @throws `INVALID_INPUT` for an empty tenant id, `INVALID_STATE` when the store cannot delete or the
   *   budget counters cannot be deleted, `UNAVAILABLE` when the cache could not erase (retry)
   * @example
   * ```ts
   * const r = await agent.eraseTenant('acme');
   * if (r.busy.length > 0) { for (const id of r.busy) await agent.send(id, { type: 'cancel' }); }
   * ```
   */
  async eraseTenant(
    tenantId: string,
    options: {
      /** Erase only this user's sessions of the tenant (the tenant's budget counters stay). */
      ownerId?: string;
    } = {},
  ): Promise<{
    /** The sessions erased. */
    erased: string[];
    /** Sessions driven right now, left as they are (cancel them and call again). */
    busy: string[];
    /** Whether the tenant's token-budget counters were erased (a whole tenant with a budget). */
    budgetErased: boolean;
  }> {
    this.#assertOpen();
    if (typeof tenantId !== 'string' || tenantId === '') {
      throw new DreamAgentError('INVALID_INPUT', 'eraseTenant needs a tenant id');
    }
    const erased: string[] = [];
    const busy: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.#store.listSessions({
        tenantId,
        limit: 500,
        ...(options.ownerId !== undefined ? { ownerId: options.ownerId } : {}),
        ...(after !== undefined ? { after } : {}),
      });
      for (const s of page) {
        // The store filters by tenant; checked again so a store that ignored the filter erases nothing else.
        if (s.tenantId !== tenantId) continue;
        if (options.ownerId !== undefined && s.ownerId !== options.ownerId) continue;
        try {
          if (await this.deleteSession(s.id)) erased.push(s.id);
        } catch (e) {
          if (!isDreamAgentError(e, 'SESSION_BUSY')) throw e;
          busy.push(s.id);
        }
      }
      if (page.length < 500) break;
      after = page[page.length - 1]?.id;
    }
    let budgetErased = false;
    if (options.ownerId === undefined && this.#budget) {
      await this.#budget.erase(tenantId);
      budgetErased = true;
    }
    return { erased, busy, budgetErased };
  }

  /**
   * Replays a session's events from the durable log, then (with `follow`) tails live events. Each event
   * is delivered once, in seq order, without gaps: a follower that missed bus messages repairs from
   * the Store.
   *
   * @param sessionId - the session
   * @param options - `after` seq, `follow`, `signal`
   * @returns an async iterable of events
   */
  events(sessionId: string, options: EventsOptions = {}): AsyncIterable<AgentEvent> {
    return { [Symbol.asyncIterator]: () => this.#follow(sessionId, options)[Symbol.asyncIterator]() };
  }

  /**
   * Stops this agent. With `drain` (the default) todos in flight finish and are committed, then every
   * session this agent drives is released (sessions that were still running are picked up by
   * `recover()` on another node); without it, in-flight todos are aborted.
   *
   * @param options - `drain` (default true)
   */
  async close(options: { drain?: boolean } = {}): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const drain = options.drain ?? true;
    const all = [...this.#active.values()];
    for (const a of all) a.driver?.stop(!drain);
    await Promise.allSettled(all.map((a) => a.done));
  }

  // ------------------------------------------------------------------ internals

  /**
   * Fail closed: a store call that fails `UNAVAILABLE` (the database blinked) is retried with backoff on
   * the agent's clock — never a rejected run — until it succeeds or the agent closes.
   */
  async #retrying<T>(what: string, fn: (retried: boolean) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await fn(attempt > 0);
      } catch (e) {
        if (!isDreamAgentError(e, 'UNAVAILABLE') || this.#closing) throw e;
        this.#logger.warn({ op: what, attempt, err: String(e) }, 'store unavailable; retrying');
        await this.#clock.sleep(Math.min(50 * 2 ** attempt, 2000));
      }
    }
  }

  #assertOpen(): void {
    if (this.#closing) throw new DreamAgentError('CLOSED', 'the agent is closed');
  }

  #busy(sessionId: string): DreamAgentError {
    return new DreamAgentError(
      'SESSION_BUSY',
      `session "${sessionId}" is in the middle of a turn; send a command or wait for it to finish`,
      {
        details: { sessionId },
      },
    );
  }

  #start(run: Run, body: () => Promise<RunResult>): void {
    body().then(
      (r) => run.finish(r),
      (e: unknown) => run.fail(e),
    );
  }

  #driverDeps(active: Active, sessionId: string): DriverDeps {
    return {
      ...this.#deps,
      onEvent: (event) => {
        for (const l of active.listeners) l(event);
        for (const l of this.#followers.get(sessionId) ?? []) l(event);
      },
    };
  }

  #startActive(
    sessionId: string,
    lease: LeaseToken,
    reason: 'run' | 'command' | 'recovery' | 'restart',
    init?: (driver: SessionDriver) => void,
  ): Active {
    return hostSession(this.#host, sessionId, lease, reason, init);
  }

  async #attach(run: Run, active: Active, afterSeq: number): Promise<RunResult> {
    const listener = (e: AgentEvent): void => {
      if (e.seq > afterSeq) run.push(e);
    };
    active.listeners.add(listener);
    try {
      return await active.done;
    } finally {
      active.listeners.delete(listener);
    }
  }

  /** Waits until a command has been applied (by whichever node owns the session), streaming events. */
  async #process(run: Run, sessionId: string, commandId: string, afterSeq: number): Promise<RunResult> {
    let seen = afterSeq;
    const forward = (e: AgentEvent): void => {
      if (e.seq > seen) {
        seen = e.seq;
        run.push(e);
      }
    };
    for (;;) {
      const active = this.#active.get(sessionId);
      let local: RunResult | undefined;
      if (active) {
        active.driver?.wake();
        local = await this.#attach({ push: forward } as unknown as Run, active, afterSeq).catch(
          (e: unknown) => {
            if (isDreamAgentError(e, 'CONFLICT')) return undefined;
            throw e;
          },
        );
      } else {
        const lease = await this.#store.acquireLease(sessionId, this.nodeId, this.#leaseTtlMs);
        if (lease) {
          this.#startActive(sessionId, lease, 'command');
          continue;
        }
        await this.#waitRemote(sessionId, commandId, () => seen, forward);
      }
      const entry = await this.#store.getCommand(sessionId, commandId);
      if (entry?.status === 'rejected')
        throw entry.error
          ? deserializeError(entry.error)
          : new DreamAgentError('INTERNAL', 'command rejected');
      if (entry?.status === 'applied') {
        if (local) return local;
        const rec = await this.#store.getSession(sessionId);
        if (rec && (rec.leaseOwner === null || rec.leaseExpiresAt <= this.#clock.now())) {
          for (const e of await this.#store.readEvents(sessionId, { after: seen, limit: 10_000 })) forward(e);
          return resultOf(rec);
        }
      }
    }
  }

  /** Follows a session driven by another node until our command is acked and the session rests, or its lease frees. */
  async #waitRemote(
    sessionId: string,
    commandId: string,
    seen: () => number,
    forward: (e: AgentEvent) => void,
  ): Promise<void> {
    let wake: (() => void) | undefined;
    let poked = false;
    const off = await this.#bus.subscribe(eventsTopic(sessionId), () => {
      poked = true;
      wake?.();
    });
    try {
      for (;;) {
        poked = false;
        for (const e of await this.#store.readEvents(sessionId, { after: seen(), limit: 1000 })) forward(e);
        const rec = await this.#store.getSession(sessionId);
        if (!rec) throw new DreamAgentError('SESSION_NOT_FOUND', `no session "${sessionId}"`);
        const now = this.#clock.now();
        const leaseFree = rec.leaseOwner === null || rec.leaseExpiresAt <= now;
        if (leaseFree) return;
        if (commandId !== '') {
          const entry = await this.#store.getCommand(sessionId, commandId);
          if (entry?.status === 'rejected') return;
        }
        // Woken by the owner's events on the bus; without a bus (or a lost message) look again soon,
        // and never later than the lease's expiry (a dead owner is taken over then).
        if (poked) continue; // the owner moved while we were reading
        const ctrl = new AbortController();
        wake = () => ctrl.abort();
        await this.#clock
          .sleep(Math.max(1, Math.min(50, rec.leaseExpiresAt - now + 1)), ctrl.signal)
          .catch(() => undefined);
        wake = undefined;
      }
    } finally {
      await off().catch(() => undefined);
    }
  }

  async #continue(run: Run, sessionId: string, rec: SessionRecord): Promise<RunResult> {
    let seen = rec.lastSeq;
    const forward = (e: AgentEvent): void => {
      if (e.seq > seen) {
        seen = e.seq;
        run.push(e);
      }
    };
    let current = rec;
    for (;;) {
      this.#assertOpen();
      const active = this.#active.get(sessionId);
      if (active) return this.#attach(run, active, seen);
      const lease = await this.#retrying('acquireLease', () =>
        this.#store.acquireLease(sessionId, this.nodeId, this.#leaseTtlMs),
      );
      if (lease) {
        // Ours now (free, or expired: its owner died). Continue where the store says it is: in-flight
        // non-idempotent todos raise recovery requests, idempotent ones re-run with the same key.
        const fresh = (await this.#store.getSession(sessionId)) ?? current;
        for (const e of await this.#store.readEvents(sessionId, { after: seen, limit: 10_000 })) forward(e);
        const next = this.#startActive(sessionId, lease, fresh.status === 'running' ? 'recovery' : 'restart');
        return this.#attach(run, next, seen);
      }
      // Another owner holds a live lease: follow it until it rests or its lease expires, then try again
      // (a dead owner's session is taken over at expiry; a live one's resting state is reported).
      await this.#waitRemote(sessionId, '', () => seen, forward);
      current = (await this.#store.getSession(sessionId)) ?? current;
      const leaseFree = current.leaseOwner === null;
      if (leaseFree && current.status !== 'running') {
        for (const e of await this.#store.readEvents(sessionId, { after: seen, limit: 10_000 })) forward(e);
        return resultOf(current);
      }
    }
  }

  #follow(sessionId: string, options: EventsOptions): AsyncGenerator<AgentEvent> {
    return followEvents(
      {
        store: this.#store,
        bus: this.#bus,
        clock: this.#clock,
        local: (id, listener) => {
          const set = this.#followers.get(id) ?? new Set();
          set.add(listener);
          this.#followers.set(id, set);
          return () => {
            set.delete(listener);
            if (set.size === 0 && this.#followers.get(id) === set) this.#followers.delete(id);
          };
        },
        closed: () => this.#closing,
      },
      sessionId,
      options,
    );
  }
}
