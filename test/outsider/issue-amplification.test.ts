/**
 * Outsider repro: a value with thousands of bad items turned into an error dozens of times its own size.
 * `input.provide` of a 120 KB array (60,000 duplicates) against a `uniqueItems` schema answered a 5.5 MB
 * `INVALID_INPUT` (59,999 issues), sent back to whoever sent it. Issues are now capped, with a count of
 * the rest, and the request stays pending.
 */
import { describe, expect, it } from 'vitest';
import { Agent, FunctionPlanner, MemoryStore, type AgentEvent } from 'dream-agent';
import { validateAgainstSchema } from '../../src/agent/commands.js';

const drain = async (run: AsyncIterable<AgentEvent> & { result(): Promise<unknown> }): Promise<unknown> => {
  for await (const _ of run) void _;
  return run.result();
};

describe('outsider: validation errors stay small', () => {
  it('an input.provide with 60,000 bad items is refused with a bounded error and changes nothing', async () => {
    const agent = new Agent({
      store: new MemoryStore(),
      hitl: { planReview: 'never' },
      executors: {
        w: {
          async execute(_todo, _input, ctx) {
            const ids = (await ctx.requestInput({
              prompt: 'Which ids?',
              schema: { type: 'array', items: { type: 'integer' }, uniqueItems: true },
            })) as number[];
            return { output: { n: ids.length } };
          },
        },
      },
      planner: new FunctionPlanner(() => ({
        todos: [{ id: 'a', title: 'Ask', domain: 'w', dependsOn: [], input: {} }],
      })),
    });
    const { sessionId } = (await drain(agent.run('ask me'))) as { sessionId: string };
    const request = (await agent.getSession(sessionId))!.pending[0]!;
    for (const value of [
      Array.from({ length: 60_000 }, () => 1),
      Array.from({ length: 60_000 }, () => 'x'),
    ]) {
      const body = JSON.stringify(value).length;
      let error: { code?: string; toJSON?: () => unknown; message: string } | undefined;
      try {
        await drain(agent.send(sessionId, { type: 'input.provide', requestId: request.id, value }));
      } catch (e) {
        error = e as typeof error;
      }
      expect(error?.code).toBe('INVALID_INPUT');
      const size = JSON.stringify(error!.toJSON!()).length;
      // Bounded, and far smaller than what was sent (it was 46 times larger).
      expect(size).toBeLessThan(20_000);
      expect(size).toBeLessThan(body);
      expect(JSON.stringify(error!.toJSON!())).toMatch(/\d+ more issues not shown/);
      const after = await agent.getSession(sessionId);
      expect(after!.status).toBe('waiting');
      expect(after!.pending.map((r) => r.id)).toEqual([request.id]);
    }
  });

  it('validateAgainstSchema reports at most 50 issues and counts the rest', () => {
    const issues = validateAgainstSchema(
      { type: 'array', items: { type: 'string' } },
      Array.from({ length: 5000 }, (_, i) => i),
    );
    expect(issues).toHaveLength(51);
    expect(issues[0]).toMatch(/^\[0\]: expected string, got integer$/);
    expect(issues[50]).toMatch(/4950 more issues not shown/);
    // Few issues: all shown, no summary line.
    expect(validateAgainstSchema({ type: 'array', items: { type: 'string' } }, [1, 2, 'ok'])).toHaveLength(2);
  });
});
