/**
 * The pure scheduler: given the graph and the todo states, which todos may run now. No I/O, no clock,
 * no randomness — the same inputs always give the same answer in the same order (plan order breaks
 * ties), which is what lets the durable engine replay a session and reach identical decisions.
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../errors/index.js';
import type { Todo } from '../model/plan.js';
import type { TodoStatus } from '../model/session.js';

/** The status of each todo by id; a missing id means `pending`. */
export type TodoStateView = ReadonlyMap<string, TodoStatus>;

/** Concurrency limits for {@link selectWithLimits}. */
export interface ScheduleLimits {
  /** Maximum number of todos running at once (a positive integer, or `Infinity`). */
  concurrency: number;
  /** Maximum running todos per resource class (`todo.resource ?? todo.domain`); unlisted classes are unlimited. */
  resources?: Readonly<Record<string, number>>;
}

const statusOf = (states: TodoStateView, id: string): TodoStatus => states.get(id) ?? 'pending';

/**
 * Whether a status is final: `completed`, `failed` or `skipped`.
 *
 * @param status - a todo status
 * @returns true for terminal statuses
 */
export function isTerminal(status: TodoStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'skipped';
}

/**
 * The todos that may start now: status `pending` or `approved` and every dependency `completed`.
 * Returned in plan order, so a `move` edit changes execution order among independent todos.
 *
 * @param todos - the plan's todos, in plan order
 * @param states - todo statuses by id (missing = `pending`)
 * @returns the ready todos, in plan order
 * @example
 * ```ts
 * readyTodos(plan.todos, new Map([['fetch', 'completed']])); // todos whose deps are all done
 * ```
 */
export function readyTodos(todos: readonly Todo[], states: TodoStateView): Todo[] {
  return todos.filter((todo) => {
    const status = statusOf(states, todo.id);
    if (status !== 'pending' && status !== 'approved') return false;
    return todo.dependsOn.every((dep) => statusOf(states, dep) === 'completed');
  });
}

/**
 * The non-terminal todos that can never run because a dependency, direct or transitive, is `failed`
 * or `skipped`. The engine skips these with reason `dependency_failed`.
 *
 * Propagation stops at completed todos: if a human marked a todo done after its dependency failed
 * (recovery `mark_done`), its dependents are runnable.
 *
 * @param todos - the plan's todos, in plan order
 * @param states - todo statuses by id (missing = `pending`)
 * @returns the blocked todos, in plan order
 */
export function blockedByFailure(todos: readonly Todo[], states: TodoStateView): Todo[] {
  const dependents = new Map<string, string[]>();
  for (const todo of todos) {
    for (const dep of todo.dependsOn) {
      const list = dependents.get(dep);
      if (list === undefined) dependents.set(dep, [todo.id]);
      else list.push(todo.id);
    }
  }
  const queue: string[] = [];
  for (const todo of todos) {
    const status = statusOf(states, todo.id);
    if (status === 'failed' || status === 'skipped') queue.push(todo.id);
  }
  const blocked = new Set<string>();
  for (let head = 0; head < queue.length; head++) {
    for (const id of dependents.get(queue[head] as string) ?? []) {
      if (blocked.has(id) || isTerminal(statusOf(states, id))) continue;
      blocked.add(id);
      queue.push(id);
    }
  }
  return todos.filter((todo) => blocked.has(todo.id));
}

/**
 * Whether every todo has a terminal status.
 *
 * @param todos - the plan's todos
 * @param states - todo statuses by id (missing = `pending`)
 * @returns true when nothing is left to run or wait for
 */
export function allTerminal(todos: readonly Todo[], states: TodoStateView): boolean {
  return todos.every((todo) => isTerminal(statusOf(states, todo.id)));
}

/**
 * The resource class of a todo: its `resource`, else its `domain`.
 *
 * @param todo - a todo
 * @returns the class name used by resource limits
 */
export function resourceClass(todo: Todo): string {
  return todo.resource ?? todo.domain;
}

/**
 * Chooses which ready todos to start now without exceeding the global concurrency or any resource
 * class limit, given what is already running. Greedy in the order of `ready` (plan order when it
 * comes from {@link readyTodos}): a todo whose class is full is passed over, and a later todo of
 * another class may take the slot.
 *
 * @param ready - candidates, in priority order
 * @param running - todos currently running (they count against the limits)
 * @param limits - `concurrency` and optional per-class `resources`
 * @returns the todos to start, a subsequence of `ready`
 * @throws DreamAgentError `INVALID_INPUT` when `concurrency` or a resource limit is not a positive
 *   integer (or `Infinity`): a limit of 0 would stall the run forever.
 * @example
 * ```ts
 * selectWithLimits(ready, running, { concurrency: 4, resources: { llm: 1 } });
 * ```
 */
export function selectWithLimits(
  ready: readonly Todo[],
  running: readonly Todo[],
  limits: ScheduleLimits,
): Todo[] {
  assertLimit('concurrency', limits.concurrency);
  const resources = limits.resources ?? {};
  for (const [name, limit] of Object.entries(resources)) assertLimit(`resources.${name}`, limit);

  let free = limits.concurrency - running.length;
  const inUse = new Map<string, number>();
  const runningIds = new Set<string>();
  for (const todo of running) {
    runningIds.add(todo.id);
    const cls = resourceClass(todo);
    inUse.set(cls, (inUse.get(cls) ?? 0) + 1);
  }
  const selected: Todo[] = [];
  for (const todo of ready) {
    if (free <= 0) break;
    if (runningIds.has(todo.id)) continue;
    const cls = resourceClass(todo);
    const used = inUse.get(cls) ?? 0;
    const limit = Object.hasOwn(resources, cls) ? resources[cls] : undefined;
    if (limit !== undefined && used >= limit) continue;
    inUse.set(cls, used + 1);
    runningIds.add(todo.id);
    selected.push(todo);
    free--;
  }
  return selected;
}

/**
 * Checks a concurrency-style limit. Shared with the runner; not part of the public API.
 *
 * @internal
 * @param name - the option name, for the message
 * @param value - the value given
 * @throws DreamAgentError `INVALID_INPUT` naming the option and the bad value
 */
export function assertLimit(name: string, value: number): void {
  if (value === Number.POSITIVE_INFINITY || (Number.isInteger(value) && value >= 1)) return;
  throw new DreamAgentError(
    'INVALID_INPUT',
    `${name} must be a positive integer or Infinity, got ${String(value)} (${typeof value})`,
    { details: { option: name } },
  );
}
