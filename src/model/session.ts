import { z } from 'zod';
import type { SerializedError } from '../errors/index.js';
import type { Intent } from './intent.js';
import type { Json, JsonObject } from './json.js';
import type { Plan, PlanVersionRecord } from './plan.js';
import type { PlanChange } from './plan-history.js';

/** The kinds of human-in-the-loop request. */
export const REQUEST_KINDS = ['plan_review', 'approval', 'input', 'clarification', 'recovery'] as const;
/** A kind of human-in-the-loop request. */
export type RequestKind = (typeof REQUEST_KINDS)[number];

/**
 * What an approval covers: exactly what will run if it is granted. Any change to it (an edit of the todo,
 * a new output of a dependency it references, a new tool version, input provided after the request)
 * withdraws the request (`approval.resolved` with outcome `superseded`) and asks again under a new id.
 */
export interface ApprovalEffect {
  /** The todo the approval gates. */
  todoId: string;
  /** The plan version in which this todo's definition last changed. */
  todoVersion: number;
  /** The tool that will run, when the todo names one. */
  tool?: string;
  /** The tool version that will run (pinned once the todo first started). */
  toolVersion?: string;
  /**
   * The content hash of that tool version's definition, when it differs from the version string: a tool
   * re-registered (hot-reloaded) under an unchanged version is a different effect.
   */
  toolRevision?: string;
  /** The todo's input with every `$ref` substituted by the referenced output. */
  input: JsonObject;
  /** Values humans provided for the todo's input requests, by key (absent before any). */
  provided?: JsonObject;
}

/**
 * A pending human-in-the-loop request. Ids are derived deterministically from the session, turn and
 * todo (never random), so a replayed or recovered turn asks the same question under the same id and a
 * client cannot forge a request for a todo that never asked.
 */
export interface HitlRequest {
  /** The request id (deterministic: the same question keeps the same id). */
  id: string;
  /** What is asked: plan review, approval, input, clarification or recovery. */
  kind: RequestKind;
  /** The turn that asked. */
  turnId: string;
  /** The todo it concerns (approval, input, recovery). */
  todoId?: string;
  /** What the human is asked. */
  prompt: string;
  /** JSON Schema the answer must satisfy (input requests). */
  schema?: JsonObject;
  /** Risk level shown with approval requests. */
  risk?: 'low' | 'medium' | 'high';
  /**
   * Roles allowed to answer (approval requests), or to decide `retry` (recovery requests of a todo a human
   * approved: the roles that approval needed); empty or absent means anyone.
   */
  roles?: string[];
  /** Options offered (clarifications, recovery decisions). */
  options?: string[];
  /** When it was raised (ms since the epoch, the agent's clock). */
  createdAt: number;
  /** When set, the request may be expired by the host (see docs/hitl.md). */
  expiresAt?: number;
  /** Extra data for UIs (tool name, input preview, plan version…). */
  details?: JsonObject;
  /** Approval requests: the exact effect a grant lets run. */
  effect?: ApprovalEffect;
  /** Approval requests: sha256 hex of the canonical JSON of `effect`; `approval.grant` may name it. */
  digest?: string;
}

/** How the todos of a finished turn ended (bounded lists: at most 50 entries each). */
export interface TurnTodoSummary {
  /** How many todos the plan had. */
  total: number;
  /** How many completed. */
  completed: number;
  /** How many failed. */
  failed: number;
  /** How many were skipped. */
  skipped: number;
  /** Todos that failed, with their error. */
  failures: {
    /** The todo. */
    todoId: string;
    /** Its error. */
    error: SerializedError;
  }[];
  /** Todos that were skipped, with the reason. */
  skips: {
    /** The todo. */
    todoId: string;
    /** Why it was skipped. */
    reason: SkipReason;
    /** More detail, when there is any. */
    detail?: string;
  }[];
}

/** Where a session is. `idle`: no turn in progress. */
export const SESSION_STATUSES = ['idle', 'running', 'waiting', 'paused'] as const;
/** Where a session is. */
export type SessionStatus = (typeof SESSION_STATUSES)[number];

/** The phase of the current turn. */
export type TurnPhase = 'understanding' | 'planning' | 'reviewing' | 'executing' | 'responding' | 'done';

/** How a turn ended. */
export type TurnOutcome = 'completed' | 'failed' | 'cancelled';

/** The state of the current (or last) turn, kept small: it is rewritten on every commit. */
export interface TurnState {
  /** The turn id. */
  id: string;
  /** 1-based turn number within the session. */
  index: number;
  /** The user's text. */
  input: string;
  /** Where the turn is. */
  phase: TurnPhase;
  /** What the Cognitive layer understood (once it ran). */
  intent?: Intent;
  /** Questions asked and answers received during clarification, in order. */
  clarifications: {
    /** The question asked. */
    question: string;
    /** The answer received. */
    answer: string;
    /** The slot the answer fills, when there is one. */
    slot?: string;
  }[];
  /** The id of the turn's plan (once planned). */
  planId?: string;
  /** The plan version in effect. */
  planVersion?: number;
  /** Pending human-in-the-loop requests. */
  pending: HitlRequest[];
  /** A pause was requested or is in effect. */
  paused: boolean;
  /** How the turn ended (once it ended). */
  outcome?: TurnOutcome;
  /** The answer text (completed turns). */
  answer?: string;
  /** Why the turn failed (failed turns). */
  error?: SerializedError;
  /** The responder failed after every todo ran: the turn completed without an answer text. */
  answerError?: SerializedError;
  /** How the todos ended (set when the turn ends). */
  todoSummary?: TurnTodoSummary;
  /** When the turn started (ms since the epoch). */
  startedAt: number;
  /** When it ended. */
  endedAt?: number;
}

/** One past turn remembered for dialogue (bounded list). */
export interface DialogueTurn {
  /** The turn id. */
  turnId: string;
  /** The user's text. */
  input: string;
  /** The intent name understood. */
  intent?: string;
  /** The slot values of that turn. */
  slots: JsonObject;
  /** The answer given. */
  answer?: string;
}

/** The small, bounded state of a session, rewritten on every commit. */
export interface SessionState {
  /** The current (or last) turn; null before the first. */
  turn: TurnState | null;
  /** Number of turns started. */
  turns: number;
  /** Recent turns, newest last (bounded). */
  dialogue: DialogueTurn[];
  /** Slots carried across turns for follow-ups ("now do the same for Europe"). */
  slots: JsonObject;
  /** Host-provided metadata (tenant, user…). */
  metadata: JsonObject;
}

/** The stored session row. */
export interface SessionRecord {
  /** The session id. */
  id: string;
  /** Incremented by every commit (optimistic concurrency). */
  version: number;
  /** Where the session is. */
  status: SessionStatus;
  /** Seq of the last committed event (0 when none). */
  lastSeq: number;
  /** Monotonic fencing token: incremented by every lease acquisition. */
  leaseEpoch: number;
  /** The node holding the lease, or null. */
  leaseOwner: string | null;
  /** Epoch ms; meaningful when `leaseOwner` is set. */
  leaseExpiresAt: number;
  /** The session's small state. */
  state: SessionState;
  /** Tenant the session belongs to (indexed, filterable). */
  tenantId?: string;
  /** Principal that owns the session (indexed, filterable). */
  ownerId?: string;
  /** When it was created (ms since the epoch). */
  createdAt: number;
  /** When it was last committed. */
  updatedAt: number;
}

/** Status of one todo within a turn. */
export const TODO_STATUSES = [
  'pending',
  'awaiting_approval',
  'approved',
  'awaiting_input',
  'running',
  'awaiting_recovery',
  'completed',
  'failed',
  'skipped',
] as const;
/** Status of one todo within a turn. */
export type TodoStatus = (typeof TODO_STATUSES)[number];

/** Why a todo was skipped. */
export type SkipReason =
  'denied' | 'dependency_failed' | 'removed' | 'recovery_skip' | 'cancelled' | 'policy';

/** The stored state of one todo of one turn (upserted as a delta). */
export interface TodoRecord {
  /** The session. */
  sessionId: string;
  /** The turn. */
  turnId: string;
  /** The todo. */
  todoId: string;
  /** Where the todo is. */
  status: TodoStatus;
  /** How many times its code was started. */
  attempts: number;
  /** The idempotency key: hash(sessionId, turnId, todoId). Stable across retries and processes. */
  idempotencyKey: string;
  /** Its output (completed todos). */
  output?: Json;
  /** Why it failed (failed todos). */
  error?: SerializedError;
  /** Why it was skipped (skipped todos). */
  skipReason?: SkipReason;
  /** Human-readable reason (denial reason, failed dependency…). */
  reason?: string;
  /** True when its output came from the execution cache. */
  cached?: boolean;
  /** Values provided for input requests, by request key (replayed into `requestInput`). */
  inputs?: JsonObject;
  /** Set when a human approved it (actor id). */
  approvedBy?: string;
  /** The digest of the effect the approver granted; the todo runs only while its effect still has it. */
  approvedDigest?: string;
  /** The plan version in which this todo's definition last changed. */
  todoVersion?: number;
  /** The tool version the todo first started with; re-runs (after input or a crash) use the same. */
  toolVersion?: string;
  /** When it last started (ms since the epoch). */
  startedAt?: number;
  /** When it finished. */
  finishedAt?: number;
}

/** A command waiting in (or applied from) a session's inbox. */
export interface InboxEntry {
  /** The entry id (the command id when the client gave one). */
  id: string;
  /** The session it is for. */
  sessionId: string;
  /** The command as received. */
  command: Json;
  /** Who sent it. */
  actor: string;
  /** When it arrived (ms since the epoch). */
  receivedAt: number;
  /** `pending` until the owner applies or rejects it. */
  status: 'pending' | 'applied' | 'rejected';
  /** Why it was rejected. */
  error?: SerializedError;
}

/** What {@link Agent.getSession} returns. */
export interface SessionSnapshot {
  /** The session id. */
  id: string;
  /** Where the session is: `idle` between turns, `running`, `waiting` for a human, or `paused`. */
  status: SessionStatus;
  /** The session row's version: every commit adds one. */
  version: number;
  /** The seq of the session's last event: pass it as `after` to `agent.events` to follow from here. */
  lastSeq: number;
  /** The current (or last) turn: phase, input, intent and pending requests; null before the first turn. */
  turn: TurnState | null;
  /** The current plan of the current turn. */
  plan: Plan | null;
  /**
   * Every version of the current turn's plan, whole, oldest first (empty with `getSession(id, { history:
   * 'changes' })`, which lists {@link SessionSnapshot.planChanges} instead).
   */
  planHistory: PlanVersionRecord[];
  /**
   * With `getSession(id, { history: 'changes' })`: every version of the current turn's plan as a change —
   * actor, edits and the ids of the todos added, removed or changed — oldest first, without the plans
   * themselves (`plan` is the current one; `agent.getPlanVersion` returns any other whole).
   */
  planChanges?: PlanChange[];
  /** Todo states of the current turn, in plan order. */
  todos: TodoRecord[];
  /** Pending human-in-the-loop requests. */
  pending: HitlRequest[];
  /** The recent turns of the session (user text and answer), oldest first, at most `dialogueTurns`. */
  dialogue: DialogueTurn[];
  /** Who drives the session now. */
  lease: {
    /** The node holding the lease (`AgentOptions.nodeId`); null when released. */
    owner: string | null;
    /** The fencing epoch: one more each time a node takes the session over. */
    epoch: number;
    /** When the lease expires, epoch ms; after it, any node may recover the session. */
    expiresAt: number;
  };
  /** When the session was created, epoch ms. */
  createdAt: number;
  /** When the session row last changed, epoch ms. */
  updatedAt: number;
}

/** The status union a run resolves to. */
export const RUN_STATUSES = ['completed', 'waiting', 'paused', 'failed', 'cancelled'] as const;

/** What `run.result()` resolves to. */
export interface RunResult {
  /**
   * How the run came to rest: `completed` (an answer), `waiting` (for the humans in `pending`), `paused`,
   * `failed` (see `error`) or `cancelled`.
   */
  status: (typeof RUN_STATUSES)[number];
  /** The session the run drove. */
  sessionId: string;
  /** The turn it drove; null when the run ended before a turn existed. */
  turnId: string | null;
  /** The answer text (completed turns). */
  answer?: string;
  /** What the session waits for (waiting). */
  pending: HitlRequest[];
  /** Why the turn failed (failed) or was cancelled (cancelled). */
  error?: SerializedError;
  /** A completed turn whose answer could not be produced (the todo results are intact). */
  answerError?: SerializedError;
  /** How the turn's todos ended: counts and reasons (finished turns). */
  todos?: TurnTodoSummary;
  /** Seq of the last event of this run. */
  lastSeq: number;
}

/** zod schema for session metadata given by the host. */
export const SessionMetadataSchema = z.record(z.string(), z.unknown());
