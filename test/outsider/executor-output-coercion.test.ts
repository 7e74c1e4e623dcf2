/**
 * Outsider finding, left for the owner of `src/execution` (the todo runner): a domain executor's output
 * is not checked for plain JSON the way a tool's is. `JSON.stringify` turns it into something else and the
 * todo reports `completed` with data the executor never returned:
 *
 * ```ts
 * const agent = new Agent({
 *   store: new MemoryStore(), hitl: { planReview: 'never' },
 *   executors: { w: { execute: async () => ({ output: new Map([['k', 'v']]) }) } },
 *   planner: new FunctionPlanner(() => ({ todos: [{ id: 'a', title: 'a', domain: 'w', dependsOn: [], input: {} }] })),
 * });
 * // todo.completed with output {} — a Map becomes {}, a Set {}, NaN null, a method disappears,
 * // a Date a string, a class instance a plain object, a hole in an array null.
 * ```
 *
 * A tool returning the same values fails with a typed error naming the path (`checkJsonValue`); BigInt and
 * circular outputs already fail here too (`TOOL_FAILED`). Expected: the same check for executor outputs —
 * a typed executor error naming the first non-JSON value, never a silent conversion.
 */
import { describe, it } from 'vitest';

describe('outsider: an executor output that is not plain JSON', () => {
  it.todo(
    'fails the todo with a typed error naming the path (today a Map is stored as {} and the todo completes)',
  );
});
