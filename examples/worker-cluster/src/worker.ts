/**
 * One worker process of the cluster. It shares the SQLite store (a file) with every other worker and
 * takes its orders as JSON lines on stdin:
 *
 *   {"op":"start","sessionId":"job-1","input":"…"}   start a turn here
 *   {"op":"pause","sessionId":"job-1"}               pause it, wherever it runs
 *   {"op":"resume","sessionId":"job-1"}              continue it here
 *
 * It prints one JSON line per thing it did: `ready`, each todo it executed, and each run's result.
 */
import { createInterface } from 'node:readline';
import { Agent, FunctionPlanner, type Executor } from 'dream-agent';
import { SqliteStore } from '@dream-agent/sqlite';

const [nodeId = 'worker', database = './cluster.db'] = process.argv.slice(2);
const stepMs = Number(process.env['STEP_MS'] ?? 300);
const say = (line: Record<string, unknown>): void => console.log(JSON.stringify({ node: nodeId, ...line }));

/** Each step takes a while: long enough to pause a session between two of them. */
const steps: Executor = {
  async execute(todo, _input, ctx) {
    say({ did: todo.id, session: ctx.sessionId });
    await new Promise((r) => setTimeout(r, stepMs));
    return { output: { by: nodeId } };
  },
};

const agent = new Agent({
  nodeId,
  store: new SqliteStore({ database }),
  planner: new FunctionPlanner(() => ({
    todos: ['extract', 'transform', 'load', 'report'].map((id, i, all) => ({
      id,
      title: id,
      domain: 'etl',
      input: {},
      dependsOn: i === 0 ? [] : [all[i - 1] ?? ''],
    })),
  })),
  executors: { etl: steps },
  leaseTtlMs: 5_000,
});

const report = (op: string, run: ReturnType<Agent['run']>): void => {
  void run.result().then(
    (r) => say({ op, session: r.sessionId, status: r.status }),
    (e: unknown) => say({ op, error: e instanceof Error ? e.message : String(e) }),
  );
};

say({ ready: true });
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const order = JSON.parse(line) as { op: string; sessionId: string; input?: string };
  if (order.op === 'start')
    report('start', agent.run(order.input ?? 'nightly etl', { sessionId: order.sessionId }));
  else if (order.op === 'pause')
    report('pause', agent.send(order.sessionId, { type: 'pause', actor: nodeId }));
  else if (order.op === 'resume') report('resume', agent.resume(order.sessionId));
}
await agent.close();
