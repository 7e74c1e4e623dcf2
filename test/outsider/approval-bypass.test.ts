/**
 * Outsider repro: an operator who may NOT grant an approval (it needs `supervisor`) removes
 * the gate by editing the todo (`approval: false`, new input) while the request is pending; the todo
 * then runs the new effect without anyone approving it.
 */
import { describe, expect, it } from 'vitest';
import { Agent, FunctionPlanner, MemoryStore, scopedAgent, type AgentEvent } from 'dream-agent';

const drain = async (run: AsyncIterable<AgentEvent> & { result(): Promise<unknown> }): Promise<string> => {
  try {
    for await (const _ of run) void _;
    await run.result();
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
};

describe('outsider: a plan edit cannot remove a pending approval gate', () => {
  it('an operator without the approver role cannot make the gated todo run by editing approval:false', async () => {
    const ran: unknown[] = [];
    const agent = new Agent({
      store: new MemoryStore(),
      planner: new FunctionPlanner(() => ({
        todos: [
          {
            id: 'pay',
            title: 'Pay',
            domain: 'w',
            dependsOn: [],
            input: { amount: 10 },
            approval: { required: true, roles: ['supervisor'] },
          },
        ],
      })),
      executors: {
        w: {
          async execute(_todo, input) {
            await Promise.resolve();
            ran.push(input);
            return { output: { ok: true } };
          },
        },
      },
      hitl: { planReview: 'never' },
    });
    const bob = scopedAgent(agent, { id: 'bob', tenantId: 'acme', roles: ['operator'] });
    const first = bob.run('pay');
    await drain(first);
    const { sessionId } = (await first.result()) as { sessionId: string };
    const pending = (await agent.getSession(sessionId))!.pending;
    expect(await drain(bob.send(sessionId, { type: 'approval.grant', requestId: pending[0]!.id }))).toBe(
      'FORBIDDEN',
    );
    await drain(
      bob.send(sessionId, {
        type: 'plan.edit',
        edits: [{ op: 'update', todoId: 'pay', patch: { approval: false, input: { amount: 1_000_000 } } }],
      }),
    );
    expect(ran).toEqual([]);
  });
});
