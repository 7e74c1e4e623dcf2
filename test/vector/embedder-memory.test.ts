import { describe, expect, it } from 'vitest';
import { isDreamAgentError } from '../../src/errors/index.js';
import { ContextMemory } from '../../src/cognitive/offline/memory.js';
import { HashingEmbedder } from '../../src/cognitive/offline/embedder.js';
import { MemoryVectorStore } from '../../src/ports/memory/vector.js';

const cosine = (a: number[], b: number[]): number => a.reduce((s, x, i) => s + x * (b[i] ?? 0), 0);

describe('MemoryVectorStore', () => {
  it('returns exact cosine neighbours, best first, with metadata filters', async () => {
    const store = new MemoryVectorStore();
    await store.upsert([
      { id: 'x', vector: [1, 0, 0], metadata: { session: 'a' } },
      { id: 'y', vector: [0.7, 0.7, 0], metadata: { session: 'a' } },
      { id: 'z', vector: [0, 0, 5], metadata: { session: 'b' } },
    ]);
    const all = await store.query([1, 0, 0], 3);
    expect(all.map((m) => m.id)).toEqual(['x', 'y', 'z']);
    expect(all[0]?.score).toBeCloseTo(1);
    expect(all[1]?.score).toBeCloseTo(Math.SQRT1_2);
    expect((await store.query([0, 0, 1], 5, { session: 'a' })).map((m) => m.id)).toEqual(['x', 'y']);
    expect(await store.query([1, 0, 0], 0)).toEqual([]);
  });

  it('replaces by id, deletes, and keeps stored metadata isolated from the caller', async () => {
    const store = new MemoryVectorStore();
    const metadata = { tag: 'one' };
    await store.upsert([{ id: 'x', vector: [1, 0], metadata }]);
    metadata.tag = 'mutated';
    await store.upsert([{ id: 'y', vector: [0, 1] }]);
    await store.upsert([{ id: 'y', vector: [1, 1] }]);
    expect(store.size).toBe(2);
    const [first] = await store.query([1, 0], 1);
    expect(first?.metadata).toEqual({ tag: 'one' });
    await store.delete(['x', 'missing']);
    expect((await store.query([1, 0], 5)).map((m) => m.id)).toEqual(['y']);
  });

  it('rejects mismatched dimensions and non-finite values with INVALID_INPUT', async () => {
    const store = new MemoryVectorStore();
    await store.upsert([{ id: 'x', vector: [1, 0] }]);
    await expect(store.upsert([{ id: 'y', vector: [1, 0, 0] }])).rejects.toSatisfy((e) =>
      isDreamAgentError(e, 'INVALID_INPUT'),
    );
    await expect(store.query([Number.NaN, 0], 1)).rejects.toSatisfy((e) =>
      isDreamAgentError(e, 'INVALID_INPUT'),
    );
  });
});

describe('HashingEmbedder (lexical)', () => {
  it('puts texts sharing words and spellings close, unrelated texts far', async () => {
    const embedder = new HashingEmbedder({
      dimensions: 512,
      corpus: ['sales in EMEA', 'top products', 'weather today'],
    });
    const [a, b, typo, other] = await embedder.embed([
      'Q3 sales in EMEA',
      'EMEA sales for Q3',
      'Q3 slaes in EMAE',
      'tell me a joke',
    ]);
    expect(cosine(a!, b!)).toBeGreaterThan(0.6);
    expect(cosine(a!, typo!)).toBeGreaterThan(0.15);
    expect(cosine(a!, typo!)).toBeGreaterThan(cosine(a!, other!) + 0.1);
    expect(cosine(a!, other!)).toBeLessThan(0.15);
  });

  it('is deterministic and honest about what it is not: synonyms are not close', async () => {
    const embedder = new HashingEmbedder({ dimensions: 256 });
    const [x1] = await embedder.embed(['revenue']);
    const [x2, turnover] = await embedder.embed(['revenue', 'turnover']);
    expect(x1).toEqual(x2);
    expect(cosine(x1!, turnover!)).toBeLessThan(0.3);
  });

  it('rejects a bad dimension count', () => {
    expect(() => new HashingEmbedder({ dimensions: 3 })).toThrow(/dimensions/);
  });
});

describe('ContextMemory', () => {
  it('remembers turns with their results and recalls the most relevant in scope', async () => {
    const memory = new ContextMemory({ embedder: new HashingEmbedder(), store: new MemoryVectorStore() });
    await memory.remember({
      id: '1',
      text: 'analyse sales for Q1 in EMEA',
      summary: 'revenue 1.2M',
      metadata: { sessionId: 's' },
    });
    await memory.remember({
      id: '2',
      text: 'email the report to ann@example.com',
      metadata: { sessionId: 's' },
    });
    await memory.remember({ id: '3', text: 'top products in APAC', metadata: { sessionId: 'other' } });
    const recalled = await memory.recall('what was the EMEA revenue again?', 2, { sessionId: 's' });
    expect(recalled[0]).toMatchObject({
      id: '1',
      text: 'analyse sales for Q1 in EMEA',
      summary: 'revenue 1.2M',
    });
    expect(recalled.every((r) => r.metadata['sessionId'] === 's')).toBe(true);
    await memory.forget(['1']);
    expect((await memory.recall('EMEA revenue', 5, { sessionId: 's' })).map((r) => r.id)).not.toContain('1');
  });
});
