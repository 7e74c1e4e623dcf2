import type { Store } from '../ports/store.js';
import { wrapStore } from './wrap.js';

/** A Store wrapper whose calls can be frozen, as if the process had stopped. */
export interface PausableStore extends Store {
  /** From now on every call blocks (like SIGSTOP, or a crash when never resumed). */
  pause(): void;
  /** Blocked and future calls proceed (like SIGCONT). */
  resume(): void;
  /** Number of calls currently blocked. */
  readonly blocked: number;
}

/**
 * Wraps a Store so a test can freeze one Agent's view of it — simulating a crashed process (pause and
 * never resume) or an owner stopped past its lease that later wakes up (pause, then resume). Used by the
 * in-process crash tests; real SIGKILL/SIGSTOP tests run against PostgreSQL.
 *
 * @param inner - the shared store
 * @returns the wrapper
 */
export function pausableStore(inner: Store): PausableStore {
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  let blocked = 0;
  const base = wrapStore(inner, async (_method, call) => {
    if (gate) {
      blocked += 1;
      await gate;
      blocked -= 1;
    }
    return call();
  });
  return {
    ...base,
    pause() {
      if (!gate) gate = new Promise<void>((resolve) => (open = resolve));
    },
    resume() {
      const o = open;
      gate = undefined;
      open = undefined;
      o?.();
    },
    get blocked() {
      return blocked;
    },
  };
}
