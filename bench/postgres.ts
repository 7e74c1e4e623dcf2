/**
 * Durable-cycle benchmark: `npx tsx bench/postgres.ts`.
 *
 * Starts its own throwaway PostgreSQL (fsync on: real commits) and measures, in the same run:
 * - the raw commit rate of that PostgreSQL: pgbench-style single-row INSERT transactions, 1 client and 8;
 * - durable cycles through `PostgresStore.commit` (one cycle's deltas: session state, 2 events, a todo
 *   row with a 1 KB output), for 1 session and for 8 concurrent sessions, and the ratio to the raw rate;
 * - full Agent turns (a chain of no-op todos: one cycle per todo), 1 session and 8;
 * - round trips per commit (queries sent per commit) and WAL bytes per cycle at cycles 10, 100 and 500;
 * - the same store-level loop on SQLite (WAL, synchronous=NORMAL) and on the MemoryStore.
 * Prints one JSON document. Only ratios within one run mean anything.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  Agent,
  FunctionPlanner,
  MemoryStore,
  type AgentEvent,
  type Commit,
  type SessionState,
  type Store,
  type TodoRecord,
} from 'dream-agent';
import { PostgresStore, migrate } from '@dream-agent/postgres';
import { SqliteStore } from '@dream-agent/sqlite';
import { startPostgres } from '../test/setup/services.js';

const RAW_N = Number(process.env['BENCH_RAW_N'] ?? 3000);
const CYCLES = Number(process.env['BENCH_CYCLES'] ?? 1500);
const SESSIONS = 8;
const TTL = 60_000;

const now = (): number => performance.now();
const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;
const state = (i: number): SessionState => ({
  turn: {
    id: 'turn',
    index: 1,
    input: 'bench',
    phase: 'executing',
    clarifications: [],
    pending: [],
    paused: false,
    startedAt: i,
  },
  turns: 1,
  dialogue: [],
  slots: { region: 'EMEA' },
  metadata: { tenant: 'bench' },
});
const output = { text: 'x'.repeat(1000) };

function cycleCommit(
  sessionId: string,
  version: number,
  lastSeq: number,
  lease: { owner: string; epoch: number },
  i: number,
): Commit {
  const todo: TodoRecord = {
    sessionId,
    turnId: 'turn',
    todoId: `t${i}`,
    status: 'completed',
    attempts: 1,
    idempotencyKey: `k${i}`,
    output,
    startedAt: i,
    finishedAt: i,
  };
  const events = [
    {
      type: 'todo.started',
      sessionId,
      turnId: 'turn',
      seq: lastSeq + 1,
      at: i,
      todoId: `t${i}`,
      attempt: 1,
      idempotencyKey: `k${i}`,
    },
    {
      type: 'todo.completed',
      sessionId,
      turnId: 'turn',
      seq: lastSeq + 2,
      at: i,
      todoId: `t${i}`,
      output,
      cached: false,
      durationMs: 1,
    },
  ] as AgentEvent[];
  return {
    sessionId,
    expectedVersion: version,
    lease,
    status: 'running',
    state: state(i),
    events,
    todos: [todo],
    planVersions: [],
    inboxAcks: [],
    leaseAction: 'renew',
    leaseTtlMs: TTL,
  };
}

/** Runs `cycles` commits on one session; returns per-cycle latencies (ms). */
async function storeCycles(
  store: Store,
  sessionId: string,
  cycles: number,
  onCycle?: (i: number) => Promise<void>,
): Promise<number[]> {
  const { record, lease } = await store.createSession(
    { id: sessionId, status: 'running', state: state(0) },
    'bench',
    TTL,
  );
  let version = record.version;
  let lastSeq = record.lastSeq;
  const lat: number[] = [];
  for (let i = 1; i <= cycles; i += 1) {
    const t = now();
    const r = await store.commit(cycleCommit(sessionId, version, lastSeq, lease, i));
    lat.push(now() - t);
    version = r.version;
    lastSeq = r.lastSeq;
    if (onCycle) await onCycle(i);
  }
  return lat;
}

const stats = (lat: number[]): { meanMs: number; p50Ms: number; p99Ms: number } => {
  const s = [...lat].sort((a, b) => a - b);
  return {
    meanMs: round(lat.reduce((a, b) => a + b, 0) / Math.max(lat.length, 1)),
    p50Ms: round(s[Math.floor(s.length * 0.5)] ?? 0),
    p99Ms: round(s[Math.floor(s.length * 0.99)] ?? 0),
  };
};

async function storeBench(label: string, mk: () => Store, cycles: number): Promise<Record<string, unknown>> {
  const store = mk();
  const tag = `${label}-${Date.now()}`;
  // warm-up (prepared statements, caches)
  await storeCycles(store, `${tag}-warm`, 50);
  const lat = await storeCycles(store, `${tag}-one`, cycles);
  const t = now();
  const all = await Promise.all(
    Array.from({ length: SESSIONS }, (_, i) =>
      storeCycles(store, `${tag}-many-${i}`, Math.floor(cycles / 2)),
    ),
  );
  const elapsed = (now() - t) / 1000;
  const total = all.reduce((a, l) => a + l.length, 0);
  await store.close?.();
  return {
    oneSession: {
      cycles,
      ...stats(lat),
      cyclesPerSec: round(1000 / (lat.reduce((a, b) => a + b, 0) / lat.length), 0),
    },
    [`${SESSIONS}Sessions`]: { cycles: total, cyclesPerSec: round(total / elapsed, 0), ...stats(all.flat()) },
  };
}

async function agentBench(mk: () => Store, todos: number): Promise<Record<string, unknown>> {
  const store = mk();
  const planner = new FunctionPlanner(() => ({
    todos: Array.from({ length: todos }, (_, i) => ({
      id: `t${i}`,
      title: `t${i}`,
      domain: 'work',
      dependsOn: i ? [`t${i - 1}`] : [],
      input: {},
      idempotent: true,
    })),
  }));
  const agent = new Agent({
    store,
    planner,
    executors: { work: { execute: async () => Promise.resolve({ output: { ok: true } }) } },
  });
  await agent.run('warm').result();
  let t = now();
  await agent.run('one').result();
  const one = (now() - t) / 1000;
  t = now();
  await Promise.all(Array.from({ length: SESSIONS }, () => agent.run('many').result()));
  const many = (now() - t) / 1000;
  await agent.close();
  await store.close?.();
  return {
    todosPerTurn: todos,
    oneSession: { todosPerSec: round(todos / one, 0) },
    [`${SESSIONS}Sessions`]: { todosPerSec: round((todos * SESSIONS) / many, 0) },
  };
}

async function main(): Promise<void> {
  const server = await startPostgres({ fsync: true });
  const dir = mkdtempSync(join(tmpdir(), 'dream-bench-'));
  try {
    const pool = new pg.Pool({ connectionString: server.url, max: 16 });
    await migrate(pool);
    // ---- raw commit rate: single-row INSERT transactions (what pgbench's simplest script does)
    await pool.query(
      'CREATE TABLE raw_commits (id bigserial PRIMARY KEY, v integer NOT NULL, at timestamptz NOT NULL DEFAULT now())',
    );
    const rawOne = async (n: number): Promise<number[]> => {
      const c = await pool.connect();
      const lat: number[] = [];
      for (let i = 0; i < n; i += 1) {
        const t = now();
        await c.query({ name: 'raw', text: 'INSERT INTO raw_commits (v) VALUES ($1)', values: [i] });
        lat.push(now() - t);
      }
      c.release();
      return lat;
    };
    await rawOne(200);
    const raw1 = await rawOne(RAW_N);
    const t = now();
    const raw8 = await Promise.all(Array.from({ length: SESSIONS }, () => rawOne(Math.floor(RAW_N / 2))));
    const raw8Secs = (now() - t) / 1000;
    const raw = {
      oneClient: { commits: RAW_N, ...stats(raw1) },
      [`${SESSIONS}Clients`]: {
        commits: raw8.flat().length,
        commitsPerSec: round(raw8.flat().length / raw8Secs, 0),
      },
    };

    // ---- round trips per commit
    const pgStore = new PostgresStore({ pool });
    let queries = 0;
    const original = pg.Client.prototype.query;
    const counting = function (this: pg.Client, ...args: unknown[]): unknown {
      queries += 1;
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
    pg.Client.prototype.query = counting as typeof original;
    const { record, lease } = await pgStore.createSession(
      { id: `rt2-${Date.now()}`, status: 'running', state: state(0) },
      'b',
      TTL,
    );
    queries = 0;
    await pgStore.commit(cycleCommit(record.id, 1, 0, lease, 1));
    const roundTripsPerCommit = queries;
    pg.Client.prototype.query = original;

    // ---- WAL bytes per cycle around cycle 10, 100 and 500 (mean over the window ending there)
    const wal: Record<string, number> = {};
    const positions: number[] = [];
    await storeCycles(pgStore, `wal-${Date.now()}`, 500, async (i) => {
      if ([1, 10, 90, 100, 490, 500].includes(i)) positions[i] = await pgStore.walPosition();
    });
    for (const [from, to] of [
      [1, 10],
      [90, 100],
      [490, 500],
    ] as const) {
      wal[`cycle${to}`] = round(((positions[to] ?? 0) - (positions[from] ?? 0)) / (to - from), 0);
    }
    const payloadBytes = Buffer.byteLength(JSON.stringify(cycleCommit('s', 1, 0, lease, 1)), 'utf8');

    // ---- durable cycles
    const postgres = await storeBench('pg', () => new PostgresStore({ pool }), CYCLES);
    const sqlite = await storeBench('sqlite', () => new SqliteStore(join(dir, 'bench.db')), CYCLES);
    const memory = await storeBench('memory', () => new MemoryStore(), CYCLES);
    const agentPg = await agentBench(() => new PostgresStore({ pool }), 200);
    const agentSqlite = await agentBench(() => new SqliteStore(join(dir, 'agent.db')), 200);
    const agentMemory = await agentBench(() => new MemoryStore(), 200);
    await pool.end();

    const one = postgres['oneSession'] as { meanMs: number; p50Ms: number; cyclesPerSec: number };
    const many = postgres[`${SESSIONS}Sessions`] as { cyclesPerSec: number };
    const result = {
      machine: { node: process.version, postgres: 'throwaway cluster, fsync=on, synchronous_commit=on' },
      rawCommit: raw,
      postgres: {
        ...postgres,
        roundTripsPerCommit,
        commitLatencyRatioToRaw: round(one.meanMs / (raw.oneClient.meanMs || 1), 2),
        // Means on a shared VM are dominated by a few multi-millisecond fsync stalls; medians are steadier.
        commitLatencyRatioToRawP50: round(one.p50Ms / (raw.oneClient.p50Ms || 1), 2),
        throughputRatioToRaw8: round(
          many.cyclesPerSec / ((raw[`${SESSIONS}Clients`] as { commitsPerSec: number }).commitsPerSec || 1),
          2,
        ),
        scalingOneTo8Sessions: round(many.cyclesPerSec / one.cyclesPerSec, 2),
        walBytesPerCycle: wal,
        cycleDeltaPayloadBytes: payloadBytes,
      },
      sqlite,
      memory,
      agentTurns: { postgres: agentPg, sqlite: agentSqlite, memory: agentMemory },
      targets: {
        roundTripsPerCommit: 1,
        commitLatencyRatioToRaw: '<= 1.5',
        walBytesPerCycle: 'flat from cycle 10 to 500',
      },
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
