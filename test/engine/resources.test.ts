/**
 * Resource limits through the public API: never more todos of a class in flight than its limit, never
 * more in flight than the concurrency, every todo still runs once, and the limits are used (a class
 * with work and room is never left idle while its todos wait) — over random plans, classes and limits.
 * Bad limits are refused when the Agent is built.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Agent, FunctionPlanner, isDreamAgentError, type Executor, type TodoInput } from 'dream-agent';

interface Observed {
  ran: string[];
  maxInFlight: number;
  maxByClass: Map<string, number>;
}

/** An executor whose todos finish in an order chosen by the test, recording what was in flight. */
function observingExecutor(
  classOf: (id: string) => string,
  delays: Map<string, number>,
): {
  exec: Executor;
  seen: Observed;
} {
  const seen: Observed = { ran: [], maxInFlight: 0, maxByClass: new Map() };
  const inFlight = new Map<string, number>();
  let total = 0;
  return {
    seen,
    exec: {
      async execute(t) {
        const cls = classOf(t.id);
        seen.ran.push(t.id);
        total += 1;
        const now = (inFlight.get(cls) ?? 0) + 1;
        inFlight.set(cls, now);
        seen.maxInFlight = Math.max(seen.maxInFlight, total);
        seen.maxByClass.set(cls, Math.max(seen.maxByClass.get(cls) ?? 0, now));
        // A few microtask or macrotask hops: completions interleave with starts.
        const d = delays.get(t.id) ?? 0;
        for (let i = 0; i < d; i += 1) await Promise.resolve();
        if (d % 3 === 0) await new Promise((r) => setImmediate(r));
        inFlight.set(cls, (inFlight.get(cls) ?? 1) - 1);
        total -= 1;
        return { output: t.id };
      },
    },
  };
}

describe('resource limits', () => {
  it('hold over random plans, classes, limits and completion orders; every todo runs once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          todos: fc.array(
            fc.record({
              cls: fc.constantFrom('a', 'b', 'c'),
              dep: fc.option(fc.nat(), { nil: undefined }),
              delay: fc.nat({ max: 6 }),
            }),
            { minLength: 1, maxLength: 40 },
          ),
          concurrency: fc.integer({ min: 1, max: 8 }),
          limits: fc.record(
            {
              a: fc.integer({ min: 1, max: 4 }),
              b: fc.integer({ min: 1, max: 3 }),
            },
            { requiredKeys: [] },
          ),
        }),
        async ({ todos, concurrency, limits }) => {
          const plan: TodoInput[] = todos.map((t, i) => ({
            id: `t${i}`,
            title: `T${i}`,
            domain: 'w',
            resource: t.cls,
            input: {},
            dependsOn: t.dep !== undefined && i > 0 ? [`t${t.dep % i}`] : [],
          }));
          const classOf = (id: string): string => todos[Number(id.slice(1))]?.cls ?? '?';
          const delays = new Map(todos.map((t, i) => [`t${i}`, t.delay]));
          const { exec, seen } = observingExecutor(classOf, delays);
          const agent = new Agent({
            concurrency,
            resources: limits,
            planner: new FunctionPlanner(() => ({ todos: plan })),
            executors: { w: exec },
          });
          const r = await agent.run('go').result();
          await agent.close();
          expect(r.status).toBe('completed');
          expect([...seen.ran].sort()).toEqual(plan.map((t) => t.id).sort());
          expect(seen.maxInFlight).toBeLessThanOrEqual(concurrency);
          for (const [cls, max] of seen.maxByClass) {
            const limit = (limits as Record<string, number | undefined>)[cls];
            if (limit !== undefined) expect(max).toBeLessThanOrEqual(limit);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a wide plan of one limited class runs exactly `limit` at a time (the limit is used, not only respected)', async () => {
    const n = 50;
    const plan: TodoInput[] = Array.from({ length: n }, (_, i) => ({
      id: `w${i}`,
      title: `W${i}`,
      domain: 'w',
      input: {},
    }));
    let inFlight = 0;
    const widths: number[] = [];
    const exec: Executor = {
      async execute(t) {
        inFlight += 1;
        widths.push(inFlight);
        await new Promise((r) => setImmediate(r));
        inFlight -= 1;
        return { output: t.id };
      },
    };
    const agent = new Agent({
      concurrency: 8,
      resources: { w: 3 },
      planner: new FunctionPlanner(() => ({ todos: plan })),
      executors: { w: exec },
    });
    const r = await agent.run('go').result();
    await agent.close();
    expect(r.status).toBe('completed');
    expect(widths).toHaveLength(n);
    expect(Math.max(...widths)).toBe(3);
  });

  it('a mixed plan fills the free slots with an unlimited class while the limited one is full', async () => {
    // 20 todos of a class limited to 1 come first in plan order, then 4 of an unlimited class: those
    // start at once beside the one limited todo (concurrency 5), not after the limited ones.
    const plan: TodoInput[] = [
      ...Array.from({ length: 20 }, (_, i) => ({
        id: `s${i}`,
        title: `S${i}`,
        domain: 'w',
        resource: 'slow',
        input: {},
      })),
      ...Array.from({ length: 4 }, (_, i) => ({
        id: `f${i}`,
        title: `F${i}`,
        domain: 'w',
        resource: 'fast',
        input: {},
      })),
    ];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const startedBeforeRelease: string[] = [];
    let released = false;
    const exec: Executor = {
      async execute(t) {
        if (!released) startedBeforeRelease.push(t.id);
        if (startedBeforeRelease.length === 5 && !released) {
          released = true;
          release();
        }
        await gate;
        return { output: t.id };
      },
    };
    const agent = new Agent({
      concurrency: 5,
      resources: { slow: 1 },
      planner: new FunctionPlanner(() => ({ todos: plan })),
      executors: { w: exec },
    });
    const r = await agent.run('go').result();
    await agent.close();
    expect(r.status).toBe('completed');
    expect(startedBeforeRelease.sort()).toEqual(['f0', 'f1', 'f2', 'f3', 's0']);
  });

  for (const bad of [0, -1, 1.5, Number.NaN]) {
    it(`a limit of ${String(bad)} is refused when the Agent is built (INVALID_INPUT naming it)`, () => {
      let caught: unknown;
      try {
        new Agent({ resources: { llm: bad } });
      } catch (e) {
        caught = e;
      }
      expect(isDreamAgentError(caught, 'INVALID_INPUT')).toBe(true);
      expect((caught as Error).message).toContain('resources.llm');
    });
  }
});
