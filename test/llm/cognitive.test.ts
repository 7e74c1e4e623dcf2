import { describe, expect, it } from 'vitest';
import { DreamAgentError } from '../../src/errors/index.js';
import { LlmCognitive, type LlmIntentSpec } from '../../src/llm/cognitive.js';
import { ScriptedModel } from '../../src/testing/scripted-model.js';
import { cognitiveContext, memoryLogger } from './fixtures.js';

const intents: LlmIntentSpec[] = [
  {
    name: 'sales.report',
    description: 'Analyse sales and write a report',
    slots: [
      { name: 'period', required: true, description: 'which quarter or month' },
      { name: 'region', required: false },
    ],
    examples: ['analyse Q3 sales'],
  },
  { name: 'smalltalk', description: 'Greetings and chit-chat' },
];

describe('LlmCognitive', () => {
  it('returns the intent, entities and slots the model found, labelled as the cognitive layer', async () => {
    const model = new ScriptedModel({
      turns: [
        {
          json: {
            intent: 'sales.report',
            confidence: 0.92,
            entities: [{ type: 'period', value: { quarter: 3 }, text: 'Q3' }],
            slots: { period: '2026-Q3', region: null },
            missingSlots: [],
            clarification: null,
          },
        },
      ],
    });
    const intent = await new LlmCognitive({ model, intents }).understand(
      'analyse Q3 sales',
      cognitiveContext(),
    );
    expect(intent).toEqual({
      name: 'sales.report',
      confidence: 0.92,
      entities: [{ type: 'period', value: { quarter: 3 }, text: 'Q3' }],
      slots: { period: '2026-Q3' },
      missingSlots: [],
    });
    expect(model.requests[0]?.layer).toBe('cognitive');
    expect(model.requests[0]?.temperature).toBe(0);
  });

  it('recomputes missing required slots and asks a clarification even when the model claims none', async () => {
    const model = new ScriptedModel({
      turns: [
        {
          json: {
            intent: 'sales.report',
            confidence: 0.8,
            entities: [],
            slots: {},
            missingSlots: [],
            clarification: null,
          },
        },
      ],
    });
    const intent = await new LlmCognitive({ model, intents }).understand('analyse sales', cognitiveContext());
    expect(intent.missingSlots).toEqual(['period']);
    expect(intent.clarification).toEqual({
      question: 'Could you tell me the period (which quarter or month)?',
      slot: 'period',
    });
  });

  it("keeps the model's own clarification question when it targets a missing slot", async () => {
    const model = new ScriptedModel({
      turns: [
        {
          json: {
            intent: 'sales.report',
            confidence: 0.8,
            entities: [],
            slots: {},
            missingSlots: ['period'],
            clarification: {
              question: 'Which quarter should I analyse?',
              slot: 'period',
              options: ['Q2', 'Q3'],
            },
          },
        },
      ],
    });
    const intent = await new LlmCognitive({ model, intents }).understand('analyse sales', cognitiveContext());
    expect(intent.clarification).toEqual({
      question: 'Which quarter should I analyse?',
      slot: 'period',
      options: ['Q2', 'Q3'],
    });
  });

  it('uses carried-over slots, so a follow-up needs no clarification; drops needless questions', async () => {
    const model = new ScriptedModel({
      turns: [
        {
          json: {
            intent: 'sales.report',
            confidence: 0.7,
            entities: [],
            slots: { region: 'EU' },
            missingSlots: ['period'],
            clarification: { question: 'Which period?', slot: 'period' },
          },
        },
      ],
    });
    const intent = await new LlmCognitive({ model, intents }).understand(
      'now the same for Europe',
      cognitiveContext({ slots: { period: '2026-Q3' } }),
    );
    expect(intent.slots).toEqual({ period: '2026-Q3', region: 'EU' });
    expect(intent.missingSlots).toEqual([]);
    expect(intent.clarification).toBeUndefined();
  });

  it('shows history, carried slots, clarification answers and retrieved context to the model as data', async () => {
    const model = new ScriptedModel({
      turns: [
        {
          json: {
            intent: 'smalltalk',
            confidence: 1,
            entities: [],
            slots: {},
            missingSlots: [],
            clarification: null,
          },
        },
      ],
    });
    const ctx = cognitiveContext({
      history: [{ turnId: 't0', input: 'hello', intent: 'smalltalk', slots: {}, answer: 'hi!' }],
      slots: { region: 'EU' },
      clarifications: [{ question: 'Which period?', answer: 'Q3', slot: 'period' }],
    });
    const retrieved: string[] = [];
    const cognitive = new LlmCognitive({
      model,
      intents,
      retrieve: (input) => {
        retrieved.push(input);
        return Promise.resolve(['Fiscal Q3 runs July to September.']);
      },
    });
    await cognitive.understand('thanks', ctx);
    expect(retrieved).toEqual(['thanks']);
    const user = model.requests[0]?.messages[1]?.content ?? '';
    expect(user).toContain('user: hello');
    expect(user).toContain('assistant: hi!');
    expect(user).toContain('"region": "EU"');
    expect(user).toContain('A: Q3');
    expect(user).toContain('Fiscal Q3 runs July to September.');
    expect(user).toContain('<data source="user request">\nthanks\n</data>');
  });

  it('a failing retriever is logged and ignored', async () => {
    const logger = memoryLogger();
    const model = new ScriptedModel({
      turns: [
        {
          json: {
            intent: 'smalltalk',
            confidence: 1,
            entities: [],
            slots: {},
            missingSlots: [],
            clarification: null,
          },
        },
      ],
    });
    const cognitive = new LlmCognitive({
      model,
      intents,
      retrieve: () => Promise.reject(new Error('vector store down')),
    });
    const intent = await cognitive.understand('hi', cognitiveContext({ logger }));
    expect(intent.name).toBe('smalltalk');
    expect(logger.lines.some((l) => l.level === 'warn')).toBe(true);
  });

  it('repairs an unregistered intent once, then accepts "unknown"', async () => {
    const model = new ScriptedModel({
      turns: [
        {
          json: {
            intent: 'weather.forecast',
            confidence: 0.9,
            entities: [],
            slots: {},
            missingSlots: [],
            clarification: null,
          },
        },
        {
          json: {
            intent: 'unknown',
            confidence: 0.3,
            entities: [],
            slots: {},
            missingSlots: [],
            clarification: null,
          },
        },
      ],
    });
    const intent = await new LlmCognitive({ model, intents }).understand('will it rain?', cognitiveContext());
    expect(intent.name).toBe('unknown');
    expect(model.requests[1]?.messages.at(-1)?.content).toContain(
      'intent "weather.forecast" is not one of the registered intents',
    );
  });

  it('is open-ended without registered intents (any intent, model-reported missing slots)', async () => {
    const model = new ScriptedModel({
      turns: [
        {
          json: {
            intent: 'travel.book',
            confidence: 0.6,
            entities: [],
            slots: {},
            missingSlots: ['destination'],
            clarification: { question: 'Where to?', slot: 'destination' },
          },
        },
      ],
    });
    const intent = await new LlmCognitive({ model }).understand('book me a trip', cognitiveContext());
    expect(intent).toMatchObject({
      name: 'travel.book',
      missingSlots: ['destination'],
      clarification: { question: 'Where to?' },
    });
    expect(model.requests[0]?.messages[0]?.content).toContain('none registered');
  });

  it('fails typed: invalid output after repair, provider errors, aborts', async () => {
    const bad = new ScriptedModel({ turns: [{ text: 'no idea' }, { json: { intent: '', confidence: 3 } }] });
    await expect(
      new LlmCognitive({ model: bad, intents }).understand('x', cognitiveContext()),
    ).rejects.toMatchObject({
      code: 'LLM_INVALID_OUTPUT',
    });
    const down = new ScriptedModel({
      turns: [{ error: new DreamAgentError('UNAUTHENTICATED', 'bad key', { retryable: false }) }],
    });
    await expect(new LlmCognitive({ model: down }).understand('x', cognitiveContext())).rejects.toMatchObject(
      {
        code: 'UNAUTHENTICATED',
      },
    );
    const a = new AbortController();
    a.abort();
    const never = new ScriptedModel({ turns: [{ text: '{}' }] });
    await expect(
      new LlmCognitive({ model: never }).understand('x', cognitiveContext({ signal: a.signal })),
    ).rejects.toMatchObject({
      code: 'ABORTED',
    });
  });

  it('rejects duplicate intent names', () => {
    expect(
      () => new LlmCognitive({ model: new ScriptedModel(), intents: [{ name: 'a' }, { name: 'a' }] }),
    ).toThrow(/duplicate intent name "a"/);
  });
});
