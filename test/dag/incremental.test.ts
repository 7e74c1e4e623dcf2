import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReadyIndex } from '../../src/dag/incremental.js';
import { readyTodos } from '../../src/dag/scheduler.js';
import type { Todo } from '../../src/model/plan.js';
import type { TodoStatus } from '../../src/model/session.js';
import { dagArbitrary, todo } from './helpers.js';

const ids = (todos: readonly Todo[]): string[] => todos.map((t) => t.id);

/** One engine-like step over the statuses, chosen by `pick` (a number in [0, 1)). */
type Action =
  'start' | 'gate' | 'approve' | 'complete' | 'completeAll' | 'fail' | 'skip' | 'rebuild' | 'peek';
const action = fc.record({
  kind: fc.constantFrom<Action>(
    'start',
    'start',
    'start',
    'start',
    'gate',
    'approve',
    'complete',
    'complete',
    'completeAll',
    'fail',
    'skip',
    'rebuild',
    'peek',
  ),
  pick: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  limit: fc.integer({ min: 0, max: 5 }),
});

describe('ReadyIndex', () => {
  it('property: the same answer as the pure scheduler over random DAGs, statuses and completion orders', () => {
    fc.assert(
      fc.property(dagArbitrary(40), fc.array(action, { maxLength: 150 }), (todos, actions) => {
        const states = new Map<string, TodoStatus>();
        const status = (id: string): TodoStatus | undefined => states.get(id);
        let index = new ReadyIndex(todos, status);
        const choose = <T>(list: readonly T[], pick: number): T | undefined =>
          list[Math.floor(pick * list.length)];
        const inStatus = (s: TodoStatus): Todo[] => todos.filter((t) => states.get(t.id) === s);
        for (const a of actions) {
          const expected = ids(readyTodos(todos, states));
          expect(ids(index.ready(status))).toEqual(expected);
          expect(ids(index.ready(status, a.limit))).toEqual(expected.slice(0, a.limit));
          switch (a.kind) {
            case 'start':
            case 'gate': {
              const t = choose(readyTodos(todos, states), a.pick);
              if (t) states.set(t.id, a.kind === 'start' ? 'running' : 'awaiting_approval');
              break;
            }
            case 'approve': {
              const t = choose(inStatus('awaiting_approval'), a.pick);
              if (t) states.set(t.id, 'approved');
              break;
            }
            case 'complete':
            case 'fail': {
              const t = choose(inStatus('running'), a.pick);
              if (!t) break;
              states.set(t.id, a.kind === 'complete' ? 'completed' : 'failed');
              if (a.kind === 'complete') index.completed(t.id);
              break;
            }
            case 'completeAll': {
              // Several completions land between two reads (concurrency > 1): last in plan order first,
              // or rotated, so dependents are unblocked out of plan order.
              const running = inStatus('running');
              const k = Math.floor(a.pick * running.length);
              const order = a.pick < 0.5 ? running.reverse() : [...running.slice(k), ...running.slice(0, k)];
              for (const t of order) {
                states.set(t.id, 'completed');
                index.completed(t.id);
              }
              break;
            }
            case 'skip': {
              const t = choose(inStatus('pending').concat(inStatus('awaiting_approval')), a.pick);
              if (t) states.set(t.id, 'skipped');
              break;
            }
            case 'rebuild':
              index = new ReadyIndex(todos, status); // what the engine does when the plan changes
              break;
            case 'peek': {
              // A lazy read stopped early leaves the index intact.
              const it = index.iterate(status);
              it.next();
              it.return();
              break;
            }
          }
        }
        expect(ids(index.ready(status))).toEqual(ids(readyTodos(todos, states)));
      }),
      { numRuns: 300 },
    );
  });

  it('property: the same answer when many completions land between reads, in any order', () => {
    fc.assert(
      fc.property(
        dagArbitrary(60),
        fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 60, maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 10 }),
        (todos, keys, batches) => {
          const states = new Map<string, TodoStatus>();
          const status = (id: string): TodoStatus | undefined => states.get(id);
          const index = new ReadyIndex(todos, status);
          const rank = new Map(todos.map((t, i) => [t.id, keys[i] ?? 0]));
          for (let round = 0; round < 200; round += 1) {
            const ready = readyTodos(todos, states);
            expect(ids(index.ready(status))).toEqual(ids(ready));
            for (const t of ready) states.set(t.id, 'running'); // unbounded concurrency
            const running = todos
              .filter((t) => states.get(t.id) === 'running')
              .sort((a, b) => (rank.get(a.id) ?? 0) - (rank.get(b.id) ?? 0));
            if (running.length === 0) break;
            for (const t of running.slice(0, batches[round % batches.length])) {
              states.set(t.id, 'completed');
              index.completed(t.id);
            }
          }
          expect(todos.every((t) => states.get(t.id) === 'completed')).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('is idempotent on completed() and ignores unknown ids', () => {
    const todos = [todo('a'), todo('b', ['a']), todo('c', ['a', 'b'])];
    const states = new Map<string, TodoStatus>([['a', 'completed']]);
    const index = new ReadyIndex(todos, (id) => states.get(id));
    index.completed('a');
    index.completed('a');
    index.completed('nope');
    expect(ids(index.ready((id) => states.get(id)))).toEqual(['b']);
    states.set('b', 'completed');
    index.completed('b');
    index.completed('b');
    expect(ids(index.ready((id) => states.get(id)))).toEqual(['c']);
    expect(index.get('c')?.id).toBe('c');
  });

  it('yields in plan order even when completions unblock todos out of order', () => {
    // Plan order z, y, x, r; each of z, y, x waits on its own root, and the roots finish in reverse.
    const todos = [
      todo('z', ['rz']),
      todo('y', ['ry']),
      todo('x', ['rx']),
      todo('rx'),
      todo('ry'),
      todo('rz'),
    ];
    const states = new Map<string, TodoStatus>();
    const status = (id: string): TodoStatus | undefined => states.get(id);
    const index = new ReadyIndex(todos, status);
    for (const r of ['rx', 'ry']) {
      states.set(r, 'completed');
      index.completed(r);
    }
    expect(ids(index.ready(status))).toEqual(['y', 'x', 'rz']);
    states.set('rz', 'completed');
    index.completed('rz');
    expect(ids(index.ready(status))).toEqual(['z', 'y', 'x']);
  });

  it('stays correct when todos complete while an iteration is open, and when reads nest', () => {
    const todos = [todo('a'), todo('b'), todo('c', ['a']), todo('d', ['b'])];
    const states = new Map<string, TodoStatus>();
    const status = (id: string): TodoStatus | undefined => states.get(id);
    const index = new ReadyIndex(todos, status);
    const seen: string[] = [];
    for (const t of index.iterate(status)) {
      seen.push(t.id);
      states.set(t.id, 'completed'); // finishes "during an await" in the loop
      index.completed(t.id);
      expect(ids(index.ready(status))).toEqual(ids(readyTodos(todos, states))); // a nested read
    }
    expect(seen).toEqual(['a', 'b']);
    expect(ids(index.ready(status))).toEqual(['c', 'd']);
  });

  it('costs what changed, not the plan: a wide plan is read without touching every todo', () => {
    // Counted, not timed: how many status reads one cycle of a 4,000-wide plan makes.
    const todos = Array.from({ length: 4_000 }, (_, i) => todo(`t${i}`));
    const states = new Map<string, TodoStatus>();
    let reads = 0;
    const status = (id: string): TodoStatus | undefined => {
      reads += 1;
      return states.get(id);
    };
    const index = new ReadyIndex(todos, status);
    for (let i = 0; i < 4_000; i += 1) {
      reads = 0;
      const [next] = index.ready(status, 1);
      expect(next?.id).toBe(`t${i}`);
      expect(reads).toBeLessThanOrEqual(2); // the finished predecessor at most, then the next todo
      states.set(`t${i}`, 'completed');
      index.completed(`t${i}`);
    }
    expect(index.ready(status)).toEqual([]);
  });
});

describe('ReadyIndex.takeFresh', () => {
  it('property: every todo is fresh exactly once, when (and only after) it becomes unblocked, in plan order', () => {
    fc.assert(
      fc.property(
        dagArbitrary(60),
        fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 60, maxLength: 60 }),
        (todos, keys) => {
          const states = new Map<string, TodoStatus>();
          const index = new ReadyIndex(todos, (id) => states.get(id));
          const pos = new Map(todos.map((t, i) => [t.id, i]));
          const rank = new Map(todos.map((t, i) => [t.id, keys[i] ?? 0]));
          const seen: string[] = [];
          for (let round = 0; round < 200; round += 1) {
            const fresh = index.takeFresh();
            const order = fresh.map((t) => pos.get(t.id) ?? -1);
            expect(order).toEqual([...order].sort((a, b) => a - b));
            for (const t of fresh) {
              expect(t.dependsOn.every((d) => states.get(d) === 'completed')).toBe(true);
              seen.push(t.id);
            }
            const ready = readyTodos(todos, states).sort(
              (a, b) => (rank.get(a.id) ?? 0) - (rank.get(b.id) ?? 0),
            );
            const next = ready[0];
            if (!next) break;
            states.set(next.id, 'completed');
            index.completed(next.id);
          }
          expect(seen.sort()).toEqual(ids(todos).sort());
        },
      ),
      { numRuns: 200 },
    );
  });
});
