import { DreamAgentError } from '../../errors/index.js';
import type { AgentEvent } from '../../model/events.js';
import { cloneJson } from '../../model/json.js';
import type { PlanVersionRecord } from '../../model/plan.js';
import {
  decodePlanVersionAt,
  decodePlanVersions,
  encodePlanVersions,
  storedPlanKey,
  type StoredPlanVersion,
} from '../../model/plan-history.js';
import type { InboxEntry, SessionRecord, TodoRecord } from '../../model/session.js';
import { systemClock, type Clock } from '../clock.js';
import {
  assertCommitApplies,
  assertRewriteApplies,
  type RecordsRewrite,
  type SessionRecords,
  type Commit,
  type CommitResult,
  type LeaseToken,
  type NewSession,
  type SessionQuery,
  type Store,
} from '../store.js';

interface SessionSlot {
  record: SessionRecord;
  events: AgentEvent[];
  /** key: `${turnId}\u0000${todoId}` */
  todos: Map<string, TodoRecord>;
  /** key: planId → stored versions ascending (a full plan every few versions, patches between) */
  plans: Map<string, StoredPlanVersion[]>;
  inbox: Map<string, InboxEntry>;
}

const clone = cloneJson;

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /** The clock that decides lease expiry (default: system clock). */
  clock?: Pick<Clock, 'now'>;
}

/**
 * The in-memory {@link Store}: the default, and the reference implementation of the contract.
 * Everything is copied in and out (`cloneJson`), so callers can never alias stored state.
 * It is not durable: a process restart loses every session — use `@dream-agent/sqlite` or
 * `@dream-agent/postgres` when a human may answer after a restart.
 *
 * @example
 * ```ts
 * const agent = new Agent({ store: new MemoryStore(), ... });
 * ```
 */
export class MemoryStore implements Store {
  readonly #sessions = new Map<string, SessionSlot>();
  readonly #clock: Pick<Clock, 'now'>;

  /** @param options - clock */
  constructor(options: MemoryStoreOptions = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  #slot(sessionId: string): SessionSlot {
    const slot = this.#sessions.get(sessionId);
    if (!slot)
      throw new DreamAgentError('SESSION_NOT_FOUND', `no session "${sessionId}"`, { details: { sessionId } });
    return slot;
  }

  async createSession(
    session: NewSession,
    owner: string,
    leaseTtlMs: number,
  ): Promise<{
    /** The stored session row (version 1). */
    record: SessionRecord;
    /** The lease `owner` now holds, valid for `leaseTtlMs`. */
    lease: LeaseToken;
  }> {
    await Promise.resolve();
    if (this.#sessions.has(session.id)) {
      throw new DreamAgentError('SESSION_BUSY', `session "${session.id}" already exists`, {
        details: { sessionId: session.id },
      });
    }
    const events = session.events ?? [];
    for (const [i, e] of events.entries()) {
      if (e.seq !== i + 1 || e.sessionId !== session.id) {
        throw new DreamAgentError(
          'INVALID_INPUT',
          `event seq ${e.seq} of a new session must be ${i + 1} (session "${session.id}")`,
          { details: { sessionId: session.id, expectedSeq: i + 1, seq: e.seq } },
        );
      }
    }
    const now = this.#clock.now();
    const record: SessionRecord = {
      id: session.id,
      version: 1,
      status: session.status,
      lastSeq: events.length,
      leaseEpoch: 1,
      leaseOwner: owner,
      leaseExpiresAt: now + leaseTtlMs,
      state: clone(session.state),
      createdAt: now,
      updatedAt: now,
    };
    if (session.tenantId !== undefined) record.tenantId = session.tenantId;
    if (session.ownerId !== undefined) record.ownerId = session.ownerId;
    this.#sessions.set(session.id, {
      record,
      events: events.map(clone),
      todos: new Map(),
      plans: new Map(),
      inbox: new Map(),
    });
    return { record: clone(record), lease: { owner, epoch: 1 } };
  }

  async getSession(sessionId: string): Promise<SessionRecord | undefined> {
    await Promise.resolve();
    const slot = this.#sessions.get(sessionId);
    if (!slot) return undefined;
    // The state is the caller's to change (the driver applies commands to it in place): a fresh,
    // mutable copy, even of parts a wrapper committed deep-frozen (which `cloneJson` would share).
    return { ...clone(slot.record), state: structuredClone(slot.record.state) };
  }

  async listSessions(query: SessionQuery): Promise<SessionRecord[]> {
    await Promise.resolve();
    const limit = Math.min(Math.max(query.limit ?? 100, 1), 1000);
    const ids = [...this.#sessions.keys()].sort();
    const out: SessionRecord[] = [];
    for (const id of ids) {
      if (query.after !== undefined && id <= query.after) continue;
      const slot = this.#sessions.get(id);
      if (!slot) continue;
      const r = slot.record;
      if (query.status && !query.status.includes(r.status)) continue;
      if (query.tenantId !== undefined && r.tenantId !== query.tenantId) continue;
      if (query.ownerId !== undefined && r.ownerId !== query.ownerId) continue;
      if (
        query.leaseExpiredBefore !== undefined &&
        r.leaseOwner !== null &&
        r.leaseExpiresAt > query.leaseExpiredBefore
      )
        continue;
      if (query.hasPendingCommands && ![...slot.inbox.values()].some((e) => e.status === 'pending')) continue;
      out.push(clone(r));
      if (out.length >= limit) break;
    }
    return out;
  }

  #leaseLive(r: SessionRecord, now: number): boolean {
    return r.leaseOwner !== null && r.leaseExpiresAt > now;
  }

  async acquireLease(sessionId: string, owner: string, ttlMs: number): Promise<LeaseToken | undefined> {
    await Promise.resolve();
    const r = this.#slot(sessionId).record;
    const now = this.#clock.now();
    if (this.#leaseLive(r, now)) return undefined;
    r.leaseEpoch += 1;
    r.leaseOwner = owner;
    r.leaseExpiresAt = now + ttlMs;
    return { owner, epoch: r.leaseEpoch };
  }

  #isOurs(r: SessionRecord, lease: LeaseToken, now: number): boolean {
    return r.leaseEpoch === lease.epoch && r.leaseOwner === lease.owner && r.leaseExpiresAt > now;
  }

  async claimStale(
    limit: number,
    owner: string,
    ttlMs: number,
  ): Promise<
    {
      /** A claimed session. */
      sessionId: string;
      /** The new lease on it, held by `owner` for `ttlMs`. */
      lease: LeaseToken;
    }[]
  > {
    await Promise.resolve();
    const now = this.#clock.now();
    const out: { sessionId: string; lease: LeaseToken }[] = [];
    for (const id of [...this.#sessions.keys()].sort()) {
      if (out.length >= limit) break;
      const r = this.#sessions.get(id)?.record;
      if (!r || r.status !== 'running' || this.#leaseLive(r, now)) continue;
      r.leaseEpoch += 1;
      r.leaseOwner = owner;
      r.leaseExpiresAt = now + ttlMs;
      out.push({ sessionId: id, lease: { owner, epoch: r.leaseEpoch } });
    }
    return out;
  }

  async renewLease(sessionId: string, lease: LeaseToken, ttlMs: number): Promise<number | undefined> {
    await Promise.resolve();
    const r = this.#slot(sessionId).record;
    const now = this.#clock.now();
    if (!this.#isOurs(r, lease, now)) return undefined;
    r.leaseExpiresAt = now + ttlMs;
    return r.leaseExpiresAt;
  }

  async releaseLease(sessionId: string, lease: LeaseToken): Promise<void> {
    await Promise.resolve();
    const r = this.#slot(sessionId).record;
    if (r.leaseEpoch === lease.epoch && r.leaseOwner === lease.owner) {
      r.leaseOwner = null;
      r.leaseExpiresAt = 0;
    }
  }

  async commit(c: Commit): Promise<CommitResult> {
    await Promise.resolve();
    const slot = this.#slot(c.sessionId);
    const r = slot.record;
    const now = this.#clock.now();
    const seq = assertCommitApplies(c, r, now);
    for (const p of c.planVersions) {
      const versions = slot.plans.get(p.plan.id) ?? [];
      if (versions.some((v) => storedPlanKey(v).version === p.plan.version)) {
        throw new DreamAgentError('CONFLICT', `plan ${p.plan.id} version ${p.plan.version} already exists`, {
          details: { planId: p.plan.id, version: p.plan.version },
        });
      }
    }
    for (const a of c.inboxAcks) {
      if (!slot.inbox.has(a.commandId)) {
        throw new DreamAgentError('INVALID_INPUT', `no inbox command "${a.commandId}"`, {
          details: { commandId: a.commandId },
        });
      }
    }
    // All checks passed: apply (nothing above has written).
    for (const e of c.events) slot.events.push(clone(e));
    for (const t of c.todos) slot.todos.set(`${t.turnId}\u0000${t.todoId}`, clone(t));
    // Each version is stored as a patch against the one before it when that one is here (plan-history).
    const rows = encodePlanVersions(c.planVersions, (planId, version) =>
      decodePlanVersionAt(slot.plans.get(planId) ?? [], version),
    );
    for (const row of rows) {
      const { planId } = storedPlanKey(row);
      const versions = slot.plans.get(planId) ?? [];
      versions.push(clone(row));
      versions.sort((a, b) => storedPlanKey(a).version - storedPlanKey(b).version);
      slot.plans.set(planId, versions);
    }
    for (const a of c.inboxAcks) {
      const entry = slot.inbox.get(a.commandId);
      if (entry) {
        entry.status = a.status;
        if (a.error) entry.error = clone(a.error);
      }
    }
    r.version += 1;
    r.lastSeq = seq;
    if (c.status !== undefined) r.status = c.status;
    if (c.state !== undefined) r.state = clone(c.state);
    r.updatedAt = now;
    if (c.leaseAction === 'release') {
      r.leaseOwner = null;
      r.leaseExpiresAt = 0;
    } else {
      r.leaseExpiresAt = now + c.leaseTtlMs;
    }
    let pendingCommands = 0;
    for (const e of slot.inbox.values()) if (e.status === 'pending') pendingCommands += 1;
    return { version: r.version, lastSeq: r.lastSeq, leaseExpiresAt: r.leaseExpiresAt, pendingCommands };
  }

  async getTodos(sessionId: string, turnId: string): Promise<TodoRecord[]> {
    await Promise.resolve();
    const slot = this.#sessions.get(sessionId);
    if (!slot) return [];
    return [...slot.todos.values()].filter((t) => t.turnId === turnId).map(clone);
  }

  async getPlan(sessionId: string, planId: string, version?: number): Promise<PlanVersionRecord | undefined> {
    await Promise.resolve();
    const versions = this.#sessions.get(sessionId)?.plans.get(planId);
    if (!versions || versions.length === 0) return undefined;
    const found = decodePlanVersionAt(versions, version);
    return found ? clone(found.record) : undefined;
  }

  async listPlanVersions(sessionId: string, planId: string): Promise<PlanVersionRecord[]> {
    await Promise.resolve();
    return decodePlanVersions(this.#sessions.get(sessionId)?.plans.get(planId) ?? []).map((v) =>
      clone(v.record),
    );
  }

  async readEvents(
    sessionId: string,
    options: { after?: number; limit?: number } = {},
  ): Promise<AgentEvent[]> {
    await Promise.resolve();
    const slot = this.#sessions.get(sessionId);
    if (!slot) return [];
    const after = options.after ?? 0;
    const limit = Math.min(Math.max(options.limit ?? 1000, 1), 10_000);
    // seq n lives at index n-1: slicing is O(limit), not O(history).
    return slot.events.slice(Math.max(after, 0), Math.max(after, 0) + limit).map(clone);
  }

  async enqueueCommand(entry: Omit<InboxEntry, 'status' | 'error'>): Promise<InboxEntry> {
    await Promise.resolve();
    const slot = this.#slot(entry.sessionId);
    const existing = slot.inbox.get(entry.id);
    if (existing) return clone(existing);
    const stored: InboxEntry = { ...clone(entry), status: 'pending' };
    slot.inbox.set(entry.id, stored);
    return clone(stored);
  }

  async pendingCommands(sessionId: string): Promise<InboxEntry[]> {
    await Promise.resolve();
    const slot = this.#sessions.get(sessionId);
    if (!slot) return [];
    return [...slot.inbox.values()].filter((e) => e.status === 'pending').map(clone);
  }

  async getCommand(sessionId: string, commandId: string): Promise<InboxEntry | undefined> {
    await Promise.resolve();
    const entry = this.#sessions.get(sessionId)?.inbox.get(commandId);
    return entry ? clone(entry) : undefined;
  }

  async deleteSession(sessionId: string): Promise<boolean> {
    await Promise.resolve();
    return this.#sessions.delete(sessionId);
  }

  /**
   * Every record of a session as stored (see {@link Store.readRecords}).
   *
   * @param sessionId - the session
   * @returns copies of its records, or undefined
   */
  async readRecords(sessionId: string): Promise<SessionRecords | undefined> {
    await Promise.resolve();
    const slot = this.#sessions.get(sessionId);
    if (!slot) return undefined;
    return {
      session: clone(slot.record),
      events: slot.events.map(clone),
      todos: [...slot.todos.values()].map(clone),
      // Plan versions stored as patches are rebuilt whole (a rewrite stores them whole).
      planVersions: [...slot.plans.values()].flatMap((rows) =>
        decodePlanVersions(rows).map((d) => clone(d.record)),
      ),
      commands: [...slot.inbox.values()].map(clone),
    };
  }

  /**
   * Replaces payloads in place, fenced by the version (see {@link Store.rewriteRecords}).
   *
   * @param r - the rewrite
   * @throws `CONFLICT` when the session moved past `r.expectedVersion`; `SESSION_NOT_FOUND`
   */
  async rewriteRecords(r: RecordsRewrite): Promise<void> {
    await Promise.resolve();
    const slot = this.#sessions.get(r.sessionId);
    assertRewriteApplies(r, slot?.record.version);
    if (!slot) return;
    if (r.state !== undefined) slot.record = { ...slot.record, state: clone(r.state) };
    for (const e of r.events ?? []) {
      if (slot.events[e.seq - 1]?.seq === e.seq) slot.events[e.seq - 1] = clone(e);
    }
    for (const t of r.todos ?? []) {
      const key = `${t.turnId}\u0000${t.todoId}`;
      if (slot.todos.has(key)) slot.todos.set(key, clone(t));
    }
    for (const p of r.planVersions ?? []) {
      const versions = slot.plans.get(p.plan.id);
      const i = versions?.findIndex((v) => storedPlanKey(v).version === p.plan.version) ?? -1;
      if (versions && i >= 0) versions[i] = clone(p);
    }
    for (const c of r.commands ?? []) {
      const entry = slot.inbox.get(c.id);
      if (entry) slot.inbox.set(c.id, { ...entry, command: clone(c.command) });
    }
  }

  /** Number of sessions held (for tests and benchmarks). */
  get size(): number {
    return this.#sessions.size;
  }
}
