/**
 * Overhead of observability, encryption at rest and the audit trail per todo, each measured against the
 * bare engine in the same run (in memory, a 200-step chain, every event consumed), interleaved round by
 * round so machine noise hits every variant alike, timed in CPU time. Prints one JSON object; read the
 * ratios.
 *
 * The PostgreSQL part (skip with BENCH_PG=0) runs the same chain on a throwaway PostgreSQL cluster, bare
 * and with all four, and reports wall time per todo (a PostgreSQL cycle is mostly waiting for the
 * server: CPU time of this process would miss it) and what the four add as a share of that cycle —
 * both measured, and computed from the in-memory CPU µs they add.
 *
 *   npx tsx bench/security.ts
 *   BENCH_QUICK=1 npx tsx bench/security.ts
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@dream-agent/sqlite';
import { PostgresStore, migrate } from '@dream-agent/postgres';
import pg from 'pg';
import { startPostgres } from '../test/setup/services.js';
import * as otel from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import {
  AesGcmCodec,
  Agent,
  AgentObserver,
  FunctionPlanner,
  InMemoryMetrics,
  MemoryStore,
  StaticKeyring,
  auditedStore,
  encryptedStore,
  observedStore,
  type Executor,
  type Store,
  type TodoInput,
} from '../src/index.js';

const quick = process.env['BENCH_QUICK'] === '1';
const steps = 200;
const rounds = quick ? 5 : 15;
const noop: Executor = { execute: async (t) => ({ output: { id: t.id, note: 'customer row 42' } }) };
const todos: TodoInput[] = Array.from({ length: steps }, (_, i) => ({
  id: `t${i}`,
  title: `step ${i}`,
  domain: 'work',
  input: { n: i },
  dependsOn: i === 0 ? [] : [`t${i - 1}`],
  idempotent: true,
}));

const exporter = new InMemorySpanExporter();
/** Taken before an SDK is registered: the API's no-op tracer, i.e. what our side of tracing costs. */
// (A tracer taken from the global API before registration is a ProxyTracer that starts delegating to the
// SDK once one is registered: the earlier version of this bench measured the SDK twice that way.)
const noopTracer = new otel.ProxyTracerProvider().getTracer('noop');
const noopOtel = {
  trace: { getTracer: () => noopTracer, setSpan: otel.trace.setSpan },
  context: otel.context,
};
otel.trace.setGlobalTracerProvider(
  new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
);
const codec = new AesGcmCodec(
  new StaticKeyring({ keys: { k1: new Uint8Array(randomBytes(32)) }, current: 'k1' }),
);

const sqliteDir = mkdtempSync(join(tmpdir(), 'dream-bench-sec-'));
let files = 0;
const sqlite = (): SqliteStore => new SqliteStore(join(sqliteDir, `b${(files += 1)}.db`));
const all = (inner: Store): Store =>
  observedStore(
    auditedStore(encryptedStore(inner, { codec })),
    new AgentObserver({ metrics: new InMemoryMetrics(), otel: noopOtel }),
  );

const variants: Record<string, () => Store> = {
  bare: () => new MemoryStore(),
  'bare (again: the noise floor)': () => new MemoryStore(),
  metrics: () => observedStore(new MemoryStore(), new AgentObserver({ metrics: new InMemoryMetrics() })),
  'tracing (API, no SDK)': () =>
    observedStore(
      new MemoryStore(),
      new AgentObserver({
        otel: noopOtel,
      }),
    ),
  'tracing (SDK, in-memory exporter)': () => observedStore(new MemoryStore(), new AgentObserver({ otel })),
  encryption: () => encryptedStore(new MemoryStore(), { codec }),
  audit: () => auditedStore(new MemoryStore()),
  'all (metrics, tracing API, encryption, audit)': () => all(new MemoryStore()),
  'all, with the SDK exporting every span': () =>
    observedStore(
      auditedStore(encryptedStore(new MemoryStore(), { codec })),
      new AgentObserver({ metrics: new InMemoryMetrics(), otel }),
    ),
  'sqlite: bare': sqlite,
  'sqlite: all (metrics, tracing API, encryption, audit)': () => all(sqlite()),
};

/**
 * CPU time (user + system) of this process, not wall time: on a shared machine the wall clock mostly
 * measures waiting for a core, and that wait hit variants unevenly (the same variant swung from +0% to
 * +150% between runs). The engine here is single-threaded and does no I/O in memory, so CPU time is
 * what a variant costs.
 */
const cpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** Wall µs per todo of the last `once` (reported beside CPU time; on a loaded machine it mostly measures waiting). */
let lastWall = 0;

async function once(store: Store): Promise<number> {
  const agent = new Agent({
    store,
    planner: new FunctionPlanner(() => ({ todos })),
    executors: { work: noop },
  });
  const t0 = cpuUs();
  const w0 = performance.now();
  const run = agent.run('go');
  for await (const _ of run) void _;
  const res = await run.result();
  const us = (cpuUs() - t0) / steps;
  lastWall = ((performance.now() - w0) * 1000) / steps;
  if (res.status !== 'completed') throw new Error(`run ended ${res.status}`);
  await agent.close();
  exporter.reset();
  return us;
}

const samples: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
const wallSamples: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (const make of Object.values(variants)) await once(make()); // warm-up
for (let r = 0; r < rounds; r += 1) {
  for (const [name, make] of Object.entries(variants)) {
    samples[name]?.push(await once(make()));
    wallSamples[name]?.push(lastWall);
  }
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};
const bare = median(samples['bare'] ?? []);
const bareSqlite = median(samples['sqlite: bare'] ?? []);
const result = Object.fromEntries(
  Object.entries(samples).map(([k, xs]) => {
    const m = median(xs);
    const base = k.startsWith('sqlite') ? bareSqlite : bare;
    return [
      k,
      {
        usPerTodo: Math.round(m * 10) / 10,
        overhead: Math.round((m / base - 1) * 1000) / 1000,
        wallUsPerTodo: Math.round(median(wallSamples[k] ?? []) * 10) / 10,
      },
    ];
  }),
);
rmSync(sqliteDir, { recursive: true, force: true });

/** Wall µs per todo of one run (PostgreSQL: the cycle waits on the server). */
async function onceWall(store: Store): Promise<number> {
  const agent = new Agent({
    store,
    planner: new FunctionPlanner(() => ({ todos })),
    executors: { work: noop },
  });
  const t0 = performance.now();
  const run = agent.run('go');
  for await (const _ of run) void _;
  const res = await run.result();
  const us = ((performance.now() - t0) * 1000) / steps;
  if (res.status !== 'completed') throw new Error(`run ended ${res.status}`);
  await agent.close();
  return us;
}

let postgres: Record<string, number> | undefined;
if (process.env['BENCH_PG'] !== '0') {
  const server = await startPostgres();
  const pool = new pg.Pool({ connectionString: server.url, max: 4 });
  try {
    await migrate(pool);
    const pgVariants: Record<string, () => Store> = {
      bare: () => new PostgresStore({ pool }),
      all: () => all(new PostgresStore({ pool })),
    };
    const pgSamples: Record<string, number[]> = { bare: [], all: [] };
    for (const make of Object.values(pgVariants)) await onceWall(make());
    for (let r = 0; r < (quick ? 3 : 7); r += 1) {
      for (const [name, make] of Object.entries(pgVariants)) pgSamples[name]?.push(await onceWall(make()));
    }
    const pgBare = median(pgSamples['bare'] ?? []);
    const pgAll = median(pgSamples['all'] ?? []);
    const addedInMemory = median(samples['all (metrics, tracing API, encryption, audit)'] ?? []) - bare;
    postgres = {
      bareWallUsPerTodo: Math.round(pgBare),
      allWallUsPerTodo: Math.round(pgAll),
      measuredOverhead: Math.round((pgAll / pgBare - 1) * 1000) / 1000,
      // The four's CPU cost per todo (in memory, same run) as a share of a PostgreSQL cycle per todo.
      addedCpuShareOfCycle: Math.round((addedInMemory / pgBare) * 1000) / 1000,
    };
  } finally {
    await pool.end();
    await server.stop();
  }
}

const allAdded = median(samples['all (metrics, tracing API, encryption, audit)'] ?? []) - bare;
console.log(
  JSON.stringify(
    {
      bench: 'security',
      steps,
      rounds,
      ...result,
      allAddedUsPerTodo: Math.round(allAdded * 10) / 10,
      ...(postgres ? { postgres } : {}),
    },
    null,
    2,
  ),
);
