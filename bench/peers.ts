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
    // Best (least disturbed) of the repetitions, wall clock and CPU time of this process apart: on a
    // loaded machine the CPU time is the steadier measure (the wall clock also counts the time other
    // processes held the cores). Both are printed; the CPU ratio is the one to trust under load.
    const best = new Map<string, { us: number; cpuUs: number }>();
    const take = (name: string, c: { us: number; cpuUs: number }): void => {
      const b = best.get(name) ?? { us: Infinity, cpuUs: Infinity };
      best.set(name, { us: Math.min(b.us, c.us), cpuUs: Math.min(b.cpuUs, c.cpuUs) });
    };
    // Warm-up (JIT) for everyone, then interleaved repetitions.
    await runOnce(todos, 1);
    for (const r of runners) await r.run();
    const peerReps = n >= 1000 ? Math.max(2, Math.ceil(reps / 2)) : reps;
    for (let i = 0; i < reps; i += 1) {
      take('dreamAgent', await runOnce(todos, 1));
      if (i < peerReps) for (const r of runners) take(r.name, await r.run());
    }
    const none = { us: Infinity, cpuUs: Infinity };
    const ours = best.get('dreamAgent') ?? none;
    const fastestBy = (k: 'us' | 'cpuUs'): { name: string; v: number } | undefined =>
      runners.reduce<{ name: string; v: number } | undefined>((acc, r) => {
        const v = (best.get(r.name) ?? none)[k];
        return acc === undefined || v < acc.v ? { name: r.name, v } : acc;
      }, undefined);
    const fastest = fastestBy('us');
    const fastestCpu = fastestBy('cpuUs');
    out[`chain${n}`] = {
      steps: n,
      dreamAgentUsPerTodo: round1(ours.us),
      dreamAgentCpuUsPerTodo: round1(ours.cpuUs),
      peersUsPerStep: Object.fromEntries(runners.map((r) => [r.name, round1((best.get(r.name) ?? none).us)])),
      peersCpuUsPerStep: Object.fromEntries(
        runners.map((r) => [r.name, round1((best.get(r.name) ?? none).cpuUs)]),
      ),
      ...(fastest && fastestCpu
        ? {
            fastestPeer: fastest.name,
            // The target: dream-agent ≤ 0.1 × the fastest peer.
            ratioToFastestPeer: round2(ours.us / fastest.v),
            fastestPeerByCpu: fastestCpu.name,
            cpuRatioToFastestPeer: round2(ours.cpuUs / fastestCpu.v),
            timesFasterThan: Object.fromEntries(
              runners.map((r) => [r.name, round1((best.get(r.name) ?? none).us / ours.us)]),
            ),
          }
        : {}),
    };
  }
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

await main();
