/**
 * The workload of the durability tests, shared by the test process and its child processes: a chain of
 * todos (every fourth one NOT idempotent) whose executor records, in PostgreSQL tables outside the
 * store, every start of a todo's code and every side effect — so the counts survive SIGKILL.
 */
import type pg from 'pg';
import { FunctionPlanner, type Executor, type PlanDraft } from 'dream-agent';

/** Tables the executor writes to ("the outside world"). */
export const EFFECTS_SQL = `
CREATE SCHEMA IF NOT EXISTS effects;
-- every start of a todo's code; completed_before = the store already had the todo completed (a violation)
CREATE TABLE IF NOT EXISTS effects.executions (
  n bigserial PRIMARY KEY, session_id text NOT NULL, todo_id text NOT NULL, idem_key text NOT NULL,
  idempotent boolean NOT NULL, pid integer NOT NULL, completed_before boolean NOT NULL);
-- an external system that de-duplicates our idempotency key: one row (one applied effect) per key;
-- applies counts how many times the effect was sent
CREATE TABLE IF NOT EXISTS effects.applied (idem_key text PRIMARY KEY, session_id text NOT NULL, todo_id text NOT NULL, applies integer NOT NULL DEFAULT 1);
-- a non-idempotent effect: every application is a row
CREATE TABLE IF NOT EXISTS effects.nonidem (n bigserial PRIMARY KEY, session_id text NOT NULL, todo_id text NOT NULL);
CREATE SEQUENCE IF NOT EXISTS effects.session_seq;
`;

/** A seeded PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Whether todo number `i` of the chain is idempotent. */
export const isIdempotentIndex = (i: number): boolean => i % 4 !== 3;

/**
 * @param todos - chain length
 * @returns a planner producing the chain `t00 → t01 → …`
 */
export function chainPlanner(todos: number): FunctionPlanner {
  return new FunctionPlanner((): PlanDraft => ({
    todos: Array.from({ length: todos }, (_, i) => ({
      id: `t${String(i).padStart(2, '0')}`,
      title: `Step ${i}`,
      domain: 'work',
      dependsOn: i === 0 ? [] : [`t${String(i - 1).padStart(2, '0')}`],
      input: {},
      idempotent: isIdempotentIndex(i),
    })),
  }));
}

/** Options of {@link effectsExecutor}. */
export interface EffectsExecutorOptions {
  /** Milliseconds a todo works (default 5–25 ms, random). */
  workMs?: (todoId: string) => number;
  /** Called when a todo's code starts (after its start is recorded). */
  onStart?: (todoId: string, sessionId: string) => void;
  /** The store's schema (default dream_agent). */
  storeSchema?: string;
}

/**
 * @param pool - where effects are recorded
 * @param options - work time, start hook
 * @returns an executor recording starts and effects
 */
export function effectsExecutor(pool: pg.Pool, options: EffectsExecutorOptions = {}): Executor {
  const schema = options.storeSchema ?? 'dream_agent';
  return {
    async execute(todo, _input, ctx) {
      const idempotent = todo.idempotent === true;
      await pool.query(
        `INSERT INTO effects.executions (session_id, todo_id, idem_key, idempotent, pid, completed_before)
         SELECT $1, $2, $3, $4, $5, COALESCE((SELECT record->>'status' = 'completed' FROM ${schema}.todos
           WHERE session_id = $1 AND turn_id = $6 AND todo_id = $2), false)`,
        [ctx.sessionId, todo.id, ctx.idempotencyKey, idempotent, process.pid, ctx.turnId],
      );
      options.onStart?.(todo.id, ctx.sessionId);
      const ms = options.workMs?.(todo.id) ?? 5 + Math.floor(Math.random() * 20);
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, ms);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(t);
          reject(ctx.signal.reason as Error);
        });
      });
      if (idempotent) {
        await pool.query(
          `INSERT INTO effects.applied (idem_key, session_id, todo_id) VALUES ($1, $2, $3)
           ON CONFLICT (idem_key) DO UPDATE SET applies = effects.applied.applies + 1`,
          [ctx.idempotencyKey, ctx.sessionId, todo.id],
        );
      } else {
        await pool.query(`INSERT INTO effects.nonidem (session_id, todo_id) VALUES ($1, $2)`, [
          ctx.sessionId,
          todo.id,
        ]);
      }
      return { output: { todo: todo.id } };
    },
  };
}
