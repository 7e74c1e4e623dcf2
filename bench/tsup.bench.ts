import { defineConfig } from 'tsup';
import base from '../tsup.config.js';

/**
 * The core's ESM JavaScript build only (no `.d.ts`, no CommonJS; every entry, split as published): what the in-memory benchmarks import
 * from `dist/` (`bench/engine.ts`). Same esbuild settings as the published build, seconds instead of
 * minutes. `npx tsup --config bench/tsup.bench.ts`.
 */
export default defineConfig({
  ...(base as object),
  format: ['esm'],
  dts: false,
  clean: false,
});
