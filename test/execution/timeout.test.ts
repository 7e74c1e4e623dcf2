import { afterEach, describe, expect, it, vi } from 'vitest';
import { getEventListeners } from 'node:events';
import { withTimeout, isDreamAgentError } from 'dream-agent';

/** Waits until the signal aborts (like a well-behaved tool), then rejects with its reason. */
const untilAborted = (signal: AbortSignal): Promise<never> =>
  new Promise((_, reject) =>
    signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }),
  );

describe('withTimeout', () => {
  it('without a timeout, passes the parent signal itself and still settles when the parent aborts', async () => {
    const parent = new AbortController();
    let seen: AbortSignal | undefined;
    const p = withTimeout(
      (signal) => {
        seen = signal;
        return new Promise<never>(() => undefined); // ignores its signal
      },
      undefined,
      parent.signal,
    );
    expect(seen).toBe(parent.signal);
    parent.abort(new Error('stop'));
    const e = await p.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isDreamAgentError(e, 'ABORTED')).toBe(true);
  });

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

    // Calls that settled leave nothing behind on the parent: however many ran, it holds at most the
    // one shared listener (the per-todo path adds no EventTarget listener of its own).
    const other = new AbortController();
    let inner: AbortSignal | undefined;
    for (let i = 0; i < 50; i += 1) {
      await withTimeout(
        async (signal) => {
          inner = signal;
          return 1;
        },
        undefined,
        other.signal,
      );
      await expect(
        withTimeout(() => Promise.reject(new Error('x')), undefined, other.signal),
      ).rejects.toThrow('x');
    }
    expect(getEventListeners(other.signal, 'abort').length).toBeLessThanOrEqual(1);
    // Without a timeout, fn gets the parent signal itself (nothing allocated per call).
    expect(inner).toBe(other.signal);
    // And a later abort still reaches a call in flight.
    const late = withTimeout((signal) => untilAborted(signal), undefined, other.signal);
    other.abort('later');
    await expect(late).rejects.toMatchObject({ code: 'ABORTED', cause: 'later' });
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
