/**
 * A standalone, in-memory runner for plain DAGs: concurrency and resource limits, per-todo timeouts,
 * abort propagation and failure policies. The durable engine has its own commit-per-cycle loop built
 * on the same pure scheduler; this runner is for tests, benchmarks and users who just want a DAG run.
 *
 * @packageDocumentation
 */
import PQueue from 'p-queue';
import { DreamAgentError, isDreamAgentError } from '../errors/index.js';
import type { Todo } from '../model/plan.js';
import type { TodoStatus } from '../model/session.js';
import { assertLimit, blockedByFailure, readyTodos, selectWithLimits } from './scheduler.js';
import { validatePlan } from './validate.js';

/** What a todo callback of {@link runDag} receives. */
export interface DagTodoContext<T> {
  /** Aborted when the todo times out, or when the run's signal aborts. Pass it to your I/O. */
  signal: AbortSignal;
  /** Outputs of completed todos by id; holds at least every dependency's output. */
  outputs: ReadonlyMap<string, T>;
}

/** Options of {@link runDag}. */
export interface DagRunOptions {
  /** Maximum todos running at once (positive integer or `Infinity`); default 1. */
  concurrency?: number;
  /** Aborts every running todo's signal and stops starting new ones. */
  signal?: AbortSignal;
  /** Per-todo timeout in ms: the todo's signal is aborted and it fails with `TIMEOUT`. A todo's own `timeoutMs` wins. */
  timeoutMs?: number;
  /**
   * `fail-fast` (default): after the first failure no new todo starts; todos already running finish
   * (their signals are not aborted — a half-done side effect is worse than a finished one; abort the
   * run's signal for that). `continue`: the failed todo's dependents are skipped and independent
   * todos keep running.
   */
  failurePolicy?: 'fail-fast' | 'continue';
  /** Maximum running todos per resource class (`todo.resource ?? todo.domain`). */
  resources?: Record<string, number>;
}

/** The outcome of {@link runDag}. */
export interface DagRunReport<T> {
  /** `aborted` when the run's signal aborted, else `failed` when any todo failed, else `completed`. */
  status: 'completed' | 'failed' | 'aborted';
  /** Outputs of the todos that completed. */
  outputs: Map<string, T>;
  /** The error of each todo that failed (timeouts and aborts included). */
  failed: Map<string, unknown>;
  /** Todos that never started (blocked by a failure, fail-fast, or abort), in plan order. */
  skipped: string[];
  /** Todo ids in the order they started. */
  order: string[];
}

/**
 * Runs a DAG of todos: each todo starts once all its dependencies completed, never more than
 * `concurrency` at once nor more than `resources[class]` per resource class; among todos that could
 * start, plan order decides. Never rejects because a todo failed: failures are in the report.
 *
 * @param todos - the todos, in plan order
 * @param run - executes one todo and returns its output
 * @param options - concurrency, abort signal, timeout, failure policy and resource limits
 * @returns the run report
 * @throws DreamAgentError `INVALID_PLAN` when the plan is invalid (cycle, unknown dependency…), and
 *   `INVALID_INPUT` for a bad option (concurrency, resource limit, timeout); nothing runs then.
 * @example
 * ```ts
 * const report = await runDag(plan.todos, async (todo, { signal, outputs }) => callTool(todo, signal), {
 *   concurrency: 4,
 *   resources: { llm: 1 },
 *   timeoutMs: 30_000,
 * });
 * if (report.status !== 'completed') console.error(report.failed);
 * ```
 */
export async function runDag<T>(
  todos: readonly Todo[],
  run: (todo: Todo, ctx: DagTodoContext<T>) => Promise<T>,
  options: DagRunOptions = {},
): Promise<DagRunReport<T>> {
  validatePlan(todos);
  const concurrency = options.concurrency ?? 1;
  assertLimit('concurrency', concurrency);
  for (const [name, limit] of Object.entries(options.resources ?? {}))
    assertLimit(`resources.${name}`, limit);
  assertTimeout(options.timeoutMs);
  const failurePolicy = options.failurePolicy ?? 'fail-fast';
  const limits = {
    concurrency,
    ...(options.resources === undefined ? {} : { resources: options.resources }),
  };

  const states = new Map<string, TodoStatus>();
  const outputs = new Map<string, T>();
  const failed = new Map<string, unknown>();
  const order: string[] = [];
  const running = new Map<string, Todo>();
  // p-queue enforces the global limit a second time and owns the promises; which todo starts, and
  // when, is decided by the pure scheduler: we only enqueue what may start now, so p-queue's FIFO
  // can never reorder plan order or break a resource limit.
  const queue = new PQueue({ concurrency });
  let stopped = false;

  const report = (): DagRunReport<T> => {
    const skipped = todos
      .filter((t) => states.get(t.id) !== 'completed' && !failed.has(t.id))
      .map((t) => t.id);
    const status = options.signal?.aborted === true ? 'aborted' : failed.size > 0 ? 'failed' : 'completed';
    return { status, outputs, failed, skipped, order };
  };

  if (options.signal?.aborted === true) return report();

  return new Promise<DagRunReport<T>>((resolve, reject) => {
    const onAbort = (): void => {
      stopped = true;
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = (): void => {
      options.signal?.removeEventListener('abort', onAbort);
      resolve(report());
    };

    const execute = async (todo: Todo): Promise<void> => {
      try {
        const output = await withTimeout(
          (signal) => run(todo, { signal, outputs }),
          todo.timeoutMs ?? options.timeoutMs,
          options.signal,
        );
        outputs.set(todo.id, output);
        states.set(todo.id, 'completed');
      } catch (error) {
        failed.set(todo.id, error);
        states.set(todo.id, 'failed');
        if (failurePolicy === 'fail-fast') stopped = true;
      } finally {
        running.delete(todo.id);
      }
      pump();
    };

    const pump = (): void => {
      try {
        if (failurePolicy === 'continue') {
          for (const todo of blockedByFailure(todos, states)) states.set(todo.id, 'skipped');
        }
        if (!stopped) {
          const start = selectWithLimits(readyTodos(todos, states), [...running.values()], limits);
          for (const todo of start) {
            states.set(todo.id, 'running');
            running.set(todo.id, todo);
            order.push(todo.id);
            void queue.add(() => execute(todo));
          }
        }
        if (running.size === 0) finish();
      } catch (error) {
        // Only a bug can land here (inputs were validated up front); surface it instead of hanging.
        options.signal?.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new DreamAgentError('INTERNAL', String(error)));
      }
    };

    pump();
  });
}

function assertTimeout(ms: number | undefined): void {
  if (ms === undefined || (typeof ms === 'number' && ms > 0 && !Number.isNaN(ms))) return;
  throw new DreamAgentError(
    'INVALID_INPUT',
    `timeoutMs must be a positive number of milliseconds, got ${String(ms)}`,
    {
      details: { option: 'timeoutMs' },
    },
  );
}

/** setTimeout fires immediately for delays above 2^31-1 ms; longer timeouts are treated as none. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Runs `fn` with an AbortSignal that is aborted after `ms` milliseconds or when `parent` aborts,
 * whichever comes first. The returned promise settles as soon as that happens, even if `fn` ignores
 * its signal, so a hung tool can never hang the caller. Timer and listener are removed on settle.
 *
 * @param fn - the operation; it should pass `signal` to its I/O
 * @param ms - the timeout in ms; `undefined` (or `Infinity`) for none
 * @param parent - an outer signal (run cancellation) to propagate
 * @returns what `fn` resolves to
 * @throws DreamAgentError `TIMEOUT` (retryable) after `ms`; `ABORTED` when `parent` aborts (the
 *   parent's reason is the `cause`); `INVALID_INPUT` for a non-positive `ms`. Anything `fn` throws is
 *   passed through unchanged.
 * @example
 * ```ts
 * const rows = await withTimeout((signal) => fetch(url, { signal }).then((r) => r.json()), 5_000, ctx.signal);
 * ```
 */
export function withTimeout<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  ms: number | undefined,
  parent?: AbortSignal,
): Promise<T> {
  try {
    assertTimeout(ms);
  } catch (error) {
    return Promise.reject(error);
  }
  if (parent?.aborted === true) return Promise.reject(abortedError(parent));

  const controller = new AbortController();
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const settle = (action: () => void): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      parent?.removeEventListener('abort', onAbort);
      action();
    };

    const onAbort = (): void => {
      if (parent === undefined) return;
      const error = abortedError(parent);
      settle(() => reject(error));
      controller.abort(error);
    };

    parent?.addEventListener('abort', onAbort, { once: true });
    if (ms !== undefined && ms <= MAX_TIMER_MS) {
      timer = setTimeout(() => {
        const error = new DreamAgentError('TIMEOUT', `timed out after ${ms} ms`, {
          details: { timeoutMs: ms },
        });
        settle(() => reject(error));
        controller.abort(error);
      }, ms);
    }

    let promise: Promise<T>;
    try {
      promise = fn(controller.signal);
    } catch (error) {
      // A synchronous throw is treated like a rejection so the caller has one failure path.
      settle(() => reject(error));
      return;
    }
    Promise.resolve(promise).then(
      (value) => settle(() => resolve(value)),
      (error: unknown) => settle(() => reject(error)),
    );
  });
}

function abortedError(parent: AbortSignal): DreamAgentError {
  const reason: unknown = parent.reason;
  if (isDreamAgentError(reason, 'ABORTED')) return reason;
  return new DreamAgentError('ABORTED', 'operation aborted', { cause: reason });
}
