/**
 * A tamper-evident audit trail: every committed event of a session — plan versions, approval decisions
 * with the effect they covered, applied and rejected commands, todo outcomes, answers — is linked into a
 * SHA-256 hash chain, and every command a commit acknowledges is folded into the chain with its full
 * inbox entry (who sent what, when, from where). `verifyAudit` recomputes the chain and names each edited,
 * deleted, reordered or truncated entry.
 *
 * The chain lives in the Store itself, written in the same atomic commit as what it covers, so it cannot
 * drift from the data and needs nothing from the backend but the Store port: `auditedStore(store)`
 * stamps each event with `{ prev, hash }` (stripped again when events are read through it) and keeps the
 * chain head in the session row, which catches a truncated tail. A database owner who rewrites the whole
 * chain consistently is caught only by an anchor kept elsewhere: export `auditHead()` to an append-only
 * log you trust (or compose with `encryptedStore`, so rows cannot be rewritten without the keys).
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../errors/index.js';
import type { AgentEvent } from '../model/events.js';
import { hash as oneShotHash } from 'node:crypto';
import { cloneJson, freezeJson, type Json, type JsonObject } from '../model/json.js';
import type { InboxEntry, SessionRecord, SessionState, TodoRecord } from '../model/session.js';
import type { Commit, CommitResult, NewSession, Store } from '../ports/store.js';

/**
 * SHA-256 as hex with the one-shot `crypto.hash` (about a third of the cost of a Hash object for the
 * small texts the chain hashes; Node ≥ 20.12, the engines field asks for 20.19).
 */
const sha256Hex = (text: string): string => oneShotHash('sha256', text, 'hex');

const MARK = '$audit';
const GENESIS = '0'.repeat(64);

/** The chain fields stamped on each stored event. */
interface EventStamp {
  prev: string;
  hash: string;
  /** Inbox entries this commit acknowledged, folded into the first event's hash. */
  commands?: { id: string; status: string; digest: string }[];
  /** Digests of the todo and session rows this commit wrote, folded into the first event's hash. */
  rows?: RowDigests;
}

/**
 * What a commit wrote besides events: `[turnId, todoId, digest]` per todo row and the digest of the
 * session state. Mutable rows are covered by their last digest in the chain: `verifyAudit` recomputes
 * each row's digest and names the row when it differs.
 */
interface RowDigests {
  todos?: [string, string, string][];
  state?: string;
}

/** The chain head kept in the session row. */
export interface AuditHead {
  /** The session the chain belongs to. */
  sessionId: string;
  /** Seq of the last chained event (0 when none). */
  seq: number;
  /** Its hash (64 zeros when none). */
  hash: string;
}

/** One entry of the exported trail. */
export interface AuditEntry {
  /** The session the event belongs to. */
  sessionId: string;
  /** The event's seq in the session's log (1-based, contiguous). */
  seq: number;
  /** When the event was committed, epoch ms (0 when the event carries no time). */
  at: number;
  /** The event type (`plan.proposed`, `approval.granted`, …). */
  type: string;
  /** Who caused it, when the event names an actor. */
  actor?: string;
  /** The hash of the entry before (64 zeros for the first); empty for an event stored without a stamp. */
  prev: string;
  /**
   * SHA-256 (hex) over `prev`, the event and the commands and rows its commit covered; empty for an event
   * stored without a stamp.
   */
  hash: string;
  /** The event itself. */
  event: JsonObject;
  /** Commands acknowledged with it: the full inbox entry and whether it was applied. */
  commands?: {
    /** The inbox command's id. */
    id: string;
    /** `applied` or `rejected`, as the commit acknowledged it. */
    status: string;
    /**
     * SHA-256 (hex) of the entry's id, session, command, actor and arrival time; empty when it was missing.
     */
    digest: string;
    /** The inbox entry as the store holds it now; absent when the store no longer has it. */
    entry?: JsonObject;
  }[];
}

/** A problem found by `verifyAudit`. */
export interface AuditProblem {
  /**
   * `edited`, `deleted`, `reordered`, `truncated`, `unchained` concern the event chain; `command_edited`
   * an acknowledged inbox entry; `row_edited` and `row_deleted` a todo or session row that differs from,
   * or lacks, the digest the chain recorded for it.
   */
  kind:
    | 'edited'
    | 'deleted'
    | 'reordered'
    | 'truncated'
    | 'command_edited'
    | 'unchained'
    | 'row_edited'
    | 'row_deleted';
  /** The seq of the entry where the problem was found (for `truncated`, where the chain ends). */
  seq: number;
  /** What was found, for people (`the chain ends at 12, the session's head says 14`). */
  message: string;
}

/** What `verifyAudit` returns. */
export interface AuditReport {
  /** The session verified. */
  sessionId: string;
  /** True when the chain and every row it covers verified: `problems` is empty. */
  ok: boolean;
  /** Entries checked. */
  entries: number;
  /** The chain head stored in the session row, as `auditHead` returns it (pass an old one as the anchor). */
  head: AuditHead;
  /** Every problem found; empty when `ok`. */
  problems: AuditProblem[];
}

const toJson = (v: unknown): Json => JSON.parse(JSON.stringify(v)) as Json;

/**
 * Canonical JSON as a store round trip leaves it: keys sorted, `undefined` properties dropped (as
 * `JSON.stringify` drops them), so the hash of an event before it is stored equals the hash recomputed
 * from the stored row — without serialising every event twice on the hot path.
 */
function stable(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      // Exactly what JSON.stringify writes (same number-to-string algorithm; non-finite → null).
      return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      break;
    default:
      return JSON.stringify(v) ?? 'null';
  }
  if (v === null) return 'null';
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i += 1) {
      const x: unknown = v[i];
      out += `${i > 0 ? ',' : ''}${x === undefined || typeof x === 'function' ? 'null' : stable(x)}`;
    }
    return `${out}]`;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort();
  let out = '{';
  for (const k of keys) {
    const x = o[k];
    if (x === undefined || typeof x === 'function') continue;
    out += `${out.length > 1 ? ',' : ''}${quotedKey(k)}:${stable(x)}`;
  }
  return `${out}}`;
}

/** Keys repeat across every event and row: their JSON form is computed once (bounded). */
const KEY_JSON = new Map<string, string>();
function quotedKey(k: string): string {
  let q = KEY_JSON.get(k);
  if (q === undefined) {
    q = JSON.stringify(k);
    if (KEY_JSON.size < 4096) KEY_JSON.set(k, q);
  }
  return q;
}

const stripStamp = (e: AgentEvent): { event: JsonObject; stamp: EventStamp | undefined } => {
  const raw = { ...(e as unknown as Record<string, unknown>) };
  const stamp = raw[MARK] as EventStamp | undefined;
  delete raw[MARK];
  return { event: raw as JsonObject, stamp };
};

const entryDigest = (entry: InboxEntry): string =>
  sha256Hex(
    stable({
      id: entry.id,
      sessionId: entry.sessionId,
      command: entry.command,
      actor: entry.actor,
      receivedAt: entry.receivedAt,
    }),
  );

const linkHash = (prev: string, event: object, commands: EventStamp['commands'], rows?: RowDigests): string =>
  sha256Hex(
    `${prev}\n${stable(event)}\n${commands ? stable(commands) : ''}${rows ? `\n${stable(rows)}` : ''}`,
  );

const todoDigest = (t: TodoRecord): string => sha256Hex(stable(t));
const stateDigest = (s: SessionState): string => sha256Hex(stable(withoutHead(s)));

/** The head as stored in the session row; `rows` holds digests of rows written by commits without events. */
interface StoredHead {
  seq: number;
  hash: string;
  rows?: RowDigests;
}

const storedHeadOf = (state: SessionState | undefined): StoredHead | undefined =>
  (state as unknown as Record<string, unknown> | undefined)?.[MARK] as StoredHead | undefined;

const headOf = (state: SessionState | undefined, sessionId: string): AuditHead => {
  const h = storedHeadOf(state);
  return { sessionId, seq: h?.seq ?? 0, hash: h?.hash ?? GENESIS };
};

/** Folds newer row digests over older ones (todos by turn and id, the state replaced). */
function mergeRows(older: RowDigests | undefined, newer: RowDigests | undefined): RowDigests | undefined {
  if (!older) return newer;
  if (!newer) return older;
  const todos = new Map<string, [string, string, string]>();
  for (const t of [...(older.todos ?? []), ...(newer.todos ?? [])]) todos.set(`${t[0]}\u0000${t[1]}`, t);
  const out: RowDigests = {};
  if (todos.size > 0) out.todos = [...todos.values()];
  const state = newer.state ?? older.state;
  if (state !== undefined) out.state = state;
  return out;
}

const withoutHead = (state: SessionState): SessionState => {
  if (!(MARK in (state as unknown as Record<string, unknown>))) return state;
  const copy = { ...(state as unknown as Record<string, unknown>) };
  delete copy[MARK];
  return copy as unknown as SessionState;
};

/**
 * Wraps a store so that every commit extends the session's audit hash chain atomically with what it
 * covers. Reads through the wrapper return events and state exactly as without it.
 *
 * @param store - the backend (compose as `auditedStore(encryptedStore(store, …))` to seal the trail too)
 * @returns a Store with the same contract, plus `verifyAudit`, `exportAudit` and `auditHead`
 * @example
 * ```ts
 * const store = auditedStore(new SqliteStore('agent.db'));
 * const agent = new Agent({ store });
 * // …later, or in a nightly job:
 * const report = await store.verifyAudit(sessionId); // { ok, problems: [{ kind: 'edited', seq: 12 }] }
 * ```
 */
export function auditedStore(store: Store): AuditedStore {
  return new AuditedStore(store);
}

/** A Store that keeps a hash-chained audit trail; see {@link auditedStore}. */
export class AuditedStore implements Store {
  readonly #inner: Store;
  /** Last chain head this node committed or read, per session (a cache: a miss costs one read). */
  readonly #heads = new Map<string, AuditHead>();
  /**
   * The last state this node wrote or read per session, with its version: a commit without a new state
   * must still rewrite the head inside the state, and this saves reading the row back first.
   */
  readonly #states = new Map<
    string,
    { version: number; state: SessionState; head: StoredHead | undefined }
  >();
  claimStale?: NonNullable<Store['claimStale']>;
  close?: NonNullable<Store['close']>;
  deleteSession?: (sessionId: string) => Promise<boolean>;

  /** @param inner - the backend */
  constructor(inner: Store) {
    this.#inner = inner;
    if (inner.claimStale) this.claimStale = inner.claimStale.bind(inner);
    if (inner.close) this.close = inner.close.bind(inner);
    const del = (inner as { deleteSession?: (id: string) => Promise<boolean> }).deleteSession;
    if (del) {
      this.deleteSession = async (id: string) => {
        this.#heads.delete(id);
        this.#states.delete(id);
        return del.call(inner, id);
      };
    }
  }

  #cache(head: AuditHead): void {
    if (this.#heads.size >= 10_000 && !this.#heads.has(head.sessionId)) {
      const oldest = this.#heads.keys().next();
      if (!oldest.done) this.#heads.delete(oldest.value);
    }
    this.#heads.set(head.sessionId, head);
  }

  #keepState(sessionId: string, version: number, state: SessionState): void {
    if (this.#states.size >= 1000 && !this.#states.has(sessionId)) {
      const oldest = this.#states.keys().next();
      if (!oldest.done) this.#states.delete(oldest.value);
    }
    // A deep copy, deep-frozen: the caller may change the objects it was handed or passed in, and a
    // frozen copy is shared rather than copied again by every commit that rewrites only the head in it
    // (`cloneJson` in the stores; `encryptedStore` reuses the sealed state while its parts are the same).
    const copy = freezeJson(cloneJson(state as unknown as Json)) as unknown as SessionState;
    this.#states.set(sessionId, { version, state: withoutHead(copy), head: storedHeadOf(copy) });
  }

  async #headBefore(sessionId: string, seq: number): Promise<AuditHead> {
    const cached = this.#heads.get(sessionId);
    if (cached && cached.seq === seq) return cached;
    if (seq === 0) return { sessionId, seq: 0, hash: GENESIS };
    const [prev] = await this.#inner.readEvents(sessionId, { after: seq - 1, limit: 1 });
    const stamp = prev ? stripStamp(prev).stamp : undefined;
    if (!prev || prev.seq !== seq || !stamp) {
      // The events do not continue the stored log (or it predates the audit): the store's own seq check
      // refuses a gap; an unchained predecessor is reported by verifyAudit.
      return { sessionId, seq, hash: GENESIS };
    }
    return { sessionId, seq, hash: stamp.hash };
  }

  /** Stamps events; returns them with the new head. */
  async #stamp(
    sessionId: string,
    events: AgentEvent[],
    commands: EventStamp['commands'],
    rows?: RowDigests,
  ): Promise<{ events: AgentEvent[]; head: AuditHead | undefined }> {
    const first = events[0];
    if (!first) return { events, head: undefined };
    let { hash } = await this.#headBefore(sessionId, first.seq - 1);
    const out: AgentEvent[] = [];
    for (const [i, e] of events.entries()) {
      const cmds = i === 0 ? commands : undefined;
      const rws = i === 0 ? rows : undefined;
      const next = linkHash(hash, e, cmds, rws);
      const stamp: EventStamp = { prev: hash, hash: next };
      if (cmds) stamp.commands = cmds;
      if (rws) stamp.rows = rws;
      out.push({ ...e, [MARK]: stamp } as unknown as AgentEvent);
      hash = next;
    }
    const last = events[events.length - 1] as AgentEvent;
    return { events: out, head: { sessionId, seq: last.seq, hash } };
  }

  async createSession(
    session: NewSession,
    owner: string,
    leaseTtlMs: number,
  ): ReturnType<Store['createSession']> {
    const s = session as NewSession & { events?: AgentEvent[] };
    const rows: RowDigests = { state: stateDigest(s.state) };
    const { events, head } = await this.#stamp(s.id, s.events ?? [], undefined, rows);
    const h = head ?? { sessionId: s.id, seq: 0, hash: GENESIS };
    const stored: StoredHead = head ? { seq: h.seq, hash: h.hash } : { seq: 0, hash: GENESIS, rows };
    const next: NewSession & { events?: AgentEvent[] } = {
      ...s,
      state: { ...s.state, [MARK]: stored } as unknown as SessionState,
    };
    if (s.events) next.events = events;
    const created = await this.#inner.createSession(next, owner, leaseTtlMs);
    this.#cache(h);
    this.#keepState(s.id, created.record.version, next.state);
    return { ...created, record: { ...created.record, state: withoutHead(created.record.state) } };
  }

  async commit(c: Commit): Promise<CommitResult> {
    let commands: EventStamp['commands'];
    if (c.inboxAcks.length > 0) {
      commands = [];
      for (const ack of c.inboxAcks) {
        const entry = await this.#inner.getCommand(c.sessionId, ack.commandId);
        commands.push({ id: ack.commandId, status: ack.status, digest: entry ? entryDigest(entry) : '' });
      }
    }
    let written: RowDigests | undefined;
    if (c.todos.length > 0 || c.state !== undefined) {
      written = {};
      if (c.todos.length > 0) written.todos = c.todos.map((t) => [t.turnId, t.todoId, todoDigest(t)]);
      if (c.state !== undefined) written.state = stateDigest(c.state);
    }
    // Digests left in the head by earlier commits without events move into the chain with this one.
    const raw = await this.#storedHead(c.sessionId, c.expectedVersion);
    const rows = mergeRows(raw?.rows, written);
    const { events, head } = await this.#stamp(c.sessionId, c.events, commands, rows);
    const next: Commit = { ...c, events };
    // The head is rewritten with whatever changed, in the same commit: it is what catches a cut tail, and
    // it carries the digests of rows a commit without events wrote (they have no event to ride on).
    if (head || rows) {
      const current = c.state ?? (await this.#currentState(c.sessionId, c.expectedVersion));
      let stored: StoredHead;
      if (head) {
        stored = { seq: head.seq, hash: head.hash };
      } else {
        stored = { seq: raw?.seq ?? 0, hash: raw?.hash ?? GENESIS };
        if (rows) stored.rows = rows;
      }
      next.state = { ...current, [MARK]: stored } as unknown as SessionState;
    }
    const result = await this.#inner.commit(next);
    if (head) this.#cache(head);
    const known = this.#states.get(c.sessionId);
    if (c.state === undefined && known && known.version === c.expectedVersion) {
      // The state itself did not change (only, perhaps, the head in it): no copy needed.
      known.version = result.version;
      if (next.state) known.head = storedHeadOf(next.state);
    } else if (next.state) {
      this.#keepState(c.sessionId, result.version, next.state);
    } else {
      this.#states.delete(c.sessionId);
    }
    return result;
  }

  async #storedHead(sessionId: string, version: number): Promise<StoredHead | undefined> {
    const known = this.#states.get(sessionId);
    if (known && known.version === version) return known.head;
    return storedHeadOf(await this.#rawState(sessionId));
  }

  async #rawState(sessionId: string): Promise<SessionState | undefined> {
    return (await this.#inner.getSession(sessionId))?.state;
  }

  async #currentState(sessionId: string, version?: number): Promise<SessionState> {
    const known = this.#states.get(sessionId);
    if (known && version !== undefined && known.version === version) return known.state;
    const state = await this.#rawState(sessionId);
    if (!state)
      throw new DreamAgentError('SESSION_NOT_FOUND', `no session "${sessionId}"`, { details: { sessionId } });
    return withoutHead(state);
  }

  async getSession(sessionId: string): Promise<SessionRecord | undefined> {
    const r = await this.#inner.getSession(sessionId);
    if (!r) return undefined;
    this.#cache(headOf(r.state, sessionId));
    this.#keepState(sessionId, r.version, r.state);
    return { ...r, state: withoutHead(r.state) };
  }

  async listSessions(query: Parameters<Store['listSessions']>[0]): Promise<SessionRecord[]> {
    return (await this.#inner.listSessions(query)).map((r) => ({ ...r, state: withoutHead(r.state) }));
  }

  async readEvents(sessionId: string, options?: { after?: number; limit?: number }): Promise<AgentEvent[]> {
    return (await this.#inner.readEvents(sessionId, options)).map(
      (e) => stripStamp(e).event as unknown as AgentEvent,
    );
  }

  acquireLease(...a: Parameters<Store['acquireLease']>): ReturnType<Store['acquireLease']> {
    return this.#inner.acquireLease(...a);
  }
  renewLease(...a: Parameters<Store['renewLease']>): ReturnType<Store['renewLease']> {
    return this.#inner.renewLease(...a);
  }
  releaseLease(...a: Parameters<Store['releaseLease']>): ReturnType<Store['releaseLease']> {
    return this.#inner.releaseLease(...a);
  }
  getTodos(...a: Parameters<Store['getTodos']>): ReturnType<Store['getTodos']> {
    return this.#inner.getTodos(...a);
  }
  getPlan(...a: Parameters<Store['getPlan']>): ReturnType<Store['getPlan']> {
    return this.#inner.getPlan(...a);
  }
  listPlanVersions(...a: Parameters<Store['listPlanVersions']>): ReturnType<Store['listPlanVersions']> {
    return this.#inner.listPlanVersions(...a);
  }
  enqueueCommand(...a: Parameters<Store['enqueueCommand']>): ReturnType<Store['enqueueCommand']> {
    return this.#inner.enqueueCommand(...a);
  }
  pendingCommands(...a: Parameters<Store['pendingCommands']>): ReturnType<Store['pendingCommands']> {
    return this.#inner.pendingCommands(...a);
  }
  getCommand(...a: Parameters<Store['getCommand']>): ReturnType<Store['getCommand']> {
    return this.#inner.getCommand(...a);
  }

  /**
   * @param sessionId - the session
   * @returns the stored chain head (seq and hash of the last chained event); export it to an anchor you trust
   * @throws `SESSION_NOT_FOUND`
   */
  async auditHead(sessionId: string): Promise<AuditHead> {
    const r = await this.#inner.getSession(sessionId);
    if (!r)
      throw new DreamAgentError('SESSION_NOT_FOUND', `no session "${sessionId}"`, { details: { sessionId } });
    return headOf(r.state, sessionId);
  }

  async *#entries(
    sessionId: string,
  ): AsyncGenerator<{ event: JsonObject; stamp: EventStamp | undefined; seq: number }> {
    let after = 0;
    for (;;) {
      const page = await this.#inner.readEvents(sessionId, { after, limit: 500 });
      if (page.length === 0) return;
      for (const e of page) {
        const { event, stamp } = stripStamp(e);
        yield { event, stamp, seq: e.seq };
      }
      after = (page[page.length - 1] as AgentEvent).seq;
    }
  }

  /**
   * Recomputes the session's chain from the stored rows and compares it with the stored hashes, the
   * stored head and the inbox entries the commits acknowledged.
   *
   * @param sessionId - the session
   * @param anchor - a head exported earlier (optional): the chain must still contain it
   * @returns a report; `ok` is false when anything was edited, deleted, reordered or truncated
   * @throws `SESSION_NOT_FOUND`
   */
  async verifyAudit(sessionId: string, anchor?: AuditHead): Promise<AuditReport> {
    const head = await this.auditHead(sessionId);
    const problems: AuditProblem[] = [];
    let prevHash = GENESIS;
    let expectedSeq = 1;
    let entries = 0;
    let lastSeq = 0;
    let anchorSeen = anchor === undefined || anchor.seq === 0;
    /** Last recorded digest per todo row (turn, todo) and for the state, with the seq that recorded it. */
    const todoDigests = new Map<string, { turnId: string; todoId: string; digest: string; seq: number }>();
    let stateRecord: { digest: string; seq: number } | undefined;
    const record = (rows: RowDigests | undefined, seq: number): void => {
      for (const [turnId, todoId, digest] of rows?.todos ?? []) {
        todoDigests.set(`${turnId}\u0000${todoId}`, { turnId, todoId, digest, seq });
      }
      if (rows?.state !== undefined) stateRecord = { digest: rows.state, seq };
    };
    for await (const { event, stamp, seq } of this.#entries(sessionId)) {
      entries += 1;
      if (seq < expectedSeq) {
        problems.push({ kind: 'reordered', seq, message: `entry ${seq} appears after ${expectedSeq - 1}` });
      } else if (seq > expectedSeq) {
        problems.push({
          kind: 'deleted',
          seq: expectedSeq,
          message: `entries ${expectedSeq}…${seq - 1} are missing`,
        });
      }
      if (!stamp) {
        problems.push({ kind: 'unchained', seq, message: `entry ${seq} carries no chain stamp` });
      } else {
        if (stamp.prev !== prevHash && problems.length === 0) {
          problems.push({
            kind: 'reordered',
            seq,
            message: `entry ${seq} does not follow the entry before it`,
          });
        }
        const recomputed = linkHash(stamp.prev, event, stamp.commands, stamp.rows);
        record(stamp.rows, seq);
        if (recomputed !== stamp.hash) {
          problems.push({
            kind: 'edited',
            seq,
            message: `entry ${seq} (${String(event['type'])}) was changed`,
          });
        }
        for (const c of stamp.commands ?? []) {
          const entry = await this.#inner.getCommand(sessionId, c.id);
          if (!entry || entryDigest(entry) !== c.digest) {
            problems.push({
              kind: 'command_edited',
              seq,
              message: `command ${c.id} differs from what was acknowledged`,
            });
          }
        }
        prevHash = stamp.hash;
        if (anchor && seq === anchor.seq) anchorSeen = stamp.hash === anchor.hash;
      }
      expectedSeq = Math.max(expectedSeq, seq + 1);
      lastSeq = seq;
    }
    if (lastSeq !== head.seq || (head.seq > 0 && prevHash !== head.hash)) {
      problems.push({
        kind: 'truncated',
        seq: lastSeq,
        message: `the chain ends at ${lastSeq}, the session's head says ${head.seq}`,
      });
    }
    problems.push(...(await this.#checkRows(sessionId, head.seq, todoDigests, stateRecord)));
    if (!anchorSeen) {
      problems.push({
        kind: 'truncated',
        seq: anchor?.seq ?? 0,
        message: 'the exported anchor is not in the chain',
      });
    }
    return { sessionId, ok: problems.length === 0, entries, head, problems };
  }

  /** Compares the todo and session rows as stored with the digests the chain (or the head) recorded. */
  async #checkRows(
    sessionId: string,
    headSeq: number,
    todoDigests: Map<string, { turnId: string; todoId: string; digest: string; seq: number }>,
    chainedState: { digest: string; seq: number } | undefined,
  ): Promise<AuditProblem[]> {
    const problems: AuditProblem[] = [];
    const row = await this.#inner.getSession(sessionId);
    const pending = storedHeadOf(row?.state)?.rows;
    for (const [turnId, todoId, digest] of pending?.todos ?? []) {
      todoDigests.set(`${turnId}\u0000${todoId}`, { turnId, todoId, digest, seq: headSeq });
    }
    const expectedState =
      pending?.state !== undefined ? { digest: pending.state, seq: headSeq } : chainedState;
    if (row && expectedState && stateDigest(row.state) !== expectedState.digest) {
      problems.push({
        kind: 'row_edited',
        seq: expectedState.seq,
        message: `the state of session ${sessionId} differs from what was committed`,
      });
    }
    const turns = new Set([...todoDigests.values()].map((t) => t.turnId));
    for (const turnId of turns) {
      const stored = new Map((await this.#inner.getTodos(sessionId, turnId)).map((t) => [t.todoId, t]));
      for (const t of todoDigests.values()) {
        if (t.turnId !== turnId) continue;
        const found = stored.get(t.todoId);
        stored.delete(t.todoId);
        if (!found) {
          problems.push({
            kind: 'row_deleted',
            seq: t.seq,
            message: `todo ${t.todoId} of turn ${turnId} is missing`,
          });
        } else if (todoDigest(found) !== t.digest) {
          problems.push({
            kind: 'row_edited',
            seq: t.seq,
            message: `todo ${t.todoId} of turn ${turnId} differs from what was committed`,
          });
        }
      }
      for (const extra of stored.keys()) {
        problems.push({
          kind: 'unchained',
          seq: headSeq,
          message: `todo ${extra} of turn ${turnId} was never committed through the audit`,
        });
      }
    }
    return problems;
  }

  /**
   * Exports the trail as JSON lines, one {@link AuditEntry} per line, commands with their inbox entries.
   *
   * @param sessionId - the session
   * @returns an async iterable of lines (each ending in `\n`)
   */
  async *exportAudit(sessionId: string): AsyncGenerator<string> {
    for await (const { event, stamp, seq } of this.#entries(sessionId)) {
      const entry: AuditEntry = {
        sessionId,
        seq,
        at: Number(event['at'] ?? 0),
        type: String(event['type']),
        prev: stamp?.prev ?? '',
        hash: stamp?.hash ?? '',
        event,
      };
      const actor = event['actor'];
      if (typeof actor === 'string') entry.actor = actor;
      if (stamp?.commands) {
        entry.commands = [];
        for (const c of stamp.commands) {
          const found = await this.#inner.getCommand(sessionId, c.id);
          entry.commands.push(found ? { ...c, entry: toJson(found) as JsonObject } : c);
        }
      }
      yield `${JSON.stringify(entry)}\n`;
    }
  }
}
