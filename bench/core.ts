/**
 * Core engine benchmarks (in memory). Prints one JSON object; compare ratios within one run, never
 * absolute numbers across machines. The side-by-side comparison with Mastra and LangGraph.js is
 * `bench/peers.ts`.
 *
 *   npx tsx bench/core.ts            # full
 *   BENCH_QUICK=1 npx tsx bench/core.ts
 */
import {
  Agent,
  FunctionPlanner,
  MemoryStore,
  readyTodos,
  type Commit,
  type Executor,
  type Todo,
  type TodoInput,
  type TodoStatus,
} from '../src/index.js';
import { ReadyIndex } from '../src/dag/incremental.js';
import { chain, fan, noop, round2, runOnce, timeRun } from './lib.js';
import { engineSource } from './engine.js';

const quick = process.env['BENCH_QUICK'] === '1';

/**
 * Per-todo cost as plans grow: 100 / 1,000 / 4,000 todos, long (a chain) and wide (a fan-out), at
 * concurrency 1 and 8, through the public API. The target is a 4,000/100 ratio ≤ 1.2.
 */
async function growth(sizes: number[]): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const shapes: [string, (n: number) => TodoInput[]][] = [
    ['long', (n) => chain(n)],
    ['wide', (n) => fan(n - 1)],
  ];
  for (const [shape, build] of shapes) {
    for (const c of [1, 8]) {
      const row: Record<string, number> = {};
      for (const n of sizes) {
        const todos = build(n);
        await runOnce(todos.slice(0, Math.min(n, 200)), c); // warm-up
        row[`n${n}`] = (await timeRun(todos, c, n >= 4000 ? 1 : quick ? 1 : 3)).usPerTodo;
      }
      const first = sizes[0] as number;
      const last = sizes[sizes.length - 1] as number;
      row[`ratio${last}to${first}`] = round2((row[`n${last}`] ?? 0) / (row[`n${first}`] ?? 1));
      out[`${shape}_c${c}`] = row;
    }
  }
  return out;
}

/**
 * The scheduling layer alone: a driver-like cycle (ask the ready index for free slots, start them,
 * complete the oldest) over the same shapes, against a full scan by the pure scheduler every cycle.
 * Shows what the index costs per todo as the plan grows, independent of the rest of the engine.
 */
function schedulingGrowth(sizes: number[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const cycle = (todos: Todo[], c: number, useIndex: boolean): number => {
    const states = new Map<string, TodoStatus>();
    const status = (id: string): TodoStatus | undefined => states.get(id);
    const index = new ReadyIndex(todos, status);
    const running: string[] = [];
    let done = 0;
    const t0 = process.hrtime.bigint();
    while (done < todos.length) {
      const free = c - running.length;
      const next = useIndex
        ? index.ready(status, free)
        : readyTodos(todos, states)
            .filter((t) => states.get(t.id) !== 'running')
            .slice(0, free);
      for (const t of next) {
        states.set(t.id, 'running');
        running.push(t.id);
      }
      const id = running.shift();
      if (id === undefined) throw new Error('stalled');
      states.set(id, 'completed');
      index.completed(id);
      done += 1;
    }
    return Number(process.hrtime.bigint() - t0) / 1e3 / todos.length;
  };
  const asTodos = (inputs: TodoInput[]): Todo[] =>
    inputs.map((t) => ({ ...t, dependsOn: t.dependsOn ?? [], input: t.input ?? {} }) as Todo);
  for (const [shape, build] of [
    ['long', (n: number) => chain(n)],
    ['wide', (n: number) => fan(n - 1)],
  ] as const) {
    for (const c of [1, 8]) {
      const row: Record<string, number> = {};
      for (const n of sizes) {
        const todos = asTodos(build(n));
        let best = Infinity;
        for (let r = 0; r < 5; r += 1) best = Math.min(best, cycle(todos, c, true));
        row[`n${n}`] = round2(best);
        let scan = Infinity;
        for (let r = 0; r < (n >= 4000 ? 1 : 3); r += 1) scan = Math.min(scan, cycle(todos, c, false));
        row[`pureScan_n${n}`] = round2(scan);
      }
      const first = sizes[0] as number;
      const last = sizes[sizes.length - 1] as number;
      row[`ratio${last}to${first}`] = round2((row[`n${last}`] ?? 0) / (row[`n${first}`] ?? 1));
      out[`${shape}_c${c}`] = row;
    }
  }
  return out;
}

async function interruptResume(reps: number): Promise<{ p50us: number; p99us: number }> {
  const agent = new Agent({
    planner: new FunctionPlanner(() => ({
      todos: [{ id: 'gate', title: 'gated', domain: 'work', input: {}, dependsOn: [], approval: true }],
    })),
    executors: { work: noop },
  });
  const samples: number[] = [];
  for (let i = 0; i < reps; i += 1) {
    const r = await agent.run('go', { sessionId: `ir-${i}` }).result();
    const t0 = process.hrtime.bigint();
    const done = await agent
      .send(`ir-${i}`, { type: 'approval.grant', requestId: r.pending[0]?.id ?? '' })
      .result();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e3);
    if (done.status !== 'completed') throw new Error('resume did not complete');
  }
  samples.sort((a, b) => a - b);
  await agent.close();
  return {
    p50us: Math.round(samples[Math.floor(samples.length / 2)] ?? 0),
    p99us: Math.round(samples[Math.floor(samples.length * 0.99)] ?? 0),
  };
}

async function waitingSessions(n: number): Promise<Record<string, number>> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const store = new MemoryStore();
  const agent = new Agent({
    store,
    planner: new FunctionPlanner(() => ({
      todos: [{ id: 'gate', title: 'gated', domain: 'work', input: {}, dependsOn: [], approval: true }],
    })),
    executors: { work: noop },
  });
  gc?.();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i += 1) {
    const r = await agent.run('please do it', { sessionId: `w-${i}` }).result();
    if (r.status !== 'waiting') throw new Error('expected waiting');
  }
  gc?.();
  const after = process.memoryUsage().heapUsed;
  // What the store holds per session (JSON bytes of row + todos + events), i.e. what a durable store would hold.
  let bytes = 0;
  for (let i = 0; i < 100; i += 1) {
    const rec = await store.getSession(`w-${i}`);
    const events = await store.readEvents(`w-${i}`);
    const todos = await store.getTodos(`w-${i}`, rec?.state.turn?.id ?? '');
    bytes += JSON.stringify(rec).length + JSON.stringify(events).length + JSON.stringify(todos).length;
  }
  const waiting = (await agent.listSessions({ status: ['waiting'], limit: 1000 })).length;
  // The agent itself holds nothing for a waiting session: no driver, no subscription, no timer.
  const inProcess = agent.activeSessions;
  await agent.close();
  return {
    sessions: n,
    heapBytesPerSessionIncludingMemoryStore: Math.round((after - before) / n),
    storeJsonBytesPerSession: Math.round(bytes / 100),
    waitingListedFirstPage: waiting,
    sessionsHeldInAgent: inProcess,
    gcExposed: gc ? 1 : 0,
  };
}

async function bytesPerCycle(n: number): Promise<Record<string, number>> {
  const inner = new MemoryStore();
  const sizes: number[] = [];
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'commit') {
        return (c: Commit) => {
          // Index commits by the todo they complete, so "cycle k" means the commit that finished todo k.
          if (c.events.some((e) => e.type === 'todo.completed'))
            sizes.push(Buffer.byteLength(JSON.stringify(c)));
          return target.commit(c);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  // Each todo appends ~1 KB to its output, as in the peers' measurement.
  const payload = 'x'.repeat(1024);
  const exec: Executor = { execute: async (t) => ({ output: { id: t.id, payload } }) };
  const agent = new Agent({
    store,
    planner: new FunctionPlanner(() => ({ todos: chain(n) })),
    executors: { work: exec },
  });
  const r = await agent.run('go').result();
  if (r.status !== 'completed') throw new Error('bytes run failed');
  await agent.close();
  const at = (k: number): number => sizes[k - 1] ?? -1;
  return {
    cycle10: at(10),
    cycle100: at(100),
    cycle500: at(Math.min(500, n)),
    cycles: sizes.length,
    ratio500to10: Math.round((at(Math.min(500, n)) / at(10)) * 100) / 100,
  };
}

/** In-process event streaming: live delivery through a Run, then durable replay through agent.events(). */
async function eventStreaming(n: number): Promise<Record<string, number>> {
  const chatty: Executor = {
    execute: async (t, _i, ctx) => {
      for (let i = 0; i < n; i += 1) ctx.progress('tick', i % 100);
      return { output: t.id };
    },
  };
  const agent = new Agent({
    planner: new FunctionPlanner(() => ({
      todos: [{ id: 'chatty', title: 'chatty', domain: 'work', input: {}, dependsOn: [], idempotent: true }],
    })),
    executors: { work: chatty },
  });
  const t0 = process.hrtime.bigint();
  const run = agent.run('go', { sessionId: 'stream' });
  let live = 0;
  for await (const _ of run) live += 1;
  const liveSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const t1 = process.hrtime.bigint();
  let replayed = 0;
  for await (const _ of agent.events('stream')) replayed += 1;
  const replaySeconds = Number(process.hrtime.bigint() - t1) / 1e9;
  await agent.close();
  return {
    events: live,
    liveEventsPerSecond: Math.round(live / liveSeconds),
    replayed,
    replayEventsPerSecond: Math.round(replayed / replaySeconds),
  };
}

async function main(): Promise<void> {
  const reps = quick ? 1 : 3;
  const out: Record<string, unknown> = {
    bench: 'core',
    node: process.version,
    quick,
    dreamAgentFrom: engineSource,
  };
  const overhead: Record<string, unknown> = {};
  for (const n of quick ? [10, 100] : [10, 100, 1000])
    overhead[`chain${n}`] = await timeRun(chain(n), 1, reps);
  for (const n of [10, 100]) overhead[`fanout${n}_c1`] = await timeRun(fan(n), 1, reps);
  for (const n of [10, 100]) overhead[`fanout${n}_c8`] = await timeRun(fan(n), 8, reps);
  out['perTodoOverhead'] = overhead;
  const sizes = quick ? [100, 1000] : [100, 1000, 4000];
  out['growth'] = await growth(sizes);
  out['schedulingGrowth'] = schedulingGrowth(sizes);
  out['interruptToResume'] = await interruptResume(quick ? 50 : 300);
  out['waitingSessions'] = await waitingSessions(quick ? 1000 : 10_000);
  out['bytesPerCycle'] = await bytesPerCycle(quick ? 100 : 500);
  out['eventStreaming'] = await eventStreaming(quick ? 20_000 : 100_000);
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

await main();
