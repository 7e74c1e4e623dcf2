import type { Store } from '../ports/store.js';

/** The method names of the Store port, in one place for wrappers. */
export const STORE_METHODS = [
  'createSession',
  'getSession',
  'listSessions',
  'acquireLease',
  'renewLease',
  'releaseLease',
  'commit',
  'getTodos',
  'getPlan',
  'listPlanVersions',
  'readEvents',
  'enqueueCommand',
  'pendingCommands',
  'getCommand',
] as const satisfies readonly (keyof Store)[];

/**
 * Builds a Store whose every method goes through `around(name, call)`: the basis of the test wrappers
 * (`guardStore`, `pausableStore`) and of any instrumentation a test needs.
 *
 * @param inner - the store to wrap
 * @param around - called for each call with the method name and a function performing it
 * @returns the wrapped store
 */
export function wrapStore(
  inner: Store,
  around: (method: (typeof STORE_METHODS)[number], call: () => Promise<unknown>) => Promise<unknown>,
): Store {
  const out: Partial<Record<(typeof STORE_METHODS)[number], unknown>> = {};
  for (const name of STORE_METHODS) {
    const fn = inner[name] as (...args: unknown[]) => Promise<unknown>;
    out[name] = (...args: unknown[]) => around(name, () => fn.apply(inner, args));
  }
  return out as unknown as Store;
}
