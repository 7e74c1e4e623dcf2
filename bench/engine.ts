/**
 * The dream-agent the in-memory benchmarks run: the built package (`dist/`, precompiled JS, as a user
 * installs it and as the peers run theirs), so the comparison with the peers is fair. `npm run bench`
 * builds `dist/` first (ESM JS only, `bench/tsup.bench.ts`, ~10 s); before running a bench file
 * directly, run `npm run build` or `npx tsup --config bench/tsup.bench.ts`. `BENCH_SOURCE=1` runs
 * `src/` through tsx instead (to try a change without building; slower, tsx wraps every function);
 * `BENCH_DIST=<dir>` runs the build in `<dir>` (e.g. a copy of the previous commit's `dist/`).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as Api from '../src/index.js';

// BENCH_DIST=<dir> runs another build (say, the previous commit's dist, to compare before and after).
const distUrl = process.env['BENCH_DIST']
  ? pathToFileURL(resolve(process.env['BENCH_DIST'], 'index.js'))
  : new URL('../dist/index.js', import.meta.url);

/** Where the engine under test is loaded from: `dist` (built, the default) or `src` (through tsx). */
export const engineSource: 'dist' | 'src' = process.env['BENCH_SOURCE'] === '1' ? 'src' : 'dist';

let loaded: Promise<typeof Api> | undefined;

/**
 * The engine's public API, from `dist/` (default) or `src/` (`BENCH_SOURCE=1`); loaded once.
 *
 * @returns the module
 * @throws Error when `dist/index.js` was not built
 */
export function loadEngine(): Promise<typeof Api> {
  loaded ??= (async () => {
    if (engineSource === 'src') return import('../src/index.js');
    if (!existsSync(fileURLToPath(distUrl)))
      throw new Error(
        'bench: dist/index.js is missing: run `npx tsup --config bench/tsup.bench.ts` (or `npm run bench`, which builds it), or set BENCH_SOURCE=1',
      );
    return (await import(distUrl.href)) as typeof Api;
  })();
  return loaded;
}
