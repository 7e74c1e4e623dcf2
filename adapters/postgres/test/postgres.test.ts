import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  Agent,
  FunctionPlanner,
  isDreamAgentError,
  type AgentEvent,
  type Executor,
  type SessionState,
} from 'dream-agent';
import { busContract, storeContract } from 'dream-agent/testing';
import { MIGRATIONS, PostgresEventBus, PostgresStore, migrate } from '@dream-agent/postgres';
import {
  freePort,
  serviceSkipReason,
  startPostgres,
  type PostgresService,
} from '../../../test/setup/services.js';

const skip = serviceSkipReason('postgres');
const emptyState = (): SessionState => ({ turn: null, turns: 0, dialogue: [], slots: {}, metadata: {} });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return isDreamAgentError(e) ? e.code : `not a DreamAgentError: ${String(e)}`;
  }
  return 'resolved';
}

if (skip) {
  describe.skip(`@dream-agent/postgres — skipped: ${skip}`, () => {
    it('needs PostgreSQL', () => undefined);
  });
} else {
  let server: PostgresService;
  let pool: pg.Pool;

  beforeAll(async () => {
    server = await startPostgres();
    pool = new pg.Pool({ connectionString: server.url, max: 12 });
    await migrate(pool);
  });
  afterAll(async () => {
    await pool?.end();
    await server?.stop();
  });

  storeContract('PostgresStore', async ({ clock }) => ({ store: new PostgresStore({ pool, clock }) }));

  busContract('PostgresEventBus (LISTEN/NOTIFY)', async () => {
    const a = new PostgresEventBus({ connectionString: server.url });
    const b = new PostgresEventBus({ pool });
    return { a, b, cleanup: async () => Promise.all([a.close(), b.close()]).then(() => undefined) };
  });

  describe('PostgresStore specifics', () => {
    it('the documented SQL file is exactly migration 1, and migrate() is idempotent and safe to race', async () => {
      const file = readFileSync(new URL('../src/migrations/001_init.sql', import.meta.url), 'utf8');
      expect(MIGRATIONS[0]?.sql).toBe(file);
      expect(await migrate(pool)).toEqual({ applied: [], version: 1 });
      const results = await Promise.all(
        [1, 2, 3].map(() => migrate({ connectionString: server.url }, { schema: 'raced' })),
      );
      expect(results.map((r) => r.applied).flat()).toEqual([1]);
      expect(results.every((r) => r.version === 1)).toBe(true);
      const store = new PostgresStore({ pool, schema: 'raced' });
      const { lease } = await store.createSession(
        { id: 'in-raced', status: 'running', state: emptyState() },
        'n',
        30_000,
      );
      expect(lease.epoch).toBe(1);
    });

    it('a commit is one statement on one connection (one round trip), whatever it carries', async () => {
      const store = new PostgresStore({ pool });
      const id = `rt-${Date.now()}`;
      const { lease } = await store.createSession(
        { id, status: 'running', state: emptyState() },
        'n',
        30_000,
      );
      await store.enqueueCommand({
        id: 'c1',
        sessionId: id,
        command: { type: 'pause' },
        actor: 'a',
        receivedAt: 1,
      });
      const spy = vi.spyOn(pg.Client.prototype, 'query');
      try {
        await store.commit({
          sessionId: id,
          expectedVersion: 1,
          lease,
          status: 'waiting',
          state: { ...emptyState(), turns: 1 },
          events: [1, 2, 3].map(
            (seq) =>
              ({
                type: 'todo.progress',
                sessionId: id,
                turnId: 't',
                seq,
                at: seq,
                todoId: 'a',
                message: 'm',
              }) as AgentEvent,
          ),
          todos: [
            {
              sessionId: id,
              turnId: 't',
              todoId: 'a',
              status: 'completed',
              attempts: 1,
              idempotencyKey: 'k',
            },
          ],
          planVersions: [
            {
              sessionId: id,
              turnId: 't',
              plan: { id: 'p', version: 1, todos: [] },
              edits: [],
              actor: 'x',
              createdAt: 1,
            },
          ],
          inboxAcks: [{ commandId: 'c1', status: 'applied' }],
          leaseAction: 'renew',
          leaseTtlMs: 30_000,
        });
        expect(spy).toHaveBeenCalledTimes(1);
      } finally {
        spy.mockRestore();
      }
      expect((await store.getSession(id))?.lastSeq).toBe(3);
    });

    it('leases run on the database clock: a second node takes over an expired lease and the old owner is fenced', async () => {
      const nodeA = new PostgresStore({ connectionString: server.url });
      const nodeB = new PostgresStore({ connectionString: server.url });
      try {
        const id = `dbclock-${Date.now()}`;
        const { lease } = await nodeA.createSession({ id, status: 'running', state: emptyState() }, 'a', 50);
        expect(await nodeB.acquireLease(id, 'b', 30_000)).toBeUndefined();
        await sleep(120);
        const taken = await nodeB.acquireLease(id, 'b', 30_000);
        expect(taken).toEqual({ owner: 'b', epoch: lease.epoch + 1 });
        const stale = nodeA.commit({
          sessionId: id,
          expectedVersion: 1,
          lease,
          events: [
            {
              type: 'todo.progress',
              sessionId: id,
              turnId: 't',
              seq: 1,
              at: 0,
              todoId: 'a',
              message: 'late',
            } as AgentEvent,
          ],
          todos: [],
          planVersions: [],
          inboxAcks: [],
          leaseAction: 'renew',
          leaseTtlMs: 30_000,
        });
        expect(await codeOf(stale)).toBe('CONFLICT');
        expect(await nodeA.renewLease(id, lease, 30_000)).toBeUndefined();
        expect(await nodeB.readEvents(id)).toEqual([]);
      } finally {
        await nodeA.close();
        await nodeB.close();
      }
    });

    it('claimStale: concurrent workers claim disjoint sets of dead sessions (FOR UPDATE SKIP LOCKED)', async () => {
      const schema = `claim_${Date.now()}`;
      await migrate(pool, { schema });
      const store = new PostgresStore({ pool, schema });
      const ids = Array.from({ length: 30 }, (_, i) => `dead-${String(i).padStart(2, '0')}`);
      for (const id of ids)
        await store.createSession({ id, status: 'running', state: emptyState() }, 'dead-node', 1);
      await store.createSession({ id: 'alive', status: 'running', state: emptyState() }, 'live-node', 60_000);
      await store.createSession({ id: 'idle', status: 'idle', state: emptyState() }, 'dead-node', 1);
      await sleep(20);
      const claims = await Promise.all(['w1', 'w2', 'w3'].map((w) => store.claimStale(30, w, 60_000)));
      const all = claims.flat().map((c) => c.sessionId);
      expect(new Set(all).size).toBe(all.length);
      expect(all.sort()).toEqual(ids);
      for (const c of claims.flat()) {
        const rec = await store.getSession(c.sessionId);
        expect(rec?.leaseOwner).toBe(c.lease.owner);
        expect(rec?.leaseEpoch).toBe(c.lease.epoch);
      }
      expect(await store.claimStale(10, 'w4', 60_000)).toEqual([]);
    });

    it('a value PostgreSQL cannot store (NUL in JSON) is INVALID_INPUT and writes nothing', async () => {
      const store = new PostgresStore({ pool });
      const id = `nul-${Date.now()}`;
      const { lease } = await store.createSession(
        { id, status: 'running', state: emptyState() },
        'n',
        30_000,
      );
      const bad = store.commit({
        sessionId: id,
        expectedVersion: 1,
        lease,
        events: [
          {
            type: 'todo.progress',
            sessionId: id,
            turnId: 't',
            seq: 1,
            at: 0,
            todoId: 'a',
            message: 'nul \u0000 here',
          } as AgentEvent,
        ],
        todos: [],
        planVersions: [],
        inboxAcks: [],
        leaseAction: 'renew',
        leaseTtlMs: 30_000,
      });
      expect(await codeOf(bad)).toBe('INVALID_INPUT');
      expect(await store.getSession(id)).toMatchObject({ version: 1, lastSeq: 0 });
    });

    it('an unreachable server is UNAVAILABLE (retryable), never a hang or a generic error', async () => {
      const port = await freePort();
      const store = new PostgresStore({
        connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`,
        retryTimeoutMs: 200,
      });
      try {
        const err = await store.getSession('x').then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isDreamAgentError(err, 'UNAVAILABLE')).toBe(true);
        expect((err as { retryable: boolean }).retryable).toBe(true);
        expect(
          await codeOf(store.createSession({ id: 'x', status: 'idle', state: emptyState() }, 'n', 1000)),
        ).toBe('UNAVAILABLE');
      } finally {
        await store.close();
      }
    });

    it('the bus carries messages above the 8000-byte NOTIFY limit intact', async () => {
      const a = new PostgresEventBus({ connectionString: server.url });
      const b = new PostgresEventBus({ connectionString: server.url });
      try {
        const got: unknown[] = [];
        const off = await b.subscribe('big', (m) => got.push(m));
        const big = { rows: Array.from({ length: 2000 }, (_, i) => ({ i, text: `row ${i} — ünïcødé` })) };
        await a.publish('big', big);
        await a.publish('big', 'small after big');
        for (let i = 0; i < 200 && got.length < 2; i += 1) await sleep(10);
        expect(got).toEqual([big, 'small after big']);
        await off();
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('two Agents on two pools share sessions: a command on node B is applied and node A follows the live events', async () => {
      const executed: string[] = [];
      const executor: Executor = {
        async execute(todo) {
          await Promise.resolve();
          executed.push(todo.id);
          return { output: { done: todo.id } };
        },
      };
      const planner = new FunctionPlanner(() => ({
        todos: [
          { id: 'one', title: 'One', domain: 'work', dependsOn: [], input: {}, idempotent: true },
          { id: 'two', title: 'Two', domain: 'work', dependsOn: ['one'], input: {}, idempotent: true },
        ],
      }));
      const mk = (): Agent =>
        new Agent({
          store: new PostgresStore({ connectionString: server.url }),
          bus: new PostgresEventBus({ connectionString: server.url }),
          planner,
          executors: { work: executor },
          hitl: { planReview: 'always' },
        });
      const nodeA = mk();
      const nodeB = mk();
      try {
        const first = await nodeA.run('do it').result();
        expect(first.status).toBe('waiting');
        const ctrl = new AbortController();
        const followed: AgentEvent[] = [];
        const following = (async () => {
          for await (const e of nodeA.events(first.sessionId, {
            after: first.lastSeq,
            follow: true,
            signal: ctrl.signal,
          })) {
            followed.push(e);
            if (e.type === 'turn.completed') ctrl.abort();
          }
        })();
        const done = await nodeB.send(first.sessionId, { type: 'plan.approve', actor: 'bob' }).result();
        expect(done.status).toBe('completed');
        await following;
        expect(executed).toEqual(['one', 'two']);
        const seqs = followed.map((e) => e.seq);
        expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => first.lastSeq + 1 + i));
        expect(followed.at(-1)?.type).toBe('turn.completed');
      } finally {
        await nodeA.close();
        await nodeB.close();
        await Promise.all([nodeA.store.close?.(), nodeB.store.close?.()]);
      }
    });
  });
}
