/**
 * The engine's growth only (a quick check of issue 10's flat-cost target, well under a minute):
 * per-todo cost of a chain and a fan-out at 100 and 4,000 todos, concurrency 1 and 8, through the
 * public API of the built package (`bench/engine.ts`), and the 4,000/100 ratio (target ≤ 1.2).
 * `npx tsup --config bench/tsup.bench.ts && npx tsx bench/engine-growth.ts`.
 * The full set (1,000 too, and the scheduling layer alone) is in `bench/core.ts`.
 */
import type { TodoInput } from '../src/index.js';
import { chain, fan, round2, runOnce, timeRun } from './lib.js';
import { engineSource } from './engine.js';

const sizes = (process.env['GROWTH_SIZES'] ?? '100,4000').split(',').map(Number);
const out: Record<string, unknown> = {
  bench: 'engine-growth',
  node: process.version,
  dreamAgentFrom: engineSource,
};
const shapes: [string, (n: number) => TodoInput[]][] = [
  ['long', (n) => chain(n)],
  ['wide', (n) => fan(n - 1)],
];
// The resource-limited path too (`resources: { work: 4 }` at concurrency 8: the limits choose among
// the ready todos).
const configs: [number, Record<string, number> | undefined][] = [
  [1, undefined],
  [8, undefined],
  [8, { work: 4 }],
];
for (const [shape, build] of shapes) {
  for (const [c, resources] of configs) {
    const row: Record<string, number> = {};
    for (const n of sizes) {
      const todos = build(n);
      await runOnce(todos.slice(0, Math.min(n, 200)), c, resources); // warm-up
      const t = await timeRun(todos, c, n >= 4000 ? 3 : 5, resources);
      row[`n${n}`] = t.usPerTodo;
      row[`cpuN${n}`] = t.cpuUsPerTodo;
    }
    const first = sizes[0] as number;
    const last = sizes[sizes.length - 1] as number;
    row[`ratio${last}to${first}`] = round2((row[`n${last}`] ?? 0) / (row[`n${first}`] ?? 1));
    // CPU time of this process: steadier than the wall clock on a loaded machine.
    row[`cpuRatio${last}to${first}`] = round2((row[`cpuN${last}`] ?? 0) / (row[`cpuN${first}`] ?? 1));
    out[`${shape}_c${c}${resources ? '_resources' : ''}`] = row;
  }
}
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
