/**
 * A child process of the durability tests: `node --import tsx test/durability/worker.ts '<json>'`.
 * Modes: `crash` (keeps sessions running and recovers others until SIGKILLed; with `final` it only
 * recovers and exits when everything rests), `race` (advances given sessions at the same time as its
 * siblings), `stall` (runs one session; the test SIGSTOPs it mid-todo).
 */
import { createInterface } from 'node:readline';
import pg from 'pg';
import { Agent, isDreamAgentError } from 'dream-agent';
import { PostgresStore } from '@dream-agent/postgres';
import { chainPlanner, effectsExecutor } from './workload.js';

interface Args {
  mode: 'crash' | 'race' | 'stall';
  url: string;
  nodeId: string;
  leaseTtlMs: number;
  todos: number;
  /** crash: sessions kept running at once; 0 = only recover (the final worker). */
  maxActive?: number;
  prefix?: string;
  /** race: the sessions to advance; stall: [the session]. */
  ids?: string[];
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const say = (msg: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(msg)}\n`);

const effects = new pg.Pool({ connectionString: args.url, max: 4 });
effects.on('error', () => undefined);
const store = new PostgresStore({ connectionString: args.url, poolConfig: { max: 8 } });
const agent = new Agent({
  store,
  nodeId: args.nodeId,
  leaseTtlMs: args.leaseTtlMs,
  planner: chainPlanner(args.todos),
  executors: {
    work: effectsExecutor(effects, {
      ...(args.mode === 'stall' ? { workMs: (id: string) => (id === 't00' ? 600 : 5) } : {}),
      onStart: (todoId) => {
        if (args.mode === 'stall' && todoId === 't00') say({ inTodo: todoId });
      },
    }),
  },
});

async function reconcile(seen: Set<string>): Promise<void> {
  // A reconciler answering recovery requests (a human would check the external system first).
  for (const rec of await store.listSessions({ status: ['waiting'], limit: 1000 })) {
    for (const req of rec.state.turn?.pending ?? []) {
      if (req.kind !== 'recovery' || seen.has(req.id)) continue;
      seen.add(req.id);
      agent
        .send(rec.id, {
          type: 'recovery.resolve',
          requestId: req.id,
          decision: 'mark_done',
          actor: 'reconciler',
        })
        .result()
        .catch(() => seen.delete(req.id));
    }
  }
}

async function crash(): Promise<void> {
  const active = new Set<Promise<unknown>>();
  const seen = new Set<string>();
  say({ ready: true });
  for (;;) {
    try {
      await agent.recover({ limit: 100 });
      await reconcile(seen);
      while (active.size < (args.maxActive ?? 0)) {
        const n = Number(
          (await effects.query<{ n: string }>(`SELECT nextval('effects.session_seq') AS n`)).rows[0]?.n,
        );
        const p = agent
          .run('run the chain', { sessionId: `${args.prefix ?? 'crash'}-${n}` })
          .result()
          .catch(() => undefined);
        active.add(p);
        void p.finally(() => active.delete(p));
      }
      if ((args.maxActive ?? 0) === 0 && active.size === 0) {
        const busy = await store.listSessions({ status: ['running', 'waiting', 'paused'], limit: 1 });
        const pending = await store.listSessions({ hasPendingCommands: true, limit: 1 });
        if (busy.length === 0 && pending.length === 0) {
          say({ done: true });
          return;
        }
      }
    } catch (e) {
      say({ warn: String(e) });
    }
    await sleep(50);
  }
}

async function race(): Promise<void> {
  say({ ready: true });
  const rl = createInterface({ input: process.stdin });
  await new Promise<void>((resolve) => rl.once('line', () => resolve()));
  rl.close();
  const ids = args.ids ?? [];
  const outcomes = await Promise.all(
    ids.map((id) =>
      agent
        .resume(id)
        .result()
        .then((r) => r.status as string)
        .catch((e: unknown) => (isDreamAgentError(e) ? e.code : String(e))),
    ),
  );
  // Whatever is left (a sibling died or gave up): recover until every session rests.
  for (;;) {
    await agent.recover();
    const busy = await store.listSessions({ status: ['running'], limit: 1 });
    if (busy.length === 0) break;
    await sleep(50);
  }
  say({ outcomes });
}

async function stall(): Promise<void> {
  const id = args.ids?.[0] ?? 'stall';
  say({ ready: true });
  try {
    const r = await agent.run('run the chain', { sessionId: id }).result();
    say({ result: r.status });
  } catch (e) {
    say({ error: isDreamAgentError(e) ? e.code : String(e) });
  }
}

try {
  if (args.mode === 'crash') await crash();
  else if (args.mode === 'race') await race();
  else await stall();
} finally {
  await agent.close({ drain: false });
  await store.close();
  await effects.end();
}
process.exit(0);
