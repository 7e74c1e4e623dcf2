import type { Todo } from '../model/plan.js';
import type { TodoStatus } from '../model/session.js';

const isFinished = (s: TodoStatus): boolean => s === 'completed' || s === 'failed' || s === 'skipped';

/**
 * An incremental view of {@link readyTodos} for the engine's hot loop. Same answer as `readyTodos`
 * (plan order, status `pending` or `approved`, every dependency `completed`) — a property test drives
 * both over random DAGs and completion orders — at a cost proportional to what changed, not to the plan.
 *
 * Why: the first version kept a set of unblocked todos and filtered and sorted it on every cycle, so a
 * 4,000-wide plan paid for 4,000 todos per cycle (580 µs per todo against 98 µs at 100 wide). Now:
 * - each todo keeps a count of dependencies not yet completed; {@link completed} decrements only the
 *   dependents of the todo that finished, and enqueues those that reach zero;
 * - the queue of unblocked, unfinished todos is kept in plan order (new entries are appended when they
 *   come after the tail, which is what chains and fan-outs produce, and merged otherwise), so no cycle sorts;
 * - finished todos leave the queue lazily: a prefix is skipped by moving a head index, holes elsewhere
 *   are compacted once they outnumber the live entries (amortised O(1) per todo);
 * - {@link iterate} yields lazily, so a loop that needs one more todo stops after one, and pays only for
 *   the todos still running or waiting ahead of it in plan order.
 *
 * Statuses are read through the callback at each call, as before; a todo seen `failed` or `skipped`
 * leaves the index for good (the engine rebuilds the index when the plan changes). {@link completed}
 * may be called while an iteration is open (a todo finishing during an await in the loop).
 */
export class ReadyIndex {
  readonly #todos: readonly Todo[];
  readonly #pos = new Map<string, number>();
  /** Plan positions of each todo's dependents (duplicates kept: a repeated dependency counts twice). */
  readonly #dependents: number[][];
  /** Dependencies of each todo not yet completed. */
  readonly #missing: Int32Array;
  /** 1 once recorded completed (by {@link completed} or at construction). */
  readonly #done: Uint8Array;
  /** 1 while the todo is in {@link #queue} (unblocked, not seen finished). */
  readonly #queued: Uint8Array;
  /** Plan positions of unblocked todos not yet seen finished, ascending from {@link #head}. */
  #queue: number[] = [];
  #head = 0;
  /** Entries of the queue (after head) that are finished and wait to be dropped. */
  #dead = 0;
  /** Newly unblocked positions, merged into the queue at the next read. */
  #incoming: number[] = [];
  /** Iterations in progress (the queue is only reshaped when none is). */
  #open = 0;
  /** Positions that became unblocked since the last {@link takeFresh} (at construction: all unblocked). */
  #fresh: number[] = [];

  /**
   * @param todos - the plan's todos (validated: no cycles, no unknown dependencies)
   * @param status - the current status of a todo (undefined reads as `pending`)
   */
  constructor(todos: readonly Todo[], status: (id: string) => TodoStatus | undefined) {
    this.#todos = todos;
    const n = todos.length;
    this.#dependents = Array.from({ length: n }, () => []);
    this.#missing = new Int32Array(n);
    this.#done = new Uint8Array(n);
    this.#queued = new Uint8Array(n);
    todos.forEach((t, i) => this.#pos.set(t.id, i));
    todos.forEach((t, i) => {
      if (status(t.id) === 'completed') this.#done[i] = 1;
    });
    todos.forEach((t, i) => {
      let missing = 0;
      for (const d of t.dependsOn) {
        const j = this.#pos.get(d);
        if (j === undefined) {
          missing += 1; // an unknown dependency never completes
          continue;
        }
        (this.#dependents[j] as number[]).push(i);
        if (this.#done[j] === 0) missing += 1;
      }
      this.#missing[i] = missing;
      if (missing === 0 && this.#done[i] === 0) {
        this.#queue.push(i);
        this.#queued[i] = 1;
        this.#fresh.push(i);
      }
    });
  }

  /**
   * Records that a todo completed (idempotent). O(its dependents).
   *
   * @param id - the todo
   */
  completed(id: string): void {
    const i = this.#pos.get(id);
    if (i === undefined || this.#done[i] === 1) return;
    this.#done[i] = 1;
    if (this.#queued[i] === 1) {
      this.#queued[i] = 0;
      this.#dead += 1;
    }
    for (const j of this.#dependents[i] as number[]) {
      const left = (this.#missing[j] as number) - 1;
      this.#missing[j] = left;
      if (left === 0 && this.#done[j] === 0 && this.#queued[j] === 0) {
        this.#incoming.push(j);
        this.#fresh.push(j);
        this.#queued[j] = 1;
      }
    }
  }

  /**
   * The ready todos in plan order (all of them, or the first `limit`).
   *
   * @param status - the current status of a todo
   * @param limit - at most this many (default: all)
   * @returns the ready todos in plan order
   */
  ready(status: (id: string) => TodoStatus | undefined, limit = Infinity): Todo[] {
    const out: Todo[] = [];
    if (limit <= 0) return out;
    for (const t of this.iterate(status)) {
      out.push(t);
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * Yields the ready todos in plan order, lazily: stopping early costs nothing for the rest. Statuses
   * are read as each todo is reached, so a todo the caller starts while iterating is not yielded again.
   *
   * @param status - the current status of a todo
   * @returns an iterator over the ready todos, in plan order
   * @example
   * ```ts
   * for (const todo of index.iterate(statusOf)) { if (start(todo) && ++started === free) break; }
   * ```
   */
  *iterate(status: (id: string) => TodoStatus | undefined): Generator<Todo, void, undefined> {
    if (this.#open > 0) {
      // Called while another iteration is open (e.g. across an await): read without reshaping the queue.
      yield* this.#snapshot(status);
      return;
    }
    this.#settleQueue();
    this.#open += 1;
    try {
      const queue = this.#queue;
      for (let k = this.#head; k < queue.length; k += 1) {
        const i = queue[k] as number;
        if (this.#queued[i] === 0) {
          if (k === this.#head) this.#dropHead();
          continue;
        }
        const todo = this.#todos[i] as Todo;
        const s = status(todo.id) ?? 'pending';
        if (isFinished(s)) {
          this.#queued[i] = 0; // finished: never ready again
          if (k === this.#head) this.#head += 1;
          else this.#dead += 1;
          continue;
        }
        if (s === 'pending' || s === 'approved') yield todo;
      }
    } finally {
      this.#open -= 1;
    }
  }

  /**
   * The todos that became unblocked since the last call (all unblocked ones on the first call), in plan
   * order, whatever their status now: the engine puts each through the approval gate once, as soon as it
   * is ready, without scanning the whole ready set every cycle. O(what became unblocked).
   *
   * @returns the newly unblocked todos, in plan order
   */
  takeFresh(): Todo[] {
    const fresh = this.#fresh;
    if (fresh.length === 0) return [];
    this.#fresh = [];
    for (let k = 1; k < fresh.length; k += 1) {
      if ((fresh[k] as number) < (fresh[k - 1] as number)) {
        fresh.sort((a, b) => a - b);
        break;
      }
    }
    return fresh.map((i) => this.#todos[i] as Todo);
  }

  /** The plan's todos, in plan order (the index's source). */
  get todos(): readonly Todo[] {
    return this.#todos;
  }

  /** @returns the todo with this id */
  get(id: string): Todo | undefined {
    const i = this.#pos.get(id);
    return i === undefined ? undefined : this.#todos[i];
  }

  /** The nested-read path: the same answer, computed without touching the queue's bookkeeping. */
  *#snapshot(status: (id: string) => TodoStatus | undefined): Generator<Todo, void, undefined> {
    const candidates = [...this.#queue.slice(this.#head), ...this.#incoming].sort((a, b) => a - b);
    for (const i of candidates) {
      if (this.#queued[i] === 0) continue;
      const todo = this.#todos[i] as Todo;
      const s = status(todo.id) ?? 'pending';
      if (s === 'pending' || s === 'approved') yield todo;
    }
  }

  /** A dead entry at the head: step over it (it was counted in #dead). */
  #dropHead(): void {
    this.#head += 1;
    this.#dead -= 1;
  }

  /** Merges newly unblocked todos in plan order and drops finished entries once they dominate. */
  #settleQueue(): void {
    const queue = this.#queue;
    while (this.#head < queue.length && this.#queued[queue[this.#head] as number] === 0) this.#dropHead();
    const incoming = this.#incoming;
    if (incoming.length > 0) {
      this.#incoming = [];
      let sorted = true;
      for (let k = 1; k < incoming.length; k += 1) {
        if ((incoming[k] as number) < (incoming[k - 1] as number)) {
          sorted = false;
          break;
        }
      }
      if (!sorted) incoming.sort((a, b) => a - b);
      const tail = queue.length > this.#head ? (queue[queue.length - 1] as number) : -1;
      if ((incoming[0] as number) > tail) {
        for (const i of incoming) queue.push(i);
      } else {
        this.#rebuild(incoming);
        return;
      }
    }
    const live = queue.length - this.#head - this.#dead;
    if (this.#head > 1024 && this.#head > live) this.#rebuild([]);
    else if (this.#dead > 32 && this.#dead > live) this.#rebuild([]);
  }

  /** Rebuilds the queue from its live entries merged with `extra` (sorted), in plan order. */
  #rebuild(extra: readonly number[]): void {
    const old = this.#queue;
    const next: number[] = [];
    let a = this.#head;
    let b = 0;
    while (a < old.length || b < extra.length) {
      const x = a < old.length ? (old[a] as number) : Infinity;
      const y = b < extra.length ? (extra[b] as number) : Infinity;
      const take = x <= y ? x : y;
      if (x <= y) a += 1;
      else b += 1;
      if (this.#queued[take] === 1 && next[next.length - 1] !== take) next.push(take);
    }
    this.#queue = next;
    this.#head = 0;
    this.#dead = 0;
  }
}
