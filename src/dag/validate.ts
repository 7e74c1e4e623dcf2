/**
 * Plan validation: the checks every plan passes before it is shown, approved or run, whoever wrote it
 * (a recipe, an LLM, or a human edit). All checks are iterative so that a 10,000-todo chain cannot
 * overflow the stack, and the issue order is deterministic so that error messages and tests are stable.
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../errors/index.js';
import type { Todo } from '../model/plan.js';
import { planJsonBounds } from '../model/fast-parse.js';
import { collectRefs } from './refs.js';

/** The kinds of problems {@link findPlanIssues} reports. */
export type PlanIssueCode =
  | 'duplicate_id'
  | 'unknown_dependency'
  | 'self_dependency'
  | 'cycle'
  | 'unknown_domain'
  | 'unknown_tool'
  | 'bad_reference'
  | 'invalid_input'
  | 'plan_too_large';

/** One problem found in a plan. */
export interface PlanValidationIssue {
  /** What kind of problem it is. */
  code: PlanIssueCode;
  /** The todo it concerns (for cycles: the first todo of the cycle in plan order). */
  todoId?: string;
  /** A human-readable message naming the todo(s) involved. */
  message: string;
  /** For cycles: the cycle path, first id repeated at the end, e.g. `['a', 'b', 'c', 'a']`. */
  path?: string[];
  /** For `plan_too_large`: which limit was passed, its maximum and the plan's value. */
  limit?: {
    /** The limit passed, e.g. `maxPlanTodos`. */
    name: keyof PlanSizeLimits;
    /** Its configured maximum. */
    max: number;
    /** The plan's value (todos, or bytes of JSON). */
    actual: number;
  };
}

/**
 * Size limits on one plan, checked on every plan a planner writes and after every `plan.edit` (see
 * `AgentOptions.limits`). A plan past any of them is refused whole; nothing is stored.
 */
export interface PlanSizeLimits {
  /** Todos in one plan. */
  maxPlanTodos?: number;
  /** Bytes of JSON of one todo's `input`. */
  maxTodoInputBytes?: number;
  /** Bytes of JSON of the plan's todos together. */
  maxPlanBytes?: number;
}

/** Optional checks that need knowledge outside the plan (executors, tool registry). */
export interface PlanValidationOptions {
  /** The executor domains available; when given, a todo with another domain is `unknown_domain`. */
  domains?: readonly string[];
  /** Whether a tool is registered; when given, a todo naming an unregistered tool is `unknown_tool`. */
  hasTool?: (name: string) => boolean;
  /**
   * Checks a todo's input (typically against its tool's schema); every returned message becomes an
   * `invalid_input` issue. It receives the whole todo, references included: it decides how to treat
   * `{ $ref }` values whose types are only known at run time.
   */
  validateToolInput?: (todo: Todo) => string[];
  /** Size limits; a plan past one gets a `plan_too_large` issue (per todo for `maxTodoInputBytes`). */
  limits?: PlanSizeLimits;
}

/**
 * Finds every problem in a list of todos: duplicate ids, dependencies on unknown ids,
 * self-dependencies, cycles (one per strongly connected component, with its path), unknown domains
 * and tools (when the options allow checking them), output references to todos that are not
 * dependencies, and invalid tool inputs.
 *
 * With `options.limits`, a plan past a size limit gets `plan_too_large` issues first.
 *
 * Order is deterministic: size issues, then per-todo issues in plan order (for one todo: duplicate id, dependencies,
 * domain, tool, references, input), then cycles ordered by their first todo in plan order.
 *
 * @param todos - the todos, in plan order
 * @param options - optional domain, tool and input checks
 * @returns all issues; empty when the plan is valid
 * @example
 * ```ts
 * findPlanIssues([{ ...todo, id: 'a', dependsOn: ['a'] }]);
 * // [{ code: 'self_dependency', todoId: 'a', message: 'todo "a" depends on itself' }]
 * ```
 */
export function findPlanIssues(
  todos: readonly Todo[],
  options: PlanValidationOptions = {},
): PlanValidationIssue[] {
  const issues: PlanValidationIssue[] = options.limits ? sizeIssues(todos, options.limits) : [];
  const ids = new Set<string>();
  for (const todo of todos) ids.add(todo.id);
  const domains = options.domains === undefined ? undefined : new Set(options.domains);

  const seen = new Set<string>();
  for (const todo of todos) {
    const id = todo.id;
    if (seen.has(id)) {
      issues.push({ code: 'duplicate_id', todoId: id, message: `duplicate todo id "${id}"` });
    }
    seen.add(id);

    for (const dep of todo.dependsOn) {
      if (dep === id) {
        issues.push({ code: 'self_dependency', todoId: id, message: `todo "${id}" depends on itself` });
      } else if (!ids.has(dep)) {
        issues.push({
          code: 'unknown_dependency',
          todoId: id,
          message: `todo "${id}" depends on unknown todo "${dep}"`,
        });
      }
    }

    if (domains !== undefined && !domains.has(todo.domain)) {
      issues.push({
        code: 'unknown_domain',
        todoId: id,
        message: `todo "${id}" has unknown domain "${todo.domain}" (known: ${[...domains].join(', ') || 'none'})`,
      });
    }

    if (options.hasTool !== undefined && todo.tool !== undefined && !options.hasTool(todo.tool)) {
      issues.push({
        code: 'unknown_tool',
        todoId: id,
        message: `todo "${id}" uses unknown tool "${todo.tool}"`,
      });
    }

    const deps = new Set(todo.dependsOn);
    for (const ref of collectRefs(todo.input)) {
      if (ref.$ref === id) {
        issues.push({ code: 'bad_reference', todoId: id, message: `todo "${id}" references its own output` });
      } else if (!deps.has(ref.$ref)) {
        issues.push({
          code: 'bad_reference',
          todoId: id,
          message: `todo "${id}" references the output of "${ref.$ref}", which is not one of its dependencies`,
        });
      }
    }

    if (options.validateToolInput !== undefined) {
      for (const message of options.validateToolInput(todo)) {
        issues.push({
          code: 'invalid_input',
          todoId: id,
          message: `todo "${id}" has invalid input: ${message}`,
        });
      }
    }
  }

  for (const path of findCycles(todos)) {
    issues.push({
      code: 'cycle',
      todoId: path[0] as string,
      message: `dependency cycle: ${path.join(' → ')}`,
      path,
    });
  }
  return issues;
}

const byteLength = (value: unknown): number => Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');

/** The `plan_too_large` issues of a plan: the whole-plan limits first, then oversized inputs in plan order. */
function sizeIssues(todos: readonly Todo[], limits: PlanSizeLimits): PlanValidationIssue[] {
  const out: PlanValidationIssue[] = [];
  const { maxPlanTodos, maxTodoInputBytes, maxPlanBytes } = limits;
  if (maxPlanTodos !== undefined && todos.length > maxPlanTodos) {
    out.push({
      code: 'plan_too_large',
      message: `the plan has ${todos.length} todos; at most ${maxPlanTodos} are allowed`,
      limit: { name: 'maxPlanTodos', max: maxPlanTodos, actual: todos.length },
    });
    return out; // the byte checks would only say the same thing, at a cost
  }
  // A draft the fast path parsed comes with upper bounds of its size: well inside the limits, nothing
  // needs measuring (serialising every todo cost more than validating the plan).
  const bounds = planJsonBounds(todos);
  if (
    bounds !== undefined &&
    (maxPlanBytes === undefined || bounds.total <= maxPlanBytes) &&
    (maxTodoInputBytes === undefined || bounds.largest <= maxTodoInputBytes)
  )
    return out;
  let total = 0;
  for (const todo of todos) {
    const size = byteLength(todo);
    total += size;
    if (maxTodoInputBytes !== undefined && size > maxTodoInputBytes) {
      const input = byteLength(todo.input);
      if (input > maxTodoInputBytes) {
        out.push({
          code: 'plan_too_large',
          todoId: todo.id,
          message: `todo "${todo.id}" has ${input} bytes of input; at most ${maxTodoInputBytes} are allowed`,
          limit: { name: 'maxTodoInputBytes', max: maxTodoInputBytes, actual: input },
        });
      }
    }
  }
  total += Math.max(0, todos.length - 1) + 2; // the array's commas and brackets
  if (maxPlanBytes !== undefined && total > maxPlanBytes) {
    out.unshift({
      code: 'plan_too_large',
      message: `the plan's todos take ${total} bytes of JSON; at most ${maxPlanBytes} are allowed`,
      limit: { name: 'maxPlanBytes', max: maxPlanBytes, actual: total },
    });
  }
  return out;
}

/**
 * Validates a plan and throws when it has any issue.
 *
 * @param todos - the todos, in plan order
 * @param options - optional domain, tool and input checks
 * @throws DreamAgentError `INVALID_PLAN` with the first issue's message (and how many more there are)
 *   and every issue in `details.issues`.
 * @example
 * ```ts
 * try { validatePlan(plan.todos, { hasTool: (n) => registry.has(n) }); }
 * catch (e) { if (isDreamAgentError(e, 'INVALID_PLAN')) console.log(e.details.issues); }
 * ```
 */
export function validatePlan(todos: readonly Todo[], options?: PlanValidationOptions): void {
  throwIfIssues(findPlanIssues(todos, options));
}

function throwIfIssues(issues: PlanValidationIssue[]): void {
  const first = issues[0];
  if (first === undefined) return;
  const more = issues.length - 1;
  const suffix = more === 0 ? '' : ` (and ${more} more issue${more === 1 ? '' : 's'})`;
  throw new DreamAgentError('INVALID_PLAN', `invalid plan: ${first.message}${suffix}`, {
    details: { issues },
  });
}

/**
 * Orders todo ids so that every todo comes after its dependencies. Stable: whenever several todos
 * could come next, the one earliest in plan order wins, so a plan already in dependency order is
 * returned unchanged.
 *
 * @param todos - the todos, in plan order
 * @returns the ids in a dependency-respecting order
 * @throws DreamAgentError `INVALID_PLAN` when the graph is not a DAG (duplicate ids, unknown or
 *   self dependencies, cycles). Domains, tools and references are not checked here.
 * @example
 * ```ts
 * topologicalOrder([b (dependsOn a), a, c]); // ['a', 'b', 'c']
 * ```
 */
export function topologicalOrder(todos: readonly Todo[]): string[] {
  throwIfIssues(
    findPlanIssues(todos).filter(
      (i) =>
        i.code === 'duplicate_id' ||
        i.code === 'unknown_dependency' ||
        i.code === 'self_dependency' ||
        i.code === 'cycle',
    ),
  );
  const index = new Map<string, number>();
  todos.forEach((t, i) => index.set(t.id, i));
  const indegree = todos.map((t) => new Set(t.dependsOn).size);
  const dependents: number[][] = todos.map(() => []);
  todos.forEach((t, i) => {
    for (const dep of new Set(t.dependsOn)) dependents[index.get(dep) as number]?.push(i);
  });
  // A min-heap on plan index: "earliest ready todo first" in O(n log n), which matters for big plans.
  const heap = new MinHeap();
  indegree.forEach((d, i) => {
    if (d === 0) heap.push(i);
  });
  const order: string[] = [];
  while (heap.size > 0) {
    const i = heap.pop();
    order.push((todos[i] as Todo).id);
    for (const j of dependents[i] as number[]) {
      const left = (indegree[j] as number) - 1;
      indegree[j] = left;
      if (left === 0) heap.push(j);
    }
  }
  return order;
}

/** A binary min-heap of numbers. */
class MinHeap {
  private readonly items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  push(value: number): void {
    const a = this.items;
    a.push(value);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((a[parent] as number) <= value) break;
      a[i] = a[parent] as number;
      i = parent;
    }
    a[i] = value;
  }

  pop(): number {
    const a = this.items;
    const top = a[0] as number;
    const last = a.pop() as number;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        let mv = last;
        if (l < a.length && (a[l] as number) < mv) {
          m = l;
          mv = a[l] as number;
        }
        if (r < a.length && (a[r] as number) < mv) m = r;
        if (m === i) break;
        a[i] = a[m] as number;
        i = m;
      }
      a[i] = last;
    }
    return top;
  }
}

/**
 * Finds one cycle per non-trivial strongly connected component (iterative Tarjan), so a plan with
 * two independent cycles reports both, but a dense component is reported once rather than with
 * exponentially many cycles. Self-loops and unknown ids are left out: they have their own issue codes.
 *
 * @returns cycle paths (first id repeated at the end), ordered by the plan index of their first id
 */
function findCycles(todos: readonly Todo[]): string[][] {
  // Nodes are unique ids (first occurrence sets the plan index); edges go todo → dependency.
  const index = new Map<string, number>();
  const names: string[] = [];
  for (const t of todos) {
    if (!index.has(t.id)) {
      index.set(t.id, names.length);
      names.push(t.id);
    }
  }
  const n = names.length;
  const edges: number[][] = names.map(() => []);
  // A plan whose every dependency comes earlier in the list (what planners write) has no cycle: no
  // search needed.
  let backwardOnly = true;
  for (const t of todos) {
    const from = index.get(t.id) as number;
    for (const dep of t.dependsOn) {
      const to = index.get(dep);
      if (to !== undefined && to !== from && !(edges[from] as number[]).includes(to)) {
        (edges[from] as number[]).push(to);
        if (to > from) backwardOnly = false;
      }
    }
  }
  if (backwardOnly) return [];

  const order = new Array<number>(n).fill(-1);
  const low = new Array<number>(n).fill(0);
  const onStack = new Array<boolean>(n).fill(false);
  const sccStack: number[] = [];
  const components: number[][] = [];
  let counter = 0;

  for (let root = 0; root < n; root++) {
    if (order[root] !== -1) continue;
    // Each frame is [node, next edge position]: the explicit call stack of a recursive Tarjan.
    const frames: [number, number][] = [[root, 0]];
    order[root] = low[root] = counter++;
    sccStack.push(root);
    onStack[root] = true;
    while (frames.length > 0) {
      const frame = frames[frames.length - 1] as [number, number];
      const [v, pos] = frame;
      const out = edges[v] as number[];
      if (pos < out.length) {
        frame[1] = pos + 1;
        const w = out[pos] as number;
        if (order[w] === -1) {
          order[w] = low[w] = counter++;
          sccStack.push(w);
          onStack[w] = true;
          frames.push([w, 0]);
        } else if (onStack[w]) {
          low[v] = Math.min(low[v] as number, order[w] as number);
        }
        continue;
      }
      frames.pop();
      const parent = frames[frames.length - 1];
      if (parent !== undefined) low[parent[0]] = Math.min(low[parent[0]] as number, low[v] as number);
      if (low[v] === order[v]) {
        const component: number[] = [];
        let w: number;
        do {
          w = sccStack.pop() as number;
          onStack[w] = false;
          component.push(w);
        } while (w !== v);
        if (component.length > 1) components.push(component);
      }
    }
  }

  const cycles = components.map((component) =>
    cycleThrough(Math.min(...component), new Set(component), edges),
  );
  cycles.sort((a, b) => (a[0] as number) - (b[0] as number));
  return cycles.map((cycle) => cycle.map((i) => names[i] as string));
}

/**
 * The shortest cycle through `start` inside one strongly connected component (breadth-first, edges
 * in dependsOn order, so the result is deterministic).
 */
function cycleThrough(start: number, members: ReadonlySet<number>, edges: readonly number[][]): number[] {
  const previous = new Map<number, number>([[start, -1]]);
  const queue: number[] = [start];
  for (let head = 0; head < queue.length; head++) {
    const v = queue[head] as number;
    for (const w of edges[v] as number[]) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path: number[] = [start];
        for (let u = v; u !== start; u = previous.get(u) as number) path.push(u);
        path.push(start);
        // path walks predecessors backwards (start, v, …, s1, start); flip the middle to follow edges.
        return [start, ...path.slice(1, -1).reverse(), start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  // Unreachable for a real SCC of size > 1; kept so the function is total.
  return [start, start];
}
