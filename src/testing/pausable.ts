import type { Store } from '../ports/store.js';

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
  const wrap =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (gate) {
        blocked += 1;
        await gate;
        blocked -= 1;
      }
      return fn(...args);
    };
  return {
    createSession: wrap(inner.createSession.bind(inner)),
    getSession: wrap(inner.getSession.bind(inner)),
    listSessions: wrap(inner.listSessions.bind(inner)),
    acquireLease: wrap(inner.acquireLease.bind(inner)),
    renewLease: wrap(inner.renewLease.bind(inner)),
    releaseLease: wrap(inner.releaseLease.bind(inner)),
    commit: wrap(inner.commit.bind(inner)),
    getTodos: wrap(inner.getTodos.bind(inner)),
    getPlan: wrap(inner.getPlan.bind(inner)),
    listPlanVersions: wrap(inner.listPlanVersions.bind(inner)),
    readEvents: wrap(inner.readEvents.bind(inner)),
    enqueueCommand: wrap(inner.enqueueCommand.bind(inner)),
    pendingCommands: wrap(inner.pendingCommands.bind(inner)),
    getCommand: wrap(inner.getCommand.bind(inner)),
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
