/**
 * Outsider finding (fixed): after a crash, anyone who could command the session could `retry` a
 * non-idempotent step that needed an approval role they did not have, so the approved effect ran a second
 * time without a second approval. The recovery request of a todo a human approved now carries the roles
 * that approval needed, and `retry` needs one of them (`FORBIDDEN` otherwise, nothing changes);
 * `mark_done` / `skip` stay open to the session's commanders.
 */
import { describe, expect, it } from 'vitest';
import {
  Agent,
  FunctionPlanner,
  MemoryEventBus,
  MemoryStore,
  scopedAgent,
  type AgentEvent,
  type Executor,
} from 'dream-agent';
import { ManualClock, pausableStore } from 'dream-agent/testing';

const TTL = 1000;

async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1000; i += 1) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const drain = async (run: AsyncIterable<AgentEvent> & { result(): Promise<unknown> }): Promise<string> => {
  try {
    for await (const _ of run) void _;
    await run.result();
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
};

describe('outsider: recovering a gated non-idempotent step', () => {
  async function crashed(approval: { required: boolean; roles: string[] }) {
    const clock = new ManualClock();
    const inner = new MemoryStore({ clock });
    const bus = new MemoryEventBus();
    const planner = new FunctionPlanner(() => ({
      todos: [
        {
          id: 'pay',
          title: 'Pay',
          domain: 'pay',
          dependsOn: [],
          input: { amount: 1000 },
          approval,
        },
      ],
    }));
    let executions = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const blocking: Executor = {
      async execute() {
        executions += 1;
        await gate;
        return { output: { paid: true } };
      },
    };
    const counting: Executor = {
      async execute() {
        await Promise.resolve();
        executions += 1;
        return { output: { paid: true } };
      },
    };
    const s1 = pausableStore(inner);
    const opts = { bus, clock, planner, leaseTtlMs: TTL, hitl: { planReview: 'never' as const } };
    const a1 = new Agent({ ...opts, store: s1, executors: { pay: blocking }, nodeId: 'node-1' });
    const bob1 = scopedAgent(a1, { id: 'bob', tenantId: 'acme', roles: ['operator'] });
    const sue1 = scopedAgent(a1, { id: 'sue', tenantId: 'acme', roles: ['supervisor'] });
    const first = bob1.run('pay');
    await drain(first);
    const sessionId = ((await first.result()) as { sessionId: string }).sessionId;
    const pending = (await a1.getSession(sessionId)).pending;
    void sue1.send(sessionId, { type: 'approval.grant', requestId: pending[0]!.id });
    await until(() => executions === 1, 'pay to start');
    s1.pause(); // node-1 "crashes" with pay in flight
    clock.advance(TTL + 1);

    const a2 = new Agent({ ...opts, store: inner, executors: { pay: counting }, nodeId: 'node-2' });
    expect(await a2.recover()).toEqual([sessionId]);
    await until(async () => (await inner.getSession(sessionId))?.status === 'waiting', 'recovery request');
    const request = (await a2.getSession(sessionId)).pending[0]!;
    expect(request.kind).toBe('recovery');
    const bob = scopedAgent(a2, { id: 'bob', tenantId: 'acme', roles: ['operator'] });
    const sue = scopedAgent(a2, { id: 'sue', tenantId: 'acme', roles: ['supervisor'] });
    const done = async () => {
      s1.resume();
      release();
      await a1.close().catch(() => undefined);
      await a2.close();
    };
    return { a2, bob, sue, sessionId, request, executions: () => executions, done };
  }

  it('a retry of a step that needed an approval role is refused FORBIDDEN for an actor without that role', async () => {
    const c = await crashed({ required: true, roles: ['supervisor'] });
    expect(c.request.roles).toEqual(['supervisor']);
    const before = await c.a2.getSession(c.sessionId);
    const decide = { type: 'recovery.resolve' as const, requestId: c.request.id, decision: 'retry' as const };
    expect(await drain(c.bob.send(c.sessionId, decide))).toBe('FORBIDDEN');
    const after = await c.a2.getSession(c.sessionId);
    expect(after.pending.map((p) => p.id)).toEqual([c.request.id]);
    expect(after.status).toBe(before.status);
    expect(c.executions()).toBe(1);
    // Someone who could approve it may retry: it runs once more.
    expect(await drain(c.sue.send(c.sessionId, decide))).toBe('ok');
    expect(c.executions()).toBe(2);
    await c.done();
  }, 20_000);

  it('skip stays open to the session commanders', async () => {
    const c = await crashed({ required: true, roles: ['supervisor'] });
    const skip = { type: 'recovery.resolve' as const, requestId: c.request.id, decision: 'skip' as const };
    expect(await drain(c.bob.send(c.sessionId, skip))).toBe('ok');
    expect(c.executions()).toBe(1);
    await c.done();
  }, 20_000);
});
