/**
 * One worker process of the cluster. Every worker shares one PostgreSQL store and one Redis event bus,
 * runs `agent.recover()` every few hundred milliseconds (so a session whose owner died is taken over by
 * whoever claims it first), and takes orders as JSON lines on stdin:
 *
 *   {"op":"start","sessionId":"job-1"}                                  start a turn here
 *   {"op":"get","sessionId":"job-1"}                                    print what the store says
 *   {"op":"resolve","sessionId":"job-1","requestId":"…","decision":"retry"}  answer a recovery request
 *
 * It prints one JSON line per thing it did: `ready`, each step it started, each session it recovered,
 * and each run's result. Usage: worker.ts <nodeId> (DATABASE_URL and REDIS_URL in the environment).
 */
import { createInterface } from 'node:readline';
import pg from 'pg';
import { Agent, FunctionPlanner, type Executor } from 'dream-agent';
import { PostgresStore } from '@dream-agent/postgres';
import { RedisEventBus } from '@dream-agent/redis';

const [nodeId = 'worker'] = process.argv.slice(2);
const databaseUrl = process.env['DATABASE_URL'];
const redisUrl = process.env['REDIS_URL'];
if (!databaseUrl || !redisUrl) throw new Error('DATABASE_URL and REDIS_URL must be set');
const stepMs = Number(process.env['STEP_MS'] ?? 300);
const say = (line: Record<string, unknown>): void => console.log(JSON.stringify({ node: nodeId, ...line }));

/** The nightly job: five steps in a chain. `charge` bills a customer, so it is not idempotent. */
export const STEPS = ['extract', 'transform', 'charge', 'load', 'report'] as const;
const NOT_IDEMPOTENT = new Set<string>(['charge']);

const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
const bus = new RedisEventBus(redisUrl);

/**
 * Each step takes a while, then records its effect in the `effects` table under the todo's idempotency
 * key (the same on every attempt, in every process): a step cut off by a crash has recorded nothing.
 */
const steps: Executor = {
  async execute(todo, _input, ctx) {
    say({ did: todo.id, attempt: ctx.attempt });
    await new Promise((r) => setTimeout(r, stepMs));
    await pool.query(
      'INSERT INTO effects (key, session_id, todo_id, node) VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING',
      [ctx.idempotencyKey, ctx.sessionId, todo.id, nodeId],
    );
    return { output: { by: nodeId } };
  },
};

const agent = new Agent({
  nodeId,
  store: new PostgresStore({ pool }),
  bus,
  planner: new FunctionPlanner(() => ({
    todos: STEPS.map((id, i) => ({
      id,
      title: id,
      domain: 'etl',
      input: {},
      idempotent: !NOT_IDEMPOTENT.has(id),
      dependsOn: i === 0 ? [] : [STEPS[i - 1] ?? ''],
    })),
  })),
  executors: { etl: steps },
  // Short leases so a dead owner is noticed within seconds (renewed every third of it while driven).
  leaseTtlMs: Number(process.env['LEASE_MS'] ?? 3_000),
});

const report = (op: string, run: ReturnType<Agent['run']>): void => {
  void run.result().then(
    (r) => say({ op, session: r.sessionId, status: r.status, answer: r.answer }),
    (e: unknown) => say({ op, error: e instanceof Error ? e.message : String(e) }),
  );
};

let closing = false;
const recovering = (async () => {
  while (!closing) {
    try {
      const claimed = await agent.recover();
      if (claimed.length > 0) say({ recovered: claimed });
    } catch (e) {
      if (!closing) say({ op: 'recover', error: e instanceof Error ? e.message : String(e) });
    }
    await new Promise((r) => setTimeout(r, 300));
  }
})();

/** What the store says about a session: status, each todo's state, pending requests, completions. */
async function describe(sessionId: string): Promise<Record<string, unknown>> {
  const s = await agent.getSession(sessionId);
  const completed: Record<string, number> = {};
  for await (const e of agent.events(sessionId)) {
    if (e.type === 'todo.completed') completed[e.todoId] = (completed[e.todoId] ?? 0) + 1;
  }
  return {
    status: s?.status,
    phase: s?.turn?.phase,
    outcome: s?.turn?.outcome,
    todos: s?.todos.map((t) => ({ id: t.todoId, status: t.status, by: t.output, attempts: t.attempts })),
    pending: s?.pending.map((p) => ({ id: p.id, kind: p.kind, todoId: p.todoId })),
    answer: s?.dialogue.at(-1)?.answer,
    completedEvents: completed,
  };
}

say({ ready: true });
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const order = JSON.parse(line) as { op: string; sessionId: string; requestId?: string; decision?: string };
  if (order.op === 'start') report('start', agent.run('nightly etl', { sessionId: order.sessionId }));
  else if (order.op === 'get')
    void describe(order.sessionId).then(
      (store) => say({ op: 'get', store }),
      (e: unknown) => say({ op: 'get', error: e instanceof Error ? e.message : String(e) }),
    );
  else if (order.op === 'resolve')
    report(
      'resolve',
      agent.send(order.sessionId, {
        type: 'recovery.resolve',
        requestId: order.requestId ?? '',
        decision: (order.decision ?? 'retry') as 'retry',
        actor: `operator@${nodeId}`,
      }),
    );
}
closing = true;
await recovering;
await agent.close();
await bus.close(); // the agent does not own it
await pool.end();
