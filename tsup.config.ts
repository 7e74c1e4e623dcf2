import { defineConfig } from 'tsup';

/**
 * The core package: one ESM and one CommonJS build of every public entry point, with `.d.ts`/`.d.cts`.
 *
 * - `splitting` shares code between entry points in chunks (also in CommonJS), so `dream-agent`,
 *   `dream-agent/offline`, `/testing` and `/adapter-kit` hold one copy of each class: an error or a clock
 *   from one entry is the same class in another.
 * - Dependencies and peers stay external (tsup's default); devDependencies that the code still imports
 *   are bundled: p-queue (ESM-only, which Jest's CommonJS runtime cannot `require`) until the last user of
 *   it goes.
 * - No source maps: they would ship the whole source a second time.
 */
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'testing/index': 'src/testing/index.ts',
    'adapter-kit': 'src/adapter-kit.ts',
    offline: 'src/offline.ts',
    // The `dream-agent` executable (package.json `bin`).
    'cli/index': 'src/cli/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: false,
  clean: true,
  target: 'node20',
  splitting: true,
  shims: true,
  treeshake: true,
  // Only type imports of vitest remain (src/testing/contracts/api.ts); never bundle or require it.
  external: ['vitest'],
});
