/**
 * Where a SQLite commit's WAL frames (pages) go: `npx tsx bench/sqlite-frames.ts`. Commits the bench cycle
 * of `bench/lib.ts` (state, todo.started + todo.completed with a 1 KB output, the todo row) with parts
 * left out, 500 commits each from an emptied WAL with no checkpoint running, and prints frames/commit.
 * Frames are deterministic (unlike timings on a shared machine). Schema 4: a commit is one INSERT of
 * its journal row (events, todo rows, status, state): about 3 pages (its table leaf, its key's index
 * entry, a leaf split every row or two) whatever the parts — a raw INSERT of a row this size into a
 * table with the same key writes the same (`bench/sqlite.ts`, floorSameRow). `full+fold` adds the
 * background fold of the journal into the sessions row and todos table (run every 50
 * commits here), amortised per commit: it is written between commits, not inside one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@dream-agent/sqlite';
import { cycleCommit } from './lib.js';
import type { Commit } from 'dream-agent';
const dir = mkdtempSync(join(tmpdir(), 'dream-frames-'));
async function run(label: string, shape: (c: Commit) => Commit, fold = false): Promise<void> {
  const store = new SqliteStore({
    database: join(dir, `${label}.db`),
    checkpointIntervalMs: 1e9,
    foldIntervalMs: 1e9,
  });
  const { record, lease } = await store.createSession(
    { id: 's', status: 'running', state: { turn: null, turns: 0, dialogue: [], slots: {}, metadata: {} } },
    'bench',
    60000,
  );
  let v = record.version,
    seq = record.lastSeq;
  const step = async (i: number): Promise<void> => {
    const c = shape(cycleCommit('s', v, seq, lease, i));
    const r = await store.commit(c);
    v = r.version;
    seq = r.lastSeq;
  };
  for (let i = 1; i <= 300; i++) await step(i);
  store.database.pragma('wal_checkpoint(TRUNCATE)');
  for (let i = 301; i <= 800; i++) {
    await step(i);
    // The background fold's pages, amortised: what it writes for every 50 commits' todo rows.
    if (fold && i % 50 === 0) store.foldTodos();
  }
  const row = (store.database.pragma('wal_checkpoint(PASSIVE)') as { log: number }[])[0];
  console.log(
    label,
    ((row?.log ?? 0) / 500).toFixed(2),
    'page',
    store.database.pragma('page_size', { simple: true }),
  );
  await store.close();
}
await run('full', (c) => c);
await run('full+fold', (c) => c, true);
await run('noStatus', (c) => {
  const { status: _s, ...r } = c;
  return r as Commit;
});
await run('noState', (c) => {
  const { state: _s, status: _t, ...r } = c;
  return r as Commit;
});
await run('noTodos', (c) => ({ ...c, todos: [] }));
await run('noEvents', (c) => ({ ...c, events: [] }));
await run('onlySession', (c) => ({ ...c, events: [], todos: [] }));
rmSync(dir, { recursive: true, force: true });
