/**
 * The agent's use of vector memory, through the public API: a finished turn is remembered with its
 * session and tenant, and so is each completed todo's result; the next turn's cognitive, planner and
 * responder prompts carry the session's relevant memory (budgeted) and never another tenant's;
 * `deleteSession` erases the session's vectors; a failing memory never fails a turn.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  Agent,
  MemoryVectorStore,
  ToolRegistry,
  defineTool,
  type ChatMessage,
  type VectorStore,
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
const PLAN = {
  rationale: 'fetch the figures',
  todos: [
    {
      id: 'fetch',
      title: 'Fetch zanzibar widget revenue',
      tool: 'sales.query',
      input: { region: 'zanzibar' },
      dependsOn: [],
    },
  ],
};

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
  return registry;
}

/** One scripted model per layer, each answering every call the same way. */
function models(answer: string): {
  cognitive: ScriptedModel;
  planner: ScriptedModel;
  responder: ScriptedModel;
} {
  return {
    cognitive: new ScriptedModel({ model: 'cog', turns: [{ json: INTENT }], whenExhausted: 'repeat-last' }),
    planner: new ScriptedModel({ model: 'plan', turns: [{ json: PLAN }], whenExhausted: 'repeat-last' }),
    responder: new ScriptedModel({ model: 'resp', turns: [{ text: answer }], whenExhausted: 'repeat-last' }),
  };
}

const promptOf = (messages: readonly ChatMessage[] | undefined): string =>
  (messages ?? [])
    .map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content)))
    .join('\n');

/** Waits (bounded) until `check` holds: memory is written after the turn's commit. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function setup(store: VectorStore = new MemoryVectorStore()): {
  store: VectorStore;
  memory: ContextMemory;
} {
  return { store, memory: new ContextMemory({ embedder: new HashingEmbedder({ dimensions: 256 }), store }) };
}

describe('agent memory', () => {
  it('remembers the turn and its todo results under the session and tenant; the next turn’s prompts recall them', async () => {
    const { store, memory } = setup();
    const m = models('Zanzibar widget revenue is QX-4711-MARKER.');
    const agent = new Agent({ tools: tools(), models: m, memory, hitl: { planReview: 'never' } });
    const first = await agent
      .run('zanzibar widget revenue please', { sessionId: 's1', tenantId: 'acme' })
      .result();
    expect(first.status).toBe('completed');

    const ns = { namespace: memory.namespaceOf('acme') };
    await until(
      async () => (await store.describe!(ns)).count === 2,
      'the turn and its todo to be remembered',
    );
    const all = await store.query(new Array<number>(256).fill(1), 10, undefined, ns);
    const byKind = Object.fromEntries(all.map((x) => [x.metadata?.['kind'], x]));
    expect(byKind['turn']?.metadata).toMatchObject({
      sessionId: 's1',
      tenantId: 'acme',
      intent: 'sales.report',
      text: 'zanzibar widget revenue please',
    });
    expect(byKind['todo']?.metadata).toMatchObject({
      sessionId: 's1',
      tenantId: 'acme',
      todoId: 'fetch',
      tool: 'sales.query',
      text: 'Fetch zanzibar widget revenue',
    });
    expect(byKind['todo']?.metadata?.['summary']).toContain('QX-4711-MARKER');
    // Nothing went to the tenant-less namespace.
    expect((await store.describe!({ namespace: memory.namespaceOf(undefined) })).count).toBe(0);

    const second = await agent.run('zanzibar widget revenue again', { sessionId: 's1' }).result();
    expect(second.status).toBe('completed');
    const cognitivePrompt = promptOf(m.cognitive.requests[1]?.messages);
    const plannerPrompt = promptOf(m.planner.requests[1]?.messages);
    const responderPrompt = promptOf(m.responder.requests[1]?.messages);
    for (const prompt of [plannerPrompt, responderPrompt]) {
      expect(prompt).toContain('relevant memory');
      expect(prompt).toContain('[todo] Fetch zanzibar widget revenue');
      expect(prompt).toContain('QX-4711-MARKER');
    }
    expect(cognitivePrompt).toContain('retrieved context');
    expect(cognitivePrompt).toContain('[turn] zanzibar widget revenue please');
    // The first turn had nothing to recall: no memory block at all.
    expect(promptOf(m.planner.requests[0]?.messages)).not.toContain('relevant memory');
    await agent.close();
  });

  it('another tenant’s session (even with the same session id elsewhere) never sees acme’s memory', async () => {
    const { store, memory } = setup();
    const agent = new Agent({
      tools: tools(),
      models: models('ACME-ONLY-ANSWER'),
      memory,
      hitl: { planReview: 'never' },
    });
    await agent.run('zanzibar widget revenue please', { sessionId: 'a1', tenantId: 'acme' }).result();
    await until(
      async () => (await store.describe!({ namespace: memory.namespaceOf('acme') })).count === 2,
      'acme memory',
    );
    const acme = await memory.context('zanzibar widget revenue', { sessionId: 'a1', tenantId: 'acme' });
    expect(acme.text).toContain('ACME-ONLY-ANSWER');
    const other = models('GLOBEX-ANSWER');
    const agent2 = new Agent({ tools: tools(), models: other, memory, hitl: { planReview: 'never' } });
    await agent2.run('zanzibar widget revenue please', { sessionId: 'g1', tenantId: 'globex' }).result();
    await until(
      async () => (await store.describe!({ namespace: memory.namespaceOf('globex') })).count === 2,
      'globex memory',
    );
    await agent2.run('zanzibar widget revenue again', { sessionId: 'g1' }).result();
    // Positive control: globex's second turn recalls globex's first.
    expect(promptOf(other.responder.requests[1]?.messages)).toContain('GLOBEX-ANSWER');
    for (const model of [other.cognitive, other.planner, other.responder]) {
      for (const request of model.requests)
        expect(promptOf(request.messages)).not.toContain('ACME-ONLY-ANSWER');
    }
    const globex = await memory.context('zanzibar widget revenue', { sessionId: 'g1', tenantId: 'globex' });
    expect(globex.items.every((i) => i.metadata['tenantId'] === 'globex')).toBe(true);
    // acme's session id under globex's tenant finds nothing.
    expect(
      (await memory.context('zanzibar widget revenue', { sessionId: 'a1', tenantId: 'globex' })).items,
    ).toEqual([]);
    await agent.close();
    await agent2.close();
  });

  it('the memory block is cut to its budget', async () => {
    const { memory } = setup();
    for (let i = 0; i < 20; i++) {
      await memory.remember({
        id: `old-${i}`,
        text: `zanzibar widget revenue note ${i} ${'x'.repeat(400)}`,
        metadata: { sessionId: 's9' },
      });
    }
    const m = models('ok');
    const agent = new Agent({ tools: tools(), models: m, memory, hitl: { planReview: 'never' } });
    await agent.run('zanzibar widget revenue', { sessionId: 's9' }).result();
    const prompt = promptOf(m.planner.requests[0]?.messages);
    const block = prompt.slice(prompt.indexOf('relevant memory'));
    expect(block).toContain('zanzibar widget revenue note');
    // Default 500 estimated tokens (≈ 2000 characters of memory lines), far below the 8 KB remembered.
    const memoryLines = block.split('\n').filter((l) => l.startsWith('[turn]'));
    expect(memoryLines.join('\n').length).toBeLessThanOrEqual(2000);
    expect(memoryLines.length).toBeLessThan(20);
    await agent.close();
  });

  it('deleteSession erases the session’s vectors (after writes in flight) and leaves other sessions’', async () => {
    const { store, memory } = setup();
    const agent = new Agent({ tools: tools(), models: models('ok'), memory, hitl: { planReview: 'never' } });
    await agent.run('zanzibar widget revenue please', { sessionId: 'd1', tenantId: 'acme' }).result();
    await agent.run('zanzibar widget revenue please', { sessionId: 'd2', tenantId: 'acme' }).result();
    // No wait here: the erasure itself waits for d1's writes still in flight.
    expect(await agent.deleteSession('d1')).toBe(true);
    const ns = { namespace: memory.namespaceOf('acme') };
    await until(async () => (await store.describe!(ns)).count === 2, 'd2 memory');
    const left = await store.query(new Array<number>(256).fill(1), 10, undefined, ns);
    expect(left.map((x) => x.metadata?.['sessionId'])).toEqual(['d2', 'd2']);
    expect(
      (await memory.context('zanzibar widget revenue', { sessionId: 'd1', tenantId: 'acme' })).items,
    ).toEqual([]);
    expect(await agent.deleteSession('d1')).toBe(false);
    await agent.close();
  });

  it('a failing vector store costs the prompts their memory, never the turn', async () => {
    const broken: VectorStore = {
      upsert: () => Promise.reject(new Error('vector store down')),
      query: () => Promise.reject(new Error('vector store down')),
      delete: () => Promise.resolve(),
    };
    const { memory } = setup(broken);
    const m = models('fine');
    const agent = new Agent({ tools: tools(), models: m, memory, hitl: { planReview: 'never' } });
    const result = await agent.run('zanzibar widget revenue', { sessionId: 'f1' }).result();
    expect(result.status).toBe('completed');
    expect(promptOf(m.planner.requests[0]?.messages)).not.toContain('relevant memory');
    // Erasure against a store that cannot delete by filter is refused and the session is kept.
    await expect(agent.deleteSession('f1')).rejects.toMatchObject({ code: 'INVALID_STATE' });
    expect((await agent.getSession('f1')).status).toBe('idle');
    await agent.close();
  });
});
