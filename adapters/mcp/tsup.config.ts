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
  // Types of dream-agent come from the core's build (build it first: `npm run build` at the root does).
  tsconfig: 'tsconfig.build.json',
});
