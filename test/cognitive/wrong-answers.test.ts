import { describe, expect, it } from 'vitest';
import { context, quickstart } from './helpers.js';

// Requests the agent once answered wrongly: each is now understood right, or asked about — never
// answered with a different figure than the one asked for. (NOW is Thursday 14 May 2026.)
describe('no silently wrong reading', () => {
  it('reads "outliers" as a request for unusual days, whatever else the request names', async () => {
    const intent = await quickstart().understand('outliers in LATAM revenue last month', context());
    expect(intent.name).toBe('sales.anomalies');
    expect(intent.slots['region']).toBe('LATAM');
  });

  it('reads "how many … sell / sold" as units, not revenue', async () => {
    for (const text of [
      'how many Orbit Tablets did we sell in April',
      'how many phones were sold last month',
      'how many of the laptops have we sold this year',
    ]) {
      const intent = await quickstart().understand(text, context());
      expect(intent.slots['metric'], text).toBe('units');
    }
    // Products named between the words still fill their slot.
    const tablets = await quickstart().understand('how many Orbit Tablets did we sell in April', context());
    expect(tablets.slots['product']).toBe('Orbit Tablet');
    // "how much … sell" is money.
    const much = await quickstart().understand('how much did we sell in April', context());
    expect(much.slots['metric'] ?? 'revenue').toBe('revenue');
  });

  it('turns a report naming two periods into a comparison of both', async () => {
    for (const text of ['sales for H2 2025 and H1 2026', 'revenue in march 2026 and march 2025']) {
      const intent = await quickstart().understand(text, context());
      expect(intent.name, text).toBe('sales.compare');
      const periods = intent.slots['period'];
      expect(Array.isArray(periods) ? periods.length : 0, text).toBe(2);
    }
  });

  it('asks which one when a second value of a single-valued slot has nowhere to go', async () => {
    // No intent takes two metrics: one of the two is asked for rather than dropped.
    const intent = await quickstart().understand('units and revenue for EMEA in April', context());
    expect(intent.clarification?.question ?? '').toMatch(/units|revenue/);
    expect(intent.clarification?.slot).toBe('metric');
    // The answer settles it: no second question.
    const answered = await quickstart().understand(
      'units and revenue for EMEA in April',
      context({ clarifications: [{ question: 'q', answer: 'units', slot: 'metric' }] }),
    );
    expect(answered.slots['metric']).toBe('units');
    expect(answered.clarification).toBeUndefined();
  });
});
