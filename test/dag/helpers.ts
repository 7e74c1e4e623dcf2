import fc from 'fast-check';
import type { Json } from '../../src/model/json.js';
import type { Todo } from '../../src/model/plan.js';

/** A todo with defaults, for tables. */
export function todo(id: string, dependsOn: string[] = [], extra: Partial<Todo> = {}): Todo {
  return { id, title: `Todo ${id}`, domain: 'data', input: {}, dependsOn, ...extra };
}

/** A reference value, typed as Json for inputs. */
export function ref(id: string, path?: string): Json {
  return path === undefined ? { $ref: id } : { $ref: id, path };
}

/**
 * Random DAGs: node i may only depend on nodes with a smaller index (so the graph is acyclic), then
 * the plan order is shuffled so it is generally NOT a topological order.
 */
export const dagArbitrary = (maxSize = 60): fc.Arbitrary<Todo[]> =>
  fc
    .integer({ min: 1, max: maxSize })
    .chain((n) =>
      fc.tuple(
        fc.tuple(
          ...Array.from({ length: n }, (_, i) =>
            fc.record({
              deps: fc.subarray(
                Array.from({ length: i }, (_, j) => j),
                { maxLength: Math.min(4, i) },
              ),
              domain: fc.constantFrom('data', 'insight', 'ops'),
              resource: fc.option(fc.constantFrom('db', 'llm'), { nil: undefined }),
            }),
          ),
        ),
        fc.shuffledSubarray(
          Array.from({ length: n }, (_, i) => i),
          { minLength: n, maxLength: n },
        ),
      ),
    )
    .map(([nodes, permutation]) =>
      permutation.map((i) => {
        const node = nodes[i]!;
        return todo(
          `t${i}`,
          node.deps.map((j) => `t${j}`),
          node.resource === undefined
            ? { domain: node.domain }
            : { domain: node.domain, resource: node.resource },
        );
      }),
    );
