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
  'turn.started': { input: string; index: number };
  'intent.detected': { intent: Intent };
  'clarification.requested': { request: HitlRequest };
  'clarification.answered': { requestId: string; answer: string; actor: string };
  'plan.created': { plan: Plan };
  'plan.review.requested': { request: HitlRequest; plan: Plan };
  'plan.updated': { plan: Plan; edits: PlanEdit[]; actor: string };
  'plan.approved': { planId: string; version: number; actor: string };
  'plan.rejected': { planId: string; version: number; actor: string; reason?: string };
  'todo.started': { todoId: string; attempt: number; idempotencyKey: string; tool?: string };
  'todo.progress': { todoId: string; message: string; pct?: number };
  'todo.output.delta': { todoId: string; delta: string };
  'todo.completed': { todoId: string; output: Json; cached: boolean; durationMs: number };
  'todo.failed': { todoId: string; error: SerializedError; attempt: number };
  'todo.skipped': { todoId: string; reason: SkipReason; detail?: string };
  'approval.requested': { request: HitlRequest };
  'approval.resolved': {
    requestId: string;
    todoId: string;
    granted: boolean;
    /** How it was resolved: a grant, a denial, or withdrawn because the effect it covered changed. */
    outcome: 'granted' | 'denied' | 'superseded';
    actor: string;
    reason?: string;
  };
  'input.requested': { request: HitlRequest };
  'input.received': { requestId: string; todoId: string; actor: string };
  'recovery.requested': { request: HitlRequest };
  'recovery.resolved': {
    requestId: string;
    todoId: string;
    decision: 'retry' | 'mark_done' | 'skip';
    actor: string;
  };
  'command.rejected': { commandId: string; commandType: string; error: SerializedError; actor: string };
  'run.paused': { actor: string };
  'run.resumed': { actor: string; reason: 'command' | 'recovery' | 'restart' };
  'run.cancelled': { actor: string; reason?: string };
  /**
   * A piece of the answer. `reset: true` means: discard the answer text streamed so far in this turn
   * (the answer is being produced again after a failed attempt); `delta` then starts the new text.
   */
  'response.delta': { delta: string; reset?: boolean };
  'response.completed': { text: string };
  /** `answerError`: every todo ran but the answer could not be produced (retried once); `answer` is empty. */
  'turn.completed': { answer: string; answerError?: SerializedError };
  'turn.failed': { error: SerializedError };
  /**
   * One LLM call a layer made (emitted only when a model is called: the offline default agent emits
   * none). `at` is when the call settled; it started `latencyMs` earlier.
   */
  'llm.call': LlmCallRecord;
}

/** Every event type. */
export type AgentEventType = keyof EventPayloads;

/** The event of one type: envelope + payload. */
export type EventOf<K extends AgentEventType> = EventEnvelope & { type: K } & EventPayloads[K];

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
export type EventDraft = { [K in AgentEventType]: { type: K } & EventPayloads[K] }[AgentEventType];

/** The request kind of each request-raising event. */
export const REQUEST_EVENT: Readonly<Record<RequestKind, AgentEventType>> = {
  plan_review: 'plan.review.requested',
  approval: 'approval.requested',
  input: 'input.requested',
  clarification: 'clarification.requested',
  recovery: 'recovery.requested',
};
