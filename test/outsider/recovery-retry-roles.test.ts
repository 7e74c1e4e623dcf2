/**
 * Outsider finding, left for the owner of `src/agent` (driver `#startup` builds recovery requests,
 * `commands.ts` validates `recovery.resolve`): after a crash, anyone who may command the session can
 * `retry` a non-idempotent step that needed an approval role they do not have, so the approved effect
 * runs a second time without a second approval.
 *
 * Repro (two processes sharing one SQLite file, `leaseTtlMs: 1000`, `planReview: 'never'`):
 * 1. plan `[{ id: 'pay', domain: 'pay', input: { amount: 1000 }, approval: { required: true, roles: ['supervisor'] } }]`;
 *    `bob = scopedAgent(agent, { id: 'bob', tenantId: 'acme', roles: ['operator'] })` starts the turn
 *    (`bob.run`), `sue` (role `supervisor`) grants it; the `pay` executor starts and the process is SIGKILLed.
 * 2. In a second process, `bob.resume(sid)` → `waiting` with a `recovery` request for `pay` whose `roles`
 *    is absent; `bob.send(sid, { type: 'recovery.resolve', requestId, decision: 'retry' })` is accepted and
 *    `pay` executes again (seen: two executions, the turn `completed`). Bob could not grant `pay`
 *    (`approval.grant` → `FORBIDDEN`), yet decided alone that it runs again.
 *
 * Expected: the recovery request of a gated todo carries the gate's roles (and effect), and `retry` of it
 * needs one of them — or re-opens the approval — while `skip`/`mark_done` may stay open to the session's
 * commanders.
 */
import { describe, it } from 'vitest';

describe('outsider: recovering a gated non-idempotent step', () => {
  it.todo(
    'a retry of a step that needed an approval role is refused FORBIDDEN for an actor without that role',
  );
});
