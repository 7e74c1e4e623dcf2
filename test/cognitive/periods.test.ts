import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { extractEntities } from '../../src/cognitive/offline/entities.js';
import { describePeriod } from '../../src/cognitive/offline/periods.js';
import { correctTypos } from '../../src/cognitive/offline/typos.js';
import { context, quickstart } from './helpers.js';

const TODAY = '2026-12-01';
const NOW = Date.UTC(2026, 11, 1, 10);
const period = (text: string): unknown =>
  extractEntities(correctTypos(text), { now: NOW }).find((e) => e.type === 'period')?.value;

describe('describePeriod: calendar units, cut at today, compared with the previous calendar period', () => {
  it('compares a quarter with the real previous quarter, not 92 shifted days', () => {
    expect(describePeriod({ from: '2026-07-01', to: '2026-09-30' }, TODAY)).toEqual({
      from: '2026-07-01',
      to: '2026-09-30',
      label: 'Q3 2026',
      unit: 'quarter',
      toDate: false,
      previous: { from: '2026-04-01', to: '2026-06-30', label: 'Q2 2026' },
    });
  });

  it('cuts "this year" at today, says "to date", and compares with the same days of last year', () => {
    expect(describePeriod({ from: '2026-01-01', to: '2026-12-31' }, TODAY)).toMatchObject({
      to: TODAY,
      toDate: true,
      label: '2026 to date (1 Jan – 1 Dec 2026)',
      previous: { from: '2025-01-01', to: '2025-12-01' },
    });
  });

  it('labels halves, months, weeks and days, and declines a period that has not started', () => {
    expect(describePeriod({ from: '2025-07-01', to: '2025-12-31' }, TODAY)).toMatchObject({
      label: 'H2 2025',
      previous: { from: '2025-01-01', to: '2025-06-30', label: 'H1 2025' },
    });
    expect(describePeriod({ from: '2026-11-23', to: '2026-11-29' }, TODAY)).toMatchObject({
      unit: 'week',
      previous: { from: '2026-11-16', to: '2026-11-22' },
    });
    expect(describePeriod({ from: '2026-02-01', to: '2026-02-28' }, TODAY)?.previous).toMatchObject({
      from: '2026-01-01',
      to: '2026-01-31',
      label: 'January 2026',
    });
    expect(describePeriod({ from: '2027-01-01', to: '2027-03-31' }, TODAY)).toBeUndefined();
  });

  it('compares any other span with the span of the same length just before it', () => {
    expect(describePeriod({ from: '2026-11-02', to: '2026-12-01' }, TODAY)).toMatchObject({
      unit: 'span',
      previous: { from: '2026-10-03', to: '2026-11-01' },
    });
  });

  it('never reaches past today, and the previous period always ends before the period starts (property)', () => {
    const day = fc
      .integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2027, 11, 31) })
      .map((t) => new Date(t - (t % 86_400_000)).toISOString().slice(0, 10));
    fc.assert(
      fc.property(day, day, (a, b) => {
        const [from, to] = a <= b ? [a, b] : [b, a];
        const p = describePeriod({ from, to }, TODAY);
        if (from > TODAY) return p === undefined;
        expect(p).toBeDefined();
        expect(p!.to <= TODAY).toBe(true);
        expect(p!.previous.to < p!.from).toBe(true);
        expect(p!.previous.from <= p!.previous.to).toBe(true);
        expect(p!.label.length).toBeGreaterThan(0);
        return true;
      }),
      { numRuns: 300 },
    );
  });
});

describe('period words people use', () => {
  it.each([
    ['H1 2026', { from: '2026-01-01', to: '2026-06-30' }],
    ['the first half of the year', { from: '2026-01-01', to: '2026-06-30' }],
    ['second half of 2025', { from: '2025-07-01', to: '2025-12-31' }],
    ['2025 H2', { from: '2025-07-01', to: '2025-12-31' }],
    ['week 10', { from: '2026-03-02', to: '2026-03-08' }],
    ['the week of 9 November', { from: '2026-11-09', to: '2026-11-15' }],
    ['last quater', { from: '2026-07-01', to: '2026-09-30' }],
    ['last moth', { from: '2026-11-01', to: '2026-11-30' }],
    ['sales in Ocotber', { from: '2026-10-01', to: '2026-10-31' }],
    ['over 2025', { from: '2025-01-01', to: '2025-12-31' }],
  ])('%s', (text, value) => {
    expect(period(text)).toEqual(value);
  });
});

describe('slots that reach the plan', () => {
  it('keeps every region of a comparison and reads exclusions as exclusions', async () => {
    const c = quickstart();
    const compare = await c.understand('compare EMEA and APAC last month', context());
    expect(compare.name).toBe('sales.compare');
    expect(compare.slots['region']).toEqual(['EMEA', 'APAC']);
    const except = await c.understand('everything except EMEA last quarter', context());
    expect(except.slots['exclude']).toBe('EMEA');
    expect(except.slots['region']).toBeUndefined();
    const list = await c.understand('Q3 sales without latam and apac', context());
    expect(list.slots['exclude']).toEqual(['LATAM', 'APAC']);
  });

  it('reads a limit, an order and a metric', async () => {
    const c = quickstart();
    const top = await c.understand('bottom 2 products by units', context());
    expect(top.slots).toMatchObject({ limit: 2, order: 'lowest', metric: 'units' });
  });

  it('declines what it cannot honour, with the reason, instead of answering something else', async () => {
    const c = quickstart();
    const margin = await c.understand('what is our margin this year', context());
    expect(margin.metadata?.['decline']).toEqual([expect.stringContaining('no cost figures')]);
    const future = await c.understand('sales for next quarter', context());
    expect(future.metadata?.['decline']).toEqual([expect.stringContaining('has not started yet')]);
  });
});
