/**
 * Calls that always end: a {@link LanguageModel} wrapper with an idle timeout between stream events, an
 * overall deadline per call, and the agent's own retry policy (attempts, exponential backoff with full
 * jitter, which errors, a cap on Retry-After), whose sleeps race the abort signal.
 *
 * Why here and not in each SDK: an SDK's request timeout stops at the response headers, so a stream that
 * stalls after them hung the turn forever; and an SDK's retry sleep (Retry-After: 65 honoured as is)
 * ignored cancel for a minute. The adapters create their clients with `maxRetries: 0` and this layer
 * decides, the same way for every provider.
 *
 * @packageDocumentation
 */
import { DreamAgentError, isDreamAgentError, type ErrorCode } from '../errors/index.js';
import { systemClock, type Clock } from '../ports/clock.js';
import type { GenerateRequest, GenerateResult, LanguageModel, StreamChunk } from '../ports/llm.js';
import { toLlmError } from '../ports/llm.js';

/** Which errors are retried, how often, and how long to wait between attempts. */
export interface RetryPolicy {
  /** Total attempts including the first (default 3; 1 = never retry). */
  attempts?: number;
  /** First backoff delay in ms (default 500); doubles per attempt, with full jitter. */
  baseDelayMs?: number;
  /** Upper bound of one backoff delay in ms (default 8000). */
  maxDelayMs?: number;
  /**
   * Upper bound in ms on a provider's Retry-After wait (default 20 000). A longer hint is clamped to it;
   * the wait still races the abort signal and the call's deadline.
   */
  maxRetryAfterMs?: number;
  /**
   * Whether an error is retried (default: `error.retryable` and the code is `RATE_LIMITED`, `TIMEOUT`,
   * `LLM_ERROR` or `UNAVAILABLE`). Never called for `ABORTED`.
   */
  retryOn?: (error: DreamAgentError, attempt: number) => boolean;
}

/** Time limits of one model call. */
export interface CallLimits {
  /**
   * Longest silence in ms between two stream events, the first one included (default 60 000). A stream
   * quiet for longer is aborted (its socket closed) and fails `TIMEOUT` (retryable, so the retry policy
   * or a fallback model may take over).
   */
  idleTimeoutMs?: number;
  /**
   * Longest duration in ms of a whole call, retries and their sleeps included (default 300 000). Applies
   * to `generate` and `stream` alike.
   */
  deadlineMs?: number;
}

/** Options of {@link withResilience}. */
export interface ResilienceOptions extends CallLimits {
  /** The retry policy, or `false` for a single attempt. */
  retry?: RetryPolicy | false;
  /** Clock for timers and sleeps (default: the system clock). */
  clock?: Clock;
  /** Jitter source in [0, 1) (default `Math.random`). */
  random?: () => number;
  /** Called before each retry sleep (for logs and metrics). */
  onRetry?: (info: { attempt: number; delayMs: number; error: DreamAgentError }) => void;
}

/** The defaults of {@link withResilience}, for documentation and tests. */
export const DEFAULT_RESILIENCE = Object.freeze({
  /** Longest silence between two stream events: 60 s ({@link CallLimits.idleTimeoutMs}). */
  idleTimeoutMs: 60_000,
  /** Longest whole call, retries included: 5 min ({@link CallLimits.deadlineMs}). */
  deadlineMs: 300_000,
  /** Total attempts including the first: 3 ({@link RetryPolicy.attempts}). */
  attempts: 3,
  /** First backoff delay: 500 ms, doubling per attempt with full jitter ({@link RetryPolicy.baseDelayMs}). */
  baseDelayMs: 500,
  /** Upper bound of one backoff delay: 8 s ({@link RetryPolicy.maxDelayMs}). */
  maxDelayMs: 8_000,
  /** Upper bound on a provider's Retry-After wait: 20 s ({@link RetryPolicy.maxRetryAfterMs}). */
  maxRetryAfterMs: 20_000,
});

const RESILIENT = Symbol.for('dream-agent.resilient-model');
/**
 * Abort reasons for timers and finished calls. Shared constants because `abort()` without a reason
 * builds a DOMException with a stack trace on every call (measured: ~130 µs per generate).
 */
const STOPPED = Object.freeze({ reason: 'timer stopped' });
const FINISHED = Object.freeze({ reason: 'model call finished' });
const RETRIED_CODES: ReadonlySet<ErrorCode> = new Set([
  'RATE_LIMITED',
  'TIMEOUT',
  'LLM_ERROR',
  'UNAVAILABLE',
]);

/**
 * Tells whether a model is already wrapped by {@link withResilience} (so the agent's defaults do not wrap
 * it twice).
 *
 * @param model - any model
 * @returns true for a resilient wrapper
 */
export function isResilient(model: LanguageModel): boolean {
  return (model as unknown as Record<symbol, unknown>)[RESILIENT] === true;
}

function positive(name: string, value: number | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new DreamAgentError('INVALID_INPUT', `${name} must be a number >= ${min}, got ${String(value)}`, {
      retryable: false,
      details: { option: name, value: value as unknown as string },
    });
  }
  return value;
}

/**
 * One timer for every call of a wrapper: entries are kept in a set and a single clock sleep wakes at the
 * earliest one. Why not a timer per call: an AbortController plus an abortable sleep per call cost more
 * than the rest of the wrapper together (measured in bench/llm-adapters.ts); here a call costs a set
 * insertion, and a new timer is armed only when a call ends earlier than everything pending.
 */
class Timers {
  readonly #entries = new Set<Watchdog>();
  #armedAt = Infinity;
  #wake: AbortController | undefined;
  #native: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly clock: Clock) {}

  add(dog: Watchdog): void {
    this.#entries.add(dog);
    if (dog.due() < this.#armedAt) this.#arm(dog.due());
  }

  delete(dog: Watchdog): void {
    this.#entries.delete(dog);
    // An injected clock's sleep would keep a fake timer pending: cancel it when nothing is watched.
    // The system clock's timer is unref'd (it never keeps the process alive), so it is left to wake
    // once for nothing rather than re-armed on every call.
    if (this.#entries.size === 0 && this.#wake !== undefined) {
      this.#wake.abort(STOPPED);
      this.#wake = undefined;
      this.#armedAt = Infinity;
    }
  }

  #arm(at: number): void {
    this.#armedAt = at;
    const ms = Math.max(0, at - this.clock.now());
    if (this.clock === systemClock) {
      // The one place the core uses a raw timer: the system clock's sleep cannot be unref'd, and an
      // abortable sleep per call cost ~100 µs (bench/llm-adapters.ts).
      if (this.#native !== undefined) clearTimeout(this.#native);
      const timer = setTimeout(() => {
        if (this.#native === timer) this.#native = undefined;
        this.#tick();
      }, ms);
      timer.unref?.();
      this.#native = timer;
      return;
    }
    this.#wake?.abort(STOPPED);
    const wake = new AbortController();
    this.#wake = wake;
    this.clock.sleep(ms, wake.signal).then(
      () => {
        if (this.#wake !== wake) return;
        this.#wake = undefined;
        this.#tick();
      },
      () => undefined,
    );
  }

  #tick(): void {
    this.#armedAt = Infinity;
    const now = this.clock.now();
    let next = Infinity;
    for (const dog of [...this.#entries]) {
      if (dog.check(now)) this.#entries.delete(dog);
      else next = Math.min(next, dog.due());
    }
    if (next < Infinity) this.#arm(next);
  }
}

/** Rejects when the first of idle / deadline / abort strikes; cancelled with `stop()`. */
class Watchdog {
  readonly promise: Promise<never>;
  #last: number;
  #stopped = false;
  /** True while the consumer holds a chunk: its time is not the model's silence (only the deadline runs). */
  #paused = false;
  readonly #reject: (e: DreamAgentError) => void;
  readonly #onAbort: (() => void) | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #onFire: (reason: DreamAgentError) => void;

  constructor(
    private readonly timers: Timers,
    private readonly clock: Clock,
    private readonly idleMs: number | undefined,
    private readonly deadlineAt: number,
    signal: AbortSignal | undefined,
    onFire: (reason: DreamAgentError) => void,
  ) {
    this.#last = clock.now();
    this.#signal = signal;
    this.#onFire = onFire;
    let reject!: (e: DreamAgentError) => void;
    this.promise = new Promise<never>((_, r) => {
      reject = r;
    });
    this.#reject = reject;
    // The race may be abandoned before the watchdog fires; a fired, unobserved rejection is expected.
    this.promise.catch(() => undefined);
    if (signal?.aborted) {
      this.#fire(abortedError(signal));
      return;
    }
    if (signal !== undefined) {
      this.#onAbort = () => this.#fire(abortedError(signal));
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    timers.add(this);
  }

  /** When this call times out if nothing happens. */
  due(): number {
    return this.idleMs === undefined || this.#paused
      ? this.deadlineAt
      : Math.min(this.#last + this.idleMs, this.deadlineAt);
  }

  /** Fires if due at `now`; returns true when the watchdog is done (fired or stopped). */
  check(now: number): boolean {
    if (this.#stopped) return true;
    if (now < this.due()) return false;
    const idle =
      this.idleMs !== undefined &&
      !this.#paused &&
      this.#last + this.idleMs <= now &&
      this.#last + this.idleMs < this.deadlineAt;
    this.#fire(idle ? timeoutError('idle', this.idleMs ?? 0) : timeoutError('deadline', this.deadlineAt));
    return true;
  }

  /** Marks activity (a stream event arrived). */
  touch(): void {
    this.#last = this.clock.now();
  }

  /** The consumer took a chunk: suspends the idle limit until {@link resume}. */
  pause(): void {
    this.#paused = true;
  }

  /** The consumer asks for more: the idle limit runs again from now. */
  resume(): void {
    this.#paused = false;
    this.#last = this.clock.now();
    // The shared timer may be armed for the deadline only (set while paused): arm it for the idle limit.
    if (!this.#stopped) this.timers.add(this);
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.timers.delete(this);
    if (this.#onAbort !== undefined) this.#signal?.removeEventListener('abort', this.#onAbort);
  }

  #fire(e: DreamAgentError): void {
    if (this.#stopped) return;
    this.stop();
    this.#onFire(e);
    this.#reject(e);
  }
}

function timeoutError(kind: 'idle' | 'deadline', value: number): DreamAgentError {
  return new DreamAgentError(
    'TIMEOUT',
    kind === 'idle'
      ? `the model sent nothing for ${value} ms (idle timeout); the call was aborted`
      : 'the model call passed its deadline and was aborted',
    { retryable: true, details: { timeout: kind, ...(kind === 'idle' ? { idleTimeoutMs: value } : {}) } },
  );
}

function abortedError(signal: AbortSignal | undefined): DreamAgentError {
  return new DreamAgentError('ABORTED', 'the model call was aborted', {
    cause: signal?.reason,
    retryable: false,
  });
}

/**
 * Wraps a model so that every call ends: a stream silent for `idleTimeoutMs` or a call running past
 * `deadlineMs` is aborted (the inner call's signal fires, which closes the provider socket) and fails
 * `TIMEOUT`; an abort of the request's own signal wins at once, even against a model that ignores its
 * signal (the inner call is then abandoned); retryable failures are retried by the policy — a stream only
 * before its first chunk was passed on, so output is never duplicated — with sleeps that race the abort
 * signal and the deadline, and Retry-After clamped to `maxRetryAfterMs`.
 *
 * Errors are always typed: `TIMEOUT` (details `timeout: 'idle' | 'deadline'`), `ABORTED`, or the inner
 * model's error after the last attempt.
 *
 * @param model - the model to wrap (an adapter, a {@link fallbackModel}…)
 * @param options - limits, retry policy, clock
 * @returns a model with the same provider and model id
 * @throws DreamAgentError `INVALID_INPUT` for a non-positive limit or attempt count
 * @example
 * ```ts
 * const llm = withResilience(new OpenAIModel({ model: 'gpt-4.1-mini' }), {
 *   idleTimeoutMs: 20_000,
 *   deadlineMs: 120_000,
 *   retry: { attempts: 4, maxRetryAfterMs: 10_000 },
 * });
 * ```
 */
export function withResilience(model: LanguageModel, options: ResilienceOptions = {}): LanguageModel {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const idleMs = positive('idleTimeoutMs', options.idleTimeoutMs, DEFAULT_RESILIENCE.idleTimeoutMs);
  const deadlineMs = positive('deadlineMs', options.deadlineMs, DEFAULT_RESILIENCE.deadlineMs);
  const policy = options.retry === false ? { attempts: 1 } : (options.retry ?? {});
  const attempts = positive('retry.attempts', policy.attempts, DEFAULT_RESILIENCE.attempts);
  if (!Number.isInteger(attempts)) {
    throw new DreamAgentError('INVALID_INPUT', `retry.attempts must be an integer, got ${attempts}`);
  }
  const baseDelay = positive('retry.baseDelayMs', policy.baseDelayMs, DEFAULT_RESILIENCE.baseDelayMs, 0);
  const maxDelay = positive('retry.maxDelayMs', policy.maxDelayMs, DEFAULT_RESILIENCE.maxDelayMs, 0);
  const maxRetryAfter = positive(
    'retry.maxRetryAfterMs',
    policy.maxRetryAfterMs,
    DEFAULT_RESILIENCE.maxRetryAfterMs,
    0,
  );
  const retryOn = policy.retryOn ?? ((e: DreamAgentError) => e.retryable && RETRIED_CODES.has(e.code));

  /** How long to wait before attempt `attempt + 1`, or undefined to give up. */
  const delayFor = (error: DreamAgentError, attempt: number, deadlineAt: number): number | undefined => {
    if (error.code === 'ABORTED' || attempt >= attempts || !retryOn(error, attempt)) return undefined;
    const hint = error.details['retryAfterMs'];
    const delay =
      error.code === 'RATE_LIMITED' && typeof hint === 'number' && hint >= 0
        ? Math.min(hint, maxRetryAfter)
        : Math.floor(random() * Math.min(maxDelay, baseDelay * 2 ** (attempt - 1)));
    // A sleep that would outlive the deadline only delays the inevitable.
    return clock.now() + delay >= deadlineAt ? undefined : delay;
  };

  const sleep = async (ms: number, signal: AbortSignal | undefined): Promise<void> => {
    if (ms <= 0) {
      if (signal?.aborted) throw abortedError(signal);
      return;
    }
    try {
      await clock.sleep(ms, signal);
    } catch (error) {
      throw signal?.aborted ? abortedError(signal) : toLlmError(error);
    }
  };

  /** One inner call with its own signal, linked to the caller's and to the watchdog. */
  const link = (request: GenerateRequest): { inner: GenerateRequest; controller: AbortController } => {
    const controller = new AbortController();
    return { inner: { ...request, signal: controller.signal }, controller };
  };

  const timers = new Timers(clock);
  const wrapped: LanguageModel = {
    provider: model.provider,
    model: model.model,

    async generate(request: GenerateRequest): Promise<GenerateResult> {
      const deadlineAt = clock.now() + deadlineMs;
      for (let attempt = 1; ; attempt++) {
        const { inner, controller } = link(request);
        const dog = new Watchdog(timers, clock, undefined, deadlineAt, request.signal, (e) =>
          controller.abort(e),
        );
        let error: DreamAgentError;
        try {
          // A model that throws synchronously or returns a plain value still goes through the race.
          let call: Promise<GenerateResult>;
          try {
            call = Promise.resolve(model.generate(inner));
          } catch (thrown) {
            call = Promise.reject(thrown as Error);
          }
          call.catch(() => undefined);
          return await Promise.race([call, dog.promise]);
        } catch (thrown) {
          error = fromInner(thrown, controller.signal, request.signal);
        } finally {
          dog.stop();
        }
        const delay = delayFor(error, attempt, deadlineAt);
        if (delay === undefined) throw error;
        options.onRetry?.({ attempt, delayMs: delay, error });
        await sleep(delay, request.signal);
      }
    },

    async *stream(request: GenerateRequest): AsyncIterable<StreamChunk> {
      const deadlineAt = clock.now() + deadlineMs;
      for (let attempt = 1; ; attempt++) {
        const { inner, controller } = link(request);
        const dog = new Watchdog(timers, clock, idleMs, deadlineAt, request.signal, (e) =>
          controller.abort(e),
        );
        let iterator: AsyncIterator<StreamChunk> | undefined;
        let passedOn = false;
        let error: DreamAgentError | undefined;
        let done = false;
        try {
          // Inside the try: a model whose stream() throws at once, or returns no async iterable, fails
          // typed like any other model error.
          iterator = model.stream(inner)[Symbol.asyncIterator]();
          for (;;) {
            const next = iterator.next();
            next.catch(() => undefined);
            const step = await Promise.race([next, dog.promise]);
            if (step.done === true) {
              done = true;
              break;
            }
            passedOn = true;
            // The consumer may take long with this chunk: its time is not the model's silence.
            dog.pause();
            yield step.value;
            dog.resume();
          }
        } catch (thrown) {
          error = fromInner(thrown, controller.signal, request.signal);
        } finally {
          dog.stop();
          if (!done) {
            // Early exit (consumer break, timeout, abort): close the inner stream and its socket. Not
            // awaited: a model that ignores its signal must not keep us here.
            controller.abort(FINISHED);
            if (iterator !== undefined) {
              const it = iterator;
              void Promise.resolve()
                .then(() => it.return?.())
                .catch(() => undefined);
            }
          }
        }
        if (error === undefined) return;
        const delay = passedOn ? undefined : delayFor(error, attempt, deadlineAt);
        if (delay === undefined) throw error;
        options.onRetry?.({ attempt, delayMs: delay, error });
        await sleep(delay, request.signal);
      }
    },
  };
  Object.defineProperty(wrapped, RESILIENT, { value: true });
  return wrapped;
}

/** Types what the inner call threw, preferring the reason of our own abort (a timeout). */
function fromInner(thrown: unknown, own: AbortSignal, caller: AbortSignal | undefined): DreamAgentError {
  if (caller?.aborted) return abortedError(caller);
  if (own.aborted && isDreamAgentError(own.reason)) return own.reason;
  return toLlmError(thrown, own);
}
