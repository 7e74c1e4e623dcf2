import type { AgentEvent } from '../model/events.js';
import type { PlanVersionRecord } from '../model/plan.js';
import type { Json } from '../model/json.js';
import type { InboxEntry, SessionRecord, SessionState, SessionStatus, TodoRecord } from '../model/session.js';
import { DreamAgentError, type SerializedError } from '../errors/index.js';

/** Proof of ownership of a session: the owner id and the fencing epoch it acquired. */
export interface LeaseToken {
  /** Who holds the lease: the owner id given to `acquireLease` (each agent process has its own). */
  owner: string;
  /**
   * The fencing epoch: incremented by every acquisition, so a token from before a takeover is stale and
   * its commits fail with `CONFLICT`.
   */
  epoch: number;
}

/** What creating a session stores. */
export interface NewSession {
  /** The session id; creating an id that exists fails with `SESSION_BUSY`. */
  id: string;
  /** The initial status (the agent creates sessions `running`, with their first turn started). */
  status: SessionStatus;
  /** The initial small session state (dialogue, current turn). */
  state: SessionState;
  /** Events appended atomically with the creation, seq 1..n (the new turn's first commit). */
  events?: AgentEvent[];
  /** Tenant the session belongs to (indexed, filterable). */
  tenantId?: string;
  /** Principal that owns the session (indexed, filterable). */
  ownerId?: string;
}

/** The acknowledgement of an inbox command, written in the same commit as its effects. */
export interface InboxAck {
  /** The inbox command acknowledged ({@link InboxEntry.id}). */
  commandId: string;
  /** `applied` when its effects are in this commit, `rejected` when it was refused (see `error`). */
  status: 'applied' | 'rejected';
  /** Why it was rejected (its code and message); absent when applied. */
  error?: SerializedError;
}

/**
 * Everything one cycle changes, written atomically as deltas. Its size depends on what the cycle did,
 * never on how long the session has run.
 */
export interface Commit {
  /** The session written. */
  sessionId: string;
  /** The version the writer read; the commit fails with `CONFLICT` unless it is still current. */
  expectedVersion: number;
  /** The writer's lease; the commit fails with `CONFLICT` unless it is the live lease. */
  lease: LeaseToken;
  /** New session status (unchanged when omitted). */
  status?: SessionStatus;
  /** New small session state (unchanged when omitted). */
  state?: SessionState;
  /** Events to append; their seqs must continue the log exactly (lastSeq + 1, + 2, …). */
  events: AgentEvent[];
  /** Todo rows to upsert (key: sessionId, turnId, todoId). */
  todos: TodoRecord[];
  /** Plan versions to insert (key: sessionId, plan id, version; never overwritten). */
  planVersions: PlanVersionRecord[];
  /** Inbox commands to mark applied or rejected. */
  inboxAcks: InboxAck[];
  /** After commit: `renew` extends the lease by `leaseTtlMs`; `release` frees it. */
  leaseAction: 'renew' | 'release';
  /** Lease duration for `renew`. */
  leaseTtlMs: number;
}

/** The result of a successful commit. */
export interface CommitResult {
  /** The session's version after the commit (one more than `expectedVersion`); the next commit expects it. */
  version: number;
  /** The seq of the session's last event after the commit (unchanged when it appended none). */
  lastSeq: number;
  /** When the lease now expires (0 after release). */
  leaseExpiresAt: number;
  /**
   * Inbox entries of the session still pending after this commit (those it acked excluded), read inside
   * the same statement/transaction, so the owner learns of new commands at every cycle boundary without
   * an extra round trip.
   */
  pendingCommands: number;
}

/** A filter for {@link Store.listSessions}. */
export interface SessionQuery {
  /** Only these statuses. */
  status?: SessionStatus[];
  /** Only sessions whose lease is not live at this epoch-ms time: released, or expired (crash recovery). */
  leaseExpiredBefore?: number;
  /** Only sessions with pending inbox commands. */
  hasPendingCommands?: boolean;
  /** Page after this session id (ids ascending). */
  after?: string;
  /** Page size (default 100, max 1000). */
  limit?: number;
  /** Only sessions of this tenant. */
  tenantId?: string;
  /** Only sessions owned by this principal. */
  ownerId?: string;
}

/**
 * Every record a store holds for one session, exactly as the backend holds it (for maintenance jobs such
 * as re-encryption: through `encryptedStore` these are the sealed rows).
 */
export interface SessionRecords {
  /** The session row (its state as stored). */
  session: SessionRecord;
  /** Every event, seq ascending. */
  events: AgentEvent[];
  /** Every todo row of every turn. */
  todos: TodoRecord[];
  /** Every plan version of every plan. */
  planVersions: PlanVersionRecord[];
  /** Every inbox entry, pending or not, in arrival order. */
  commands: InboxEntry[];
}

/**
 * Payloads to replace in place, for {@link Store.rewriteRecords}. Each record is found by its key (state:
 * the session; events: seq; todos: turn and todo id; plan versions: plan id and version; commands: id)
 * and keeps it; records not found are ignored. Nothing else changes: version, lease, seqs, status and
 * timestamps stay as they are, so a session driven meanwhile is not disturbed.
 */
export interface RecordsRewrite {
  /** The session whose records are replaced. */
  sessionId: string;
  /** The version the rewrite was computed from: it applies only while the session is still at it. */
  expectedVersion: number;
  /** The new session state. */
  state?: SessionState;
  /** Events replacing the stored ones with the same seq. */
  events?: AgentEvent[];
  /** Todo rows replacing the stored ones with the same turn and todo id. */
  todos?: TodoRecord[];
  /** Plan versions replacing the stored ones with the same plan id and version. */
  planVersions?: PlanVersionRecord[];
  /** New payloads of inbox commands (their status, actor and errors are kept). */
  commands?: {
    /** The inbox command's id. */
    id: string;
    /** Its new payload. */
    command: Json;
  }[];
}

/**
 * The durable state of sessions: session rows (version + lease), plan versions, todo states, an
 * append-only event log with per-session seq, and a command inbox.
 *
 * The contract (checked by `storeContract` in `dream-agent/testing`, run by every implementation):
 * - `commit` is atomic and checks, inside the write, that `expectedVersion` is current and that
 *   `lease` is the live lease (same epoch and owner, not expired by the store's clock); otherwise it
 *   throws a `CONFLICT` error and changes nothing.
 * - `acquireLease` succeeds for exactly one of several racing callers; it increments the epoch, so
 *   every earlier lease token becomes stale; an expired lease can be taken over.
 * - Events are appended with contiguous seqs; `readEvents` returns them in seq order.
 * - Returned objects are copies: mutating them never changes stored state.
 * - An unreachable backend throws `UNAVAILABLE` (retryable), never a partial write.
 */
export interface Store {
  /**
   * Creates a session and gives its lease to `owner`.
   *
   * @throws `SESSION_BUSY` when the id exists
   */
  createSession(
    session: NewSession,
    owner: string,
    leaseTtlMs: number,
  ): Promise<{
    /** The stored session row (version 1). */
    record: SessionRecord;
    /** The lease `owner` now holds, valid for `leaseTtlMs`. */
    lease: LeaseToken;
  }>;
  /** @returns the session row, or undefined */
  getSession(sessionId: string): Promise<SessionRecord | undefined>;
  /** @returns session rows matching the query, ids ascending */
  listSessions(query: SessionQuery): Promise<SessionRecord[]>;
  /**
   * Takes the lease when it is free or expired.
   *
   * @returns the new lease token, or undefined when another owner holds a live lease
   * @throws `SESSION_NOT_FOUND`
   */
  acquireLease(sessionId: string, owner: string, ttlMs: number): Promise<LeaseToken | undefined>;
  /**
   * Extends a live lease.
   *
   * @returns the new expiry, or undefined when the lease is no longer ours
   */
  renewLease(sessionId: string, lease: LeaseToken, ttlMs: number): Promise<number | undefined>;
  /** Frees the lease if it is still ours (no-op otherwise). */
  releaseLease(sessionId: string, lease: LeaseToken): Promise<void>;
  /**
   * Applies one cycle's deltas atomically.
   *
   * @throws `CONFLICT` on a stale version or lease; `INVALID_INPUT` on non-contiguous event seqs
   */
  commit(commit: Commit): Promise<CommitResult>;
  /** @returns the todo rows of a turn (any order) */
  getTodos(sessionId: string, turnId: string): Promise<TodoRecord[]>;
  /** @returns one plan version, or the latest when `version` is omitted */
  getPlan(sessionId: string, planId: string, version?: number): Promise<PlanVersionRecord | undefined>;
  /** @returns the versions of a plan, oldest first */
  listPlanVersions(sessionId: string, planId: string): Promise<PlanVersionRecord[]>;
  /** @returns events with seq > `after` (default 0), at most `limit` (default 1000), seq ascending */
  readEvents(sessionId: string, options?: { after?: number; limit?: number }): Promise<AgentEvent[]>;
  /**
   * Stores a command in the session's inbox. Re-enqueueing an existing id returns the stored entry.
   *
   * @throws `SESSION_NOT_FOUND`
   */
  enqueueCommand(entry: Omit<InboxEntry, 'status' | 'error'>): Promise<InboxEntry>;
  /** @returns pending inbox commands, oldest first */
  pendingCommands(sessionId: string): Promise<InboxEntry[]>;
  /** @returns one inbox entry */
  getCommand(sessionId: string, commandId: string): Promise<InboxEntry | undefined>;
  /**
   * Optional: atomically claims up to `limit` sessions that are `running` with a lease that is free or
   * expired (crash recovery), giving each a new lease for `owner`. Racing claimers never get the same
   * session (PostgreSQL: `FOR UPDATE SKIP LOCKED`). `agent.recover()` uses it when present, and falls back
   * to `listSessions` + `acquireLease` otherwise.
   *
   * @returns the claimed sessions with their new leases
   */
  claimStale?(
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
  >;
  /**
   * Deletes the session and everything stored for it (events, todos, plan versions, inbox).
   *
   * @returns whether it existed
   */
  deleteSession?(sessionId: string): Promise<boolean>;
  /**
   * Optional: reads every record of a session as stored (see {@link SessionRecords}); with
   * {@link Store.rewriteRecords} it lets `reencryptStore` rotate old rows to the current key.
   *
   * @param sessionId - the session
   * @returns the records, or undefined when there is no such session
   */
  readRecords?(sessionId: string): Promise<SessionRecords | undefined>;
  /**
   * Optional: replaces stored payloads in place, atomically, fenced by the session version: it applies
   * only while the session is at `expectedVersion`, so it never overwrites what a concurrent commit wrote
   * (that commit moved the version; re-read and compute the rewrite again). It changes no version, lease
   * or seq, so a commit racing it still applies.
   *
   * @param rewrite - the payloads to replace and the version they were computed from
   * @throws `CONFLICT` when the session moved past `expectedVersion` (nothing changed); `SESSION_NOT_FOUND`
   */
  rewriteRecords?(rewrite: RecordsRewrite): Promise<void>;
  /** Releases connections (optional). */
  close?(): Promise<void>;
}

/**
 * The check every {@link Store.rewriteRecords} makes, with the contract's errors.
 *
 * @param r - the rewrite
 * @param version - the session's current version, or undefined when it does not exist
 * @throws `SESSION_NOT_FOUND` when it does not exist; `CONFLICT` when it is not at `r.expectedVersion`
 */
export function assertRewriteApplies(r: RecordsRewrite, version: number | undefined): void {
  if (version === undefined) {
    throw new DreamAgentError('SESSION_NOT_FOUND', `no session "${r.sessionId}"`, {
      details: { sessionId: r.sessionId },
    });
  }
  if (version !== r.expectedVersion) {
    throw new DreamAgentError(
      'CONFLICT',
      `session "${r.sessionId}" is at version ${version}, not ${r.expectedVersion}: re-read and rewrite again`,
      { details: { sessionId: r.sessionId, expected: r.expectedVersion, actual: version } },
    );
  }
}

/** The fields of a session row that decide whether a commit applies. */
export interface CommitGuardState {
  /** The session's current version, compared with {@link Commit.expectedVersion}. */
  version: number;
  /** The seq of the session's last event: the commit's events must start at `lastSeq + 1`. */
  lastSeq: number;
  /** The epoch of the lease as stored, compared with the commit's lease epoch. */
  leaseEpoch: number;
  /** The lease holder as stored; null when the lease was released. */
  leaseOwner: string | null;
  /** When the stored lease expires, epoch ms (a lease expired at `now` fails the commit). */
  leaseExpiresAt: number;
}

/**
 * The checks every Store makes before applying a commit, with the contract's exact errors: the expected
 * version is current, the lease is the live one (same epoch and owner, not expired at `now`), and the
 * events continue the log exactly. Stores that check in SQL (PostgreSQL) do the same inside their
 * statement; stores that check in code (memory, SQLite) call this inside their transaction.
 *
 * @param c - the commit
 * @param current - the session row as the store holds it
 * @param now - the store's clock, epoch ms
 * @returns the seq of the last event after the commit
 * @throws `CONFLICT` on a stale version or lease; `INVALID_INPUT` on events that do not continue the log
 */
export function assertCommitApplies(c: Commit, current: CommitGuardState, now: number): number {
  if (current.version !== c.expectedVersion) {
    throw new DreamAgentError(
      'CONFLICT',
      `session "${c.sessionId}" is at version ${current.version}, not ${c.expectedVersion}`,
      {
        details: { sessionId: c.sessionId, expected: c.expectedVersion, actual: current.version },
      },
    );
  }
  if (
    current.leaseEpoch !== c.lease.epoch ||
    current.leaseOwner !== c.lease.owner ||
    current.leaseExpiresAt <= now
  ) {
    throw new DreamAgentError(
      'CONFLICT',
      `lease epoch ${c.lease.epoch} of "${c.lease.owner}" is not the live lease of "${c.sessionId}"`,
      {
        details: {
          sessionId: c.sessionId,
          epoch: c.lease.epoch,
          currentEpoch: current.leaseEpoch,
          owner: current.leaseOwner,
        },
      },
    );
  }
  let seq = current.lastSeq;
  for (const e of c.events) {
    seq += 1;
    if (e.seq !== seq || e.sessionId !== c.sessionId) {
      throw new DreamAgentError('INVALID_INPUT', `event seq ${e.seq} does not continue the log at ${seq}`, {
        details: { sessionId: c.sessionId, expectedSeq: seq, seq: e.seq },
      });
    }
  }
  return seq;
}
