/**
 * Durable-cycle benchmark on SQLite: `npx tsx bench/sqlite.ts` (or `npm run bench -- sqlite`).
 *
 * Compares, interleaved one for one in the same run (same disk, same load):
 * - raw: a better-sqlite3 `BEGIN IMMEDIATE; INSERT one row; COMMIT` on its own file (WAL,
 *   synchronous=NORMAL — the store's settings);
 * - store: one `SqliteStore.commit` of a typical cycle (state, todo.started + todo.completed, the todo
 *   row with a 1 KB output), with WAL checkpoints in the background (the default) and, separately,
 *   with SQLite's automatic checkpoint inside commits (`checkpoint: 'auto'`, the previous behaviour);
 * - agent: a whole Agent cycle through the public API (gap between consecutive `todo.completed`
 *   events of a chain of idempotent todos), in blocks alternating with blocks of raw transactions.
 * Prints one JSON document; only ratios within one run mean anything.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  Agent,
  FunctionPlanner,
  type AgentEvent,
  type Commit,
  type LeaseToken,
  type SessionState,
} from 'dream-agent';
import { SqliteStore } from '@dream-agent/sqlite';

const PAIRS = Number(process.env['BENCH_PAIRS'] ?? 20_000);
const AGENT_BLOCKS = Number(process.env['BENCH_AGENT_BLOCKS'] ?? 40);
const BLOCK = 50;
const TTL = 60_000;

const now = (): number => performance.now();
const round = (x: number, d = 4): number => Math.round(x * 10 ** d) / 10 ** d;
const stats = (lat: number[]): { n: number; p50Ms: number; p99Ms: number; meanMs: number } => {
  const s = [...lat].sort((a, b) => a - b);
  const at = (p: number): number => s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? 0;
  return {
    n: s.length,
    p50Ms: round(at(0.5)),
    p99Ms: round(at(0.99)),
    meanMs: round(lat.reduce((a, b) => a + b, 0) / Math.max(lat.length, 1)),
  };
};
const ratio = (a: number, b: number): number => Math.round((a / (b || 1)) * 100) / 100;

const state: SessionState = {
  turn: {
    id: 'turn',
    index: 1,
    input: 'bench',
    phase: 'executing',
    clarifications: [],
    pending: [],
    paused: false,
    startedAt: 1,
  },
  turns: 1,
  dialogue: [],
  slots: { region: 'EMEA' },
  metadata: { tenant: 'bench' },
};
const output = { text: 'x'.repeat(1000) };

function cycleCommit(
  sessionId: string,
  version: number,
  lastSeq: number,
  lease: LeaseToken,
  i: number,
): Commit {
  return {
    sessionId,
    expectedVersion: version,
    lease,
    status: 'running',
    state,
    events: [
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
    ] as AgentEvent[],
    todos: [
      {
        sessionId,
        turnId: 'turn',
        todoId: `t${i}`,
        status: 'completed',
        attempts: 1,
        idempotencyKey: `k${i}`,
        output,
        startedAt: i,
        finishedAt: i,
      },
    ],
    planVersions: [],
    inboxAcks: [],
    leaseAction: 'renew',
    leaseTtlMs: TTL,
  };
}

async function cycler(store: SqliteStore, id: string): Promise<() => Promise<void>> {
  const { record, lease } = await store.createSession({ id, status: 'running', state }, 'bench', TTL);
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

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dream-bench-sqlite-'));
  try {
    const rawDb = new Database(join(dir, 'raw.db'));
    rawDb.pragma('journal_mode = WAL');
    rawDb.pragma('synchronous = NORMAL');
    rawDb.exec('CREATE TABLE raw_commits (id INTEGER PRIMARY KEY, v INTEGER NOT NULL, at INTEGER NOT NULL)');
    const insert = rawDb.prepare('INSERT INTO raw_commits (v, at) VALUES (?, ?)');
    const rawTx = rawDb.transaction((v: number) => insert.run(v, Date.now())).immediate;
    // The same async shape as the store (an awaited call), so the ratio is the store's own work.
    const raw = async (v: number): Promise<void> => {
      await Promise.resolve();
      rawTx(v);
    };

    const measure = async (store: SqliteStore): Promise<{ raw: number[]; store: number[] }> => {
      const commit = await cycler(store, `s-${Date.now()}`);
      for (let i = 0; i < 500; i += 1) {
        await raw(i);
        await commit();
      }
      const r: number[] = [];
      const s: number[] = [];
      for (let i = 0; i < PAIRS; i += 1) {
        let t = now();
        await raw(i);
        r.push(now() - t);
        t = now();
        await commit();
        s.push(now() - t);
      }
      return { raw: r, store: s };
    };

    const background = new SqliteStore({ database: join(dir, 'background.db') });
    const bg = await measure(background);
    const auto = new SqliteStore({ database: join(dir, 'auto.db'), checkpoint: 'auto' });
    const au = await measure(auto);
    await auto.close();

    // Agent cycles through the public API, blocks alternating with raw blocks.
    const planner = new FunctionPlanner(() => ({
      todos: Array.from({ length: BLOCK + 1 }, (_, i) => ({
        id: `t${i}`,
        title: `t${i}`,
        domain: 'work',
        dependsOn: i ? [`t${i - 1}`] : [],
        input: {},
        idempotent: true,
      })),
    }));
    const agent = new Agent({
      store: background,
      planner,
      executors: { work: { execute: async () => Promise.resolve({ output: { ok: true } }) } },
    });
    const turn = async (): Promise<number[]> => {
      const gaps: number[] = [];
      let last: number | undefined;
      for await (const e of agent.run('chain')) {
        if (e.type !== 'todo.completed') continue;
        const t = now();
        if (last !== undefined) gaps.push(t - last);
        last = t;
      }
      return gaps;
    };
    await turn();
    const rawB: number[] = [];
    const agentLat: number[] = [];
    for (let b = 0; b < AGENT_BLOCKS; b += 1) {
      for (let i = 0; i < BLOCK; i += 1) {
        const t = now();
        await raw(i);
        rawB.push(now() - t);
      }
      agentLat.push(...(await turn()));
    }
    await agent.close();
    await background.close();
    rawDb.close();

    const sum = (label: string, m: { raw: number[]; store: number[] }): Record<string, unknown> => {
      const r = stats(m.raw);
      const s = stats(m.store);
      return {
        label,
        rawTransaction: r,
        storeCommit: s,
        storeToRaw: { p50: ratio(s.p50Ms, r.p50Ms), p99: ratio(s.p99Ms, r.p99Ms) },
      };
    };
    const rb = stats(rawB);
    const ag = stats(agentLat);
    console.log(
      JSON.stringify(
        {
          machine: { node: process.version, sqlite: 'better-sqlite3, WAL, synchronous=NORMAL' },
          backgroundCheckpoint: sum("checkpoint: 'background' (default)", bg),
          autoCheckpoint: sum("checkpoint: 'auto' (checkpoints inside commits)", au),
          agentCycle: {
            rawTransactionBetweenBlocks: rb,
            agentCycle: ag,
            agentCycleToRaw: { p50: ratio(ag.p50Ms, rb.p50Ms), p99: ratio(ag.p99Ms, rb.p99Ms) },
          },
          targets: { storeToRawP50: '<= 2' },
        },
        null,
        2,
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
