/**
 * Deadlines and abandonment for calls the engine makes into user code (executors, tools): a call that
 * ignores its abort signal is abandoned, never awaited forever.
 *
 * @packageDocumentation
 */
import { DreamAgentError, isDreamAgentError } from '../errors/index.js';

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
 * whichever comes first (without `ms`, `fn` receives `parent` itself). The returned promise settles as soon as that happens, even if `fn` ignores
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
  if ((ms === undefined || ms > MAX_TIMER_MS) && parent !== undefined) return raceAbort(fn, parent);

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

/**
 * Abandon callbacks per signal: one `abort` listener per signal however many calls race it, so a call
 * costs a Set insert and delete instead of an EventTarget listener each (the per-todo hot path).
 */
const abandoners = new WeakMap<AbortSignal, Set<() => void>>();

function onAbortOf(signal: AbortSignal, fn: () => void): () => void {
  let set = abandoners.get(signal);
  if (set === undefined) {
    const fresh = new Set<() => void>();
    set = fresh;
    abandoners.set(signal, fresh);
    signal.addEventListener(
      'abort',
      () => {
        const all = [...fresh];
        fresh.clear();
        for (const f of all) f();
      },
      { once: true },
    );
  }
  const callbacks = set;
  callbacks.add(fn);
  return () => {
    callbacks.delete(fn);
  };
}

/**
 * The no-timeout path of {@link withTimeout}: `fn` gets the parent signal itself (no controller of our
 * own, the per-todo hot path allocates nothing), and the promise still settles when the parent aborts.
 */
function raceAbort<T>(fn: (signal: AbortSignal) => Promise<T>, parent: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const off = onAbortOf(parent, () => reject(abortedError(parent)));
    let promise: Promise<T>;
    try {
      promise = fn(parent);
    } catch (error) {
      off();
      reject(error as Error);
      return;
    }
    Promise.resolve(promise).then(
      (value) => {
        off();
        resolve(value);
      },
      (error: unknown) => {
        off();
        reject(error as Error);
      },
    );
  });
}
