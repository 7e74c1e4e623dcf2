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
import { busContract, storeContract, storeExtensionsContract } from 'dream-agent/testing';
import { MIGRATIONS, PostgresEventBus, PostgresStore, migrate } from '@dream-agent/postgres';
import { freePort, serviceSkipReason, startPostgres, type PostgresService } from '@dream-agent/test-services';

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

  storeContract('PostgresStore', async ({ clock }) => ({
    store: new PostgresStore({ pool, clock }),
    planStorageBytes: async (sessionId) =>
      Number(
        (
          await pool.query<{ n: string }>(
            'SELECT COALESCE(SUM(octet_length(record::text)), 0) AS n FROM dream_agent.plan_versions WHERE session_id = $1',
            [sessionId],
          )
        ).rows[0]?.n ?? 0,
      ),
  }));

  storeExtensionsContract('PostgresStore', () => new PostgresStore({ pool }));

  busContract('PostgresEventBus (LISTEN/NOTIFY)', async () => {
    const a = new PostgresEventBus({ connectionString: server.url });
    const b = new PostgresEventBus({ pool });
    return { a, b, cleanup: async () => Promise.all([a.close(), b.close()]).then(() => undefined) };
  });

  describe('PostgresStore specifics', () => {
    it('the documented SQL files are exactly the migrations, and migrate() is idempotent and safe to race', async () => {
      expect(MIGRATIONS.map((m) => m.version)).toEqual([1, 2, 3]);
      for (const m of MIGRATIONS) {
        const name = `${String(m.version).padStart(3, '0')}_${m.name}.sql`;
        const file = readFileSync(new URL(`../src/migrations/${name}`, import.meta.url), 'utf8');
        expect(m.sql, name).toBe(file);
      }
      expect(await migrate(pool)).toEqual({ applied: [], version: 3 });
      const results = await Promise.all(
        [1, 2, 3].map(() => migrate({ connectionString: server.url }, { schema: 'raced' })),
      );
      expect(results.map((r) => r.applied).flat()).toEqual([1, 2, 3]);
      expect(results.every((r) => r.version === 3)).toBe(true);
      const store = new PostgresStore({ pool, schema: 'raced' });
      const { lease } = await store.createSession(
        { id: 'in-raced', status: 'running', state: emptyState() },
        'n',
        30_000,
      );
      expect(lease.epoch).toBe(1);
    });

    it('a database at migration 1 migrates forward: its events, todos and sessions carry on', async () => {
      const schema = `legacy_${Date.now()}`;
      const migration1 = MIGRATIONS[0];
      if (!migration1) throw new Error('no migration 1');
      // A schema exactly as migration 1 left it, with a session that has run.
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        await c.query(`CREATE SCHEMA ${schema}`);
        await c.query(
          `CREATE TABLE ${schema}.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
        );
        await c.query(`SET LOCAL search_path TO ${schema}, pg_catalog`);
        await c.query(migration1.sql);
        await c.query(`INSERT INTO ${schema}.schema_migrations (version, name) VALUES (1, 'init')`);
        await c.query('COMMIT');
      } finally {
        c.release();
      }
      const id = 'old';
      const progress = (seq: number): AgentEvent =>
        ({
          type: 'todo.progress',
          sessionId: id,
          turnId: 't',
          seq,
          at: seq,
          todoId: 'a',
          message: `m${seq}`,
        }) as AgentEvent;
      const todo = {
        sessionId: id,
        turnId: 't',
        todoId: 'a',
        status: 'running' as const,
        attempts: 1,
        idempotencyKey: 'k',
      };
      await pool.query(
        `INSERT INTO ${schema}.sessions (id, version, status, last_seq, lease_epoch, lease_owner, lease_expires_at, state, created_at, updated_at)
         VALUES ($1, 4, 'running', 3, 1, NULL, 0, $2, 1, 1)`,
        [id, JSON.stringify(emptyState())],
      );
      for (const seq of [1, 2, 3])
        await pool.query(`INSERT INTO ${schema}.events (session_id, seq, event) VALUES ($1, $2, $3)`, [
          id,
          seq,
          JSON.stringify(progress(seq)),
        ]);
      await pool.query(
        `INSERT INTO ${schema}.todos (session_id, turn_id, todo_id, record) VALUES ($1, 't', 'a', $2)`,
        [id, JSON.stringify(todo)],
      );

      expect(await migrate(pool, { schema })).toEqual({ applied: [2, 3], version: 3 });
      const store = new PostgresStore({ pool, schema });
      expect(await store.readEvents(id)).toEqual([1, 2, 3].map(progress));
      expect(await store.readEvents(id, { after: 1, limit: 1 })).toEqual([progress(2)]);
      expect(await store.getTodos(id, 't')).toEqual([todo]);
      const lease = await store.acquireLease(id, 'n', 30_000);
      if (!lease) throw new Error('no lease');
      await store.commit({
        sessionId: id,
        expectedVersion: 4,
        lease,
        events: [progress(4), progress(5)],
        todos: [{ ...todo, status: 'completed', output: { ok: true } }],
        planVersions: [],
        inboxAcks: [],
        leaseAction: 'release',
        leaseTtlMs: 30_000,
      });
      expect((await store.readEvents(id)).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(await store.readEvents(id, { after: 2, limit: 2 })).toEqual([progress(3), progress(4)]);
      expect(await store.getTodos(id, 't')).toEqual([{ ...todo, status: 'completed', output: { ok: true } }]);
      // The old shape stays readable for ad-hoc queries: one row per event.
      const view = await pool.query<{ seq: string; type: string }>(
        `SELECT seq, event->>'type' AS type FROM ${schema}.events WHERE session_id = $1 ORDER BY seq`,
        [id],
      );
      expect(view.rows.map((r) => Number(r.seq))).toEqual([1, 2, 3, 4, 5]);
      expect(view.rows.every((r) => r.type === 'todo.progress')).toBe(true);
    });

    it('readEvents is exact over batches of any size: every (after, limit) window, in seq order', async () => {
      const store = new PostgresStore({ pool });
      const id = `windows-${Date.now()}`;
      const { lease } = await store.createSession(
        { id, status: 'running', state: emptyState() },
        'n',
        30_000,
      );
      const ev = (seq: number): AgentEvent =>
        ({
          type: 'todo.progress',
          sessionId: id,
          turnId: 't',
          seq,
          at: seq,
          todoId: 'a',
          message: `m${seq}`,
        }) as AgentEvent;
      // Batches of 1, 7, 1, 1, 30, 2 and 1 events (43 in all), and a commit without events in between.
      let seq = 0;
      let version = 1;
      for (const size of [1, 7, 1, 0, 1, 30, 2, 1]) {
        const events = Array.from({ length: size }, () => ev((seq += 1)));
        const r = await store.commit({
          sessionId: id,
          expectedVersion: version,
          lease,
          events,
          todos: [],
          planVersions: [],
          inboxAcks: [],
          leaseAction: 'renew',
          leaseTtlMs: 30_000,
        });
        version = r.version;
      }
      expect(seq).toBe(43);
      for (let after = 0; after <= 44; after += 1) {
        for (const limit of [1, 2, 5, 8, 31, 1000]) {
          const want = Array.from(
            { length: Math.max(0, Math.min(limit, 43 - after)) },
            (_, i) => after + 1 + i,
          );
          expect(
            (await store.readEvents(id, { after, limit })).map((e) => e.seq),
            `${after}/${limit}`,
          ).toEqual(want);
        }
      }
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
        // A lease long enough that a loaded machine still asks before it expires; then wait for the
        // expiry (polling, bounded) instead of sleeping a fixed time that a slow run can outlast.
        const { lease } = await nodeA.createSession(
          { id, status: 'running', state: emptyState() },
          'a',
          1500,
        );
        expect(await nodeB.acquireLease(id, 'b', 30_000)).toBeUndefined();
        let taken = await nodeB.acquireLease(id, 'b', 30_000);
        for (let i = 0; taken === undefined && i < 200; i += 1) {
          await sleep(50);
          taken = await nodeB.acquireLease(id, 'b', 30_000);
        }
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
      // A backslash followed by "u0000" is text, not NUL: stored and read back as written.
      const literal = {
        type: 'todo.progress',
        sessionId: id,
        turnId: 't',
        seq: 1,
        at: 0,
        todoId: 'a',
        message: 'not nul: \\u0000 and \\\\u0000',
      } as AgentEvent;
      await store.commit({
        sessionId: id,
        expectedVersion: 1,
        lease,
        events: [literal],
        todos: [],
        planVersions: [],
        inboxAcks: [],
        leaseAction: 'renew',
        leaseTtlMs: 30_000,
      });
      expect(await store.readEvents(id)).toEqual([literal]);
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

    it('publish never overlaps queries on a client (the listening connection only listens)', async () => {
      const channel = `ovl_${Date.now()}`;
      const bus = new PostgresEventBus({ connectionString: server.url, channel });
      const other = new PostgresEventBus({ pool, channel });
      const overlapped: string[] = [];
      const original = pg.Client.prototype.query;
      const spy = vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (
        this: pg.Client,
        ...args: unknown[]
      ) {
        // pg's own condition for its "already executing a query" deprecation (an error in pg 9).
        const queue = (this as unknown as { _queryQueue: unknown[]; activeQuery: unknown })._queryQueue;
        if (queue.length > 0) overlapped.push(String(args[0]));
        return (original as (...a: unknown[]) => unknown).apply(this, args) as never;
      });
      try {
        const got: unknown[] = [];
        const off = await bus.subscribe('t', (m) => got.push(m));
        await Promise.all(
          Array.from({ length: 60 }, (_, i) =>
            (i % 2 ? bus : other).publish('t', { i, pad: 'x'.repeat(i * 150) }),
          ),
        );
        for (let i = 0; i < 300 && got.length < 60; i += 1) await sleep(10);
        expect(got).toHaveLength(60);
        // Each publisher's own messages arrive in the order it published them.
        const mine = got.map((m) => (m as { i: number }).i).filter((i) => i % 2 === 1);
        expect(mine).toEqual([...mine].sort((a, b) => a - b));
        expect(overlapped).toEqual([]);
        const listening = await pool.query<{ query: string }>(
          `SELECT query FROM pg_stat_activity WHERE query = $1`,
          [`LISTEN "${channel}"`],
        );
        // The subscribed bus listens and ran nothing else on its listening connection (the publisher-only
        // bus holds no listening connection at all).
        expect(listening.rows).toHaveLength(1);
        await off();
      } finally {
        spy.mockRestore();
        await bus.close();
        await other.close();
      }
    });

    const killListener = async (channel: string): Promise<number> => {
      const r = await pool.query<{ n: string }>(
        `SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE query = $1`,
        [`LISTEN "${channel}"`],
      );
      return Number(r.rows[0]?.n ?? 0);
    };

    it('a subscriber whose listening connection was killed is caught up when it reconnects', async () => {
      const channel = `kill_${Date.now()}`;
      const a = new PostgresEventBus({ pool, channel });
      const b = new PostgresEventBus({ connectionString: server.url, channel, reconnectMs: 300 });
      try {
        const got: unknown[] = [];
        const off = await b.subscribe('t', (m) => got.push(m));
        await a.publish('t', 'before');
        for (let i = 0; i < 200 && got.length < 1; i += 1) await sleep(5);
        expect(await killListener(channel)).toBe(1);
        for (let i = 0; i < 200 && b.connected; i += 1) await sleep(5);
        expect(b.connected).toBe(false);
        await a.publish('t', 'lost while down');
        for (let i = 0; i < 400 && !b.connected; i += 1) await sleep(10);
        expect(b.connected).toBe(true);
        await a.publish('t', 'after');
        for (let i = 0; i < 200 && got.length < 3; i += 1) await sleep(5);
        expect(got).toEqual(['before', { catchUp: true }, 'after']);
        await off();
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('a command sent while the owner is not listening still reaches the owner (pg_terminate_backend on its LISTEN)', async () => {
      const channel = `own_${Date.now()}`;
      const executed: string[] = [];
      let release: () => void = () => undefined;
      const gate = new Promise<void>((r) => (release = r));
      let started: () => void = () => undefined;
      const inFirst = new Promise<void>((r) => (started = r));
      const executor: Executor = {
        async execute(todo) {
          executed.push(todo.id);
          if (todo.id === 'one') {
            started();
            await gate;
          }
          return { output: { done: todo.id } };
        },
      };
      const planner = new FunctionPlanner(() => ({
        todos: ['one', 'two', 'three'].map((id, i, all) => ({
          id,
          title: id,
          domain: 'work',
          dependsOn: i ? [all[i - 1] ?? ''] : [],
          input: {},
          idempotent: true,
        })),
      }));
      const busA = new PostgresEventBus({ connectionString: server.url, channel, reconnectMs: 400 });
      const busB = new PostgresEventBus({ connectionString: server.url, channel });
      const owner = new Agent({
        store: new PostgresStore({ pool }),
        bus: busA,
        planner,
        executors: { work: executor },
      });
      const sender = new Agent({
        store: new PostgresStore({ pool }),
        bus: busB,
        planner,
        executors: { work: executor },
      });
      try {
        const run = owner.run('go');
        const sessionId = run.sessionId;
        await inFirst;
        expect(await killListener(channel)).toBe(1);
        for (let i = 0; i < 200 && busA.connected; i += 1) await sleep(5);
        expect(busA.connected).toBe(false);
        const paused = sender.send(sessionId, { type: 'pause', actor: 'ops' });
        // The command is in the inbox; its NOTIFY went out while the owner was not listening.
        for (let i = 0; i < 200; i += 1) {
          if ((await owner.store.pendingCommands(sessionId)).length > 0) break;
          await sleep(5);
        }
        expect((await owner.store.pendingCommands(sessionId)).length).toBe(1);
        for (let i = 0; i < 400 && !busA.connected; i += 1) await sleep(10);
        expect(busA.connected).toBe(true);
        release();
        const result = await run.result();
        expect(result.status).toBe('paused');
        expect(executed).toEqual(['one']);
        expect((await paused.result()).status).toBe('paused');
      } finally {
        release();
        await owner.close();
        await sender.close();
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
