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

  it('a database written by schema version 3 (journaled todo rows not folded, as after a crash) reads back identically after migrating, and accepts new commits', async () => {
    // layout-v3.db was written by the store of schema version 3 (write-layout-v3.ts): two sessions, 30
    // commits each, 'alpha' folded after 20 commits and 'beta' never, the process gone without close();
    // layout-v3.json is what that store read back from it.
    const path = file();
    copyFileSync(join(here, 'fixtures', 'layout-v3.db'), path);
    const want = JSON.parse(readFileSync(join(here, 'fixtures', 'layout-v3.json'), 'utf8')) as Record<
      string,
      Record<string, unknown>
    >;
    const now = 1_700_000_100_000;
    const open = (): SqliteStore =>
      new SqliteStore({ database: path, clock: { now: () => now }, foldIntervalMs: 1e9 });
    const readAll = async (store: SqliteStore, id: string): Promise<Record<string, unknown>> => ({
      session: await store.getSession(id),
      records: await store.readRecords(id),
      todos0: await store.getTodos(id, 'turn-0'),
      todos1: await store.getTodos(id, 'turn-1'),
      events: await store.readEvents(id, { after: 10, limit: 7 }),
      plan: await store.getPlan(id, 'p', 11),
      plans: await store.listPlanVersions(id, 'p'),
      pending: await store.pendingCommands(id),
    });
    let store = open();
    try {
      expect(store.database.pragma('user_version', { simple: true })).toBe(4);
      for (const id of ['alpha', 'beta']) expect(await readAll(store, id)).toEqual(want[id]);
      expect(await store.listSessions({ tenantId: 't' })).toEqual(want['list']);
      // The old layout's event batches are journal rows at or below the watermark: nothing to fold.
      expect(unfolded(store)).toBe(0);
      // 'alpha' is still leased to its writer (epoch 1); 'beta' released its lease: a new owner takes it.
      const alpha = await store.getSession('alpha');
      const beta = await store.getSession('beta');
      const leaseB = await store.acquireLease('beta', 'next', 60_000);
      if (!alpha || !beta || !leaseB) throw new Error('fixture sessions missing');
      expect(leaseB.epoch).toBe(beta.leaseEpoch + 1);
      const t = (id: string): TodoRecord => ({
        sessionId: id,
        turnId: 'turn-1',
        todoId: 't1',
        status: 'running',
        attempts: 99,
        idempotencyKey: 'again',
      });
      const started = (id: string, seq: number): AgentEvent =>
        ({
          type: 'todo.started',
          sessionId: id,
          turnId: 'turn-1',
          seq,
          at: 1,
          todoId: 't1',
          attempt: 99,
          idempotencyKey: 'again',
        }) as AgentEvent;
      const ra = await store.commit(
        commitOf(
          'alpha',
          alpha.version,
          { owner: 'writer', epoch: alpha.leaseEpoch },
          {
            events: [started('alpha', alpha.lastSeq + 1)],
            todos: [t('alpha')],
            inboxAcks: [{ commandId: 'c3', status: 'applied' }],
          },
        ),
      );
      expect(ra).toMatchObject({
        version: alpha.version + 1,
        lastSeq: alpha.lastSeq + 1,
        pendingCommands: 0,
      });
      const rb = await store.commit(
        commitOf('beta', beta.version, leaseB, {
          status: 'running',
          events: [started('beta', beta.lastSeq + 1)],
          todos: [t('beta')],
        }),
      );
      expect(rb).toMatchObject({ version: beta.version + 1, lastSeq: beta.lastSeq + 1, pendingCommands: 1 });
      // A stale version is refused by the key, a stale lease by the guard.
      await expect(
        store.commit(commitOf('beta', beta.version, leaseB, { events: [started('beta', beta.lastSeq + 1)] })),
      ).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(
        store.commit(commitOf('beta', rb.version, { owner: 'writer', epoch: beta.leaseEpoch })),
      ).rejects.toMatchObject({ code: 'CONFLICT' });
      const check = async (s: SqliteStore): Promise<void> => {
        for (const id of ['alpha', 'beta']) {
          const w = want[id] as { todos1: TodoRecord[]; session: { version: number; lastSeq: number } };
          const got = await readAll(s, id);
          expect((got['session'] as { version: number }).version).toBe(w.session.version + 1);
          expect(got['todos1']).toEqual(
            [...w.todos1.filter((x) => x.todoId !== 't1'), t(id)].sort((a, b) =>
              a.todoId < b.todoId ? -1 : 1,
            ),
          );
          expect(got['todos0']).toEqual(want[id]?.['todos0']);
          expect(await s.readEvents(id, { after: w.session.lastSeq })).toEqual([
            started(id, w.session.lastSeq + 1),
          ]);
          expect(got['events']).toEqual(want[id]?.['events']);
        }
        expect((await s.getSession('beta'))?.status).toBe('running');
        expect((await s.getSession('beta'))?.leaseOwner).toBe('next');
      };
      await check(store);
      expect(unfolded(store)).toBe(2);
      const second = open();
      await check(second);
      await second.close();
      store.foldTodos();
      expect(unfolded(store)).toBe(0);
      await check(store);
      await store.close();
      store = open();
      await check(store);
    } finally {
      await store.close();
    }
  });

  it('property: sessions, events and todo rows read back as last written, on both connections, across journal rows, folds, lease changes, rewrites and crashes before the fold', async () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('commit' as const),
        // Which connection commits (each folds only what it wrote).
        by: fc.constantFrom('store', 'other'),
        events: fc.integer({ min: 0, max: 3 }),
        status: fc.constantFrom(undefined, 'running', 'waiting', 'paused'),
        state: fc.boolean(),
        ttl: fc.integer({ min: 1_000, max: 90_000 }),
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
      fc.record({ kind: fc.constant('fold' as const), by: fc.constantFrom('store', 'other') }),
      fc.record({ kind: fc.constant('renew' as const), ttl: fc.integer({ min: 1_000, max: 90_000 }) }),
      // behind < 0: a version ahead of the session's (no journal row there: the guard, not the key, refuses it).
      fc.record({ kind: fc.constant('stale' as const), behind: fc.integer({ min: -2, max: 3 }) }),
      fc.record({ kind: fc.constant('rewrite' as const), todo: fc.constantFrom('a', 'b', 'c', 'd') }),
      fc.record({ kind: fc.constant('reopen' as const) }),
      // A process that stops without folding (its database handle gone before close()).
      fc.record({ kind: fc.constant('crash' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 16 }), async (ops) => {
        const path = file();
        let now = 1_000_000;
        const clock = { now: () => now };
        const open = (): SqliteStore =>
          new SqliteStore({ database: path, foldIntervalMs: 1e9, checkpoint: 'auto', clock });
        let store = open();
        let other = open();
        try {
          const { lease } = await store.createSession(
            { id: 's', status: 'running', state: emptyState() },
            'o',
            60_000,
          );
          const model = new Map<string, TodoRecord>();
          const events: AgentEvent[] = [];
          let version = 1;
          let status = 'running';
          let state = emptyState();
          let expires = now + 60_000;
          let i = 0;
          for (const o of ops) {
            i += 1;
            now += 10;
            if (o.kind === 'fold') (o.by === 'store' ? store : other).foldTodos();
            else if (o.kind === 'reopen') {
              await store.close();
              store = open();
            } else if (o.kind === 'crash') {
              store.database.close();
              await store.close();
              other.database.close();
              await other.close();
              store = open();
              other = open();
            } else if (o.kind === 'renew') {
              expires = (await other.renewLease('s', lease, o.ttl)) ?? -1;
              expect(expires).toBe(now + o.ttl);
            } else if (o.kind === 'stale') {
              // An older or newer version, or the right one under a lease epoch that never existed: refused, nothing written.
              const bad =
                o.behind === 0
                  ? commitOf('s', version, { owner: 'o', epoch: lease.epoch + 1 })
                  : commitOf('s', version - o.behind, lease);
              await expect(store.commit(bad)).rejects.toMatchObject({ code: 'CONFLICT' });
            } else if (o.kind === 'rewrite') {
              const cur = [...model.values()].filter((t) => t.todoId === o.todo);
              const todos = cur.map((t) => ({ ...t, title: `rewritten ${i}` }) as TodoRecord);
              state = { ...state, metadata: { rewritten: i } };
              await store.rewriteRecords({ sessionId: 's', expectedVersion: version, todos, state });
              for (const t of todos) model.set(`${t.turnId}/${t.todoId}`, t);
            } else {
              const seq = events.length;
              const mine: AgentEvent[] = [];
              for (let k = 0; k < o.events; k += 1)
                mine.push({
                  type: 'todo.progress',
                  sessionId: 's',
                  turnId: 't1',
                  seq: seq + mine.length + 1,
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
                  mine.push({
                    type: 'todo.completed',
                    sessionId: 's',
                    turnId: t.turn,
                    seq: seq + mine.length + 1,
                    at: i,
                    todoId: t.todo,
                    output,
                    cached: false,
                    durationMs: 1,
                  } as AgentEvent);
                todos.push(row);
              }
              const next = o.state ? { ...emptyState(), turns: i } : undefined;
              const writer = o.by === 'store' ? store : other;
              const r = await writer.commit(
                commitOf('s', version, lease, {
                  events: mine,
                  todos,
                  leaseTtlMs: o.ttl,
                  ...(o.status ? { status: o.status } : {}),
                  ...(next ? { state: next } : {}),
                }),
              );
              expect(r).toMatchObject({
                version: version + 1,
                lastSeq: seq + mine.length,
                leaseExpiresAt: now + o.ttl,
              });
              version = r.version;
              expires = now + o.ttl;
              if (o.status) status = o.status;
              if (next) state = next;
              events.push(...mine);
              for (const t of todos) model.set(`${t.turnId}/${t.todoId}`, structuredClone(t));
            }
            for (const reader of [store, other]) {
              for (const turn of ['t1', 't2']) {
                const want = [...model.values()]
                  .filter((t) => t.turnId === turn)
                  .sort((a, b) => (a.todoId < b.todoId ? -1 : 1));
                expect(await reader.getTodos('s', turn)).toEqual(want);
              }
              const rec = await reader.readRecords('s');
              const all = rec?.todos ?? [];
              expect(all).toHaveLength(model.size);
              expect(new Map(all.map((t) => [`${t.turnId}/${t.todoId}`, t]))).toEqual(model);
              expect(rec?.events).toEqual(events);
              const session = await reader.getSession('s');
              expect(session).toMatchObject({
                version,
                status,
                lastSeq: events.length,
                state,
                leaseEpoch: lease.epoch,
                leaseOwner: 'o',
                leaseExpiresAt: expires,
              });
              expect(rec?.session).toEqual(session);
              expect((await reader.listSessions({ status: [status as 'running'] })).map((x) => x.id)).toEqual(
                ['s'],
              );
              expect(await reader.listSessions({ leaseExpiredBefore: now })).toEqual([]);
              for (let after = 0; after <= events.length; after += 1)
                expect(await reader.readEvents('s', { after, limit: 2 })).toEqual(
                  events.slice(after, after + 2),
                );
            }
          }
          store.foldTodos();
          other.foldTodos();
          expect(unfolded(store)).toBe(0);
          // Folded, the sessions row itself holds what the overlay showed.
          const row = store.database.prepare(`SELECT version, status, last_seq FROM sessions`).get();
          expect(row).toEqual({ version, status, last_seq: events.length });
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
