import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Agent,
  FunctionPlanner,
  isDreamAgentError,
  type AgentEvent,
  type Executor,
  type SessionState,
  type SessionStatus,
} from 'dream-agent';
import { storeContract, storeExtensionsContract } from 'dream-agent/testing';
import { SqliteStore } from '@dream-agent/sqlite';

const dir = mkdtempSync(join(tmpdir(), 'dream-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (): string => join(dir, `store-${(n += 1)}.db`);
const emptyState = (): SessionState => ({ turn: null, turns: 0, dialogue: [], slots: {}, metadata: {} });

storeContract('SqliteStore (file, WAL)', async ({ clock }) => {
  const store = new SqliteStore({ database: file(), clock });
  return {
    store,
    cleanup: () => store.close(),
    planStorageBytes: async (sessionId) =>
      Promise.resolve(
        store.database
          .prepare('SELECT COALESCE(SUM(length(record)), 0) FROM plan_versions WHERE session_id = ?')
          .pluck()
          .get(sessionId) as number,
      ),
  };
});

storeContract('SqliteStore (your own in-memory Database)', async ({ clock }) => {
  const db = new Database(':memory:');
  return { store: new SqliteStore({ database: db, clock }), cleanup: async () => void db.close() };
});

storeExtensionsContract('SqliteStore (file, WAL)', () => new SqliteStore({ database: file() }));

describe('SqliteStore specifics', () => {
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const ev = (sessionId: string, seq: number): AgentEvent =>
    ({
      type: 'todo.progress',
      sessionId,
      turnId: 't',
      seq,
      at: seq,
      todoId: 'x',
      message: `m${seq}`,
    }) as AgentEvent;

  it('a database written by the previous schema migrates forward: events, todos and sessions carry on', async () => {
    const path = file();
    const old = new Database(path);
    // Schema version 1 exactly as the previous release created it.
    old.exec(`CREATE TABLE sessions (
     id TEXT PRIMARY KEY, version INTEGER NOT NULL, status TEXT NOT NULL, last_seq INTEGER NOT NULL DEFAULT 0,
     lease_epoch INTEGER NOT NULL DEFAULT 0, lease_owner TEXT, lease_expires_at INTEGER NOT NULL DEFAULT 0,
     state TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;
   CREATE INDEX sessions_status_idx ON sessions (status, id);
   CREATE TABLE events (session_id TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL, PRIMARY KEY (session_id, seq)) WITHOUT ROWID;
   CREATE TABLE todos (session_id TEXT NOT NULL, turn_id TEXT NOT NULL, todo_id TEXT NOT NULL, record TEXT NOT NULL,
     PRIMARY KEY (session_id, turn_id, todo_id)) WITHOUT ROWID;
   CREATE TABLE plan_versions (session_id TEXT NOT NULL, plan_id TEXT NOT NULL, version INTEGER NOT NULL, record TEXT NOT NULL,
     PRIMARY KEY (session_id, plan_id, version)) WITHOUT ROWID;
   CREATE TABLE inbox (n INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, id TEXT NOT NULL, command TEXT NOT NULL,
     actor TEXT NOT NULL, received_at INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'pending', error TEXT, UNIQUE (session_id, id));
   CREATE INDEX inbox_pending_idx ON inbox (session_id, n) WHERE status = 'pending';
   PRAGMA user_version = 1;`);
    const todo = {
      sessionId: 'old',
      turnId: 't',
      todoId: 'a',
      status: 'running' as const,
      attempts: 1,
      idempotencyKey: 'k',
    };
    old
      .prepare(`INSERT INTO sessions VALUES ('old', 4, 'running', 3, 1, NULL, 0, ?, 1, 1)`)
      .run(JSON.stringify(emptyState()));
    for (const seq of [1, 2, 3])
      old.prepare(`INSERT INTO events VALUES ('old', ?, ?)`).run(seq, JSON.stringify(ev('old', seq)));
    old.prepare(`INSERT INTO todos VALUES ('old', 't', 'a', ?)`).run(JSON.stringify(todo));
    old.close();

    const store = new SqliteStore(path);
    try {
      expect(store.database.pragma('user_version', { simple: true })).toBe(4);
      expect(await store.readEvents('old')).toEqual([1, 2, 3].map((s) => ev('old', s)));
      expect(await store.readEvents('old', { after: 1, limit: 1 })).toEqual([ev('old', 2)]);
      expect(await store.getTodos('old', 't')).toEqual([todo]);
      const lease = await store.acquireLease('old', 'n', 30_000);
      if (!lease) throw new Error('no lease');
      const r = await store.commit({
        sessionId: 'old',
        expectedVersion: 4,
        lease,
        events: [ev('old', 4), ev('old', 5)],
        todos: [{ ...todo, status: 'completed', output: { ok: true } }],
        planVersions: [],
        inboxAcks: [],
        leaseAction: 'release',
        leaseTtlMs: 30_000,
      });
      expect(r).toMatchObject({ version: 5, lastSeq: 5, pendingCommands: 0 });
      expect((await store.readEvents('old')).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(await store.readEvents('old', { after: 2, limit: 2 })).toEqual([ev('old', 3), ev('old', 4)]);
      expect(await store.getTodos('old', 't')).toEqual([
        { ...todo, status: 'completed', output: { ok: true } },
      ]);
    } finally {
      await store.close();
    }
  });

  it('readEvents is exact over batches of any size: every (after, limit) window', async () => {
    const store = new SqliteStore(file());
    try {
      const { lease } = await store.createSession(
        { id: 'w', status: 'running', state: emptyState() },
        'n',
        30_000,
      );
      let seq = 0;
      let version = 1;
      for (const size of [1, 7, 1, 0, 1, 30, 2, 1]) {
        const events = Array.from({ length: size }, () => ev('w', (seq += 1)));
        version = (
          await store.commit({
            sessionId: 'w',
            expectedVersion: version,
            lease,
            events,
            todos: [],
            planVersions: [],
            inboxAcks: [],
            leaseAction: 'renew',
            leaseTtlMs: 30_000,
          })
        ).version;
      }
      for (let after = 0; after <= 44; after += 1) {
        for (const limit of [1, 2, 5, 8, 31, 1000]) {
          const want = Array.from(
            { length: Math.max(0, Math.min(limit, 43 - after)) },
            (_, i) => after + 1 + i,
          );
          expect(
            (await store.readEvents('w', { after, limit })).map((e) => e.seq),
            `${after}/${limit}`,
          ).toEqual(want);
        }
      }
    } finally {
      await store.close();
    }
  });

  it("a completed todo's row stores no copy of the output its todo.completed event carries, and reads back whole", async () => {
    const store = new SqliteStore({ database: file() });
    try {
      const { lease } = await store.createSession(
        { id: 'o', status: 'running', state: emptyState() },
        'a',
        30_000,
      );
      const output = { rows: Array.from({ length: 50 }, (_, i) => ({ i, name: `row ${i}` })) };
      const row = (todoId: string, out: unknown) => ({
        sessionId: 'o',
        turnId: 't',
        todoId,
        status: 'completed' as const,
        attempts: 1,
        idempotencyKey: `k-${todoId}`,
        output: out as never,
      });
      const completed = (seq: number, todoId: string, out: unknown): AgentEvent =>
        ({
          type: 'todo.completed',
          sessionId: 'o',
          turnId: 't',
          seq,
          at: seq,
          todoId,
          output: out,
          cached: false,
          durationMs: 1,
        }) as AgentEvent;
      // 'a': the same output object in the event and the row (what the engine commits); 'b': a row whose
      // output is not in this commit's events (stored whole); 'c': an equal but distinct object (stored whole).
      await store.commit({
        sessionId: 'o',
        expectedVersion: 1,
        lease,
        events: [ev('o', 1), completed(2, 'a', output), completed(3, 'c', { x: 1 })],
        todos: [row('a', output), row('b', { y: 2 }), row('c', { x: 1 })],
        planVersions: [],
        inboxAcks: [],
        leaseAction: 'renew',
        leaseTtlMs: 30_000,
      });
      const byId = new Map((await store.getTodos('o', 't')).map((t) => [t.todoId, t]));
      expect(byId.get('a')?.output).toEqual(output);
      expect(byId.get('b')?.output).toEqual({ y: 2 });
      expect(byId.get('c')?.output).toEqual({ x: 1 });
      expect(Object.keys(byId.get('a') ?? {})).not.toContain('$outputSeq');
      // The rows ride in the commit's journal row until they are folded into the todos table.
      const journaled = store.database
        .prepare(`SELECT length(todos) FROM journal WHERE session_id = 'o' AND version = 2`)
        .pluck()
        .get() as number;
      expect(journaled).toBeLessThan(JSON.stringify(output).length);
      expect(store.foldTodos()).toBe(1);
      // Folded: the sessions row's version (the watermark) reached the newest journal row.
      expect(store.database.prepare(`SELECT version FROM sessions WHERE id = 'o'`).pluck().get()).toBe(2);
      expect(new Map((await store.getTodos('o', 't')).map((t) => [t.todoId, t]))).toEqual(byId);
      const stored = store.database
        .prepare(`SELECT length(record) FROM todos WHERE session_id = 'o' AND todo_id = 'a'`)
        .pluck()
        .get() as number;
      expect(stored).toBeLessThan(JSON.stringify(output).length);
      // A later commit re-touching the row without the event stores the output whole again.
      await store.commit({
        sessionId: 'o',
        expectedVersion: 2,
        lease,
        events: [],
        todos: [{ ...row('a', output), attempts: 2 }],
        planVersions: [],
        inboxAcks: [],
        leaseAction: 'renew',
        leaseTtlMs: 30_000,
      });
      expect((await store.getTodos('o', 't')).find((t) => t.todoId === 'a')).toMatchObject({
        attempts: 2,
        output,
      });
    } finally {
      await store.close();
    }
  });

  it('WAL checkpoints run in the background, never inside a commit', async () => {
    const path = file();
    const store = new SqliteStore({ database: path, checkpointIntervalMs: 50 });
    try {
      expect(store.database.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
      const before = statSync(path).size;
      const { lease } = await store.createSession(
        { id: 'c', status: 'running', state: emptyState() },
        'n',
        30_000,
      );
      const big = 'x'.repeat(2000);
      let version = 1;
      for (let i = 1; i <= 300; i += 1) {
        version = (
          await store.commit({
            sessionId: 'c',
            expectedVersion: version,
            lease,
            events: [{ ...ev('c', i), message: big } as AgentEvent],
            todos: [],
            planVersions: [],
            inboxAcks: [],
            leaseAction: 'renew',
            leaseTtlMs: 30_000,
          })
        ).version;
      }
      // The commits wrote only to the WAL (no automatic checkpoint); the worker copies pages into the
      // database file shortly after.
      for (let i = 0; i < 100 && statSync(path).size <= before + 300 * 2000; i += 1) await sleep(20);
      expect(statSync(path).size).toBeGreaterThan(before + 300 * 2000);
      // A manual checkpoint works alongside (-1: the worker held the checkpoint lock at that moment).
      expect(store.checkpoint().walFrames).toBeGreaterThanOrEqual(-1);
    } finally {
      await store.close();
    }
    // checkpoint: 'auto' keeps SQLite's default.
    const auto = new SqliteStore({ database: file(), checkpoint: 'auto' });
    expect(auto.database.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    await auto.close();
  });

  it('a commit writes the same WAL pages whatever its status (the fold writes the status index); the status reads back at once', async () => {
    const store = new SqliteStore({ database: file(), checkpointIntervalMs: 1e9, foldIntervalMs: 1e9 });
    try {
      const { lease } = await store.createSession(
        { id: 'st', status: 'running', state: emptyState() },
        'n',
        30_000,
      );
      let version = 1;
      // WAL frames one state-only commit writes (the WAL restarted empty before it).
      const frames = async (status: SessionStatus | undefined): Promise<number> => {
        store.database.pragma('wal_checkpoint(TRUNCATE)');
        version = (
          await store.commit({
            sessionId: 'st',
            expectedVersion: version,
            lease,
            ...(status ? { status } : {}),
            state: { ...emptyState(), turns: version },
            events: [],
            todos: [],
            planVersions: [],
            inboxAcks: [],
            leaseAction: 'renew',
            leaseTtlMs: 30_000,
          })
        ).version;
        return store.checkpoint().walFrames;
      };
      const none = await frames(undefined);
      expect(await frames('running')).toBe(none);
      expect((await store.getSession('st'))?.status).toBe('running');
      // A change writes no more: the journal row carries the status, the fold moves it later.
      expect(await frames('waiting')).toBe(none);
      expect((await store.getSession('st'))?.status).toBe('waiting');
      expect((await store.listSessions({ status: ['waiting'] })).map((r) => r.id)).toEqual(['st']);
      expect(await store.listSessions({ status: ['running'] })).toEqual([]);
      expect(await frames(undefined)).toBe(none);
      expect((await store.getSession('st'))?.status).toBe('waiting');
      expect(store.foldTodos()).toBe(1);
      expect((await store.getSession('st'))?.status).toBe('waiting');
      expect((await store.listSessions({ status: ['waiting'] })).map((r) => r.id)).toEqual(['st']);
    } finally {
      await store.close();
    }
  });

  it('the stored status is always the last one committed (repeated or changed, listed by status)', async () => {
    const statuses: SessionStatus[] = ['idle', 'running', 'waiting', 'paused'];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.option(fc.constantFrom(...statuses), { nil: undefined }), {
          minLength: 1,
          maxLength: 12,
        }),
        async (seq) => {
          const store = new SqliteStore({ database: ':memory:' });
          try {
            const { lease } = await store.createSession(
              { id: 'p', status: 'running', state: emptyState() },
              'n',
              30_000,
            );
            let version = 1;
            let expected: SessionStatus = 'running';
            for (const status of seq) {
              version = (
                await store.commit({
                  sessionId: 'p',
                  expectedVersion: version,
                  lease,
                  ...(status ? { status } : {}),
                  events: [],
                  todos: [],
                  planVersions: [],
                  inboxAcks: [],
                  leaseAction: 'renew',
                  leaseTtlMs: 30_000,
                })
              ).version;
              if (status) expected = status;
              expect((await store.getSession('p'))?.status).toBe(expected);
              expect((await store.listSessions({ status: [expected] })).map((r) => r.id)).toEqual(['p']);
            }
          } finally {
            await store.close();
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it('uses WAL, survives reopening, and two handles on one file fence each other', async () => {
    const path = file();
    const a = new SqliteStore(path);
    expect(a.database.pragma('journal_mode', { simple: true })).toBe('wal');
    const { lease } = await a.createSession(
      { id: 's1', status: 'running', state: emptyState() },
      'node-a',
      30_000,
    );
    await a.commit({
      sessionId: 's1',
      expectedVersion: 1,
      lease,
      events: [
        {
          type: 'todo.progress',
          sessionId: 's1',
          turnId: 't',
          seq: 1,
          at: 1,
          todoId: 'x',
          message: 'one',
        } as AgentEvent,
      ],
      todos: [],
      planVersions: [],
      inboxAcks: [],
      leaseAction: 'release',
      leaseTtlMs: 30_000,
    });
    await a.close();
    const b = new SqliteStore(path);
    const c = new SqliteStore(path);
    try {
      expect(await b.getSession('s1')).toMatchObject({ version: 2, lastSeq: 1, leaseOwner: null });
      const winners = (
        await Promise.all([b.acquireLease('s1', 'b', 30_000), c.acquireLease('s1', 'c', 30_000)])
      ).filter(Boolean);
      expect(winners).toHaveLength(1);
      const loser = winners[0]?.owner === 'b' ? c : b;
      const err = await loser
        .commit({
          sessionId: 's1',
          expectedVersion: 2,
          lease: { owner: 'x', epoch: 1 },
          events: [],
          todos: [],
          planVersions: [],
          inboxAcks: [],
          leaseAction: 'renew',
          leaseTtlMs: 1,
        })
        .catch((e: unknown) => e);
      expect(isDreamAgentError(err, 'CONFLICT')).toBe(true);
      expect((await c.readEvents('s1')).map((e) => e.seq)).toEqual([1]);
    } finally {
      await b.close();
      await c.close();
    }
  });

  it('an Agent on SQLite completes a turn, and a second Agent on the same file continues a waiting session', async () => {
    const path = file();
    const executed: string[] = [];
    const executor: Executor = {
      async execute(todo) {
        await Promise.resolve();
        executed.push(todo.id);
        return { output: { ok: todo.id } };
      },
    };
    const planner = new FunctionPlanner(() => ({
      todos: [
        { id: 'a', title: 'A', domain: 'work', dependsOn: [], input: {}, idempotent: true },
        { id: 'b', title: 'B', domain: 'work', dependsOn: ['a'], input: {}, approval: true },
      ],
    }));
    const mk = (store: SqliteStore): Agent => new Agent({ store, planner, executors: { work: executor } });
    const s1 = new SqliteStore(path);
    const first = await mk(s1).run('go').result();
    expect(first.status).toBe('waiting');
    expect(first.pending.map((p) => p.kind)).toEqual(['approval']);
    await s1.close();
    const s2 = new SqliteStore(path);
    try {
      const done = await mk(s2)
        .send(first.sessionId, { type: 'approval.grant', requestId: first.pending[0]?.id ?? '', actor: 'x' })
        .result();
      expect(done.status).toBe('completed');
      expect(executed).toEqual(['a', 'b']);
      const seqs = (await s2.readEvents(first.sessionId)).map((e) => e.seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    } finally {
      await s2.close();
    }
  });
});
