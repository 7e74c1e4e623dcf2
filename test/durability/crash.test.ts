/**
 * Crash: worker processes run chains of todos against PostgreSQL and are SIGKILLed at seeded random
 * points (two at a time, like two nodes); the next workers recover each session. Then one last worker
 * recovers everything left, and the test counts what "never twice" promises.
 *
 * DURABILITY_SEED reproduces a run; DURABILITY_KILLS sets the number of kills (default 50).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '@dream-agent/postgres';
import { serviceSkipReason, startPostgres, type PostgresService } from '../setup/services.js';
import { reap, spawnWorker, waitForMessage } from './helpers.js';
import { EFFECTS_SQL, isIdempotentIndex, rng } from './workload.js';

const skip = serviceSkipReason('postgres');
const KILLS = Number(process.env['DURABILITY_KILLS'] ?? 50);
const SEED = Number(process.env['DURABILITY_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const TODOS = 24;
const SLOTS = 2;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

if (skip) {
  describe.skip(`durability: crash — skipped: ${skip}`, () => {
    it('needs PostgreSQL', () => undefined);
  });
} else {
  describe('durability: SIGKILL at random points, recovery by other processes', () => {
    let server: PostgresService;
    let pool: pg.Pool;
    beforeAll(async () => {
      server = await startPostgres();
      pool = new pg.Pool({ connectionString: server.url, max: 4 });
      await migrate(pool);
      await pool.query(EFFECTS_SQL);
    });
    afterAll(async () => {
      await pool?.end();
      await server?.stop();
    });

    it(
      `${KILLS} seeded kills: no completed todo runs again, idempotent effects apply once, in-flight non-idempotent todos become recovery requests`,
      // ~1.5 s per kill on a quiet 2-core machine, ~8 s at load average 20: the bound only catches a hang.
      { timeout: 600_000 },
      async () => {
        console.log(
          `[durability:crash] seed=${SEED} kills=${KILLS} — reproduce with DURABILITY_SEED=${SEED}`,
        );
        const random = rng(SEED);
        let kills = 0;
        let spawned = 0;
        const slot = async (n: number): Promise<void> => {
          while (kills < KILLS) {
            spawned += 1;
            const w = spawnWorker({
              mode: 'crash',
              url: server.url,
              nodeId: `crash-${n}-${spawned}`,
              leaseTtlMs: 1000,
              todos: TODOS,
              maxActive: 3,
              prefix: `c${SEED}`,
            });
            try {
              await waitForMessage(w, (m) => m['ready'] === true);
              await sleep(100 + Math.floor(random() * 900));
            } finally {
              kills += 1;
              await reap(w, 'SIGKILL');
            }
          }
        };
        await Promise.all(Array.from({ length: SLOTS }, (_, i) => slot(i)));

        const final = spawnWorker({
          mode: 'crash',
          url: server.url,
          nodeId: 'crash-final',
          leaseTtlMs: 1000,
          todos: TODOS,
          maxActive: 0,
        });
        try {
          await waitForMessage(final, (m) => m['done'] === true, 150_000);
        } finally {
          await reap(final);
        }

        const q = async <R extends pg.QueryResultRow>(sql: string): Promise<R[]> =>
          (await pool.query<R>(sql)).rows;
        const sessions = await q<{ id: string; status: string; outcome: string | null; turn: boolean }>(
          `SELECT id, status, state->'turn'->>'outcome' AS outcome, state->'turn' IS NOT NULL AND state->'turn' <> 'null'::jsonb AS turn FROM dream_agent.sessions`,
        );
        const started = sessions.filter((s) => s.turn);
        const completed = started.filter((s) => s.outcome === 'completed');
        const completedTodosRerun = Number(
          (await q<{ n: string }>(`SELECT count(*) AS n FROM effects.executions WHERE completed_before`))[0]
            ?.n,
        );
        const idemReruns = Number(
          (
            await q<{ n: string }>(
              `SELECT count(*) - count(DISTINCT idem_key) AS n FROM effects.executions WHERE idempotent`,
            )
          )[0]?.n,
        );
        const appliedMissing = Number(
          (
            await q<{
              n: string;
            }>(`SELECT count(*) AS n FROM dream_agent.todos t LEFT JOIN effects.applied a ON a.idem_key = t.record->>'idempotencyKey'
             WHERE t.record->>'status' = 'completed' AND (substring(t.todo_id FROM 2))::int % 4 <> 3 AND a.idem_key IS NULL`)
          )[0]?.n,
        );
        const appliedPerKey = await q<{ idem_key: string; rows: string }>(
          `SELECT idem_key, count(*) AS rows FROM effects.applied GROUP BY 1 HAVING count(*) <> 1`,
        );
        const redelivered = Number(
          (await q<{ n: string }>(`SELECT count(*) AS n FROM effects.applied WHERE applies > 1`))[0]?.n,
        );
        const nonIdemReruns = await q<{ session_id: string; todo_id: string; n: string }>(
          `SELECT session_id, todo_id, count(*) AS n FROM effects.executions WHERE NOT idempotent GROUP BY 1, 2 HAVING count(*) > 1`,
        );
        const recoveryEvents = await q<{ session_id: string; todo_id: string }>(
          `SELECT session_id, event->'request'->>'todoId' AS todo_id FROM dream_agent.events WHERE event->>'type' = 'recovery.requested'`,
        );
        // A non-idempotent todo whose code started but whose outcome was never recorded by that run.
        const inFlightWithoutRecovery = await q<{ session_id: string; todo_id: string }>(
          `SELECT x.session_id, x.todo_id FROM effects.executions x
         WHERE NOT x.idempotent
           AND NOT EXISTS (SELECT 1 FROM dream_agent.events e WHERE e.session_id = x.session_id AND e.event->>'type' = 'todo.completed'
                             AND e.event->>'todoId' = x.todo_id AND (e.event->>'durationMs')::numeric > 0)
           AND NOT EXISTS (SELECT 1 FROM dream_agent.events e WHERE e.session_id = x.session_id AND e.event->>'type' = 'recovery.requested'
                             AND e.event->'request'->>'todoId' = x.todo_id)`,
        );
        const completionsNotOnce = await q<{ session_id: string; todo: string; n: string }>(
          `SELECT session_id, event->>'todoId' AS todo, count(*) AS n FROM dream_agent.events WHERE event->>'type' = 'todo.completed' GROUP BY 1, 2 HAVING count(*) <> 1`,
        );
        const seqBroken = await q<{ id: string }>(
          `SELECT s.id FROM dream_agent.sessions s LEFT JOIN (SELECT session_id, count(*) AS n, coalesce(max(seq), 0) AS mx, coalesce(min(seq), 1) AS mn FROM dream_agent.events GROUP BY 1) e
           ON e.session_id = s.id WHERE coalesce(e.n, 0) <> s.last_seq OR coalesce(e.mx, 0) <> s.last_seq OR coalesce(e.mn, 1) <> 1`,
        );

        const summary = {
          seed: SEED,
          kills,
          sessions: sessions.length,
          sessionsStarted: started.length,
          sessionsCompleted: completed.length,
          sessionsKilledBeforeTheirFirstCommit: sessions.length - started.length,
          completedTodosExecutedAgain: completedTodosRerun,
          idempotentInFlightReruns: idemReruns,
          idempotentEffectsRedeliveredButAppliedOnce: redelivered,
          nonIdempotentReruns: nonIdemReruns.length,
          nonIdempotentInFlightAtKillRecoveryRequests: recoveryEvents.length,
        };
        console.log(`[durability:crash] ${JSON.stringify(summary)}`);

        expect(kills).toBeGreaterThanOrEqual(KILLS);
        expect(started.length).toBeGreaterThan(0);
        expect(sessions.filter((s) => s.status !== 'idle')).toEqual([]);
        expect(completed.length).toBe(started.length);
        expect(completedTodosRerun).toBe(0);
        expect(appliedMissing).toBe(0);
        expect(appliedPerKey).toEqual([]);
        expect(nonIdemReruns).toEqual([]);
        expect(inFlightWithoutRecovery).toEqual([]);
        for (const r of recoveryEvents)
          expect(isIdempotentIndex(Number(r.todo_id.slice(1))), `recovery for ${r.todo_id}`).toBe(false);
        expect(completionsNotOnce).toEqual([]);
        expect(seqBroken).toEqual([]);
        const todoCounts = await q<{ n: string }>(
          `SELECT count(*) AS n FROM dream_agent.events WHERE event->>'type' = 'todo.completed' GROUP BY session_id`,
        );
        expect(todoCounts.every((r) => Number(r.n) === TODOS)).toBe(true);
      },
    );
  });
}
