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
 *   same INSERT and against the same INSERT sent by this process on 8 connections (node-postgres: the
 *   client every store commit goes through), in alternating phases.
 * Also: round trips per store commit and per Agent cycle (queries sent), WAL bytes per cycle at cycles
 * 10 / 100 / 500. Prints one JSON document. On a shared machine only ratios within one run mean anything.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PostgresStore, migrate } from '@dream-agent/postgres';
import { startPostgres } from '../test/setup/services.js';
import {
  alternatingBlocks,
  chainAgent,
  cycleGaps,
  cycler,
  interleaved,
  latencyStats as stats,
  median,
  parallelRate,
  ratio,
} from './lib.js';

const PAIRS = Number(process.env['BENCH_PAIRS'] ?? 1000);
const AGENT_BLOCKS = Number(process.env['BENCH_AGENT_BLOCKS'] ?? 16);
const BLOCK = 50;
const PHASE_SECS = Number(process.env['BENCH_PHASE_SECS'] ?? 2);
const PHASES = Number(process.env['BENCH_PHASES'] ?? 3);
const SESSIONS = 8;

const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

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
  const loadBefore = loadavg().map((x) => round(x, 2));
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
    await cycleGaps(rtAgent);
    queries = 0;
    const short = chainAgent(store, BLOCK);
    const longer = chainAgent(store, 2 * BLOCK);
    await cycleGaps(short);
    const qShort = queries;
    queries = 0;
    await cycleGaps(longer);
    const qLong = queries;
    // The turn's fixed cost cancels out: (queries of a 2n chain - queries of an n chain) / n.
    const roundTripsPerAgentCycle = round((qLong - qShort) / BLOCK, 2);
    pg.Client.prototype.query = original;
    await Promise.all([rtAgent.close(), short.close(), longer.close()]);

    // ---- 1 session: raw INSERT and store commit interleaved one for one
    const one = await cycler(store, `one-${Date.now()}`);
    const pairs = await interleaved(PAIRS, 100, raw, one);

    // ---- 1 session: Agent cycles through the public API, in blocks alternating with raw INSERT blocks
    const agent = chainAgent(store, BLOCK + 1);
    await cycleGaps(agent);
    const blocks = await alternatingBlocks(AGENT_BLOCKS, BLOCK, raw, () => cycleGaps(agent));

    // ---- WAL bytes per cycle around cycles 10, 100 and 500
    const w = await cycler(store, `wal-${Date.now()}`);
    const positions: Record<number, number> = {};
    for (let i = 1; i <= 500; i += 1) {
      await w();
      if ([1, 10, 90, 100, 490, 500].includes(i)) positions[i] = await store.walPosition();
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

    // ---- 8 in parallel: alternating phases of pgbench -c 8, Node raw x 8, store x 8, Agent x 8
    const hasPgbench = pgbench(server.url, 1, 1, dir) !== undefined;
    const pgbench8: number[] = [];
    const node8: number[] = [];
    const store8: number[] = [];
    const agent8: number[] = [];
    const many = await Promise.all(
      Array.from({ length: SESSIONS }, (_, i) => cycler(store, `many-${i}-${Date.now()}`)),
    );
    const agents = Array.from({ length: SESSIONS }, () => chainAgent(store, 2 * BLOCK));
    await Promise.all(agents.map((a) => cycleGaps(a)));
    const clients = await Promise.all(Array.from({ length: SESSIONS }, () => pool.connect()));
    const rawLoops = clients.map(
      (c, i) => () => c.query({ name: 'raw', text: 'INSERT INTO raw_commits (v) VALUES ($1)', values: [i] }),
    );
    for (let p = 0; p < PHASES; p += 1) {
      if (hasPgbench) pgbench8.push(pgbench(server.url, SESSIONS, PHASE_SECS, dir)?.tps ?? 0);
      node8.push(await parallelRate(PHASE_SECS, rawLoops));
      store8.push(await parallelRate(PHASE_SECS, many));
      const t = performance.now();
      const turns = await Promise.all(agents.map((a) => cycleGaps(a)));
      agent8.push(turns.reduce((a, g) => a + g.length, 0) / ((performance.now() - t) / 1000));
    }
    for (const c of clients) c.release();
    await Promise.all(agents.map((a) => a.close()));
    await agent.close();
    const pgbench1 = hasPgbench ? pgbench(server.url, 1, PHASE_SECS, dir) : undefined;

    const rawS = stats(pairs.raw);
    const storeS = stats(pairs.subject);
    const rawB = stats(blocks.raw);
    const agentS = stats(blocks.subject);
    // The reference 8-client rate: pgbench's (the yardstick), or Node's when pgbench is absent.
    const r8 = hasPgbench ? median(pgbench8) : median(node8);
    const result = {
      machine: {
        node: process.version,
        postgres: 'throwaway PostgreSQL 15, fsync=on, synchronous_commit=on, full_page_writes=on',
        cores: cpus().length,
        loadavgBefore: loadBefore,
        loadavgAfter: loadavg().map((x) => round(x, 2)),
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
        pgbench8PerSec: hasPgbench ? pgbench8.map((x) => round(x, 0)) : 'pgbench not installed',
        nodeRaw8PerSec: node8.map((x) => round(x, 0)),
        storeCommitsPerSec: store8.map((x) => round(x, 0)),
        agentCyclesPerSec: agent8.map((x) => round(x, 0)),
        nodeRaw8ToPgbench8: hasPgbench ? ratio(median(node8), r8) : null,
        storeToRaw8: ratio(median(store8), r8),
        agentToRaw8: ratio(median(agent8), r8),
        storeToNodeRaw8: ratio(median(store8), median(node8)),
        agentToNodeRaw8: ratio(median(agent8), median(node8)),
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
