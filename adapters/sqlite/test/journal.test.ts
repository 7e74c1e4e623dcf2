import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { AgentEvent, Commit, LeaseToken, SessionState, TodoRecord } from 'dream-agent';
import { SqliteStore } from '@dream-agent/sqlite';

const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'dream-sqlite-journal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (): string => join(dir, `j-${(n += 1)}.db`);
const emptyState = (): SessionState => ({ turn: null, turns: 0, dialogue: [], slots: {}, metadata: {} });

/** How many journal rows are above their session's watermark (not folded yet). */
const unfolded = (store: SqliteStore): number =>
  store.database
    .prepare(
      `SELECT count(*) FROM journal j JOIN sessions s ON s.id = j.session_id AND j.version > s.version`,
    )
    .pluck()
    .get() as number;

const commitOf = (
  sessionId: string,
  expectedVersion: number,
  lease: LeaseToken,
  patch: Partial<Commit> = {},
): Commit => ({
  sessionId,
  expectedVersion,
  lease,
  events: [],
  todos: [],
  planVersions: [],
  inboxAcks: [],
  leaseAction: 'renew',
  leaseTtlMs: 60_000,
  ...patch,
});

describe('SqliteStore journal layout (todo rows ride in the commit row, folded later)', () => {
  it('a database written by schema version 2 reads back identically after migrating, and carries on', async () => {
    // layout-v2.db was written by the store of schema version 2 (two sessions, 40 commits each with
    // events, todo rows whose outputs reference their events, rows re-written without events, 20 plan
    // versions crossing a checkpoint, acked and pending commands, a released lease); layout-v2.json is
    // what that store read back from it.
    const path = file();
    copyFileSync(join(here, 'fixtures', 'layout-v2.db'), path);
    const want = JSON.parse(readFileSync(join(here, 'fixtures', 'layout-v2.json'), 'utf8')) as Record<
      string,
      Record<string, unknown>
    >;
    const store = new SqliteStore({ database: path, clock: { now: () => 1_700_000_100_000 } });
    try {
      expect(store.database.pragma('user_version', { simple: true })).toBe(4);
      for (const id of ['alpha', 'beta']) {
        const w = want[id] ?? {};
        const sort = (ts: TodoRecord[]): TodoRecord[] =>
          [...ts].sort((a, b) => `${a.turnId}/${a.todoId}`.localeCompare(`${b.turnId}/${b.todoId}`));
        const got = await store.readRecords(id);
        const wr = w['records'] as { todos: TodoRecord[] };
        expect({ ...got, todos: sort(got?.todos ?? []) }).toEqual({ ...wr, todos: sort(wr.todos) });
        expect(sort(await store.getTodos(id, 'turn-0'))).toEqual(sort(w['todos0'] as TodoRecord[]));
        expect(sort(await store.getTodos(id, 'turn-1'))).toEqual(sort(w['todos1'] as TodoRecord[]));
        expect(await store.readEvents(id, { after: 10, limit: 7 })).toEqual(w['events']);
        expect(await store.getPlan(id, 'p', 11)).toEqual(w['plan']);
        expect(await store.listPlanVersions(id, 'p')).toEqual(w['plans']);
      }
      // 'beta' released its lease: a new owner continues it in the new layout.
      const lease = await store.acquireLease('beta', 'next', 60_000);
      if (!lease) throw new Error('no lease');
      const before = await store.getSession('beta');
      const t: TodoRecord = {
        sessionId: 'beta',
        turnId: 'turn-1',
        todoId: 't1',
        status: 'running',
        attempts: 2,
        idempotencyKey: 'again',
      };
      const seq = before?.lastSeq ?? 0;
      await store.commit(
        commitOf('beta', before?.version ?? 0, lease, {
          events: [
            {
              type: 'todo.started',
              sessionId: 'beta',
              turnId: 'turn-1',
              seq: seq + 1,
              at: 1,
              todoId: 't1',
              attempt: 2,
              idempotencyKey: 'again',
            } as AgentEvent,
          ],
          todos: [t],
        }),
      );
      const t1 = (await store.getTodos('beta', 'turn-1')).find((x) => x.todoId === 't1');
      expect(t1).toEqual(t);
      store.foldTodos();
      expect((await store.getTodos('beta', 'turn-1')).find((x) => x.todoId === 't1')).toEqual(t);
      expect((await store.getTodos('beta', 'turn-1')).length).toBe(
        (want['beta']?.['todos1'] as unknown[]).length,
      );
    } finally {
      await store.close();
    }
  });

  it('property: todo rows read back as last written, across journal rows, folds, direct writes, rewrites and a second connection', async () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('commit' as const),
        events: fc.integer({ min: 0, max: 3 }),
        todos: fc.array(
          fc.record({
            turn: fc.constantFrom('t1', 't2'),
            todo: fc.constantFrom('a', 'b', 'c', 'd'),
            status: fc.constantFrom('running', 'completed', 'failed'),
            // 'event': the output object is also in this commit's todo.completed event (stored by reference).
            output: fc.constantFrom('none', 'own', 'event'),
          }),
          { maxLength: 4 },
        ),
      }),
      fc.record({ kind: fc.constant('fold' as const) }),
      fc.record({ kind: fc.constant('rewrite' as const), todo: fc.constantFrom('a', 'b', 'c', 'd') }),
      fc.record({ kind: fc.constant('reopen' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 16 }), async (ops) => {
        const path = file();
        let store = new SqliteStore({ database: path, foldIntervalMs: 1e9, checkpoint: 'auto' });
        const other = new SqliteStore({ database: path, foldIntervalMs: 1e9, checkpoint: 'auto' });
        try {
          const { lease } = await store.createSession(
            { id: 's', status: 'running', state: emptyState() },
            'o',
            60_000,
          );
          const model = new Map<string, TodoRecord>();
          let version = 1;
          let seq = 0;
          let i = 0;
          for (const o of ops) {
            i += 1;
            if (o.kind === 'fold') store.foldTodos();
            else if (o.kind === 'reopen') {
              // A process that stops without folding: the next one reads the journal as it is.
              await store.close();
              store = new SqliteStore({ database: path, foldIntervalMs: 1e9, checkpoint: 'auto' });
            } else if (o.kind === 'rewrite') {
              const cur = [...model.values()].filter((t) => t.todoId === o.todo);
              const todos = cur.map((t) => ({ ...t, title: `rewritten ${i}` }) as TodoRecord);
              await store.rewriteRecords({ sessionId: 's', expectedVersion: version, todos });
              for (const t of todos) model.set(`${t.turnId}/${t.todoId}`, t);
            } else {
              const events: AgentEvent[] = [];
              for (let k = 0; k < o.events; k += 1)
                events.push({
                  type: 'todo.progress',
                  sessionId: 's',
                  turnId: 't1',
                  seq: seq + events.length + 1,
                  at: i,
                  todoId: 'x',
                  message: `m${i}.${k}`,
                } as AgentEvent);
              const todos: TodoRecord[] = [];
              const seen = new Set<string>();
              for (const t of o.todos) {
                if (seen.has(`${t.turn}/${t.todo}`)) continue;
                seen.add(`${t.turn}/${t.todo}`);
                const output = { i, of: `${t.turn}/${t.todo}` };
                const row: TodoRecord = {
                  sessionId: 's',
                  turnId: t.turn,
                  todoId: t.todo,
                  status: t.status as TodoRecord['status'],
                  attempts: i,
                  idempotencyKey: `k${i}`,
                  ...(t.output === 'none' ? {} : { output }),
                };
                if (t.output === 'event')
                  events.push({
                    type: 'todo.completed',
                    sessionId: 's',
                    turnId: t.turn,
                    seq: seq + events.length + 1,
                    at: i,
                    todoId: t.todo,
                    output,
                    cached: false,
                    durationMs: 1,
                  } as AgentEvent);
                todos.push(row);
              }
              const r = await store.commit(commitOf('s', version, lease, { events, todos }));
              version = r.version;
              seq = r.lastSeq;
              for (const t of todos) model.set(`${t.turnId}/${t.todoId}`, structuredClone(t));
            }
            for (const reader of [store, other]) {
              for (const turn of ['t1', 't2']) {
                const want = [...model.values()]
                  .filter((t) => t.turnId === turn)
                  .sort((a, b) => (a.todoId < b.todoId ? -1 : 1));
                expect(await reader.getTodos('s', turn)).toEqual(want);
              }
              const all = (await reader.readRecords('s'))?.todos ?? [];
              expect(all).toHaveLength(model.size);
              expect(new Map(all.map((t) => [`${t.turnId}/${t.todoId}`, t]))).toEqual(model);
            }
          }
          store.foldTodos();
          expect(unfolded(store)).toBe(0);
        } finally {
          await store.close();
          await other.close();
        }
      }),
      { numRuns: 40 },
    );
  }, 180_000);

  it('close() folds what this store journaled; a store that never folded leaves the reads exact', async () => {
    const path = file();
    const a = new SqliteStore({ database: path, foldIntervalMs: 1e9 });
    const { lease } = await a.createSession({ id: 'c', status: 'running', state: emptyState() }, 'o', 60_000);
    const todo: TodoRecord = {
      sessionId: 'c',
      turnId: 't',
      todoId: 'x',
      status: 'completed',
      attempts: 1,
      idempotencyKey: 'k',
      output: { ok: 1 },
    };
    const ev = {
      type: 'todo.progress',
      sessionId: 'c',
      turnId: 't',
      seq: 1,
      at: 1,
      todoId: 'x',
      message: 'm',
    } as AgentEvent;
    await a.commit(commitOf('c', 1, lease, { events: [ev], todos: [todo] }));
    expect(unfolded(a)).toBe(1);
    expect(a.database.prepare(`SELECT count(*) FROM todos`).pluck().get()).toBe(0);
    expect(await a.getTodos('c', 't')).toEqual([todo]);
    await a.close();
    const b = new SqliteStore({ database: path, foldIntervalMs: 1e9 });
    try {
      expect(unfolded(b)).toBe(0);
      expect(b.database.prepare(`SELECT count(*) FROM todos`).pluck().get()).toBe(1);
      expect(await b.getTodos('c', 't')).toEqual([todo]);
    } finally {
      await b.close();
    }
  });

  it('the fold runs by itself between commits (foldIntervalMs)', async () => {
    const store = new SqliteStore({ database: file(), foldIntervalMs: 5 });
    try {
      const { lease } = await store.createSession(
        { id: 'f', status: 'running', state: emptyState() },
        'o',
        60_000,
      );
      const ev = {
        type: 'todo.progress',
        sessionId: 'f',
        turnId: 't',
        seq: 1,
        at: 1,
        todoId: 'x',
        message: 'm',
      } as AgentEvent;
      const todo: TodoRecord = {
        sessionId: 'f',
        turnId: 't',
        todoId: 'x',
        status: 'running',
        attempts: 1,
        idempotencyKey: 'k',
      };
      await store.commit(commitOf('f', 1, lease, { events: [ev], todos: [todo] }));
      const count = (): unknown => store.database.prepare(`SELECT count(*) FROM todos`).pluck().get();
      for (let k = 0; k < 400 && count() === 0; k += 1) await new Promise((r) => setTimeout(r, 10));
      expect(count()).toBe(1);
      expect(await store.getTodos('f', 't')).toEqual([todo]);
    } finally {
      await store.close();
    }
  });

  it('a wrong status hint (the session deleted and re-created by another connection) still stores the status', async () => {
    const path = file();
    const a = new SqliteStore({ database: path });
    const b = new SqliteStore({ database: path });
    try {
      await a.createSession({ id: 'h', status: 'running', state: emptyState() }, 'o', 60_000);
      await b.deleteSession('h');
      const { lease } = await b.createSession(
        { id: 'h', status: 'waiting', state: emptyState() },
        'o',
        60_000,
      );
      // a's hint says version 1 is 'running'; the row is 'waiting'.
      await a.commit(commitOf('h', 1, lease, { status: 'running' }));
      expect((await a.getSession('h'))?.status).toBe('running');
      expect((await b.listSessions({ status: ['running'] })).map((s) => s.id)).toEqual(['h']);
      expect(await b.listSessions({ status: ['waiting'] })).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
