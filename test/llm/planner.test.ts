import { describe, expect, it } from 'vitest';
import { isDreamAgentError, type DreamAgentError } from '../../src/errors/index.js';
import { LlmPlanner, rankToolsLexically } from '../../src/llm/planner.js';
import type { Intent } from '../../src/model/intent.js';
import { ScriptedModel } from '../../src/testing/scripted-model.js';
import { catalog, planningContext, salesTools, tool } from './fixtures.js';

const intent: Intent = {
  name: 'sales.report',
  confidence: 0.9,
  entities: [],
  slots: { period: '2026-Q3' },
  missingSlots: [],
};

const goodPlan = {
  rationale: 'fetch, analyse, write, send',
  todos: [
    {
      id: 'fetch',
      title: 'Fetch Q3 sales',
      tool: 'sales.query',
      input: { period: '2026-Q3' },
      dependsOn: [],
    },
    {
      id: 'analyse',
      title: 'Analyse by region',
      domain: 'insight',
      input: { rows: { $ref: 'fetch', path: 'rows' } },
      dependsOn: ['fetch'],
    },
    {
      id: 'report',
      title: 'Render the report',
      tool: 'report.render',
      input: { rows: { $ref: 'fetch', path: 'rows' }, title: 'Q3' },
      dependsOn: ['fetch', 'analyse'],
    },
    {
      id: 'send',
      title: 'Email the team',
      tool: 'email.send',
      input: { to: ['team@example.com'], body: { $ref: 'analyse', path: 'text' } },
      dependsOn: ['analyse', 'report'],
    },
  ],
};

describe('LlmPlanner', () => {
  it('returns a validated plan: domains from tools, defaults applied, references kept as structured values', async () => {
    const model = new ScriptedModel({ turns: [{ json: goodPlan }] });
    const draft = await new LlmPlanner({ model }).plan(intent, planningContext());
    expect(draft.rationale).toBe('fetch, analyse, write, send');
    expect(draft.todos.map((t) => [t.id, t.domain, t.tool ?? null])).toEqual([
      ['fetch', 'data', 'sales.query'],
      ['analyse', 'insight', null],
      ['report', 'content', 'report.render'],
      ['send', 'ops', 'email.send'],
    ]);
    expect(draft.todos[3]?.input).toEqual({
      to: ['team@example.com'],
      body: { $ref: 'analyse', path: 'text' },
    });
    expect(draft.todos.every((t) => t.approval === undefined)).toBe(true);
    expect(model.requests[0]?.layer).toBe('planner');
  });

  it('lists the tools with schemas and approval notes, and the intent, in the prompt', async () => {
    const model = new ScriptedModel({ turns: [{ json: goodPlan }] });
    await new LlmPlanner({ model }).plan(intent, planningContext());
    const system = model.requests[0]?.messages[0]?.content ?? '';
    expect(system).toContain('- sales.query [domain: data]: Query sales rows');
    expect(system).toContain('"required":["period"]');
    expect(system).toContain('- email.send [domain: ops] [a human approves it before it runs]');
    expect(system).toContain('insight, content');
    const user = model.requests[0]?.messages[1]?.content ?? '';
    expect(user).toContain('"period": "2026-Q3"');
  });

  it('repairs an invalid plan once with the exact issues, and returns the repaired plan', async () => {
    const bad = {
      todos: [
        { id: 'fetch', title: 'Fetch', tool: 'sales.fetch', input: { period: 'Q3' }, dependsOn: [] },
        { id: 'mail', title: 'Mail', tool: 'email.send', input: { to: ['a@b.c'] }, dependsOn: ['fetch'] },
      ],
    };
    const model = new ScriptedModel({ turns: [{ json: bad }, { json: goodPlan }] });
    const draft = await new LlmPlanner({ model }).plan(intent, planningContext());
    expect(draft.todos).toHaveLength(4);
    const repair = model.requests[1]?.messages.at(-1)?.content ?? '';
    expect(repair).toContain('The plan is invalid and was not executed');
    expect(repair).toContain('todo "fetch" uses unknown tool "sales.fetch"');
    expect(repair).toContain('todo "mail" has invalid input');
    expect(repair).toContain('body');
  });

  it('refuses a plan that stays invalid with INVALID_PLAN, keeping issues and raw output', async () => {
    const cyclic = {
      todos: [
        { id: 'a', title: 'A', tool: 'sales.query', input: { period: 'Q3' }, dependsOn: ['b'] },
        { id: 'b', title: 'B', domain: 'insight', input: {}, dependsOn: ['a'] },
      ],
    };
    const model = new ScriptedModel({ turns: [{ json: cyclic }, { json: cyclic }] });
    try {
      await new LlmPlanner({ model }).plan(intent, planningContext());
      expect.unreachable();
    } catch (e) {
      expect(isDreamAgentError(e, 'INVALID_PLAN')).toBe(true);
      const err = e as DreamAgentError;
      expect(err.retryable).toBe(false);
      expect(err.details['issues']).toEqual([
        expect.objectContaining({ code: 'cycle', path: ['a', 'b', 'a'] }),
      ]);
      expect(err.details['raw']).toBe(JSON.stringify(cyclic));
      expect(err.details['attempts']).toBe(2);
    }
    expect(model.calls).toBe(2);
  });

  it('maxRepairs: 0 refuses without a second call', async () => {
    const model = new ScriptedModel({ turns: [{ json: { todos: [] } }] });
    await expect(
      new LlmPlanner({ model, maxRepairs: 0 }).plan(intent, planningContext()),
    ).rejects.toMatchObject({
      code: 'INVALID_PLAN',
    });
    expect(model.calls).toBe(1);
  });

  it('validates inputs against tool schemas but leaves $ref fields to run time', async () => {
    const plan = {
      todos: [
        { id: 'fetch', title: 'Fetch', tool: 'sales.query', input: { period: 'Q3' }, dependsOn: [] },
        // "rows" is required by report.render and comes from a reference: not an issue now.
        {
          id: 'render',
          title: 'Render',
          tool: 'report.render',
          input: { rows: { $ref: 'fetch' } },
          dependsOn: ['fetch'],
        },
      ],
    };
    const model = new ScriptedModel({ turns: [{ json: plan }] });
    const draft = await new LlmPlanner({ model }).plan(intent, planningContext());
    expect(draft.todos).toHaveLength(2);
  });

  it('never lowers approval, and drops safety fields the model may not set', async () => {
    const plan = {
      todos: [
        {
          id: 'send',
          title: 'Send',
          tool: 'email.send',
          input: { to: ['x@y.z'], body: 'hi' },
          dependsOn: [],
          approval: false,
          idempotent: true,
          timeoutMs: 1,
          resource: 'none',
          metadata: { skipApproval: true },
        },
        {
          id: 'q',
          title: 'Query',
          tool: 'sales.query',
          input: { period: 'Q3' },
          dependsOn: [],
          approval: { required: true, reason: 'model asked' },
        },
        {
          id: 'r',
          title: 'Report',
          domain: 'content',
          input: {},
          dependsOn: [],
          approval: { required: false },
        },
      ],
    };
    const model = new ScriptedModel({ turns: [{ json: plan }] });
    const draft = await new LlmPlanner({ model }).plan(intent, planningContext());
    const [send, q, r] = draft.todos;
    expect(send).toEqual({
      id: 'send',
      title: 'Send',
      domain: 'ops',
      tool: 'email.send',
      input: { to: ['x@y.z'], body: 'hi' },
      dependsOn: [],
    });
    expect(q?.approval).toBe(true);
    expect(r?.approval).toBeUndefined();
  });

  it('forces the tool domain over a model-chosen one', async () => {
    const plan = {
      todos: [
        {
          id: 'send',
          title: 'Send',
          tool: 'email.send',
          domain: 'insight',
          input: { to: ['a'], body: 'b' },
          dependsOn: [],
        },
      ],
    };
    const model = new ScriptedModel({ turns: [{ json: plan }] });
    const draft = await new LlmPlanner({ model }).plan(intent, planningContext());
    expect(draft.todos[0]?.domain).toBe('ops');
  });

  it('only the top-k relevant tools go into the prompt when there are many', async () => {
    const many = [
      ...salesTools(),
      ...Array.from({ length: 40 }, (_, i) =>
        tool(`hr.tool${i}`, { description: `Human resources helper number ${i} for payroll and leave` }),
      ),
    ];
    const model = new ScriptedModel({ turns: [{ json: goodPlan }] });
    await new LlmPlanner({ model, maxTools: 5 }).plan(intent, planningContext({ tools: catalog(many) }));
    const system = model.requests[0]?.messages[0]?.content ?? '';
    const listed = system.split('\n').filter((l) => l.startsWith('- ') && l.includes('[domain:'));
    expect(listed).toHaveLength(5);
    expect(system).toContain('- sales.query');
    expect(system).toContain('- email.send');
    expect(system).toContain('- report.render');
  });

  it('uses the given tool search (e.g. the registry search) and may plan with any registered tool', async () => {
    const calls: [string, number][] = [];
    const model = new ScriptedModel({ turns: [{ json: goodPlan }] });
    const tools = [...salesTools(), tool('x.one'), tool('x.two')];
    await new LlmPlanner({
      model,
      maxTools: 2,
      searchTools: (query, k, all) => {
        calls.push([query, k]);
        return [all.get('x.one') as ReturnType<typeof tool>];
      },
    }).plan(intent, planningContext({ tools: catalog(tools) }));
    expect(calls[0]?.[1]).toBe(2);
    expect(calls[0]?.[0]).toContain('sales.report');
    const system = model.requests[0]?.messages[0]?.content ?? '';
    expect(system).toContain('- x.one');
    expect(system).not.toContain('- sales.query');
  });

  it('rejects bad options with messages naming the value', () => {
    expect(() => new LlmPlanner({ model: new ScriptedModel(), maxTools: 0 })).toThrow(/maxTools.*0/);
    expect(() => new LlmPlanner({ model: new ScriptedModel(), maxTodos: 2.5 })).toThrow(/maxTodos.*2\.5/);
  });
});

describe('rankToolsLexically', () => {
  it('ranks by query words in name, tags and description; ties keep registry order', () => {
    const tools = catalog([
      tool('hr.leave', { description: 'Book leave' }),
      tool('sales.query', { description: 'Query sales rows', tags: ['revenue'] }),
      tool('crm.lookup', { description: 'Look up a customer', tags: ['sales'] }),
      tool('misc.noop', { description: 'Does nothing' }),
    ]);
    expect(rankToolsLexically('revenue of sales last quarter', 2, tools).map((t) => t.name)).toEqual([
      'sales.query',
      'crm.lookup',
    ]);
    expect(rankToolsLexically('xyz qqq', 2, tools).map((t) => t.name)).toEqual(['hr.leave', 'sales.query']);
  });
});
