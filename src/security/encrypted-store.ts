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
import { randomUUID } from 'node:crypto';
import { DreamAgentError, isDreamAgentError } from '../errors/index.js';
import type { AgentEvent } from '../model/events.js';
import { isImmutableJson, type Json, type JsonObject } from '../model/json.js';
import type { Plan, PlanVersionRecord } from '../model/plan.js';
import type { InboxEntry, SessionRecord, SessionState, TodoRecord } from '../model/session.js';
import type {
  Commit,
  CommitResult,
  NewSession,
  RecordsRewrite,
  SessionRecords,
  Store,
} from '../ports/store.js';
import { reviveData, type Codec, type CodecContext } from './codec.js';

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
  /**
   * Records of one commit whose JSON is at most this many characters share one sealed envelope, up to
   * this many characters per envelope (default 4096; 0 seals every record alone). Sharing costs storage
   * (each row holds the envelope) and saves a cipher setup per record.
   */
  batchBytes?: number;
}

const SEALED = '$sealed';
/** Index of a row's entry in a shared envelope (absent when the row is sealed alone). */
const PART = '$part';
/** Record name of a shared envelope in the associated data. */
const BATCH = 'batch';
/**
 * The state key that changes on every commit while the rest of the state stays the same: the audit
 * trail's chain head (`auditedStore` rewrites it in each commit). A state holding it is stored in two
 * parts (see {@link EncryptedStore.#stateParts}).
 */
const VOLATILE = '$audit';
/** Field of a two-part state row that holds the sealed volatile part. */
const HEAD = '$head';
/** Records of the two parts in the associated data. */
const STATE_BODY = 'state\u0000body';
const STATE_HEAD = 'state\u0000head';

/** The body of a two-part state as last sealed for a session: reused while every part is the same. */
interface SealedBody {
  keys: string[];
  values: unknown[];
  ref: Record<string, unknown>;
  id: string;
}

/** One record to seal: its identity, its plaintext, and (after sealing) where it ended up. */
interface Slot {
  aad: string;
  value: Json;
  text: string;
  sealed?: string;
  part?: number;
}

const slot = (aad: string, value: Json): Slot => ({ aad, value, text: JSON.stringify(value) });

/** Envelopes opened during one read, so rows of one commit decrypt their shared envelope once. */
type Memo = Map<string, Promise<Json[]>>;

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

const EVENT_ENVELOPE_SET: ReadonlySet<string> = new Set(EVENT_ENVELOPE);
const TODO_CLEAR_SET: ReadonlySet<string> = new Set(TODO_CLEAR);

type Sealed = { [SEALED]: string; [PART]?: number };

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
  readonly #batchBytes: number;
  /** Per session, the last sealed state body (bounded like the tenant cache). */
  readonly #bodies = new Map<string, SealedBody>();
  claimStale?: NonNullable<Store['claimStale']>;
  close?: NonNullable<Store['close']>;
  deleteSession?: (sessionId: string) => Promise<boolean>;

  constructor(inner: Store, options: EncryptedStoreOptions) {
    this.#inner = inner;
    this.#codec = options.codec;
    this.#plain = options.allowPlaintext ?? false;
    this.#maxTenants = options.maxTenantCache ?? 10_000;
    this.#batchBytes = options.batchBytes ?? 4096;
    if (!(this.#batchBytes >= 0)) {
      throw new DreamAgentError('INVALID_INPUT', `batchBytes must be ≥ 0, got ${String(options.batchBytes)}`);
    }
    // Optional methods exist on the wrapper exactly when the backend has them.
    if (inner.claimStale) this.claimStale = inner.claimStale.bind(inner);
    if (inner.close) this.close = inner.close.bind(inner);
    const del = (inner as { deleteSession?: (id: string) => Promise<boolean> }).deleteSession;
    if (del) {
      this.deleteSession = async (id: string) => {
        this.#tenants.delete(id);
        this.#bodies.delete(id);
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

  /**
   * Seals the records of one write. Small records share one sealed envelope (one cipher setup and one
   * nonce for the whole commit instead of one per record — the cost that dominated encryption in
   * `bench/security.ts`); each row then stores that envelope and its index, and opening checks that the
   * entry at the index names this very record, so a row moved onto another record, or pointed at another
   * index, fails. Records over `batchBytes` are sealed alone (sharing would copy them into every row).
   */
  async #sealAll(sessionId: string, slots: Slot[]): Promise<void> {
    const ctx = this.#ctx(sessionId);
    const codec = this.#codec;
    const jobs: Promise<void>[] = [];
    const alone = (m: Slot): void => {
      const aad = `${sessionId}\u0000${m.aad}`;
      jobs.push(
        (codec.sealText ? codec.sealText(m.text, aad, ctx) : codec.seal(m.value, aad, ctx)).then((sealed) => {
          m.sealed = sealed;
        }),
      );
    };
    let group: Slot[] = [];
    let groupBytes = 0;
    const flush = (): void => {
      const members = group;
      group = [];
      groupBytes = 0;
      if (members.length === 1) alone(members[0] as Slot);
      if (members.length < 2 || !codec.sealText) return;
      const text = `[${members.map((m) => `[${JSON.stringify(m.aad)},${m.text}]`).join(',')}]`;
      jobs.push(
        codec.sealText(text, `${sessionId}\u0000${BATCH}`, ctx).then((sealed) => {
          members.forEach((m, i) => {
            m.sealed = sealed;
            m.part = i;
          });
        }),
      );
    };
    for (const m of slots) {
      if (!codec.sealText || m.text.length > this.#batchBytes) {
        alone(m);
        continue;
      }
      if (group.length > 0 && groupBytes + m.text.length > this.#batchBytes) flush();
      group.push(m);
      groupBytes += m.text.length;
    }
    flush();
    await Promise.all(jobs);
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

  async #openEnvelope(blob: string, sessionId: string): Promise<Json[]> {
    const full = `${sessionId}\u0000${BATCH}`;
    const text = this.#codec.openText
      ? await this.#codec.openText(blob, full, this.#ctx(sessionId))
      : JSON.stringify(await this.#codec.open(blob, full, this.#ctx(sessionId)));
    try {
      const entries = reviveData(text);
      return Array.isArray(entries) ? entries : [];
    } catch {
      return [];
    }
  }

  /** Opens a sealed row: alone, or one entry of a shared envelope (see {@link #sealAll}). */
  async #openRow(raw: Sealed, aad: string, sessionId: string, memo?: Memo): Promise<Json> {
    const part = raw[PART];
    if (part === undefined) return this.#open(raw[SEALED], aad, sessionId);
    const blob = raw[SEALED];
    let pending = memo?.get(blob);
    if (!pending) {
      pending = this.#openEnvelope(blob, sessionId);
      if (memo) {
        if (memo.size >= 64) memo.clear();
        memo.set(blob, pending);
      }
    }
    const entries = await pending;
    const entry = typeof part === 'number' ? entries[part] : undefined;
    if (!Array.isArray(entry) || entry[0] !== aad || entry.length !== 2) {
      throw new DreamAgentError(
        'DECRYPTION_FAILED',
        `a sealed ${aad.split('\u0000')[0]} row of "${sessionId}" does not belong to this record`,
        { details: { sessionId, record: aad.split('\u0000')[0] ?? aad } },
      );
    }
    return entry[1] as Json;
  }

  // ── records ────────────────────────────────────────────────────────────────────────────────────

  static #sealedField(sl: Slot): Record<string, unknown> {
    return sl.part === undefined ? { [SEALED]: sl.sealed } : { [SEALED]: sl.sealed, [PART]: sl.part };
  }

  async #openRecord(r: SessionRecord, memo?: Memo): Promise<SessionRecord> {
    this.#remember(r.id, (r as { tenantId?: string }).tenantId);
    const raw = r.state as unknown;
    let state: Json;
    if (isSealedObject(raw) && isSealedObject(raw[HEAD])) state = await this.#openParts(raw, r.id, memo);
    else if (isSealedObject(raw)) state = await this.#openRow(raw, 'state', r.id, memo);
    else state = await this.#open(raw, 'state', r.id);
    return { ...r, state: state as unknown as SessionState };
  }

  /**
   * The slots of a state that holds the volatile key: the body (every other key, sealed with a random
   * id) unless the body sealed last for this session is the same, and the volatile value with that id.
   * The same means the same keys holding the very same values, each a primitive or deep-frozen (it
   * cannot have changed since): `auditedStore` keeps its state that way, so a commit that changes only
   * the chain head seals a few dozen bytes instead of the whole state again.
   */
  #stateParts(
    sessionId: string,
    state: Record<string, unknown>,
  ): { head: Slot; body: Slot | undefined; build: () => SessionState } {
    const keys: string[] = [];
    const values: unknown[] = [];
    let frozen = true;
    for (const k in state) {
      if (k === VOLATILE) continue;
      const v = state[k];
      if (v === undefined) continue;
      keys.push(k);
      values.push(v);
      if (frozen && !isImmutableJson(v)) frozen = false;
    }
    const last = this.#bodies.get(sessionId);
    const same =
      frozen &&
      last !== undefined &&
      last.keys.length === keys.length &&
      keys.every((k, i) => last.keys[i] === k && last.values[i] === values[i]);
    let body: Slot | undefined;
    let id: string;
    if (same) {
      id = last.id;
    } else {
      id = randomUUID();
      const plain: Record<string, unknown> = {};
      keys.forEach((k, i) => (plain[k] = values[i]));
      body = slot(STATE_BODY, [id, plain as Json]);
    }
    const head = slot(STATE_HEAD, [state[VOLATILE] as Json, id]);
    return {
      head,
      body,
      build: () => {
        let ref: Record<string, unknown>;
        if (body) {
          ref = EncryptedStore.#sealedField(body);
          if (frozen) {
            if (!this.#bodies.has(sessionId) && this.#bodies.size >= this.#maxTenants) {
              const oldest = this.#bodies.keys().next();
              if (!oldest.done) this.#bodies.delete(oldest.value);
            }
            this.#bodies.set(sessionId, { keys, values, ref, id });
          } else {
            this.#bodies.delete(sessionId);
          }
        } else {
          ref = (last as SealedBody).ref;
        }
        return { ...ref, [HEAD]: EncryptedStore.#sealedField(head) } as unknown as SessionState;
      },
    };
  }

  /** Opens a two-part state row: body and volatile part must name the same body id. */
  async #openParts(raw: Sealed & Record<string, unknown>, sessionId: string, memo?: Memo): Promise<Json> {
    const [body, head] = await Promise.all([
      this.#openRow(raw, STATE_BODY, sessionId, memo),
      this.#openRow(raw[HEAD] as Sealed, STATE_HEAD, sessionId, memo),
    ]);
    if (
      !Array.isArray(body) ||
      !Array.isArray(head) ||
      typeof body[0] !== 'string' ||
      body[0] !== head[1] ||
      body[1] === null ||
      typeof body[1] !== 'object' ||
      Array.isArray(body[1])
    ) {
      throw new DreamAgentError(
        'DECRYPTION_FAILED',
        `the two parts of the sealed state of "${sessionId}" do not belong together`,
        { details: { sessionId, record: 'state' } },
      );
    }
    return { ...(body[1] as JsonObject), [VOLATILE]: head[0] ?? null };
  }

  #eventSlot(e: AgentEvent): [Slot, () => AgentEvent] {
    // Copied key by key rather than spread-then-delete: `delete` turns the copy into a slow dictionary
    // object, and every event of every commit goes through here. Same keys, same order.
    const rest: Record<string, unknown> = {};
    for (const k in e) {
      if (!EVENT_ENVELOPE_SET.has(k)) rest[k] = (e as unknown as Record<string, unknown>)[k];
    }
    const sl = slot(`event\u0000${e.seq}`, rest as Json);
    return [
      sl,
      () => {
        const out: Record<string, unknown> = {};
        for (const k of EVENT_ENVELOPE) out[k] = e[k];
        Object.assign(out, EncryptedStore.#sealedField(sl));
        return out as unknown as AgentEvent;
      },
    ];
  }

  async #openEvent(e: AgentEvent, memo?: Memo): Promise<AgentEvent> {
    const raw = e as unknown as Record<string, unknown>;
    if (!isSealedObject(raw)) {
      await this.#open(raw, `event\u0000${e.seq}`, e.sessionId); // throws unless plaintext is allowed
      return e;
    }
    const payload = (await this.#openRow(raw, `event\u0000${e.seq}`, e.sessionId, memo)) as JsonObject;
    const out: Record<string, unknown> = { ...payload };
    for (const k of EVENT_ENVELOPE) out[k] = raw[k];
    return out as unknown as AgentEvent;
  }

  #todoSlot(t: TodoRecord): [Slot, () => TodoRecord] {
    const secret: Record<string, unknown> = {};
    const out: Record<string, unknown> = {};
    for (const k of TODO_CLEAR) if (t[k] !== undefined) out[k] = t[k];
    for (const k in t) {
      if (!TODO_CLEAR_SET.has(k)) secret[k] = (t as unknown as Record<string, unknown>)[k];
    }
    const sl = slot(`todo\u0000${t.turnId}\u0000${t.todoId}`, secret as Json);
    return [sl, () => Object.assign(out, EncryptedStore.#sealedField(sl)) as unknown as TodoRecord];
  }

  async #openTodo(t: TodoRecord, memo?: Memo): Promise<TodoRecord> {
    const raw = t as unknown as Record<string, unknown>;
    const aad = `todo\u0000${t.turnId}\u0000${t.todoId}`;
    if (!isSealedObject(raw)) {
      await this.#open(raw, aad, t.sessionId);
      return t;
    }
    const secret = (await this.#openRow(raw, aad, t.sessionId, memo)) as JsonObject;
    const out: Record<string, unknown> = { ...secret };
    for (const k of TODO_CLEAR) if (raw[k] !== undefined) out[k] = raw[k];
    return out as unknown as TodoRecord;
  }

  #planSlot(p: PlanVersionRecord): [Slot, () => PlanVersionRecord] {
    const aad = `plan\u0000${p.plan.id}\u0000${p.plan.version}`;
    const sl = slot(aad, { plan: p.plan, edits: p.edits } as unknown as Json);
    // Stores key plan versions by plan id and version: those two stay readable.
    return [
      sl,
      () => ({
        ...p,
        plan: {
          id: p.plan.id,
          version: p.plan.version,
          ...EncryptedStore.#sealedField(sl),
        } as unknown as Plan,
        edits: [],
      }),
    ];
  }

  async #openPlan(p: PlanVersionRecord, memo?: Memo): Promise<PlanVersionRecord> {
    const raw = p.plan as unknown;
    const aad = `plan\u0000${p.plan.id}\u0000${p.plan.version}`;
    if (!isSealedObject(raw)) {
      await this.#open(raw, aad, p.sessionId);
      return p;
    }
    const opened = (await this.#openRow(raw, aad, p.sessionId, memo)) as unknown as Pick<
      PlanVersionRecord,
      'plan' | 'edits'
    >;
    return { ...p, plan: opened.plan, edits: opened.edits };
  }

  async #openEntry(e: InboxEntry): Promise<InboxEntry> {
    return { ...e, command: await this.#open(e.command, `inbox\u0000${e.id}`, e.sessionId) };
  }

  // ── rotation ───────────────────────────────────────────────────────────────────────────────────

  /**
   * The rewrite that moves a session's stored rows to the current key: each sealed value not under it
   * is opened and sealed again under the same associated data (a shared envelope once, every row that
   * points into it keeping its index), and — with `allowPlaintext` — plaintext rows are sealed.
   *
   * @returns the rewrite and how many rows it changes (undefined when every row is current)
   */
  async rotation(recs: SessionRecords): Promise<{ rewrite: RecordsRewrite; rows: number } | undefined> {
    const sid = recs.session.id;
    this.#remember(sid, (recs.session as { tenantId?: string }).tenantId);
    const ctx = this.#ctx(sid);
    const codec = this.#codec;
    const fresh = new Map<string, Promise<string>>();
    const reseal = async (blob: string, aad: string): Promise<string | undefined> => {
      if (codec.isCurrent && (await codec.isCurrent(blob, ctx))) return undefined;
      let next = fresh.get(blob);
      if (!next) {
        const full = `${sid}\u0000${aad}`;
        next =
          codec.openText && codec.sealText
            ? codec.openText(blob, full, ctx).then((text) => codec.sealText!(text, full, ctx))
            : codec.open(blob, full, ctx).then((value) => codec.seal(value, full, ctx));
        fresh.set(blob, next);
      }
      return next;
    };
    /** A sealed row's object with its envelope re-sealed, or undefined when it is current. */
    const row = async <T>(raw: Sealed & Record<string, unknown>, aad: string): Promise<T | undefined> => {
      const next = await reseal(raw[SEALED], raw[PART] === undefined ? aad : BATCH);
      return next === undefined ? undefined : ({ ...raw, [SEALED]: next } as T);
    };
    // Plaintext rows (written before encryption was on) are sealed like a commit seals them.
    const plain: Slot[] = [];
    const later: (() => void)[] = [];
    const refuse = async (raw: unknown, aad: string): Promise<void> => {
      await this.#open(raw, aad, sid); // throws unless plaintext is allowed
    };

    const out: RecordsRewrite = { sessionId: sid, expectedVersion: recs.session.version };
    const rawState = recs.session.state as unknown;
    if (isSealedObject(rawState)) {
      const head = rawState[HEAD];
      const twoParts = isSealedObject(head);
      let next = await row<Record<string, unknown>>(rawState, twoParts ? STATE_BODY : 'state');
      if (twoParts) {
        const nextHead = await row<Record<string, unknown>>(head, STATE_HEAD);
        if (nextHead) next = { ...(next ?? rawState), [HEAD]: nextHead };
      }
      if (next) out.state = next as unknown as SessionState;
    } else {
      await refuse(rawState, 'state');
      const sl = slot('state', rawState as Json);
      plain.push(sl);
      later.push(() => (out.state = EncryptedStore.#sealedField(sl) as unknown as SessionState));
    }

    const events: AgentEvent[] = [];
    for (const e of recs.events) {
      const raw = e as unknown as Record<string, unknown>;
      const aad = `event\u0000${e.seq}`;
      if (isSealedObject(raw)) {
        const next = await row<AgentEvent>(raw, aad);
        if (next) events.push(next);
        continue;
      }
      await refuse(raw, aad);
      const [sl, build] = this.#eventSlot(e);
      plain.push(sl);
      later.push(() => events.push(build()));
    }
    const todos: TodoRecord[] = [];
    for (const t of recs.todos) {
      const raw = t as unknown as Record<string, unknown>;
      const aad = `todo\u0000${t.turnId}\u0000${t.todoId}`;
      if (isSealedObject(raw)) {
        const next = await row<TodoRecord>(raw, aad);
        if (next) todos.push(next);
        continue;
      }
      await refuse(raw, aad);
      const [sl, build] = this.#todoSlot(t);
      plain.push(sl);
      later.push(() => todos.push(build()));
    }
    const plans: PlanVersionRecord[] = [];
    for (const p of recs.planVersions) {
      const raw = p.plan as unknown;
      const aad = `plan\u0000${p.plan.id}\u0000${p.plan.version}`;
      if (isSealedObject(raw)) {
        const next = await row<Plan>(raw, aad);
        if (next) plans.push({ ...p, plan: next });
        continue;
      }
      await refuse(raw, aad);
      const [sl, build] = this.#planSlot(p);
      plain.push(sl);
      later.push(() => plans.push(build()));
    }
    const commands: { id: string; command: Json }[] = [];
    for (const c of recs.commands) {
      const aad = `inbox\u0000${c.id}`;
      if (typeof c.command === 'string') {
        const next = await reseal(c.command, aad);
        if (next !== undefined) commands.push({ id: c.id, command: next });
        continue;
      }
      await refuse(c.command, aad);
      commands.push({ id: c.id, command: await this.#seal(c.command, aad, sid) });
    }
    if (plain.length > 0) {
      await this.#sealAll(sid, plain);
      for (const f of later) f();
    }
    const rows = (out.state ? 1 : 0) + events.length + todos.length + plans.length + commands.length;
    if (rows === 0) return undefined;
    if (events.length > 0) out.events = events;
    if (todos.length > 0) out.todos = todos;
    if (plans.length > 0) out.planVersions = plans;
    if (commands.length > 0) out.commands = commands;
    return { rewrite: out, rows };
  }

  // ── the Store port ─────────────────────────────────────────────────────────────────────────────

  async createSession(
    session: NewSession,
    owner: string,
    leaseTtlMs: number,
  ): ReturnType<Store['createSession']> {
    const s = session as NewSession & { tenantId?: string; events?: AgentEvent[] };
    this.#remember(s.id, s.tenantId);
    const stateSlot = slot('state', s.state as unknown as Json);
    const events = (s.events ?? []).map((e) => this.#eventSlot(e));
    await this.#sealAll(s.id, [stateSlot, ...events.map(([sl]) => sl)]);
    const sealed: NewSession & { events?: AgentEvent[] } = {
      ...s,
      state: EncryptedStore.#sealedField(stateSlot) as unknown as SessionState,
    };
    if (s.events) sealed.events = events.map(([, row]) => row());
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
    const events = c.events.map((e) => this.#eventSlot(e));
    const todos = c.todos.map((t) => this.#todoSlot(t));
    const plans = c.planVersions.map((p) => this.#planSlot(p));
    const st = c.state as unknown as Record<string, unknown> | undefined;
    const parts =
      st !== undefined && VOLATILE in st && this.#codec.sealText
        ? this.#stateParts(c.sessionId, st)
        : undefined;
    const stateSlot = c.state === undefined || parts ? undefined : slot('state', c.state as unknown as Json);
    const slots = [...events, ...todos, ...plans].map(([sl]) => sl);
    if (stateSlot) slots.push(stateSlot);
    if (parts) {
      slots.push(parts.head);
      if (parts.body) slots.push(parts.body);
    }
    await this.#sealAll(c.sessionId, slots);
    const sealed: Commit = {
      ...c,
      events: events.map(([, row]) => row()),
      todos: todos.map(([, row]) => row()),
      planVersions: plans.map(([, row]) => row()),
    };
    if (stateSlot) sealed.state = EncryptedStore.#sealedField(stateSlot) as unknown as SessionState;
    if (parts) sealed.state = parts.build();
    return this.#inner.commit(sealed);
  }

  async getTodos(sessionId: string, turnId: string): Promise<TodoRecord[]> {
    const memo: Memo = new Map();
    return Promise.all((await this.#inner.getTodos(sessionId, turnId)).map((t) => this.#openTodo(t, memo)));
  }

  async getPlan(sessionId: string, planId: string, version?: number): Promise<PlanVersionRecord | undefined> {
    const p = await this.#inner.getPlan(sessionId, planId, version);
    return p ? this.#openPlan(p) : undefined;
  }

  async listPlanVersions(sessionId: string, planId: string): Promise<PlanVersionRecord[]> {
    const memo: Memo = new Map();
    return Promise.all(
      (await this.#inner.listPlanVersions(sessionId, planId)).map((p) => this.#openPlan(p, memo)),
    );
  }

  async readEvents(sessionId: string, options?: { after?: number; limit?: number }): Promise<AgentEvent[]> {
    const memo: Memo = new Map();
    return Promise.all(
      (await this.#inner.readEvents(sessionId, options)).map((e) => this.#openEvent(e, memo)),
    );
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

/** Options of {@link reencryptStore}. */
export interface ReencryptOptions {
  /** The codec the store is encrypted with; its key provider's current key is the one rows move to. */
  codec: Codec;
  /** Seal rows written before encryption was turned on (default false: such a row fails the job). */
  allowPlaintext?: boolean;
  /** As in {@link EncryptedStoreOptions.batchBytes}, for the plaintext rows the job seals (default 4096). */
  batchBytes?: number;
  /** Sessions read per page (default 100, at most 1000). */
  pageSize?: number;
  /** Resume after this session id (the `after` of an earlier run's progress or result). */
  after?: string;
  /** Stops the job between two sessions; the result then has `done: false` and the cursor to resume. */
  signal?: AbortSignal;
  /** Called after each session with the running totals. */
  onProgress?: (progress: ReencryptProgress) => void;
  /**
   * Attempts per session when a concurrent commit moves it between read and rewrite (default 20). A
   * session still moving after them is listed in `skipped`: run the job again later.
   */
  maxAttempts?: number;
}

/** Running totals of {@link reencryptStore}. */
export interface ReencryptProgress {
  /** Sessions looked at. */
  sessions: number;
  /** Sessions that had rows to rotate and were rewritten. */
  rewritten: number;
  /** Rows rewritten (states, events, todos, plan versions, inbox commands). */
  rows: number;
  /** The last session id done: pass it as `after` to resume. */
  after: string | undefined;
  /** Sessions that kept moving under concurrent commits (not rotated: run again). */
  skipped: string[];
}

/** What {@link reencryptStore} did. */
export interface ReencryptResult extends ReencryptProgress {
  /** True when every session was looked at (false when `signal` stopped the job). */
  done: boolean;
}

const pause = async (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Key rotation: rewrites every row of the store that is not sealed with the current key (and, with
 * `allowPlaintext`, seals plaintext rows), page by page and session by session, so that old keys can
 * then be removed from the key ring. Each session is rewritten atomically with the store's
 * `rewriteRecords`, fenced by its version: a session driven meanwhile keeps running, and when its commit
 * lands between the job's read and write the job reads again (nothing it wrote is ever overwritten). Rows
 * already under the current key are skipped (the codec's `isCurrent`), so a re-run is cheap and an
 * interrupted run can simply start again or resume from `after`.
 *
 * Pass the backend store (the one `encryptedStore` wraps), not the wrapper. Run it after making the new
 * key current on every node; new writes then already use it.
 *
 * @param store - the backend store (it must implement `readRecords` and `rewriteRecords`)
 * @param options - codec, paging, resume cursor, signal, progress callback
 * @returns the totals, the resume cursor and whether the whole store was covered
 * @throws DreamAgentError `INVALID_STATE` when the store cannot read or rewrite records; `INVALID_INPUT`
 *   on a bad page size; `DECRYPTION_FAILED` when a row cannot be opened (wrong or removed key, tampered
 *   row, or plaintext without `allowPlaintext`) — the rows before it stay rotated, re-run after fixing it
 * @example
 * ```ts
 * const keys = new StaticKeyring({ keys: { k1: oldKey, k2: newKey }, current: 'k2' });
 * const codec = new AesGcmCodec(keys);
 * const r = await reencryptStore(backend, { codec, onProgress: (p) => log.info(p, 'rotating') });
 * // r.done && r.skipped.length === 0 → k1 can be removed from the key ring
 * ```
 */
export async function reencryptStore(store: Store, options: ReencryptOptions): Promise<ReencryptResult> {
  const read = store.readRecords?.bind(store);
  const rewrite = store.rewriteRecords?.bind(store);
  if (!read || !rewrite) {
    throw new DreamAgentError(
      'INVALID_STATE',
      'this store cannot rewrite records (no readRecords/rewriteRecords): pass the backend store, not a wrapper',
    );
  }
  const pageSize = options.pageSize ?? 100;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
    throw new DreamAgentError(
      'INVALID_INPUT',
      `pageSize must be an integer in 1..1000, got ${String(pageSize)}`,
    );
  }
  const maxAttempts = options.maxAttempts ?? 20;
  const job = new EncryptedStore(store, {
    codec: options.codec,
    allowPlaintext: options.allowPlaintext ?? false,
    ...(options.batchBytes === undefined ? {} : { batchBytes: options.batchBytes }),
  });
  const progress: ReencryptProgress = {
    sessions: 0,
    rewritten: 0,
    rows: 0,
    after: options.after,
    skipped: [],
  };
  const result = (done: boolean): ReencryptResult => ({ ...progress, skipped: [...progress.skipped], done });
  for (;;) {
    const page = await store.listSessions({
      limit: pageSize,
      ...(progress.after === undefined ? {} : { after: progress.after }),
    });
    for (const s of page) {
      if (options.signal?.aborted) return result(false);
      for (let attempt = 1; ; attempt += 1) {
        const recs = await read(s.id);
        if (!recs) break; // erased meanwhile
        const plan = await job.rotation(recs);
        if (!plan) break;
        try {
          await rewrite(plan.rewrite);
          progress.rewritten += 1;
          progress.rows += plan.rows;
          break;
        } catch (e) {
          if (isDreamAgentError(e) && e.code === 'SESSION_NOT_FOUND') break;
          if (!isDreamAgentError(e) || e.code !== 'CONFLICT') throw e;
          if (attempt >= maxAttempts) {
            progress.skipped.push(s.id);
            break;
          }
          await pause(Math.min(2 * attempt, 50));
        }
      }
      progress.sessions += 1;
      progress.after = s.id;
      options.onProgress?.({ ...progress, skipped: [...progress.skipped] });
    }
    if (page.length < pageSize) return result(true);
  }
}
