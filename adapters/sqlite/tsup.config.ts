import { defineConfig } from 'tsup';

// ESM + CommonJS + types, for Node 20; dream-agent and the vendor SDK are peers and stay external.
export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: false,
  clean: true,
  target: 'node20',
  splitting: true,
  shims: true,
  treeshake: true,
  // Resolves dream-agent to the core's source for the types; it stays an external import in the output.
  tsconfig: 'tsconfig.build.json',
});
