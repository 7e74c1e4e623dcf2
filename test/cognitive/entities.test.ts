import { describe, expect, it } from 'vitest';
import { extractEntities } from '../../src/cognitive/offline/entities.js';
import { NOW } from './helpers.js';

const gazetteers = {
  region: {
    'North America': ['na', 'usa', 'united states'],
    EMEA: ['europe', 'european', 'middle east'],
    APAC: ['asia pacific', 'asia'],
  },
  product: { 'Widget Pro': ['widget pro'], 'Gadget X': ['gadgetx'] },
};
const find = (text: string) => extractEntities(text, { now: NOW, gazetteers });
const p = (from: string, to: string) => ({ from, to });

// NOW is Thursday 14 May 2026 (UTC): Q2 2026, ISO week Mon 11 – Sun 17 May.
describe('periods and dates relative to the session clock', () => {
  it.each([
    ['sales for last quarter', 'last quarter', p('2026-01-01', '2026-03-31')],
    ['this quarter', 'this quarter', p('2026-04-01', '2026-06-30')],
    ['plan for next quarter', 'next quarter', p('2026-07-01', '2026-09-30')],
    ['last month please', 'last month', p('2026-04-01', '2026-04-30')],
    ['THIS MONTH', 'THIS MONTH', p('2026-05-01', '2026-05-31')],
    ['revenue last year', 'last year', p('2025-01-01', '2025-12-31')],
    ['orders last week', 'last week', p('2026-05-04', '2026-05-10')],
    ['orders this week', 'this week', p('2026-05-11', '2026-05-17')],
    ['in the past 30 days', 'in the past 30 days', p('2026-04-15', '2026-05-14')],
    ['the last 7 days', 'the last 7 days', p('2026-05-08', '2026-05-14')],
    ['over the last 3 months', 'over the last 3 months', p('2026-02-15', '2026-05-14')],
    ['the past two weeks', 'the past two weeks', p('2026-05-01', '2026-05-14')],
    ['the next 10 days', 'the next 10 days', p('2026-05-14', '2026-05-23')],
    ['sales in March 2025', 'in March 2025', p('2025-03-01', '2025-03-31')],
    ['sales in march', 'in march', p('2026-03-01', '2026-03-31')],
    ['numbers for September', 'for September', p('2025-09-01', '2025-09-30')],
    ['Feb 2024 results', 'Feb 2024', p('2024-02-01', '2024-02-29')],
    ['for May 2025', 'for May 2025', p('2025-05-01', '2025-05-31')],
    ['Q3 2025 revenue', 'Q3 2025', p('2025-07-01', '2025-09-30')],
    ['q1 revenue', 'q1', p('2026-01-01', '2026-03-31')],
    ['Q3 numbers', 'Q3', p('2025-07-01', '2025-09-30')],
    ['2025 Q4 sales', '2025 Q4', p('2025-10-01', '2025-12-31')],
    ['the third quarter of 2024', 'third quarter of 2024', p('2024-07-01', '2024-09-30')],
    ['year to date', 'year to date', p('2026-01-01', '2026-05-14')],
    ['QTD bookings', 'QTD', p('2026-04-01', '2026-05-14')],
    ['sales in 2024', 'in 2024', p('2024-01-01', '2024-12-31')],
    ['from 2026-01-01 to 2026-03-31', 'from 2026-01-01 to 2026-03-31', p('2026-01-01', '2026-03-31')],
    ['between 2026-03-31 and 2026-01-01', 'between 2026-03-31 and 2026-01-01', p('2026-01-01', '2026-03-31')],
    ['revenue for January to March', 'January to March', p('2026-01-01', '2026-03-31')],
    ['july through september', 'july through september', p('2025-07-01', '2025-09-30')],
    ['from november to february', 'from november to february', p('2025-11-01', '2026-02-28')],
    ['april to june 2024 sales', 'april to june 2024', p('2024-04-01', '2024-06-30')],
    ['march last year', 'march last year', p('2025-03-01', '2025-03-31')],
    ['for april this year', 'for april this year', p('2026-04-01', '2026-04-30')],
  ])('%s → %s', (text, span, value) => {
    const periods = find(text).filter((e) => e.type === 'period');
    expect(periods).toHaveLength(1);
    expect(periods[0]).toMatchObject({ text: span, value });
  });

  it.each([
    ['yesterday', '2026-05-13'],
    ['what about today', '2026-05-14'],
    ['due tomorrow', '2026-05-15'],
    ['on 2025-02-28', '2025-02-28'],
    ['on March 5, 2025', '2025-03-05'],
    ['on the 5th of March 2025', '2025-03-05'],
  ])('%s → date %s', (text, value) => {
    expect(
      find(text)
        .filter((e) => e.type === 'date')
        .map((e) => e.value),
    ).toEqual([value]);
  });

  it('reads "compare September to August" as two months, "September to November" as one span', () => {
    const periods = (text: string) =>
      find(text)
        .filter((e) => e.type === 'period')
        .map((e) => e.value);
    expect(periods('compare september to august')).toEqual([
      p('2025-09-01', '2025-09-30'),
      p('2025-08-01', '2025-08-31'),
    ]);
    expect(periods('revenue from september to november 2025')).toEqual([p('2025-09-01', '2025-11-30')]);
  });

  it('rejects impossible dates and does not read "may" the verb as a month', () => {
    expect(find('on 2025-02-30').filter((e) => e.type === 'date' || e.type === 'period')).toEqual([]);
    expect(find('may I see the report').filter((e) => e.type === 'period')).toEqual([]);
  });
});

describe('numbers, money, percentages, e-mails', () => {
  it.each([
    ['a budget of $1,200', 'money', { amount: 1200, currency: 'USD' }],
    ['3k EUR', 'money', { amount: 3000, currency: 'EUR' }],
    ['€2.5m', 'money', { amount: 2_500_000, currency: 'EUR' }],
    ['500 dollars', 'money', { amount: 500, currency: 'USD' }],
    ['EUR 3,000', 'money', { amount: 3000, currency: 'EUR' }],
    ['£40', 'money', { amount: 40, currency: 'GBP' }],
    ['up 12.5%', 'percent', 12.5],
    ['a 40 percent drop', 'percent', 40],
    ['top 10 products', 'limit', 10],
    ['top five products', 'limit', 5],
    ['1,234.5 units', 'number', 1234.5],
    ['mail Bob.Smith@Example.com', 'email', 'bob.smith@example.com'],
  ])('%s → %s', (text, type, value) => {
    const entities = find(text);
    expect(entities).toHaveLength(1);
    expect(entities[0]).toMatchObject({ type, value });
  });

  it('keeps the longest span: no stray numbers inside periods, money or percentages', () => {
    const entities = find('the past 30 days, $1,200 and 12% for Q3 2025');
    expect(entities.map((e) => e.type)).toEqual(['period', 'money', 'percent', 'period']);
  });

  it('reports offsets into the original text', () => {
    const text = 'Send Q3 2025 to ann@example.com';
    for (const e of find(text)) expect(text.slice(e.start, e.end)).toBe(e.text);
  });
});

describe('gazetteers', () => {
  it('matches a phrase with a gap as its first part, leaving what stands in the gap to other entities', () => {
    const gazetteers = { metric: { units: ['how many … sell'] }, product: { 'Pulse Watch': ['watches'] } };
    const found = extractEntities('How many watches did we sell', { now: NOW, gazetteers });
    expect(found.map((e) => [e.type, e.value, e.text])).toEqual([
      ['metric', 'units', 'How many'],
      ['product', 'Pulse Watch', 'watches'],
    ]);
    // More than five words apart, or the second part missing: no match.
    const far = 'how many of the new shiny blue watches did we sell';
    expect(extractEntities(far, { now: NOW, gazetteers }).some((e) => e.type === 'metric')).toBe(false);
    expect(
      extractEntities('how many watches', { now: NOW, gazetteers }).some((e) => e.type === 'metric'),
    ).toBe(false);
  });

  it.each([
    ['sales in Europe', 'region', 'EMEA'],
    ["Europe's numbers", 'region', 'EMEA'],
    ['ASIA PACIFIC please', 'region', 'APAC'],
    ['asia-pacific', 'region', 'APAC'],
    ['north america', 'region', 'North America'],
    ['united states', 'region', 'North America'],
    ['the EMEA region', 'region', 'EMEA'],
    ['sales of Widget Pro', 'product', 'Widget Pro'],
    ['gadgetx orders', 'product', 'Gadget X'],
  ])('%s → %s %s', (text, type, value) => {
    expect(
      find(text)
        .filter((e) => e.type === type)
        .map((e) => e.value),
    ).toEqual([value]);
  });

  it('matches whole words only and prefers the longest phrase', () => {
    expect(find('the banana stand').filter((e) => e.type === 'region')).toEqual([]);
    const both = find('asia pacific and the middle east');
    expect(both.map((e) => [e.text, e.value])).toEqual([
      ['asia pacific', 'APAC'],
      ['middle east', 'EMEA'],
    ]);
  });
});
