import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Agent,
  FunctionPlanner,
  isDreamAgentError,
  type AgentEvent,
  type Executor,
  type SessionState,
} from 'dream-agent';
import { storeContract } from 'dream-agent/testing';
import { SqliteStore } from '@dream-agent/sqlite';
import { storeExtensionCases } from './extensions.js';

const dir = mkdtempSync(join(tmpdir(), 'dream-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (): string => join(dir, `store-${(n += 1)}.db`);
const emptyState = (): SessionState => ({ turn: null, turns: 0, dialogue: [], slots: {}, metadata: {} });

storeContract('SqliteStore (file, WAL)', async ({ clock }) => {
  const store = new SqliteStore({ database: file(), clock });
  return { store, cleanup: () => store.close() };
});

storeContract('SqliteStore (your own in-memory Database)', async ({ clock }) => {
  const db = new Database(':memory:');
  return { store: new SqliteStore({ database: db, clock }), cleanup: async () => void db.close() };
});

storeExtensionCases('SqliteStore (file, WAL)', () => new SqliteStore({ database: file() }));

describe('SqliteStore specifics', () => {
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
