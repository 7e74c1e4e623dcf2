/**
 * The executing phase takes from the ready index only as many todos as there are free slots (so a wide
 * plan costs per cycle what it starts, not its width) — and still puts every todo through the approval
 * gate as soon as it is ready: approvals beyond the free slots are requested at once, not when a slot
 * frees up, and every todo still runs once.
 */
import { describe, expect, it } from 'vitest';
import { Agent, FunctionPlanner, MemoryStore, type AgentEvent, type TodoInput } from 'dream-agent';

const collect = async (run: AsyncIterable<AgentEvent> & { result(): Promise<unknown> }) => {
  const events: AgentEvent[] = [];
  for await (const e of run) events.push(e);
  return { events, result: (await run.result()) as { status: string; sessionId: string } };
};

describe('wide plans through the ready index', () => {
  for (const concurrency of [1, 3]) {
    it(`approvals beyond the free slots are requested before the first todo starts (concurrency ${concurrency})`, async () => {
      const width = 40;
      const todos: TodoInput[] = Array.from({ length: width }, (_, i) => ({
        id: `t${i}`,
        title: `T${i}`,
        domain: 'w',
        input: {},
        ...(i % 5 === 4 ? { approval: true } : {}),
      }));
      const ran: string[] = [];
      const agent = new Agent({
        store: new MemoryStore(),
        concurrency,
        planner: new FunctionPlanner(() => ({ todos })),
        executors: {
          w: {
            async execute(todo) {
              await Promise.resolve();
              ran.push(todo.id);
              return { output: todo.id };
            },
          },
        },
      });
      try {
        const first = await collect(agent.run('go'));
        const requested = first.events.filter((e) => e.type === 'approval.requested');
        expect(requested).toHaveLength(width / 5);
        const firstStart = first.events.find((e) => e.type === 'todo.started');
        expect(firstStart).toBeDefined();
        for (const r of requested) expect(r.seq).toBeLessThan(firstStart!.seq);
        expect(first.result.status).toBe('waiting');
        expect(ran.sort()).toEqual(
          todos
            .filter((t) => t.approval === undefined)
            .map((t) => t.id)
            .sort(),
        );
        const { sessionId } = first.result;
        let last = first.result;
        for (const p of (await agent.getSession(sessionId)).pending) {
          last = (
            await collect(agent.send(sessionId, { type: 'approval.grant', requestId: p.id, actor: 'm' }))
          ).result;
        }
        expect(last.status).toBe('completed');
        expect(ran).toHaveLength(width);
        expect(new Set(ran).size).toBe(width);
      } finally {
        await agent.close();
      }
    });
  }
});
