import type { SerializedError } from '../errors/index.js';
import type { Intent } from './intent.js';
import type { Json } from './json.js';
import type { LlmCallRecord } from '../ports/llm.js';
import type { Plan, PlanEdit } from './plan.js';
import type { HitlRequest, RequestKind, SkipReason } from './session.js';

/** The envelope every event carries. */
export interface EventEnvelope {
  /** The event type (one literal per event). */
  type: string;
  /** The session it belongs to. */
  sessionId: string;
  /** The turn it belongs to (null for session-level events outside a turn). */
  turnId: string | null;
  /** Strictly increasing per session, without gaps, starting at 1. */
  seq: number;
  /** Epoch ms when it was emitted. */
  at: number;
}

/** The payload of each event type. The union {@link AgentEvent} is built from this map. */
export interface EventPayloads {
  /** A turn began. */
  'turn.started': {
    /** The user's text. */
    input: string;
    /** The turn's position in the session. */
    index: number;
  };
  /** The Cognitive layer understood the input. */
  'intent.detected': {
    /** What it understood. */
    intent: Intent;
  };
  /** The agent asks the user a question before planning (answer with `clarification.answer`). */
  'clarification.requested': {
    /** The pending request. */
    request: HitlRequest;
  };
  /** The user answered a clarification question. */
  'clarification.answered': {
    /** The request answered. */
    requestId: string;
    /** The answer. */
    answer: string;
    /** Who answered. */
    actor: string;
  };
  /** The planner produced a plan (version 1). */
  'plan.created': {
    /** The plan. */
    plan: Plan;
  };
  /** The plan waits for review (`plan.approve`, `plan.edit` or `plan.reject`). */
  'plan.review.requested': {
    /** The pending request. */
    request: HitlRequest;
    /** The plan under review. */
    plan: Plan;
  };
  /** Edits produced a new plan version. */
  'plan.updated': {
    /** The new version. */
    plan: Plan;
    /** The edits that produced it. */
    edits: PlanEdit[];
    /** Who edited. */
    actor: string;
  };
  /** The plan was approved and runs. */
  'plan.approved': {
    /** The plan's id. */
    planId: string;
    /** The version approved. */
    version: number;
    /** Who approved. */
    actor: string;
  };
  /** The plan was rejected; the turn ends. */
  'plan.rejected': {
    /** The plan's id. */
    planId: string;
    /** The version rejected. */
    version: number;
    /** Who rejected. */
    actor: string;
    /** Why, when given. */
    reason?: string;
  };
  /** A todo started (again, on a later attempt). */
  'todo.started': {
    /** The todo. */
    todoId: string;
    /** 1-based attempt number. */
    attempt: number;
    /** The key the todo's effects are de-duplicated by (the same on every attempt). */
    idempotencyKey: string;
    /** The tool it runs, when it names one. */
    tool?: string;
  };
  /** A todo reported progress. */
  'todo.progress': {
    /** The todo. */
    todoId: string;
    /** What it is doing. */
    message: string;
    /** How far it is, in percent, when known. */
    pct?: number;
  };
  /** A todo streamed output text. */
  'todo.output.delta': {
    /** The todo. */
    todoId: string;
    /** The text piece. */
    delta: string;
  };
  /** A todo completed; its output is recorded exactly once. */
  'todo.completed': {
    /** The todo. */
    todoId: string;
    /** Its output. */
    output: Json;
    /** True when served from the execution cache. */
    cached: boolean;
    /** How long it ran, in ms. */
    durationMs: number;
  };
  /** A todo failed (after its retries). */
  'todo.failed': {
    /** The todo. */
    todoId: string;
    /** Why. */
    error: SerializedError;
    /** The attempt that failed. */
    attempt: number;
  };
  /** A todo will not run. */
  'todo.skipped': {
    /** The todo. */
    todoId: string;
    /** Why (denied, dependency failed, removed…). */
    reason: SkipReason;
    /** More detail, when there is any. */
    detail?: string;
  };
  /** A todo waits for a human's approval (`approval.grant` or `approval.deny`). */
  'approval.requested': {
    /** The pending request, with the effect it covers. */
    request: HitlRequest;
  };
  /** An approval request was decided or withdrawn. */
  'approval.resolved': {
    /** The request. */
    requestId: string;
    /** The todo it gated. */
    todoId: string;
    /** True when granted. */
    granted: boolean;
    /** How it was resolved: a grant, a denial, or withdrawn because the effect it covered changed. */
    outcome: 'granted' | 'denied' | 'superseded';
    /** Who decided. */
    actor: string;
    /** Why, when given. */
    reason?: string;
  };
  /** A todo asks a human for a value (`input.provide`). */
  'input.requested': {
    /** The pending request, with the value's schema. */
    request: HitlRequest;
  };
  /** The value a todo asked for arrived. */
  'input.received': {
    /** The request. */
    requestId: string;
    /** The todo that asked. */
    todoId: string;
    /** Who provided it. */
    actor: string;
  };
  /** A non-idempotent todo was interrupted by a crash: a human decides (`recovery.resolve`). */
  'recovery.requested': {
    /** The pending request. */
    request: HitlRequest;
  };
  /** A recovery request was decided. */
  'recovery.resolved': {
    /** The request. */
    requestId: string;
    /** The interrupted todo. */
    todoId: string;
    /** What was decided. */
    decision: 'retry' | 'mark_done' | 'skip';
    /** Who decided. */
    actor: string;
  };
  /** A queued command could not be applied; nothing changed. */
  'command.rejected': {
    /** The command's id. */
    commandId: string;
    /** The command's type. */
    commandType: string;
    /** Why it was refused. */
    error: SerializedError;
    /** Who sent it. */
    actor: string;
  };
  /** The session paused at a cycle boundary. */
  'run.paused': {
    /** Who paused it. */
    actor: string;
  };
  /** The session resumed. */
  'run.resumed': {
    /** Who resumed it. */
    actor: string;
    /** Why: a `resume` command, crash recovery, or a process restart. */
    reason: 'command' | 'recovery' | 'restart';
  };
  /** The turn was cancelled. */
  'run.cancelled': {
    /** Who cancelled it. */
    actor: string;
    /** Why, when given. */
    reason?: string;
  };
  /**
   * A piece of the answer. `reset: true` means: discard the answer text streamed so far in this turn
   * (the answer is being produced again after a failed attempt); `delta` then starts the new text.
   */
  'response.delta': {
    /** The text piece. */
    delta: string;
    /** Discard what was streamed before. */
    reset?: boolean;
  };
  /** The answer is complete. */
  'response.completed': {
    /** The whole answer. */
    text: string;
  };
  /** The turn ended. `answerError`: every todo ran but the answer could not be produced (retried once); `answer` is empty. */
  'turn.completed': {
    /** The answer. */
    answer: string;
    /** Why there is no answer, when there is none. */
    answerError?: SerializedError;
  };
  /** The turn failed. */
  'turn.failed': {
    /** Why: the error's code, message, retryability and details (a layer's error, or `INTERNAL`). */
    error: SerializedError;
  };
  /**
   * One LLM call a layer made (emitted only when a model is called: the offline default agent emits
   * none). `at` is when the call settled; it started `latencyMs` earlier.
   */
  'llm.call': LlmCallRecord;
}

/** Every event type. */
export type AgentEventType = keyof EventPayloads;

/** The event of one type: envelope + payload. */
export type EventOf<K extends AgentEventType> = EventEnvelope & {
  /** The event type. */
  type: K;
} & EventPayloads[K];

/** The typed discriminated union of all events (narrow on `event.type`). */
export type AgentEvent = { [K in AgentEventType]: EventOf<K> }[AgentEventType];

/** The list of event types, for validation and documentation. */
export const AGENT_EVENT_TYPES: readonly AgentEventType[] = [
  'turn.started',
  'intent.detected',
  'clarification.requested',
  'clarification.answered',
  'plan.created',
  'plan.review.requested',
  'plan.updated',
  'plan.approved',
  'plan.rejected',
  'todo.started',
  'todo.progress',
  'todo.output.delta',
  'todo.completed',
  'todo.failed',
  'todo.skipped',
  'approval.requested',
  'approval.resolved',
  'input.requested',
  'input.received',
  'recovery.requested',
  'recovery.resolved',
  'command.rejected',
  'run.paused',
  'run.resumed',
  'run.cancelled',
  'response.delta',
  'response.completed',
  'turn.completed',
  'turn.failed',
  'llm.call',
];

/** An event as emitted by the engine, before the envelope's seq/at are assigned. */
export type EventDraft = {
  [K in AgentEventType]: {
    /** The event type; the rest of the draft is that type's payload ({@link EventPayloads}). */
    type: K;
  } & EventPayloads[K];
}[AgentEventType];

/** The request kind of each request-raising event. */
export const REQUEST_EVENT: Readonly<Record<RequestKind, AgentEventType>> = {
  plan_review: 'plan.review.requested',
  approval: 'approval.requested',
  input: 'input.requested',
  clarification: 'clarification.requested',
  recovery: 'recovery.requested',
};
