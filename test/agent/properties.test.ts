import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Agent,
  FunctionPlanner,
  MemoryStore,
  findPlanIssues,
  type Executor,
  type PlanEdit,
  type Todo,
} from 'dream-agent';
import { guardStore } from 'dream-agent/testing';
import { dagArbitrary } from '../dag/helpers.js';

describe('the engine on random DAGs (property-based)', () => {
  it('runs every todo exactly once, after all its dependencies, never above the concurrency limit', async () => {
    await fc.assert(
      fc.asyncProperty(
        dagArbitrary(25),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        async (todos, concurrency, idempotent) => {
          const runs = new Map<string, number>();
          const done = new Set<string>();
          let running = 0;
          let peak = 0;
          const violations: string[] = [];
          const exec: Executor = {
            async execute(t) {
              runs.set(t.id, (runs.get(t.id) ?? 0) + 1);
              for (const d of t.dependsOn) if (!done.has(d)) violations.push(`${t.id} started before ${d}`);
              running += 1;
              peak = Math.max(peak, running);
              await new Promise((r) => setImmediate(r));
              running -= 1;
              done.add(t.id);
              return { output: t.id };
            },
          };
          const store = guardStore(new MemoryStore());
          const agent = new Agent({
            store,
            concurrency,
            planner: new FunctionPlanner(() => ({ todos: todos.map((t) => ({ ...t, idempotent })) })),
            executors: { '*': exec },
          });
          const r = await agent.run('go', { sessionId: 'prop' }).result();
          expect(r.status).toBe('completed');
          expect(violations).toEqual([]);
          expect(peak).toBeLessThanOrEqual(concurrency);
          for (const t of todos) expect(runs.get(t.id)).toBe(1);
          const log = await store.readEvents('prop', { limit: 10_000 });
          expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
          store.verify();
        },
      ),
      { numRuns: 40 },
    );
  });

  it('random sequences of plan edits never yield an invalid plan or lose a version', async () => {
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    const editArb: fc.Arbitrary<PlanEdit> = fc.oneof(
      fc.record({
        op: fc.constant('add' as const),
        todo: fc.record({
          id: fc.constantFrom(...ids, 'x', 'y'),
          title: fc.constant('added'),
          domain: fc.constant('work'),
          input: fc.constant({}),
          dependsOn: fc.subarray(ids, { maxLength: 2 }),
        }),
      }),
      fc.record({ op: fc.constant('remove' as const), todoId: fc.constantFrom(...ids) }),
      fc.record({
        op: fc.constant('update' as const),
        todoId: fc.constantFrom(...ids),
        patch: fc.record({ dependsOn: fc.subarray(ids, { maxLength: 2 }) }),
      }),
      fc.record({
        op: fc.constant('move' as const),
        todoId: fc.constantFrom(...ids),
        before: fc.constantFrom(...ids),
      }),
    ) as fc.Arbitrary<PlanEdit>;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(editArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 8 }),
        async (batches) => {
          const initial: Todo[] = ['a', 'b', 'c', 'd'].map((id, i) => ({
            id,
            title: id,
            domain: 'work',
            input: {},
            dependsOn: i > 0 ? [['a', 'b', 'c', 'd'][i - 1] as string] : [],
          }));
          const agent = new Agent({
            planner: new FunctionPlanner(() => ({ todos: initial })),
            executors: { work: { execute: async (t) => ({ output: t.id }) } },
            hitl: { planReview: 'always' },
          });
          await agent.run('go', { sessionId: 'edits' }).result();
          let version = 1;
          for (const edits of batches) {
            const ok = await agent
              .send('edits', { type: 'plan.edit', baseVersion: version, edits })
              .result()
              .then(
                () => true,
                (e: { code?: string }) => {
                  expect(['INVALID_EDIT', 'INVALID_INPUT']).toContain(e.code);
                  return false;
                },
              );
            const snap = await agent.getSession('edits');
            if (ok) version += 1;
            expect(snap.plan?.version).toBe(version);
            expect(snap.planHistory.map((h) => h.plan.version)).toEqual(
              Array.from({ length: version }, (_, i) => i + 1),
            );
            expect(findPlanIssues(snap.plan?.todos ?? [], { domains: ['work'] })).toEqual([]);
          }
          const r = await agent.send('edits', { type: 'plan.approve' }).result();
          expect(r.status).toBe('completed');
        },
      ),
      { numRuns: 30 },
    );
  });
});
