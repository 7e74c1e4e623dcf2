import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findPlanIssues, topologicalOrder, validatePlan } from '../../src/dag/validate.js';
import { isDreamAgentError } from '../../src/errors/index.js';
import type { Todo } from '../../src/model/plan.js';
import { dagArbitrary, ref, todo } from './helpers.js';

describe('findPlanIssues', () => {
  const valid: [string, Todo[]][] = [
    ['empty plan', []],
    ['single todo', [todo('a')]],
    ['chain', [todo('a'), todo('b', ['a']), todo('c', ['b'])]],
    ['diamond out of order', [todo('d', ['b', 'c']), todo('b', ['a']), todo('c', ['a']), todo('a')]],
    ['reference to a dependency', [todo('a'), todo('b', ['a'], { input: { x: ref('a', 'rows.0') } })]],
    [
      'nested references',
      [
        todo('a'),
        todo('c'),
        todo('b', ['a', 'c'], { input: { list: [1, { deep: [ref('a')] }], y: ref('c', 'n') } }),
      ],
    ],
    [
      'object with $ref and other keys is not a reference',
      [todo('a', [], { input: { x: { $ref: 'zz', other: 1 } } })],
    ],
  ];
  it.each(valid)('accepts %s', (_name, todos) => {
    expect(findPlanIssues(todos)).toEqual([]);
    expect(() => validatePlan(todos)).not.toThrow();
  });

  const invalid: [string, Todo[], { code: string; todoId?: string; message: string; path?: string[] }[]][] = [
    [
      'duplicate id',
      [todo('a'), todo('a')],
      [{ code: 'duplicate_id', todoId: 'a', message: 'duplicate todo id "a"' }],
    ],
    [
      'unknown dependency',
      [todo('a', ['x'])],
      [{ code: 'unknown_dependency', todoId: 'a', message: 'todo "a" depends on unknown todo "x"' }],
    ],
    [
      'self dependency',
      [todo('a', ['a'])],
      [{ code: 'self_dependency', todoId: 'a', message: 'todo "a" depends on itself' }],
    ],
    [
      'two-cycle',
      [todo('a', ['b']), todo('b', ['a'])],
      [{ code: 'cycle', todoId: 'a', message: 'dependency cycle: a → b → a', path: ['a', 'b', 'a'] }],
    ],
    [
      'three-cycle',
      [todo('a', ['b']), todo('b', ['c']), todo('c', ['a'])],
      [
        {
          code: 'cycle',
          todoId: 'a',
          message: 'dependency cycle: a → b → c → a',
          path: ['a', 'b', 'c', 'a'],
        },
      ],
    ],
    [
      'two independent cycles, reported once each in plan order',
      [todo('x', ['y']), todo('a', ['b']), todo('b', ['a', 'c']), todo('c', ['a']), todo('y', ['x'])],
      [
        { code: 'cycle', todoId: 'x', message: 'dependency cycle: x → y → x', path: ['x', 'y', 'x'] },
        { code: 'cycle', todoId: 'a', message: 'dependency cycle: a → b → a', path: ['a', 'b', 'a'] },
      ],
    ],
    [
      'reference to a non-dependency',
      [todo('a'), todo('b', [], { input: { x: ref('a') } })],
      [
        {
          code: 'bad_reference',
          todoId: 'b',
          message: 'todo "b" references the output of "a", which is not one of its dependencies',
        },
      ],
    ],
    [
      'reference to itself (nested in an array)',
      [todo('a', [], { input: { list: [{ v: ref('a', 'x') }] } })],
      [{ code: 'bad_reference', todoId: 'a', message: 'todo "a" references its own output' }],
    ],
    [
      'several issues in deterministic order',
      [todo('b', ['a', 'zz']), todo('a', ['b']), todo('b')],
      [
        { code: 'unknown_dependency', todoId: 'b', message: 'todo "b" depends on unknown todo "zz"' },
        { code: 'duplicate_id', todoId: 'b', message: 'duplicate todo id "b"' },
        { code: 'cycle', todoId: 'b', message: 'dependency cycle: b → a → b', path: ['b', 'a', 'b'] },
      ],
    ],
  ];
  it.each(invalid)('reports %s', (_name, todos, expected) => {
    expect(findPlanIssues(todos)).toEqual(expected);
  });

  it('checks domains, tools and tool input only when asked', () => {
    const todos = [
      todo('a', [], { domain: 'data', tool: 'sales.query' }),
      todo('b', [], { domain: 'weird', tool: 'nope' }),
      todo('c', [], { domain: 'data' }),
    ];
    expect(findPlanIssues(todos)).toEqual([]);
    const issues = findPlanIssues(todos, {
      domains: ['data', 'ops'],
      hasTool: (name) => name === 'sales.query',
      validateToolInput: (t) => (t.id === 'a' ? ['period is required'] : []),
    });
    expect(issues).toEqual([
      { code: 'invalid_input', todoId: 'a', message: 'todo "a" has invalid input: period is required' },
      {
        code: 'unknown_domain',
        todoId: 'b',
        message: 'todo "b" has unknown domain "weird" (known: data, ops)',
      },
      { code: 'unknown_tool', todoId: 'b', message: 'todo "b" uses unknown tool "nope"' },
    ]);
  });

  it('passes the whole todo, references included, to validateToolInput', () => {
    const seen: Todo[] = [];
    findPlanIssues([todo('a'), todo('b', ['a'], { input: { x: ref('a') } })], {
      validateToolInput: (t) => {
        seen.push(t);
        return [];
      },
    });
    expect(seen.map((t) => t.input)).toEqual([{}, { x: { $ref: 'a' } }]);
  });

  it('handles a 10,000-todo chain and a 10,000-todo cycle without overflowing the stack', () => {
    const n = 10_000;
    const chain = Array.from({ length: n }, (_, i) => todo(`t${i}`, i === 0 ? [] : [`t${i - 1}`]));
    expect(findPlanIssues(chain)).toEqual([]);
    expect(topologicalOrder([...chain].reverse())).toEqual(chain.map((t) => t.id));
    const cycle = Array.from({ length: n }, (_, i) => todo(`t${i}`, [`t${(i + 1) % n}`]));
    const issues = findPlanIssues(cycle);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toHaveLength(n + 1);
    expect(issues[0]?.path?.[0]).toBe('t0');
    expect(issues[0]?.path?.[n]).toBe('t0');
  });

  it('reports no issue for random DAGs, and a cycle once a back edge is added', () => {
    fc.assert(
      fc.property(dagArbitrary(), (todos) => {
        expect(findPlanIssues(todos)).toEqual([]);
        // t0 has no dependencies; a todo with a dependency gets t0 → it, closing a cycle iff reachable.
        const withDep = todos.find((t) => t.dependsOn.length > 0);
        if (withDep === undefined) return;
        const cyclic = todos.map((t) =>
          t.id === withDep.dependsOn[0] ? { ...t, dependsOn: [...t.dependsOn, withDep.id] } : t,
        );
        const issues = findPlanIssues(cyclic);
        expect(issues.map((i) => i.code)).toEqual(['cycle']);
        const path = issues[0]?.path ?? [];
        // Every step of the reported path is a real dependency edge.
        const deps = new Map(cyclic.map((t) => [t.id, t.dependsOn]));
        for (let i = 0; i + 1 < path.length; i++) expect(deps.get(path[i]!)).toContain(path[i + 1]);
        expect(path[0]).toBe(path[path.length - 1]);
      }),
      { numRuns: 150 },
    );
  });
});

describe('validatePlan', () => {
  it('throws INVALID_PLAN with the first message, the count and all issues', () => {
    const todos = [todo('a', ['a']), todo('b', ['x']), todo('c', ['y'])];
    let caught: unknown;
    try {
      validatePlan(todos);
    } catch (e) {
      caught = e;
    }
    expect(isDreamAgentError(caught, 'INVALID_PLAN')).toBe(true);
    if (!isDreamAgentError(caught)) return;
    expect(caught.message).toBe('invalid plan: todo "a" depends on itself (and 2 more issues)');
    expect(caught.details['issues']).toHaveLength(3);
  });

  it('says nothing about more issues when there is one', () => {
    expect(() => validatePlan([todo('a', ['b']), todo('b', ['a'])])).toThrow(
      /^invalid plan: dependency cycle: a → b → a$/,
    );
  });
});

describe('topologicalOrder', () => {
  it('keeps plan order when it already respects dependencies', () => {
    expect(topologicalOrder([todo('c'), todo('a'), todo('b', ['a'])])).toEqual(['c', 'a', 'b']);
  });

  it('always takes the ready todo earliest in plan order', () => {
    expect(
      topologicalOrder([todo('d', ['b', 'c']), todo('b', ['a']), todo('c', ['a']), todo('a'), todo('e')]),
    ).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('throws INVALID_PLAN for cycles but ignores references', () => {
    expect(() => topologicalOrder([todo('a', ['b']), todo('b', ['a'])])).toThrow(/dependency cycle/);
    expect(topologicalOrder([todo('a', [], { input: { x: ref('zz') } })])).toEqual(['a']);
  });

  it('puts every todo after its dependencies (random DAGs)', () => {
    fc.assert(
      fc.property(dagArbitrary(), (todos) => {
        const order = topologicalOrder(todos);
        expect([...order].sort()).toEqual(todos.map((t) => t.id).sort());
        const pos = new Map(order.map((id, i) => [id, i]));
        for (const t of todos) for (const d of t.dependsOn) expect(pos.get(d)!).toBeLessThan(pos.get(t.id)!);
      }),
      { numRuns: 100 },
    );
  });
});
