import { describe, expect, it } from 'vitest';
import { ContextMemory } from '../../src/cognitive/offline/memory.js';
import { HashingEmbedder } from '../../src/cognitive/offline/embedder.js';
import { OfflineCognitive } from '../../src/cognitive/offline/cognitive.js';
import { followUpCue } from '../../src/cognitive/offline/dialogue.js';
import { MemoryVectorStore } from '../../src/ports/memory/vector.js';
import { IntentSchema } from '../../src/model/intent.js';
import type { DialogueTurn } from '../../src/model/session.js';
import { QUICKSTART_INTENTS, context, fixedClock, quickstart } from './helpers.js';

const Q1_2026 = { from: '2026-01-01', to: '2026-03-31' };
const turn = (input: string, intent: string, slots: DialogueTurn['slots']): DialogueTurn => ({
  turnId: `t-${input.length}`,
  input,
  intent,
  slots,
});

describe('OfflineCognitive.understand: slot filling and clarifications', () => {
  it('fills slots from entities and applies defaults', async () => {
    const intent = await quickstart().understand(
      "analyse last quarter's sales in Europe and email the report to team@example.com",
      context(),
    );
    expect(IntentSchema.parse(intent)).toEqual(intent);
    expect(intent.name).toBe('sales.report');
    expect(intent.confidence).toBeGreaterThan(0.5);
    expect(intent.slots).toMatchObject({
      period: { ...Q1_2026, label: 'Q1 2026', previous: { from: '2025-10-01', to: '2025-12-31' } },
      region: 'EMEA',
      recipient: 'team@example.com',
      delivery: 'email',
      metric: 'revenue',
    });
    expect(intent.missingSlots).toEqual([]);
    expect(intent.clarification).toBeUndefined();
  });

  it('asks for a missing required slot, and the answer fills it', async () => {
    const first = await quickstart().understand('analyse our sales in APAC', context());
    expect(first.name).toBe('sales.report');
    expect(first.missingSlots).toEqual(['period']);
    expect(first.clarification).toMatchObject({ question: 'Which period should I analyse?', slot: 'period' });
    expect(first.clarification?.options?.[0]).toBe('last quarter');

    const second = await quickstart().understand(
      'analyse our sales in APAC',
      context({
        clarifications: [
          { question: 'Which period should I analyse?', answer: 'last quarter', slot: 'period' },
        ],
      }),
    );
    expect(second.slots).toMatchObject({ period: Q1_2026, region: 'APAC' });
    expect(second.missingSlots).toEqual([]);
    expect(second.clarification).toBeUndefined();
  });

  it('asks again when the answer does not contain the slot, and the latest answer wins', async () => {
    const q = 'Which period should I analyse?';
    const unclear = await quickstart().understand(
      'analyse our sales',
      context({ clarifications: [{ question: q, answer: 'hmm not sure', slot: 'period' }] }),
    );
    expect(unclear.missingSlots).toEqual(['period']);
    const twice = await quickstart().understand(
      'analyse our sales',
      context({
        clarifications: [
          { question: q, answer: 'March 2025', slot: 'period' },
          { question: q, answer: 'actually Q3 2025', slot: 'period' },
        ],
      }),
    );
    expect(twice.slots['period']).toMatchObject({ from: '2025-07-01', to: '2025-09-30' });
  });

  it('an e-mail request with nothing to send asks which report, and carries it', async () => {
    const first = await quickstart().understand('email the report please', context());
    expect(first.name).toBe('sales.report');
    expect(first.metadata?.['continues']).toBe('report.email');
    expect(first.clarification).toMatchObject({ question: 'Which period should I analyse?', slot: 'period' });
    const second = await quickstart().understand(
      'email the report please',
      context({
        clarifications: [{ question: 'Which period should I analyse?', answer: 'Q3 2025', slot: 'period' }],
      }),
    );
    expect(second.slots).toMatchObject({
      delivery: 'email',
      period: { from: '2025-07-01', to: '2025-09-30' },
    });
    expect(second.missingSlots).toEqual([]);
  });

  it('"send it to Ann" after a report carries that report (period and region kept)', async () => {
    const history: DialogueTurn[] = [
      turn('sales for APAC in Q3 2025', 'sales.report', {
        period: { from: '2025-07-01', to: '2025-09-30' },
        region: 'APAC',
      }),
    ];
    const intent = await quickstart().understand('forward it to ann@example.com', context({ history }));
    expect(intent.name).toBe('sales.report');
    expect(intent.slots).toMatchObject({
      region: 'APAC',
      recipient: 'ann@example.com',
      delivery: 'email',
      period: { from: '2025-07-01', to: '2025-09-30' },
    });
    expect(intent.clarification).toBeUndefined();
  });

  it('"yes" and a number answer the options of a question, so "yes" never loops', async () => {
    const q = 'Which period should I analyse?';
    const yes = await quickstart().understand(
      'how are we doing',
      context({ clarifications: [{ question: q, answer: 'yes', slot: 'period' }] }),
    );
    expect(yes.slots['period']).toMatchObject({ from: '2026-01-01', to: '2026-03-31' }); // "last quarter"
    const third = await quickstart().understand(
      'how are we doing',
      context({ clarifications: [{ question: q, answer: '3', slot: 'period' }] }),
    );
    expect(third.slots['period']).toMatchObject({ from: '2026-01-01', to: '2026-05-14', toDate: true });
  });

  it('answers a vague request with unknown + a question, then understands the answer', async () => {
    const vague = await quickstart().understand('do the numbers thing', context());
    expect(vague.name).toBe('unknown');
    expect(vague.clarification?.question).toBeTruthy();
    expect(vague.clarification?.options?.length).toBeGreaterThan(0);

    const answered = await quickstart().understand(
      'do the numbers thing',
      context({
        clarifications: [
          { question: vague.clarification?.question ?? '', answer: 'a sales report for last quarter' },
        ],
      }),
    );
    expect(answered.name).toBe('sales.report');
    expect(answered.slots['period']).toMatchObject(Q1_2026);
  });

  it('keeps out-of-scope requests out of scope', async () => {
    const intent = await quickstart().understand("what's the weather in Paris tomorrow?", context());
    expect(intent.name).toBe('unknown');
    expect(intent.slots).toEqual({});
  });
});

describe('follow-ups reuse the previous turn', () => {
  const previous = turn('analyse sales for last quarter in north america', 'sales.report', {
    period: Q1_2026,
    region: 'North America',
    metric: 'revenue',
  });

  it('"now do the same for Europe" keeps the intent and period, overrides the region', async () => {
    const intent = await quickstart().understand(
      'now do the same for Europe',
      context({ history: [previous], slots: previous.slots }),
    );
    expect(intent.name).toBe('sales.report');
    expect(intent.slots).toMatchObject({ period: Q1_2026, region: 'EMEA', metric: 'revenue' });
    expect(intent.metadata?.['followUp']).toBe(true);
    expect(intent.missingSlots).toEqual([]);
  });

  it('"and for March?" overrides the period only', async () => {
    const intent = await quickstart().understand(
      'and for March?',
      context({ history: [previous], slots: {} }),
    );
    expect(intent.name).toBe('sales.report');
    expect(intent.slots).toMatchObject({
      period: { from: '2026-03-01', to: '2026-03-31', label: 'March 2026' },
      region: 'North America',
      metric: 'revenue',
    });
  });

  it('a short fragment that only fits the previous intent is a follow-up ("APAC, Q3 2025")', async () => {
    const intent = await quickstart().understand('APAC, Q3 2025', context({ history: [previous] }));
    expect(intent.name).toBe('sales.report');
    expect(intent.slots).toMatchObject({ period: { from: '2025-07-01', to: '2025-09-30' }, region: 'APAC' });
  });

  it('a new, clear request is not a follow-up and carries nothing', async () => {
    const intent = await quickstart().understand(
      'top 3 products in APAC',
      context({ history: [previous], slots: previous.slots }),
    );
    expect(intent.name).toBe('sales.top_products');
    expect(intent.slots).toMatchObject({ region: 'APAC', limit: 3, dimension: 'product' });
    expect(intent.slots['period']).toMatchObject({ from: '2026-01-01', to: '2026-05-14', toDate: true });
    expect(intent.metadata?.['followUp']).toBeUndefined();
  });

  it('follows the most recent turn with an intent, skipping unknown turns', async () => {
    const history = [previous, turn('blah', 'unknown', {})];
    const intent = await quickstart().understand('same again for LATAM', context({ history }));
    expect(intent.name).toBe('sales.report');
    expect(intent.slots['region']).toBe('LATAM');
  });

  it.each([
    ['now do the same for Europe', 'strong'],
    ['again for march', 'strong'],
    ['and for March?', 'weak'],
    ['what about APAC', 'weak'],
    ['show me top products', 'none'],
  ] as const)('followUpCue(%s) = %s', (text, cue) => {
    expect(followUpCue(text)).toBe(cue);
  });
});

describe('context memory', () => {
  it('recalls the most relevant past turns of the session into metadata.context', async () => {
    const memory = new ContextMemory({
      embedder: new HashingEmbedder({ dimensions: 256 }),
      store: new MemoryVectorStore(),
    });
    await memory.remember({
      id: 'a',
      text: 'sales for EMEA in Q1',
      summary: 'revenue 1.2M EUR',
      metadata: { sessionId: 's1' },
    });
    await memory.remember({
      id: 'b',
      text: 'top products in APAC',
      summary: 'Widget Pro first',
      metadata: { sessionId: 's1' },
    });
    await memory.remember({
      id: 'c',
      text: 'sales for EMEA in Q1',
      summary: 'other session',
      metadata: { sessionId: 's2' },
    });
    const cognitive = new OfflineCognitive(QUICKSTART_INTENTS, {
      clock: fixedClock,
      memory,
      recall: 2,
      model: quickstart().classifier,
    });
    const intent = await cognitive.understand('how did EMEA sales do in Q1?', context());
    const recalled = intent.metadata?.['context'];
    expect(Array.isArray(recalled)).toBe(true);
    expect((recalled as { id: string }[]).map((r) => r.id)[0]).toBe('a');
    expect((recalled as { id: string }[]).some((r) => r.id === 'c')).toBe(false);
  });
});
