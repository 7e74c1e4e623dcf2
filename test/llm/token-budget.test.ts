/**
 * Per-tenant LLM token budgets: refused with a typed `RATE_LIMITED` before the call once a tenant's
 * tokens for the period are spent; the turn or todo fails cleanly; other tenants are untouched; the
 * session continues in the next period.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  Agent,
  DreamAgentError,
  MemoryCounters,
  TokenBudget,
  isDreamAgentError,
  ToolRegistry,
  defineTool,
  type AgentEvent,
} from 'dream-agent';
import { ManualClock, ScriptedModel } from 'dream-agent/testing';

const PERIOD = 60_000;

async function refusal(p: Promise<unknown>): Promise<DreamAgentError> {
  try {
    await p;
  } catch (e) {
    if (isDreamAgentError(e)) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('TokenBudget', () => {
  it('refuses once the period is spent, with a typed error saying when it resets; the next period starts at zero', async () => {
    let now = 5 * PERIOD + 1_000;
    const budget = new TokenBudget({ tokensPerPeriod: 100, periodMs: PERIOD }, () => now);
    await budget.check('acme');
    expect(await budget.charge('acme', 60)).toBe(60);
    await budget.check('acme');
    expect(await budget.charge('acme', 50)).toBe(110);
    const e = await refusal(budget.check('acme'));
    expect(e.code).toBe('RATE_LIMITED');
    expect(e.retryable).toBe(false);
    expect(e.details).toMatchObject({
      reason: 'token_budget',
      tenantId: 'acme',
      limit: 100,
      used: 110,
      retryAfterMs: PERIOD - 1_000,
      resetsAt: 6 * PERIOD,
    });
    // Another tenant has its own budget.
    await budget.check('globex');
    now = 6 * PERIOD;
    await budget.check('acme');
    expect((await budget.state('acme')).used).toBe(0);
  });

  it("erase removes a tenant's counters (this period and the last), only that tenant's; a counter store without delete is INVALID_STATE", async () => {
    let now = 5 * PERIOD + 1_000;
    const counters = new MemoryCounters(() => now);
    const budget = new TokenBudget({ tokensPerPeriod: 100, periodMs: PERIOD, counters }, () => now);
    await budget.charge('acme', 70);
    now += PERIOD; // a new period: last period's counter still exists until it expires
    await budget.charge('acme', 30);
    await budget.charge('globex', 40);
    const lastPeriod = `dream-agent:llm-tokens:"acme":5`;
    expect(await counters.increment(lastPeriod, 0, PERIOD)).toBe(70);
    expect(await budget.erase('acme')).toBe(3);
    expect((await budget.state('acme')).used).toBe(0);
    expect(await counters.increment(lastPeriod, 0, PERIOD)).toBe(0);
    expect((await budget.state('globex')).used).toBe(40);
    const noDelete = new TokenBudget(
      { tokensPerPeriod: 100, periodMs: PERIOD, counters: { increment: async () => 0 } },
      () => now,
    );
    expect((await refusal(noDelete.erase('acme'))).code).toBe('INVALID_STATE');
  });

  it('per-tenant limits: a function picks each limit; undefined means unlimited and costs no counter', async () => {
    const counted: string[] = [];
    const counters = new MemoryCounters();
    const budget = new TokenBudget({
      tokensPerPeriod: (t) => (t === 'free' ? 10 : undefined),
      periodMs: PERIOD,
      counters: {
        increment: (k, by, ttl) => {
          counted.push(k);
          return counters.increment(k, by, ttl);
        },
      },
    });
    await budget.charge('paid', 1_000_000);
    await budget.check('paid');
    expect(counted).toEqual([]);
    await budget.charge('free', 10);
    expect((await refusal(budget.check('free'))).code).toBe('RATE_LIMITED');
    // A tenant id that looks like a key separator cannot reach another tenant's counter.
    await budget.check('free:0');
  });

  it('bad options are typed errors', () => {
    for (const bad of [
      { tokensPerPeriod: -1, periodMs: PERIOD },
      { tokensPerPeriod: Number.NaN, periodMs: PERIOD },
      { tokensPerPeriod: 10, periodMs: 0 },
      { tokensPerPeriod: 10, periodMs: Number.POSITIVE_INFINITY },
      { tokensPerPeriod: 'lots' as unknown as number, periodMs: PERIOD },
    ]) {
      let caught: unknown;
      try {
        new TokenBudget(bad);
      } catch (e) {
        caught = e;
      }
      expect(isDreamAgentError(caught, 'INVALID_INPUT'), JSON.stringify(bad)).toBe(true);
    }
  });

  it('property: a check passes exactly when the tenant used less than its limit in the current period', async () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('charge' as const),
        tenant: fc.integer({ min: 0, max: 2 }),
        n: fc.nat(80),
      }),
      fc.record({ kind: fc.constant('check' as const), tenant: fc.integer({ min: 0, max: 2 }) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: PERIOD * 2 }) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 200 }),
        fc.array(op, { maxLength: 60 }),
        async (limit, ops) => {
          let now = 1_000;
          const budget = new TokenBudget({ tokensPerPeriod: limit, periodMs: PERIOD }, () => now);
          const model = new Map<string, number>();
          const key = (t: number): string => `${t}:${Math.floor(now / PERIOD)}`;
          for (const o of ops) {
            if (o.kind === 'advance') now += o.ms;
            else if (o.kind === 'charge') {
              await budget.charge(`t${o.tenant}`, o.n);
              model.set(key(o.tenant), (model.get(key(o.tenant)) ?? 0) + o.n);
            } else {
              const used = model.get(key(o.tenant)) ?? 0;
              const refused = await budget.check(`t${o.tenant}`).then(
                () => false,
                (e: unknown) => isDreamAgentError(e, 'RATE_LIMITED'),
              );
              expect(refused).toBe(used >= limit);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

const INTENT = {
  intent: 'orders.review',
  confidence: 0.9,
  entities: [],
  slots: {},
  missingSlots: [],
  clarification: null,
};
const PLAN = {
  rationale: 'fetch, then review',
  todos: [
    { id: 'fetch', title: 'Fetch the order', tool: 'orders.get', input: { id: 'o-1' }, dependsOn: [] },
    {
      id: 'review',
      title: 'Review the order',
      domain: 'insight',
      input: { order: { $ref: 'fetch' } },
      dependsOn: ['fetch'],
    },
  ],
};

/** Cognitive 120 tokens, planner 380 (the first plan; 20 later), writer 60, responder 80 per turn. */
function agent(
  clock: ManualClock,
  limit: number | ((tenantId: string | undefined) => number | undefined),
): { agent: Agent; writer: ScriptedModel } {
  const scripted = (model: string, reply: object): ScriptedModel =>
    new ScriptedModel({ model, turns: [reply], whenExhausted: 'repeat-last' });
  const writer = scripted('write-1', { text: 'Looks fine.', usage: { inputTokens: 40, outputTokens: 20 } });
  const tools = new ToolRegistry();
  tools.register(
    defineTool({
      name: 'orders.get',
      description: 'Gets an order',
      domain: 'data',
      input: z.object({ id: z.string() }),
      handler: (input) => ({ id: input.id, total: 42 }),
    }),
  );
  const a = new Agent({
    clock,
    tools,
    models: {
      cognitive: scripted('cog-1', { json: INTENT, usage: { inputTokens: 100, outputTokens: 20 } }),
      // The first plan is expensive, later ones cheap (so a later turn fits in a fresh period).
      planner: new ScriptedModel({
        model: 'plan-1',
        turns: [
          { json: PLAN, usage: { inputTokens: 300, outputTokens: 80 } },
          { json: PLAN, usage: { inputTokens: 10, outputTokens: 10 } },
        ],
        whenExhausted: 'repeat-last',
      }),
      executor: writer,
      responder: scripted('resp-1', { text: 'All good.', usage: { inputTokens: 60, outputTokens: 20 } }),
    },
    hitl: { planReview: 'never' },
    tokenBudget: { tokensPerPeriod: limit, periodMs: PERIOD },
  });
  return { agent: a, writer };
}

const calls = (events: AgentEvent[], turnId: string | null): string[] =>
  events
    .filter((e) => e.type === 'llm.call' && e.turnId === turnId)
    .map((e) => (e as { layer: string }).layer);

describe('Agent token budgets', () => {
  it('a spent budget fails the todo and the answer cleanly, other tenants run, and the session continues next period', async () => {
    const clock = new ManualClock(10 * PERIOD);
    const { agent: a, writer } = agent(clock, (t) => (t === 'globex' ? 10_000 : 450));
    // Turn 1: cognitive + planner use 500 of 450: the writer's todo and the answer are refused.
    const r1 = await a.run('review order o-1', { tenantId: 'acme' }).result();
    expect(r1.status, JSON.stringify(r1)).toBe('completed');
    expect(r1.answerError?.code).toBe('RATE_LIMITED');
    expect(writer.calls).toBe(0);
    const events1 = await a.store.readEvents(r1.sessionId);
    expect(calls(events1, r1.turnId)).toEqual(['cognitive', 'planner']);
    const failed = events1.find((e) => e.type === 'todo.failed' && e.todoId === 'review');
    expect(failed && failed.type === 'todo.failed' ? failed.error : undefined).toMatchObject({
      code: 'RATE_LIMITED',
      retryable: false,
      details: { reason: 'token_budget', tenantId: 'acme', limit: 450, used: 500 },
    });
    const todos = await a.store.getTodos(r1.sessionId, r1.turnId ?? '');
    expect(Object.fromEntries(todos.map((t) => [t.todoId, t.status]))).toEqual({
      fetch: 'completed',
      review: 'failed',
    });
    expect((await a.store.getSession(r1.sessionId))?.status).toBe('idle');

    // Same period, another tenant: its own budget (and limit).
    const other = await a.run('review order o-1', { tenantId: 'globex' }).result();
    expect(other.status).toBe('completed');
    expect(other.answerError).toBeUndefined();
    expect(calls(await a.store.readEvents(other.sessionId), other.turnId)).toHaveLength(4);

    // Same period, same tenant, a new turn: refused at the first call — the turn fails, nothing else changes.
    const r2 = await a.run('and again', { sessionId: r1.sessionId }).result();
    expect(r2.status).toBe('failed');
    expect(r2.error?.code).toBe('RATE_LIMITED');
    expect(calls(await a.store.readEvents(r1.sessionId), r2.turnId)).toEqual([]);
    expect((await a.store.getSession(r1.sessionId))?.status).toBe('idle');

    // Next period: the same session runs a full turn.
    clock.advance(PERIOD);
    const r3 = await a.run('once more', { sessionId: r1.sessionId }).result();
    expect(r3.status, JSON.stringify(r3)).toBe('completed');
    expect(r3.answer).toBe('All good.');
    expect(calls(await a.store.readEvents(r1.sessionId), r3.turnId)).toEqual([
      'cognitive',
      'planner',
      'executor',
      'responder',
    ]);
    await a.close();
  });

  it('sessions without a tenant share one budget; invalid budget options fail at construction', async () => {
    const clock = new ManualClock(10 * PERIOD);
    const { agent: a } = agent(clock, 100);
    const r1 = await a.run('review order o-1').result();
    expect(r1.status).toBe('failed');
    expect(r1.error?.code).toBe('RATE_LIMITED');
    const r2 = await a.run('review order o-2').result();
    expect(r2.error?.details).toMatchObject({ reason: 'token_budget', tenantId: null, used: 120 });
    await a.close();
    expect(() => new Agent({ tokenBudget: { tokensPerPeriod: 10, periodMs: -5 } })).toThrow(DreamAgentError);
  });
});
