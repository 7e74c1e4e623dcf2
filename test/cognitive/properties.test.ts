import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HashingEmbedder } from '../../src/cognitive/offline/embedder.js';
import { extractEntities } from '../../src/cognitive/offline/entities.js';
import { Tokenizer } from '../../src/cognitive/offline/tokenize.js';
import { NOW, quickstart } from './helpers.js';

// prettier-ignore
const words = fc.constantFrom(
  'sales', 'last', 'quarter', 'Q3', '2025', 'March', 'past', '30', 'days', 'EMEA', 'europe', '$1,200', '3k', 'EUR',
  '12%', 'bob@example.com', 'the', 'same', 'for', 'now', 'next', 'week', 'month', 'year', 'to', 'date', '-', ',',
  'from', '2026-01-01', 'between', 'and', 'in', 'may', 'top', 'five', 'é', '🙂', '',
);
const phrase = fc.array(words, { maxLength: 12 }).map((w) => w.join(' '));
const anyText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  phrase,
);

describe('properties', () => {
  it('the tokenizer never throws and yields lower-case, non-empty tokens', () => {
    const tokenizer = new Tokenizer();
    fc.assert(
      fc.property(anyText, (text) => {
        for (const t of tokenizer.tokens(text)) {
          expect(t.normal.trim()).not.toBe('');
          expect(t.lemma).toBe(t.lemma.toLowerCase());
        }
      }),
      { numRuns: 300 },
    );
  });

  it('classification never throws; confidences are in [0, 1], ranked and sum to at most 1', () => {
    const cognitive = quickstart();
    fc.assert(
      fc.property(anyText, (text) => {
        const c = cognitive.classify(text);
        expect(c.confidence).toBeGreaterThanOrEqual(0);
        expect(c.confidence).toBeLessThanOrEqual(1);
        expect(c.ranking[0]?.intent).toBe(c.intent);
        let sum = 0;
        c.ranking.forEach((r, i) => {
          sum += r.confidence;
          if (i > 0) expect(r.confidence).toBeLessThanOrEqual(c.ranking[i - 1]?.confidence ?? 1);
        });
        expect(sum).toBeLessThanOrEqual(1 + 1e-9);
      }),
      { numRuns: 300 },
    );
  });

  it('entity extraction never throws; spans match the text and never overlap; periods run from ≤ to', () => {
    const gazetteers = { region: { EMEA: ['europe'], APAC: ['asia pacific'] } };
    fc.assert(
      fc.property(
        anyText,
        fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2090, 0, 1) }),
        (text, now) => {
          const entities = extractEntities(text, { now, gazetteers });
          let end = 0;
          for (const e of entities) {
            expect(e.start).toBeGreaterThanOrEqual(end);
            expect(text.slice(e.start, e.end)).toBe(e.text);
            end = e.end ?? 0;
            if (e.type === 'period') {
              const v = e.value as { from: string; to: string };
              expect(v.from <= v.to).toBe(true);
              expect(v.from).toMatch(/^\d{4}-\d{2}-\d{2}$/);
            }
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('rolling periods always end today and cover exactly N days', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 0, max: 20_000 }), (n, dayOffset) => {
        const now = NOW + dayOffset * 86_400_000;
        const [e] = extractEntities(`the past ${n} days`, { now });
        const v = e?.value as { from: string; to: string };
        expect(v.to).toBe(new Date(now).toISOString().slice(0, 10));
        expect((Date.parse(v.to) - Date.parse(v.from)) / 86_400_000 + 1).toBe(n);
      }),
    );
  });

  it('embeddings are unit vectors (or zero) of the declared length', async () => {
    const embedder = new HashingEmbedder({ dimensions: 64 });
    await fc.assert(
      fc.asyncProperty(anyText, async (text) => {
        const [v] = await embedder.embed([text]);
        expect(v).toHaveLength(64);
        const norm = Math.sqrt((v ?? []).reduce((s, x) => s + x * x, 0));
        expect(norm === 0 || Math.abs(norm - 1) < 1e-9).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
