import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  allTerminal,
  blockedByFailure,
  isTerminal,
  readyTodos,
  resourceClass,
  selectWithLimits,
} from '../../src/dag/scheduler.js';
import type { Todo } from '../../src/model/plan.js';
import { TODO_STATUSES, type TodoStatus } from '../../src/model/session.js';
import { dagArbitrary, todo } from './helpers.js';

const ids = (todos: readonly Todo[]): string[] => todos.map((t) => t.id);
const states = (entries: Record<string, TodoStatus>): Map<string, TodoStatus> =>
  new Map(Object.entries(entries));

describe('isTerminal / allTerminal', () => {
  it('treats exactly completed, failed and skipped as terminal', () => {
    expect(TODO_STATUSES.filter(isTerminal)).toEqual(['completed', 'failed', 'skipped']);
  });

  it('is true only when every todo is terminal (missing = pending)', () => {
    const todos = [todo('a'), todo('b')];
    expect(allTerminal([], new Map())).toBe(true);
    expect(allTerminal(todos, states({ a: 'completed' }))).toBe(false);
    expect(allTerminal(todos, states({ a: 'completed', b: 'skipped' }))).toBe(true);
  });
});

describe('readyTodos', () => {
  const plan = [todo('c', ['a', 'b']), todo('a'), todo('b', ['a']), todo('d'), todo('e', ['x'])];
  it.each<[string, Record<string, TodoStatus>, string[]]>([
    ['nothing started', {}, ['a', 'd']],
    ['a done', { a: 'completed' }, ['b', 'd']],
    ['a running', { a: 'running' }, ['d']],
    ['approved counts as startable', { a: 'completed', b: 'approved' }, ['b', 'd']],
    ['awaiting approval is not ready', { a: 'awaiting_approval' }, ['d']],
    ['a failed', { a: 'failed' }, ['d']],
    ['all deps done', { a: 'completed', b: 'completed', d: 'completed' }, ['c']],
    ['unknown dependency never satisfied', { x: 'completed' }, ['a', 'd', 'e']],
  ])('%s', (_name, s, expected) => {
    expect(ids(readyTodos(plan, states(s)))).toEqual(expected);
  });

  it('follows plan order (a reorder changes the order of independent todos)', () => {
    expect(ids(readyTodos([todo('x'), todo('y'), todo('z')], new Map()))).toEqual(['x', 'y', 'z']);
    expect(ids(readyTodos([todo('z'), todo('x'), todo('y')], new Map()))).toEqual(['z', 'x', 'y']);
  });

  it('property: exactly the startable todos whose deps completed, in plan order', () => {
    fc.assert(
      fc.property(
        dagArbitrary(40).chain((todos) =>
          fc.tuple(
            fc.constant(todos),
            fc.array(fc.constantFrom(...TODO_STATUSES), { minLength: todos.length, maxLength: todos.length }),
          ),
        ),
        ([todos, statuses]) => {
          const s = new Map(todos.map((t, i) => [t.id, statuses[i]!]));
          const ready = readyTodos(todos, s);
          // A subsequence of the plan (plan order), with the right members.
          const expected = todos.filter(
            (t) =>
              (s.get(t.id) === 'pending' || s.get(t.id) === 'approved') &&
              t.dependsOn.every((d) => s.get(d) === 'completed'),
          );
          expect(ids(ready)).toEqual(ids(expected));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('blockedByFailure', () => {
  const plan = [
    todo('a'),
    todo('b', ['a']),
    todo('c', ['b']),
    todo('d'),
    todo('e', ['d', 'c']),
    todo('f', ['d']),
  ];
  it.each<[string, Record<string, TodoStatus>, string[]]>([
    ['no failure', { a: 'completed' }, []],
    ['transitive failure', { a: 'failed' }, ['b', 'c', 'e']],
    ['skipped blocks too', { d: 'skipped' }, ['e', 'f']],
    ['terminal dependents are not listed', { a: 'failed', b: 'skipped' }, ['c', 'e']],
    ['a completed todo stops propagation', { a: 'failed', b: 'completed' }, []],
    ['running todos are listed', { a: 'failed', b: 'running' }, ['b', 'c', 'e']],
  ])('%s', (_name, s, expected) => {
    expect(ids(blockedByFailure(plan, states(s)))).toEqual(expected);
  });
});

describe('selectWithLimits', () => {
  const t = (id: string, domain: string, resource?: string): Todo =>
    todo(id, [], resource === undefined ? { domain } : { domain, resource });

  it('respects global concurrency, keeping plan order', () => {
    const ready = [t('a', 'data'), t('b', 'data'), t('c', 'data')];
    expect(ids(selectWithLimits(ready, [], { concurrency: 2 }))).toEqual(['a', 'b']);
    expect(ids(selectWithLimits(ready, [t('r', 'data')], { concurrency: 2 }))).toEqual(['a']);
    expect(ids(selectWithLimits(ready, [t('r', 'x'), t('s', 'x')], { concurrency: 2 }))).toEqual([]);
    expect(ids(selectWithLimits(ready, [], { concurrency: Infinity }))).toEqual(['a', 'b', 'c']);
  });

  it('respects resource classes (resource, else domain) and lets other classes pass', () => {
    const ready = [t('a', 'insight', 'llm'), t('b', 'content', 'llm'), t('c', 'data'), t('d', 'data')];
    expect(resourceClass(ready[0]!)).toBe('llm');
    expect(resourceClass(ready[2]!)).toBe('data');
    expect(ids(selectWithLimits(ready, [], { concurrency: 4, resources: { llm: 1 } }))).toEqual([
      'a',
      'c',
      'd',
    ]);
    expect(
      ids(selectWithLimits(ready, [t('r', 'x', 'llm')], { concurrency: 4, resources: { llm: 1, data: 1 } })),
    ).toEqual(['c']);
  });

  it('never selects a todo that is already running', () => {
    const a = t('a', 'data');
    expect(selectWithLimits([a], [a], { concurrency: 4 })).toEqual([]);
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects concurrency %s with INVALID_INPUT', (concurrency) => {
    expect(() => selectWithLimits([], [], { concurrency })).toThrow(
      `concurrency must be a positive integer or Infinity, got ${String(concurrency)} (number)`,
    );
  });

  it('rejects a zero resource limit, naming it', () => {
    expect(() => selectWithLimits([], [], { concurrency: 1, resources: { llm: 0 } })).toThrow(
      'resources.llm must be a positive integer or Infinity, got 0 (number)',
    );
  });
});
