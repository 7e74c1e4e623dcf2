import Database from 'better-sqlite3';
import type { Database as SqliteDatabase, Statement } from 'better-sqlite3';
import { DreamAgentError, isDreamAgentError } from 'dream-agent';
import { assertCommitApplies } from 'dream-agent/adapter-kit';
import type {
  AgentEvent,
  Commit,
  CommitResult,
  InboxEntry,
  Json,
  LeaseToken,
  NewSession,
  PlanVersionRecord,
  SerializedError,
  SessionQuery,
  SessionRecord,
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
];

const SESSION_COLUMNS =
  'id, version, status, last_seq, lease_epoch, lease_owner, lease_expires_at, state, created_at, updated_at';
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
  readonly #st: {
    insertSession: Statement;
    getSession: Statement;
    acquire: Statement;
    renew: Statement;
    release: Statement;
    update: Statement;
    insertEvent: Statement;
    upsertTodo: Statement;
    insertPlan: Statement;
    ack: Statement;
    todos: Statement;
    planLatest: Statement;
    planVersion: Statement;
    plans: Statement;
    events: Statement;
    insertInbox: Statement;
    pending: Statement;
    command: Statement;
  };
  readonly #commitTx: (c: Commit, now: number) => CommitResult;

  /**
   * Opens (and migrates) the database.
   *
   * @param options - a path or your Database, the clock, the busy timeout; a string is taken as the path
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
    this.#migrate();
    const db = this.#db;
    this.#st = {
      insertSession: db.prepare(
        `INSERT INTO sessions (${SESSION_COLUMNS}) VALUES (?, 1, ?, 0, 1, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
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
      update: db.prepare(
        `UPDATE sessions SET version = version + 1, last_seq = ?, status = COALESCE(?, status), state = COALESCE(?, state),
           updated_at = ?, lease_owner = ?, lease_expires_at = ? WHERE id = ?`,
      ),
      insertEvent: db.prepare(`INSERT INTO events (session_id, seq, event) VALUES (?, ?, ?)`),
      upsertTodo: db.prepare(
        `INSERT INTO todos (session_id, turn_id, todo_id, record) VALUES (?, ?, ?, ?)
         ON CONFLICT (session_id, turn_id, todo_id) DO UPDATE SET record = excluded.record`,
      ),
      insertPlan: db.prepare(
        `INSERT INTO plan_versions (session_id, plan_id, version, record) VALUES (?, ?, ?, ?)`,
      ),
      ack: db.prepare(`UPDATE inbox SET status = ?, error = ? WHERE session_id = ? AND id = ?`),
      todos: db.prepare(`SELECT record FROM todos WHERE session_id = ? AND turn_id = ?`),
      planLatest: db.prepare(
        `SELECT record FROM plan_versions WHERE session_id = ? AND plan_id = ? ORDER BY version DESC LIMIT 1`,
      ),
      planVersion: db.prepare(
        `SELECT record FROM plan_versions WHERE session_id = ? AND plan_id = ? AND version = ?`,
      ),
      plans: db.prepare(
        `SELECT record FROM plan_versions WHERE session_id = ? AND plan_id = ? ORDER BY version`,
      ),
      events: db.prepare(`SELECT event FROM events WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?`),
      insertInbox: db.prepare(
        `INSERT INTO inbox (session_id, id, command, actor, received_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id, id) DO NOTHING`,
      ),
      pending: db.prepare(
        `SELECT ${INBOX_COLUMNS} FROM inbox WHERE session_id = ? AND status = 'pending' ORDER BY n`,
      ),
      command: db.prepare(`SELECT ${INBOX_COLUMNS} FROM inbox WHERE session_id = ? AND id = ?`),
    };
    this.#commitTx = this.#db.transaction((c: Commit, now: number) => this.#applyCommit(c, now))
      .immediate as (c: Commit, now: number) => CommitResult;
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

  async createSession(
    session: NewSession,
    owner: string,
    leaseTtlMs: number,
  ): Promise<{ record: SessionRecord; lease: LeaseToken }> {
    await Promise.resolve();
    const now = this.#clock.now();
    return this.#run('createSession', () => {
      const info = this.#st.insertSession.run(
        session.id,
        session.status,
        owner,
        now + leaseTtlMs,
        JSON.stringify(session.state),
        now,
        now,
      );
      if (info.changes === 0)
        throw new DreamAgentError('SESSION_BUSY', `session "${session.id}" already exists`, {
          details: { sessionId: session.id },
        });
      const row = this.#row(session.id);
      if (!row) throw notFound(session.id);
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
    const r = this.#row(c.sessionId);
    if (!r) throw notFound(c.sessionId);
    const seq = assertCommitApplies(
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
    // Writes: any throw below rolls the whole transaction back.
    for (const e of c.events) this.#st.insertEvent.run(c.sessionId, e.seq, JSON.stringify(e));
    for (const t of c.todos) this.#st.upsertTodo.run(c.sessionId, t.turnId, t.todoId, JSON.stringify(t));
    for (const p of c.planVersions) {
      try {
        this.#st.insertPlan.run(c.sessionId, p.plan.id, p.plan.version, JSON.stringify(p));
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
    const release = c.leaseAction === 'release';
    const expires = release ? 0 : now + c.leaseTtlMs;
    this.#st.update.run(
      seq,
      c.status ?? null,
      c.state === undefined ? null : JSON.stringify(c.state),
      now,
      release ? null : r.lease_owner,
      expires,
      c.sessionId,
    );
    return { version: r.version + 1, lastSeq: seq, leaseExpiresAt: expires };
  }

  async commit(c: Commit): Promise<CommitResult> {
    await Promise.resolve();
    const now = this.#clock.now();
    return this.#run('commit', () => this.#commitTx(c, now));
  }

  async getTodos(sessionId: string, turnId: string): Promise<TodoRecord[]> {
    await Promise.resolve();
    return this.#run('getTodos', () =>
      (this.#st.todos.all(sessionId, turnId) as { record: string }[]).map(
        (r) => JSON.parse(r.record) as TodoRecord,
      ),
    );
  }

  async getPlan(sessionId: string, planId: string, version?: number): Promise<PlanVersionRecord | undefined> {
    await Promise.resolve();
    const row = this.#run(
      'getPlan',
      () =>
        (version === undefined
          ? this.#st.planLatest.get(sessionId, planId)
          : this.#st.planVersion.get(sessionId, planId, version)) as { record: string } | undefined,
    );
    return row ? (JSON.parse(row.record) as PlanVersionRecord) : undefined;
  }

  async listPlanVersions(sessionId: string, planId: string): Promise<PlanVersionRecord[]> {
    await Promise.resolve();
    return this.#run('listPlanVersions', () =>
      (this.#st.plans.all(sessionId, planId) as { record: string }[]).map(
        (r) => JSON.parse(r.record) as PlanVersionRecord,
      ),
    );
  }

  async readEvents(
    sessionId: string,
    options: { after?: number; limit?: number } = {},
  ): Promise<AgentEvent[]> {
    await Promise.resolve();
    const after = Math.max(options.after ?? 0, 0);
    const limit = Math.min(Math.max(options.limit ?? 1000, 1), 10_000);
    return this.#run('readEvents', () =>
      (this.#st.events.all(sessionId, after, limit) as { event: string }[]).map(
        (r) => JSON.parse(r.event) as AgentEvent,
      ),
    );
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

  /** The underlying better-sqlite3 Database (yours, or the one opened from the path). */
  get database(): SqliteDatabase {
    return this.#db;
  }

  /** Closes the database when this store opened it (a Database you passed in stays yours to close). */
  async close(): Promise<void> {
    await Promise.resolve();
    if (this.#owned && this.#db.open) this.#db.close();
  }
}
