/**
 * Shared plan shapes and the dream-agent runner used by the benchmarks (`core.ts`, `peers.ts`).
 * Each run builds a fresh Agent (in memory), consumes every event and checks the run completed.
 */
import { Agent, FunctionPlanner, type Executor, type TodoInput } from '../src/index.js';

/** An executor that does no work: what is left is the engine's own cost per todo. */
export const noop: Executor = { execute: async (t) => ({ output: t.id }) };

/** `n` todos, each depending on the previous one. */
export function chain(n: number): TodoInput[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `t${i}`,
    title: `step ${i}`,
    domain: 'work',
    input: {},
    dependsOn: i === 0 ? [] : [`t${i - 1}`],
    idempotent: true,
  }));
}

/** One root and `n` leaves that depend on it. */
export function fan(n: number): TodoInput[] {
  return [
    { id: 'root', title: 'root', domain: 'work', input: {}, dependsOn: [], idempotent: true },
    ...Array.from({ length: n }, (_, i) => ({
      id: `f${i}`,
      title: `leaf ${i}`,
      domain: 'work',
      input: {},
      dependsOn: ['root'],
      idempotent: true,
    })),
  ];
}

/** `n` independent todos (a flat, wide plan). */
export function flat(n: number): TodoInput[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `w${i}`,
    title: `item ${i}`,
    domain: 'work',
    input: {},
    dependsOn: [],
    idempotent: true,
  }));
}

/**
 * Runs a plan once through the public API, every event consumed.
 *
 * @param todos - the plan
 * @param concurrency - the Agent's concurrency
 * @returns µs per todo and the number of events consumed
 */
export async function runOnce(
  todos: TodoInput[],
  concurrency: number,
): Promise<{ us: number; events: number }> {
  const agent = new Agent({
    planner: new FunctionPlanner(() => ({ todos })),
    executors: { work: noop },
    concurrency,
  });
  const t0 = process.hrtime.bigint();
  const run = agent.run('go');
  let events = 0;
  for await (const _ of run) events += 1; // events consumed
  const res = await run.result();
  const us = Number(process.hrtime.bigint() - t0) / 1e3 / todos.length;
  if (res.status !== 'completed') throw new Error(`run ended ${res.status}`);
  await agent.close();
  return { us, events };
}

/**
 * Best of `reps` runs (the least disturbed by other load on the machine).
 *
 * @param todos - the plan
 * @param concurrency - the Agent's concurrency
 * @param reps - repetitions
 * @returns best µs per todo (one decimal) and the events of one run
 */
export async function timeRun(
  todos: TodoInput[],
  concurrency: number,
  reps: number,
): Promise<{ usPerTodo: number; events: number }> {
  let best = Infinity;
  let events = 0;
  for (let r = 0; r < reps; r += 1) {
    const o = await runOnce(todos, concurrency);
    best = Math.min(best, o.us);
    events = o.events;
  }
  return { usPerTodo: round1(best), events };
}

/** @returns x rounded to one decimal */
export const round1 = (x: number): number => Math.round(x * 10) / 10;
/** @returns x rounded to two decimals */
export const round2 = (x: number): number => Math.round(x * 100) / 100;
