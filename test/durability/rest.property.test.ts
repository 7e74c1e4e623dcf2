/**
 * Property: whatever humans do — random commands, valid or not, sent after the session rests or while
 * it runs, two at once — against random plans (gates, failures, concurrency), every session on the real
 * durable stores reaches a rest state: its runs settle, nobody holds its lease, no command is left in
 * its inbox, and the status it rests in is explained by its state (waiting ⇒ a pending request,
 * paused ⇒ the turn is paused, idle ⇒ the turn ended). Bounded: a few dozen scenarios per store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Agent,
  FunctionPlanner,
  isDreamAgentError,
  type Executor,
  type Run,
  type RunResult,
  type Store,
} from 'dream-agent';
import { PostgresStore, migrate } from '@dream-agent/postgres';
import { SqliteStore } from '@dream-agent/sqlite';
import { serviceSkipReason, startPostgres, type PostgresService } from '../setup/services.js';

type Action =
  'approvePlan' | 'editPlan' | 'rejectPlan' | 'grant' | 'deny' | 'pause' | 'resume' | 'cancel' | 'bogus';
interface Step {
  actions: Action[];
  /** Wait for the session to rest before the next step (otherwise: send while it runs). */
  wait: boolean;
}
interface Scenario {
  todos: { approval: boolean; fails: boolean; idempotent: boolean; dependsOnPrevious: boolean }[];
  concurrency: number;
  planReview: boolean;
  steps: Step[];
}

const actionArb = fc.constantFrom<Action>(
  'approvePlan',
  'editPlan',
  'rejectPlan',
  'grant',
  'deny',
  'pause',
  'resume',
  'cancel',
  'bogus',
);
const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  todos: fc.array(
    fc.record({
      approval: fc.boolean(),
      fails: fc.integer({ min: 0, max: 4 }).map((x) => x === 0),
      idempotent: fc.boolean(),
      dependsOnPrevious: fc.boolean(),
    }),
    { minLength: 1, maxLength: 4 },
  ),
  concurrency: fc.integer({ min: 1, max: 3 }),
  planReview: fc.boolean(),
  steps: fc.array(
    fc.record({ actions: fc.array(actionArb, { minLength: 1, maxLength: 2 }), wait: fc.boolean() }),
    {
      minLength: 1,
      maxLength: 6,
    },
  ),
});

/** A session that never rests would hang the runs: fail naming the scenario instead (no shrinking). */
async function withinLimit(store: Store, s: Scenario): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`scenario did not rest within 30 s: ${JSON.stringify(s)}`)),
      30_000,
    );
  });
  try {
    await Promise.race([checkScenario(store, s), limit]);
  } finally {
    clearTimeout(timer);
  }
}

async function checkScenario(store: Store, s: Scenario): Promise<void> {
  const executor: Executor = {
    async execute(todo) {
      await new Promise((r) => setImmediate(r));
      if ((todo.input as { fails?: boolean }).fails) throw new Error(`todo ${todo.id} fails`);
      return { output: { done: todo.id } };
    },
  };
  const planner = new FunctionPlanner(() => ({
    todos: s.todos.map((t, i) => ({
      id: `t${i}`,
      title: `t${i}`,
      domain: 'work',
      dependsOn: i > 0 && t.dependsOnPrevious ? [`t${i - 1}`] : [],
      input: { fails: t.fails },
      idempotent: t.idempotent,
      approval: t.approval,
    })),
  }));
  const agent = new Agent({
    store,
    planner,
    executors: { work: executor },
    hitl: { planReview: s.planReview ? 'always' : 'never' },
    concurrency: s.concurrency,
  });
  const runs: Run[] = [];
  const settle = async (run: Run): Promise<RunResult | undefined> => {
    try {
      return await run.result();
    } catch (e) {
      // A refused command is a typed error and changes nothing; anything else is a bug.
      if (!isDreamAgentError(e)) throw e;
      return undefined;
    }
  };
  try {
    const first = agent.run('go');
    runs.push(first);
    const sessionId = first.sessionId;
    await settle(first);
    for (const step of s.steps) {
      const snapshot = await agent.getSession(sessionId);
      const approval = snapshot?.pending.find((p) => p.kind === 'approval');
      const sent = step.actions.map((a): Run => {
        switch (a) {
          case 'approvePlan':
            return agent.send(sessionId, { type: 'plan.approve', actor: 'p' });
          case 'editPlan':
            return agent.send(sessionId, {
              type: 'plan.edit',
              actor: 'p',
              edits: [{ op: 'update', todoId: 't0', patch: { title: 'edited' } }],
            });
          case 'rejectPlan':
            return agent.send(sessionId, { type: 'plan.reject', actor: 'p', reason: 'no' });
          case 'grant':
            return agent.send(sessionId, {
              type: 'approval.grant',
              requestId: approval?.id ?? 'none',
              actor: 'p',
            });
          case 'deny':
            return agent.send(sessionId, {
              type: 'approval.deny',
              requestId: approval?.id ?? 'none',
              actor: 'p',
            });
          case 'pause':
            return agent.send(sessionId, { type: 'pause', actor: 'p' });
          case 'resume':
            return agent.send(sessionId, { type: 'resume', actor: 'p' });
          case 'cancel':
            return agent.send(sessionId, { type: 'cancel', actor: 'p' });
          case 'bogus':
            return agent.send(sessionId, { type: 'approval.grant', requestId: 'forged', actor: 'p' });
        }
      });
      runs.push(...sent);
      if (step.wait) await Promise.all(sent.map(settle));
    }
    await Promise.all(runs.map(settle));
    // Every run has settled: the session must rest, durably.
    const rec = await store.getSession(sessionId);
    expect(rec).toBeDefined();
    if (!rec) return;
    const where = `${JSON.stringify(s)} → ${rec.status}`;
    expect(rec.leaseOwner, where).toBeNull();
    expect(await store.pendingCommands(sessionId), where).toEqual([]);
    expect(['idle', 'waiting', 'paused'], where).toContain(rec.status);
    const turn = rec.state.turn;
    if (rec.status === 'waiting') expect(turn?.pending.length ?? 0, where).toBeGreaterThan(0);
    if (rec.status === 'paused') expect(turn?.paused, where).toBe(true);
    if (rec.status === 'idle') expect(turn?.outcome, where).toBeDefined();
  } finally {
    await agent.close();
  }
}

describe('every session reaches a rest state (random commands, gates and concurrency)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dream-rest-'));
  let sqlite: SqliteStore;
  beforeAll(() => {
    sqlite = new SqliteStore(join(dir, 'rest.db'));
  });
  afterAll(async () => {
    await sqlite?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('on SQLite', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, (s) => withinLimit(sqlite, s)),
      { numRuns: 40, endOnFailure: true },
    );
  }, 120_000);

  const skip = serviceSkipReason('postgres');
  if (skip) {
    it.skip(`on PostgreSQL — skipped: ${skip}`, () => undefined);
  } else {
    let server: PostgresService;
    let pool: pg.Pool;
    beforeAll(async () => {
      server = await startPostgres();
      pool = new pg.Pool({ connectionString: server.url, max: 10 });
      await migrate(pool);
    });
    afterAll(async () => {
      await pool?.end();
      await server?.stop();
    });
    it('on PostgreSQL', async () => {
      const store = new PostgresStore({ pool });
      await fc.assert(
        fc.asyncProperty(scenarioArb, (s) => withinLimit(store, s)),
        { numRuns: 20, endOnFailure: true },
      );
    }, 300_000);
  }
});
