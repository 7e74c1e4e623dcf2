/**
 * At `concurrency > 1`, completions that land together share one commit (issue 10 §3): counted at the
 * store, through the public API.
 */
import { describe, expect, it } from 'vitest';
import {
  Agent,
  FunctionPlanner,
  MemoryStore,
  type Commit,
  type CommitResult,
  type Executor,
  type TodoInput,
} from 'dream-agent';

/** A store that records every commit's event types. */
function countingStore(slow?: () => Promise<void>): { store: MemoryStore; commits: string[][] } {
  const commits: string[][] = [];
  class Counting extends MemoryStore {
    override async commit(c: Commit): Promise<CommitResult> {
      commits.push(c.events.map((e) => e.type));
      if (slow) await slow();
      return super.commit(c);
    }
  }
  return { store: new Counting(), commits };
}

const wide = (n: number): TodoInput[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `p${i}`,
    title: `P${i}`,
    domain: 'w',
    input: {},
    idempotent: true,
  }));

/** Executors that all wait on one gate, opened once `n` of them started: their completions land together. */
function gatedExecutor(n: number): Executor {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let started = 0;
  return {
    async execute(t) {
      started += 1;
      if (started === n) open();
      await gate;
      return { output: t.id };
    },
  };
}

describe('completions that land together share one commit', () => {
  for (const n of [2, 8, 32]) {
    it(`${n} todos released at once are committed in one commit (concurrency ${n})`, async () => {
      const { store, commits } = countingStore();
      const agent = new Agent({
        store,
        concurrency: n,
        planner: new FunctionPlanner(() => ({ todos: wide(n) })),
        executors: { w: gatedExecutor(n) },
      });
      const r = await agent.run('go').result();
      expect(r.status).toBe('completed');
      const withCompletions = commits.filter((c) => c.includes('todo.completed'));
      expect(withCompletions).toHaveLength(1);
      expect(withCompletions[0]?.filter((t) => t === 'todo.completed')).toHaveLength(n);
      await agent.close();
    });
  }

  it('completions landing while a slow commit is in flight share the next one', async () => {
    // Each commit takes a few macrotasks; todos finish one per macrotask meanwhile.
    const { store, commits } = countingStore(() => new Promise((r) => setTimeout(r, 5)));
    const n = 16;
    let i = 0;
    const exec: Executor = {
      async execute(t) {
        const delay = (i += 1);
        await new Promise((r) => setTimeout(r, delay));
        return { output: t.id };
      },
    };
    const agent = new Agent({
      store,
      concurrency: n,
      planner: new FunctionPlanner(() => ({ todos: wide(n) })),
      executors: { w: exec },
    });
    const r = await agent.run('go').result();
    expect(r.status).toBe('completed');
    const completed = commits.flatMap((c) => c.filter((t) => t === 'todo.completed'));
    expect(completed).toHaveLength(n);
    // Never one commit per completion: at most one commit in flight and one queued take them all.
    const withCompletions = commits.filter((c) => c.includes('todo.completed'));
    expect(withCompletions.length).toBeLessThan(n);
    await agent.close();
  });
});
