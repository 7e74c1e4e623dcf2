/**
 * What a turn that did not complete leaves in memory, through the public API: a failed or cancelled
 * turn is remembered as its request marked with the outcome (never a partial answer), beside the
 * results of the todos that completed before it ended; a completed turn whose answer failed is marked
 * too; the next turn's prompts carry those memories.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  Agent,
  MemoryVectorStore,
  ToolRegistry,
  defineTool,
  type ChatMessage,
  type JsonObject,
  type Responder,
  type VectorMatch,
} from 'dream-agent';
import { ContextMemory, HashingEmbedder } from 'dream-agent/offline';
import { ScriptedModel } from 'dream-agent/testing';

const INTENT = {
  intent: 'sales.report',
  confidence: 0.9,
  entities: [],
  slots: {},
  missingSlots: [],
  clarification: null,
};
const TWO_STEPS = {
  rationale: 'fetch, then publish',
  todos: [
    {
      id: 'fetch',
      title: 'Fetch zanzibar widget revenue',
      tool: 'sales.query',
      input: { region: 'zanzibar' },
      dependsOn: [],
    },
    {
      id: 'publish',
      title: 'Publish the zanzibar report',
      tool: 'report.publish',
      input: { region: 'zanzibar' },
      dependsOn: ['fetch'],
    },
  ],
};
const ONE_STEP = { rationale: 'fetch', todos: TWO_STEPS.todos.slice(0, 1) };

function tools(): ToolRegistry {
  const registry = new ToolRegistry();
  registry.register(
    defineTool({
      name: 'sales.query',
      description: 'Query revenue',
      domain: 'data',
      input: z.object({ region: z.string() }),
      handler: (input) => ({ region: input.region, revenue: 'QX-4711-MARKER' }),
    }),
  );
  registry.register(
    defineTool({
      name: 'report.publish',
      description: 'Publish a report',
      domain: 'data',
      input: z.object({ region: z.string() }),
      handler: () => {
        throw new Error('the report server refused it');
      },
    }),
  );
  return registry;
}

function models(plan: JsonObject, answer = 'HALF-ANSWER-MARKER') {
  return {
    cognitive: new ScriptedModel({ model: 'cog', turns: [{ json: INTENT }], whenExhausted: 'repeat-last' }),
    planner: new ScriptedModel({ model: 'plan', turns: [{ json: plan }], whenExhausted: 'repeat-last' }),
    responder: new ScriptedModel({ model: 'resp', turns: [{ text: answer }], whenExhausted: 'repeat-last' }),
  };
}

const promptOf = (messages: readonly ChatMessage[] | undefined): string =>
  (messages ?? [])
    .map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content)))
    .join('\n');

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function setup(): {
  store: MemoryVectorStore;
  memory: ContextMemory;
  entries: (count: number) => Promise<Record<string, VectorMatch>>;
} {
  const store = new MemoryVectorStore();
  const memory = new ContextMemory({ embedder: new HashingEmbedder({ dimensions: 256 }), store });
  const ns = { namespace: memory.namespaceOf('acme') };
  return {
    store,
    memory,
    // Waits for exactly `count` memories of tenant acme, then returns them by kind/todo id.
    entries: async (count) => {
      await until(async () => (await store.describe(ns)).count === count, `${count} memories`);
      const all = await store.query(new Array<number>(256).fill(1), 50, undefined, ns);
      return Object.fromEntries(
        all.map((m) => [m.metadata?.['kind'] === 'todo' ? String(m.metadata['todoId']) : 'turn', m]),
      );
    },
  };
}

const everything = (byKey: Record<string, VectorMatch>): string => JSON.stringify(Object.values(byKey));

describe('memory of turns that did not complete', () => {
  it('a failed turn: its request marked failed, and the todo that completed before the failure', async () => {
    const { memory, entries } = setup();
    const m = models(TWO_STEPS);
    const agent = new Agent({
      tools: tools(),
      models: m,
      memory,
      hitl: { planReview: 'never' },
      failurePolicy: 'fail-turn',
    });
    const result = await agent
      .run('zanzibar widget revenue, then publish it', { sessionId: 'f1', tenantId: 'acme' })
      .result();
    expect(result.status).toBe('failed');
    const byKey = await entries(2);
    expect(byKey['turn']?.metadata).toMatchObject({
      kind: 'turn',
      sessionId: 'f1',
      tenantId: 'acme',
      outcome: 'failed',
      text: 'zanzibar widget revenue, then publish it',
    });
    expect(String(byKey['turn']?.metadata?.['summary'])).toMatch(/^\(not answered: the turn failed/);
    expect(byKey['fetch']?.metadata).toMatchObject({ kind: 'todo', outcome: 'failed', todoId: 'fetch' });
    expect(String(byKey['fetch']?.metadata?.['summary'])).toContain('QX-4711-MARKER');
    // The failed todo is not remembered, and no answer was written.
    expect(byKey['publish']).toBeUndefined();
    expect(everything(byKey)).not.toContain('HALF-ANSWER-MARKER');

    // The next turn knows what happened: the request was not answered, the revenue was fetched.
    const next = await agent.run('zanzibar widget revenue report', { sessionId: 'f1' }).result();
    expect(next.status).toBe('failed');
    const plannerPrompt = promptOf(m.planner.requests[1]?.messages);
    expect(plannerPrompt).toContain('relevant memory');
    expect(plannerPrompt).toContain('(not answered: the turn failed');
    expect(plannerPrompt).toContain('QX-4711-MARKER');
    await agent.close();
  });

  it('a turn cancelled while its answer streams: marked cancelled with the reason, no partial answer', async () => {
    const { memory, entries } = setup();
    let streaming: (() => void) | undefined;
    const streamed = new Promise<void>((r) => (streaming = r));
    const responder: Responder = {
      respond: (_turn, ctx) => {
        ctx.delta('HALF-ANSWER-MARKER');
        streaming?.();
        return new Promise<string>((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
        });
      },
    };
    const { cognitive, planner } = models(ONE_STEP);
    const agent = new Agent({
      tools: tools(),
      models: { cognitive, planner },
      responder,
      memory,
      hitl: { planReview: 'never' },
    });
    const run = agent.run('zanzibar widget revenue please', { sessionId: 'c1', tenantId: 'acme' });
    await streamed;
    await agent.send('c1', { type: 'cancel', reason: 'changed my mind', actor: 'alice' }).result();
    expect((await run.result()).status).toBe('cancelled');
    const byKey = await entries(2);
    expect(byKey['turn']?.metadata).toMatchObject({ outcome: 'cancelled', errorCode: 'ABORTED' });
    expect(byKey['turn']?.metadata?.['summary']).toBe('(not answered: cancelled by alice — changed my mind)');
    expect(byKey['fetch']?.metadata).toMatchObject({ outcome: 'cancelled' });
    expect(String(byKey['fetch']?.metadata?.['summary'])).toContain('QX-4711-MARKER');
    expect(everything(byKey)).not.toContain('HALF-ANSWER-MARKER');
    await agent.close();
  });

  it('a turn cancelled before any todo ran leaves only its request, marked cancelled', async () => {
    const { memory, entries } = setup();
    const agent = new Agent({
      tools: tools(),
      models: models(ONE_STEP),
      memory,
      hitl: { planReview: 'always' },
    });
    const waiting = await agent
      .run('zanzibar widget revenue please', { sessionId: 'c2', tenantId: 'acme' })
      .result();
    expect(waiting.status).toBe('waiting');
    const cancelled = await agent.send('c2', { type: 'cancel', actor: 'bob' }).result();
    expect(cancelled.status).toBe('cancelled');
    const byKey = await entries(1);
    expect(Object.keys(byKey)).toEqual(['turn']);
    expect(byKey['turn']?.metadata).toMatchObject({ outcome: 'cancelled', sessionId: 'c2' });
    expect(String(byKey['turn']?.metadata?.['summary'])).toMatch(/^\(not answered: cancelled by bob/);
    await agent.close();
  });

  it('a completed turn whose answer failed is marked as not answered; a completed one keeps its answer', async () => {
    const { memory, entries } = setup();
    const failing: Responder = { respond: () => Promise.reject(new Error('model overloaded')) };
    const { cognitive, planner } = models(ONE_STEP);
    const agent = new Agent({
      tools: tools(),
      models: { cognitive, planner },
      responder: failing,
      memory,
      hitl: { planReview: 'never' },
    });
    const r = await agent
      .run('zanzibar widget revenue please', { sessionId: 'a1', tenantId: 'acme' })
      .result();
    expect(r.status).toBe('completed');
    expect(r.answerError).toBeDefined();
    const byKey = await entries(2);
    expect(byKey['turn']?.metadata).toMatchObject({ outcome: 'completed' });
    expect(String(byKey['turn']?.metadata?.['summary'])).toMatch(/^\(not answered: the answer failed — /);
    expect(String(byKey['fetch']?.metadata?.['summary'])).toContain('QX-4711-MARKER');

    const ok = new Agent({
      tools: tools(),
      models: models(ONE_STEP, 'It is QX-4711.'),
      memory,
      hitl: { planReview: 'never' },
    });
    await ok.run('zanzibar widget revenue please', { sessionId: 'a2', tenantId: 'acme' }).result();
    await entries(4);
    const a2 = (await memory.context('zanzibar widget revenue', { sessionId: 'a2', tenantId: 'acme' })).items;
    const turnA2 = a2.find((i) => i.kind === 'turn');
    expect(turnA2?.summary).toBe('It is QX-4711.');
    expect((turnA2?.metadata as JsonObject | undefined)?.['outcome']).toBe('completed');
    await agent.close();
    await ok.close();
  });
});
