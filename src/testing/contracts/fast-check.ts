/**
 * Loads fast-check for the contract suites' property cases, only when one runs: users of
 * `dream-agent/testing` who never run them (Jest users of ScriptedModel, ManualClock…) need not install it.
 * A dynamic `import()` fails under Jest's CommonJS runtime (no `--experimental-vm-modules`), so the
 * CommonJS build falls back to `require`.
 */
import type * as FastCheck from 'fast-check';

type FastCheckApi = typeof FastCheck.default;

/** @returns fast-check, loaded on first use */
export async function loadFastCheck(): Promise<FastCheckApi> {
  try {
    return (await import('fast-check')).default;
  } catch (err) {
    if (typeof require !== 'function') throw err;
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the CommonJS fallback (see above)
    const m = require('fast-check') as typeof FastCheck & { default?: FastCheckApi };
    return m.default ?? m;
  }
}
