/**
 * Plan edits made by humans during plan review or while a plan runs: add, remove, update and move
 * todos. A batch of edits is atomic: either every edit applies and the result is a valid DAG (a new
 * plan version), or an error names the offending edit and the plan is untouched.
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../errors/index.js';
import type { Plan, PlanEdit, Todo } from '../model/plan.js';
import { TodoSchema } from '../model/plan.js';
import { findPlanIssues, type PlanValidationIssue, type PlanValidationOptions } from '../dag/validate.js';

/** Options of {@link applyPlanEdits}. */
export interface ApplyPlanEditsOptions {
  /** Ids of todos that have started or finished: they cannot be removed, updated or moved. */
  locked?: ReadonlySet<string>;
  /** Domain, tool and input checks applied to the edited plan. */
  validation?: PlanValidationOptions;
}

/** What changed between two plan versions, for UIs. */
export interface PlanDiff {
  /** Ids present only in the newer plan, in its order. */
  added: string[];
  /** Ids present only in the older plan, in its order. */
  removed: string[];
  /** Ids present in both whose content differs, in the newer plan's order. */
  changed: string[];
  /** Whether the relative order of the todos present in both changed. */
  moved: boolean;
}

/**
 * Applies a batch of edits to a plan and returns the next version. Edits apply in order, each seeing
 * the result of the previous ones; the final plan must pass {@link findPlanIssues}. The input plan
 * and edits are never mutated and the result shares no objects with them.
 *
 * - `add {todo, after?}` inserts after `after` (at the end when omitted); the id must be new.
 * - `remove {todoId}` is refused while a remaining todo depends on it: remove or update the
 *   dependents earlier in the same batch.
 * - `update {todoId, patch}` merges the patch (any field but `id`; `undefined` fields are ignored).
 * - `move {todoId, before | after}` changes plan order (which breaks scheduling ties). A move that
 *   would put a todo before one of its (transitive) dependencies, or after one of its dependents, is
 *   refused.
 * - Locked todos (started or finished) cannot be removed, updated or moved; new todos may depend on them.
 *
 * @param plan - the current plan
 * @param edits - the batch, applied in order
 * @param options - locked todo ids and validation options
 * @returns a new plan with the same id and `version + 1`
 * @throws DreamAgentError `INVALID_EDIT` naming the edit index and todo; `details.editIndex` is the
 *   0-based index of the offending edit and `details.issues` the validation issues when the
 *   resulting plan is invalid; past a size limit (`validation.limits`) `details.limit` names it
 *   (`{ name, max, actual }`).
 * @example
 * ```ts
 * const next = applyPlanEdits(plan, [
 *   { op: 'add', todo: { id: 'email', title: 'Email it', domain: 'ops', tool: 'mail.send', input: {}, dependsOn: ['report'] } },
 *   { op: 'move', todoId: 'chart', before: 'report' },
 * ]);
 * ```
 */
export function applyPlanEdits(
  plan: Plan,
  edits: readonly PlanEdit[],
  options: ApplyPlanEditsOptions = {},
): Plan {
  const locked = options.locked ?? new Set<string>();
  // Working copy: a new array of todos; todos are replaced, never modified in place.
  let todos: Todo[] = [...plan.todos];

  edits.forEach((edit, editIndex) => {
    todos = applyOne(todos, edit, editIndex, locked);
  });

  const issues = findPlanIssues(todos, options.validation);
  const first = issues[0];
  if (first !== undefined) {
    const editIndex = blameEdit(edits, first);
    const edit = edits[editIndex];
    const more = issues.length - 1;
    throw new DreamAgentError(
      'INVALID_EDIT',
      `${label(edit, editIndex)}: the edited plan would be invalid: ${first.message}` +
        (more === 0 ? '' : ` (and ${more} more issue${more === 1 ? '' : 's'})`),
      { details: { editIndex, issues, ...(first.limit ? { limit: first.limit } : {}) } },
    );
  }

  const next: Plan = { ...plan, version: plan.version + 1, todos };
  // One deep copy at the end: the new version must not alias the old plan or the edit objects, or a
  // later in-place change by a caller would silently rewrite history.
  return structuredClone(next);
}

function applyOne(todos: Todo[], edit: PlanEdit, editIndex: number, locked: ReadonlySet<string>): Todo[] {
  const fail = (message: string, extra: Record<string, unknown> = {}): never => {
    throw new DreamAgentError('INVALID_EDIT', `${label(edit, editIndex)}: ${message}`, {
      details: { editIndex, ...extra },
    });
  };
  const position = (id: string): number => todos.findIndex((t) => t.id === id);

  switch (edit.op) {
    case 'add': {
      const todo = parseTodo(edit.todo, fail);
      if (position(todo.id) !== -1) fail(`a todo with id "${todo.id}" already exists`);
      let at = todos.length;
      if (edit.after !== undefined) {
        const after = position(edit.after);
        if (after === -1) fail(`unknown todo "${edit.after}" in "after"`);
        at = after + 1;
      }
      return [...todos.slice(0, at), todo, ...todos.slice(at)];
    }
    case 'remove': {
      const at = position(edit.todoId);
      if (at === -1) fail(`unknown todo "${edit.todoId}"`);
      if (locked.has(edit.todoId)) fail(`todo "${edit.todoId}" has started and cannot be removed`);
      const dependent = todos.find((t) => t.id !== edit.todoId && t.dependsOn.includes(edit.todoId));
      if (dependent !== undefined) {
        fail(
          `"${dependent.id}" depends on removed "${edit.todoId}" (remove or update "${dependent.id}" earlier in the same batch)`,
        );
      }
      return todos.filter((_, i) => i !== at);
    }
    case 'update': {
      const at = position(edit.todoId);
      if (at === -1) fail(`unknown todo "${edit.todoId}"`);
      if (locked.has(edit.todoId)) fail(`todo "${edit.todoId}" has started and cannot be updated`);
      const merged: Record<string, unknown> = { ...(todos[at] as Todo) };
      for (const [key, value] of Object.entries(edit.patch)) {
        // `id` is not patchable (ids are how history, events and references name a todo).
        if (value !== undefined && key !== 'id') merged[key] = value;
      }
      merged['id'] = edit.todoId;
      const updated = parseTodo(merged, fail);
      return todos.map((t, i) => (i === at ? updated : t));
    }
    case 'move': {
      const from = position(edit.todoId);
      if (from === -1) fail(`unknown todo "${edit.todoId}"`);
      if (locked.has(edit.todoId)) fail(`todo "${edit.todoId}" has started and cannot be moved`);
      if ((edit.before === undefined) === (edit.after === undefined))
        fail('move needs exactly one of "before" or "after"');
      const target = (edit.before ?? edit.after) as string;
      if (target === edit.todoId) fail(`cannot move "${edit.todoId}" relative to itself`);
      if (position(target) === -1)
        fail(`unknown todo "${target}" in "${edit.before === undefined ? 'after' : 'before'}"`);

      const moving = todos[from] as Todo;
      const rest = todos.filter((_, i) => i !== from);
      const anchor = rest.findIndex((t) => t.id === target);
      const at = edit.before === undefined ? anchor + 1 : anchor;
      const result = [...rest.slice(0, at), moving, ...rest.slice(at)];
      checkMoveCrossing(todos, result, edit.todoId, fail);
      return result;
    }
  }
}

/**
 * Refuses a move that crosses a dependency edge: a (transitive) dependency that was before the todo
 * ends up after it, or a (transitive) dependent that was after it ends up before it. Orders that were
 * already "wrong" before the move (planners may emit any order) are not held against the edit.
 */
function checkMoveCrossing(
  before: readonly Todo[],
  after: readonly Todo[],
  id: string,
  fail: (message: string) => never,
): void {
  const oldPos = new Map(before.map((t, i) => [t.id, i]));
  const newPos = new Map(after.map((t, i) => [t.id, i]));
  const dependsOn = new Map(before.map((t) => [t.id, t.dependsOn]));
  const dependents = new Map<string, string[]>();
  for (const t of before)
    for (const d of t.dependsOn) dependents.set(d, [...(dependents.get(d) ?? []), t.id]);

  const reach = (next: (x: string) => readonly string[]): string[] => {
    const seen = new Set<string>();
    const stack = [...next(id)];
    while (stack.length > 0) {
      const x = stack.pop() as string;
      if (seen.has(x) || x === id) continue;
      seen.add(x);
      stack.push(...next(x));
    }
    // Report in plan order so the message is deterministic.
    return [...seen]
      .filter((x) => oldPos.has(x))
      .sort((a, b) => (oldPos.get(a) as number) - (oldPos.get(b) as number));
  };

  const was = (x: string): number => oldPos.get(x) as number;
  const now = (x: string): number => newPos.get(x) as number;
  for (const dep of reach((x) => dependsOn.get(x) ?? [])) {
    if (was(dep) < was(id) && now(dep) > now(id)) fail(`cannot move "${id}" before its dependency "${dep}"`);
  }
  for (const dependent of reach((x) => dependents.get(x) ?? [])) {
    if (was(dependent) > was(id) && now(dependent) < now(id)) {
      fail(`cannot move "${id}" after its dependent "${dependent}"`);
    }
  }
}

/** Validates (and applies defaults to) a todo coming from an edit, so a bad field is an edit error. */
function parseTodo(value: unknown, fail: (message: string, extra?: Record<string, unknown>) => never): Todo {
  const parsed = TodoSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(todo)'}: ${i.message}`);
  return fail(`invalid todo: ${problems.join('; ')}`, { problems });
}

function label(edit: PlanEdit | undefined, editIndex: number): string {
  if (edit === undefined) return `edits[${editIndex}]`;
  const id = edit.op === 'add' ? (edit.todo as Partial<Todo>).id : edit.todoId;
  return `edits[${editIndex}] (${edit.op} "${String(id)}")`;
}

/**
 * The edit to blame for a validation issue of the final plan: the last edit that added, updated or
 * moved a todo the issue names (for a cycle, any todo on it); the last edit when none did.
 */
function blameEdit(edits: readonly PlanEdit[], issue: PlanValidationIssue): number {
  const named = new Set<string>([
    ...(issue.todoId === undefined ? [] : [issue.todoId]),
    ...(issue.path ?? []),
  ]);
  for (let i = edits.length - 1; i >= 0; i--) {
    const edit = edits[i] as PlanEdit;
    const id = edit.op === 'add' ? edit.todo.id : edit.todoId;
    if (named.has(id)) return i;
  }
  return Math.max(0, edits.length - 1);
}

/**
 * Compares two plans (typically consecutive versions) by todo id.
 *
 * @param a - the older plan
 * @param b - the newer plan
 * @returns added, removed and changed ids, and whether common todos changed relative order
 * @example
 * ```ts
 * planDiff(v1, v2); // { added: ['email'], removed: [], changed: ['report'], moved: false }
 * ```
 */
export function planDiff(a: Plan, b: Plan): PlanDiff {
  const inA = new Map(a.todos.map((t) => [t.id, t]));
  const inB = new Map(b.todos.map((t) => [t.id, t]));
  const added = b.todos.filter((t) => !inA.has(t.id)).map((t) => t.id);
  const removed = a.todos.filter((t) => !inB.has(t.id)).map((t) => t.id);
  const changed = b.todos.filter((t) => inA.has(t.id) && !deepEqual(inA.get(t.id), t)).map((t) => t.id);
  const commonA = a.todos.filter((t) => inB.has(t.id)).map((t) => t.id);
  const commonB = b.todos.filter((t) => inA.has(t.id)).map((t) => t.id);
  const moved = commonA.some((id, i) => commonB[i] !== id);
  return { added, removed, changed, moved };
}

/** Structural equality for JSON-like values; object key order and `undefined` fields are ignored. */
function deepEqual(x: unknown, y: unknown): boolean {
  if (x === y) return true;
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
  if (Array.isArray(x) !== Array.isArray(y)) return false;
  if (Array.isArray(x) && Array.isArray(y)) {
    return x.length === y.length && x.every((item, i) => deepEqual(item, y[i]));
  }
  const ox = x as Record<string, unknown>;
  const oy = y as Record<string, unknown>;
  const kx = Object.keys(ox).filter((k) => ox[k] !== undefined);
  const ky = Object.keys(oy).filter((k) => oy[k] !== undefined);
  return kx.length === ky.length && kx.every((k) => Object.hasOwn(oy, k) && deepEqual(ox[k], oy[k]));
}
