/**
 * Durable-cycle benchmark on SQLite: `npx tsx bench/sqlite.ts` (or `npm run bench -- sqlite`).
 *
 * Compares, interleaved one for one in the same run (same disk, same load):
 * - raw: a better-sqlite3 `BEGIN IMMEDIATE; INSERT one row; COMMIT` on its own file (WAL,
 *   synchronous=NORMAL — the store's settings);
 * - floor: a raw INSERT transaction of a row as large as the store's journal row, into a table keyed
 *   (session, version) like the journal, its text prepared in advance (what one such row costs SQLite);
 * - store: one `SqliteStore.commit` of a typical cycle (state, todo.started + todo.completed, the todo
 *   row with a 1 KB output), with WAL checkpoints in the background (the default) and, separately,
 *   with SQLite's automatic checkpoint inside commits (`checkpoint: 'auto'`, the previous behaviour);
 * - agent: a whole Agent cycle through the public API (gap between consecutive `todo.completed`
 *   events of a chain of idempotent todos), in blocks alternating with blocks of raw transactions;
 * - WAL frames (pages) written per commit, raw and store: on a file in WAL mode with
 *   synchronous=NORMAL a commit's cost is mostly its frame writes (two pwrite calls each).
 * The timing loops and the cycle's commit are shared with `bench/postgres.ts` (`bench/lib.ts`).
 * Prints one JSON document; only ratios within one run mean anything.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '@dream-agent/sqlite';
import {
  alternatingBlocks,
  chainAgent,
  cycleGaps,
  cycler,
  interleaved,
  latencyStats,
  ratio,
  round2,
} from './lib.js';

const PAIRS = Number(process.env['BENCH_PAIRS'] ?? 20_000);
const AGENT_BLOCKS = Number(process.env['BENCH_AGENT_BLOCKS'] ?? 40);
const BLOCK = 50;

const stats = (lat: number[]): ReturnType<typeof latencyStats> => latencyStats(lat, 4);

/** WAL frames per call of `step` over `n` calls, counted from an emptied WAL (no checkpoint between). */
async function framesPer(db: Database.Database, n: number, step: () => Promise<void>): Promise<number> {
  // No automatic checkpoint during the count: a full one restarts the WAL and the count with it.
  const auto = Number(db.pragma('wal_autocheckpoint', { simple: true }));
  db.pragma('wal_autocheckpoint = 0');
  db.pragma('wal_checkpoint(TRUNCATE)');
  for (let i = 0; i < n; i += 1) await step();
  const row = (db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[])[0];
  db.pragma(`wal_autocheckpoint = ${auto}`);
  return round2((row?.log ?? 0) / n);
}

async function main(): Promise<void> {
  const loadBefore = loadavg().map(round2);
  const dir = mkdtempSync(join(tmpdir(), 'dream-bench-sqlite-'));
  try {
    const rawDb = new Database(join(dir, 'raw.db'));
    rawDb.pragma('journal_mode = WAL');
    rawDb.pragma('synchronous = NORMAL');
    rawDb.exec('CREATE TABLE raw_commits (id INTEGER PRIMARY KEY, v INTEGER NOT NULL, at INTEGER NOT NULL)');
    const insert = rawDb.prepare('INSERT INTO raw_commits (v, at) VALUES (?, ?)');
    const rawTx = rawDb.transaction((v: number) => insert.run(v, Date.now())).immediate;
    let rawN = 0;
    // The same async shape as the store (an awaited call), so the ratio is the store's own work.
    const raw = async (): Promise<void> => {
      await Promise.resolve();
      rawTx((rawN += 1));
    };

    const measure = async (store: SqliteStore): Promise<{ raw: number[]; subject: number[] }> =>
      interleaved(PAIRS, 500, raw, await cycler(store, `s-${Date.now()}`));

    // The floor: a raw INSERT transaction of a row as large as the store's journal row, into a table
    // with the same key (session, version), its text prepared in advance — what one row of this size
    // costs SQLite here, whatever the store does around it.
    const floorDb = new Database(join(dir, 'floor.db'));
    floorDb.pragma('journal_mode = WAL');
    floorDb.pragma('synchronous = NORMAL');
    floorDb.exec(
      'CREATE TABLE floor_rows (session_id TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (session_id, version))',
    );
    const background = new SqliteStore({ database: join(dir, 'background.db') });
    const bgCommit = await cycler(background, `s-${Date.now()}`);
    for (let i = 0; i < 50; i += 1) await bgCommit();
    const rowBytes = background.database
      .prepare(
        `SELECT coalesce(length(events), 0) + coalesce(length(todos), 0) + coalesce(length(state), 0)
           + coalesce(length(status), 0) + coalesce(length(lease_owner), 0) + 40
         FROM journal ORDER BY rowid DESC LIMIT 1`,
      )
      .pluck()
      .get() as number;
    const body = 'x'.repeat(rowBytes);
    const floorInsert = floorDb.prepare(
      'INSERT INTO floor_rows (session_id, version, body) VALUES (?, ?, ?)',
    );
    let floorN = 0;
    const floorTx = floorDb.transaction(() => floorInsert.run('s', (floorN += 1), body)).immediate;
    const floor = async (): Promise<void> => {
      await Promise.resolve();
      floorTx();
    };
    const bg = { raw: [] as number[], subject: [] as number[], floor: [] as number[] };
    for (let i = 0; i < 500; i += 1) {
      await raw();
      await floor();
      await bgCommit();
    }
    for (let i = 0; i < PAIRS; i += 1) {
      let t = performance.now();
      await raw();
      bg.raw.push(performance.now() - t);
      t = performance.now();
      await floor();
      bg.floor.push(performance.now() - t);
      t = performance.now();
      await bgCommit();
      bg.subject.push(performance.now() - t);
    }
    const auto = new SqliteStore({ database: join(dir, 'auto.db'), checkpoint: 'auto' });
    const au = await measure(auto);
    await auto.close();

    // Frames per commit, each on a database of its own with no checkpoint running during the count.
    const framesDb = new SqliteStore({ database: join(dir, 'frames.db'), checkpointIntervalMs: 1e9 });
    const framesCommit = await cycler(framesDb, 'frames');
    for (let i = 0; i < 200; i += 1) await framesCommit();
    const frames = {
      rawTransaction: await framesPer(rawDb, 500, raw),
      floorSameRow: await framesPer(floorDb, 500, floor),
      storeCommit: await framesPer(framesDb.database, 500, framesCommit),
    };
    await framesDb.close();

    // Agent cycles through the public API, blocks alternating with raw blocks.
    const agent = chainAgent(background, BLOCK + 1);
    await cycleGaps(agent);
    const blocks = await alternatingBlocks(AGENT_BLOCKS, BLOCK, raw, () => cycleGaps(agent));
    await agent.close();
    await background.close();
    rawDb.close();
    floorDb.close();

    const sum = (label: string, m: { raw: number[]; subject: number[] }): Record<string, unknown> => {
      const r = stats(m.raw);
      const s = stats(m.subject);
      return {
        label,
        rawTransaction: r,
        storeCommit: s,
        storeToRaw: { p50: ratio(s.p50Ms, r.p50Ms), p99: ratio(s.p99Ms, r.p99Ms) },
      };
    };
    const rb = stats(blocks.raw);
    const ag = stats(blocks.subject);
    console.log(
      JSON.stringify(
        {
          machine: {
            node: process.version,
            sqlite: 'better-sqlite3, WAL, synchronous=NORMAL',
            loadavgBefore: loadBefore,
            loadavgAfter: loadavg().map(round2),
          },
          backgroundCheckpoint: {
            ...sum("checkpoint: 'background' (default)", bg),
            floorSameRow: { rowBytes, ...stats(bg.floor) },
            floorToRaw: {
              p50: ratio(stats(bg.floor).p50Ms, stats(bg.raw).p50Ms),
              p99: ratio(stats(bg.floor).p99Ms, stats(bg.raw).p99Ms),
            },
            storeToFloor: {
              p50: ratio(stats(bg.subject).p50Ms, stats(bg.floor).p50Ms),
              p99: ratio(stats(bg.subject).p99Ms, stats(bg.floor).p99Ms),
            },
          },
          autoCheckpoint: sum("checkpoint: 'auto' (checkpoints inside commits)", au),
          walFramesPerCommit: { ...frames, storeToRaw: ratio(frames.storeCommit, frames.rawTransaction) },
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
