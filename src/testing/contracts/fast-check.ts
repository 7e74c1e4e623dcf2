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
    let m: typeof FastCheck & { default?: FastCheckApi };
    try {
      if (typeof require !== 'function') throw err;
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the CommonJS fallback (see above)
      m = require('fast-check') as typeof FastCheck & { default?: FastCheckApi };
    } catch (cause) {
      throw new Error(
        'the property cases of the dream-agent/testing contract suites need fast-check (an optional peer): npm install -D fast-check',
        { cause },
      );
    }
    return m.default ?? m;
  }
}
