/**
 * The agent's LLM wiring: per-layer models, the retry policy on by default, tool todos of the writer's
 * domains still running their tools, and a 2 MB tool output budgeted before it reaches the writer.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  Agent,
  DreamAgentError,
  LlmExecutor,
  ToolRegistry,
  defineTool,
  estimateTokens,
  type Json,
} from 'dream-agent';
import { ScriptedModel } from 'dream-agent/testing';

const BIG_ROWS = Array.from({ length: 20_000 }, (_, i) => ({
  id: i,
  region: `region-${i % 7}`,
  amount: i * 13.5,
  note: 'n'.repeat(60),
}));

function registry(charts: Json[]): ToolRegistry {
  const tools = new ToolRegistry();
  tools.register(
    defineTool({
      name: 'sales.query',
      description: 'Query sales rows',
      domain: 'data',
      input: z.object({ period: z.string() }),
      handler: () => ({ rows: BIG_ROWS }),
    }),
  );
  tools.register(
    defineTool({
      name: 'chart.make',
      description: 'Draws a chart',
      domain: 'insight',
      input: z.object({ kind: z.string() }),
      handler: (input) => {
        charts.push(input);
        return { chart: `${input.kind}.png` };
      },
    }),
  );
  return tools;
}

const INTENT = {
  intent: 'sales.report',
  confidence: 0.9,
  entities: [],
  slots: {},
  missingSlots: [],
  clarification: null,
};
const PLAN = {
  rationale: 'fetch, chart, analyse',
  todos: [
    { id: 'fetch', title: 'Fetch sales', tool: 'sales.query', input: { period: 'Q3' }, dependsOn: [] },
    {
      id: 'chart',
      title: 'Chart it',
      tool: 'chart.make',
      domain: 'insight',
      input: { kind: 'bar' },
      dependsOn: [],
    },
    {
      id: 'analyse',
      title: 'Analyse by region',
      domain: 'insight',
      input: { rows: { $ref: 'fetch', path: 'rows' } },
      dependsOn: ['fetch'],
    },
  ],
};

describe('Agent LLM defaults', () => {
  it('per-layer models: each layer talks to its own model; insight tool todos run their tool; the 2 MB output is budgeted for the writer', async () => {
    const charts: Json[] = [];
    const cognitive = new ScriptedModel({ model: 'cog', turns: [{ json: INTENT }] });
    const planner = new ScriptedModel({ model: 'plan', turns: [{ json: PLAN }] });
    const writer = new ScriptedModel({ model: 'write', turns: [{ text: 'Region 3 leads.' }] });
    // The responder first summarises the oversized fetch result, then answers.
    const responder = new ScriptedModel({
      model: 'resp',
      turns: [{ text: '20 000 rows, 7 regions.' }, { text: 'Done: region 3 leads.' }],
    });
    const agent = new Agent({
      tools: registry(charts),
      models: { cognitive, planner, executor: writer, responder },
      hitl: { planReview: 'never' },
    });
    const result = await agent.run('analyse Q3 sales').result();
    expect(result, JSON.stringify(result).slice(0, 2000)).toMatchObject({ status: 'completed' });
    expect(charts).toEqual([{ kind: 'bar' }]);
    expect(cognitive.requests.map((r) => r.layer)).toEqual(['cognitive']);
    expect(planner.requests.map((r) => r.layer)).toEqual(['planner']);
    expect(writer.requests.map((r) => r.layer)).toEqual(['executor']);
    expect(responder.requests.every((r) => r.layer === 'responder')).toBe(true);
    const prompt = (writer.requests[0]?.messages ?? []).map((m) => m.content).join('\n');
    expect(JSON.stringify(BIG_ROWS).length).toBeGreaterThan(2_000_000);
    expect(estimateTokens(prompt)).toBeLessThan(7_000);
    expect(prompt.length).toBeLessThan(60_000);
    expect(prompt).toMatch(/…\[truncated: about \d+ of \d+ tokens shown\]/);
    expect(prompt).toContain('more items)');
  });

  it('`llm` alone backs every layer; a per-layer model overrides one', async () => {
    const base = new ScriptedModel({
      model: 'base',
      turns: [{ json: INTENT }, { text: 'Region 3 leads.' }, { text: 'Summary.' }, { text: 'Answer.' }],
    });
    const planner = new ScriptedModel({ model: 'plan', turns: [{ json: PLAN }] });
    const agent = new Agent({
      tools: registry([]),
      llm: base,
      models: { planner },
      hitl: { planReview: 'never' },
    });
    expect((await agent.run('analyse Q3 sales').result()).status).toBe('completed');
    expect(base.requests.map((r) => r.layer)).toEqual(['cognitive', 'executor', 'responder', 'responder']);
    expect(planner.requests.map((r) => r.layer)).toEqual(['planner']);
  });

  it('the documented wiring `executors: { insight: writer, content: writer }` keeps insight tools working', async () => {
    const charts: Json[] = [];
    const model = new ScriptedModel({
      turns: [
        { json: INTENT },
        { json: PLAN },
        { text: 'Region 3 leads.' },
        { text: 'Summary.' },
        { text: 'Answer.' },
      ],
    });
    const writer = new LlmExecutor({ model });
    const agent = new Agent({
      tools: registry(charts),
      llm: model,
      executors: { insight: writer, content: writer },
      hitl: { planReview: 'never' },
    });
    const result = await agent.run('analyse Q3 sales').result();
    expect(result.status).toBe('completed');
    expect(charts).toEqual([{ kind: 'bar' }]);
  });

  it('the default models retry a rate limit: one 429 no longer fails the turn', async () => {
    const model = new ScriptedModel({
      turns: [
        {
          error: new DreamAgentError('RATE_LIMITED', 'slow down', {
            retryable: true,
            details: { retryAfterMs: 5 },
          }),
        },
        { json: INTENT },
        {
          json: {
            rationale: 'none needed',
            todos: [{ id: 'a', title: 'Think', domain: 'insight', input: {}, dependsOn: [] }],
          },
        },
        { text: 'Thought.' },
        { text: 'Answer.' },
      ],
    });
    const agent = new Agent({ llm: model, hitl: { planReview: 'never' } });
    const result = await agent.run('think').result();
    expect(result.status).toBe('completed');
    expect(model.calls).toBe(5);
  });
});
