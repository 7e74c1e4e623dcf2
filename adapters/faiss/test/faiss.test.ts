import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDreamAgentError } from 'dream-agent';
import { VECTOR_CONTRACT_PERSISTENCE_CASE, vectorContract } from 'dream-agent/testing';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ensureFaissNode } from '@dream-agent/test-services';
import { FaissVectorStore, type FaissModule, type FaissVectorStoreOptions } from '../src/index.js';

const skipReason = ensureFaissNode();
const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'dream-faiss-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const persisted = (options: FaissVectorStoreOptions) => async () => {
  const directory = tempDir();
  let store = await FaissVectorStore.open({ ...options, directory });
  return {
    store,
    reopen: async () => {
      await store.close();
      store = await FaissVectorStore.open({ ...options, directory });
      return store;
    },
    cleanup: async () => {
      await store.close();
    },
  };
};

describe.skipIf(skipReason !== undefined)(
  `FAISS adapter${skipReason ? ` — skipped: ${skipReason}` : ''}`,
  () => {
    vectorContract('FaissVectorStore Flat (persisted)', persisted({ index: 'Flat' }));
    vectorContract('FaissVectorStore HNSW32 (persisted)', persisted({ index: 'HNSW32' }));
    // trainSize 32: the small cases run before training (exact scan), the larger ones after it.
    vectorContract(
      'FaissVectorStore IVF4,Flat (persisted)',
      persisted({ index: 'IVF4,Flat', trainSize: 32 }),
    );
    vectorContract(
      'FaissVectorStore Flat (in memory)',
      async () => ({ store: await FaissVectorStore.open() }),
      {
        skip: {
          [VECTOR_CONTRACT_PERSISTENCE_CASE]:
            'no directory: this configuration keeps nothing across instances',
        },
      },
    );

    it('L2 and inner-product metrics map distances to scores as documented', async () => {
      const l2 = await FaissVectorStore.open({ metric: 'l2' });
      await l2.upsert([
        { id: 'near', vector: [1, 0] },
        { id: 'far', vector: [3, 0] },
      ]);
      const byL2 = await l2.query([0, 0], 2);
      expect(byL2.map((m) => m.id)).toEqual(['near', 'far']);
      expect(byL2[0]!.score).toBeCloseTo(-1, 5);
      expect(byL2[1]!.score).toBeCloseTo(-9, 5);
      const ip = await FaissVectorStore.open({ metric: 'ip' });
      await ip.upsert([
        { id: 'long', vector: [3, 0] },
        { id: 'short', vector: [1, 0] },
      ]);
      const byIp = await ip.query([2, 0], 2);
      expect(byIp.map((m) => [m.id, m.score])).toEqual([
        ['long', 6],
        ['short', 2],
      ]);
    });

    it('HNSW with many deletes compacts and keeps answering correctly', async () => {
      const store = await FaissVectorStore.open({ index: 'HNSW32', compactAt: 0.2 });
      const vec = (i: number): number[] => Array.from({ length: 8 }, (_, d) => Math.cos(i * 0.37 + d));
      await store.upsert(
        Array.from({ length: 600 }, (_, i) => ({ id: `h${i}`, vector: vec(i), metadata: { i } })),
      );
      await store.delete(Array.from({ length: 400 }, (_, i) => `h${i}`));
      const hits = await store.query(vec(500), 5);
      expect(hits[0]?.id).toBe('h500');
      expect(hits.every((h) => Number(h.id.slice(1)) >= 400)).toBe(true);
      expect((await store.describe()).count).toBe(200);
    });

    it('refuses a bad index description, bad options and calls after close with typed errors', async () => {
      await expect(FaissVectorStore.open({ metric: 'manhattan' as never })).rejects.toSatisfy((e) =>
        isDreamAgentError(e, 'INVALID_INPUT'),
      );
      await expect(FaissVectorStore.open({ efSearch: 0 })).rejects.toSatisfy((e) =>
        isDreamAgentError(e, 'INVALID_INPUT'),
      );
      const bad = await FaissVectorStore.open({ index: 'NoSuchIndex42' });
      await expect(bad.upsert([{ id: 'a', vector: [1, 2] }])).rejects.toSatisfy((e) =>
        isDreamAgentError(e, 'INVALID_INPUT'),
      );
      // Refused before anything changed: no namespace, no vector.
      expect(await bad.namespaces()).toEqual([]);
      expect((await bad.describe()).count).toBe(0);
      const store = await FaissVectorStore.open();
      await store.close();
      await expect(store.query([1], 1)).rejects.toSatisfy((e) => isDreamAgentError(e, 'CLOSED'));
      await expect(store.save()).rejects.toSatisfy((e) => isDreamAgentError(e, 'INVALID_STATE'));
    });

    it('an unreadable directory is a typed error, not a crash', async () => {
      const directory = tempDir();
      writeFileSync(
        join(directory, 'manifest.json'),
        '{"format":1,"generation":1,"spaces":{"x":{"file":"gone","dimensions":2,"metric":"cosine","index":"Flat","count":1}}}',
      );
      await expect(FaissVectorStore.open({ directory })).rejects.toSatisfy((e) =>
        isDreamAgentError(e, 'INVALID_STATE'),
      );
    });

    it('a writer killed mid-save leaves one whole generation: index, ids and metadata agree', async () => {
      const writer = fileURLToPath(new URL('./fixtures/writer.ts', import.meta.url));
      const root = fileURLToPath(new URL('../../..', import.meta.url));
      for (const [round, index] of [
        [1, 'Flat'],
        [2, 'HNSW32'],
        [3, 'Flat'],
      ] as const) {
        const directory = tempDir();
        const child = spawn(process.execPath, ['--import', 'tsx', writer, directory, index], {
          cwd: root,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        // Wait for a first save, then kill at a moment that lands inside a later save more often than not.
        const started = Date.now();
        while (!out.includes('saved 1') && Date.now() - started < 60_000) {
          if (child.exitCode !== null) throw new Error(`writer exited: ${err}`);
          await new Promise((r) => setTimeout(r, 20));
        }
        if (round === 1) {
          // Kill as soon as the second save starts: inside it, while files are being written.
          while (!out.includes('saving 2') && child.exitCode === null) {
            await new Promise<void>((r) => setImmediate(r));
          }
        } else {
          await new Promise((r) => setTimeout(r, 50 + round * 97));
        }
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));

        const store = await FaissVectorStore.open({ directory });
        const scope = { namespace: 'kill-test' };
        expect((await store.describe(scope)).count).toBe(3000);
        const all = await store.query(
          Array.from({ length: 16 }, () => 1),
          3000,
          undefined,
          scope,
        );
        const gens = new Set(all.map((m) => m.metadata?.['gen']));
        expect(gens.size).toBe(1);
        // Every stored vector is found under its own id: the index and the id list are one pair.
        for (const i of [0, 1, 777, 2999]) {
          const own = all.find((m) => m.id === `v${i}`)!;
          const [hit] = await store.query(own.metadata!['vector'] as number[], 1, undefined, scope);
          expect(hit?.id).toBe(`v${i}`);
          expect(hit?.score).toBeCloseTo(1, 4);
        }
        // Interrupted saves leave no temp files behind once the store is opened again.
        expect(readdirSync(directory).filter((n) => n.endsWith('.tmp'))).toEqual([]);
        await store.close();
      }
    }, 120_000);
  },
);

describe.skipIf(skipReason !== undefined)(
  `FAISS HNSW efConstruction${skipReason ? ` — skipped: ${skipReason}` : ''}`,
  () => {
    // Points in 32 dimensions, i.i.d. (hard for a graph index), and queries near some of them.
    let seed = 11;
    const rand = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const vectors = Array.from({ length: 3000 }, () => Array.from({ length: 32 }, rand));
    const queries = Array.from({ length: 60 }, () => Array.from({ length: 32 }, rand));
    const items = vectors.map((vector, i) => ({ id: `v${i}`, vector }));

    const recallOf = async (store: FaissVectorStore): Promise<number> => {
      const exact = await FaissVectorStore.open({ index: 'Flat' });
      await exact.upsert(items);
      let hits = 0;
      for (const q of queries) {
        const truth = new Set((await exact.query(q, 10)).map((m) => m.id));
        hits += (await store.query(q, 10)).filter((m) => truth.has(m.id)).length;
      }
      return hits / (10 * queries.length);
    };

    it('a wider build (efConstruction) makes a better graph: recall at the same efSearch rises', async () => {
      // efSearch 10 = k: what the graph alone finds. efConstruction 1 links each insert to the single
      // candidate it finds; 200 considers plenty. (The first is a degenerate graph, so the gap is wide.)
      const sparse = await FaissVectorStore.open({ index: 'HNSW8', efConstruction: 1, efSearch: 10 });
      await sparse.upsert(items);
      const dense = await FaissVectorStore.open({ index: 'HNSW8', efConstruction: 200, efSearch: 10 });
      await dense.upsert(items);
      const low = await recallOf(sparse);
      const high = await recallOf(dense);
      expect(high).toBeGreaterThan(low + 0.15);
    }, 60_000);

    it('efSearch is the search breadth: one saved graph searched wider finds more of the exact neighbours', async () => {
      // FAISS stops exploring once efSearch visited candidates are nearer than the next: asking for more
      // neighbours does not widen it, so the store writes efSearch into the index (a reopened namespace
      // searches with the opening instance's value).
      const directory = tempDir();
      const built = await FaissVectorStore.open({ directory, index: 'HNSW8', efSearch: 10 });
      await built.upsert(items);
      await built.close();
      const narrow = await FaissVectorStore.open({ directory, index: 'HNSW8', efSearch: 10 });
      const low = await recallOf(narrow);
      await narrow.close();
      const wide = await FaissVectorStore.open({ directory, index: 'HNSW8', efSearch: 400 });
      const high = await recallOf(wide);
      await wide.close();
      expect(high).toBeGreaterThan(low + 0.1);
      expect(high).toBeGreaterThan(0.95);
    }, 60_000);

    it('the build breadth is saved with the index: a reopened namespace keeps building with it', async () => {
      const directory = tempDir();
      const first = await FaissVectorStore.open({
        directory,
        index: 'HNSW8',
        efConstruction: 1,
        efSearch: 10,
      });
      await first.upsert(items.slice(0, 10));
      await first.close();
      // Reopened without the option: the index read back still builds with efConstruction 1.
      const reopened = await FaissVectorStore.open({ directory, index: 'HNSW8', efSearch: 10 });
      await reopened.upsert(items.slice(10));
      const fresh = await FaissVectorStore.open({ index: 'HNSW8', efSearch: 10 });
      await fresh.upsert(items);
      expect(await recallOf(reopened)).toBeLessThan((await recallOf(fresh)) - 0.1);
      await reopened.close();
    }, 60_000);

    it('refuses efConstruction that is not a positive integer or for an index that is not HNSW', async () => {
      for (const efConstruction of [0, -5, 2.5, Number.NaN]) {
        await expect(FaissVectorStore.open({ index: 'HNSW32', efConstruction })).rejects.toSatisfy((e) =>
          isDreamAgentError(e, 'INVALID_INPUT'),
        );
      }
      for (const index of [undefined, 'Flat', 'IVF4,Flat']) {
        await expect(
          FaissVectorStore.open({ ...(index ? { index } : {}), efConstruction: 100 }),
        ).rejects.toSatisfy((e) => isDreamAgentError(e, 'INVALID_INPUT'));
      }
      // HNSW over a transformed space is not an index whose layout the store knows how to tune.
      const pca = await FaissVectorStore.open({ index: 'PCA16,HNSW8', efConstruction: 100 });
      await expect(pca.upsert(items.slice(0, 3))).rejects.toSatisfy((e) =>
        isDreamAgentError(e, 'INVALID_INPUT'),
      );
      expect((await pca.describe()).count ?? 0).toBe(0);
    });
  },
);

describe.skipIf(skipReason !== undefined)(
  `FAISS IVF nprobe${skipReason ? ` — skipped: ${skipReason}` : ''}`,
  () => {
    it('probing more lists finds more of the exact neighbours (nprobe reaches the trained index)', async () => {
      let seed = 3;
      const rand = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
      const vectors = Array.from({ length: 2000 }, () => Array.from({ length: 16 }, rand));
      const queries = vectors.slice(0, 40).map((v) => v.map((x) => x + 0.3 * rand()));
      const exact = await FaissVectorStore.open({ index: 'Flat' });
      await exact.upsert(vectors.map((vector, i) => ({ id: `v${i}`, vector })));
      const recallAt = async (nprobe: number): Promise<number> => {
        const ivf = await FaissVectorStore.open({ index: 'IVF32,Flat', nprobe, trainSize: 1000 });
        await ivf.upsert(vectors.map((vector, i) => ({ id: `v${i}`, vector })));
        let hits = 0;
        for (const q of queries) {
          const truth = new Set((await exact.query(q, 10)).map((m) => m.id));
          hits += (await ivf.query(q, 10)).filter((m) => truth.has(m.id)).length;
        }
        return hits / (10 * queries.length);
      };
      const one = await recallAt(1);
      const all = await recallAt(32);
      expect(all).toBeCloseTo(1, 5);
      expect(one).toBeLessThan(0.9);
    });
  },
);

/**
 * Where FAISS 1.7's `write_HNSW` keeps efConstruction and efSearch in a serialised HNSW index (after the
 * index header and five counted vectors: entry_point, max_level, then these two int32), written out
 * here independently of the adapter so the test checks the file, not the adapter's own parser.
 */
const hnswFields = (buf: Buffer): { efConstruction: number; efSearch: number; at: number } => {
  expect(buf.toString('latin1', 0, 3)).toBe('IHN');
  let at = 37 + (buf.readInt32LE(33) > 1 ? 4 : 0);
  for (const size of [8, 4, 4, 8, 4]) at += 8 + Number(buf.readBigUInt64LE(at)) * size;
  return { efConstruction: buf.readInt32LE(at + 8), efSearch: buf.readInt32LE(at + 12), at };
};

describe.skipIf(skipReason !== undefined)(
  `FAISS HNSW parameters read back${skipReason ? ` — skipped: ${skipReason}` : ''}`,
  () => {
    let seed = 5;
    const rand = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const items = Array.from({ length: 200 }, (_, i) => ({
      id: `v${i}`,
      vector: Array.from({ length: 16 }, rand),
    }));

    it('this binary keeps what the store writes: the saved index reports the efSearch and efConstruction set', async () => {
      const warn = vi.spyOn(process, 'emitWarning');
      try {
        for (const [efSearch, efConstruction] of [
          [24, 80],
          [300, 17],
        ] as const) {
          const directory = tempDir();
          const store = await FaissVectorStore.open({ directory, index: 'HNSW8', efSearch, efConstruction });
          await store.upsert(items);
          await store.close();
          const file = readdirSync(directory).find((f) => f.endsWith('.faiss'))!;
          const fields = hnswFields(readFileSync(join(directory, file)));
          expect(fields).toMatchObject({ efSearch, efConstruction });
          // Reopened at another breadth: the index it searches with reports that one.
          const reopened = await FaissVectorStore.open({ directory, index: 'HNSW8', efSearch: 99 });
          await reopened.upsert(items.slice(0, 1).map((it) => ({ ...it, id: 'extra' })));
          await reopened.close();
          const again = readdirSync(directory).find((f) => f.endsWith('.faiss'))!;
          expect(hnswFields(readFileSync(join(directory, again)))).toMatchObject({
            efSearch: 99,
            efConstruction,
          });
        }
        expect(warn.mock.calls.filter(([, o]) => JSON.stringify(o).includes('FAISS_HNSW'))).toEqual([]);
      } finally {
        warn.mockRestore();
      }
    });

    /** faiss-node as a binary that drops both fields when it reads an index (FAISS's defaults come back). */
    const ignoring = (): FaissModule => {
      const real = createRequire(import.meta.url)('faiss-node') as FaissModule;
      return {
        Index: {
          fromFactory: (d, s, m) => real.Index.fromFactory(d, s, m),
          fromBuffer: (src) => {
            const buf = Buffer.from(src);
            if (buf.toString('latin1', 0, 3) === 'IHN') {
              const { at } = hnswFields(buf);
              buf.writeInt32LE(40, at + 8);
              buf.writeInt32LE(16, at + 12);
            }
            return real.Index.fromBuffer(buf);
          },
        },
      };
    };

    it('a binary that ignores them: explicit settings are refused at open, defaults warn once and still search', async () => {
      const faiss = ignoring();
      for (const options of [
        { index: 'HNSW8', efSearch: 128 },
        { index: 'HNSW8', efConstruction: 100 },
        { index: 'HNSW8,Flat', efSearch: 32, efConstruction: 64 },
      ]) {
        await expect(FaissVectorStore.open({ ...options, faiss })).rejects.toSatisfy(
          (e) =>
            isDreamAgentError(e, 'UNAVAILABLE') &&
            (e.details as { reason?: string } | undefined)?.reason === 'hnsw_params_ignored',
        );
      }
      const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
      try {
        const directory = tempDir();
        const store = await FaissVectorStore.open({ directory, index: 'HNSW8', faiss });
        await store.upsert(items);
        // An exact copy of a stored vector finds it first.
        expect((await store.query(items[42]!.vector, 3))[0]?.id).toBe('v42');
        await store.close();
        const reopened = await FaissVectorStore.open({ directory, index: 'HNSW8', faiss });
        expect((await reopened.query(items[7]!.vector, 3))[0]?.id).toBe('v7');
        expect(await reopened.describe()).toMatchObject({ count: 200 });
        await reopened.close();
        // Flat needs no HNSW fields: efSearch set with it is not refused.
        await (await FaissVectorStore.open({ efSearch: 50, faiss })).close();
        const ours = warn.mock.calls.filter(([, o]) =>
          JSON.stringify(o).includes('DREAM_AGENT_FAISS_HNSW_PARAMS'),
        );
        expect(ours).toHaveLength(1);
        expect(String(ours[0]![0])).toMatch(/efSearch/);
      } finally {
        warn.mockRestore();
      }
    });
  },
);
