import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { Database as SqliteDatabase, Statement } from 'better-sqlite3';
import { DreamAgentError, isDreamAgentError } from 'dream-agent';
import {
  PLAN_CHECKPOINT_EVERY,
  assertCommitApplies,
  assertRewriteApplies,
  decodePlanVersionAt,
  decodePlanVersions,
  encodePlanVersions,
  type StoredPlanVersion,
} from 'dream-agent/adapter-kit';
import type {
  AgentEvent,
  Commit,
  CommitResult,
  InboxEntry,
  Json,
  LeaseToken,
  NewSession,
  PlanVersionRecord,
  RecordsRewrite,
  SerializedError,
  SessionQuery,
  SessionRecord,
  SessionRecords,
  SessionState,
  SessionStatus,
  Store,
  TodoRecord,
} from 'dream-agent';

/** Options of {@link SqliteStore}. */
export interface SqliteStoreOptions {
  /** A file path (created when missing; `:memory:` for a private in-memory database) or your own `better-sqlite3` Database. */
  database: string | SqliteDatabase;
  /** The clock that decides lease expiry (default `Date.now`). */
  clock?: { now(): number };
  /** How long a writer waits for another process's write lock (default 5,000 ms) before `UNAVAILABLE`. */
  busyTimeoutMs?: number;
  /**
   * Where WAL checkpoints run (file databases; an in-memory database has no WAL).
   * - `'background'` (default): never inside a commit. SQLite's automatic checkpoint (which runs in
   *   whichever commit crosses 1,000 WAL pages, copying pages into the database file and fsyncing it, all
   *   inside that commit) is turned off on this connection, and a worker thread with
   *   its own connection runs a `PASSIVE` checkpoint every `checkpointIntervalMs` (it never blocks
   *   writers). If the worker cannot start, the same checkpoint runs on a timer in this thread, between
   *   commits.
   * - `'auto'`: SQLite's default (`wal_autocheckpoint = 1000`), for callers who manage it themselves.
   */
  checkpoint?: 'background' | 'auto';
  /** How often the background checkpoint runs (default 1,000 ms). */
  checkpointIntervalMs?: number;
  /**
   * How often todo rows journaled by commits are folded into the todos table, between commits
   * (default 200 ms). Reads are exact either way (they overlay the rows not folded yet); the fold only
   * keeps that overlay short. See {@link SqliteStore.foldTodos}.
   */
  foldIntervalMs?: number;
}

interface SessionRow {
  id: string;
  version: number;
  status: string;
  last_seq: number;
  lease_epoch: number;
  lease_owner: string | null;
  lease_expires_at: number;
  state: string;
  created_at: number;
  updated_at: number;
  tenant_id: string | null;
  owner_id: string | null;
}

interface InboxRow {
  id: string;
  session_id: string;
  command: string;
  actor: string;
  received_at: number;
  status: InboxEntry['status'];
  error: string | null;
}

/** The schema, versioned through `PRAGMA user_version`. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE sessions (
     id TEXT PRIMARY KEY, version INTEGER NOT NULL, status TEXT NOT NULL, last_seq INTEGER NOT NULL DEFAULT 0,
     lease_epoch INTEGER NOT NULL DEFAULT 0, lease_owner TEXT, lease_expires_at INTEGER NOT NULL DEFAULT 0,
     state TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;
   CREATE INDEX sessions_status_idx ON sessions (status, id);
   CREATE TABLE events (session_id TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL, PRIMARY KEY (session_id, seq)) WITHOUT ROWID;
   CREATE TABLE todos (session_id TEXT NOT NULL, turn_id TEXT NOT NULL, todo_id TEXT NOT NULL, record TEXT NOT NULL,
     PRIMARY KEY (session_id, turn_id, todo_id)) WITHOUT ROWID;
   CREATE TABLE plan_versions (session_id TEXT NOT NULL, plan_id TEXT NOT NULL, version INTEGER NOT NULL, record TEXT NOT NULL,
     PRIMARY KEY (session_id, plan_id, version)) WITHOUT ROWID;
   CREATE TABLE inbox (n INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, id TEXT NOT NULL, command TEXT NOT NULL,
     actor TEXT NOT NULL, received_at INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'pending', error TEXT, UNIQUE (session_id, id));
   CREATE INDEX inbox_pending_idx ON inbox (session_id, n) WHERE status = 'pending';`,
  // 2: tenants and owners (set at creation, never changed), and leaner cycle tables.
  //    - The event log becomes one row per commit (its events as a JSON array, seqs first_seq..last_seq):
  //      one row and one index entry per cycle whatever the event count, one JSON.stringify per commit.
  //      Existing events become one-event batches.
  //    - Todos and event batches are rowid tables with a small unique index instead of WITHOUT ROWID
  //      tables: their rows carry 1 KB+ of JSON, and a WITHOUT ROWID b-tree keeps whole rows in its
  //      (text-keyed) leaves — measured here, an insert of a 1 KB row cost 2x what it costs in a rowid
  //      table (SQLite's own advice: WITHOUT ROWID suits rows under ~1/20 of a page).
  `ALTER TABLE sessions ADD COLUMN tenant_id TEXT;
   ALTER TABLE sessions ADD COLUMN owner_id TEXT;
   CREATE INDEX sessions_tenant_idx ON sessions (tenant_id, owner_id, id) WHERE tenant_id IS NOT NULL;
   CREATE INDEX sessions_owner_idx ON sessions (owner_id, id) WHERE owner_id IS NOT NULL;
   CREATE TABLE event_batches (session_id TEXT NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,
     events TEXT NOT NULL, UNIQUE (session_id, last_seq));
   INSERT INTO event_batches (session_id, first_seq, last_seq, events)
     SELECT session_id, seq, seq, '[' || event || ']' FROM events ORDER BY session_id, seq;
   DROP TABLE events;
   CREATE TABLE todos_v2 (session_id TEXT NOT NULL, turn_id TEXT NOT NULL, todo_id TEXT NOT NULL, record TEXT NOT NULL,
     UNIQUE (session_id, turn_id, todo_id));
   INSERT INTO todos_v2 (session_id, turn_id, todo_id, record) SELECT session_id, turn_id, todo_id, record FROM todos;
   DROP TABLE todos;
   ALTER TABLE todos_v2 RENAME TO todos;`,
  // 3: the event batch becomes the commit's journal row: it also carries the commit's todo rows (`todos`,
  //    a JSON array), so a cycle writes one row instead of a batch row plus an upsert
  //    into the todos table and its index (two to three WAL pages less per cycle). The todos table is the
  //    folded read model: `sessions.todos_from` is the `last_seq` of the session's oldest batch whose
  //    todos are not folded yet (NULL: all folded), reads overlay those batches on the table, and a
  //    background fold moves them into it. Existing rows stay where they are: all already folded.
  `ALTER TABLE event_batches ADD COLUMN todos TEXT;
   ALTER TABLE sessions ADD COLUMN todos_from INTEGER;`,
];

/** The field of a stored todo row that names the event holding its output (instead of a copy of it). */
const OUTPUT_SEQ = '$outputSeq';

/** How many sessions' status hints a store keeps before starting over (see `SqliteStore.#known`). */
const KNOWN_MAX = 10_000;

/** A todo row as stored: its output may be a reference to the `todo.completed` event holding it. */
type StoredTodo = TodoRecord & { [OUTPUT_SEQ]?: number };

/** A journal row whose todos are not folded yet. */
interface JournalRow {
  first_seq: number;
  events: string;
  todos: string;
}

const SESSION_COLUMNS =
  'id, version, status, last_seq, lease_epoch, lease_owner, lease_expires_at, state, created_at, updated_at, tenant_id, owner_id';
const INBOX_COLUMNS = 'id, session_id, command, actor, received_at, status, error';

const toRecord = (r: SessionRow): SessionRecord => ({
  id: r.id,
  version: r.version,
  status: r.status as SessionStatus,
  lastSeq: r.last_seq,
  leaseEpoch: r.lease_epoch,
  leaseOwner: r.lease_owner,
  leaseExpiresAt: r.lease_expires_at,
  state: JSON.parse(r.state) as SessionState,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  ...(r.tenant_id !== null ? { tenantId: r.tenant_id } : {}),
  ...(r.owner_id !== null ? { ownerId: r.owner_id } : {}),
});

const toEntry = (r: InboxRow): InboxEntry => ({
  id: r.id,
  sessionId: r.session_id,
  command: JSON.parse(r.command) as Json,
  actor: r.actor,
  receivedAt: r.received_at,
  status: r.status,
  ...(r.error !== null ? { error: JSON.parse(r.error) as SerializedError } : {}),
});

const notFound = (sessionId: string): DreamAgentError =>
  new DreamAgentError('SESSION_NOT_FOUND', `no session "${sessionId}"`, { details: { sessionId } });

/** Maps SQLite's busy/locked errors to UNAVAILABLE; rethrows dream-agent errors; the rest is INTERNAL. */
function mapError(e: unknown, what: string): DreamAgentError {
  if (isDreamAgentError(e)) return e;
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  const message = e instanceof Error ? e.message : String(e);
  if (
    code === 'SQLITE_BUSY' ||
    code === 'SQLITE_LOCKED' ||
    code === 'SQLITE_BUSY_SNAPSHOT' ||
    code === 'SQLITE_IOERR'
  ) {
    return new DreamAgentError('UNAVAILABLE', `SQLite is busy (${what}): ${message}`, {
      retryable: true,
      cause: e,
      details: { sqliteCode: String(code) },
    });
  }
  return new DreamAgentError('INTERNAL', `SQLite error (${what}): ${message}`, {
    cause: e,
    details: { sqliteCode: typeof code === 'string' ? code : null },
  });
}

/**
 * The SQLite {@link Store} on better-sqlite3: durable sessions on one machine, the embedded default
 * for single-node servers. WAL mode, one `BEGIN IMMEDIATE` transaction per commit carrying all of a
 * cycle's deltas, and the same version + lease/fencing checks as every store (several processes may
 * share the file: SQLite's write lock serialises them and the checks fence stale writers).
 *
 * A commit is three prepared statements in the usual cycle: the guarded session update (version, lease
 * and seq checked in its `WHERE`; only when it matches nothing is the row read to say why), one event
 * batch row, and the todo upsert — plus the pending-inbox count. WAL checkpoints run off the commit
 * path (see {@link SqliteStoreOptions.checkpoint}).
 *
 * @example
 * ```ts
 * import { SqliteStore } from '@dream-agent/sqlite';
 * const agent = new Agent({ store: new SqliteStore({ database: './agent.db' }) });
 * ```
 */
export class SqliteStore implements Store {
  readonly #db: SqliteDatabase;
  readonly #owned: boolean;
  readonly #clock: { now(): number };
  readonly #st: ReturnType<typeof prepare>;
  readonly #commitTx: (c: Commit, now: number) => CommitResult;
  readonly #createTx: (session: NewSession, owner: string, expires: number, now: number) => SessionRow;
  readonly #deleteTx: (sessionId: string) => boolean;
  readonly #checkpointer: Checkpointer | undefined;
  /** The version and status each session had after this store's last commit to it (a hint, see #applyCommit). */
  readonly #known = new Map<string, { version: number; status: string }>();
  /** Sessions this store journaled todo rows for since the last fold. */
  readonly #dirty = new Set<string>();
  readonly #foldTx: (sessionIds: readonly string[]) => void;
  readonly #foldTimer: NodeJS.Timeout;
  readonly #todosTx: (sessionId: string, turnId: string) => TodoRecord[];

  /**
   * Opens (and migrates) the database.
   *
   * @param options - a path or your Database, the clock, the busy timeout, where checkpoints run; a string is taken as the path
   * @throws `UNAVAILABLE` when the file is locked beyond the busy timeout
   */
  constructor(options: SqliteStoreOptions | string) {
    const opts: SqliteStoreOptions = typeof options === 'string' ? { database: options } : options;
    this.#owned = typeof opts.database === 'string';
    this.#db = typeof opts.database === 'string' ? new Database(opts.database) : opts.database;
    this.#clock = opts.clock ?? { now: () => Date.now() };
    this.#db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
    this.#db.pragma('journal_mode = WAL');
    // WAL + NORMAL: a commit is durable against process crashes (what leases and recovery are about);
    // use FULL for durability against power loss.
    this.#db.pragma('synchronous = NORMAL');
    // Space a row frees (an update that moves it, a delete) is zeroed, so erased data does not linger in
    // unused parts of live pages; in WAL mode this adds no I/O for pages a commit writes anyway.
    this.#db.pragma('secure_delete = ON');
    this.#migrate();
    const db = this.#db;
    this.#st = prepare(db);
    this.#commitTx = db.transaction((c: Commit, now: number) => this.#applyCommit(c, now)).immediate as (
      c: Commit,
      now: number,
    ) => CommitResult;
    this.#createTx = db.transaction((session: NewSession, owner: string, expires: number, now: number) =>
      this.#applyCreate(session, owner, expires, now),
    ).immediate as (session: NewSession, owner: string, expires: number, now: number) => SessionRow;
    this.#deleteTx = db.transaction((sessionId: string) => {
      for (const st of this.#st.deleteChildren) st.run(sessionId);
      return this.#st.deleteSession.run(sessionId).changes > 0;
    }).immediate as (sessionId: string) => boolean;
    this.#foldTx = db.transaction((sessionIds: readonly string[]) => {
      for (const id of sessionIds) this.#foldOne(id);
    }).immediate as (sessionIds: readonly string[]) => void;
    // Deferred: the table and the journal read from one snapshot.
    this.#todosTx = db.transaction((sessionId: string, turnId: string) => this.#todosOf(sessionId, turnId));
    this.#foldTimer = setInterval(() => this.foldTodos(), Math.max(1, opts.foldIntervalMs ?? 200));
    this.#foldTimer.unref();
    const walFile = !db.memory && db.pragma('journal_mode', { simple: true }) === 'wal';
    if (walFile && (opts.checkpoint ?? 'background') === 'background') {
      db.pragma('wal_autocheckpoint = 0');
      this.#checkpointer = startCheckpointer(db, Math.max(10, opts.checkpointIntervalMs ?? 1000));
    }
  }

  #migrate(): void {
    const migrate = this.#db.transaction(() => {
      const current = Number(this.#db.pragma('user_version', { simple: true }));
      for (let v = current; v < MIGRATIONS.length; v += 1) this.#db.exec(MIGRATIONS[v] ?? '');
      if (current < MIGRATIONS.length) this.#db.pragma(`user_version = ${MIGRATIONS.length}`);
    });
    try {
      migrate.immediate();
    } catch (e) {
      throw mapError(e, 'migrate');
    }
  }

  #run<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw mapError(e, what);
    }
  }

  #row(sessionId: string): SessionRow | undefined {
    return this.#st.getSession.get(sessionId) as SessionRow | undefined;
  }

  #applyCreate(session: NewSession, owner: string, expires: number, now: number): SessionRow {
    const events = session.events ?? [];
    const info = this.#st.insertSession.run(
      session.id,
      session.status,
      events.length,
      owner,
      expires,
      JSON.stringify(session.state),
      now,
      now,
      session.tenantId ?? null,
      session.ownerId ?? null,
    );
    if (info.changes === 0)
      throw new DreamAgentError('SESSION_BUSY', `session "${session.id}" already exists`, {
        details: { sessionId: session.id },
      });
    if (events.length > 0)
      this.#st.insertBatch.run(session.id, 1, events.length, JSON.stringify(events), null);
    const row = this.#row(session.id);
    if (!row) throw notFound(session.id);
    return row;
  }

  async createSession(
    session: NewSession,
    owner: string,
    leaseTtlMs: number,
  ): Promise<{ record: SessionRecord; lease: LeaseToken }> {
    await Promise.resolve();
    for (const [i, e] of (session.events ?? []).entries()) {
      if (e.seq !== i + 1 || e.sessionId !== session.id) {
        throw new DreamAgentError(
          'INVALID_INPUT',
          `event seq ${e.seq} of a new session must be ${i + 1} (session "${session.id}")`,
          { details: { sessionId: session.id, expectedSeq: i + 1, seq: e.seq } },
        );
      }
    }
    const now = this.#clock.now();
    return this.#run('createSession', () => {
      const row = this.#createTx(session, owner, now + leaseTtlMs, now);
      this.#known.set(row.id, { version: row.version, status: row.status });
      return { record: toRecord(row), lease: { owner, epoch: row.lease_epoch } };
    });
  }

  async getSession(sessionId: string): Promise<SessionRecord | undefined> {
    await Promise.resolve();
    const row = this.#run('getSession', () => this.#row(sessionId));
    return row ? toRecord(row) : undefined;
  }

  async listSessions(query: SessionQuery): Promise<SessionRecord[]> {
    await Promise.resolve();
    const limit = Math.min(Math.max(query.limit ?? 100, 1), 1000);
    const where: string[] = [];
    const values: (string | number)[] = [];
    if (query.status) {
      where.push(`status IN (${query.status.map(() => '?').join(', ') || 'NULL'})`);
      values.push(...query.status);
    }
    if (query.leaseExpiredBefore !== undefined) {
      where.push('(lease_owner IS NULL OR lease_expires_at <= ?)');
      values.push(query.leaseExpiredBefore);
    }
    if (query.hasPendingCommands)
      where.push(`EXISTS (SELECT 1 FROM inbox i WHERE i.session_id = s.id AND i.status = 'pending')`);
    if (query.tenantId !== undefined) {
      where.push('tenant_id = ?');
      values.push(query.tenantId);
    }
    if (query.ownerId !== undefined) {
      where.push('owner_id = ?');
      values.push(query.ownerId);
    }
    if (query.after !== undefined) {
      where.push('id > ?');
      values.push(query.after);
    }
    const sql = `SELECT ${SESSION_COLUMNS} FROM sessions s ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ${limit}`;
    return this.#run('listSessions', () =>
      (this.#db.prepare(sql).all(...values) as SessionRow[]).map(toRecord),
    );
  }

  async acquireLease(sessionId: string, owner: string, ttlMs: number): Promise<LeaseToken | undefined> {
    await Promise.resolve();
    const now = this.#clock.now();
    return this.#run('acquireLease', () => {
      const row = this.#st.acquire.get(owner, now + ttlMs, sessionId, now) as
        { lease_epoch: number } | undefined;
      if (row) return { owner, epoch: row.lease_epoch };
      if (!this.#row(sessionId)) throw notFound(sessionId);
      return undefined;
    });
  }

  async renewLease(sessionId: string, lease: LeaseToken, ttlMs: number): Promise<number | undefined> {
    await Promise.resolve();
    const now = this.#clock.now();
    return this.#run('renewLease', () => {
      const row = this.#st.renew.get(now + ttlMs, sessionId, lease.epoch, lease.owner, now) as
        { lease_expires_at: number } | undefined;
      if (row) return row.lease_expires_at;
      if (!this.#row(sessionId)) throw notFound(sessionId);
      return undefined;
    });
  }

  async releaseLease(sessionId: string, lease: LeaseToken): Promise<void> {
    await Promise.resolve();
    this.#run('releaseLease', () => {
      const info = this.#st.release.run(sessionId, lease.epoch, lease.owner);
      if (info.changes === 0 && !this.#row(sessionId)) throw notFound(sessionId);
    });
  }

  #applyCommit(c: Commit, now: number): CommitResult {
    const release = c.leaseAction === 'release';
    const expires = release ? 0 : now + c.leaseTtlMs;
    const first = c.events[0]?.seq;
    // The guarded write first: version, lease and seq are checked in its WHERE, so the usual commit
    // reads nothing. Events must also be contiguous among themselves (checked before any write).
    let contiguous = true;
    for (const [i, e] of c.events.entries()) {
      if (e.seq !== (first ?? 0) + i || e.sessionId !== c.sessionId) contiguous = false;
    }
    // The commit's todo rows ride in its journal row (the event batch) when it has events; they are
    // folded into the todos table later (see #fold). `journalSeq` is that row's last_seq.
    const journal = first !== undefined && c.todos.length > 0;
    const journalSeq = journal ? first - 1 + c.events.length : null;
    // SQLite rewrites an index entry whenever its column is assigned, even to the same value: a commit
    // that names the session's current status (the usual cycle says 'running' again) would dirty a
    // page of sessions_status_idx, one more WAL frame per commit. So the status is assigned only when
    // it changes. The status this store's last commit returned is a hint (no read): the update keeping
    // the status also requires it in its WHERE, so a wrong hint matches nothing and the row is read.
    const known = this.#known.get(c.sessionId);
    const hint = known !== undefined && known.version === c.expectedVersion ? known.status : undefined;
    const keep = c.status === undefined || c.status === hint;
    const args = [
      c.state === undefined ? null : JSON.stringify(c.state),
      journalSeq,
      now,
      release ? 1 : 0,
      expires,
      c.sessionId,
      c.expectedVersion,
      c.lease.epoch,
      c.lease.owner,
      now,
      first === undefined ? null : first - 1,
    ];
    type Updated = { version: number; last_seq: number; status: string; pending: number };
    let updated = !contiguous
      ? undefined
      : keep
        ? (this.#st.updateKeepStatus.get(c.events.length, ...args, c.status ?? null) as Updated | undefined)
        : (this.#st.update.get(c.events.length, c.status, ...args) as Updated | undefined);
    if (!updated) {
      // Nothing written: say why, with the contract's exact errors.
      const r = this.#row(c.sessionId);
      if (!r) throw notFound(c.sessionId);
      assertCommitApplies(
        c,
        {
          version: r.version,
          lastSeq: r.last_seq,
          leaseEpoch: r.lease_epoch,
          leaseOwner: r.lease_owner,
          leaseExpiresAt: r.lease_expires_at,
        },
        now,
      );
      // The commit applies: only the status hint was wrong. Write it with the status read.
      updated =
        c.status === undefined || c.status === r.status
          ? (this.#st.updateKeepStatus.get(c.events.length, ...args, null) as Updated | undefined)
          : (this.#st.update.get(c.events.length, c.status, ...args) as Updated | undefined);
      if (!updated) throw new DreamAgentError('INTERNAL', `commit of "${c.sessionId}" matched no row`);
    }
    // Writes: any throw below rolls the whole transaction back (the update included).
    // A todo's output travels twice in a completing cycle: in its todo.completed event and in its row.
    // The row then stores the event's seq instead of the output (getTodos reads it back from the event):
    // a row of a few hundred bytes instead of a copy of the output, one JSON serialisation less.
    let completed: Map<string, AgentEvent & { type: 'todo.completed' }> | undefined;
    if (c.todos.length > 0) {
      for (const e of c.events) {
        if (e.type !== 'todo.completed') continue;
        (completed ??= new Map()).set(`${e.turnId ?? ''}\u0000${e.todoId}`, e);
      }
    }
    const stored = (t: TodoRecord): TodoRecord => {
      const e = completed?.get(`${t.turnId}\u0000${t.todoId}`);
      return e !== undefined && t.output !== undefined && e.output === t.output
        ? (Object.assign({}, t, { output: undefined, [OUTPUT_SEQ]: e.seq }) as TodoRecord)
        : t;
    };
    if (first !== undefined)
      this.#st.insertBatch.run(
        c.sessionId,
        first,
        updated.last_seq,
        JSON.stringify(c.events),
        journal ? JSON.stringify(c.todos.map(stored)) : null,
      );
    if (journal) this.#dirty.add(c.sessionId);
    else if (c.todos.length > 0) {
      // No journal row to carry them (a commit without events): written to the table directly, after
      // folding what the journal holds so the older journal copies cannot shadow these.
      this.#foldOne(c.sessionId);
      for (const t of c.todos)
        this.#st.upsertTodo.run(c.sessionId, t.turnId, t.todoId, JSON.stringify(stored(t)));
    }
    // Plan versions are stored as patches against the version before them (read here, under the write
    // lock, only for commits that carry a plan version), with a full plan every PLAN_CHECKPOINT_EVERY.
    const planRows =
      c.planVersions.length === 0
        ? []
        : encodePlanVersions(c.planVersions, (planId, version) => this.#planAt(c.sessionId, planId, version));
    for (const [i, p] of c.planVersions.entries()) {
      try {
        this.#st.insertPlan.run(c.sessionId, p.plan.id, p.plan.version, JSON.stringify(planRows[i]));
      } catch (e) {
        if ((e as { code?: unknown }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
          throw new DreamAgentError(
            'CONFLICT',
            `plan ${p.plan.id} version ${p.plan.version} already exists`,
            {
              details: { planId: p.plan.id, version: p.plan.version },
            },
          );
        }
        throw e;
      }
    }
    for (const a of c.inboxAcks) {
      const info = this.#st.ack.run(
        a.status,
        a.error ? JSON.stringify(a.error) : null,
        c.sessionId,
        a.commandId,
      );
      if (info.changes === 0)
        throw new DreamAgentError('INVALID_INPUT', `no inbox command "${a.commandId}"`, {
          details: { commandId: a.commandId },
        });
    }
    // The update returned the pending count; acks written after it change it.
    const pending =
      c.inboxAcks.length === 0
        ? updated.pending
        : (this.#st.pendingCount.get(c.sessionId) as { n: number }).n;
    if (release) this.#known.delete(c.sessionId);
    else {
      if (this.#known.size >= KNOWN_MAX) this.#known.clear();
      this.#known.set(c.sessionId, { version: updated.version, status: updated.status });
    }
    return {
      version: updated.version,
      lastSeq: updated.last_seq,
      leaseExpiresAt: expires,
      pendingCommands: pending,
    };
  }

  async commit(c: Commit): Promise<CommitResult> {
    await Promise.resolve();
    const now = this.#clock.now();
    return this.#run('commit', () => this.#commitTx(c, now));
  }

  /**
   * Deletes the session and everything stored for it (events, todos, plan versions, inbox) in one
   * transaction.
   *
   * @param sessionId - the session
   * @returns whether it existed
   * @throws `UNAVAILABLE` when the file stays locked beyond the busy timeout
   */
  async deleteSession(sessionId: string): Promise<boolean> {
    await Promise.resolve();
    return this.#run('deleteSession', () => {
      const deleted = this.#deleteTx(sessionId);
      this.#dirty.delete(sessionId);
      this.#known.delete(sessionId);
      // The WAL still holds the pages as they were before the delete: move the zeroed pages into the
      // database and empty the log, so the file holds no copy of what was erased (a reader holding an
      // old snapshot can keep it from completing: the next erasure, or the checkpointer, finishes it).
      if (deleted && !this.#db.memory) this.#truncateWal();
      return deleted;
    });
  }

  #truncateWal(): void {
    try {
      this.#db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      /* busy: the background checkpointer moves the pages; the next erasure truncates */
    }
  }

  async getTodos(sessionId: string, turnId: string): Promise<TodoRecord[]> {
    await Promise.resolve();
    return this.#run('getTodos', () => this.#todosTx(sessionId, turnId));
  }

  /**
   * The todo rows of a session (of one turn, or all), outputs resolved: the folded table overlaid with
   * the journal rows not folded yet (later rows win), in (turn, todo) order. Call inside a transaction.
   */
  #todosOf(sessionId: string, turnId: string | undefined): TodoRecord[] {
    const rows = (
      turnId === undefined
        ? this.#rewriter().st.allTodos.all(sessionId)
        : this.#st.todos.all(sessionId, turnId)
    ) as { record: string }[];
    const byKey = new Map<string, TodoRecord>();
    const batches = new Map<number, { first: number; events: AgentEvent[] }>();
    for (const r of rows) {
      const t = JSON.parse(r.record) as StoredTodo;
      const seq = t[OUTPUT_SEQ];
      if (seq !== undefined) {
        delete t[OUTPUT_SEQ];
        // The output lives in the todo.completed event at `seq` (written in the same commit).
        let batch = [...batches.values()].find((b) => seq >= b.first && seq < b.first + b.events.length);
        if (!batch) {
          const row = this.#st.batchAt.get(sessionId, seq) as
            { first_seq: number; events: string } | undefined;
          if (row) {
            batch = { first: row.first_seq, events: JSON.parse(row.events) as AgentEvent[] };
            batches.set(row.first_seq, batch);
          }
        }
        const e = batch?.events[seq - (batch?.first ?? 0)];
        if (e?.type === 'todo.completed') t.output = e.output;
      }
      byKey.set(`${t.turnId}\u0000${t.todoId}`, t);
    }
    const from = this.#st.todosFrom.get(sessionId) as number | null | undefined;
    if (from !== null && from !== undefined) {
      for (const j of this.#st.journal.all(sessionId, from) as JournalRow[]) {
        let events: AgentEvent[] | undefined;
        for (const t of JSON.parse(j.todos) as StoredTodo[]) {
          if (turnId !== undefined && t.turnId !== turnId) continue;
          const seq = t[OUTPUT_SEQ];
          if (seq !== undefined) {
            delete t[OUTPUT_SEQ];
            events ??= JSON.parse(j.events) as AgentEvent[];
            const e = events[seq - j.first_seq];
            if (e?.type === 'todo.completed') t.output = e.output;
          }
          byKey.set(`${t.turnId}\u0000${t.todoId}`, t);
        }
      }
    }
    const out = [...byKey.values()];
    out.sort((a, b) =>
      a.turnId === b.turnId ? (a.todoId < b.todoId ? -1 : 1) : a.turnId < b.turnId ? -1 : 1,
    );
    return out;
  }

  /** Moves one session's journaled todo rows into the todos table. Call inside a write transaction. */
  #foldOne(sessionId: string): void {
    this.#dirty.delete(sessionId);
    const from = this.#st.todosFrom.get(sessionId) as number | null | undefined;
    if (from === null || from === undefined) return;
    // One statement, in SQLite: later journal rows (and later rows within one) win. The journal rows
    // keep their copies (rewriting them would cost as many pages again): only the watermark moves, and
    // reads overlay nothing below it. A rewrite clears them (see #rewriter).
    this.#st.foldJournal.run(sessionId, from);
    this.#st.folded.run(sessionId);
  }

  /**
   * Folds the todo rows that this store's commits journaled into the todos table now, in one
   * transaction (a timer does it every `foldIntervalMs`; `close()` does it too). Reads never depend on
   * it: they overlay what is not folded yet. A database left by a process that stopped before folding
   * is folded by the next commit of todos to that session without events, or stays exact as it is.
   *
   * @returns how many sessions were folded (0 when the database was busy: the next run retries)
   */
  foldTodos(): number {
    if (this.#dirty.size === 0 || !this.#db.open) return 0;
    const ids = [...this.#dirty];
    try {
      this.#foldTx(ids);
      return ids.length;
    } catch {
      // Busy (another process writing) or closed: the sessions stay dirty, the next run retries.
      for (const id of ids) this.#dirty.add(id);
      return 0;
    }
  }

  /** Rebuilds one stored plan version (the latest when `version` is omitted) from its checkpoint. */
  #planAt(
    sessionId: string,
    planId: string,
    version: number | undefined,
  ): ReturnType<typeof decodePlanVersionAt> {
    const tail = (
      this.#st.planTail.all(sessionId, planId, version ?? null, PLAN_CHECKPOINT_EVERY) as { record: string }[]
    )
      .map((r) => JSON.parse(r.record) as StoredPlanVersion)
      .reverse();
    if (tail.length === 0) return undefined;
    const found = decodePlanVersionAt(tail, version);
    if (found || tail.length < PLAN_CHECKPOINT_EVERY) return found;
    // No checkpoint in the window (rows written with a longer checkpoint interval): read the whole chain.
    const all = (this.#st.plans.all(sessionId, planId) as { record: string }[]).map(
      (r) => JSON.parse(r.record) as StoredPlanVersion,
    );
    return decodePlanVersionAt(all, version);
  }

  async getPlan(sessionId: string, planId: string, version?: number): Promise<PlanVersionRecord | undefined> {
    await Promise.resolve();
    return this.#run('getPlan', () => this.#planAt(sessionId, planId, version)?.record);
  }

  async listPlanVersions(sessionId: string, planId: string): Promise<PlanVersionRecord[]> {
    await Promise.resolve();
    return this.#run('listPlanVersions', () =>
      decodePlanVersions(
        (this.#st.plans.all(sessionId, planId) as { record: string }[]).map(
          (r) => JSON.parse(r.record) as StoredPlanVersion,
        ),
      ).map((v) => v.record),
    );
  }

  async readEvents(
    sessionId: string,
    options: { after?: number; limit?: number } = {},
  ): Promise<AgentEvent[]> {
    await Promise.resolve();
    const after = Math.max(options.after ?? 0, 0);
    const limit = Math.min(Math.max(options.limit ?? 1000, 1), 10_000);
    // Seqs are contiguous: the batches overlapping (after, after + limit], the first and last sliced.
    return this.#run('readEvents', () => {
      const rows = this.#st.events.all(sessionId, after, sessionId, after, limit) as { events: string }[];
      const out: AgentEvent[] = [];
      for (const row of rows) {
        for (const e of JSON.parse(row.events) as AgentEvent[]) {
          if (e.seq <= after) continue;
          if (out.length >= limit) return out;
          out.push(e);
        }
      }
      return out;
    });
  }

  async enqueueCommand(entry: Omit<InboxEntry, 'status' | 'error'>): Promise<InboxEntry> {
    await Promise.resolve();
    return this.#run('enqueueCommand', () => {
      if (!this.#row(entry.sessionId)) throw notFound(entry.sessionId);
      this.#st.insertInbox.run(
        entry.sessionId,
        entry.id,
        JSON.stringify(entry.command),
        entry.actor,
        entry.receivedAt,
      );
      const row = this.#st.command.get(entry.sessionId, entry.id) as InboxRow | undefined;
      if (!row) throw new DreamAgentError('INTERNAL', `inbox command "${entry.id}" vanished`);
      return toEntry(row);
    });
  }

  async pendingCommands(sessionId: string): Promise<InboxEntry[]> {
    await Promise.resolve();
    return this.#run('pendingCommands', () => (this.#st.pending.all(sessionId) as InboxRow[]).map(toEntry));
  }

  async getCommand(sessionId: string, commandId: string): Promise<InboxEntry | undefined> {
    await Promise.resolve();
    const row = this.#run(
      'getCommand',
      () => this.#st.command.get(sessionId, commandId) as InboxRow | undefined,
    );
    return row ? toEntry(row) : undefined;
  }

  /**
   * Runs a WAL checkpoint now, in this thread (`PASSIVE`: copies what it can without waiting for
   * readers or writers). Useful before a backup; the background checkpointer does this periodically.
   *
   * @returns SQLite's counts: WAL frames in the log and frames checkpointed
   */
  checkpoint(): { walFrames: number; checkpointed: number } {
    const row = this.#run(
      'checkpoint',
      () => this.#db.pragma('wal_checkpoint(PASSIVE)') as { log: number; checkpointed: number }[],
    )[0];
    return { walFrames: row?.log ?? 0, checkpointed: row?.checkpointed ?? 0 };
  }

  #rw: { st: ReturnType<typeof prepareRewrite>; tx: (r: RecordsRewrite) => void } | undefined;

  /** The maintenance statements (prepared on first use: the cycle path never pays for them). */
  #rewriter(): { st: ReturnType<typeof prepareRewrite>; tx: (r: RecordsRewrite) => void } {
    if (this.#rw) return this.#rw;
    const st = prepareRewrite(this.#db);
    const tx = this.#db.transaction((r: RecordsRewrite) => {
      const version = st.version.get(r.sessionId) as number | undefined;
      assertRewriteApplies(r, version);
      // Journaled todo copies are folded first and then cleared, so the rewrite replaces the only copy
      // of each row (a re-encryption leaves no row under the old key).
      this.#foldOne(r.sessionId);
      if (r.todos !== undefined) this.#st.clearJournal.run(r.sessionId);
      if (r.state !== undefined) st.state.run(JSON.stringify(r.state), r.sessionId);
      if (r.events && r.events.length > 0) {
        // Events live in one row per commit: rewrite each batch that holds a replaced seq.
        const bySeq = new Map(r.events.map((e) => [e.seq, e]));
        const batches = st.batches.all(r.sessionId) as { last_seq: number; events: string }[];
        for (const b of batches) {
          const events = JSON.parse(b.events) as AgentEvent[];
          let changed = false;
          const next = events.map((e) => {
            const n = bySeq.get(e.seq);
            if (n === undefined) return e;
            changed = true;
            return n;
          });
          if (changed) st.batch.run(JSON.stringify(next), r.sessionId, b.last_seq);
        }
      }
      for (const t of r.todos ?? []) st.todo.run(JSON.stringify(t), r.sessionId, t.turnId, t.todoId);
      for (const p of r.planVersions ?? [])
        st.plan.run(JSON.stringify(p), r.sessionId, p.plan.id, p.plan.version);
      for (const c of r.commands ?? []) st.command.run(JSON.stringify(c.command), r.sessionId, c.id);
    }).immediate as (r: RecordsRewrite) => void;
    this.#rw = { st, tx };
    return this.#rw;
  }

  /**
   * Every record of a session as stored (see `Store.readRecords`), read in one transaction.
   *
   * @param sessionId - the session
   * @returns its records, or undefined
   */
  async readRecords(sessionId: string): Promise<SessionRecords | undefined> {
    await Promise.resolve();
    const { st } = this.#rewriter();
    return this.#run('readRecords', () =>
      this.#db.transaction(() => {
        const row = this.#row(sessionId);
        if (!row) return undefined;
        const events: AgentEvent[] = [];
        for (const b of st.batches.all(sessionId) as { events: string }[])
          events.push(...(JSON.parse(b.events) as AgentEvent[]));
        return {
          session: toRecord(row),
          events,
          // Records as the Store port reads them: a todo's output stored by reference to its event is
          // resolved (journaled rows overlaid), plan versions stored as patches are rebuilt whole.
          todos: this.#todosOf(sessionId, undefined),
          planVersions: decodePlanVersions(
            (st.allPlans.all(sessionId) as { record: string }[]).map(
              (p) => JSON.parse(p.record) as StoredPlanVersion,
            ),
          ).map((d) => d.record),
          commands: (st.allInbox.all(sessionId) as InboxRow[]).map(toEntry),
        };
      })(),
    );
  }

  /**
   * Replaces payloads in place in one `BEGIN IMMEDIATE` transaction, fenced by the version (see
   * `Store.rewriteRecords`).
   *
   * @param rewrite - the rewrite
   * @throws `CONFLICT` when the session moved past `expectedVersion`; `SESSION_NOT_FOUND`; `UNAVAILABLE`
   */
  async rewriteRecords(rewrite: RecordsRewrite): Promise<void> {
    await Promise.resolve();
    const { tx } = this.#rewriter();
    this.#run('rewriteRecords', () => tx(rewrite));
  }

  /** The underlying better-sqlite3 Database (yours, or the one opened from the path). */
  get database(): SqliteDatabase {
    return this.#db;
  }

  /**
   * Stops the background checkpointer and closes the database when this store opened it (a Database
   * you passed in stays yours to close).
   */
  async close(): Promise<void> {
    clearInterval(this.#foldTimer);
    this.foldTodos();
    await this.#checkpointer?.stop();
    if (this.#owned && this.#db.open) this.#db.close();
  }
}

/**
 * The guarded session update of a commit, with or without the status assignment `setStatus`.
 * `todos_from` is set to the journal row's last_seq when the commit's todos ride in it and none are
 * waiting to be folded yet (assigned only then: the column has no index, but the value stays put).
 */
const updateSql = (setStatus: string, statusGuard: string): string =>
  `UPDATE sessions SET version = version + 1, last_seq = last_seq + ?, ${setStatus}
     state = COALESCE(?, state), todos_from = COALESCE(todos_from, ?), updated_at = ?,
     lease_owner = CASE WHEN ? THEN NULL ELSE lease_owner END, lease_expires_at = ?
   WHERE id = ? AND version = ? AND lease_epoch = ? AND lease_owner = ? AND lease_expires_at > ?
     AND last_seq = COALESCE(?, last_seq)${statusGuard}
   RETURNING version, last_seq, status,
     (SELECT count(*) FROM inbox i WHERE i.session_id = sessions.id AND i.status = 'pending') AS pending`;

/** The store's prepared statements. */
function prepare(db: SqliteDatabase) {
  return {
    insertSession: db.prepare(
      `INSERT INTO sessions (${SESSION_COLUMNS}) VALUES (?, 1, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    ),
    getSession: db.prepare(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = ?`),
    acquire: db.prepare(
      `UPDATE sessions SET lease_epoch = lease_epoch + 1, lease_owner = ?, lease_expires_at = ?
       WHERE id = ? AND (lease_owner IS NULL OR lease_expires_at <= ?) RETURNING lease_epoch`,
    ),
    renew: db.prepare(
      `UPDATE sessions SET lease_expires_at = ? WHERE id = ? AND lease_epoch = ? AND lease_owner = ? AND lease_expires_at > ? RETURNING lease_expires_at`,
    ),
    release: db.prepare(
      `UPDATE sessions SET lease_owner = NULL, lease_expires_at = 0 WHERE id = ? AND lease_epoch = ? AND lease_owner = ?`,
    ),
    // The fencing write: matches only the expected version under the live lease, with the log at the
    // seq the commit's events continue (NULL: no events, any seq).
    update: db.prepare(updateSql('status = ?,', '')),
    // The same without assigning status (see #applyCommit: no write to the status index), requiring
    // the status hint when one is given.
    updateKeepStatus: db.prepare(updateSql('', ' AND status = COALESCE(?, status)')),
    insertBatch: db.prepare(
      `INSERT INTO event_batches (session_id, first_seq, last_seq, events, todos) VALUES (?, ?, ?, ?, ?)`,
    ),
    todosFrom: db.prepare(`SELECT todos_from FROM sessions WHERE id = ?`).pluck(),
    // The journal rows whose todos are not folded yet, oldest first.
    journal: db.prepare(
      `SELECT first_seq, events, todos FROM event_batches
       WHERE session_id = ? AND last_seq >= ? AND todos IS NOT NULL ORDER BY last_seq`,
    ),
    foldJournal: db.prepare(
      `INSERT INTO todos (session_id, turn_id, todo_id, record)
       SELECT b.session_id, json_extract(j.value, '$.turnId'), json_extract(j.value, '$.todoId'), j.value
       FROM event_batches b, json_each(b.todos) j
       WHERE b.session_id = ? AND b.last_seq >= ? AND b.todos IS NOT NULL
       ORDER BY b.last_seq, j.key
       ON CONFLICT (session_id, turn_id, todo_id) DO UPDATE SET record = excluded.record`,
    ),
    clearJournal: db.prepare(
      `UPDATE event_batches SET todos = NULL WHERE session_id = ? AND todos IS NOT NULL`,
    ),
    folded: db.prepare(`UPDATE sessions SET todos_from = NULL WHERE id = ?`),
    upsertTodo: db.prepare(
      `INSERT INTO todos (session_id, turn_id, todo_id, record) VALUES (?, ?, ?, ?)
       ON CONFLICT (session_id, turn_id, todo_id) DO UPDATE SET record = excluded.record`,
    ),
    insertPlan: db.prepare(
      `INSERT INTO plan_versions (session_id, plan_id, version, record) VALUES (?, ?, ?, ?)`,
    ),
    ack: db.prepare(`UPDATE inbox SET status = ?, error = ? WHERE session_id = ? AND id = ?`),
    pendingCount: db.prepare(`SELECT count(*) AS n FROM inbox WHERE session_id = ? AND status = 'pending'`),
    todos: db.prepare(`SELECT record FROM todos WHERE session_id = ? AND turn_id = ?`),
    batchAt: db.prepare(
      `SELECT first_seq, events FROM event_batches WHERE session_id = ? AND last_seq >= ? ORDER BY last_seq LIMIT 1`,
    ),
    // The stored rows at or below a version (any when NULL), newest first: enough to rebuild it.
    planTail: db.prepare(
      `SELECT record FROM plan_versions WHERE session_id = ? AND plan_id = ? AND version <= COALESCE(?, 2147483647)
       ORDER BY version DESC LIMIT ?`,
    ),
    plans: db.prepare(
      `SELECT record FROM plan_versions WHERE session_id = ? AND plan_id = ? ORDER BY version`,
    ),
    // Batches ending after `after`, up to the first one that reaches after + limit (or the log's end).
    events: db.prepare(
      `SELECT events FROM event_batches
       WHERE session_id = ? AND last_seq > ?
         AND last_seq <= COALESCE(
           (SELECT b.last_seq FROM event_batches b WHERE b.session_id = ? AND b.last_seq >= ? + ?
            ORDER BY b.last_seq LIMIT 1),
           9223372036854775807)
       ORDER BY last_seq`,
    ),
    insertInbox: db.prepare(
      `INSERT INTO inbox (session_id, id, command, actor, received_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id, id) DO NOTHING`,
    ),
    pending: db.prepare(
      `SELECT ${INBOX_COLUMNS} FROM inbox WHERE session_id = ? AND status = 'pending' ORDER BY n`,
    ),
    command: db.prepare(`SELECT ${INBOX_COLUMNS} FROM inbox WHERE session_id = ? AND id = ?`),
    deleteChildren: [
      db.prepare(`DELETE FROM event_batches WHERE session_id = ?`),
      db.prepare(`DELETE FROM todos WHERE session_id = ?`),
      db.prepare(`DELETE FROM plan_versions WHERE session_id = ?`),
      db.prepare(`DELETE FROM inbox WHERE session_id = ?`),
    ] as Statement[],
    deleteSession: db.prepare(`DELETE FROM sessions WHERE id = ?`),
  };
}

/** The statements of `readRecords` and `rewriteRecords` (maintenance, not the cycle path). */
function prepareRewrite(db: SqliteDatabase) {
  return {
    version: db.prepare(`SELECT version FROM sessions WHERE id = ?`).pluck(),
    state: db.prepare(`UPDATE sessions SET state = ? WHERE id = ?`),
    batches: db.prepare(`SELECT last_seq, events FROM event_batches WHERE session_id = ? ORDER BY last_seq`),
    batch: db.prepare(`UPDATE event_batches SET events = ? WHERE session_id = ? AND last_seq = ?`),
    todo: db.prepare(`UPDATE todos SET record = ? WHERE session_id = ? AND turn_id = ? AND todo_id = ?`),
    plan: db.prepare(
      `UPDATE plan_versions SET record = ? WHERE session_id = ? AND plan_id = ? AND version = ?`,
    ),
    command: db.prepare(`UPDATE inbox SET command = ? WHERE session_id = ? AND id = ?`),
    allTodos: db.prepare(`SELECT record FROM todos WHERE session_id = ? ORDER BY turn_id, todo_id`),
    allPlans: db.prepare(`SELECT record FROM plan_versions WHERE session_id = ? ORDER BY plan_id, version`),
    allInbox: db.prepare(`SELECT ${INBOX_COLUMNS} FROM inbox WHERE session_id = ? ORDER BY n`),
  };
}

/** A running background checkpointer. */
interface Checkpointer {
  stop(): Promise<void>;
}

/**
 * The worker's code (CommonJS, evaluated): its own connection to the same file, a PASSIVE checkpoint on
 * an interval (never waits for or blocks a writer), closed cleanly on request — a thread terminated with
 * an open connection could leave SQLite's in-process lock bookkeeping for the file behind.
 */
const CHECKPOINT_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
let Database;
try { Database = require(workerData.module); } catch { Database = require('better-sqlite3'); }
const db = new Database(workerData.file, { fileMustExist: true });
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy: next time */ }
}, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  try { db.close(); } catch { /* already closed */ }
  parentPort.close();
});
parentPort.postMessage('ready');
`;

/** Where better-sqlite3 is installed, so the worker loads the same copy (undefined: let it resolve). */
function sqliteModulePath(): string | undefined {
  try {
    // CommonJS build: `require` is the module's own.
    if (typeof require === 'function') return require.resolve('better-sqlite3');
  } catch {
    /* fall through */
  }
  try {
    return createRequire(import.meta.url).resolve('better-sqlite3');
  } catch {
    return undefined;
  }
}

/** Starts the worker-thread checkpointer; falls back to a timer in this thread if it cannot start. */
function startCheckpointer(db: SqliteDatabase, intervalMs: number): Checkpointer {
  let fallback: NodeJS.Timeout | undefined;
  const startFallback = (): void => {
    if (fallback || !db.open) return;
    fallback = setInterval(() => {
      try {
        if (db.open) db.pragma('wal_checkpoint(PASSIVE)');
      } catch {
        /* busy: next time */
      }
    }, intervalMs);
    fallback.unref();
  };
  let worker: Worker | undefined;
  let exited: Promise<void> = Promise.resolve();
  try {
    const w = new Worker(CHECKPOINT_WORKER, {
      eval: true,
      workerData: { file: db.name, module: sqliteModulePath(), intervalMs },
    });
    w.unref();
    exited = new Promise((resolve) => w.once('exit', () => resolve()));
    w.once('error', () => {
      worker = undefined;
      startFallback();
    });
    worker = w;
  } catch {
    startFallback();
  }
  return {
    async stop() {
      if (fallback) clearInterval(fallback);
      fallback = undefined;
      const w = worker;
      worker = undefined;
      if (!w) return;
      // Keep the process alive until the worker has closed its connection (it is unref'd otherwise).
      w.ref();
      w.postMessage('stop');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 2000)));
      const how = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      if (how === 'timeout') await w.terminate();
    },
  };
}
