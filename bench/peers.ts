/**
 * dream-agent beside its peers: the identical n-step in-memory chain (100 and 1,000 steps) on
 * dream-agent, Mastra workflows and LangGraph.js (with a MemorySaver and without a checkpointer), every
 * event consumed, measured in this one process with the runs interleaved so load on the machine hits
 * all of them alike. Prints one JSON object with each µs per step and the ratios.
 *
 *   npm install --prefix bench/peers     # once: the peers live outside the workspaces
 *   npx tsup --config bench/tsup.bench.ts  # builds dist/ (npm run bench does this itself)
 *   npx tsx bench/peers.ts               # or `npm run bench`
 *   BENCH_QUICK=1 npx tsx bench/peers.ts
 *   BENCH_PEERS=mastraStream,mastraStart npx tsx bench/peers.ts   # only these peers
 *
 * Without `bench/peers/node_modules` it says so and prints dream-agent's numbers alone.
 */
import { chain, round1, round2, runOnce } from './lib.js';
import { peers } from './peers/chain.js';
import { engineSource } from './engine.js';

const quick = process.env['BENCH_QUICK'] === '1';

async function main(): Promise<void> {
  const reps = quick ? 2 : 5;
  // BENCH_PEERS=mastraStart,langgraphNoCheckpointer runs only those (the MemorySaver chain of 1,000
  // takes most of a full run on a loaded machine).
  const only = process.env['BENCH_PEERS']?.split(',').filter(Boolean);
  const all = await peers();
  const missing = all.missing;
  const available = only ? all.available.filter((p) => only.includes(p.name)) : all.available;
  const out: Record<string, unknown> = {
    bench: 'peers',
    node: process.version,
    quick,
    // dream-agent runs from its built package (precompiled JS, like the peers), unless BENCH_SOURCE=1.
    dreamAgentFrom: engineSource,
  };
  if (missing !== undefined) {
    out['peers'] = `not installed (run \`npm install --prefix bench/peers\`): ${missing}`;
    process.stderr.write(`peer comparison unavailable: ${missing}\n`);
  } else {
    out['versions'] = Object.fromEntries(available.map((p) => [p.name, p.version]));
  }
  for (const n of [100, 1000]) {
    const todos = chain(n);
    const runners = await Promise.all(available.map(async (p) => ({ name: p.name, run: await p.build(n) })));
    const best = new Map<string, number>([
      ['dreamAgent', Infinity],
      ...runners.map((r) => [r.name, Infinity] as const),
    ]);
    const take = (name: string, us: number): void => {
      best.set(name, Math.min(best.get(name) ?? Infinity, us));
    };
    // Warm-up (JIT) for everyone, then interleaved repetitions.
    await runOnce(todos, 1);
    for (const r of runners) await r.run();
    const peerReps = n >= 1000 ? Math.max(2, Math.ceil(reps / 2)) : reps;
    for (let i = 0; i < reps; i += 1) {
      take('dreamAgent', (await runOnce(todos, 1)).us);
      if (i < peerReps) for (const r of runners) take(r.name, await r.run());
    }
    const ours = best.get('dreamAgent') ?? Infinity;
    const peerUs = Object.fromEntries(runners.map((r) => [r.name, round1(best.get(r.name) ?? Infinity)]));
    const fastest = runners.reduce<{ name: string; us: number } | undefined>((acc, r) => {
      const us = best.get(r.name) ?? Infinity;
      return acc === undefined || us < acc.us ? { name: r.name, us } : acc;
    }, undefined);
    out[`chain${n}`] = {
      steps: n,
      dreamAgentUsPerTodo: round1(ours),
      peersUsPerStep: peerUs,
      ...(fastest
        ? {
            fastestPeer: fastest.name,
            // The target: dream-agent ≤ 0.1 × the fastest peer.
            ratioToFastestPeer: round2(ours / fastest.us),
            timesFasterThan: Object.fromEntries(
              runners.map((r) => [r.name, round1((best.get(r.name) ?? 0) / ours)]),
            ),
          }
        : {}),
    };
  }
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

await main();
