/**
 * How the contract suites reach a test framework without importing one.
 *
 * `dream-agent/testing` used to `import { describe, it, expect } from 'vitest'` at module load, so Jest and
 * `node:test` users could not even load `ScriptedModel` or `ManualClock` from it. The suites now call the
 * three delegates below, which look the framework up when a suite is declared or a case runs: the
 * functions given to {@link useTestApi} (or a suite's `test` option), else the globals Jest and vitest
 * (`globals: true`) define.
 *
 * @packageDocumentation
 */
import type { ExpectStatic, SuiteAPI, TestAPI } from 'vitest';
import { DreamAgentError } from '../../errors/index.js';

/**
 * The three test functions a contract suite needs. vitest's and Jest's `describe`, `it` and `expect` fit
 * as they are: `useTestApi({ describe, it, expect })`.
 */
export interface TestApi {
  /** Declares a group of cases. */
  describe(name: string, fn: () => void): void;
  /** Declares a case; `it.skip` declares a skipped one (its name carries the reason). */
  it: {
    (name: string, fn: () => Promise<void> | void, timeout?: number): void;
    /** Declares a skipped case. */
    skip(name: string, fn: () => Promise<void> | void): void;
  };
  /** The assertion function (vitest's or Jest's `expect`; matchers used: the common Jest set). */
  expect: (actual: unknown, message?: string) => unknown;
}

let installed: TestApi | undefined;

/**
 * Gives the contract suites of `dream-agent/testing` the test functions to use, for the whole process (a
 * test process runs one framework). Needed with vitest unless `globals: true` is set; Jest's globals are
 * found on their own.
 *
 * @param api - the framework's `describe`, `it` and `expect`
 * @throws DreamAgentError `INVALID_INPUT` when one of the three is not a function
 * @example
 * ```ts
 * import { describe, expect, it } from 'vitest';
 * import { storeContract, useTestApi } from 'dream-agent/testing';
 *
 * useTestApi({ describe, it, expect });
 * storeContract('MyStore', async ({ clock }) => ({ store: new MyStore({ clock }) }));
 * ```
 */
export function useTestApi(api: TestApi): void {
  for (const key of ['describe', 'it', 'expect'] as const) {
    if (typeof api[key] !== 'function') {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `useTestApi: ${key} must be a function, got ${typeof api[key]}`,
      );
    }
  }
  installed = api;
}

function current(): TestApi {
  if (installed !== undefined) return installed;
  const g = globalThis as unknown as Partial<TestApi>;
  if (typeof g.describe === 'function' && typeof g.it === 'function' && typeof g.expect === 'function') {
    return g as TestApi;
  }
  throw new DreamAgentError(
    'INVALID_STATE',
    "dream-agent/testing: no test framework found. Call useTestApi({ describe, it, expect }) with your framework's functions (e.g. from 'vitest') before declaring a contract suite, or enable test globals.",
  );
}

/** `describe`, resolved when a suite is declared. */
export const describe = ((name: string, fn: () => void) =>
  current().describe(name, fn)) as unknown as SuiteAPI;

/** `it` (and `it.skip`), resolved when a case is declared. */
export const it = Object.assign(
  (name: string, fn: () => Promise<void> | void, timeout?: number) =>
    timeout === undefined ? current().it(name, fn) : current().it(name, fn, timeout),
  { skip: (name: string, fn: () => Promise<void> | void) => current().it.skip(name, fn) },
) as unknown as TestAPI;

/** `expect` (and its asymmetric matchers such as `expect.arrayContaining`), resolved when called. */
export const expect = new Proxy(function expect() {} as unknown as ExpectStatic, {
  // vitest's expect takes an optional message; Jest's throws when given more than the value.
  apply: (_target, _this, args: unknown[]) => {
    const fn = current().expect;
    return Reflect.apply(fn, undefined, fn.length >= 2 ? args : args.slice(0, 1)) as unknown;
  },
  get: (_target, key) => Reflect.get(current().expect, key) as unknown,
});
