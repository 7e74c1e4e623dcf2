/**
 * Durable-cycle benchmark on PostgreSQL: `npx tsx bench/postgres.ts` (or `npm run bench -- postgres`).
 *
 * Starts its own throwaway PostgreSQL 15 (fsync=on, synchronous_commit=on, full_page_writes=on: every
 * commit waits for its WAL flush) and compares, in the same run on the same server:
 * - raw: a single-row INSERT autocommit transaction (prepared, one client), what pgbench's simplest
 *   write does — the floor for one durable round trip;
 * - store: one `PostgresStore.commit` of a typical cycle (state, todo.started + todo.completed, the todo
 *   row with a 1 KB output), interleaved one-for-one with raw INSERTs so both see the same load;
 * - agent: a whole Agent cycle through the public API (a chain of idempotent todos; one cycle = the gap
 *   between two consecutive `todo.completed` events as the run's consumer sees them: executor, events,
 *   the commit, delivery), in blocks alternating with blocks of raw INSERTs;
 * - 8 in parallel: 8 sessions (store commits, and Agent turns) against pgbench's 8-client rate of the
 *   same INSERT (alternating phases), or the Node raw client's 8-connection rate when pgbench is absent.
 * Also: round trips per store commit and per Agent cycle (queries sent), WAL bytes per cycle at cycles
 * 10 / 100 / 500. Prints one JSON document. On a shared machine only ratios within one run mean anything.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  Agent,
  FunctionPlanner,
  type AgentEvent,
  type Commit,
  type LeaseToken,
  type SessionState,
  type TodoRecord,
} from 'dream-agent';
import { PostgresStore, migrate } from '@dream-agent/postgres';
import { startPostgres } from '../test/setup/services.js';

const PAIRS = Number(process.env['BENCH_PAIRS'] ?? 1000);
const AGENT_BLOCKS = Number(process.env['BENCH_AGENT_BLOCKS'] ?? 16);
const BLOCK = 50;
const PHASE_SECS = Number(process.env['BENCH_PHASE_SECS'] ?? 2);
const PHASES = Number(process.env['BENCH_PHASES'] ?? 3);
const SESSIONS = 8;
const TTL = 60_000;

const now = (): number => performance.now();
const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;
const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
const stats = (lat: number[]): { n: number; p50Ms: number; p99Ms: number; meanMs: number } => {
  const s = [...lat].sort((a, b) => a - b);
  return {
    n: s.length,
    p50Ms: round(pct(s, 0.5)),
    p99Ms: round(pct(s, 0.99)),
    meanMs: round(lat.reduce((a, b) => a + b, 0) / Math.max(lat.length, 1)),
  };
};
const ratio = (a: number, b: number): number => round(a / (b || 1), 2);

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
  lease: LeaseToken,
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

/** A session to commit cycles to, one at a time. */
async function cycler(store: PostgresStore, id: string): Promise<() => Promise<void>> {
  const { record, lease } = await store.createSession(
    { id, status: 'running', state: state(0) },
    'bench',
    TTL,
  );
  let version = record.version;
  let lastSeq = record.lastSeq;
  let i = 0;
  return async () => {
    i += 1;
    const r = await store.commit(cycleCommit(id, version, lastSeq, lease, i));
    version = r.version;
    lastSeq = r.lastSeq;
  };
}

function chainAgent(store: PostgresStore, todos: number): Agent {
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
  return new Agent({
    store,
    planner,
    executors: { work: { execute: async () => Promise.resolve({ output: { ok: true } }) } },
  });
}

/** Runs one chain turn; returns the gaps between consecutive todo.completed events (ms). */
async function agentTurn(agent: Agent): Promise<number[]> {
  const gaps: number[] = [];
  let last: number | undefined;
  for await (const e of agent.run('chain')) {
    if (e.type !== 'todo.completed') continue;
    const t = now();
    if (last !== undefined) gaps.push(t - last);
    last = t;
  }
  return gaps;
}

/** pgbench with a one-line INSERT script; undefined when pgbench is not installed. */
function pgbench(
  url: string,
  clients: number,
  secs: number,
  dir: string,
): { tps: number; p50Ms?: number; p99Ms?: number } | undefined {
  const script = join(dir, 'raw.sql');
  writeFileSync(script, 'INSERT INTO raw_commits (v) VALUES (1);\n');
  const logDir = mkdtempSync(join(dir, 'pgbench-'));
  const args = [
    '-n',
    '-M',
    'prepared',
    '-c',
    String(clients),
    '-j',
    String(Math.min(clients, 2)),
    '-T',
    String(secs),
    '-f',
    script,
  ];
  if (clients === 1) args.push('-l', '--log-prefix', join(logDir, 'log'));
  const r = spawnSync('pgbench', [...args, url], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  const tps = Number(/tps = ([\d.]+)/.exec(r.stdout)?.[1] ?? NaN);
  if (clients !== 1) return { tps: round(tps, 0) };
  const lat: number[] = [];
  for (const f of readdirSync(logDir)) {
    for (const line of readFileSync(join(logDir, f), 'utf8').split('\n')) {
      const us = Number(line.split(' ')[2]);
      if (Number.isFinite(us) && line) lat.push(us / 1000);
    }
  }
  const s = stats(lat);
  return { tps: round(tps, 0), p50Ms: s.p50Ms, p99Ms: s.p99Ms };
}

async function main(): Promise<void> {
  const server = await startPostgres({ fsync: true });
  const dir = mkdtempSync(join(tmpdir(), 'dream-bench-pg-'));
  const pool = new pg.Pool({ connectionString: server.url, max: 20 });
  try {
    await migrate(pool);
    await pool.query(
      'CREATE TABLE raw_commits (id bigserial PRIMARY KEY, v integer NOT NULL, at timestamptz NOT NULL DEFAULT now())',
    );
    const rawClient = await pool.connect();
    let rawN = 0;
    const raw = async (): Promise<void> => {
      rawN += 1;
      await rawClient.query({ name: 'raw', text: 'INSERT INTO raw_commits (v) VALUES ($1)', values: [rawN] });
    };
    const store = new PostgresStore({ pool });

    // ---- round trips: queries sent per store commit and per Agent cycle
    let queries = 0;
    const original = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]): unknown {
      queries += 1;
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof original;
    const rt = await cycler(store, `rt-${Date.now()}`);
    queries = 0;
    await rt();
    const roundTripsPerCommit = queries;
    const rtAgent = chainAgent(store, 2 * BLOCK);
    await agentTurn(rtAgent);
    queries = 0;
    const short = chainAgent(store, BLOCK);
    const longer = chainAgent(store, 2 * BLOCK);
    await agentTurn(short);
    const qShort = queries;
    queries = 0;
    await agentTurn(longer);
    const qLong = queries;
    // The turn's fixed cost cancels out: (queries of a 2n chain - queries of an n chain) / n.
    const roundTripsPerAgentCycle = round((qLong - qShort) / BLOCK, 2);
    pg.Client.prototype.query = original;
    await Promise.all([rtAgent.close(), short.close(), longer.close()]);

    // ---- 1 session: raw INSERT and store commit interleaved one for one
    const one = await cycler(store, `one-${Date.now()}`);
    for (let i = 0; i < 100; i += 1) {
      await raw();
      await one();
    }
    const rawLat: number[] = [];
    const storeLat: number[] = [];
    for (let i = 0; i < PAIRS; i += 1) {
      let t = now();
      await raw();
      rawLat.push(now() - t);
      t = now();
      await one();
      storeLat.push(now() - t);
    }

    // ---- 1 session: Agent cycles through the public API, in blocks alternating with raw INSERT blocks
    const agent = chainAgent(store, BLOCK + 1);
    await agentTurn(agent);
    const rawBlockLat: number[] = [];
    const agentLat: number[] = [];
    for (let b = 0; b < AGENT_BLOCKS; b += 1) {
      for (let i = 0; i < BLOCK; i += 1) {
        const t = now();
        await raw();
        rawBlockLat.push(now() - t);
      }
      agentLat.push(...(await agentTurn(agent)));
    }

    // ---- WAL bytes per cycle around cycles 10, 100 and 500
    const walAt = async (): Promise<number> =>
      Number(
        (await pool.query<{ b: string }>(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint AS b`))
          .rows[0]?.b ?? 0,
      );
    const w = await cycler(store, `wal-${Date.now()}`);
    const positions: Record<number, number> = {};
    for (let i = 1; i <= 500; i += 1) {
      await w();
      if ([1, 10, 90, 100, 490, 500].includes(i)) positions[i] = await walAt();
    }
    const wal = Object.fromEntries(
      (
        [
          [1, 10],
          [90, 100],
          [490, 500],
        ] as const
      ).map(([a, b]) => [`cycle${b}`, round(((positions[b] ?? 0) - (positions[a] ?? 0)) / (b - a), 0)]),
    );

    rawClient.release();

    // ---- 8 in parallel: alternating phases of pgbench -c 8 (or Node raw x 8), store x 8, Agent x 8
    const hasPgbench = pgbench(server.url, 1, 1, dir) !== undefined;
    const raw8: number[] = [];
    const store8: number[] = [];
    const agent8: number[] = [];
    const many = await Promise.all(
      Array.from({ length: SESSIONS }, (_, i) => cycler(store, `many-${i}-${Date.now()}`)),
    );
    const agents = Array.from({ length: SESSIONS }, () => chainAgent(store, 2 * BLOCK));
    await Promise.all(agents.map((a) => agentTurn(a)));
    const forPhase = async (step: () => Promise<number>): Promise<number> => {
      const end = now() + PHASE_SECS * 1000;
      const t = now();
      let done = 0;
      while (now() < end) done += await step();
      return done / ((now() - t) / 1000);
    };
    for (let p = 0; p < PHASES; p += 1) {
      if (hasPgbench) raw8.push(pgbench(server.url, SESSIONS, PHASE_SECS, dir)?.tps ?? 0);
      else {
        const clients = await Promise.all(Array.from({ length: SESSIONS }, () => pool.connect()));
        raw8.push(
          await forPhase(async () => {
            await Promise.all(
              clients.map((c, i) =>
                c.query({ name: 'raw', text: 'INSERT INTO raw_commits (v) VALUES ($1)', values: [i] }),
              ),
            );
            return SESSIONS;
          }),
        );
        for (const c of clients) c.release();
      }
      // Each session commits on its own as fast as it can (no lock-step between sessions).
      {
        const end = now() + PHASE_SECS * 1000;
        const t = now();
        const counts = await Promise.all(
          many.map(async (commit) => {
            let n = 0;
            while (now() < end) {
              await commit();
              n += 1;
            }
            return n;
          }),
        );
        store8.push(counts.reduce((a, b) => a + b, 0) / ((now() - t) / 1000));
      }
      {
        const t = now();
        const turns = await Promise.all(agents.map((a) => agentTurn(a)));
        agent8.push(turns.reduce((a, g) => a + g.length, 0) / ((now() - t) / 1000));
      }
    }
    await Promise.all(agents.map((a) => a.close()));
    await agent.close();
    const pgbench1 = hasPgbench ? pgbench(server.url, 1, PHASE_SECS, dir) : undefined;

    const rawS = stats(rawLat);
    const storeS = stats(storeLat);
    const rawB = stats(rawBlockLat);
    const agentS = stats(agentLat);
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const r8 = median(raw8);
    const result = {
      machine: {
        node: process.version,
        postgres: 'throwaway PostgreSQL 15, fsync=on, synchronous_commit=on, full_page_writes=on',
        cores: (await import('node:os')).cpus().length,
        loadavg: (await import('node:os')).loadavg().map((x) => round(x, 2)),
      },
      roundTrips: { perStoreCommit: roundTripsPerCommit, perAgentCycle: roundTripsPerAgentCycle },
      oneSession: {
        rawInsert: rawS,
        storeCommit: storeS,
        storeCommitToRaw: { p50: ratio(storeS.p50Ms, rawS.p50Ms), p99: ratio(storeS.p99Ms, rawS.p99Ms) },
        rawInsertBetweenAgentBlocks: rawB,
        agentCycle: agentS,
        agentCycleToRaw: { p50: ratio(agentS.p50Ms, rawB.p50Ms), p99: ratio(agentS.p99Ms, rawB.p99Ms) },
        ...(pgbench1 ? { pgbench1Client: pgbench1 } : {}),
      },
      eightSessions: {
        raw8PerSec: {
          source: hasPgbench ? 'pgbench -c 8 -j 2 -M prepared' : 'node pg, 8 connections',
          phases: raw8.map((x) => round(x, 0)),
        },
        storeCommitsPerSec: store8.map((x) => round(x, 0)),
        agentCyclesPerSec: agent8.map((x) => round(x, 0)),
        storeToRaw8: ratio(median(store8), r8),
        agentToRaw8: ratio(median(agent8), r8),
      },
      walBytesPerCycle: wal,
      targets: {
        roundTripsPerAgentCycle: 1,
        agentCycleToRaw: { p50: '<= 1.5', p99: '<= 3' },
        eightSessionsToRaw8: '>= 0.8',
        walBytesPerCycle: 'flat from cycle 10 to 500',
      },
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await pool.end().catch(() => undefined);
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
