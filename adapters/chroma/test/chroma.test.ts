import { isDreamAgentError } from 'dream-agent';
import { vectorContract } from 'dream-agent/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceSkipReason, startChroma, type ChromaService } from '@dream-agent/test-services';
import { ChromaVectorStore } from '../src/index.js';

const skipReason = serviceSkipReason('chroma');
let chroma: ChromaService | undefined;
const url = (): string => chroma!.url;

describe.skipIf(skipReason !== undefined)(
  `Chroma adapter${skipReason ? ` — skipped: ${skipReason}` : ''}`,
  () => {
    beforeAll(async () => {
      chroma = await startChroma();
    });
    afterAll(async () => {
      await chroma?.stop();
    });

    vectorContract(
      'ChromaVectorStore',
      async () => {
        const store = new ChromaVectorStore({ url: url() });
        return {
          store,
          // A second client on the same server sees what the first wrote.
          reopen: async () => {
            await store.close();
            return new ChromaVectorStore({ url: url() });
          },
        };
      },
      { propertyRuns: 6 },
    );

    it('maps namespaces with any allowed character onto distinct valid collection names', async () => {
      const store = new ChromaVectorStore({ url: url(), collectionPrefix: 'nsmap' });
      const names = ['tenant:acme/session@1', 'tenant_3aacme', 'a', 'end-', 'x.y'];
      for (const [i, namespace] of names.entries()) {
        await store.upsert([{ id: 'same', vector: [1, i + 1], metadata: { i } }], { namespace });
      }
      for (const [i, namespace] of names.entries()) {
        expect(await store.query([1, 0], 5, undefined, { namespace })).toMatchObject([
          { id: 'same', metadata: { i } },
        ]);
      }
      expect(await store.namespaces()).toEqual([...names].sort());
      for (const namespace of names) await store.dropNamespace(namespace);
      expect(await store.namespaces()).toEqual([]);
    });

    it('scores: cosine similarity for cosine, −squared distance for l2', async () => {
      const cos = new ChromaVectorStore({ url: url(), collectionPrefix: 'scorecos' });
      await cos.upsert([{ id: 'a', vector: [1, 1] }]);
      expect((await cos.query([1, 0], 1))[0]!.score).toBeCloseTo(Math.SQRT1_2, 4);
      const l2 = new ChromaVectorStore({ url: url(), collectionPrefix: 'scorel2', space: 'l2' });
      await l2.upsert([{ id: 'a', vector: [3, 0] }]);
      expect((await l2.query([1, 0], 1))[0]!.score).toBeCloseTo(-4, 4);
      await cos.dropNamespace('default');
      await l2.dropNamespace('default');
    });

    it('an unreachable server is UNAVAILABLE; bad options are INVALID_INPUT', async () => {
      const dead = new ChromaVectorStore({ url: 'http://127.0.0.1:9' });
      await expect(dead.upsert([{ id: 'a', vector: [1] }])).rejects.toSatisfy((e) =>
        isDreamAgentError(e, 'UNAVAILABLE'),
      );
      expect(() => new ChromaVectorStore({ collectionPrefix: '!' })).toThrow(/collectionPrefix/);
      expect(() => new ChromaVectorStore({ url: 'not a url' })).toThrow(/url/);
    });
  },
);
