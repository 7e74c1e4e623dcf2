/**
 * Multi-process races, a paused owner (SIGSTOP past its lease) and a PostgreSQL restart mid-run —
 * against a real PostgreSQL, with leases on the database clock.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, isDreamAgentError, type AgentEvent, type RunResult } from 'dream-agent';
import { PostgresStore, migrate } from '@dream-agent/postgres';
import { serviceSkipReason, startPostgres, type PostgresService } from '../setup/services.js';
import { reap, spawnWorker, waitForMessage } from './helpers.js';
import { EFFECTS_SQL, chainPlanner, effectsExecutor } from './workload.js';

const skip = serviceSkipReason('postgres');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Checks one session's log: seqs 1..lastSeq without gaps, and every todo completed exactly once. */
async function checkLog(store: PostgresStore, sessionId: string, todos: number): Promise<AgentEvent[]> {
  const rec = await store.getSession(sessionId);
  const events = await store.readEvents(sessionId, { limit: 10_000 });
  expect(events.map((e) => e.seq)).toEqual(Array.from({ length: rec?.lastSeq ?? -1 }, (_, i) => i + 1));
  const completions = events
    .filter((e) => e.type === 'todo.completed')
    .map((e) => (e as { todoId: string }).todoId);
  expect(completions.sort()).toEqual(
    Array.from({ length: todos }, (_, i) => `t${String(i).padStart(2, '0')}`),
  );
  return events;
}

if (skip) {
  describe.skip(`durability: races, fencing, restart — skipped: ${skip}`, () => {
    it('needs PostgreSQL', () => undefined);
  });
} else {
  describe('durability: several processes, one PostgreSQL', () => {
    let server: PostgresService;
    let pool: pg.Pool;
    beforeAll(async () => {
      server = await startPostgres();
      pool = new pg.Pool({ connectionString: server.url, max: 6 });
      pool.on('error', () => undefined);
      await migrate(pool);
      await pool.query(EFFECTS_SQL);
    });
    afterAll(async () => {
      await pool?.end();
      await server?.stop();
    });

    const executionsOf = async (
      prefix: string,
    ): Promise<{ session_id: string; todo_id: string; n: number; pids: number }[]> =>
      (
        await pool.query<{ session_id: string; todo_id: string; n: string; pids: string }>(
          `SELECT session_id, todo_id, count(*) AS n, count(DISTINCT pid) AS pids FROM effects.executions WHERE session_id LIKE $1 GROUP BY 1, 2`,
          [`${prefix}%`],
        )
      ).rows.map((r) => ({ ...r, n: Number(r.n), pids: Number(r.pids) }));

    it(
      'race: 3 processes advance the same 6 sessions at once — each todo runs once, no lost events, seq without gaps',
      { timeout: 120_000 },
      async () => {
        const TODOS = 12;
        const store = new PostgresStore({ connectionString: server.url });
        const setup = new Agent({
          store,
          planner: chainPlanner(TODOS),
          executors: { work: effectsExecutor(pool) },
          hitl: { planReview: 'always' },
        });
        const ids = Array.from({ length: 6 }, (_, i) => `race-${i}`);
        for (const id of ids) {
          const r = await setup.run('race me', { sessionId: id }).result();
          expect(r.status).toBe('waiting');
          // The approval sits in the inbox of a session nobody owns: whoever wins the lease applies it.
          await store.enqueueCommand({
            id: `approve-${id}`,
            sessionId: id,
            command: { type: 'plan.approve' },
            actor: 'alice',
            receivedAt: Date.now(),
          });
        }
        await setup.close();
        const workers = [0, 1, 2].map((i) =>
          spawnWorker({
            mode: 'race',
            url: server.url,
            nodeId: `racer-${i}`,
            leaseTtlMs: 10_000,
            todos: TODOS,
            ids,
          }),
        );
        try {
          await Promise.all(workers.map((w) => waitForMessage(w, (m) => m['ready'] === true)));
          for (const w of workers) w.proc.stdin.write('go\n');
          const outs = await Promise.all(
            workers.map((w) => waitForMessage(w, (m) => Array.isArray(m['outcomes']), 100_000)),
          );
          for (const o of outs) expect(o['outcomes']).toEqual(ids.map(() => 'completed'));
        } finally {
          await Promise.all(workers.map((w) => reap(w)));
        }
        const execs = await executionsOf('race-');
        expect(execs).toHaveLength(ids.length * TODOS);
        expect(execs.filter((e) => e.n !== 1)).toEqual([]);
        for (const id of ids) {
          expect((await store.getSession(id))?.status).toBe('idle');
          await checkLog(store, id, TODOS);
          expect((await store.getCommand(id, `approve-${id}`))?.status).toBe('applied');
        }
        const byPid = new Map<number, number>();
        for (const r of (
          await pool.query<{ pid: number }>(
            `SELECT pid FROM effects.executions WHERE session_id LIKE 'race-%'`,
          )
        ).rows) {
          byPid.set(r.pid, (byPid.get(r.pid) ?? 0) + 1);
        }
        console.log(`[durability:race] todos executed per process: ${JSON.stringify([...byPid.values()])}`);
        await store.close();
      },
    );

    it(
      'a paused owner (SIGSTOP past its lease) that wakes up cannot commit: fenced, nothing written',
      { timeout: 120_000 },
      async () => {
        const TODOS = 4;
        const id = 'stalled-1';
        const owner = spawnWorker({
          mode: 'stall',
          url: server.url,
          nodeId: 'sleepy',
          leaseTtlMs: 1000,
          todos: TODOS,
          ids: [id],
        });
        const store = new PostgresStore({ connectionString: server.url });
        const rescuer = new Agent({
          store,
          nodeId: 'rescuer',
          leaseTtlMs: 5000,
          planner: chainPlanner(TODOS),
          executors: { work: effectsExecutor(pool) },
        });
        try {
          await waitForMessage(owner, (m) => m['inTodo'] === 't00');
          owner.proc.kill('SIGSTOP');
          let claimed: string[] = [];
          for (let i = 0; i < 200 && !claimed.includes(id); i += 1) {
            await sleep(50);
            claimed = await rescuer.recover();
          }
          expect(claimed).toContain(id);
          for (let i = 0; i < 400 && (await store.getSession(id))?.status !== 'idle'; i += 1) await sleep(25);
          const settled = await store.getSession(id);
          expect(settled).toMatchObject({ status: 'idle', state: { turn: { outcome: 'completed' } } });

          owner.proc.kill('SIGCONT');
          const verdict = await waitForMessage(owner, (m) => 'error' in m || 'result' in m);
          expect(verdict).toEqual({ error: 'CONFLICT' });
          await owner.exit;
          const after = await store.getSession(id);
          expect(after?.version).toBe(settled?.version);
          expect(after?.lastSeq).toBe(settled?.lastSeq);
          await checkLog(store, id, TODOS);
          // t00 was in flight (idempotent, so the rescuer ran it again); no todo's outcome was recorded twice.
          const execs = await executionsOf(id);
          expect(execs.find((e) => e.todo_id === 't00')).toMatchObject({ n: 2, pids: 2 });
        } finally {
          owner.proc.kill('SIGCONT');
          await reap(owner);
          await rescuer.close();
          await store.close();
        }
      },
    );

    it(
      'PostgreSQL restarted mid-run: runs pause, then complete; nothing lost, nothing run twice',
      { timeout: 120_000 },
      async () => {
        const TODOS = 8;
        const ran = new Map<string, number>();
        const store = new PostgresStore({ connectionString: server.url, retryTimeoutMs: 60_000 });
        let started = 0;
        const agent = new Agent({
          store,
          planner: chainPlanner(TODOS),
          executors: {
            work: {
              async execute(todo, _input, ctx) {
                const key = `${ctx.sessionId}/${todo.id}`;
                ran.set(key, (ran.get(key) ?? 0) + 1);
                started += 1;
                await sleep(60);
                return { output: { todo: todo.id } };
              },
            },
          },
        });
        const ids = ['restart-a', 'restart-b', 'restart-c'];
        try {
          const runs: Promise<RunResult | string>[] = ids.map((id) =>
            agent
              .run('survive a restart', { sessionId: id })
              .result()
              .catch((e: unknown) => (isDreamAgentError(e) ? e.code : String(e))),
          );
          while (started < 4) await sleep(10);
          await server.kill();
          await sleep(1500);
          const duringOutage = started;
          await server.start();
          const results = await Promise.all(runs);
          expect(results.map((r) => (typeof r === 'string' ? r : r.status))).toEqual([
            'completed',
            'completed',
            'completed',
          ]);
          expect(duringOutage).toBeLessThan(ids.length * TODOS);
          expect([...ran.entries()].filter(([, n]) => n !== 1)).toEqual([]);
          expect(ran.size).toBe(ids.length * TODOS);
          for (const id of ids) await checkLog(store, id, TODOS);
        } finally {
          await agent.close();
          await store.close();
        }
      },
    );
  });
}
