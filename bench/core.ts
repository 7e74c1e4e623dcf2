/**
 * Core engine benchmarks (in memory). Prints one JSON object; compare ratios within one run, never
 * absolute numbers across machines.
 *
 *   npx tsx bench/core.ts            # full
 *   BENCH_QUICK=1 npx tsx bench/core.ts
 */
import {
  Agent,
  FunctionPlanner,
  MemoryStore,
  type Commit,
  type Executor,
  type TodoInput,
} from '../src/index.js';

const quick = process.env['BENCH_QUICK'] === '1';
const noop: Executor = { execute: async (t) => ({ output: t.id }) };

function chain(n: number): TodoInput[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `t${i}`,
    title: `step ${i}`,
    domain: 'work',
    input: {},
    dependsOn: i === 0 ? [] : [`t${i - 1}`],
    idempotent: true,
  }));
}

function fan(n: number): TodoInput[] {
  return [
    { id: 'root', title: 'root', domain: 'work', input: {}, dependsOn: [], idempotent: true },
    ...Array.from({ length: n }, (_, i) => ({
      id: `f${i}`,
      title: `leaf ${i}`,
      domain: 'work',
      input: {},
      dependsOn: ['root'],
      idempotent: true,
    })),
  ];
}

async function timeRun(
  todos: TodoInput[],
  concurrency: number,
  reps: number,
): Promise<{ usPerTodo: number; events: number }> {
  let best = Infinity;
  let events = 0;
  for (let r = 0; r < reps; r += 1) {
    const agent = new Agent({
      planner: new FunctionPlanner(() => ({ todos })),
      executors: { work: noop },
      concurrency,
    });
    const t0 = process.hrtime.bigint();
    const run = agent.run('go');
    let n = 0;
    for await (const _ of run) n += 1; // events consumed
    const res = await run.result();
    const dt = Number(process.hrtime.bigint() - t0) / 1e3;
    if (res.status !== 'completed') throw new Error(`run ended ${res.status}`);
    best = Math.min(best, dt / todos.length);
    events = n;
    await agent.close();
  }
  return { usPerTodo: Math.round(best * 10) / 10, events };
}

async function langgraphChain(n: number, withSaver: boolean, reps: number): Promise<number | null> {
  try {
    const lg = await import('@langchain/langgraph');
    const { StateGraph, Annotation, MemorySaver, START, END } = lg;
    const State = Annotation.Root({
      count: Annotation<number>({ reducer: (_a: number, b: number) => b, default: () => 0 }),
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the builder's node-name generics explode on dynamic names
    let g: any = new StateGraph(State);
    for (let i = 0; i < n; i += 1) g = g.addNode(`n${i}`, (s: { count: number }) => ({ count: s.count + 1 }));
    g = g.addEdge(START, 'n0');
    for (let i = 1; i < n; i += 1) g = g.addEdge(`n${i - 1}`, `n${i}`);
    g = g.addEdge(`n${n - 1}`, END);
    const app = g.compile(withSaver ? { checkpointer: new MemorySaver() } : {});
    let best = Infinity;
    for (let r = 0; r < reps; r += 1) {
      const t0 = process.hrtime.bigint();
      const stream = await app.stream(
        { count: 0 },
        { recursionLimit: n + 10, streamMode: 'updates', configurable: { thread_id: `t${r}` } },
      );
      for await (const _ of stream) {
        /* consume */
      }
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e3 / n);
    }
    return Math.round(best * 10) / 10;
  } catch (e) {
    process.stderr.write(`langgraph comparison unavailable: ${String(e)}\n`);
    return null;
  }
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
  const out: Record<string, unknown> = { bench: 'core', node: process.version, quick };
  const overhead: Record<string, unknown> = {};
  for (const n of quick ? [10, 100] : [10, 100, 1000])
    overhead[`chain${n}`] = await timeRun(chain(n), 1, reps);
  for (const n of [10, 100]) overhead[`fanout${n}_c1`] = await timeRun(fan(n), 1, reps);
  for (const n of [10, 100]) overhead[`fanout${n}_c8`] = await timeRun(fan(n), 8, reps);
  out['perTodoOverhead'] = overhead;
  const lgN = quick ? 100 : 1000;
  const lgNo = await langgraphChain(lgN, false, reps);
  const lgSaver = await langgraphChain(lgN, true, reps);
  const ours = (overhead[`chain${lgN}`] as { usPerTodo: number }).usPerTodo;
  out['langgraphChain'] = {
    todos: lgN,
    langgraphUsPerStepNoCheckpointer: lgNo,
    langgraphUsPerStepMemorySaver: lgSaver,
    dreamAgentUsPerTodo: ours,
    ratioVsNoCheckpointer: lgNo ? Math.round((lgNo / ours) * 10) / 10 : null,
    ratioVsMemorySaver: lgSaver ? Math.round((lgSaver / ours) * 10) / 10 : null,
  };
  out['interruptToResume'] = await interruptResume(quick ? 50 : 300);
  out['waitingSessions'] = await waitingSessions(quick ? 1000 : 10_000);
  out['bytesPerCycle'] = await bytesPerCycle(quick ? 100 : 500);
  out['eventStreaming'] = await eventStreaming(quick ? 20_000 : 100_000);
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

await main();
