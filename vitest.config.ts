import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^dream-agent\/testing$/, replacement: here('./src/testing/index.ts') },
      { find: /^dream-agent\/adapter-kit$/, replacement: here('./src/adapter-kit.ts') },
      { find: /^dream-agent\/offline$/, replacement: here('./src/offline.ts') },
      { find: /^dream-agent$/, replacement: here('./src/index.ts') },
      // The private test harness package resolves through its workspace link (test/services/).
      {
        find: /^@dream-agent\/(?!test-services$)([a-z0-9-]+)$/,
        replacement: here('./adapters/$1/src/index.ts'),
      },
    ],
  },
  test: {
    include: ['test/**/*.test.ts', 'adapters/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    globalSetup: ['./test/setup/global.ts'],
    // The contract suites of dream-agent/testing take vitest's functions from here (they import no framework).
    setupFiles: ['./test/setup/test-api.ts', './test/setup/property-seed.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The JSON report lets .ci/run print a plain 'N passed, N failed' summary line.
    reporters: ['default', ['json', { outputFile: 'test-artifacts/vitest-report.json' }]],
  },
});
