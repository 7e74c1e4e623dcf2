import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Json, ResponseContext, TodoRecord, TurnSummary } from 'dream-agent';
import {
  SummaryResponder,
  renderTable,
  summariseOutput,
  summariseRows,
  collectArtefacts,
} from '../../src/response/summary.js';

const rec = (todoId: string, extra: Partial<TodoRecord>): TodoRecord => ({
  sessionId: 's',
  turnId: 't',
  todoId,
  status: 'completed',
  attempts: 1,
  idempotencyKey: 'k',
  ...extra,
});
const ctx = (deltas: string[]): ResponseContext =>
  ({ delta: (d: string) => deltas.push(d) }) as unknown as ResponseContext;

describe('SummaryResponder', () => {
  it('says what was done with key figures, what was skipped or failed and why, and lists artefacts', async () => {
    const turn: TurnSummary = {
      input: 'analyse',
      plan: {
        id: 'p',
        version: 1,
        todos: [
          { id: 'q', title: 'Query', domain: 'data', input: {}, dependsOn: [] },
          { id: 'r', title: 'Report', domain: 'content', input: {}, dependsOn: [] },
          { id: 'm', title: 'Mail', domain: 'ops', input: {}, dependsOn: [] },
          { id: 'x', title: 'Broken', domain: 'ops', input: {}, dependsOn: [] },
        ],
      },
      todos: [
        rec('q', {
          output: {
            totalRevenue: 1234567.891,
            rows: [
              { region: 'EMEA', revenue: 10 },
              { region: 'APAC', revenue: 5 },
            ],
          },
        }),
        rec('r', { output: { path: '/tmp/out/report.md', summary: 'report written' }, cached: true }),
        rec('m', { status: 'skipped', skipReason: 'denied', reason: 'not today' }),
        rec('x', {
          status: 'failed',
          error: { code: 'TOOL_FAILED', message: 'smtp down', retryable: true, details: {} },
        }),
      ],
    };
    const deltas: string[] = [];
    const text = await new SummaryResponder().respond(turn, ctx(deltas));
    expect(deltas.join('')).toBe(text);
    expect(text).toContain('Done: 2 of 4 steps completed, 1 failed, 1 skipped.');
    expect(text).toContain('totalRevenue: 1,234,568');
    expect(text).toContain('| EMEA | 10 |');
    expect(text).toContain('Totals: revenue 15');
    expect(text).toContain('✓ Report (from cache)');
    expect(text).toContain('○ Mail was not run: denied (not today).');
    expect(text).toContain('✗ Broken failed: smtp down');
    expect(text).toContain('  - /tmp/out/report.md');
  });

  it('summarises large tables within the budget: top rows, a count of the rest, totals', () => {
    const rows = Array.from({ length: 1000 }, (_, i) => ({ id: i, name: `row ${i}`, amount: i }));
    const text = summariseRows(rows, 3, 10_000);
    expect(text.split('\n')).toHaveLength(2 + 3 + 2);
    expect(text).toContain('… 997 more rows (1000 in all)');
    expect(text).toContain('Totals: amount 499,500');
    expect(text).not.toContain('id 499,500'); // id columns are not totals
  });

  it('never exceeds its budget, whatever the output (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.jsonValue(), { maxLength: 6 }),
        fc.integer({ min: 200, max: 3000 }),
        async (outputs, budget) => {
          const todos = outputs.map((o, i) => rec(`t${i}`, { output: o as Json }));
          const text = await new SummaryResponder({ budget }).respond(
            { input: 'x', plan: null, todos },
            ctx([]),
          );
          expect(text.length).toBeLessThanOrEqual(budget);
          for (const o of outputs) expect(summariseOutput(o as Json, 150).length).toBeLessThanOrEqual(150);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('finds artefact paths nested in outputs', () => {
    expect(
      collectArtefacts({ a: { path: '/x/report.md' }, list: [{ url: 'https://e/x' }], note: 'path' }),
    ).toEqual(['/x/report.md', 'https://e/x']);
  });
});

describe('SummaryResponder: natural language first', () => {
  const plan = {
    id: 'p',
    version: 1,
    todos: [
      { id: 'q', title: 'Query', domain: 'data', input: {}, dependsOn: [] },
      { id: 'r', title: 'Report', domain: 'content', input: {}, dependsOn: ['q'] },
      { id: 'm', title: 'Mail', domain: 'ops', input: {}, dependsOn: ['r'] },
    ],
  };
  const rows = [
    { region: 'North America', revenue: 4_629_745, sharePct: 36.15 },
    { region: 'EMEA', revenue: 3_561_499, sharePct: 27.81 },
    { region: 'APAC | Japan', revenue: 3_111_782, sharePct: 24.3 },
  ];
  const narrative = 'Q3 2026 revenue was 12.81 M, up 6.6% on Q2 2026. North America led with 36.1%.';

  it('answers with the sentences, then what was not done and why, then the whole table, then files', async () => {
    const text = await new SummaryResponder().respond(
      {
        input: 'q3',
        plan,
        todos: [
          rec('q', { output: { narrative, rows } }),
          rec('r', { output: { path: '/tmp/r.md', narrative } }),
          rec('m', { status: 'skipped', skipReason: 'denied', reason: 'not today' }),
        ],
      },
      ctx([]),
    );
    expect(text.startsWith(narrative)).toBe(true);
    expect(text.split(narrative)).toHaveLength(2); // said once, though two steps carry it
    expect(text).toContain('2 of 3 steps completed, 1 not run:\n○ Mail was not run: denied (not today).');
    expect(text).toContain('| region | revenue | share (%) |');
    expect(text).toContain('| APAC \\| Japan | 3,111,782 | 24.3 |');
    expect(text.indexOf('| region')).toBeLessThan(text.indexOf('Files:'));
    expect(text).not.toContain('Done:');
  });

  it('a declined request is answered with its reason', async () => {
    const text = await new SummaryResponder().respond(
      {
        input: 'margin',
        plan: { id: 'p', version: 1, todos: [], rationale: "I can't do this as asked: no costs." },
        todos: [],
      },
      ctx([]),
    );
    expect(text).toBe("I can't do this as asked: no costs.");
  });

  it('never cuts a table mid-cell: every line is a whole row or the count of the rows left (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ name: fc.string({ maxLength: 30 }), value: fc.double({ noNaN: true }) }), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.integer({ min: 40, max: 2000 }),
        (data, budget) => {
          const table = renderTable(data, budget);
          expect(table.length).toBeLessThanOrEqual(budget);
          if (table === '') return;
          const lines = table.split('\n');
          const body = lines.slice(2);
          for (const line of body)
            expect(line.startsWith('| ') || /^… \d+ more rows? \(\d+ in all\)$/.test(line)).toBe(true);
          const shown = body.filter((l) => l.startsWith('| ')).length;
          const more = body.find((l) => l.startsWith('…'));
          expect(shown + (more ? Number(/… (\d+)/.exec(more)?.[1]) : 0)).toBe(data.length);
        },
      ),
      { numRuns: 200 },
    );
  });
});
