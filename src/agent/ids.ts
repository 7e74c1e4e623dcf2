import * as crypto from 'node:crypto';
import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * The idempotency key of a todo: a hash of session, turn and todo ids. The same in every attempt and
 * every process — never derived from an LLM tool-call id, which changes on retry.
 *
 * @param sessionId - the session
 * @param turnId - the turn
 * @param todoId - the todo
 * @returns 32 hex characters
 */
export function idempotencyKey(sessionId: string, turnId: string, todoId: string): string {
  const text = `${sessionId}\u0000${turnId}\u0000${todoId}`;
  // The one-shot hash (Node ≥ 20.12) skips the Hash object: the same digest, at half the cost per todo.
  const digest = oneShot ? oneShot('sha256', text, 'hex') : createHash('sha256').update(text).digest('hex');
  return digest.slice(0, 32);
}

const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

/** @returns a new random id with a prefix */
export function newId(prefix: string): string {
  return `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 20)}`;
}

/** @returns a node id unique to this Agent instance */
export function defaultNodeId(): string {
  return `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

/** Deterministic request ids: the same question in a replayed turn gets the same id. */
export const requestIds = {
  planReview: (turnId: string): string => `${turnId}:plan-review`,
  /** Names the effect too: a changed effect is asked under a new id, so a grant of the old one cannot apply. */
  approval: (turnId: string, todoId: string, digest: string): string =>
    `${turnId}:${todoId}:approval:${digest.slice(0, 16)}`,
  input: (turnId: string, todoId: string, key: string): string => `${turnId}:${todoId}:input:${key}`,
  clarification: (turnId: string, n: number): string => `${turnId}:clarify:${n}`,
  recovery: (turnId: string, todoId: string, attempt: number): string =>
    `${turnId}:${todoId}:recovery:${attempt}`,
};
