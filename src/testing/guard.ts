import { DreamAgentError } from '../errors/index.js';
import type { Commit, Store } from '../ports/store.js';
import { wrapStore } from './wrap.js';

/**
 * Wraps a Store and fails loudly when the engine mutates an object after handing it to `commit`, or
 * mutates an object the store returned (returned objects are deep-frozen). Catches the aliasing bugs
 * that make in-memory tests pass while a real database would have stored something else.
 *
 * @param inner - the store to wrap
 * @returns a store with the same behaviour plus the checks; call `verify()` at the end of a test
 */
export function guardStore(inner: Store): Store & {
  /** Throws an `INTERNAL` DreamAgentError when an object passed to `commit()` was mutated since. */
  verify(): void;
  /** How many commits went through. */
  commits: number;
} {
  const committed: { commit: Commit; json: string }[] = [];
  let commits = 0;
  const check = (): void => {
    for (const c of committed) {
      if (JSON.stringify(c.commit) !== c.json) {
        throw new DreamAgentError(
          'INTERNAL',
          `an object passed to commit() for "${c.commit.sessionId}" was mutated after the commit`,
        );
      }
    }
  };
  const freeze = <T>(value: T): T => {
    if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
      Object.freeze(value);
      for (const v of Object.values(value as Record<string, unknown>)) freeze(v);
    }
    return value;
  };
  const base = wrapStore(inner, async (method, call) => {
    check();
    const result = freeze(await call());
    if (method === 'commit') commits += 1;
    return result;
  });
  const guarded: Store & { verify(): void; commits: number } = {
    ...base,
    commit: async (c) => {
      const result = await base.commit(c);
      committed.push({ commit: c, json: JSON.stringify(c) });
      if (committed.length > 500) committed.shift();
      return result;
    },
    verify: check,
    get commits() {
      return commits;
    },
  };
  return guarded;
}
