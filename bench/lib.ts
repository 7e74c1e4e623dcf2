/**
 * What the benchmarks share:
 * - plan shapes and the in-memory dream-agent runner (`core.ts`, `peers.ts`): each run builds a fresh
 *   Agent, consumes every event and checks the run completed;
 * - the durable-store timing loops (`postgres.ts`, `sqlite.ts`): a typical cycle's commit, a session to
 *   commit cycles to, latencies interleaved one for one with a raw baseline, blocks alternating with
 *   raw blocks, and rate phases — so both stores are measured by the same code.
 */
import {
  Agent,
  FunctionPlanner,
  type AgentEvent,
  type Commit,
  type Executor,
  type LeaseToken,
  type SessionState,
  type Store,
  type TodoInput,
  type TodoRecord,
} from '../src/index.js';
import { loadEngine } from './engine.js';

/** An executor that does no work: what is left is the engine's own cost per todo. */
export const noop: Executor = { execute: async (t) => ({ output: t.id }) };

/** `n` todos, each depending on the previous one. */
export function chain(n: number): TodoInput[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `t${i}`,
    title: `step ${i}`,
    domain: 'work',
    input: {},
    dependsOn: i === 0 ? [] : [`t${i - 1}`],
    idempotent: true,
  }));
}

/** One root and `n` leaves that depend on it. */
export function fan(n: number): TodoInput[] {
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

/** `n` independent todos (a flat, wide plan). */
export function flat(n: number): TodoInput[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `w${i}`,
    title: `item ${i}`,
    domain: 'work',
    input: {},
    dependsOn: [],
    idempotent: true,
  }));
}

/**
 * Runs a plan once through the public API of the built package (`bench/engine.ts`), every event
 * consumed.
 *
 * @param todos - the plan
 * @param concurrency - the Agent's concurrency
 * @param resources - the Agent's resource limits (none by default)
 * @returns wall-clock and CPU µs per todo, and the number of events consumed
 */
export async function runOnce(
  todos: TodoInput[],
  concurrency: number,
  resources?: Record<string, number>,
): Promise<{ us: number; cpuUs: number; events: number }> {
  const engine = await loadEngine();
  const agent = new engine.Agent({
    planner: new engine.FunctionPlanner(() => ({ todos })),
    executors: { work: noop },
    concurrency,
    ...(resources ? { resources } : {}),
  });
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const run = agent.run('go');
  let events = 0;
  for await (const _ of run) events += 1; // events consumed
  const res = await run.result();
  const us = Number(process.hrtime.bigint() - t0) / 1e3 / todos.length;
  const c = process.cpuUsage(c0);
  const cpuUs = (c.user + c.system) / todos.length;
  if (res.status !== 'completed') throw new Error(`run ended ${res.status}`);
  await agent.close();
  return { us, cpuUs, events };
}

/**
 * Best of `reps` runs (the least disturbed by other load on the machine).
 *
 * @param todos - the plan
 * @param concurrency - the Agent's concurrency
 * @param reps - repetitions
 * @param resources - the Agent's resource limits (none by default)
 * @returns best wall-clock and CPU µs per todo (one decimal) and the events of one run
 */
export async function timeRun(
  todos: TodoInput[],
  concurrency: number,
  reps: number,
  resources?: Record<string, number>,
): Promise<{ usPerTodo: number; cpuUsPerTodo: number; events: number }> {
  let best = Infinity;
  let bestCpu = Infinity;
  let events = 0;
  for (let r = 0; r < reps; r += 1) {
    const o = await runOnce(todos, concurrency, resources);
    best = Math.min(best, o.us);
    bestCpu = Math.min(bestCpu, o.cpuUs);
    events = o.events;
  }
  return { usPerTodo: round1(best), cpuUsPerTodo: round1(bestCpu), events };
}

/** @returns x rounded to one decimal */
export const round1 = (x: number): number => Math.round(x * 10) / 10;
/** @returns x rounded to two decimals */
export const round2 = (x: number): number => Math.round(x * 100) / 100;

// ------------------------------------------------------------------ durable-store benchmarks

/** Latency summary of one measured series (milliseconds). */
export interface LatencyStats {
  n: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

/**
 * Summarises latencies.
 *
 * @param lat - latencies in ms
 * @param digits - decimals kept (3 for PostgreSQL's milliseconds, 4 for SQLite's tens of µs)
 * @returns count, p50, p99 and mean
 */
export function latencyStats(lat: number[], digits = 3): LatencyStats {
  const s = [...lat].sort((a, b) => a - b);
  const at = (p: number): number => s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? 0;
  const r = (x: number): number => Math.round(x * 10 ** digits) / 10 ** digits;
  return {
    n: s.length,
    p50Ms: r(at(0.5)),
    p99Ms: r(at(0.99)),
    meanMs: r(lat.reduce((a, b) => a + b, 0) / Math.max(lat.length, 1)),
  };
}

/** @returns a / b rounded to two decimals (b = 0 counts as 1) */
export const ratio = (a: number, b: number): number => round2(a / (b || 1));

/** @returns the median of xs (0 for none) */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** A small session state like a running turn's (rewritten by every cycle). */
export function benchState(i: number): SessionState {
  return {
    turn: {
      id: 'turn',
      index: 1,
      input: 'bench',
      phase: 'executing',
      clarifications: [],
      pending: [],
      paused: false,
      startedAt: i,
    },
    turns: 1,
    dialogue: [],
    slots: { region: 'EMEA' },
    metadata: { tenant: 'bench' },
  };
}

/** A todo's 1 KB output. */
export const benchOutput = { text: 'x'.repeat(1000) };

/**
 * The commit of a typical cycle: the state, `todo.started` + `todo.completed` with the 1 KB output, and
 * the todo row.
 *
 * @returns the commit continuing `version` / `lastSeq` under `lease`
 */
export function cycleCommit(
  sessionId: string,
  version: number,
  lastSeq: number,
  lease: LeaseToken,
  i: number,
): Commit {
  const todo: TodoRecord = {
    sessionId,
    turnId: 'turn',
    todoId: `t${i}`,
    status: 'completed',
    attempts: 1,
    idempotencyKey: `k${i}`,
    output: benchOutput,
    startedAt: i,
    finishedAt: i,
  };
  const events = [
    {
      type: 'todo.started',
      sessionId,
      turnId: 'turn',
      seq: lastSeq + 1,
      at: i,
      todoId: `t${i}`,
      attempt: 1,
      idempotencyKey: `k${i}`,
    },
    {
      type: 'todo.completed',
      sessionId,
      turnId: 'turn',
      seq: lastSeq + 2,
      at: i,
      todoId: `t${i}`,
      output: benchOutput,
      cached: false,
      durationMs: 1,
    },
  ] as AgentEvent[];
  return {
    sessionId,
    expectedVersion: version,
    lease,
    status: 'running',
    state: benchState(i),
    events,
    todos: [todo],
    planVersions: [],
    inboxAcks: [],
    leaseAction: 'renew',
    leaseTtlMs: 60_000,
  };
}

/**
 * Creates a session and returns a function committing its next cycle (one at a time).
 *
 * @param store - any Store
 * @param id - the session id
 * @returns commit-the-next-cycle
 */
export async function cycler(store: Store, id: string): Promise<() => Promise<void>> {
  const { record, lease } = await store.createSession(
    { id, status: 'running', state: benchState(0) },
    'bench',
    60_000,
  );
  let version = record.version;
  let lastSeq = record.lastSeq;
  let i = 0;
  return async () => {
    i += 1;
    const r = await store.commit(cycleCommit(id, version, lastSeq, lease, i));
    version = r.version;
    lastSeq = r.lastSeq;
  };
}

/**
 * An Agent on `store` whose every turn is a chain of `n` idempotent no-op todos.
 *
 * @returns the Agent (close it)
 */
export function chainAgent(store: Store, n: number): Agent {
  return new Agent({
    store,
    planner: new FunctionPlanner(() => ({ todos: chain(n) })),
    executors: { work: { execute: async () => Promise.resolve({ output: { ok: true } }) } },
  });
}

/**
 * Runs one turn and returns the gaps between consecutive `todo.completed` events as the run's consumer
 * sees them: one Agent cycle each (executor, events, the commit, delivery).
 *
 * @returns the gaps in ms
 */
export async function cycleGaps(agent: Agent): Promise<number[]> {
  const gaps: number[] = [];
  let last: number | undefined;
  for await (const e of agent.run('chain')) {
    if (e.type !== 'todo.completed') continue;
    const t = performance.now();
    if (last !== undefined) gaps.push(t - last);
    last = t;
  }
  return gaps;
}

/**
 * Times `raw` and `subject` interleaved one for one (so both see the same load), after `warmup`
 * untimed pairs.
 *
 * @returns the latencies of each, ms
 */
export async function interleaved(
  pairs: number,
  warmup: number,
  raw: () => Promise<void>,
  subject: () => Promise<void>,
): Promise<{ raw: number[]; subject: number[] }> {
  for (let i = 0; i < warmup; i += 1) {
    await raw();
    await subject();
  }
  const r: number[] = [];
  const s: number[] = [];
  for (let i = 0; i < pairs; i += 1) {
    let t = performance.now();
    await raw();
    r.push(performance.now() - t);
    t = performance.now();
    await subject();
    s.push(performance.now() - t);
  }
  return { raw: r, subject: s };
}

/**
 * Alternates blocks of `size` timed `raw` calls with one `block()` that measures itself (an Agent turn
 * returning its cycle gaps), `blocks` times.
 *
 * @returns the raw latencies and everything the blocks returned, ms
 */
export async function alternatingBlocks(
  blocks: number,
  size: number,
  raw: () => Promise<void>,
  block: () => Promise<number[]>,
): Promise<{ raw: number[]; subject: number[] }> {
  const r: number[] = [];
  const s: number[] = [];
  for (let b = 0; b < blocks; b += 1) {
    for (let i = 0; i < size; i += 1) {
      const t = performance.now();
      await raw();
      r.push(performance.now() - t);
    }
    s.push(...(await block()));
  }
  return { raw: r, subject: s };
}

/**
 * Runs every loop on its own as fast as it can for `secs` (no lock-step between them).
 *
 * @param loops - one step function per client or session
 * @returns the total steps per second
 */
export async function parallelRate(secs: number, loops: (() => Promise<unknown>)[]): Promise<number> {
  const t = performance.now();
  const end = t + secs * 1000;
  const counts = await Promise.all(
    loops.map(async (step) => {
      let n = 0;
      while (performance.now() < end) {
        await step();
        n += 1;
      }
      return n;
    }),
  );
  return counts.reduce((a, b) => a + b, 0) / ((performance.now() - t) / 1000);
}
