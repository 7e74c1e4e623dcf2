import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HashingEmbedder } from '../../src/cognitive/offline/embedder.js';
import { isDreamAgentError } from '../../src/errors/index.js';
import { CachedEmbedder, ensureEmbeddingSpace } from '../../src/memory/embedding.js';
import { DocumentIngestor, splitMarkdown, splitText } from '../../src/memory/ingest.js';
import type { Cache } from '../../src/ports/cache.js';
import { MemoryCache } from '../../src/ports/memory/cache.js';
import { MemoryVectorStore } from '../../src/ports/memory/vector.js';
import type { Embedder } from '../../src/ports/vector.js';

class CountingEmbedder implements Embedder {
  readonly dimensions = 8;
  calls: string[][] = [];
  constructor(
    readonly model = 'count-v1',
    private readonly wrongLength = false,
  ) {}
  async embed(texts: string[]): Promise<number[][]> {
    await Promise.resolve();
    this.calls.push(texts);
    return texts.map((t) =>
      Array.from(
        { length: this.wrongLength ? 7 : 8 },
        (_, i) => ((t.charCodeAt(i % Math.max(1, t.length)) || 1) % 13) + i,
      ),
    );
  }
}

describe('CachedEmbedder', () => {
  it('embeds each distinct text once, batches misses, and serves repeats from the cache', async () => {
    const inner = new CountingEmbedder();
    const cache = new MemoryCache();
    const embedder = new CachedEmbedder(inner, { cache, batchSize: 2 });
    const texts = ['a', 'b', 'a', 'c', 'd', 'b'];
    const first = await embedder.embed(texts);
    expect(first).toHaveLength(6);
    expect(first[0]).toEqual(first[2]);
    expect(inner.calls).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    const again = await embedder.embed(['d', 'a', 'e']);
    expect(inner.calls.at(-1)).toEqual(['e']);
    expect(again[0]).toEqual(first[4]);
    expect(embedder.embedded).toBe(5);
    // Another model never reads this model's entries.
    const other = new CachedEmbedder(new CountingEmbedder('count-v2'), { cache });
    expect(other.key('a')).not.toBe(embedder.key('a'));
  });

  it('treats a failing cache as misses and a wrong vector length as a typed LLM_ERROR', async () => {
    const broken: Cache = {
      get: () => Promise.reject(new Error('down')),
      set: () => Promise.reject(new Error('down')),
      delete: () => Promise.resolve(),
    };
    const ok = new CachedEmbedder(new CountingEmbedder(), { cache: broken });
    expect(await ok.embed(['x'])).toHaveLength(1);
    const bad = new CachedEmbedder(new CountingEmbedder('bad', true));
    const err = await bad.embed(['x']).catch((e: unknown) => e);
    expect(isDreamAgentError(err, 'LLM_ERROR')).toBe(true);
    expect((err as { details: { reason: string } }).details.reason).toBe('dimension_mismatch');
  });

  it('refuses to write another model into a namespace built with one (INVALID_STATE)', async () => {
    const store = new MemoryVectorStore();
    const a = new HashingEmbedder({ dimensions: 64 });
    const scope = { namespace: 'docs' };
    await ensureEmbeddingSpace(store, a, scope);
    await store.upsert([{ id: 'x', vector: a.embedSync('hello') }], scope);
    await ensureEmbeddingSpace(store, new HashingEmbedder({ dimensions: 64 }), scope);
    for (const b of [
      new HashingEmbedder({ dimensions: 128 }),
      new HashingEmbedder({ dimensions: 64, corpus: ['x y'] }),
    ]) {
      const err = await ensureEmbeddingSpace(store, b, scope).catch((e: unknown) => e);
      expect(isDreamAgentError(err, 'INVALID_STATE')).toBe(true);
    }
  });
});

describe('splitText / splitMarkdown', () => {
  it('property: chunks fit the size, are slices of the source, cover every word, and overlap', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('alpha', 'beta', 'gamma', 'delta.', '\n\n', '\n', 'x'.repeat(30)), {
          maxLength: 200,
        }),
        fc.integer({ min: 16, max: 200 }),
        fc.integer({ min: 0, max: 60 }),
        (words, size, overlapRaw) => {
          const text = words.join(' ');
          const overlap = Math.min(overlapRaw, size - 1);
          const chunks = splitText(text, { chunkSize: size, overlap });
          const covered = new Uint8Array(text.length);
          for (const [i, c] of chunks.entries()) {
            expect(c.text.length).toBeLessThanOrEqual(size);
            expect(text.slice(c.start, c.end)).toBe(c.text);
            covered.fill(1, c.start, c.end);
            const next = chunks[i + 1];
            if (next !== undefined) expect(next.start).toBeGreaterThan(c.start);
            // Nothing but whitespace is ever skipped between neighbours.
            if (next !== undefined && next.start > c.end)
              expect(text.slice(c.end, next.start).trim()).toBe('');
          }
          for (let i = 0; i < text.length; i++) if (!/\s/.test(text[i]!)) expect(covered[i]).toBe(1);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('splits Markdown by headings (ignoring # inside code fences) and records the heading path', () => {
    const md = [
      '# Guide',
      'Intro text.',
      '## Install',
      'Run npm i.',
      '```sh',
      '# not a heading',
      '```',
      '## Use',
      'Call it.',
    ].join('\n');
    const chunks = splitMarkdown(md, { chunkSize: 200, overlap: 20 });
    expect(chunks.map((c) => c.section)).toEqual(['Guide', 'Guide > Install', 'Guide > Use']);
    expect(chunks[1]!.text).toContain('# not a heading');
    for (const c of chunks) expect(md.slice(c.start, c.end)).toBe(c.text);
    const words = splitText('word '.repeat(100), { chunkSize: 50, overlap: 10 });
    for (let i = 1; i < words.length; i++) {
      expect(words[i]!.start).toBeLessThan(words[i - 1]!.end);
      expect(words[i - 1]!.end - words[i]!.start).toBeLessThanOrEqual(10);
    }
    expect(() => splitText('x', { chunkSize: 10 })).toThrow(/chunkSize/);
    expect(() => splitText('x', { chunkSize: 100, overlap: 100 })).toThrow(/overlap/);
  });
});

describe('DocumentIngestor', () => {
  it('ingests, retrieves with citations, skips an unchanged document and replaces a changed one', async () => {
    const inner = new HashingEmbedder({ dimensions: 256 });
    const embedder = new CachedEmbedder(inner);
    const store = new MemoryVectorStore();
    const docs = new DocumentIngestor({ embedder, store, chunkSize: 120, overlap: 20 });
    const v1 = [
      '# Handbook',
      '## Passwords',
      'To reset your password open the account page and choose reset password. A mail with a link follows.',
      '## Expenses',
      'Expenses are filed in the finance portal before the fifth of each month with receipts attached.',
      '## Holidays',
      'Holidays are requested in the HR tool two weeks ahead and approved by your manager.',
    ].join('\n');
    const r1 = await docs.ingest({ id: 'handbook', source: 'handbook.md', text: v1, tenantId: 'acme' });
    expect(r1.changed).toBe(true);
    expect(r1.chunks).toBeGreaterThanOrEqual(3);
    const [top] = await docs.retrieve('how do I reset my password', { tenantId: 'acme', k: 2 });
    expect(top).toMatchObject({
      documentId: 'handbook',
      source: 'handbook.md',
      section: 'Handbook > Passwords',
    });
    expect(v1.slice(top!.start, top!.end)).toBe(top!.text);

    const before = embedder.embedded;
    expect(
      await docs.ingest({ id: 'handbook', source: 'handbook.md', text: v1, tenantId: 'acme' }),
    ).toMatchObject({
      changed: false,
      chunks: r1.chunks,
    });
    expect(embedder.embedded).toBe(before);

    const v2 = '# Handbook\n## Passwords\nPasswords are reset by the service desk only.';
    const r2 = await docs.ingest({ id: 'handbook', source: 'handbook.md', text: v2, tenantId: 'acme' });
    expect(r2).toMatchObject({ changed: true, chunks: 1, removed: r1.chunks - 1 });
    const all = await docs.retrieve('expenses holidays passwords', { tenantId: 'acme', k: 50 });
    expect(all).toHaveLength(1);
    expect(all[0]!.text).toContain('service desk');
    // Another tenant sees nothing of it.
    expect(await docs.retrieve('passwords', { tenantId: 'other', k: 5 })).toEqual([]);
    expect(await docs.remove('handbook', 'acme')).toBe(1);
  });
});
