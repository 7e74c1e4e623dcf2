import type { Clock } from '../ports/clock.js';

interface Sleeper {
  at: number;
  resolve: () => void;
}

/**
 * A clock that only moves when told to: leases expire, timeouts fire and backoffs end when a test calls
 * {@link ManualClock.advance}, never because the machine is slow.
 *
 * @example
 * ```ts
 * const clock = new ManualClock(Date.parse('2026-01-01'));
 * const store = new MemoryStore({ clock });
 * clock.advance(60_000); // every lease taken with a 30 s TTL is now expired
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #sleepers: Sleeper[] = [];

  /** @param start - the initial epoch-ms time (default 2026-01-01T00:00:00Z) */
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const sleeper: Sleeper = { at: this.#now + Math.max(0, ms), resolve };
      this.#sleepers.push(sleeper);
      signal?.addEventListener(
        'abort',
        () => {
          this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
          reject(signal.reason as Error);
        },
        { once: true },
      );
    });
  }

  /**
   * Moves time forward and wakes every sleeper whose time has come.
   *
   * @param ms - milliseconds to advance
   */
  advance(ms: number): void {
    this.#now += ms;
    const due = this.#sleepers.filter((s) => s.at <= this.#now);
    this.#sleepers = this.#sleepers.filter((s) => s.at > this.#now);
    for (const s of due) s.resolve();
  }

  /** Number of pending sleepers (lets tests wait until code is blocked on the clock). */
  get pendingSleepers(): number {
    return this.#sleepers.length;
  }
}
