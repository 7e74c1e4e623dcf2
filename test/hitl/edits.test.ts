import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readyTodos } from '../../src/dag/scheduler.js';
import { findPlanIssues } from '../../src/dag/validate.js';
import { isDreamAgentError } from '../../src/errors/index.js';
import { applyPlanEdits, planDiff } from '../../src/hitl/edits.js';
import type { Plan, PlanEdit, Todo } from '../../src/model/plan.js';
import { dagArbitrary, ref, todo } from '../dag/helpers.js';

/** Deep-freezes a value so that any mutation by the code under test throws. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

const basePlan = (): Plan =>
  deepFreeze({
    id: 'plan-1',
    version: 3,
    todos: [
      todo('a', [], { tool: 'sales.query', input: { period: 'Q3' } }),
      todo('b', ['a'], { input: { rows: ref('a', 'rows') } }),
      todo('c', ['b']),
      todo('d', [], { domain: 'ops' }),
    ],
  });

const ids = (plan: Plan): string[] => plan.todos.map((t) => t.id);

function editError(
  plan: Plan,
  edits: PlanEdit[],
  options?: Parameters<typeof applyPlanEdits>[2],
): Error & {
  code?: string;
  details?: Record<string, unknown>;
} {
  const before = structuredClone(plan);
  try {
    applyPlanEdits(plan, edits, options);
  } catch (error) {
    expect(isDreamAgentError(error, 'INVALID_EDIT')).toBe(true);
    expect(plan).toEqual(before);
    return error as Error;
  }
  throw new Error('expected the edit to be refused');
}

describe('applyPlanEdits: accepted edits', () => {
  it('returns a new version with the same id, without mutating the input', () => {
    const plan = basePlan();
    const edits = deepFreeze<PlanEdit[]>([{ op: 'add', todo: todo('e', ['d']) }]);
    const next = applyPlanEdits(plan, edits);
    expect(next.id).toBe('plan-1');
    expect(next.version).toBe(4);
    expect(ids(next)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(ids(plan)).toEqual(['a', 'b', 'c', 'd']);
    // The result aliases neither the old plan nor the edits.
    next.todos[0]!.input['period'] = 'Q4';
    next.todos[4]!.dependsOn.push('x');
    expect(plan.todos[0]!.input['period']).toBe('Q3');
    expect((edits[0] as { todo: Todo }).todo.dependsOn).toEqual(['d']);
  });

  it.each<[string, PlanEdit[], string[]]>([
    ['add at the end', [{ op: 'add', todo: todo('e') }], ['a', 'b', 'c', 'd', 'e']],
    ['add after a todo', [{ op: 'add', todo: todo('e', ['a']), after: 'a' }], ['a', 'e', 'b', 'c', 'd']],
    ['add after the last todo', [{ op: 'add', todo: todo('e'), after: 'd' }], ['a', 'b', 'c', 'd', 'e']],
    ['remove a leaf', [{ op: 'remove', todoId: 'c' }], ['a', 'b', 'd']],
    [
      'remove a chain, dependents first',
      [
        { op: 'remove', todoId: 'c' },
        { op: 'remove', todoId: 'b' },
        { op: 'remove', todoId: 'a' },
      ],
      ['d'],
    ],
    [
      'update dependents, then remove',
      [
        { op: 'update', todoId: 'b', patch: { dependsOn: [], input: {} } },
        { op: 'remove', todoId: 'a' },
      ],
      ['b', 'c', 'd'],
    ],
    ['move an independent todo first', [{ op: 'move', todoId: 'd', before: 'a' }], ['d', 'a', 'b', 'c']],
    ['move after a dependency', [{ op: 'move', todoId: 'd', after: 'b' }], ['a', 'b', 'd', 'c']],
    [
      'move a todo later, past an independent one',
      [{ op: 'move', todoId: 'c', after: 'd' }],
      ['a', 'b', 'd', 'c'],
    ],
    [
      'add that depends on a todo added later in the batch',
      [
        { op: 'add', todo: todo('f', ['e']) },
        { op: 'add', todo: todo('e'), after: 'd' },
      ],
      ['a', 'b', 'c', 'd', 'e', 'f'],
    ],
  ])('%s', (_name, edits, expected) => {
    const plan = basePlan();
    const next = applyPlanEdits(plan, edits);
    expect(ids(next)).toEqual(expected);
    expect(findPlanIssues(next.todos)).toEqual([]);
    expect(next.version).toBe(plan.version + 1);
  });

  it('update merges the patch, keeps the id and applies schema defaults', () => {
    const next = applyPlanEdits(basePlan(), [
      {
        op: 'update',
        todoId: 'd',
        patch: { title: 'Send the report', dependsOn: ['c'], input: { to: ref('c') } },
      },
    ]);
    expect(next.todos[3]).toEqual({
      id: 'd',
      title: 'Send the report',
      domain: 'ops',
      dependsOn: ['c'],
      input: { to: { $ref: 'c' } },
    });
  });

  it('a move changes the order in which independent todos become ready', () => {
    const plan = basePlan();
    expect(readyTodos(plan.todos, new Map()).map((t) => t.id)).toEqual(['a', 'd']);
    const next = applyPlanEdits(plan, [{ op: 'move', todoId: 'd', before: 'a' }]);
    expect(readyTodos(next.todos, new Map()).map((t) => t.id)).toEqual(['d', 'a']);
  });

  it('allows adding a todo that depends on a locked todo', () => {
    const next = applyPlanEdits(basePlan(), [{ op: 'add', todo: todo('e', ['a']), after: 'a' }], {
      locked: new Set(['a']),
    });
    expect(ids(next)).toEqual(['a', 'e', 'b', 'c', 'd']);
  });

  it('an empty batch still makes a new version', () => {
    expect(applyPlanEdits(basePlan(), []).version).toBe(4);
  });
});

describe('applyPlanEdits: refused edits change nothing', () => {
  const locked = { locked: new Set(['a']) };
  it.each<[string, PlanEdit[], string, number, { locked?: ReadonlySet<string> }?]>([
    [
      'add a duplicate id',
      [{ op: 'add', todo: todo('a') }],
      'edits[0] (add "a"): a todo with id "a" already exists',
      0,
    ],
    [
      'add after an unknown todo',
      [{ op: 'add', todo: todo('e'), after: 'zz' }],
      'edits[0] (add "e"): unknown todo "zz" in "after"',
      0,
    ],
    [
      'add with an unknown dependency',
      [{ op: 'add', todo: todo('e', ['zz']) }],
      'edits[0] (add "e"): the edited plan would be invalid: todo "e" depends on unknown todo "zz"',
      0,
    ],
    [
      'remove an unknown todo',
      [{ op: 'remove', todoId: 'zz' }],
      'edits[0] (remove "zz"): unknown todo "zz"',
      0,
    ],
    [
      'remove a todo that others depend on',
      [{ op: 'remove', todoId: 'a' }],
      'edits[0] (remove "a"): "b" depends on removed "a" (remove or update "b" earlier in the same batch)',
      0,
    ],
    [
      'remove a dependency before its dependents',
      [
        { op: 'remove', todoId: 'b' },
        { op: 'remove', todoId: 'c' },
      ],
      'edits[0] (remove "b"): "c" depends on removed "b" (remove or update "c" earlier in the same batch)',
      0,
    ],
    [
      'remove a locked todo',
      [
        { op: 'remove', todoId: 'c' },
        { op: 'remove', todoId: 'b' },
        { op: 'remove', todoId: 'a' },
      ],
      'edits[2] (remove "a"): todo "a" has started and cannot be removed',
      2,
      locked,
    ],
    [
      'update an unknown todo',
      [{ op: 'update', todoId: 'zz', patch: { title: 'x' } }],
      'edits[0] (update "zz"): unknown todo "zz"',
      0,
    ],
    [
      'update a locked todo',
      [{ op: 'update', todoId: 'a', patch: { title: 'x' } }],
      'edits[0] (update "a"): todo "a" has started and cannot be updated',
      0,
      locked,
    ],
    [
      'update that creates a cycle',
      [{ op: 'update', todoId: 'a', patch: { dependsOn: ['c'] } }],
      'edits[0] (update "a"): the edited plan would be invalid: dependency cycle: a → c → b → a',
      0,
    ],
    [
      'update that drops a dependency still referenced in the input',
      [{ op: 'update', todoId: 'b', patch: { dependsOn: [] } }],
      'edits[0] (update "b"): the edited plan would be invalid: todo "b" references the output of "a", which is not one of its dependencies',
      0,
    ],
    [
      'update that makes a todo depend on itself',
      [
        { op: 'add', todo: todo('e') },
        { op: 'update', todoId: 'd', patch: { dependsOn: ['d'] } },
      ],
      'edits[1] (update "d"): the edited plan would be invalid: todo "d" depends on itself',
      1,
    ],
    [
      'move before a dependency',
      [{ op: 'move', todoId: 'b', before: 'a' }],
      'edits[0] (move "b"): cannot move "b" before its dependency "a"',
      0,
    ],
    [
      'move after a dependent',
      [{ op: 'move', todoId: 'a', after: 'c' }],
      'edits[0] (move "a"): cannot move "a" after its dependent "b"',
      0,
    ],
    [
      'move relative to itself',
      [{ op: 'move', todoId: 'a', before: 'a' }],
      'edits[0] (move "a"): cannot move "a" relative to itself',
      0,
    ],
    [
      'move to an unknown anchor',
      [{ op: 'move', todoId: 'd', after: 'zz' }],
      'edits[0] (move "d"): unknown todo "zz" in "after"',
      0,
    ],
    [
      'move with both anchors',
      [{ op: 'move', todoId: 'd', after: 'a', before: 'b' }],
      'edits[0] (move "d"): move needs exactly one of "before" or "after"',
      0,
    ],
    [
      'move a locked todo',
      [{ op: 'move', todoId: 'a', after: 'd' }],
      'edits[0] (move "a"): todo "a" has started and cannot be moved',
      0,
      locked,
    ],
    [
      'a later edit fails: the earlier ones are rolled back',
      [
        { op: 'add', todo: todo('e') },
        { op: 'remove', todoId: 'zz' },
      ],
      'edits[1] (remove "zz"): unknown todo "zz"',
      1,
    ],
  ])('%s', (_name, edits, message, editIndex, options) => {
    const error = editError(basePlan(), edits, options);
    expect(error.message).toBe(message);
    expect(error.details?.['editIndex']).toBe(editIndex);
  });

  it('refuses a move before a transitive dependency, but not orders that were already out of order', () => {
    // Plan order need not be topological (planners may emit any order): c is before its dependency b.
    const plan = deepFreeze<Plan>({
      id: 'p',
      version: 1,
      todos: [todo('a'), todo('c', ['b']), todo('b', ['a']), todo('d')],
    });
    const error = editError(plan, [{ op: 'move', todoId: 'c', before: 'a' }]);
    expect(error.message).toBe('edits[0] (move "c"): cannot move "c" before its dependency "a"');
    // Moving c later, still before b, crosses nothing that was in order.
    expect(ids(applyPlanEdits(plan, [{ op: 'move', todoId: 'd', before: 'c' }]))).toEqual([
      'a',
      'd',
      'c',
      'b',
    ]);
    expect(ids(applyPlanEdits(plan, [{ op: 'move', todoId: 'c', after: 'b' }]))).toEqual([
      'a',
      'b',
      'c',
      'd',
    ]);
  });

  it('refuses an invalid todo with the schema problem', () => {
    const error = editError(basePlan(), [{ op: 'add', todo: { ...todo('e'), title: '' } }]);
    expect(error.message).toMatch(/^edits\[0\] \(add "e"\): invalid todo: title: /);
  });

  it('applies the validation options and reports issues in details', () => {
    const error = editError(basePlan(), [{ op: 'add', todo: todo('e', [], { tool: 'nope' }) }], {
      validation: { hasTool: (name) => name === 'sales.query' },
    });
    expect(error.message).toBe(
      'edits[0] (add "e"): the edited plan would be invalid: todo "e" uses unknown tool "nope"',
    );
    expect(error.details?.['issues']).toEqual([
      { code: 'unknown_tool', todoId: 'e', message: 'todo "e" uses unknown tool "nope"' },
    ]);
  });

  it('blames the last edit that touched a todo on the cycle', () => {
    const error = editError(basePlan(), [
      { op: 'update', todoId: 'a', patch: { dependsOn: ['e'] } },
      { op: 'add', todo: todo('e', ['c']) },
      { op: 'add', todo: todo('f') },
    ]);
    expect(error.details?.['editIndex']).toBe(1);
    expect(error.message).toBe(
      'edits[1] (add "e"): the edited plan would be invalid: dependency cycle: a → e → c → b → a',
    );
  });
});

describe('planDiff', () => {
  it('reports added, removed, changed and moved todos', () => {
    const a = basePlan();
    const b = applyPlanEdits(a, [
      { op: 'remove', todoId: 'c' },
      { op: 'add', todo: todo('e'), after: 'a' },
      { op: 'update', todoId: 'd', patch: { title: 'New' } },
      { op: 'move', todoId: 'd', before: 'a' },
    ]);
    expect(planDiff(a, b)).toEqual({ added: ['e'], removed: ['c'], changed: ['d'], moved: true });
    expect(planDiff(a, a)).toEqual({ added: [], removed: [], changed: [], moved: false });
  });

  it('ignores key order and undefined fields', () => {
    const a = basePlan();
    const b: Plan = {
      ...a,
      todos: a.todos.map(
        (t) =>
          ({ ...Object.fromEntries(Object.entries(t).reverse()), metadata: undefined }) as unknown as Todo,
      ),
    };
    expect(planDiff(a, b)).toEqual({ added: [], removed: [], changed: [], moved: false });
  });
});

describe('applyPlanEdits (property)', () => {
  const pool = [...Array.from({ length: 10 }, (_, i) => `t${i}`), 'n0', 'n1', 'n2', 'n3'];
  const id = fc.constantFrom(...pool);
  const deps = fc.subarray(pool, { maxLength: 3 });
  const editArb: fc.Arbitrary<PlanEdit> = fc.oneof(
    fc.record({ op: fc.constant('add' as const), todo: fc.tuple(id, deps).map(([i, d]) => todo(i, d)) }),
    fc.record({
      op: fc.constant('add' as const),
      todo: fc.tuple(id, deps).map(([i, d]) => todo(i, d)),
      after: id,
    }),
    fc.record({ op: fc.constant('remove' as const), todoId: id }),
    fc.record({ op: fc.constant('update' as const), todoId: id, patch: deps.map((d) => ({ dependsOn: d })) }),
    fc.record({
      op: fc.constant('update' as const),
      todoId: id,
      patch: fc.tuple(id, fc.boolean()).map(([r, withDep]) => ({
        input: { x: ref(r) },
        ...(withDep ? { dependsOn: [r] } : {}),
      })),
    }),
    fc.record({ op: fc.constant('move' as const), todoId: id, before: id }),
    fc.record({ op: fc.constant('move' as const), todoId: id, after: id }),
  );

  it('accepted batches keep the plan valid and bump the version by 1; refused ones change nothing', () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(
        dagArbitrary(10),
        fc.array(fc.array(editArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 12 }),
        fc.subarray(pool, { maxLength: 3 }),
        (todos, batches, lockedIds) => {
          let plan: Plan = deepFreeze({ id: 'p', version: 1, todos });
          const locked = new Set(lockedIds);
          for (const batch of batches) {
            const before = structuredClone(plan);
            let next: Plan | undefined;
            try {
              next = applyPlanEdits(plan, batch, { locked });
            } catch (error) {
              expect(isDreamAgentError(error, 'INVALID_EDIT')).toBe(true);
              expect(plan).toEqual(before);
              refused++;
              continue;
            }
            accepted++;
            expect(findPlanIssues(next.todos)).toEqual([]);
            expect(next.version).toBe(plan.version + 1);
            expect(next.id).toBe(plan.id);
            // Locked todos are never removed or changed.
            for (const t of plan.todos) {
              if (locked.has(t.id)) expect(next.todos.find((n) => n.id === t.id)).toEqual(t);
            }
            const diff = planDiff(plan, next);
            expect(diff.added).toEqual(
              next.todos.filter((t) => !plan.todos.some((p) => p.id === t.id)).map((t) => t.id),
            );
            expect(diff.removed).toEqual(
              plan.todos.filter((t) => !next.todos.some((n) => n.id === t.id)).map((t) => t.id),
            );
            plan = deepFreeze(next);
          }
        },
      ),
      { numRuns: 200 },
    );
    // Both branches must really be exercised, or the property says nothing.
    expect(accepted).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(50);
  });
});
