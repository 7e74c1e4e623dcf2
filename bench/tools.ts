/**
 * Tool benchmarks: loading 1,000 YAML tools (time, memory), hot-reload latency (file write → new version
 * served) and execution-cache hit overhead per todo. Prints one JSON object.
 *
 *   npx tsx bench/tools.ts
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { ExecutionContext } from '../src/layers.js';
import { TodoSchema } from '../src/model/plan.js';
import { systemClock } from '../src/ports/clock.js';
import { silentLogger } from '../src/ports/logger.js';
import { MemoryCache } from '../src/ports/memory/cache.js';
import { defineTool } from '../src/tools/define.js';
import { ToolExecutor } from '../src/tools/executor.js';
import { ToolRegistry } from '../src/tools/registry.js';

const N = 1000;

function toolYaml(i: number, description = `Tool number ${i} queries rows of dataset ${i}`): string {
  // Schemas differ per tool (property names), so nothing can be shared between validators.
  return `name: bench.tool${i}
description: ${description}
domain: ${['data', 'insight', 'content', 'ops'][i % 4]}
input:
  type: object
  properties:
    period${i}: { type: string, pattern: "^[0-9]{4}-Q[1-4]$" }
    limit${i}: { type: integer, minimum: 1, maximum: 1000 }
    region${i}: { enum: [north, south, east, west] }
  required: [period${i}]
output: { type: object, properties: { rows${i}: { type: array, items: { type: object } } } }
handler: { http: { url: "https://api.example.com/datasets/${i}/rows", method: POST, headers: { Authorization: "Bearer \${env:TOKEN}" } } }
idempotent: true
cache: { ttl: 600 }
timeout: 30000
retries: { max: 2, backoff: 500 }
tags: [bench, set${i % 10}]
`;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

async function loadBench(dir: string): Promise<Record<string, number>> {
  await Promise.all(Array.from({ length: N }, (_, i) => writeFile(join(dir, `tool${i}.yaml`), toolYaml(i))));
  const runs: number[] = [];
  let heapDelta = 0;
  for (let r = 0; r < 5; r++) {
    globalThis.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const reg = new ToolRegistry();
    const t0 = performance.now();
    const res = await reg.discover(dir);
    runs.push(performance.now() - t0);
    if (res.tools.length !== N || res.errors.length > 0) {
      throw new Error(`loaded ${res.tools.length} tools, ${res.errors.length} errors`);
    }
    if (r === 0) {
      globalThis.gc?.();
      heapDelta = process.memoryUsage().heapUsed - heapBefore;
    }
    await reg.close();
  }
  return {
    tools: N,
    firstLoadMs: round(runs[0] ?? 0, 1),
    medianLoadMs: round(percentile(runs.slice(1), 50), 1),
    heapMiB: round(heapDelta / 1024 / 1024, 1),
    // Precise only with --expose-gc: `node --expose-gc --import tsx bench/tools.ts`.
    heapIsPrecise: globalThis.gc === undefined ? 0 : 1,
  };
}

async function reloadBench(dir: string): Promise<Record<string, number>> {
  const reg = new ToolRegistry();
  await reg.watch(dir);
  const latencies: number[] = [];
  for (let k = 0; k < 20; k++) {
    const i = (k * 37) % N;
    const description = `Edited ${k}`;
    const served = new Promise<number>((resolve) => {
      const off = reg.on('tool.updated', ({ tool }) => {
        if (tool.name === `bench.tool${i}` && reg.get(tool.name)?.description === description) {
          off();
          resolve(performance.now());
        }
      });
    });
    const t0 = performance.now();
    await writeFile(join(dir, `tool${i}.yaml`), toolYaml(i, description));
    latencies.push((await served) - t0);
    await new Promise((r) => setTimeout(r, 30));
  }
  await reg.close();
  return {
    samples: latencies.length,
    p50Ms: round(percentile(latencies, 50), 1),
    p95Ms: round(percentile(latencies, 95), 1),
    maxMs: round(Math.max(...latencies), 1),
  };
}

async function cacheBench(): Promise<Record<string, number>> {
  const reg = new ToolRegistry();
  let calls = 0;
  reg.register(
    defineTool({
      name: 'bench.lookup',
      description: 'A cheap cacheable lookup',
      domain: 'data',
      input: z.object({ region: z.string(), period: z.string(), filters: z.record(z.string(), z.string()) }),
      output: z.object({ rows: z.array(z.object({ id: z.number(), total: z.number() })) }),
      handler: () => {
        calls++;
        return { rows: Array.from({ length: 20 }, (_, id) => ({ id, total: id * 10 })) };
      },
      cache: { ttl: 600 },
    }),
  );
  const ctx: ExecutionContext = {
    sessionId: 's',
    turnId: 't',
    todoId: 'x',
    signal: new AbortController().signal,
    clock: systemClock,
    logger: silentLogger,
    metadata: {},
    idempotencyKey: 'k',
    attempt: 1,
    plan: { id: 'p', version: 1, todos: [] },
    progress: () => undefined,
    delta: () => undefined,
    requestInput: () => Promise.reject(new Error('no')),
    tools: reg,
    cache: new MemoryCache({ max: 10_000 }),
  };
  const todo = TodoSchema.parse({ id: 'x', title: 'x', domain: 'data', tool: 'bench.lookup' });
  const input = { region: 'north', period: '2024-Q4', filters: { channel: 'web', segment: 'smb' } };
  const cached = new ToolExecutor();
  const uncached = new ToolExecutor({ cache: false });
  const iters = 20_000;
  const time = async (ex: ToolExecutor): Promise<number> => {
    for (let i = 0; i < 2000; i++) await ex.execute(todo, input, ctx); // warm up
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) await ex.execute(todo, input, ctx);
    return ((performance.now() - t0) * 1000) / iters;
  };
  const hitUs = await time(cached);
  const callsAfterHits = calls;
  const runUs = await time(uncached);
  if (callsAfterHits !== 1) throw new Error(`expected 1 handler call on the hit path, got ${callsAfterHits}`);
  return {
    iterations: iters,
    hitMicrosPerTodo: round(hitUs, 2),
    trivialHandlerUncachedMicrosPerTodo: round(runUs, 2),
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'da-bench-tools-'));
  try {
    const load = await loadBench(dir);
    const reload = await reloadBench(dir);
    const cache = await cacheBench();
    process.stdout.write(
      `${JSON.stringify(
        {
          bench: 'tools',
          node: process.version,
          load1000Yaml: load,
          hotReload: reload,
          cacheHit: cache,
          goals: { loadUnderMs: 1000, reloadUnderMs: 200 },
          ok: load['medianLoadMs']! < 1000 && reload['p95Ms']! < 200,
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
