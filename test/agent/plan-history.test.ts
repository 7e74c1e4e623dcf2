/**
 * Plan history stored as diffs, through the public API: five 200 KB `plan.edit`s give a snapshot (with
 * `history: 'changes'`) and a store footprint that grow with the edits, not with versions × plan size, and
 * every version comes back whole on demand.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Agent, FunctionPlanner, MemoryStore, type PlanEdit, type Store, type Todo } from 'dream-agent';
import { SqliteStore } from '@dream-agent/sqlite';
import { Recorder, scriptedExecutor, todo } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'dream-plan-history-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v));
const blob = (i: number): string => `v${i} ${'é'.repeat(100_000)}`; // 200 KB of UTF-8

async function bigSession(
  store: Store,
  edit: (i: number) => PlanEdit,
): Promise<{ agent: Agent; id: string; edits: PlanEdit[] }> {
  const agent = new Agent({
    store,
    planner: new FunctionPlanner(() => ({
      todos: [todo('fetch', [], { input: { table: 'sales' } }), todo('draft', ['fetch'])],
    })),
    executors: { work: scriptedExecutor(new Recorder()) },
    hitl: { planReview: 'always' },
    limits: { maxCommandBytes: 1024 * 1024 },
  });
  const id = `big-${Math.random().toString(36).slice(2)}`;
  const first = await agent.run('write the report', { sessionId: id }).result();
  expect(first.pending.map((p) => p.kind)).toEqual(['plan_review']);
  const edits: PlanEdit[] = [];
  for (let i = 1; i <= 5; i += 1) {
    const e = edit(i);
    await agent.send(id, { type: 'plan.edit', edits: [e] }).result();
    edits.push(e);
  }
  return { agent, id, edits };
}

const stores: [string, () => { store: Store; planBytes?: (id: string) => number }][] = [
  ['MemoryStore', () => ({ store: new MemoryStore() })],
  [
    'SqliteStore',
    () => {
      const store = new SqliteStore({ database: join(dir, `${Math.random().toString(36).slice(2)}.db`) });
      return {
        store,
        planBytes: (id) =>
          store.database
            .prepare('SELECT COALESCE(SUM(length(record)), 0) FROM plan_versions WHERE session_id = ?')
            .pluck()
            .get(id) as number,
      };
    },
  ],
];

describe.each(stores)('plan history as diffs (%s)', (_name, make) => {
  it('five 200 KB todo additions: the changes snapshot and the stored history grow with the edits', async () => {
    const { store, planBytes } = make();
    const { agent, id, edits } = await bigSession(store, (i) => ({
      op: 'add',
      todo: { ...todo(`note${i}`, [], { input: { notes: blob(i) } }), input: { notes: blob(i) } } as Todo,
    }));
    try {
      const editBytes = bytes(edits);
      const full = await agent.getSession(id);
      const slim = await agent.getSession(id, { history: 'changes' });
      expect(full.planHistory.map((v) => v.plan.version)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(slim.planHistory).toEqual([]);
      expect(slim.planChanges?.map((c) => [c.version, c.actor, c.diff?.added])).toEqual([
        [1, 'planner', undefined],
        [2, 'anonymous', ['note1']],
        [3, 'anonymous', ['note2']],
        [4, 'anonymous', ['note3']],
        [5, 'anonymous', ['note4']],
        [6, 'anonymous', ['note5']],
      ]);
      expect(slim.planChanges?.[2]?.edits).toEqual([edits[1]]);
      expect(slim.plan).toEqual(full.plan);
      // Full history holds 1 + 2 + 3 + 4 + 5 copies of a 200 KB todo (quadratic); the changes snapshot
      // holds each edit once and the current plan once.
      expect(bytes(full)).toBeGreaterThan(3 * editBytes);
      expect(bytes(slim)).toBeLessThan(editBytes + bytes(slim.plan) + 50_000);
      // Stored: each version as what it added (plus its edits), not the whole plan again.
      if (planBytes) expect(planBytes(id)).toBeLessThan(2 * editBytes + 50_000);
      // Every version comes back whole on demand, exactly as the full history has it.
      for (const v of full.planHistory) expect(await agent.getPlanVersion(id, v.plan.version)).toEqual(v);
      expect(await agent.getPlanVersion(id)).toEqual(full.planHistory.at(-1));
      expect(await agent.getPlanVersion(id, 99)).toBeUndefined();
    } finally {
      await agent.close();
      await store.close?.();
    }
  });

  it('five 200 KB updates of one todo: every version reconstructs and a later title edit stores no copy', async () => {
    const { store, planBytes } = make();
    const { agent, id, edits } = await bigSession(store, (i) => ({
      op: 'update',
      todoId: 'draft',
      patch: { input: { notes: blob(i) } },
    }));
    try {
      const before = planBytes?.(id);
      await agent
        .send(id, {
          type: 'plan.edit',
          edits: [{ op: 'update', todoId: 'draft', patch: { title: 'Draft the report' } }],
        })
        .result();
      const full = await agent.getSession(id);
      expect(full.planHistory).toHaveLength(7);
      const draft = full.plan?.todos.find((t) => t.id === 'draft');
      expect(draft).toMatchObject({ title: 'Draft the report', input: { notes: blob(5) } });
      for (const v of full.planHistory) expect(await agent.getPlanVersion(id, v.plan.version)).toEqual(v);
      const slim = await agent.getSession(id, { history: 'changes' });
      expect(slim.planChanges?.at(-1)?.diff).toEqual({
        added: [],
        removed: [],
        changed: ['draft'],
        moved: false,
      });
      expect(bytes(slim)).toBeLessThan(bytes(edits) + bytes(slim.plan) + 50_000);
      if (planBytes && before !== undefined) expect(planBytes(id) - before).toBeLessThan(10_000);
    } finally {
      await agent.close();
      await store.close?.();
    }
  });

  it('getPlanVersion of an unknown session is SESSION_NOT_FOUND', async () => {
    const { store } = make();
    const agent = new Agent({ store, planner: new FunctionPlanner(() => ({ todos: [] })) });
    await expect(agent.getPlanVersion('nope', 1)).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
    await agent.close();
    await store.close?.();
  });
});
