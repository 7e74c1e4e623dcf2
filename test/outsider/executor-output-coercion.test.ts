/**
 * Outsider finding (fixed): a domain executor's output was coerced by `JSON.stringify` (a Map became
 * `{}`, NaN `null`, a Date a string, a method vanished) and the todo reported `completed`. It now gets
 * the check a tool output gets: a non-JSON output fails the todo with a typed `TOOL_FAILED` naming the
 * first non-JSON value's path.
 */
import { describe, expect, it } from 'vitest';
import { Agent, FunctionPlanner, MemoryStore, type AgentEvent } from 'dream-agent';

async function outcome(output: unknown): Promise<AgentEvent[]> {
  const agent = new Agent({
    store: new MemoryStore(),
    hitl: { planReview: 'never' },
    executors: { w: { execute: async () => ({ output: output as never }) } },
    planner: new FunctionPlanner(() => ({
      todos: [{ id: 'a', title: 'a', domain: 'w', dependsOn: [], input: {} }],
    })),
  });
  const events: AgentEvent[] = [];
  const run = agent.run('go');
  for await (const e of run) events.push(e);
  await run.result().catch(() => undefined);
  await agent.close();
  return events;
}

describe('outsider: an executor output that is not plain JSON', () => {
  const cases: [string, unknown, string][] = [
    ['a Map', new Map([['k', 'v']]), ''],
    ['a Set inside an object', { s: new Set([1]) }, 's'],
    ['NaN in an array', [1, Number.NaN], '[1]'],
    ['a Date', { when: new Date(0) }, 'when'],
    ['a function', { f: () => 1 }, 'f'],
    ['a class instance', { x: new (class Point {})() }, 'x'],
    // eslint-disable-next-line no-sparse-arrays -- the hole is the point
    ['a hole in an array', { a: [1, , 3] }, 'a[1]'],
  ];
  for (const [what, output, path] of cases) {
    it(`fails the todo with a typed error naming the path (${what})`, async () => {
      const events = await outcome(output);
      expect(events.some((e) => e.type === 'todo.completed')).toBe(false);
      const failed = events.find((e) => e.type === 'todo.failed');
      expect(failed).toBeDefined();
      const error = (failed as Extract<AgentEvent, { type: 'todo.failed' }>).error;
      expect(error.code).toBe('TOOL_FAILED');
      const issues = (error.details as { issues: { path: string }[] }).issues;
      expect(issues[0]!.path).toBe(path);
    });
  }

  it('plain JSON still completes', async () => {
    const events = await outcome({ a: [1, 'x', null, { b: true }] });
    const done = events.find((e) => e.type === 'todo.completed');
    expect((done as Extract<AgentEvent, { type: 'todo.completed' }>).output).toEqual({
      a: [1, 'x', null, { b: true }],
    });
  });
});
