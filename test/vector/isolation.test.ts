/**
 * Context recall never crosses a session or a tenant, and erasure removes exactly a session's or a
 * tenant's vectors — on every VectorStore: memory, FAISS and a real Chroma server.
 */
import { ChromaVectorStore } from '@dream-agent/chroma';
import { FaissVectorStore } from '@dream-agent/faiss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContextMemory } from '../../src/cognitive/offline/memory.js';
import { HashingEmbedder } from '../../src/cognitive/offline/embedder.js';
import { eraseVectors } from '../../src/memory/erase.js';
import { DocumentIngestor } from '../../src/memory/ingest.js';
import { MemoryVectorStore } from '../../src/ports/memory/vector.js';
import type { VectorStore } from '../../src/ports/vector.js';
import { ensureFaissNode, serviceSkipReason, startChroma, type ChromaService } from '../setup/services.js';

const faissSkip = ensureFaissNode();
const chromaSkip = serviceSkipReason('chroma');
let chroma: ChromaService | undefined;
beforeAll(async () => {
  if (chromaSkip === undefined) chroma = await startChroma();
});
afterAll(async () => {
  await chroma?.stop();
});

const stores: [string, string | undefined, () => Promise<VectorStore>][] = [
  ['memory', undefined, () => Promise.resolve(new MemoryVectorStore())],
  ['faiss', faissSkip, () => FaissVectorStore.open({ index: 'HNSW32' })],
  [
    'chroma',
    chromaSkip,
    () =>
      Promise.resolve(
        new ChromaVectorStore({ url: chroma!.url, collectionPrefix: `iso${Date.now().toString(36)}` }),
      ),
  ],
];

for (const [name, skip, make] of stores) {
  describe.skipIf(skip !== undefined)(
    `memory isolation and erasure on ${name}${skip ? ` — skipped: ${skip}` : ''}`,
    () => {
      it('a session recalls only its own turns and its tenant’s shared documents; erasure is exact', async () => {
        const store = await make();
        const embedder = new HashingEmbedder({ dimensions: 256 });
        const memory = new ContextMemory({ embedder, store });
        const docs = new DocumentIngestor({ embedder, store, chunkSize: 200, overlap: 20 });
        // The same session id in two tenants, and two sessions in one tenant: all about the same thing.
        const turns = [
          { id: 'a1', tenantId: 'acme', sessionId: 's1', text: 'quarterly revenue for EMEA acme one' },
          { id: 'a2', tenantId: 'acme', sessionId: 's2', text: 'quarterly revenue for EMEA acme two' },
          { id: 'b1', tenantId: 'globex', sessionId: 's1', text: 'quarterly revenue for EMEA globex one' },
          { id: 'n1', sessionId: 's1', text: 'quarterly revenue for EMEA no tenant' },
        ];
        for (const t of turns) {
          await memory.remember({
            id: t.id,
            text: t.text,
            summary: 'revenue 1.2M',
            metadata: { sessionId: t.sessionId, ...(t.tenantId ? { tenantId: t.tenantId } : {}) },
          });
        }
        await docs.ingest({
          id: 'policy',
          source: 'policy.md',
          text: '# Revenue policy\nQuarterly revenue is reported per region.',
          tenantId: 'acme',
        });
        await docs.ingest({
          id: 'secret',
          source: 'globex.md',
          text: '# Globex revenue\nQuarterly revenue of globex.',
          tenantId: 'globex',
        });

        const seen = async (sessionId: string, tenantId?: string): Promise<string[]> =>
          (
            await memory.context('quarterly revenue EMEA', {
              sessionId,
              ...(tenantId ? { tenantId } : {}),
              k: 20,
              maxChars: 10_000,
            })
          ).items
            .map((i) => i.id)
            .sort();
        expect(await seen('s1', 'acme')).toEqual(['a1', 'doc:policy#0']);
        expect(await seen('s2', 'acme')).toEqual(['a2', 'doc:policy#0']);
        expect(await seen('s1', 'globex')).toEqual(['b1', 'doc:secret#0']);
        expect(await seen('s1')).toEqual(['n1']);
        // Even an unscoped recall inside a tenant's namespace cannot reach another tenant.
        expect(
          (await memory.recall('revenue', 20, { tenantId: 'acme' })).every(
            (r) => r.metadata['tenantId'] === 'acme',
          ),
        ).toBe(true);

        // Erase one session of acme: its turn goes, the other session and the tenant's documents stay.
        expect(await eraseVectors([store], { sessionId: 's1', tenantId: 'acme' })).toBe(1);
        expect(await seen('s1', 'acme')).toEqual(['doc:policy#0']);
        expect(await seen('s2', 'acme')).toEqual(['a2', 'doc:policy#0']);
        expect(await seen('s1', 'globex')).toEqual(['b1', 'doc:secret#0']);
        // Erase the tenant globex: everything of it goes, nothing else.
        await eraseVectors([store], { tenantId: 'globex' });
        expect(await seen('s1', 'globex')).toEqual([]);
        expect(await seen('s2', 'acme')).toEqual(['a2', 'doc:policy#0']);
        expect(await seen('s1')).toEqual(['n1']);
        await memory.forgetTenant('acme');
        expect(await seen('s2', 'acme')).toEqual([]);
        await store.close?.();
      });
    },
  );
}
