import type { AgentEvent, AgentEventType, EventOf } from '../model/events.js';
import type { RunResult } from '../model/session.js';

type Listener = (event: AgentEvent) => void;

/**
 * A Run is what `agent.run()`, `agent.send()` and `agent.resume()` return: an async iterable of the
 * events it causes (typed union, narrow on `event.type`) and a `result()` promise with the status the
 * session came to rest in.
 *
 * Breaking out of a `for await` loop only stops *your* iteration: the session keeps advancing and its
 * state stays consistent (send `cancel` to stop it). Bad input rejects both the iteration and
 * `result()` with a typed {@link DreamAgentError}.
 *
 * @example
 * ```ts
 * const run = agent.run('analyse sales for last quarter');
 * run.on('todo.completed', (e) => console.log(e.todoId, e.cached));
 * for await (const event of run) if (event.type === 'response.delta') process.stdout.write(event.delta);
 * const { status } = await run.result();
 * ```
 */
export class Run implements AsyncIterable<AgentEvent> {
  /** The session this run advances. */
  readonly sessionId: string;
  readonly #buffer: AgentEvent[] = [];
  readonly #listeners = new Map<AgentEventType, Set<Listener>>();
  readonly #anyListeners = new Set<Listener>();
  #waiters: (() => void)[] = [];
  #done = false;
  #error: unknown = undefined;
  #result: RunResult | undefined;
  readonly #resultPromise: Promise<RunResult>;
  #resolve!: (r: RunResult) => void;
  #reject!: (e: unknown) => void;
  #iterating = false;

  /** @internal Runs are created by the Agent. */
  constructor(sessionId: string) {
    this.sessionId = sessionId;
    this.#resultPromise = new Promise<RunResult>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // A rejected result nobody awaits must not crash the host with an unhandled rejection.
    this.#resultPromise.catch(() => undefined);
  }

  /**
   * Calls `fn` for every event of one type, narrowed to that type.
   *
   * @param type - the event type
   * @param fn - the listener
   * @returns a function that removes the listener
   */
  on<K extends AgentEventType>(type: K, fn: (event: EventOf<K>) => void): () => void {
    const set = this.#listeners.get(type) ?? new Set<Listener>();
    set.add(fn as unknown as Listener);
    this.#listeners.set(type, set);
    return () => set.delete(fn as unknown as Listener);
  }

  /**
   * Calls `fn` for every event.
   *
   * @param fn - the listener
   * @returns a function that removes the listener
   */
  onAny(fn: (event: AgentEvent) => void): () => void {
    this.#anyListeners.add(fn);
    return () => this.#anyListeners.delete(fn);
  }

  /** @returns the status the session came to rest in (rejects on bad input or a bug) */
  result(): Promise<RunResult> {
    return this.#resultPromise;
  }

  /** @internal */
  push(event: AgentEvent): void {
    if (this.#done) return;
    for (const fn of this.#listeners.get(event.type) ?? []) safeCall(fn, event);
    for (const fn of this.#anyListeners) safeCall(fn, event);
    this.#buffer.push(event);
    this.#wake();
  }

  /** @internal */
  finish(result: RunResult): void {
    if (this.#done) return;
    this.#done = true;
    this.#result = result;
    this.#resolve(result);
    this.#wake();
  }

  /** @internal */
  fail(error: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    this.#reject(error);
    this.#wake();
  }

  /** Whether the run has come to rest (or failed). */
  get done(): boolean {
    return this.#done;
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /**
   * Iterates the run's events in seq order, from its first event until it comes to rest; for a second
   * reader use `agent.events()`.
   *
   * @returns the events (the iterator ends when the run is done, and throws when the run failed)
   * @throws Error when the run is iterated a second time
   */
  async *[Symbol.asyncIterator](): AsyncIterator<AgentEvent> {
    if (this.#iterating) throw new Error('a Run can be iterated once; use agent.events() for another reader');
    this.#iterating = true;
    let index = 0;
    for (;;) {
      while (index < this.#buffer.length) {
        const event = this.#buffer[index] as AgentEvent;
        index += 1;
        yield event;
      }
      if (this.#done) {
        if (this.#error !== undefined && this.#result === undefined) throw this.#error;
        return;
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }
}

function safeCall(fn: Listener, event: AgentEvent): void {
  try {
    fn(event);
  } catch {
    // A throwing listener is the host's bug; it must not break the run.
  }
}
