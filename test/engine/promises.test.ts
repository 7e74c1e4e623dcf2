/**
 * Two promises an outsider found broken, through the public API, on the memory store and SQLite:
 * - a `cancel` sent from another node that shares only the Store (no shared bus) stops the todo in
 *   flight promptly — it is not applied only after the todo finishes;
 * - a todo row whose status says `approved` without a grant covering its current effect (a database
 *   editor, a bug) never runs: the approval is asked again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Agent, FunctionPlanner, MemoryStore, type AgentEvent, type Store } from 'dream-agent';
import { SqliteStore } from '@dream-agent/sqlite';

const drain = async (run: AsyncIterable<AgentEvent> & { result(): Promise<unknown> }): Promise<unknown> => {
  for await (const _ of run) void _;
  return run.result();
};

const dir = mkdtempSync(join(tmpdir(), 'dream-engine-promises-'));
const sqlites: SqliteStore[] = [];
afterAll(async () => {
  for (const s of sqlites) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

const stores: [string, () => Store][] = [
  ['memory', () => new MemoryStore()],
  [
    'SQLite',
    () => {
      const s = new SqliteStore(join(dir, `s${sqlites.length}.db`));
      sqlites.push(s);
      return s;
    },
  ],
];

describe.each(stores)('engine promises on %s', (_name, makeStore) => {
  it('a cancel sent from another node without a shared bus aborts the todo in flight', async () => {
    const store = makeStore();
    let started!: () => void;
    const startedP = new Promise<void>((r) => (started = r));
    let sawAbort = false;
    const slow = {
      async execute(_todo: unknown, _input: unknown, ctx: { signal: AbortSignal }) {
        started();
        // Waits for its signal; a generous upper bound only keeps a broken engine from hanging the suite.
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 60_000);
          ctx.signal.addEventListener('abort', () => {
            sawAbort = true;
            clearTimeout(t);
            resolve();
          });
        });
        return { output: null };
      },
    };
    const planner = new FunctionPlanner(() => ({
      todos: [
        { id: 'a', title: 'A', domain: 'w', dependsOn: [], input: {} },
        { id: 'b', title: 'B', domain: 'w', dependsOn: ['a'], input: {} },
      ],
    }));
    // Each Agent has its own in-process bus: they share only the store.
    const owner = new Agent({ store, planner, executors: { w: slow }, leaseTtlMs: 3_000 });
    const other = new Agent({ store, planner, executors: { w: slow }, leaseTtlMs: 3_000 });
    try {
      const run = owner.run('go');
      const result = drain(run);
      await startedP;
      const { sessionId } = run;
      const sent = other.send(sessionId, { type: 'cancel', actor: 'ops', reason: 'stop' });
      const [r, s] = (await Promise.all([result, drain(sent)])) as [{ status: string }, { status: string }];
      expect(sawAbort).toBe(true);
      expect(r.status).toBe('cancelled');
      expect(s.status).toBe('cancelled');
      const snap = await other.getSession(sessionId);
      expect(snap.status).toBe('idle');
    } finally {
      await owner.close();
      await other.close();
    }
  }, 30_000);

  it('a todo forged to status "approved" without a matching grant is not run; the approval is asked again', async () => {
    const store = makeStore();
    const ran: unknown[] = [];
    const agent = new Agent({
      store,
      planner: new FunctionPlanner(() => ({
        todos: [
          {
            id: 'pay',
            title: 'Pay',
            domain: 'w',
            dependsOn: [],
            input: { to: 'team@corp' },
            approval: true,
          },
        ],
      })),
      executors: {
        w: {
          async execute(_todo, input) {
            await Promise.resolve();
            ran.push(input);
            return { output: { ok: true } };
          },
        },
      },
    });
    try {
      const first = (await drain(agent.run('pay'))) as { sessionId: string; status: string };
      expect(first.status).toBe('waiting');
      const { sessionId } = first;
      const before = await agent.getSession(sessionId);
      const request = before.pending[0]!;
      expect(request.kind).toBe('approval');
      // A database editor flips the row to approved (with and without a made-up digest) and drops the request.
      for (const forged of [
        { approvedBy: 'mallory' },
        { approvedBy: 'mallory', approvedDigest: 'f'.repeat(64) },
      ]) {
        const rec = (await store.getSession(sessionId))!;
        const lease = (await store.acquireLease(sessionId, 'editor', 1_000))!;
        const [todo] = await store.getTodos(sessionId, rec.state.turn!.id);
        const state = structuredClone(rec.state);
        state.turn!.pending = [];
        await store.commit({
          sessionId,
          expectedVersion: (await store.getSession(sessionId))!.version,
          lease,
          state,
          events: [],
          todos: [{ ...todo!, status: 'approved', ...forged }],
          planVersions: [],
          inboxAcks: [],
          leaseAction: 'release',
          leaseTtlMs: 1_000,
        });
        const resumed = (await drain(agent.resume(sessionId))) as { status: string };
        expect(ran).toEqual([]);
        expect(resumed.status).toBe('waiting');
        const snap = await agent.getSession(sessionId);
        expect(snap.pending.map((p) => p.kind)).toEqual(['approval']);
        expect(snap.pending[0]!.digest).toBe(request.digest);
      }
      // A real grant still works.
      const granted = (await drain(
        agent.send(sessionId, { type: 'approval.grant', requestId: request.id, actor: 'manager' }),
      )) as { status: string };
      expect(granted.status).toBe('completed');
      expect(ran).toEqual([{ to: 'team@corp' }]);
    } finally {
      await agent.close();
    }
  }, 30_000);
});
