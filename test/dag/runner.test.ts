import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runDag, withTimeout } from '../../src/dag/runner.js';
import { resourceClass } from '../../src/dag/scheduler.js';
import { isDreamAgentError } from '../../src/errors/index.js';
import { dagArbitrary, todo } from './helpers.js';

/** Resolves after a few macrotask turns, so concurrent todos really overlap. */
const ticks = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

/** Waits until the signal aborts (like a well-behaved tool), then rejects with its reason. */
const untilAborted = (signal: AbortSignal): Promise<never> =>
  new Promise((_, reject) =>
    signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }),
  );

const classes = ['data', 'insight', 'ops', 'db', 'llm'] as const;

describe('runDag (property)', () => {
  it('runs every todo exactly once, after its dependencies, within concurrency and resource limits', async () => {
    // Guards against a vacuous pass: some runs must really execute todos in parallel.
    let overlapped = 0;
    await fc.assert(
      fc.asyncProperty(
        dagArbitrary(60),
        fc.integer({ min: 1, max: 8 }),
        fc.dictionary(fc.constantFrom(...classes), fc.integer({ min: 1, max: 3 })),
        fc.infiniteStream(fc.integer({ min: 0, max: 3 })),
        async (todos, concurrency, resources, delays) => {
          const completed = new Set<string>();
          const starts = new Map<string, number>();
          const perClass = new Map<string, number>();
          let running = 0;
          let maxRunning = 0;
          const delay = delays[Symbol.iterator]();

          const report = await runDag<string>(
            todos,
            async (t, { outputs }) => {
              starts.set(t.id, (starts.get(t.id) ?? 0) + 1);
              for (const dep of t.dependsOn) {
                expect(completed.has(dep)).toBe(true);
                expect(outputs.get(dep)).toBe(`out:${dep}`);
              }
              running++;
              maxRunning = Math.max(maxRunning, running);
              expect(running).toBeLessThanOrEqual(concurrency);
              const cls = resourceClass(t);
              const inClass = (perClass.get(cls) ?? 0) + 1;
              perClass.set(cls, inClass);
              const limit = resources[cls as (typeof classes)[number]];
              if (limit !== undefined) expect(inClass).toBeLessThanOrEqual(limit);
              await ticks(delay.next().value as number);
              running--;
              perClass.set(cls, (perClass.get(cls) ?? 0) - 1);
              completed.add(t.id);
              return `out:${t.id}`;
            },
            { concurrency, resources },
          );

          if (maxRunning > 1) overlapped++;
          expect(report.status).toBe('completed');
          expect([...starts.values()].every((n) => n === 1)).toBe(true);
          expect([...report.order].sort()).toEqual(todos.map((t) => t.id).sort());
          expect(report.outputs.size).toBe(todos.length);
          expect(report.failed.size).toBe(0);
          expect(report.skipped).toEqual([]);
          // The start order respects dependencies.
          const pos = new Map(report.order.map((id, i) => [id, i]));
          for (const t of todos)
            for (const d of t.dependsOn) expect(pos.get(d)!).toBeLessThan(pos.get(t.id)!);
        },
      ),
      { numRuns: 60 },
    );
    expect(overlapped).toBeGreaterThan(0);
  });

  it('with "continue", runs exactly the todos no failed todo is upstream of', async () => {
    await fc.assert(
      fc.asyncProperty(
        dagArbitrary(40),
        fc.integer({ min: 1, max: 8 }),
        fc.func(fc.integer({ min: 0, max: 3 })),
        async (todos, concurrency, pick) => {
          // About one todo in four fails.
          const failing = new Set(todos.filter((t) => pick(t.id) === 0).map((t) => t.id));
          const report = await runDag(
            todos,
            async (t) => {
              await ticks(1);
              if (failing.has(t.id)) throw new Error(`boom ${t.id}`);
              return t.id;
            },
            { concurrency, failurePolicy: 'continue' },
          );
          // Expected: a todo runs iff none of its transitive dependencies fails.
          const byId = new Map(todos.map((t) => [t.id, t]));
          const blocked = (id: string, seen = new Set<string>()): boolean =>
            byId.get(id)!.dependsOn.some((d) => {
              if (seen.has(d)) return false;
              seen.add(d);
              return failing.has(d) || blocked(d, seen);
            });
          const shouldRun = todos.filter((t) => !blocked(t.id));
          expect([...report.order].sort()).toEqual(shouldRun.map((t) => t.id).sort());
          expect([...report.failed.keys()].sort()).toEqual(
            shouldRun
              .filter((t) => failing.has(t.id))
              .map((t) => t.id)
              .sort(),
          );
          expect(report.skipped).toEqual(todos.filter((t) => blocked(t.id)).map((t) => t.id));
          expect(report.status).toBe(report.failed.size > 0 ? 'failed' : 'completed');
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('runDag', () => {
  it('starts independent todos in plan order', async () => {
    const report = await runDag([todo('z'), todo('a'), todo('m', ['z']), todo('b')], async (t) => t.id);
    expect(report.order).toEqual(['z', 'a', 'm', 'b']);
  });

  it('passes dependency outputs (typed values)', async () => {
    const report = await runDag<number>([todo('a'), todo('b', ['a'])], async (t, { outputs }) =>
      t.id === 'a' ? 20 : (outputs.get('a') ?? 0) + 1,
    );
    expect(report.outputs.get('b')).toBe(21);
  });

  it('validates the plan first and runs nothing when invalid', async () => {
    const run = vi.fn(async () => 1);
    await expect(runDag([todo('a', ['b']), todo('b', ['a'])], run)).rejects.toMatchObject({
      code: 'INVALID_PLAN',
      message: 'invalid plan: dependency cycle: a → b → a',
    });
    expect(run).not.toHaveBeenCalled();
  });

  it.each<[string, object, string]>([
    ['concurrency', { concurrency: 0 }, 'concurrency must be a positive integer or Infinity, got 0 (number)'],
    [
      'resource',
      { resources: { llm: -1 } },
      'resources.llm must be a positive integer or Infinity, got -1 (number)',
    ],
    ['timeout', { timeoutMs: 0 }, 'timeoutMs must be a positive number of milliseconds, got 0'],
  ])('rejects a bad %s option with INVALID_INPUT', async (_name, options, message) => {
    await expect(runDag([todo('a')], async () => 1, options)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message,
    });
  });

  it('resolves an empty plan as completed', async () => {
    expect(await runDag([], async () => 1)).toEqual({
      status: 'completed',
      outputs: new Map(),
      failed: new Map(),
      skipped: [],
      order: [],
    });
  });

  it('fails a todo with TIMEOUT and aborts its signal', async () => {
    let seen: AbortSignal | undefined;
    const report = await runDag(
      [todo('slow'), todo('after', ['slow']), todo('other')],
      async (t, { signal }) => {
        if (t.id !== 'slow') return t.id;
        seen = signal;
        return untilAborted(signal);
      },
      { timeoutMs: 20, failurePolicy: 'continue' },
    );
    expect(report.status).toBe('failed');
    expect(isDreamAgentError(report.failed.get('slow'), 'TIMEOUT')).toBe(true);
    expect(seen?.aborted).toBe(true);
    expect(report.skipped).toEqual(['after']);
    expect(report.outputs.get('other')).toBe('other');
  });

  it("prefers a todo's own timeoutMs", async () => {
    const report = await runDag(
      [todo('slow', [], { timeoutMs: 20 })],
      async (_t, { signal }) => untilAborted(signal),
      {
        timeoutMs: 60_000,
      },
    );
    expect(isDreamAgentError(report.failed.get('slow'), 'TIMEOUT')).toBe(true);
  });

  it('fails a todo whose callback ignores its signal, without waiting for it', async () => {
    const report = await runDag([todo('stuck')], () => new Promise<never>(() => {}), { timeoutMs: 20 });
    expect(report.status).toBe('failed');
    expect((report.failed.get('stuck') as Error).message).toBe('timed out after 20 ms');
  });

  it('fail-fast: starts nothing after the first failure but lets running todos finish', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let sawAbort = false;
    const report = await runDag(
      [todo('long'), todo('bad'), todo('later'), todo('dep', ['long'])],
      async (t, { signal }) => {
        if (t.id === 'bad') {
          setTimeout(release, 10);
          throw new Error('bad input');
        }
        if (t.id === 'long') {
          await gate;
          sawAbort = signal.aborted;
          return 'long';
        }
        return t.id;
      },
      { concurrency: 2 },
    );
    expect(report.status).toBe('failed');
    expect(report.order).toEqual(['long', 'bad']);
    expect(report.outputs.get('long')).toBe('long');
    expect(sawAbort).toBe(false);
    expect((report.failed.get('bad') as Error).message).toBe('bad input');
    expect(report.skipped).toEqual(['later', 'dep']);
  });

  it('continue: skips dependents of a failure and keeps running independent todos', async () => {
    const report = await runDag(
      [todo('a'), todo('b', ['a']), todo('c', ['b']), todo('d'), todo('e', ['d'])],
      async (t) => {
        if (t.id === 'a') throw new Error('nope');
        return t.id;
      },
      { failurePolicy: 'continue', concurrency: 3 },
    );
    expect(report.status).toBe('failed');
    expect(report.skipped).toEqual(['b', 'c']);
    expect([...report.outputs.keys()]).toEqual(['d', 'e']);
  });

  it('a synchronous throw in the callback is a todo failure', async () => {
    const report = await runDag([todo('a')], () => {
      throw new Error('sync');
    });
    expect((report.failed.get('a') as Error).message).toBe('sync');
  });

  it('the outer signal aborts every running todo and stops the run', async () => {
    const controller = new AbortController();
    const signals: AbortSignal[] = [];
    const report = await runDag(
      [todo('a'), todo('b'), todo('c', ['a'])],
      async (_t, { signal }) => {
        signals.push(signal);
        if (signals.length === 2) setTimeout(() => controller.abort(new Error('user cancelled')), 10);
        return untilAborted(signal);
      },
      { concurrency: 2, signal: controller.signal },
    );
    expect(report.status).toBe('aborted');
    expect(signals.every((s) => s.aborted)).toBe(true);
    expect(report.order).toEqual(['a', 'b']);
    expect(isDreamAgentError(report.failed.get('a'), 'ABORTED')).toBe(true);
    expect(((report.failed.get('a') as Error).cause as Error).message).toBe('user cancelled');
    expect(report.skipped).toEqual(['c']);
  });

  it('runs nothing when the signal is already aborted', async () => {
    const run = vi.fn(async () => 1);
    const report = await runDag([todo('a')], run, { signal: AbortSignal.abort() });
    expect(report).toMatchObject({ status: 'aborted', skipped: ['a'], order: [] });
    expect(run).not.toHaveBeenCalled();
  });
});

describe('withTimeout', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resolves with the value and clears its timer', async () => {
    vi.useFakeTimers();
    await expect(withTimeout(async () => 42, 1000)).resolves.toBe(42);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects with a retryable TIMEOUT and aborts the inner signal', async () => {
    let inner: AbortSignal | undefined;
    const error: unknown = await withTimeout((signal) => {
      inner = signal;
      return untilAborted(signal);
    }, 20).catch((e: unknown) => e);
    expect(isDreamAgentError(error, 'TIMEOUT')).toBe(true);
    expect(isDreamAgentError(error) && error.retryable).toBe(true);
    expect(isDreamAgentError(error) && error.details).toEqual({ timeoutMs: 20 });
    expect(inner?.aborted).toBe(true);
    expect(inner?.reason).toBe(error);
  });

  it('rejects with ABORTED when the parent aborts, and removes its listener when done', async () => {
    const parent = new AbortController();
    const pending = withTimeout((signal) => untilAborted(signal), undefined, parent.signal);
    parent.abort('stop');
    await expect(pending).rejects.toMatchObject({ code: 'ABORTED', cause: 'stop' });

    const other = new AbortController();
    const remove = vi.spyOn(other.signal, 'removeEventListener');
    let inner: AbortSignal | undefined;
    await withTimeout(
      async (signal) => {
        inner = signal;
        return 1;
      },
      undefined,
      other.signal,
    );
    expect(remove).toHaveBeenCalledWith('abort', expect.any(Function));
    other.abort();
    expect(inner?.aborted).toBe(false);
  });

  it('rejects at once when the parent is already aborted, without calling fn', async () => {
    const fn = vi.fn(async () => 1);
    await expect(withTimeout(fn, 100, AbortSignal.abort())).rejects.toMatchObject({ code: 'ABORTED' });
    expect(fn).not.toHaveBeenCalled();
  });

  it('passes the callback error through unchanged, sync or async', async () => {
    const boom = new Error('boom');
    await expect(withTimeout(() => Promise.reject(boom), 100)).rejects.toBe(boom);
    await expect(
      withTimeout(() => {
        throw boom;
      }, 100),
    ).rejects.toBe(boom);
  });

  it.each([0, -5, Number.NaN])('rejects ms = %s with INVALID_INPUT', async (ms) => {
    await expect(withTimeout(async () => 1, ms)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('treats Infinity and huge values as no timeout', async () => {
    await expect(withTimeout(async () => 'ok', Infinity)).resolves.toBe('ok');
    await expect(withTimeout(async () => 'ok', 2 ** 40)).resolves.toBe('ok');
  });
});
