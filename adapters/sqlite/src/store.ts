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
   * How often the journal rows written by commits are folded into the read models (the sessions row and
   * the todos table), between commits (default 200 ms). Reads are exact either way (they overlay the
   * rows not folded yet); the fold only keeps that overlay short. See {@link SqliteStore.foldTodos}.
   */
  foldIntervalMs?: number;
}

/** A session as read: the folded row with the newest journal row overlaid (see `nowSql`). */
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
  // 4: a commit is one statement, the INSERT of its journal row (table `journal`, key (session_id,
  //    version)): the key is the compare-and-set (a second commit of the same version collides), and the
  //    version, lease and seq checks are inside that INSERT (see COMMIT_SQL). The row carries what the
  //    commit changed: the resulting status, last_seq and lease, the state when it changed, the events and
  //    the todo rows. The sessions row and the todos table are read models: a background fold moves the
  //    newest journal row's fields into the sessions row (`sessions.version` is the folded watermark) and
  //    the todo rows into the todos table; reads overlay the journal rows above the watermark. The lease
  //    lives in the sessions row too (acquire, renew, release write it, stamping `lease_version` with the
  //    session's version then); a journal row newer than that stamp holds the lease as its commit left it.
  //    Existing data: journaled todo rows are folded, event batches become journal rows numbered back
  //    from the session's version (folded: at or below the watermark, so only their events are read).
  `INSERT INTO todos (session_id, turn_id, todo_id, record)
     SELECT b.session_id, json_extract(t.value, '$.turnId'), json_extract(t.value, '$.todoId'), t.value
     FROM sessions s JOIN event_batches b ON b.session_id = s.id, json_each(b.todos) t
     WHERE s.todos_from IS NOT NULL AND b.last_seq >= s.todos_from AND b.todos IS NOT NULL
     ORDER BY b.session_id, b.last_seq, t.key
     ON CONFLICT (session_id, turn_id, todo_id) DO UPDATE SET record = excluded.record;
   CREATE TABLE journal (session_id TEXT NOT NULL, version INTEGER NOT NULL, first_seq INTEGER,
     last_seq INTEGER NOT NULL, status TEXT, state TEXT, events TEXT, todos TEXT, lease_epoch INTEGER,
     lease_owner TEXT, lease_expires_at INTEGER, updated_at INTEGER, PRIMARY KEY (session_id, version));
   INSERT INTO journal (session_id, version, first_seq, last_seq, events)
     SELECT b.session_id, s.version + 1 - row_number() OVER (PARTITION BY b.session_id ORDER BY b.last_seq DESC),
       b.first_seq, b.last_seq, b.events
     FROM event_batches b JOIN sessions s ON s.id = b.session_id;
   DROP TABLE event_batches;
   ALTER TABLE sessions DROP COLUMN todos_from;
   ALTER TABLE sessions ADD COLUMN lease_version INTEGER NOT NULL DEFAULT 0;
   UPDATE sessions SET lease_version = version;`,
];

/** The field of a stored todo row that names the event holding its output (instead of a copy of it). */
const OUTPUT_SEQ = '$outputSeq';

/** A todo row as stored: its output may be a reference to the `todo.completed` event holding it. */
type StoredTodo = TodoRecord & { [OUTPUT_SEQ]?: number };

/** A journal row whose todos are not folded yet. */
interface JournalRow {
  first_seq: number;
  events: string | null;
  todos: string;
}

/**
 * A session as it is now: the folded sessions row with its newest journal row above the watermark
 * overlaid (version, status, last_seq, updated_at; the lease when that row is newer than the lease's
 * stamp; the state from the newest such row that changed it). `where` filters `sessions s`.
 */
const nowSql = (where: string): string =>
  `SELECT s.id AS id, coalesce(j.version, s.version) AS version, coalesce(j.status, s.status) AS status,
     coalesce(j.last_seq, s.last_seq) AS last_seq,
     CASE WHEN j.version > s.lease_version THEN j.lease_epoch ELSE s.lease_epoch END AS lease_epoch,
     CASE WHEN j.version > s.lease_version THEN j.lease_owner ELSE s.lease_owner END AS lease_owner,
     CASE WHEN j.version > s.lease_version THEN j.lease_expires_at ELSE s.lease_expires_at END AS lease_expires_at,
     CASE WHEN j.version IS NULL THEN s.state ELSE coalesce(
       (SELECT x.state FROM journal x WHERE x.session_id = s.id AND x.version > s.version AND x.state IS NOT NULL
        ORDER BY x.version DESC LIMIT 1), s.state) END AS state,
     s.created_at AS created_at, coalesce(j.updated_at, s.updated_at) AS updated_at,
     s.tenant_id AS tenant_id, s.owner_id AS owner_id
   FROM sessions s LEFT JOIN journal j ON j.session_id = s.id AND j.version > s.version
     AND j.version = (SELECT max(m.version) FROM journal m WHERE m.session_id = s.id)
   WHERE ${where}`;

/**
 * The commit: one INSERT of the journal row at version `@v + 1`, no transaction around it.
 * - Stale version: the row at `@v + 1` exists, the primary key refuses it (SQLITE_CONSTRAINT_PRIMARYKEY).
 * - Everything else is checked by the scalar subquery that computes `last_seq`: it yields NULL unless
 *   the session exists, `@v` is its current version or a journal row at `@v` exists above the
 *   watermark (with the key, `@v` is then exactly the newest version), the lease as of version `@v` is
 *   `@epoch`/`@owner` and unexpired at `@now`, and the events continue its last_seq; `last_seq` is
 *   NOT NULL, so the INSERT fails (SQLITE_CONSTRAINT_NOTNULL) and writes nothing. Either failure is then
 *   explained by reading the session (see #refused). An INSERT ... VALUES reading the journal in a
 *   subquery writes straight into it (an INSERT ... SELECT from its own table would first copy the
 *   row into a temporary table).
 * The subquery reads the sessions row and at most the journal row `@v`, both by key.
 */
const GUARD_FROM = `FROM sessions s LEFT JOIN journal j ON j.session_id = s.id AND j.version = @v AND @v > s.version
   WHERE s.id = @id`;
const COMMIT_SQL = `INSERT INTO journal (session_id, version, first_seq, last_seq, status, state, events, todos,
     lease_epoch, lease_owner, lease_expires_at, updated_at)
   VALUES (@id, @v + 1, @first,
     (SELECT CASE WHEN (s.version = @v OR j.version IS NOT NULL)
        AND CASE WHEN j.version > s.lease_version
          THEN j.lease_epoch = @epoch AND j.lease_owner = @owner AND j.lease_expires_at > @now
          ELSE s.lease_epoch = @epoch AND s.lease_owner = @owner AND s.lease_expires_at > @now END
        AND (@first IS NULL OR coalesce(j.last_seq, s.last_seq) = @first - 1)
      THEN coalesce(j.last_seq, s.last_seq) + @n END ${GUARD_FROM}),
     coalesce(@status, (SELECT coalesce(j.status, s.status) ${GUARD_FROM})),
     @state, @events, @todos, @epoch, @leaseOwner, @expires, @now)
   RETURNING last_seq, (SELECT count(*) FROM inbox i WHERE i.session_id = @id AND i.status = 'pending') AS pending`;

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
 * for single-node servers. WAL mode, and the same version + lease/fencing checks as every store (several
 * processes may share the file: SQLite's write lock serialises them and the checks fence stale writers).
 *
 * A commit is one statement: the INSERT of its journal row, keyed by (session, version) — the key is
 * the compare-and-set, and the lease and seq checks are inside the same INSERT. The row carries the
 * commit's events, todo rows and session changes; the sessions row and the todos table are read models
 * folded from the journal in the background, and every read overlays the journal rows not folded yet,
 * so reads are exact on every connection and after a crash. Commits that also ack inbox commands or
 * add plan versions write those rows in the same transaction. WAL checkpoints run off the commit path
 * (see {@link SqliteStoreOptions.checkpoint}).
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
  /** Sessions with journal rows above their watermark (this store's commits, or found at open). */
  readonly #dirty = new Set<string>();
  readonly #foldTx: (sessionIds: readonly string[]) => void;
  readonly #foldTimer: NodeJS.Timeout;
  readonly #todosTx: (sessionId: string, turnId: string) => TodoRecord[];
  readonly #eventsTx: (sessionId: string, after: number, limit: number) => AgentEvent[];

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
    // Deferred: the tables and the journal read from one snapshot.
    this.#todosTx = db.transaction((sessionId: string, turnId: string) => this.#todosOf(sessionId, turnId));
    this.#eventsTx = db.transaction((sessionId: string, after: number, limit: number) =>
      this.#eventsOf(sessionId, after, limit),
    );
    // A process that stopped before folding left journal rows above some watermarks: fold them too.
    for (const id of this.#run('open', () => this.#st.unfolded.all() as string[])) this.#dirty.add(id);
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
    // The creation's events are the journal row of version 1 (folded: the sessions row is version 1).
    if (events.length > 0)
      this.#st.insertCreated.run(
        session.id,
        events.length,
        session.status,
        JSON.stringify(events),
        owner,
        expires,
        now,
      );
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
    // Folded columns that never change (tenant, owner, id) filter the sessions rows; the rest filter
    // the sessions as they are now (journal rows overlaid).
    const inner: string[] = ['1'];
    const innerValues: (string | number)[] = [];
    const where: string[] = [];
    const values: (string | number)[] = [];
    if (query.tenantId !== undefined) {
      inner.push('s.tenant_id = ?');
      innerValues.push(query.tenantId);
    }
    if (query.ownerId !== undefined) {
      inner.push('s.owner_id = ?');
      innerValues.push(query.ownerId);
    }
    if (query.after !== undefined) {
      inner.push('s.id > ?');
      innerValues.push(query.after);
    }
    if (query.status) {
      where.push(`status IN (${query.status.map(() => '?').join(', ') || 'NULL'})`);
      values.push(...query.status);
    }
    if (query.leaseExpiredBefore !== undefined) {
      where.push('(lease_owner IS NULL OR lease_expires_at <= ?)');
      values.push(query.leaseExpiredBefore);
    }
    if (query.hasPendingCommands)
      where.push(`EXISTS (SELECT 1 FROM inbox i WHERE i.session_id = n.id AND i.status = 'pending')`);
    const sql = `SELECT ${SESSION_COLUMNS} FROM (${nowSql(inner.join(' AND '))}) n
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ${limit}`;
    return this.#run('listSessions', () =>
      (this.#db.prepare(sql).all(...innerValues, ...values) as SessionRow[]).map(toRecord),
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

  /**
   * The commit's journal row INSERT (see COMMIT_SQL). Run alone it is its own transaction; commits with
   * inbox acks or plan versions run it inside #commitTx with their other rows.
   */
  #insertJournal(c: Commit, now: number): { last_seq: number; pending: number } {
    const release = c.leaseAction === 'release';
    const first = c.events[0]?.seq;
    // The INSERT checks that the events continue the log; that they are contiguous among themselves
    // (and of this session) is checked here, before it.
    for (const [i, e] of c.events.entries()) {
      if (e.seq !== (first ?? 0) + i || e.sessionId !== c.sessionId) throw this.#refused(c, now);
    }
    // A todo's output travels twice in a completing cycle: in its todo.completed event and in its row.
    // The row then stores the event's seq instead of the output (reads take it from the event): a row
    // of a few hundred bytes instead of a copy of the output, one JSON serialisation less.
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
    try {
      return this.#st.commit.get({
        id: c.sessionId,
        v: c.expectedVersion,
        first: first ?? null,
        n: c.events.length,
        epoch: c.lease.epoch,
        owner: c.lease.owner,
        now,
        status: c.status ?? null,
        state: c.state === undefined ? null : JSON.stringify(c.state),
        events: first === undefined ? null : JSON.stringify(c.events),
        todos: c.todos.length === 0 ? null : JSON.stringify(c.todos.map(stored)),
        leaseOwner: release ? null : c.lease.owner,
        expires: release ? 0 : now + c.leaseTtlMs,
      }) as { last_seq: number; pending: number };
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_NOTNULL')
        throw this.#refused(c, now);
      throw e;
    }
  }

  /** Why a commit's INSERT wrote nothing, with the contract's exact errors (read after the fact). */
  #refused(c: Commit, now: number): DreamAgentError {
    const r = this.#row(c.sessionId);
    if (!r) return notFound(c.sessionId);
    try {
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
    } catch (e) {
      if (isDreamAgentError(e)) return e;
      throw e;
    }
    return new DreamAgentError('INTERNAL', `commit of "${c.sessionId}" matched no row`, {
      details: { sessionId: c.sessionId },
    });
  }

  /** A commit with inbox acks or plan versions: the journal row and those rows in one transaction. */
  #applyCommit(c: Commit, now: number): CommitResult {
    const written = this.#insertJournal(c, now);
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
    // The insert returned the pending count; acks written after it change it.
    const pending =
      c.inboxAcks.length === 0
        ? written.pending
        : (this.#st.pendingCount.get(c.sessionId) as { n: number }).n;
    return this.#result(c, now, written.last_seq, pending);
  }

  #result(c: Commit, now: number, lastSeq: number, pending: number): CommitResult {
    this.#dirty.add(c.sessionId);
    return {
      version: c.expectedVersion + 1,
      lastSeq,
      leaseExpiresAt: c.leaseAction === 'release' ? 0 : now + c.leaseTtlMs,
      pendingCommands: pending,
    };
  }

  async commit(c: Commit): Promise<CommitResult> {
    await Promise.resolve();
    const now = this.#clock.now();
    return this.#run('commit', () => {
      if (c.planVersions.length > 0 || c.inboxAcks.length > 0) return this.#commitTx(c, now);
      // The usual cycle: one statement, its own transaction.
      const w = this.#insertJournal(c, now);
      return this.#result(c, now, w.last_seq, w.pending);
    });
  }

  /**
   * Deletes the session and everything stored for it (journal, events, todos, plan versions, inbox) in
   * one transaction.
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
   * The version of the session's first journal row whose events end at or after `seq` (undefined when
   * none): a binary search over versions by key, since last_seq grows with the version (the journal has
   * one key; a second index on last_seq would cost every commit another page).
   */
  #versionAtSeq(sessionId: string, seq: number): number | undefined {
    const range = this.#st.versionRange.get(sessionId) as { lo: number | null; hi: number | null };
    if (range.lo === null || range.hi === null) return undefined;
    // The smallest v whose first row at or above v ends at or after seq (monotone in v).
    let lo = range.lo;
    let hi = range.hi + 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const r = this.#st.rowFrom.get(sessionId, mid) as { version: number; last_seq: number } | undefined;
      if (r !== undefined && r.last_seq >= seq) hi = mid;
      else lo = mid + 1;
    }
    return lo > range.hi ? undefined : lo;
  }

  /** Events after `after`, at most `limit`, from the journal. Call inside a transaction. */
  #eventsOf(sessionId: string, after: number, limit: number): AgentEvent[] {
    const from = this.#versionAtSeq(sessionId, after + 1);
    const out: AgentEvent[] = [];
    if (from === undefined) return out;
    for (const row of this.#st.eventsFrom.iterate(sessionId, from) as Iterable<{ events: string }>) {
      for (const e of JSON.parse(row.events) as AgentEvent[]) {
        if (e.seq <= after) continue;
        if (out.length >= limit) return out;
        out.push(e);
      }
      if (out.length >= limit) return out;
    }
    return out;
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
    const batches: { first: number; events: AgentEvent[] }[] = [];
    for (const r of rows) {
      const t = JSON.parse(r.record) as StoredTodo;
      const seq = t[OUTPUT_SEQ];
      if (seq !== undefined) {
        delete t[OUTPUT_SEQ];
        // The output lives in the todo.completed event at `seq` (written in the same commit).
        let batch = batches.find((b) => seq >= b.first && seq < b.first + b.events.length);
        if (!batch) {
          const v = this.#versionAtSeq(sessionId, seq);
          const row =
            v === undefined
              ? undefined
              : (this.#st.eventsAt.get(sessionId, v) as { first_seq: number; events: string } | undefined);
          if (row) {
            batch = { first: row.first_seq, events: JSON.parse(row.events) as AgentEvent[] };
            batches.push(batch);
          }
        }
        const e = batch?.events[seq - (batch?.first ?? 0)];
        if (e?.type === 'todo.completed') t.output = e.output;
      }
      byKey.set(`${t.turnId}\u0000${t.todoId}`, t);
    }
    for (const j of this.#st.journal.all(sessionId) as JournalRow[]) {
      let events: AgentEvent[] | undefined;
      for (const t of JSON.parse(j.todos) as StoredTodo[]) {
        if (turnId !== undefined && t.turnId !== turnId) continue;
        const seq = t[OUTPUT_SEQ];
        if (seq !== undefined) {
          delete t[OUTPUT_SEQ];
          events ??= JSON.parse(j.events ?? '[]') as AgentEvent[];
          const e = events[seq - j.first_seq];
          if (e?.type === 'todo.completed') t.output = e.output;
        }
        byKey.set(`${t.turnId}\u0000${t.todoId}`, t);
      }
    }
    const out = [...byKey.values()];
    out.sort((a, b) =>
      a.turnId === b.turnId ? (a.todoId < b.todoId ? -1 : 1) : a.turnId < b.turnId ? -1 : 1,
    );
    return out;
  }

  /** Folds one session's journal rows above its watermark into the read models. Call inside a write transaction. */
  #foldOne(sessionId: string): void {
    this.#dirty.delete(sessionId);
    // Two statements, in SQLite: the todo rows (later journal rows, and later rows within one, win),
    // then the sessions row, which moves the watermark. The journal rows keep their copies (rewriting
    // them would cost as many pages again); a rewrite clears them (see #rewriter).
    this.#st.foldTodos.run(sessionId);
    this.#st.foldSession.run(sessionId);
  }

  /**
   * Folds the journal rows written since the last fold into the read models now — the sessions row and
   * the todos table — in one transaction (a timer does it every `foldIntervalMs`; `close()` does it
   * too). Reads never depend on it: they overlay what is not folded yet. Journal rows left by a process
   * that stopped before folding are found when a store opens the file, and folded by its first run.
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
    return this.#run('readEvents', () => this.#eventsTx(sessionId, after, limit));
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
      // The journal is folded first, so the sessions row is current and the todos table holds every
      // row; the journal's copies of what is replaced are then cleared, so the rewrite replaces the
      // only copy (a re-encryption leaves nothing under the old key).
      this.#foldOne(r.sessionId);
      const version = st.version.get(r.sessionId) as number | undefined;
      assertRewriteApplies(r, version);
      // Every copy is cleared, not only those of the rows replaced now: a journal row can hold an
      // older copy of a row (or state) that a later commit overwrote, written under another key.
      st.clearTodos.run(r.sessionId);
      st.clearStates.run(r.sessionId);
      if (r.state !== undefined) st.state.run(JSON.stringify(r.state), r.sessionId);
      if (r.events && r.events.length > 0) {
        // Events live in one row per commit: rewrite each row that holds a replaced seq.
        const bySeq = new Map(r.events.map((e) => [e.seq, e]));
        const rows = st.batches.all(r.sessionId) as { version: number; events: string }[];
        for (const b of rows) {
          const events = JSON.parse(b.events) as AgentEvent[];
          let changed = false;
          const next = events.map((e) => {
            const n = bySeq.get(e.seq);
            if (n === undefined) return e;
            changed = true;
            return n;
          });
          if (changed) st.batch.run(JSON.stringify(next), r.sessionId, b.version);
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
   * Folds what this store journaled, stops the background checkpointer and closes the database when
   * this store opened it (a Database you passed in stays yours to close).
   */
  async close(): Promise<void> {
    clearInterval(this.#foldTimer);
    this.foldTodos();
    await this.#checkpointer?.stop();
    if (this.#owned && this.#db.open) this.#db.close();
  }
}

/** The store's prepared statements. */
function prepare(db: SqliteDatabase) {
  return {
    insertSession: db.prepare(
      `INSERT INTO sessions (${SESSION_COLUMNS}, lease_version) VALUES (?, 1, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, 1)
       ON CONFLICT (id) DO NOTHING`,
    ),
    insertCreated: db.prepare(
      `INSERT INTO journal (session_id, version, first_seq, last_seq, status, events, lease_epoch, lease_owner,
         lease_expires_at, updated_at) VALUES (?, 1, 1, ?, ?, ?, 1, ?, ?, ?)`,
    ),
    getSession: db.prepare(nowSql('s.id = ?')),
    // Sessions with journal rows above their watermark.
    unfolded: db
      .prepare(
        `SELECT s.id FROM sessions s WHERE EXISTS
           (SELECT 1 FROM journal j WHERE j.session_id = s.id AND j.version > s.version)`,
      )
      .pluck(),
    // Lease changes write the sessions row with the lease as it is now, stamped with the version.
    acquire: db.prepare(
      `UPDATE sessions SET lease_epoch = n.lease_epoch + 1, lease_owner = ?, lease_expires_at = ?,
         lease_version = n.version
       FROM (${nowSql('s.id = ?')}) n
       WHERE sessions.id = n.id AND (n.lease_owner IS NULL OR n.lease_expires_at <= ?)
       RETURNING sessions.lease_epoch`,
    ),
    renew: db.prepare(
      `UPDATE sessions SET lease_expires_at = ?, lease_epoch = n.lease_epoch, lease_owner = n.lease_owner,
         lease_version = n.version
       FROM (${nowSql('s.id = ?')}) n
       WHERE sessions.id = n.id AND n.lease_epoch = ? AND n.lease_owner = ? AND n.lease_expires_at > ?
       RETURNING sessions.lease_expires_at`,
    ),
    release: db.prepare(
      `UPDATE sessions SET lease_owner = NULL, lease_expires_at = 0, lease_epoch = n.lease_epoch,
         lease_version = n.version
       FROM (${nowSql('s.id = ?')}) n
       WHERE sessions.id = n.id AND n.lease_epoch = ? AND n.lease_owner = ?`,
    ),
    commit: db.prepare(COMMIT_SQL),
    // The journal rows above the watermark with todo rows, oldest first.
    journal: db.prepare(
      `SELECT j.first_seq, j.events, j.todos FROM sessions s
       JOIN journal j ON j.session_id = s.id AND j.version > s.version
       WHERE s.id = ? AND j.todos IS NOT NULL ORDER BY j.version`,
    ),
    foldTodos: db.prepare(
      `INSERT INTO todos (session_id, turn_id, todo_id, record)
       SELECT j.session_id, json_extract(t.value, '$.turnId'), json_extract(t.value, '$.todoId'), t.value
       FROM sessions s JOIN journal j ON j.session_id = s.id AND j.version > s.version, json_each(j.todos) t
       WHERE s.id = ? AND j.todos IS NOT NULL
       ORDER BY j.version, t.key
       ON CONFLICT (session_id, turn_id, todo_id) DO UPDATE SET record = excluded.record`,
    ),
    // The newest journal row's fields into the sessions row (the lease only when that row is newer than
    // the lease's stamp; the state from the newest row that changed it); the watermark moves to it.
    foldSession: db.prepare(
      `UPDATE sessions SET version = j.version, status = j.status, last_seq = j.last_seq,
         updated_at = j.updated_at,
         state = coalesce((SELECT x.state FROM journal x WHERE x.session_id = sessions.id
           AND x.version > sessions.version AND x.state IS NOT NULL ORDER BY x.version DESC LIMIT 1), sessions.state),
         lease_epoch = CASE WHEN j.version > sessions.lease_version THEN j.lease_epoch ELSE sessions.lease_epoch END,
         lease_owner = CASE WHEN j.version > sessions.lease_version THEN j.lease_owner ELSE sessions.lease_owner END,
         lease_expires_at = CASE WHEN j.version > sessions.lease_version THEN j.lease_expires_at ELSE sessions.lease_expires_at END,
         lease_version = max(sessions.lease_version, j.version)
       FROM (SELECT * FROM journal WHERE session_id = ? ORDER BY version DESC LIMIT 1) j
       WHERE sessions.id = j.session_id AND j.version > sessions.version`,
    ),
    insertPlan: db.prepare(
      `INSERT INTO plan_versions (session_id, plan_id, version, record) VALUES (?, ?, ?, ?)`,
    ),
    ack: db.prepare(`UPDATE inbox SET status = ?, error = ? WHERE session_id = ? AND id = ?`),
    pendingCount: db.prepare(`SELECT count(*) AS n FROM inbox WHERE session_id = ? AND status = 'pending'`),
    todos: db.prepare(`SELECT record FROM todos WHERE session_id = ? AND turn_id = ?`),
    versionRange: db.prepare(
      `SELECT min(version) AS lo, max(version) AS hi FROM journal WHERE session_id = ?`,
    ),
    rowFrom: db.prepare(
      `SELECT version, last_seq FROM journal WHERE session_id = ? AND version >= ? ORDER BY version LIMIT 1`,
    ),
    eventsAt: db.prepare(
      `SELECT first_seq, events FROM journal WHERE session_id = ? AND version >= ? AND events IS NOT NULL
       ORDER BY version LIMIT 1`,
    ),
    eventsFrom: db.prepare(
      `SELECT events FROM journal WHERE session_id = ? AND version >= ? AND events IS NOT NULL ORDER BY version`,
    ),
    // The stored rows at or below a version (any when NULL), newest first: enough to rebuild it.
    planTail: db.prepare(
      `SELECT record FROM plan_versions WHERE session_id = ? AND plan_id = ? AND version <= COALESCE(?, 2147483647)
       ORDER BY version DESC LIMIT ?`,
    ),
    plans: db.prepare(
      `SELECT record FROM plan_versions WHERE session_id = ? AND plan_id = ? ORDER BY version`,
    ),
    insertInbox: db.prepare(
      `INSERT INTO inbox (session_id, id, command, actor, received_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id, id) DO NOTHING`,
    ),
    pending: db.prepare(
      `SELECT ${INBOX_COLUMNS} FROM inbox WHERE session_id = ? AND status = 'pending' ORDER BY n`,
    ),
    command: db.prepare(`SELECT ${INBOX_COLUMNS} FROM inbox WHERE session_id = ? AND id = ?`),
    deleteChildren: [
      db.prepare(`DELETE FROM journal WHERE session_id = ?`),
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
    clearStates: db.prepare(`UPDATE journal SET state = NULL WHERE session_id = ? AND state IS NOT NULL`),
    clearTodos: db.prepare(`UPDATE journal SET todos = NULL WHERE session_id = ? AND todos IS NOT NULL`),
    batches: db.prepare(
      `SELECT version, events FROM journal WHERE session_id = ? AND events IS NOT NULL ORDER BY version`,
    ),
    batch: db.prepare(`UPDATE journal SET events = ? WHERE session_id = ? AND version = ?`),
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
