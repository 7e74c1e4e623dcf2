/**
 * Runs every benchmark in sequence as child processes and prints their JSON. `npm run bench`.
 * Each benchmark compares ratios within its own run; absolute numbers vary with the machine's load.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const benches = [
  'core.ts',
  'peers.ts',
  'schema.ts',
  'tools.ts',
  'clinc150.ts',
  'understanding.ts',
  'postgres.ts',
  'sqlite.ts',
  'reactions.ts',
  'vector.ts',
  'llm-adapters.ts',
  'security.ts',
  'transports.ts',
  'load.ts',
].filter((b) => existsSync(here(`./${b}`)));
const only = process.argv.slice(2);
let failed = 0;
// The in-memory benchmarks run the built package (bench/engine.ts): build its JS first (ESM, no .d.ts).
if (process.env['BENCH_SOURCE'] !== '1') {
  process.stderr.write('# building dist/ (npx tsup --config bench/tsup.bench.ts)\n');
  const built = spawnSync('npx', ['tsup', '--config', here('./tsup.bench.ts'), '--silent'], {
    stdio: 'inherit',
    cwd: here('..'),
  });
  if (built.status !== 0) process.exit(1);
}
for (const b of benches) {
  if (only.length > 0 && !only.some((o) => b.startsWith(o))) continue;
  process.stderr.write(`\n# bench/${b}\n`);
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', here(`./${b}`)], {
    stdio: 'inherit',
    env: process.env,
  });
  if (r.status !== 0) failed += 1;
}
process.exit(failed > 0 ? 1 : 0);
