import { describe, expect, it } from 'vitest';
import {
  Agent,
  FunctionPlanner,
  MemoryStore,
  isDreamAgentError,
  scopedAgent,
  expireSessions,
  type AgentEvent,
  type Executor,
  type Principal,
} from 'dream-agent';
import { ManualClock } from 'dream-agent/testing';

const alice: Principal = { id: 'alice', tenantId: 'acme', roles: ['operator'] };
const bob: Principal = { id: 'bob', tenantId: 'acme', roles: ['operator'] };
const carol: Principal = { id: 'carol', tenantId: 'acme', roles: ['supervisor'] };
const victor: Principal = { id: 'victor', tenantId: 'acme', roles: ['viewer'] };
const eve: Principal = { id: 'eve', tenantId: 'globex', roles: ['admin'] };

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return isDreamAgentError(e) ? e.code : `not a DreamAgentError: ${String(e)}`;
  }
  return 'resolved';
}

function setup(): { agent: Agent; store: MemoryStore; executed: string[] } {
  const executed: string[] = [];
  const executor: Executor = {
    async execute(todo) {
      await Promise.resolve();
      executed.push(todo.id);
      return { output: { ok: true } };
    },
  };
  const store = new MemoryStore();
  const agent = new Agent({
    store,
    planner: new FunctionPlanner(() => ({
      todos: [
        { id: 'q', title: 'Query', domain: 'w', dependsOn: [], input: {} },
        {
          id: 'mail',
          title: 'Mail',
          domain: 'w',
          dependsOn: ['q'],
          input: { to: 'team@corp' },
          approval: true,
        },
      ],
    })),
    executors: { w: executor },
    hitl: { planReview: 'always' },
  });
  return { agent, store, executed };
}

const collect = async (it: AsyncIterable<AgentEvent>): Promise<AgentEvent[]> => {
  const out: AgentEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
};

describe('tenancy and ownership (scopedAgent)', () => {
  it('a session is its owner’s: other owners are refused, other tenants see nothing, supervisors may act — and refusals change nothing', async () => {
    const { agent, store } = setup();
    const first = await scopedAgent(agent, alice).run('report').result();
    expect(first.status).toBe('waiting');
    const id = first.sessionId;
    expect(await store.getSession(id)).toMatchObject({ tenantId: 'acme', ownerId: 'alice' });
    const before = await store.getSession(id);

    expect(await codeOf(scopedAgent(agent, bob).getSession(id))).toBe('FORBIDDEN');
    expect(await codeOf(scopedAgent(agent, bob).send(id, { type: 'plan.approve' }).result())).toBe(
      'FORBIDDEN',
    );
    expect(await codeOf(scopedAgent(agent, bob).run('again', { sessionId: id }).result())).toBe('FORBIDDEN');
    expect(await codeOf(collect(scopedAgent(agent, bob).events(id)))).toBe('FORBIDDEN');
    // Another tenant's session does not exist for eve, even with an admin role.
    expect(await codeOf(scopedAgent(agent, eve).getSession(id))).toBe('SESSION_NOT_FOUND');
    expect(await codeOf(scopedAgent(agent, eve).send(id, { type: 'cancel' }).result())).toBe(
      'SESSION_NOT_FOUND',
    );
    expect(await codeOf(collect(scopedAgent(agent, eve).events(id)))).toBe('SESSION_NOT_FOUND');
    expect(await codeOf(scopedAgent(agent, victor).send(id, { type: 'pause' }).result())).toBe('FORBIDDEN');
    expect(await codeOf(scopedAgent(agent, eve).deleteSession(id))).toBe('SESSION_NOT_FOUND');

    const after = await store.getSession(id);
    expect(after?.version).toBe(before?.version);
    expect(after?.lastSeq).toBe(before?.lastSeq);
    expect(await store.pendingCommands(id)).toEqual([]);

    // The supervisor of the tenant may read and command; the actor is the principal, not what was sent.
    expect((await scopedAgent(agent, carol).getSession(id)).id).toBe(id);
    const approved = await scopedAgent(agent, carol)
      .send(id, { type: 'plan.approve', actor: 'mallory' })
      .result();
    expect(approved.status).toBe('waiting');
    const events = await collect(agent.events(id));
    const planApproved = events.find((e) => e.type === 'plan.approved');
    expect(planApproved?.type === 'plan.approved' && planApproved.actor).toBe('carol');
  });

  it('listSessions shows each caller only what it may read', async () => {
    const { agent } = setup();
    const a = await scopedAgent(agent, alice).run('a').result();
    const b = await scopedAgent(agent, bob).run('b').result();
    const g = await scopedAgent(agent, eve).run('g').result();
    const ids = async (p: Principal): Promise<string[]> =>
      (await scopedAgent(agent, p).listSessions()).map((s) => s.id).sort();
    expect(await ids(alice)).toEqual([a.sessionId]);
    expect(await ids(bob)).toEqual([b.sessionId]);
    expect(await ids(carol)).toEqual([a.sessionId, b.sessionId].sort());
    expect(await ids(eve)).toEqual([g.sessionId]);
    expect(await ids(victor)).toEqual([]);
    const rows = await scopedAgent(agent, carol).listSessions();
    expect(rows.map((r) => r.ownerId).sort()).toEqual(['alice', 'bob']);
  });

  it('four eyes: the owner cannot approve her own risky step; someone else can', async () => {
    const { agent, executed } = setup();
    const opts = { fourEyes: true };
    const first = await scopedAgent(agent, alice, opts).run('report').result();
    const reviewed = await scopedAgent(agent, alice, opts)
      .send(first.sessionId, { type: 'plan.approve' })
      .result();
    const approval = reviewed.pending.find((p) => p.kind === 'approval');
    expect(approval).toBeDefined();
    const grant = { type: 'approval.grant', requestId: approval?.id ?? '' };
    expect(await codeOf(scopedAgent(agent, alice, opts).send(first.sessionId, grant).result())).toBe(
      'FORBIDDEN',
    );
    expect(executed).toEqual(['q']);
    const done = await scopedAgent(agent, carol, opts).send(first.sessionId, grant).result();
    expect(done.status).toBe('completed');
    expect(executed).toEqual(['q', 'mail']);
  });

  it('per-tenant limit on running sessions is refused with RATE_LIMITED', async () => {
    const { agent, store } = setup();
    await store.createSession(
      {
        id: 'busy-1',
        status: 'running',
        state: { turn: null, turns: 0, dialogue: [], slots: {}, metadata: {} },
        tenantId: 'acme',
        ownerId: 'x',
      },
      'other-node',
      60_000,
    );
    const limited = scopedAgent(agent, alice, { maxRunningPerTenant: 1 });
    expect(await codeOf(limited.run('more').result())).toBe('RATE_LIMITED');
    expect(
      (await scopedAgent(agent, eve, { maxRunningPerTenant: 1 }).run('other tenant').result()).status,
    ).toBe('waiting');
  });

  it('erasure: the owner deletes a resting session and nothing of it remains', async () => {
    const { agent, store } = setup();
    const first = await scopedAgent(agent, alice).run('report').result();
    const id = first.sessionId;
    expect(await codeOf(scopedAgent(agent, bob).deleteSession(id))).toBe('FORBIDDEN');
    expect(await scopedAgent(agent, alice).deleteSession(id)).toBe(true);
    expect(await store.getSession(id)).toBeUndefined();
    expect(await store.readEvents(id)).toEqual([]);
    expect(await store.listSessions({ tenantId: 'acme' })).toEqual([]);
    expect(await agent.deleteSession(id)).toBe(false);
  });

  it('retention: finished sessions older than the cutoff are erased, waiting and recent ones kept', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock });
    const agent = new Agent({
      store,
      clock,
      planner: new FunctionPlanner(() => ({
        todos: [{ id: 'a', title: 'A', domain: 'w', dependsOn: [], input: {} }],
      })),
      executors: { w: { execute: async () => ({ output: 1 }) } },
    });
    const old = await agent.run('old').result();
    const waiting = await new Agent({
      store,
      clock,
      hitl: { planReview: 'always' },
      planner: new FunctionPlanner(() => ({
        todos: [{ id: 'a', title: 'A', domain: 'w', dependsOn: [], input: {} }],
      })),
      executors: { w: { execute: async () => ({ output: 1 }) } },
    })
      .run('waits')
      .result();
    expect(old.status).toBe('completed');
    expect(waiting.status).toBe('waiting');
    clock.advance(10 * 86_400_000);
    const recent = await agent.run('recent').result();
    const erased = await expireSessions(agent, { olderThanMs: 7 * 86_400_000, now: clock.now() });
    expect(erased).toEqual([old.sessionId]);
    expect(await store.getSession(old.sessionId)).toBeUndefined();
    expect(await store.getSession(waiting.sessionId)).toBeDefined();
    expect(await store.getSession(recent.sessionId)).toBeDefined();
    await agent.close();
  });
});

describe('scopedAgent: hideUnreadable and run ids', () => {
  it('names a new session on the returned run at once', async () => {
    const { agent } = setup();
    const run = scopedAgent(agent, alice).run('report');
    expect(run.sessionId).toMatch(/^ses_/);
    expect((await run.result()).sessionId).toBe(run.sessionId);
  });

  it('with hideUnreadable, a session the caller may not read is SESSION_NOT_FOUND for every action; one it may read but not command stays FORBIDDEN', async () => {
    const { agent, store } = setup();
    const { sessionId: id } = await scopedAgent(agent, alice).run('report').result();
    const before = await store.getSession(id);
    const hidden = scopedAgent(agent, bob, { hideUnreadable: true });
    expect(await codeOf(hidden.getSession(id))).toBe('SESSION_NOT_FOUND');
    expect(await codeOf(collect(hidden.events(id)))).toBe('SESSION_NOT_FOUND');
    expect(await codeOf(hidden.send(id, { type: 'cancel' }).result())).toBe('SESSION_NOT_FOUND');
    expect(await codeOf(hidden.run('again', { sessionId: id }).result())).toBe('SESSION_NOT_FOUND');
    expect(await codeOf(hidden.resume(id).result())).toBe('SESSION_NOT_FOUND');
    expect(await hidden.listSessions()).toEqual([]);
    // a policy under which bob reads the tenant but commands only his own sessions
    const readsAll = scopedAgent(agent, bob, {
      hideUnreadable: true,
      authorize: ({ action, session, principal }) =>
        !session ||
        (session.tenantId === principal.tenantId && (action === 'read' || session.ownerId === principal.id)),
    });
    expect((await readsAll.getSession(id)).id).toBe(id);
    expect(await codeOf(readsAll.send(id, { type: 'cancel' }).result())).toBe('FORBIDDEN');
    expect(await store.getSession(id)).toEqual(before);
  });
});
