/**
 * `encryptedStore` wraps any {@link Store} so that every payload it writes is sealed by a {@link Codec}
 * before it reaches the backend, and opened on the way back. It works on every store (memory, SQLite,
 * PostgreSQL, your own) because it needs nothing from them but the Store port: the backend only ever sees
 * ciphertext where the payloads were.
 *
 * What stays in the clear, because stores index, filter or check it (documented in `docs/security.md`):
 * session ids, status, version, lease fields, timestamps, tenant and owner ids; event type, turn id, seq
 * and time; todo ids, status, attempts, idempotency key, tool version, cache flag and skip reason; plan id
 * and version; inbox command ids, actor and status.
 *
 * Sealed: the session state (turn input, intent, answer, pending requests, dialogue, slots, metadata),
 * every event's payload, todo outputs, errors, reasons, provided inputs and approvers, whole plans and
 * their edits, inbox commands.
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../errors/index.js';
import type { AgentEvent } from '../model/events.js';
import type { Json, JsonObject } from '../model/json.js';
import type { Plan, PlanVersionRecord } from '../model/plan.js';
import type { InboxEntry, SessionRecord, SessionState, TodoRecord } from '../model/session.js';
import type { Commit, CommitResult, NewSession, Store } from '../ports/store.js';
import type { Codec, CodecContext } from './codec.js';

/** Options of {@link encryptedStore}. */
export interface EncryptedStoreOptions {
  /** Seals and opens payloads (e.g. `new AesGcmCodec(keys)`). */
  codec: Codec;
  /**
   * Open rows written before encryption was turned on (default false: such rows are refused with
   * `DECRYPTION_FAILED`, so a row an attacker wrote in plaintext is never trusted). Turn on only while
   * migrating, then run a re-encrypt.
   */
  allowPlaintext?: boolean;
  /** How many session → tenant entries to remember for per-tenant keys (default 10 000). */
  maxTenantCache?: number;
}

const SEALED = '$sealed';

/** The envelope fields of an event that stay readable. */
const EVENT_ENVELOPE = ['type', 'sessionId', 'turnId', 'seq', 'at'] as const;
/** The todo fields that stay readable. */
const TODO_CLEAR = [
  'sessionId',
  'turnId',
  'todoId',
  'status',
  'attempts',
  'idempotencyKey',
  'toolVersion',
  'cached',
  'skipReason',
  'startedAt',
  'finishedAt',
] as const;

type Sealed = { [SEALED]: string };

const isSealedObject = (v: unknown): v is Sealed & Record<string, unknown> =>
  v !== null && typeof v === 'object' && typeof (v as Record<string, unknown>)[SEALED] === 'string';

/**
 * Wraps a store so that payloads are encrypted at rest. Every ciphertext is bound (through the codec's
 * associated data) to its session and record: swapping rows between sessions, or between records of one
 * session, makes them fail to open with `DECRYPTION_FAILED`.
 *
 * @param store - the backend
 * @param options - the codec, and whether plaintext rows may still be read
 * @returns a Store with the same contract
 * @example
 * ```ts
 * const keys = new StaticKeyring({ keys: { k1: process.env.AGENT_KEY_1! }, current: 'k1' });
 * const agent = new Agent({ store: encryptedStore(new SqliteStore('agent.db'), { codec: new AesGcmCodec(keys) }) });
 * ```
 */
export function encryptedStore(store: Store, options: EncryptedStoreOptions): Store {
  return new EncryptedStore(store, options);
}

class EncryptedStore implements Store {
  readonly #inner: Store;
  readonly #codec: Codec;
  readonly #plain: boolean;
  readonly #tenants = new Map<string, string>();
  readonly #maxTenants: number;
  claimStale?: NonNullable<Store['claimStale']>;
  close?: NonNullable<Store['close']>;
  deleteSession?: (sessionId: string) => Promise<boolean>;

  constructor(inner: Store, options: EncryptedStoreOptions) {
    this.#inner = inner;
    this.#codec = options.codec;
    this.#plain = options.allowPlaintext ?? false;
    this.#maxTenants = options.maxTenantCache ?? 10_000;
    // Optional methods exist on the wrapper exactly when the backend has them.
    if (inner.claimStale) this.claimStale = inner.claimStale.bind(inner);
    if (inner.close) this.close = inner.close.bind(inner);
    const del = (inner as { deleteSession?: (id: string) => Promise<boolean> }).deleteSession;
    if (del) {
      this.deleteSession = async (id: string) => {
        this.#tenants.delete(id);
        return del.call(inner, id);
      };
    }
  }

  // ── context ────────────────────────────────────────────────────────────────────────────────────

  #remember(sessionId: string, tenantId: string | undefined): void {
    if (tenantId === undefined) return;
    if (!this.#tenants.has(sessionId) && this.#tenants.size >= this.#maxTenants) {
      const oldest = this.#tenants.keys().next();
      if (!oldest.done) this.#tenants.delete(oldest.value);
    }
    this.#tenants.set(sessionId, tenantId);
  }

  #ctx(sessionId: string): CodecContext {
    const tenantId = this.#tenants.get(sessionId);
    return tenantId === undefined ? { sessionId } : { sessionId, tenantId };
  }

  async #seal(value: Json, aad: string, sessionId: string): Promise<string> {
    return this.#codec.seal(value, `${sessionId}\u0000${aad}`, this.#ctx(sessionId));
  }

  async #open(value: unknown, aad: string, sessionId: string): Promise<Json> {
    if (typeof value !== 'string') {
      if (this.#plain) return value as Json;
      throw new DreamAgentError(
        'DECRYPTION_FAILED',
        `plaintext ${aad.split('\u0000')[0]} refused in "${sessionId}"`,
        {
          details: { sessionId, record: aad.split('\u0000')[0] ?? aad },
        },
      );
    }
    return this.#codec.open(value, `${sessionId}\u0000${aad}`, this.#ctx(sessionId));
  }

  // ── records ────────────────────────────────────────────────────────────────────────────────────

  async #sealState(sessionId: string, state: SessionState): Promise<SessionState> {
    return {
      [SEALED]: await this.#seal(state as unknown as Json, 'state', sessionId),
    } as unknown as SessionState;
  }

  async #openRecord(r: SessionRecord): Promise<SessionRecord> {
    this.#remember(r.id, (r as { tenantId?: string }).tenantId);
    const raw = r.state as unknown;
    const state = isSealedObject(raw)
      ? await this.#open(raw[SEALED], 'state', r.id)
      : await this.#open(raw, 'state', r.id);
    return { ...r, state: state as unknown as SessionState };
  }

  async #sealEvent(e: AgentEvent): Promise<AgentEvent> {
    const rest: Record<string, unknown> = { ...e };
    for (const k of EVENT_ENVELOPE) delete rest[k];
    const out: Record<string, unknown> = {};
    for (const k of EVENT_ENVELOPE) out[k] = e[k];
    out[SEALED] = await this.#seal(rest as Json, `event\u0000${e.seq}`, e.sessionId);
    return out as unknown as AgentEvent;
  }

  async #openEvent(e: AgentEvent): Promise<AgentEvent> {
    const raw = e as unknown as Record<string, unknown>;
    if (!isSealedObject(raw)) {
      await this.#open(raw, `event\u0000${e.seq}`, e.sessionId); // throws unless plaintext is allowed
      return e;
    }
    const payload = (await this.#open(raw[SEALED], `event\u0000${e.seq}`, e.sessionId)) as JsonObject;
    const out: Record<string, unknown> = { ...payload };
    for (const k of EVENT_ENVELOPE) out[k] = raw[k];
    return out as unknown as AgentEvent;
  }

  async #sealTodo(t: TodoRecord): Promise<TodoRecord> {
    const secret: Record<string, unknown> = { ...t };
    const out: Record<string, unknown> = {};
    for (const k of TODO_CLEAR) {
      if (t[k] !== undefined) out[k] = t[k];
      delete secret[k];
    }
    out[SEALED] = await this.#seal(secret as Json, `todo\u0000${t.turnId}\u0000${t.todoId}`, t.sessionId);
    return out as unknown as TodoRecord;
  }

  async #openTodo(t: TodoRecord): Promise<TodoRecord> {
    const raw = t as unknown as Record<string, unknown>;
    const aad = `todo\u0000${t.turnId}\u0000${t.todoId}`;
    if (!isSealedObject(raw)) {
      await this.#open(raw, aad, t.sessionId);
      return t;
    }
    const secret = (await this.#open(raw[SEALED], aad, t.sessionId)) as JsonObject;
    const out: Record<string, unknown> = { ...secret };
    for (const k of TODO_CLEAR) if (raw[k] !== undefined) out[k] = raw[k];
    return out as unknown as TodoRecord;
  }

  async #sealPlan(p: PlanVersionRecord): Promise<PlanVersionRecord> {
    const aad = `plan\u0000${p.plan.id}\u0000${p.plan.version}`;
    const sealed = await this.#seal({ plan: p.plan, edits: p.edits } as unknown as Json, aad, p.sessionId);
    // Stores key plan versions by plan id and version: those two stay readable.
    return {
      ...p,
      plan: { id: p.plan.id, version: p.plan.version, [SEALED]: sealed } as unknown as Plan,
      edits: [],
    };
  }

  async #openPlan(p: PlanVersionRecord): Promise<PlanVersionRecord> {
    const raw = p.plan as unknown;
    const aad = `plan\u0000${p.plan.id}\u0000${p.plan.version}`;
    if (!isSealedObject(raw)) {
      await this.#open(raw, aad, p.sessionId);
      return p;
    }
    const opened = (await this.#open(raw[SEALED], aad, p.sessionId)) as unknown as Pick<
      PlanVersionRecord,
      'plan' | 'edits'
    >;
    return { ...p, plan: opened.plan, edits: opened.edits };
  }

  async #openEntry(e: InboxEntry): Promise<InboxEntry> {
    return { ...e, command: await this.#open(e.command, `inbox\u0000${e.id}`, e.sessionId) };
  }

  // ── the Store port ─────────────────────────────────────────────────────────────────────────────

  async createSession(
    session: NewSession,
    owner: string,
    leaseTtlMs: number,
  ): ReturnType<Store['createSession']> {
    const s = session as NewSession & { tenantId?: string; events?: AgentEvent[] };
    this.#remember(s.id, s.tenantId);
    const sealed: NewSession & { events?: AgentEvent[] } = {
      ...s,
      state: await this.#sealState(s.id, s.state),
    };
    if (s.events) sealed.events = await Promise.all(s.events.map((e) => this.#sealEvent(e)));
    const created = await this.#inner.createSession(sealed, owner, leaseTtlMs);
    return { ...created, record: { ...created.record, state: s.state } };
  }

  async getSession(sessionId: string): Promise<SessionRecord | undefined> {
    const r = await this.#inner.getSession(sessionId);
    return r ? this.#openRecord(r) : undefined;
  }

  async listSessions(query: Parameters<Store['listSessions']>[0]): Promise<SessionRecord[]> {
    const rows = await this.#inner.listSessions(query);
    return Promise.all(rows.map((r) => this.#openRecord(r)));
  }

  acquireLease(...args: Parameters<Store['acquireLease']>): ReturnType<Store['acquireLease']> {
    return this.#inner.acquireLease(...args);
  }

  renewLease(...args: Parameters<Store['renewLease']>): ReturnType<Store['renewLease']> {
    return this.#inner.renewLease(...args);
  }

  releaseLease(...args: Parameters<Store['releaseLease']>): ReturnType<Store['releaseLease']> {
    return this.#inner.releaseLease(...args);
  }

  async commit(c: Commit): Promise<CommitResult> {
    const [events, todos, planVersions, state] = await Promise.all([
      Promise.all(c.events.map((e) => this.#sealEvent(e))),
      Promise.all(c.todos.map((t) => this.#sealTodo(t))),
      Promise.all(c.planVersions.map((p) => this.#sealPlan(p))),
      c.state === undefined ? undefined : this.#sealState(c.sessionId, c.state),
    ]);
    const sealed: Commit = { ...c, events, todos, planVersions };
    if (state !== undefined) sealed.state = state;
    return this.#inner.commit(sealed);
  }

  async getTodos(sessionId: string, turnId: string): Promise<TodoRecord[]> {
    return Promise.all((await this.#inner.getTodos(sessionId, turnId)).map((t) => this.#openTodo(t)));
  }

  async getPlan(sessionId: string, planId: string, version?: number): Promise<PlanVersionRecord | undefined> {
    const p = await this.#inner.getPlan(sessionId, planId, version);
    return p ? this.#openPlan(p) : undefined;
  }

  async listPlanVersions(sessionId: string, planId: string): Promise<PlanVersionRecord[]> {
    return Promise.all((await this.#inner.listPlanVersions(sessionId, planId)).map((p) => this.#openPlan(p)));
  }

  async readEvents(sessionId: string, options?: { after?: number; limit?: number }): Promise<AgentEvent[]> {
    return Promise.all((await this.#inner.readEvents(sessionId, options)).map((e) => this.#openEvent(e)));
  }

  async enqueueCommand(entry: Omit<InboxEntry, 'status' | 'error'>): Promise<InboxEntry> {
    const command = await this.#seal(entry.command, `inbox\u0000${entry.id}`, entry.sessionId);
    return this.#openEntry(await this.#inner.enqueueCommand({ ...entry, command }));
  }

  async pendingCommands(sessionId: string): Promise<InboxEntry[]> {
    return Promise.all((await this.#inner.pendingCommands(sessionId)).map((e) => this.#openEntry(e)));
  }

  async getCommand(sessionId: string, commandId: string): Promise<InboxEntry | undefined> {
    const e = await this.#inner.getCommand(sessionId, commandId);
    return e ? this.#openEntry(e) : undefined;
  }
}
