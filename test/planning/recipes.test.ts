import { describe, expect, it } from 'vitest';
import { isDreamAgentError, type PlanningContext, type ToolCatalog, type ToolHandle } from 'dream-agent';
import { parseRecipes, RecipePlanner, slotLabel } from '../../src/planning/recipes.js';

const tool = (name: string, domain: string): ToolHandle =>
  ({
    name,
    domain,
    version: '1',
    description: name,
    tags: [],
    approval: { required: false },
    idempotent: true,
    inputSchema: {},
  }) as unknown as ToolHandle;
const catalog: ToolCatalog = {
  get: (n) => ({ q: tool('q', 'data'), mail: tool('mail', 'ops') })[n],
  list: () => [],
};
const ctx = {
  tools: catalog,
  domains: ['data', 'ops'],
  input: 'x',
  history: [],
} as unknown as PlanningContext;

const yaml = `
resources: { ops: 1 }
recipes:
  - intent: report
    rationale: because
    todos:
      - id: fetch
        title: Fetch {period} for {region}
        tool: q
        input: { period: { $slot: period }, region: { $slot: region, default: null }, note: "about {period}" }
      - id: send
        tool: mail
        when: recipient
        dependsOn: [fetch]
        input: { to: { $slot: recipient }, rows: { $ref: fetch, path: rows } }
`;

describe('RecipePlanner', () => {
  const planner = new RecipePlanner(parseRecipes(yaml, 'recipes.yaml'));

  it('binds slots into inputs and titles, takes the domain from the tool and the resource from the domain', async () => {
    const plan = await planner.plan(
      {
        name: 'report',
        confidence: 1,
        entities: [],
        slots: { period: { from: '2026-07-01', to: '2026-09-30', label: 'Q3 2026' }, recipient: 'a@b.co' },
        missingSlots: [],
      },
      ctx,
    );
    expect(plan.rationale).toBe('because');
    expect(plan.todos).toEqual([
      {
        id: 'fetch',
        title: 'Fetch Q3 2026 for region',
        domain: 'data',
        resource: 'data',
        tool: 'q',
        dependsOn: [],
        input: {
          period: { from: '2026-07-01', to: '2026-09-30', label: 'Q3 2026' },
          region: null,
          note: 'about Q3 2026',
        },
      },
      {
        id: 'send',
        title: 'mail',
        domain: 'ops',
        resource: 'ops',
        tool: 'mail',
        dependsOn: ['fetch'],
        input: { to: 'a@b.co', rows: { $ref: 'fetch', path: 'rows' } },
      },
    ]);
    expect(planner.resources).toEqual({ ops: 1 });
  });

  it('drops todos whose `when` slot is absent', async () => {
    const plan = await planner.plan(
      { name: 'report', confidence: 1, entities: [], slots: { period: 'x' }, missingSlots: [] },
      ctx,
    );
    expect(plan.todos.map((t) => t.id)).toEqual(['fetch']);
  });

  it('a missing slot without default is a typed INVALID_PLAN error', async () => {
    const err = await planner
      .plan({ name: 'report', confidence: 1, entities: [], slots: {}, missingSlots: [] }, ctx)
      .catch((e: unknown) => e);
    expect(isDreamAgentError(err, 'INVALID_PLAN')).toBe(true);
    expect((err as Error).message).toBe(
      'slot "period" needed by fetch.input.period is missing and has no default',
    );
  });

  it('no recipe → an empty plan with a rationale (or an error when asked)', async () => {
    expect(
      await planner.plan({ name: 'other', confidence: 1, entities: [], slots: {}, missingSlots: [] }, ctx),
    ).toEqual({ todos: [], rationale: 'No recipe for "other".' });
    const strict = new RecipePlanner(parseRecipes(yaml), { fallback: 'error' });
    await expect(
      strict.plan({ name: 'other', confidence: 1, entities: [], slots: {}, missingSlots: [] }, ctx),
    ).rejects.toMatchObject({ code: 'INVALID_PLAN' });
  });

  it('broken recipe files name the file, line, column and key path', () => {
    expect(() =>
      parseRecipes('recipes:\n  - intent: a\n    todos:\n      - id: x\n        colour: red\n', 'r.yaml'),
    ).toThrow(/^r\.yaml:5:9: recipes\.0\.todos\.0\.colour: Unrecognized key: "colour"$/);
    expect(() => parseRecipes('recipes: [\n', 'r.yaml')).toThrow(/^r\.yaml:\d+:\d+: /);
    expect(() =>
      parseRecipes('recipes:\n  - { intent: a, todos: [] }\n  - { intent: a, todos: [] }\n', 'r.yaml'),
    ).toThrow('r.yaml: two recipes for intent "a"');
  });

  it('slotLabel renders periods, lists and scalars', () => {
    expect(slotLabel({ from: '2026-01-01', to: '2026-01-31' })).toBe('2026-01-01 – 2026-01-31');
    expect(slotLabel(['EMEA', 'APAC'])).toBe('EMEA, APAC');
    expect(slotLabel(3)).toBe('3');
    expect(slotLabel(null)).toBe('');
  });
});
