import type { Todo } from '../model/plan.js';
import type { TodoStatus } from '../model/session.js';

/**
 * An incremental view of {@link readyTodos} for the engine's hot loop: it keeps, for every todo, the
 * number of dependencies not yet completed, so finding the ready set costs O(ready + completed edges)
 * per cycle instead of a scan of the whole plan. Same answer as `readyTodos` (plan order, statuses
 * `pending` or `approved`, every dependency `completed`) — a property test checks it.
 */
export class ReadyIndex {
  readonly #order = new Map<string, number>();
  readonly #byId = new Map<string, Todo>();
  readonly #dependents = new Map<string, string[]>();
  readonly #missing = new Map<string, number>();
  /** Todos whose dependencies are all completed (they may still be running or finished). */
  readonly #unblocked = new Set<string>();
  readonly #completed = new Set<string>();

  /**
   * @param todos - the plan's todos (validated: no cycles, no unknown dependencies)
   * @param status - the current status of a todo (undefined reads as `pending`)
   */
  constructor(todos: readonly Todo[], status: (id: string) => TodoStatus | undefined) {
    todos.forEach((t, i) => {
      this.#order.set(t.id, i);
      this.#byId.set(t.id, t);
      for (const d of t.dependsOn) {
        const list = this.#dependents.get(d) ?? [];
        list.push(t.id);
        this.#dependents.set(d, list);
      }
    });
    for (const t of todos) if (status(t.id) === 'completed') this.#completed.add(t.id);
    for (const t of todos) {
      const missing = t.dependsOn.filter((d) => !this.#completed.has(d)).length;
      this.#missing.set(t.id, missing);
      if (missing === 0) this.#unblocked.add(t.id);
    }
  }

  /**
   * Records that a todo completed (idempotent).
   *
   * @param id - the todo
   */
  completed(id: string): void {
    if (this.#completed.has(id) || !this.#byId.has(id)) return;
    this.#completed.add(id);
    this.#unblocked.delete(id);
    for (const dep of this.#dependents.get(id) ?? []) {
      const left = (this.#missing.get(dep) ?? 1) - 1;
      this.#missing.set(dep, left);
      if (left === 0) this.#unblocked.add(dep);
    }
  }

  /**
   * @param status - the current status of a todo
   * @returns the ready todos in plan order
   */
  ready(status: (id: string) => TodoStatus | undefined): Todo[] {
    const out: Todo[] = [];
    for (const id of this.#unblocked) {
      const s = status(id) ?? 'pending';
      if (s === 'completed' || s === 'failed' || s === 'skipped') {
        this.#unblocked.delete(id); // finished: never ready again
        continue;
      }
      if (s === 'pending' || s === 'approved') out.push(this.#byId.get(id) as Todo);
    }
    return out.sort((a, b) => (this.#order.get(a.id) ?? 0) - (this.#order.get(b.id) ?? 0));
  }

  /** @returns the todo with this id */
  get(id: string): Todo | undefined {
    return this.#byId.get(id);
  }
}
