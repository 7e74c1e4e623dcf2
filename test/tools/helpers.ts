import type { ExecutionContext } from '../../src/layers.js';
import type { Json } from '../../src/model/json.js';
import { TodoSchema, type Todo } from '../../src/model/plan.js';
import type { Cache } from '../../src/ports/cache.js';
import type { Clock } from '../../src/ports/clock.js';
import { silentLogger } from '../../src/ports/logger.js';
import { MemoryCache } from '../../src/ports/memory/cache.js';
import type { ToolCatalog } from '../../src/tools/types.js';

/** A clock whose sleeps resolve at once and are recorded. */
export function manualClock(start = 1_000_000): Clock & { sleeps: number[]; advance(ms: number): void } {
  let now = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
    sleep: (ms, signal) => {
      sleeps.push(ms);
      if (signal?.aborted) return Promise.reject(signal.reason as Error);
      now += ms;
      return Promise.resolve();
    },
  };
}

/** Builds a todo. */
export function todo(
  tool: string | undefined,
  input: Record<string, Json> = {},
  extra: Partial<Todo> = {},
): Todo {
  return TodoSchema.parse({
    id: 't1',
    title: 'test',
    domain: 'data',
    ...(tool === undefined ? {} : { tool }),
    input,
    ...extra,
  });
}

/** An execution context with recorders for progress and deltas. */
export function context(
  tools: ToolCatalog,
  overrides: Partial<ExecutionContext> = {},
): ExecutionContext & { progressed: [string, number | undefined][]; deltas: string[] } {
  const progressed: [string, number | undefined][] = [];
  const deltas: string[] = [];
  const cache: Cache = new MemoryCache();
  return {
    sessionId: 's1',
    turnId: 'turn1',
    todoId: 't1',
    signal: new AbortController().signal,
    clock: manualClock(),
    logger: silentLogger,
    metadata: {},
    idempotencyKey: 'idem-s1-turn1-t1',
    attempt: 1,
    plan: { id: 'p1', version: 1, todos: [] },
    progress: (m, pct) => progressed.push([m, pct]),
    delta: (t) => deltas.push(t),
    requestInput: () => Promise.reject(new Error('no input in tests')),
    tools,
    cache,
    progressed,
    deltas,
    ...overrides,
  };
}

/**
 * Resolves when `predicate` holds for an event, or rejects after `ms`. The bound only ends a wait that
 * would never succeed: file-watch events arrive late on a loaded 2-core machine (seen at over 5 s while the
 * consumer test builds every package in parallel), so it is generous.
 */
export function waitFor<T>(
  subscribe: (fn: (p: T) => void) => () => void,
  predicate: (p: T) => boolean,
  ms = 20_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`event not seen within ${ms} ms`));
    }, ms);
    const off = subscribe((p) => {
      if (predicate(p)) {
        clearTimeout(timer);
        off();
        resolve(p);
      }
    });
  });
}
