import { createHash } from 'node:crypto';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { DreamAgentError } from 'dream-agent';
import {
  PLAN_CHECKPOINT_EVERY,
  assertRewriteApplies,
  decodePlanVersionAt,
  decodePlanVersions,
  encodePlanVersions,
  planBasesNeeded,
  type StoredPlanVersion,
} from 'dream-agent/adapter-kit';
import type {
  AgentEvent,
  Commit,
  CommitResult,
  InboxEntry,
  LeaseToken,
  NewSession,
  PlanVersionRecord,
  RecordsRewrite,
  SessionQuery,
  SessionRecord,
  SessionRecords,
  SessionState,
  SessionStatus,
  Store,
  TodoRecord,
  Json,
  SerializedError,
} from 'dream-agent';
import {
  openPool,
  quoteIdent,
  withClient,
  type PoolHandle,
  type PostgresConnection,
  type RetryMode,
} from './connection.js';
import { DEFAULT_SCHEMA, migrate, type MigrateResult } from './migrate.js';

/** Options of {@link PostgresStore}. */
export type PostgresStoreOptions = PostgresConnection & {
  /** The schema holding the tables (default `dream_agent`); create it with {@link migrate}. */
  schema?: string;
  /**
   * The clock that decides lease expiry. Default: the database clock (`statement_timestamp()`), the one
   * clock every node agrees on. Tests pass a manual clock.
   */
  clock?: { now(): number };
  /**
   * How long reads and idempotent writes retry while PostgreSQL is unreachable before throwing
   * `UNAVAILABLE` (default 30 s). Commits are never retried here when their outcome is unknown: the
   * engine retries them and checks whether the first attempt landed.
   */
  retryTimeoutMs?: number;
};

/** A session whose lease was claimed by {@link PostgresStore.claimStale}. */
export interface ClaimedSession {
  sessionId: string;
  lease: LeaseToken;
}

interface SessionRow extends QueryResultRow {
  id: string;
  version: string;
  status: string;
  last_seq: string;
  lease_epoch: string;
  lease_owner: string | null;
  lease_expires_at: string;
  state: SessionState;
  created_at: string;
  updated_at: string;
  tenant_id: string | null;
  owner_id: string | null;
}

interface InboxRow extends QueryResultRow {
  id: string;
  session_id: string;
  command: Json;
  actor: string;
  received_at: string;
  status: InboxEntry['status'];
  error: SerializedError | null;
}

interface CommitRow extends QueryResultRow {
  version: string | null;
  last_seq: string | null;
  lease_expires_at: string | null;
  cur_version: string | null;
  cur_last_seq: string | null;
  cur_epoch: string | null;
  cur_owner: string | null;
  cur_expires: string | null;
  now: string;
  pending: number | null;
}

const SESSION_COLUMNS =
  'id, version, status, last_seq, lease_epoch, lease_owner, lease_expires_at, state, created_at, updated_at, tenant_id, owner_id';
const INBOX_COLUMNS = 'id, session_id, command, actor, received_at, status, error';

const toRecord = (r: SessionRow): SessionRecord => ({
  id: r.id,
  version: Number(r.version),
  status: r.status as SessionStatus,
  lastSeq: Number(r.last_seq),
  leaseEpoch: Number(r.lease_epoch),
  leaseOwner: r.lease_owner,
  leaseExpiresAt: Number(r.lease_expires_at),
  state: r.state,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
  ...(r.tenant_id !== null ? { tenantId: r.tenant_id } : {}),
  ...(r.owner_id !== null ? { ownerId: r.owner_id } : {}),
});

const toEntry = (r: InboxRow): InboxEntry => ({
  id: r.id,
  sessionId: r.session_id,
  command: r.command,
  actor: r.actor,
  receivedAt: Number(r.received_at),
  status: r.status,
  ...(r.error ? { error: r.error } : {}),
});

const notFound = (sessionId: string): DreamAgentError =>
  new DreamAgentError('SESSION_NOT_FOUND', `no session "${sessionId}"`, { details: { sessionId } });

/**
 * The PostgreSQL {@link Store}: durable sessions shared by any number of API nodes and workers.
 *
 * Every commit is ONE SQL statement (writable CTEs) sent as one prepared-statement round trip: the
 * session row is updated with the version and lease/fencing check inside its `WHERE`, and the cycle's
 * events, todo rows, plan versions and inbox acks are written only when that update matched — a
 * statement is atomic, so a stale writer, a paused owner whose lease expired, or a seq gap writes
 * nothing. Leases are timed by the database clock (or an injected clock), so nodes with skewed clocks
 * still agree who owns a session.
 *
 * Connection loss maps to `UNAVAILABLE` (retryable); reads retry by themselves for `retryTimeoutMs`.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { PostgresStore } from '@dream-agent/postgres';
 * const store = new PostgresStore({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }) });
 * await store.migrate();
 * const agent = new Agent({ store, bus: new PostgresEventBus({ connectionString: process.env.DATABASE_URL! }) });
 * ```
 */
export class PostgresStore implements Store {
  readonly #handle: PoolHandle;
  readonly #schema: string;
  readonly #s: string;
  readonly #clock: { now(): number } | undefined;
  readonly #retryMs: number;
  readonly #sql: ReturnType<typeof statements>;
  readonly #names: Record<keyof ReturnType<typeof statements>, string>;
  readonly #tag: string;
  /** Commit statements by shape (which of events, todos, plan versions, acks the commit carries). */
  readonly #commits = new Map<string, CommitStatement>();

  /**
   * @param options - the user's `pg.Pool` (`{ pool }`) or `{ connectionString }` (or the string itself), schema, clock
   * @throws `INVALID_INPUT` for a bad schema name
   */
  constructor(options: PostgresStoreOptions | string) {
    const opts: PostgresStoreOptions = typeof options === 'string' ? { connectionString: options } : options;
    this.#handle = openPool(opts);
    this.#schema = opts.schema ?? DEFAULT_SCHEMA;
    this.#s = quoteIdent(this.#schema);
    this.#clock = opts.clock;
    this.#retryMs = opts.retryTimeoutMs ?? 30_000;
    this.#sql = statements(this.#s);
    const tag = createHash('sha1').update(this.#schema).digest('hex').slice(0, 8);
    this.#tag = tag;
    const names = {} as Record<keyof ReturnType<typeof statements>, string>;
    for (const k of Object.keys(this.#sql) as (keyof ReturnType<typeof statements>)[])
      names[k] = `dream_${k}_${tag}`;
    this.#names = names;
  }

  /** The pool this store queries (yours, or the one it created from a connection string). */
  get pool(): Pool {
    return this.#handle.pool;
  }

  /**
   * Applies missing schema migrations (see {@link migrate}).
   *
   * @returns what was applied
   */
  async migrate(): Promise<MigrateResult> {
    return migrate(this.#handle.pool, { schema: this.#schema });
  }

  #now(): number | null {
    return this.#clock ? this.#clock.now() : null;
  }

  async #q<R extends QueryResultRow>(
    key: keyof ReturnType<typeof statements>,
    values: unknown[],
    mode: RetryMode,
    client?: PoolClient,
  ): Promise<R[]> {
    const config = { name: this.#names[key], text: this.#sql[key], values };
    if (client) return (await client.query<R>(config)).rows;
    return withClient(
      this.#handle.pool,
      key,
      mode,
      this.#retryMs,
      async (c) => (await c.query<R>(config)).rows,
    );
  }

  async createSession(
    session: NewSession,
    owner: string,
    leaseTtlMs: number,
  ): Promise<{ record: SessionRecord; lease: LeaseToken }> {
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
    const batch = events.length > 0 ? JSON.stringify(events) : null;
    if (batch !== null && hasNul(batch)) throw nulError(session.id);
    const rows = await this.#q<SessionRow>(
      'create',
      [
        session.id,
        session.status,
        owner,
        leaseTtlMs,
        JSON.stringify(session.state),
        this.#now(),
        events.length,
        batch,
        session.tenantId ?? null,
        session.ownerId ?? null,
      ],
      'before-send',
    );
    const row = rows[0];
    if (!row)
      throw new DreamAgentError('SESSION_BUSY', `session "${session.id}" already exists`, {
        details: { sessionId: session.id },
      });
    const record = toRecord(row);
    return { record, lease: { owner, epoch: record.leaseEpoch } };
  }

  async getSession(sessionId: string): Promise<SessionRecord | undefined> {
    const row = (await this.#q<SessionRow>('get', [sessionId], 'always'))[0];
    return row ? toRecord(row) : undefined;
  }

  async listSessions(query: SessionQuery): Promise<SessionRecord[]> {
    const limit = Math.min(Math.max(query.limit ?? 100, 1), 1000);
    const where: string[] = [];
    const values: unknown[] = [];
    const param = (v: unknown): string => {
      values.push(v);
      return `$${values.length}`;
    };
    if (query.status) where.push(`status = ANY(${param(query.status)}::text[])`);
    if (query.leaseExpiredBefore !== undefined)
      where.push(`(lease_owner IS NULL OR lease_expires_at <= ${param(query.leaseExpiredBefore)}::bigint)`);
    if (query.hasPendingCommands)
      where.push(
        `EXISTS (SELECT 1 FROM ${this.#s}.inbox i WHERE i.session_id = s.id AND i.status = 'pending')`,
      );
    if (query.tenantId !== undefined) where.push(`tenant_id = ${param(query.tenantId)}`);
    if (query.ownerId !== undefined) where.push(`owner_id = ${param(query.ownerId)}`);
    if (query.after !== undefined) where.push(`id > ${param(query.after)}`);
    const text = `SELECT ${SESSION_COLUMNS} FROM ${this.#s}.sessions s ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ${limit}`;
    const rows = await withClient(
      this.#handle.pool,
      'listSessions',
      'always',
      this.#retryMs,
      async (c) => (await c.query<SessionRow>(text, values)).rows,
    );
    return rows.map(toRecord);
  }

  /**
   * Claims up to `limit` sessions that are `running` but whose lease expired (their owner died) with
   * `FOR UPDATE SKIP LOCKED`, so several workers calling it at once claim disjoint sets without waiting
   * on each other. Each claim increments the epoch like {@link acquireLease}.
   *
   * @param limit - how many at most
   * @param owner - the claiming node's id
   * @param ttlMs - the lease duration
   * @returns the claimed sessions and their fresh leases
   */
  async claimStale(limit: number, owner: string, ttlMs: number): Promise<ClaimedSession[]> {
    const rows = await this.#q<{ id: string; lease_epoch: string }>(
      'claim',
      [Math.max(1, Math.floor(limit)), owner, ttlMs, this.#now()],
      'before-send',
    );
    return rows.map((r) => ({ sessionId: r.id, lease: { owner, epoch: Number(r.lease_epoch) } }));
  }

  async acquireLease(sessionId: string, owner: string, ttlMs: number): Promise<LeaseToken | undefined> {
    const row = (
      await this.#q<{ epoch: string | null; found: boolean }>(
        'acquire',
        [sessionId, owner, ttlMs, this.#now()],
        'before-send',
      )
    )[0];
    if (!row?.found) throw notFound(sessionId);
    return row.epoch === null ? undefined : { owner, epoch: Number(row.epoch) };
  }

  async renewLease(sessionId: string, lease: LeaseToken, ttlMs: number): Promise<number | undefined> {
    // Idempotent: renewing twice (a retry after an unknown outcome) is the same as renewing once.
    const row = (
      await this.#q<{ until: string | null; found: boolean }>(
        'renew',
        [sessionId, lease.epoch, lease.owner, ttlMs, this.#now()],
        'always',
      )
    )[0];
    if (!row?.found) throw notFound(sessionId);
    return row.until === null ? undefined : Number(row.until);
  }

  async releaseLease(sessionId: string, lease: LeaseToken): Promise<void> {
    const row = (
      await this.#q<{ found: boolean }>('release', [sessionId, lease.epoch, lease.owner], 'always')
    )[0];
    if (!row?.found) throw notFound(sessionId);
  }

  async commit(c: Commit): Promise<CommitResult> {
    const first = c.events[0]?.seq ?? 0;
    let eventsOk = true;
    let badSeq: number | undefined;
    for (const [i, e] of c.events.entries()) {
      if (e.seq !== first + i || e.sessionId !== c.sessionId) {
        eventsOk = false;
        badSeq = e.seq;
        break;
      }
    }
    // Last write wins within one commit, as in the reference store (and ON CONFLICT cannot touch a row twice).
    const todos = [...new Map(c.todos.map((t) => [`${t.turnId}\u0000${t.todoId}`, t])).values()];
    const acks = [...new Map(c.inboxAcks.map((a) => [a.commandId, a])).values()];
    const events = c.events.length > 0 ? JSON.stringify(c.events) : null;
    // One todo (the usual cycle) travels as scalars; several as arrays zipped by ROWS FROM.
    const records = todos.length === 0 ? null : JSON.stringify(todos.length === 1 ? todos[0] : todos);
    // Events and todo records are stored as json (a validated copy), which would accept the escape
    // \u0000; jsonb (the state) cannot store it. Refuse it everywhere, before sending, so that a value is
    // either stored in every column or in none, as with migration 1.
    if ((events !== null && hasNul(events)) || (records !== null && hasNul(records))) {
      throw nulError(c.sessionId);
    }
    // Plan versions are stored as patches against the version before them. Only a commit carrying an
    // edited version (not the planner's first) reads that version first — one extra round trip on a
    // human's edit, none on the execution cycles. Stored versions never change, so reading it before the
    // fenced write is safe: a stale writer's commit is refused whatever it carries.
    let planRows: StoredPlanVersion[] = [];
    if (c.planVersions.length > 0) {
      const bases = new Map<string, ReturnType<typeof decodePlanVersionAt>>();
      await Promise.all(
        planBasesNeeded(c.planVersions).map(async (b) => {
          bases.set(`${b.planId}\u0000${b.version}`, await this.#planAt(c.sessionId, b.planId, b.version));
        }),
      );
      planRows = encodePlanVersions(c.planVersions, (planId, version) =>
        bases.get(`${planId}\u0000${version}`),
      );
    }
    const shape: CommitShape = {
      events: events !== null,
      todos: todos.length === 0 ? 'none' : todos.length === 1 ? 'one' : 'many',
      plans: c.planVersions.length > 0,
      acks: acks.length > 0,
    };
    const p: CommitParams = {
      id: c.sessionId,
      version: c.expectedVersion,
      epoch: c.lease.epoch,
      owner: c.lease.owner,
      now: this.#now(),
      status: c.status ?? null,
      state: c.state === undefined ? null : JSON.stringify(c.state),
      release: c.leaseAction === 'release',
      ttl: c.leaseTtlMs,
      count: c.events.length,
      first,
      ok: eventsOk,
      events,
      turnId: todos[0]?.turnId ?? null,
      todoId: todos[0]?.todoId ?? null,
      turnIds: todos.map((t) => t.turnId),
      todoIds: todos.map((t) => t.todoId),
      records,
      plans: shape.plans ? JSON.stringify(planRows) : null,
      acks: shape.acks ? JSON.stringify(acks) : null,
      ackCount: acks.length,
    };
    let row: CommitRow | undefined;
    try {
      const key = commitShapeKey(shape);
      let statement = this.#commits.get(key);
      if (!statement) {
        statement = commitStatement(this.#s, shape, `dream_commit${key}_${this.#tag}`);
        this.#commits.set(key, statement);
      }
      const config = {
        name: statement.name,
        text: statement.text,
        values: statement.params.map((k) => p[k]),
      };
      row = (
        await withClient(
          this.#handle.pool,
          'commit',
          'before-send',
          this.#retryMs,
          async (client) => (await client.query<CommitRow>(config)).rows,
        )
      )[0];
    } catch (e) {
      const code = (e as { cause?: { code?: unknown } }).cause?.code;
      if (code === '23505' && shape.plans) {
        throw new DreamAgentError(
          'CONFLICT',
          `a plan version in this commit already exists in session "${c.sessionId}"`,
          {
            cause: e,
            details: {
              sessionId: c.sessionId,
              planVersions: c.planVersions.map((p) => ({ planId: p.plan.id, version: p.plan.version })),
            },
          },
        );
      }
      if (code === 'DA001') {
        throw new DreamAgentError(
          'INVALID_INPUT',
          `an inbox ack names a command that is not in the inbox of "${c.sessionId}"`,
          {
            cause: e,
            details: { sessionId: c.sessionId, commandIds: acks.map((a) => a.commandId) },
          },
        );
      }
      throw e;
    }
    // No row at all: the session does not exist (the snapshot branch found nothing either).
    if (!row) throw notFound(c.sessionId);
    if (row.version !== null) {
      return {
        version: Number(row.version),
        lastSeq: Number(row.last_seq),
        leaseExpiresAt: Number(row.lease_expires_at),
        pendingCommands: Number(row.pending ?? 0),
      };
    }
    // Nothing was written: say why, in the reference store's order (version, lease, seq).
    if (row.cur_version === null) throw notFound(c.sessionId);
    const actual = Number(row.cur_version);
    if (actual !== c.expectedVersion) {
      throw new DreamAgentError(
        'CONFLICT',
        `session "${c.sessionId}" is at version ${actual}, not ${c.expectedVersion}`,
        {
          details: { sessionId: c.sessionId, expected: c.expectedVersion, actual },
        },
      );
    }
    const now = Number(row.now);
    if (
      Number(row.cur_epoch) !== c.lease.epoch ||
      row.cur_owner !== c.lease.owner ||
      Number(row.cur_expires) <= now
    ) {
      throw new DreamAgentError(
        'CONFLICT',
        `lease epoch ${c.lease.epoch} of "${c.lease.owner}" is not the live lease of "${c.sessionId}"`,
        {
          details: {
            sessionId: c.sessionId,
            epoch: c.lease.epoch,
            currentEpoch: Number(row.cur_epoch),
            owner: row.cur_owner,
          },
        },
      );
    }
    const expectedSeq = Number(row.cur_last_seq) + 1;
    if (c.events.length > 0 && (!eventsOk || first !== expectedSeq)) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `event seq ${badSeq ?? first} does not continue the log at ${expectedSeq}`,
        {
          details: { sessionId: c.sessionId, expectedSeq, seq: badSeq ?? first },
        },
      );
    }
    // Everything looked right in our snapshot, yet the guarded update matched nothing: a concurrent
    // writer committed (or took the lease) between our snapshot and the row lock.
    throw new DreamAgentError('CONFLICT', `session "${c.sessionId}" was changed by a concurrent writer`, {
      details: { sessionId: c.sessionId, expected: c.expectedVersion },
    });
  }

  /**
   * Deletes the session and everything stored for it — events, todos, plan versions, inbox — in one
   * statement (atomic: all of it or nothing). A live owner's next commit then fails `SESSION_NOT_FOUND`.
   *
   * @param sessionId - the session
   * @returns whether it existed
   * @throws `UNAVAILABLE` when PostgreSQL cannot be reached
   */
  async deleteSession(sessionId: string): Promise<boolean> {
    const rows = await this.#q<{ deleted: string }>('delete', [sessionId], 'always');
    return Number(rows[0]?.deleted ?? 0) > 0;
  }

  async getTodos(sessionId: string, turnId: string): Promise<TodoRecord[]> {
    return (await this.#q<{ record: TodoRecord }>('todos', [sessionId, turnId], 'always')).map(
      (r) => r.record,
    );
  }

  /** Rebuilds one stored plan version (the latest when `version` is omitted) from the checkpoint before it. */
  async #planAt(
    sessionId: string,
    planId: string,
    version: number | undefined,
  ): Promise<ReturnType<typeof decodePlanVersionAt>> {
    const tail = (
      await this.#q<{ record: StoredPlanVersion }>(
        'planTail',
        [sessionId, planId, version ?? null, PLAN_CHECKPOINT_EVERY],
        'always',
      )
    )
      .map((r) => r.record)
      .reverse();
    if (tail.length === 0) return undefined;
    const found = decodePlanVersionAt(tail, version);
    if (found || tail.length < PLAN_CHECKPOINT_EVERY) return found;
    // No checkpoint in the window (rows written with a longer checkpoint interval): read the whole chain.
    const all = (await this.#q<{ record: StoredPlanVersion }>('plans', [sessionId, planId], 'always')).map(
      (r) => r.record,
    );
    return decodePlanVersionAt(all, version);
  }

  async getPlan(sessionId: string, planId: string, version?: number): Promise<PlanVersionRecord | undefined> {
    return (await this.#planAt(sessionId, planId, version))?.record;
  }

  async listPlanVersions(sessionId: string, planId: string): Promise<PlanVersionRecord[]> {
    const rows = await this.#q<{ record: StoredPlanVersion }>('plans', [sessionId, planId], 'always');
    return decodePlanVersions(rows.map((r) => r.record)).map((v) => v.record);
  }

  async readEvents(
    sessionId: string,
    options: { after?: number; limit?: number } = {},
  ): Promise<AgentEvent[]> {
    const after = Math.max(options.after ?? 0, 0);
    const limit = Math.min(Math.max(options.limit ?? 1000, 1), 10_000);
    // Seqs are contiguous, so the answer is exactly the seqs after+1 .. after+limit that exist. The query
    // returns the batches overlapping that range (the first and last may hold a few more events).
    const rows = await this.#q<{ events: AgentEvent[] }>('events', [sessionId, after, limit], 'always');
    const out: AgentEvent[] = [];
    for (const row of rows) {
      for (const e of row.events) {
        if (e.seq <= after) continue;
        if (out.length >= limit) return out;
        out.push(e);
      }
    }
    return out;
  }

  async enqueueCommand(entry: Omit<InboxEntry, 'status' | 'error'>): Promise<InboxEntry> {
    // Idempotent by id: a retry after an unknown outcome returns the stored entry.
    const rows = await this.#q<InboxRow & { found: boolean }>(
      'enqueue',
      [entry.sessionId, entry.id, JSON.stringify(entry.command), entry.actor, entry.receivedAt],
      'always',
    );
    const row = rows.find((r) => r.id !== null);
    if (row) return toEntry(row);
    if (!rows[0]?.found) throw notFound(entry.sessionId);
    // Inserted concurrently by another node after our snapshot: read it.
    const again = await this.getCommand(entry.sessionId, entry.id);
    if (!again) throw new DreamAgentError('INTERNAL', `inbox command "${entry.id}" vanished`);
    return again;
  }

  async pendingCommands(sessionId: string): Promise<InboxEntry[]> {
    return (await this.#q<InboxRow>('pending', [sessionId], 'always')).map(toEntry);
  }

  async getCommand(sessionId: string, commandId: string): Promise<InboxEntry | undefined> {
    const row = (await this.#q<InboxRow>('command', [sessionId, commandId], 'always'))[0];
    return row ? toEntry(row) : undefined;
  }

  /**
   * Every record of a session as stored (see `Store.readRecords`), read in one `REPEATABLE READ`
   * snapshot.
   *
   * @param sessionId - the session
   * @returns its records, or undefined
   * @throws `UNAVAILABLE` when PostgreSQL cannot be reached
   */
  async readRecords(sessionId: string): Promise<SessionRecords | undefined> {
    const s = this.#s;
    return withClient(this.#handle.pool, 'readRecords', 'always', this.#retryMs, async (c) => {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      try {
        const row = (
          await c.query<SessionRow>(`SELECT ${SESSION_COLUMNS} FROM ${s}.sessions WHERE id = $1`, [sessionId])
        ).rows[0];
        if (!row) return undefined;
        const batches = await c.query<{ events: AgentEvent[] }>(
          `SELECT events FROM ${s}.event_batches WHERE session_id = $1 ORDER BY last_seq`,
          [sessionId],
        );
        const todos = await c.query<{ record: TodoRecord }>(
          `SELECT record FROM ${s}.todos WHERE session_id = $1 ORDER BY turn_id, todo_id`,
          [sessionId],
        );
        const plans = await c.query<{ record: PlanVersionRecord }>(
          `SELECT record FROM ${s}.plan_versions WHERE session_id = $1 ORDER BY plan_id, version`,
          [sessionId],
        );
        const inbox = await c.query<InboxRow>(
          `SELECT ${INBOX_COLUMNS} FROM ${s}.inbox WHERE session_id = $1 ORDER BY n`,
          [sessionId],
        );
        return {
          session: toRecord(row),
          events: batches.rows.flatMap((b) => b.events),
          todos: todos.rows.map((t) => t.record),
          // Plan versions stored as patches are rebuilt whole (a rewrite stores them whole).
          planVersions: decodePlanVersions(plans.rows.map((p) => p.record as StoredPlanVersion)).map(
            (d) => d.record,
          ),
          commands: inbox.rows.map(toEntry),
        };
      } finally {
        await c.query('COMMIT');
      }
    });
  }

  /**
   * Replaces payloads in place in one transaction that locks the session row (`FOR UPDATE`) and checks
   * its version first, so a concurrent commit either lands before (the rewrite fails `CONFLICT`) or waits
   * for it (and applies: the rewrite changes no version). See `Store.rewriteRecords`.
   *
   * @param r - the rewrite
   * @throws `CONFLICT` when the session moved past `expectedVersion`; `SESSION_NOT_FOUND`; `UNAVAILABLE`
   */
  async rewriteRecords(r: RecordsRewrite): Promise<void> {
    const s = this.#s;
    const texts = [
      r.state === undefined ? '' : JSON.stringify(r.state),
      ...(r.events ?? []).map((e) => JSON.stringify(e)),
      ...(r.todos ?? []).map((t) => JSON.stringify(t)),
      ...(r.planVersions ?? []).map((p) => JSON.stringify(p)),
      ...(r.commands ?? []).map((c) => JSON.stringify(c.command)),
    ];
    if (texts.some(hasNul)) throw nulError(r.sessionId);
    // Idempotent under the fence (it changes no version): retried on any connection error.
    await withClient(this.#handle.pool, 'rewriteRecords', 'always', this.#retryMs, async (c) => {
      await c.query('BEGIN');
      try {
        const cur = await c.query<{ version: string }>(
          `SELECT version FROM ${s}.sessions WHERE id = $1 FOR UPDATE`,
          [r.sessionId],
        );
        const version = cur.rows[0]?.version;
        assertRewriteApplies(r, version === undefined ? undefined : Number(version));
        if (r.state !== undefined) {
          await c.query(`UPDATE ${s}.sessions SET state = $2::jsonb WHERE id = $1`, [
            r.sessionId,
            JSON.stringify(r.state),
          ]);
        }
        if (r.events && r.events.length > 0) {
          // One row per commit: rewrite each batch that holds a replaced seq.
          const bySeq = new Map(r.events.map((e) => [e.seq, e]));
          const batches = await c.query<{ last_seq: string; events: AgentEvent[] }>(
            `SELECT last_seq, events FROM ${s}.event_batches WHERE session_id = $1 ORDER BY last_seq`,
            [r.sessionId],
          );
          for (const b of batches.rows) {
            let changed = false;
            const next = b.events.map((e) => {
              const n = bySeq.get(e.seq);
              if (n === undefined) return e;
              changed = true;
              return n;
            });
            if (changed) {
              await c.query(
                `UPDATE ${s}.event_batches SET events = $3::json WHERE session_id = $1 AND last_seq = $2`,
                [r.sessionId, b.last_seq, JSON.stringify(next)],
              );
            }
          }
        }
        for (const t of r.todos ?? []) {
          await c.query(
            `UPDATE ${s}.todos SET record = $4::json WHERE session_id = $1 AND turn_id = $2 AND todo_id = $3`,
            [r.sessionId, t.turnId, t.todoId, JSON.stringify(t)],
          );
        }
        for (const p of r.planVersions ?? []) {
          await c.query(
            `UPDATE ${s}.plan_versions SET record = $4::jsonb WHERE session_id = $1 AND plan_id = $2 AND version = $3`,
            [r.sessionId, p.plan.id, p.plan.version, JSON.stringify(p)],
          );
        }
        for (const cmd of r.commands ?? []) {
          await c.query(`UPDATE ${s}.inbox SET command = $3::jsonb WHERE session_id = $1 AND id = $2`, [
            r.sessionId,
            cmd.id,
            JSON.stringify(cmd.command),
          ]);
        }
        await c.query('COMMIT');
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    });
  }

  /**
   * Bytes of WAL PostgreSQL has written so far (`pg_current_wal_lsn()`): benchmarks diff it around
   * cycles to show that a commit's size does not grow with history.
   *
   * @returns the current WAL position in bytes
   */
  async walPosition(): Promise<number> {
    const rows = await withClient(this.#handle.pool, 'walPosition', 'always', this.#retryMs, async (c) => {
      return (
        await c.query<{ b: string }>(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint AS b`)
      ).rows;
    });
    return Number(rows[0]?.b ?? 0);
  }

  /** Ends the pool when this store created it (a pool you passed in stays yours to end). */
  async close(): Promise<void> {
    if (this.#handle.owned) await this.#handle.pool.end();
  }
}

/** The values a commit statement may take (each shape uses a subset, numbered in order of first use). */
interface CommitParams {
  id: string;
  version: number;
  epoch: number;
  owner: string;
  now: number | null;
  status: string | null;
  state: string | null;
  release: boolean;
  ttl: number;
  count: number;
  first: number;
  ok: boolean;
  events: string | null;
  turnId: string | null;
  todoId: string | null;
  turnIds: string[];
  todoIds: string[];
  records: string | null;
  plans: string | null;
  acks: string | null;
  ackCount: number;
}

/** What a commit carries besides the session row. */
interface CommitShape {
  events: boolean;
  todos: 'none' | 'one' | 'many';
  plans: boolean;
  acks: boolean;
}

/** A commit statement for one shape: its prepared-statement name, SQL and parameter order. */
interface CommitStatement {
  name: string;
  text: string;
  params: (keyof CommitParams)[];
}

const commitShapeKey = (shape: CommitShape): string =>
  `${shape.events ? 'e' : ''}${shape.todos === 'none' ? '' : shape.todos === 'one' ? 't' : 'T'}${shape.plans ? 'p' : ''}${shape.acks ? 'a' : ''}`;

/**
 * Whether serialised JSON contains the escape \u0000 (a NUL character), which jsonb refuses. A
 * backslash in the data is serialised as `\\`, so only an escape preceded by an even run of
 * backslashes is a NUL.
 */
function hasNul(json: string): boolean {
  return json.includes('\\u0000') && /(?:^|[^\\])(?:\\\\)*\\u0000/.test(json);
}

const nulError = (sessionId: string): DreamAgentError =>
  new DreamAgentError(
    'INVALID_INPUT',
    `PostgreSQL cannot store the character U+0000 in JSON (session "${sessionId}")`,
    {
      details: { sessionId, pgCode: '22P05' },
    },
  );

/**
 * The ONE statement of a commit of a given shape. The session row is updated (HOT: no indexed column
 * changes on a usual commit) with the version and lease check in its WHERE; the other writes read that
 * update's row, so they happen only when it matched. Only the writes this shape needs are in the
 * statement: executor start-up of an unused writable CTE costs as much as a small insert.
 *
 * Result: one row with the new version when the commit landed; otherwise one row with the session's
 * current values (to say why), or no row when the session does not exist.
 */
function commitStatement(s: string, shape: CommitShape, name: string): CommitStatement {
  const params: (keyof CommitParams)[] = [];
  const $ = (key: keyof CommitParams, type: string): string => {
    let i = params.indexOf(key);
    if (i < 0) i = params.push(key) - 1;
    return `$${i + 1}::${type}`;
  };
  const id = $('id', 'text');
  const now = `COALESCE(${$('now', 'bigint')}, (extract(epoch FROM statement_timestamp()) * 1000)::bigint)`;
  const release = $('release', 'boolean');
  const ctes = [
    `s AS (
       UPDATE ${s}.sessions SET
         version = version + 1,${shape.events ? `\n         last_seq = last_seq + ${$('count', 'int')},` : ''}
         status = COALESCE(${$('status', 'text')}, status),
         state = COALESCE(${$('state', 'jsonb')}, state),
         updated_at = ${now},
         lease_owner = CASE WHEN ${release} THEN NULL ELSE lease_owner END,
         lease_expires_at = CASE WHEN ${release} THEN 0 ELSE ${now} + ${$('ttl', 'bigint')} END
       WHERE id = ${id} AND version = ${$('version', 'bigint')} AND lease_epoch = ${$('epoch', 'bigint')}
         AND lease_owner = ${$('owner', 'text')} AND lease_expires_at > ${now}${
           shape.events ? ` AND ${$('ok', 'boolean')} AND last_seq = ${$('first', 'bigint')} - 1` : ''
         }
       RETURNING version, last_seq, lease_expires_at)`,
  ];
  if (shape.events) {
    ctes.push(`ev AS (
       INSERT INTO ${s}.event_batches (session_id, first_seq, last_seq, events)
       SELECT ${id}, ${$('first', 'bigint')}, s.last_seq, ${$('events', 'json')} FROM s)`);
  }
  if (shape.todos !== 'none') {
    const rows =
      shape.todos === 'one'
        ? `SELECT ${id}, ${$('turnId', 'text')}, ${$('todoId', 'text')}, ${$('records', 'json')} FROM s`
        : `SELECT ${id}, t.turn_id, t.todo_id, t.record
       FROM s, ROWS FROM (unnest(${$('turnIds', 'text[]')}), unnest(${$('todoIds', 'text[]')}), json_array_elements(${$('records', 'json')}))
         AS t(turn_id, todo_id, record)`;
    ctes.push(`td AS (
       INSERT INTO ${s}.todos (session_id, turn_id, todo_id, record)
       ${rows}
       ON CONFLICT (session_id, turn_id, todo_id) DO UPDATE SET record = EXCLUDED.record)`);
  }
  if (shape.plans) {
    ctes.push(`pv AS (
       INSERT INTO ${s}.plan_versions (session_id, plan_id, version, record)
       SELECT ${id}, COALESCE(p->'plan'->>'id', p->>'planId'), COALESCE(p->'plan'->>'version', p->>'version')::int, p
       FROM s, jsonb_array_elements(${$('plans', 'jsonb')}) p)`);
  }
  if (shape.acks) {
    ctes.push(`ack AS (
       UPDATE ${s}.inbox i SET status = a->>'status', error = a->'error'
       FROM s, jsonb_array_elements(${$('acks', 'jsonb')}) a
       WHERE i.session_id = ${id} AND i.id = a->>'commandId'
       RETURNING 1)`);
  }
  const ackCheck = shape.acks
    ? `, CASE WHEN (SELECT count(*) FROM ack) <> ${$('ackCount', 'int')} THEN ${s}.dream_fail('DA001', 'inbox ack for an unknown command') END AS ack_check`
    : '';
  // The inbox entries still pending after this commit, from the statement's own snapshot: the ack CTE's
  // updates are not visible to it, so the entries this commit acks are excluded by id. Read by the
  // partial index inbox_pending_idx; evaluated only on the success row.
  const pending = `(SELECT count(*) FROM ${s}.inbox i WHERE i.session_id = ${id} AND i.status = 'pending'${
    shape.acks
      ? ` AND i.id NOT IN (SELECT a->>'commandId' FROM jsonb_array_elements(${$('acks', 'jsonb')}) a)`
      : ''
  })::int`;
  const text = `WITH ${ctes.join(',\n     ')}
     SELECT version, last_seq, lease_expires_at, NULL::bigint AS cur_version, NULL::bigint AS cur_last_seq,
            NULL::bigint AS cur_epoch, NULL::text AS cur_owner, NULL::bigint AS cur_expires, NULL::bigint AS now,
            ${pending} AS pending${ackCheck}
     FROM s
     UNION ALL
     SELECT NULL, NULL, NULL, version, last_seq, lease_epoch, lease_owner, lease_expires_at, ${now}, NULL${shape.acks ? ', NULL' : ''}
     FROM ${s}.sessions WHERE id = ${id} AND NOT EXISTS (SELECT 1 FROM s)`;
  return { name, text, params };
}

/** The store's SQL, with the schema spliced in (identifiers cannot be parameters). */
function statements(s: string) {
  const now = `COALESCE($NOW::bigint, (extract(epoch FROM statement_timestamp()) * 1000)::bigint)`;
  const withNow = (sql: string, n: number): string => sql.replaceAll('$NOW', () => `$${n}`);
  return {
    // The session row and the new turn's first events in one statement: a crash never leaves a session
    // without the input that created it. No row back: the id exists (nothing was written).
    create: withNow(
      `WITH n AS (SELECT ${now} AS now),
       s AS (
         INSERT INTO ${s}.sessions (id, version, status, last_seq, lease_epoch, lease_owner, lease_expires_at, state, created_at, updated_at, tenant_id, owner_id)
         SELECT $1, 1, $2, $7::bigint, 1, $3, n.now + $4::bigint, $5::jsonb, n.now, n.now, $9::text, $10::text FROM n
         ON CONFLICT (id) DO NOTHING
         RETURNING ${SESSION_COLUMNS}),
       ev AS (
         INSERT INTO ${s}.event_batches (session_id, first_seq, last_seq, events)
         SELECT s.id, 1, s.last_seq, $8::json FROM s WHERE $8::json IS NOT NULL)
       SELECT * FROM s`,
      6,
    ),
    delete: `WITH ev AS (DELETE FROM ${s}.event_batches WHERE session_id = $1),
       td AS (DELETE FROM ${s}.todos WHERE session_id = $1),
       pv AS (DELETE FROM ${s}.plan_versions WHERE session_id = $1),
       ib AS (DELETE FROM ${s}.inbox WHERE session_id = $1),
       se AS (DELETE FROM ${s}.sessions WHERE id = $1 RETURNING 1)
       SELECT count(*) AS deleted FROM se`,
    get: `SELECT ${SESSION_COLUMNS} FROM ${s}.sessions WHERE id = $1`,
    acquire: withNow(
      `WITH n AS (SELECT ${now} AS now),
       u AS (
         UPDATE ${s}.sessions SET lease_epoch = lease_epoch + 1, lease_owner = $2, lease_expires_at = n.now + $3::bigint
         FROM n WHERE id = $1 AND (lease_owner IS NULL OR lease_expires_at <= n.now)
         RETURNING lease_epoch)
       SELECT (SELECT lease_epoch FROM u) AS epoch, EXISTS (SELECT 1 FROM ${s}.sessions WHERE id = $1) AS found`,
      4,
    ),
    claim: withNow(
      `WITH n AS (SELECT ${now} AS now),
       c AS (
         SELECT id FROM ${s}.sessions, n
         WHERE status = 'running' AND (lease_owner IS NULL OR lease_expires_at <= n.now)
         ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
       UPDATE ${s}.sessions t SET lease_epoch = t.lease_epoch + 1, lease_owner = $2, lease_expires_at = n.now + $3::bigint
       FROM c, n WHERE t.id = c.id
       RETURNING t.id, t.lease_epoch`,
      4,
    ),
    renew: withNow(
      `WITH n AS (SELECT ${now} AS now),
       u AS (
         UPDATE ${s}.sessions SET lease_expires_at = n.now + $4::bigint
         FROM n WHERE id = $1 AND lease_epoch = $2 AND lease_owner = $3 AND lease_expires_at > n.now
         RETURNING lease_expires_at)
       SELECT (SELECT lease_expires_at FROM u) AS until, EXISTS (SELECT 1 FROM ${s}.sessions WHERE id = $1) AS found`,
      5,
    ),
    release: `WITH u AS (
         UPDATE ${s}.sessions SET lease_owner = NULL, lease_expires_at = 0
         WHERE id = $1 AND lease_epoch = $2 AND lease_owner = $3
         RETURNING 1)
       SELECT EXISTS (SELECT 1 FROM ${s}.sessions WHERE id = $1) AS found, (SELECT count(*) FROM u) AS released`,
    todos: `SELECT record FROM ${s}.todos WHERE session_id = $1 AND turn_id = $2`,
    // The stored rows at or below a version (any when NULL), newest first: enough to rebuild it.
    planTail: `SELECT record FROM ${s}.plan_versions WHERE session_id = $1 AND plan_id = $2 AND ($3::int IS NULL OR version <= $3::int)
           ORDER BY version DESC LIMIT $4::int`,
    plans: `SELECT record FROM ${s}.plan_versions WHERE session_id = $1 AND plan_id = $2 ORDER BY version`,
    // The batches overlapping seqs (after, after + limit]: those ending after `after`, up to the first
    // one that reaches after + limit (or the end of the log). Two bounded range scans of the primary key.
    events: `SELECT events FROM ${s}.event_batches
       WHERE session_id = $1 AND last_seq > $2::bigint
         AND last_seq <= COALESCE(
           (SELECT b.last_seq FROM ${s}.event_batches b
            WHERE b.session_id = $1 AND b.last_seq >= $2::bigint + $3::bigint ORDER BY b.last_seq LIMIT 1),
           9223372036854775807)
       ORDER BY last_seq`,
    enqueue: `WITH ins AS (
         INSERT INTO ${s}.inbox (session_id, id, command, actor, received_at)
         SELECT $1, $2, $3::jsonb, $4, $5::bigint WHERE EXISTS (SELECT 1 FROM ${s}.sessions WHERE id = $1)
         ON CONFLICT (session_id, id) DO NOTHING
         RETURNING ${INBOX_COLUMNS}),
       found AS (SELECT EXISTS (SELECT 1 FROM ${s}.sessions WHERE id = $1) AS found)
       SELECT ins.*, found.found FROM ins, found
       UNION ALL
       SELECT ${INBOX_COLUMNS.split(', ')
         .map((c) => `i.${c}`)
         .join(', ')}, found.found FROM ${s}.inbox i, found WHERE i.session_id = $1 AND i.id = $2
       UNION ALL
       SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, found.found FROM found`,
    pending: `SELECT ${INBOX_COLUMNS} FROM ${s}.inbox WHERE session_id = $1 AND status = 'pending' ORDER BY n`,
    command: `SELECT ${INBOX_COLUMNS} FROM ${s}.inbox WHERE session_id = $1 AND id = $2`,
  };
}
