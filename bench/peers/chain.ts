/**
 * The peers' side of the side-by-side chain benchmark: the identical n-step in-memory chain (each step
 * adds one to a counter) on Mastra workflows and on LangGraph.js, every streamed event consumed.
 *
 * This file lives in `bench/peers/` so its imports resolve to `bench/peers/node_modules` (installed
 * with `npm install --prefix bench/peers`), never to the root's dependencies. The imports are dynamic
 * and typed by the small structural interfaces below, so the root type-check passes whether or not
 * the peers are installed.
 */

/** What a peer reports for one chain length: the best µs per step over the repetitions. */
export interface PeerTiming {
  name: string;
  version: string;
  usPerStep: number;
}

interface ZodLike {
  object(shape: Record<string, unknown>): unknown;
  number(): unknown;
}
interface MastraStep {
  id: string;
}
interface MastraWorkflowBuilder {
  then(step: MastraStep): MastraWorkflowBuilder;
  commit(): MastraWorkflow;
}
interface MastraResult {
  status: string;
  result?: unknown;
}
interface MastraWorkflow {
  createRun(): Promise<{
    stream(args: { inputData: { count: number } }): {
      fullStream: AsyncIterable<unknown>;
      result: Promise<MastraResult>;
    };
    start(args: { inputData: { count: number } }): Promise<MastraResult>;
  }>;
}
interface MastraModule {
  createStep(p: {
    id: string;
    inputSchema: unknown;
    outputSchema: unknown;
    execute: (a: { inputData: { count: number } }) => Promise<{ count: number }>;
  }): MastraStep;
  createWorkflow(p: { id: string; inputSchema: unknown; outputSchema: unknown }): MastraWorkflowBuilder;
}

/** A module specifier the type-checker does not try to resolve (the peers may be absent). */
const load = async <T>(specifier: string): Promise<T> => (await import(specifier)) as T;

async function versionOf(pkg: string): Promise<string> {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  return (require(`${pkg}/package.json`) as { version: string }).version;
}

const elapsedUs = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e3;

/** One run's cost per step: wall-clock µs, and CPU µs of this process (user + system). */
export interface StepCost {
  us: number;
  cpuUs: number;
}

const cpuNow = (): number => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

/**
 * Builds the n-step chain on Mastra and returns a function that runs it once.
 *
 * @param n - chain length
 * @param mode - `stream` (every event consumed, as the other runs) or `start` (result only: Mastra's
 *   fastest path, reported too so the comparison never flatters us)
 * @returns a runner resolving to the wall-clock and CPU µs per step of one run
 */
export async function mastraChain(n: number, mode: 'stream' | 'start'): Promise<() => Promise<StepCost>> {
  const { z } = await load<{ z: ZodLike }>('zod');
  const m = await load<MastraModule>('@mastra/core/workflows');
  const schema = z.object({ count: z.number() });
  let wf = m.createWorkflow({ id: `chain-${n}`, inputSchema: schema, outputSchema: schema });
  for (let i = 0; i < n; i += 1) {
    wf = wf.then(
      m.createStep({
        id: `s${i}`,
        inputSchema: schema,
        outputSchema: schema,
        execute: async ({ inputData }) => ({ count: inputData.count + 1 }),
      }),
    );
  }
  const workflow = wf.commit();
  return async () => {
    const c0 = cpuNow();
    const t0 = process.hrtime.bigint();
    const run = await workflow.createRun();
    let result: MastraResult;
    if (mode === 'stream') {
      const out = run.stream({ inputData: { count: 0 } });
      for await (const _ of out.fullStream) {
        /* every event consumed */
      }
      result = await out.result;
    } else {
      result = await run.start({ inputData: { count: 0 } });
    }
    const us = elapsedUs(t0) / n;
    const cpuUs = (cpuNow() - c0) / n;
    const count = (result.result as { count?: number } | undefined)?.count;
    if (result.status !== 'success' || count !== n)
      throw new Error(`mastra chain ended ${result.status} at ${String(count)}`);
    return { us, cpuUs };
  };
}

interface LangGraphModule {
  StateGraph: new (state: unknown) => LangGraphBuilder;
  Annotation: {
    Root(spec: Record<string, unknown>): unknown;
    <T>(spec: { reducer: (a: T, b: T) => T; default: () => T }): unknown;
  };
  MemorySaver: new () => unknown;
  START: string;
  END: string;
}
interface LangGraphBuilder {
  addNode(name: string, fn: (s: { count: number }) => { count: number }): LangGraphBuilder;
  addEdge(from: string, to: string): LangGraphBuilder;
  compile(opts: { checkpointer?: unknown }): {
    stream(
      input: { count: number },
      config: { recursionLimit: number; streamMode: 'updates'; configurable: { thread_id: string } },
    ): Promise<AsyncIterable<unknown>>;
  };
}

/**
 * Builds the n-step chain on LangGraph.js and returns a function that runs it once.
 *
 * @param n - chain length
 * @param withSaver - compile with a `MemorySaver` checkpointer (durable-like) or without
 * @returns a runner resolving to the wall-clock and CPU µs per step of one run
 */
export async function langgraphChain(n: number, withSaver: boolean): Promise<() => Promise<StepCost>> {
  const lg = await load<LangGraphModule>('@langchain/langgraph');
  const State = lg.Annotation.Root({
    count: lg.Annotation<number>({ reducer: (_a, b) => b, default: () => 0 }),
  });
  let g = new lg.StateGraph(State);
  for (let i = 0; i < n; i += 1) g = g.addNode(`n${i}`, (s) => ({ count: s.count + 1 }));
  g = g.addEdge(lg.START, 'n0');
  for (let i = 1; i < n; i += 1) g = g.addEdge(`n${i - 1}`, `n${i}`);
  g = g.addEdge(`n${n - 1}`, lg.END);
  const app = g.compile(withSaver ? { checkpointer: new lg.MemorySaver() } : {});
  let thread = 0;
  return async () => {
    const c0 = cpuNow();
    const t0 = process.hrtime.bigint();
    const stream = await app.stream(
      { count: 0 },
      { recursionLimit: n + 10, streamMode: 'updates', configurable: { thread_id: `t${thread++}` } },
    );
    let updates = 0;
    for await (const _ of stream) updates += 1; // every update consumed
    if (updates !== n) throw new Error(`langgraph chain streamed ${updates} updates, expected ${n}`);
    return { us: elapsedUs(t0) / n, cpuUs: (cpuNow() - c0) / n };
  };
}

/**
 * The peers available here, each with a builder for the n-step chain runner.
 *
 * @returns the peers, or an empty list with the reason when `bench/peers` is not installed
 */
export async function peers(): Promise<{
  available: { name: string; version: string; build: (n: number) => Promise<() => Promise<StepCost>> }[];
  missing?: string;
}> {
  try {
    const [mastra, langgraph] = await Promise.all([
      versionOf('@mastra/core'),
      versionOf('@langchain/langgraph'),
    ]);
    return {
      available: [
        { name: 'mastraStream', version: mastra, build: (n) => mastraChain(n, 'stream') },
        { name: 'mastraStart', version: mastra, build: (n) => mastraChain(n, 'start') },
        { name: 'langgraphNoCheckpointer', version: langgraph, build: (n) => langgraphChain(n, false) },
        { name: 'langgraphMemorySaver', version: langgraph, build: (n) => langgraphChain(n, true) },
      ],
    };
  } catch (e) {
    return { available: [], missing: (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '' };
  }
}
