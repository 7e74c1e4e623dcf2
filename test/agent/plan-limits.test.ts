/**
 * A cap on plan size, through the public API: todos per plan, bytes per todo input and per plan
 * (`AgentOptions.limits`). A planner's plan past a limit fails the turn `INVALID_PLAN`; a `plan.edit`
 * whose result would pass one is refused `INVALID_EDIT` naming the limit, and nothing changes — the
 * attacker's loop of legal-sized edits that grew a plan to 8,000 todos stops at the limit.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Agent,
  FunctionPlanner,
  isDreamAgentError,
  MemoryStore,
  type DreamAgentError,
  type LimitOptions,
  type PlanEdit,
  type TodoInput,
} from 'dream-agent';
import { Recorder, scriptedExecutor, todo } from './fixtures.js';

function agentWith(todos: TodoInput[], limits: LimitOptions = {}): { agent: Agent; store: MemoryStore } {
  const store = new MemoryStore();
  const agent = new Agent({
    store,
    planner: new FunctionPlanner(() => ({ todos })),
    executors: { work: scriptedExecutor(new Recorder()) },
    hitl: { planReview: 'always' },
    limits,
  });
  return { agent, store };
}

async function reviewing(agent: Agent): Promise<string> {
  const r = await agent.run('write the report').result();
  expect(r.pending.map((p) => p.kind)).toEqual(['plan_review']);
  return r.sessionId;
}

/** One `plan.edit` adding `n` small todos named `<prefix>-<i>`. */
const adds = (prefix: string, n: number): PlanEdit[] =>
  Array.from({ length: n }, (_, i) => ({ op: 'add', todo: todo(`${prefix}-${i}`) }) as PlanEdit);

async function refusal(p: Promise<unknown>): Promise<DreamAgentError> {
  const e: unknown = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isDreamAgentError(e)) throw new Error(`expected a DreamAgentError, got ${String(e)}`);
  return e;
}

/** What a refused command must leave untouched. */
async function state(agent: Agent, store: MemoryStore, id: string): Promise<unknown> {
  const snap = await agent.getSession(id, { history: 'changes' });
  const rec = await store.getSession(id);
  return {
    version: snap.version,
    lastSeq: snap.lastSeq,
    planVersion: snap.plan?.version,
    todos: snap.plan?.todos.length,
    changes: snap.planChanges?.length,
    recVersion: rec?.version,
  };
}

describe('plan size limits', () => {
  it("the attacker's loop of 40 edits of 200 additions stops at 1,000 todos by default; every refusal is INVALID_EDIT and changes nothing", async () => {
    const { agent, store } = agentWith([todo('fetch'), todo('draft', ['fetch'])]);
    const id = await reviewing(agent);
    let accepted = 0;
    const refused: DreamAgentError[] = [];
    for (let i = 0; i < 40; i += 1) {
      const before = await state(agent, store, id);
      try {
        await agent.send(id, { type: 'plan.edit', edits: adds(`e${i}`, 200) }).result();
        accepted += 1;
      } catch (e) {
        if (!isDreamAgentError(e)) throw e;
        refused.push(e);
        expect(await state(agent, store, id)).toEqual(before);
      }
    }
    // 2 + 4 × 200 = 802 todos; a fifth batch would make 1,002.
    expect(accepted).toBe(4);
    expect(refused).toHaveLength(36);
    for (const e of refused) {
      expect(e.code).toBe('INVALID_EDIT');
      expect(e.details['limit']).toEqual({ name: 'maxPlanTodos', max: 1000, actual: 1002 });
      expect(e.message).toContain('at most 1000');
    }
    const snap = await agent.getSession(id);
    expect(snap.plan?.todos).toHaveLength(802);
    expect(snap.plan?.version).toBe(5);
    // The plan still works: a smaller edit fits and approval runs it.
    await agent.send(id, { type: 'plan.edit', edits: adds('last', 198) }).result();
    expect((await agent.getSession(id)).plan?.todos).toHaveLength(1000);
    expect(
      (await refusal(agent.send(id, { type: 'plan.edit', edits: adds('one-more', 1) }).result())).details[
        'limit'
      ],
    ).toEqual({ name: 'maxPlanTodos', max: 1000, actual: 1001 });
  });

  it('bytes per todo input: an update past maxTodoInputBytes is refused naming the todo; a configured higher limit accepts it', async () => {
    const big = { notes: 'x'.repeat(300 * 1024) };
    const edit: PlanEdit = { op: 'update', todoId: 'draft', patch: { input: big } };
    const strict = agentWith([todo('fetch'), todo('draft', ['fetch'])], { maxCommandBytes: 1024 * 1024 });
    const id = await reviewing(strict.agent);
    const before = await state(strict.agent, strict.store, id);
    const e = await refusal(strict.agent.send(id, { type: 'plan.edit', edits: [edit] }).result());
    expect(e.code).toBe('INVALID_EDIT');
    expect(e.message).toContain('todo "draft" has');
    expect(e.details['limit']).toMatchObject({ name: 'maxTodoInputBytes', max: 256 * 1024 });
    expect(await state(strict.agent, strict.store, id)).toEqual(before);

    const loose = agentWith([todo('fetch'), todo('draft', ['fetch'])], {
      maxCommandBytes: 1024 * 1024,
      maxTodoInputBytes: 512 * 1024,
    });
    const id2 = await reviewing(loose.agent);
    await loose.agent.send(id2, { type: 'plan.edit', edits: [edit] }).result();
    expect((await loose.agent.getSession(id2)).plan?.todos[1]?.input).toEqual(big);
  });

  it('bytes per plan: many inputs each under the todo limit add up to maxPlanBytes, then edits are refused', async () => {
    const { agent, store } = agentWith([todo('fetch')], { maxPlanBytes: 64 * 1024 });
    const id = await reviewing(agent);
    const add = (i: number): PlanEdit =>
      ({ op: 'add', todo: todo(`n${i}`, [], { input: { notes: 'y'.repeat(20 * 1024) } }) }) as PlanEdit;
    await agent.send(id, { type: 'plan.edit', edits: [add(1), add(2)] }).result();
    await agent.send(id, { type: 'plan.edit', edits: [add(3)] }).result();
    const before = await state(agent, store, id);
    const e = await refusal(agent.send(id, { type: 'plan.edit', edits: [add(4)] }).result());
    expect(e.code).toBe('INVALID_EDIT');
    expect(e.details['limit']).toMatchObject({ name: 'maxPlanBytes', max: 64 * 1024 });
    expect((e.details['limit'] as { actual: number }).actual).toBeGreaterThan(80 * 1024);
    expect(await state(agent, store, id)).toEqual(before);
    // Removing a todo makes room again.
    await agent.send(id, { type: 'plan.edit', edits: [{ op: 'remove', todoId: 'n1' }, add(4)] }).result();
    expect((await agent.getSession(id)).plan?.todos.map((t) => t.id)).toEqual(['fetch', 'n2', 'n3', 'n4']);
  });

  it("a planner's plan past a limit fails the turn INVALID_PLAN before anything is stored or runs", async () => {
    const { agent } = agentWith(
      Array.from({ length: 11 }, (_, i) => todo(`t${i}`)),
      { maxPlanTodos: 10 },
    );
    const r = await agent.run('go').result();
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('INVALID_PLAN');
    expect(r.error?.message).toContain('11 todos; at most 10');
    const snap = await agent.getSession(r.sessionId);
    expect(snap.plan).toBeNull();
    expect(snap.todos).toEqual([]);
  });

  it('property: an edit is accepted exactly when the resulting plan is within maxPlanTodos', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 8 }),
        async (max, batches) => {
          const { agent, store } = agentWith([todo('root')], { maxPlanTodos: max });
          const r = await agent.run('go').result();
          expect(r.pending.map((p) => p.kind)).toEqual(['plan_review']);
          let count = 1;
          for (const [b, n] of batches.entries()) {
            const before = await state(agent, store, r.sessionId);
            const ok = await agent
              .send(r.sessionId, { type: 'plan.edit', edits: adds(`b${b}`, n) })
              .result()
              .then(
                () => true,
                (e: unknown) => {
                  expect(isDreamAgentError(e, 'INVALID_EDIT')).toBe(true);
                  return false;
                },
              );
            expect(ok).toBe(count + n <= max);
            if (ok) count += n;
            else expect(await state(agent, store, r.sessionId)).toEqual(before);
            expect((await agent.getSession(r.sessionId)).plan?.todos).toHaveLength(count);
          }
        },
      ),
      { numRuns: 25 },
    );
  });
});
