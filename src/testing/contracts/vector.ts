import { describe, expect, it } from './api.js';
import { loadFastCheck } from './fast-check.js';
import { isDreamAgentError } from '../../errors/index.js';
import type { VectorItem, VectorStore } from '../../ports/vector.js';

/** What a VectorStore factory returns. */
export interface VectorContractSubject {
  /** A fresh, empty store using cosine similarity (scores are cosines). */
  store: VectorStore;
  /**
   * Closes `store` (flushing whatever it persists) and opens a new instance over the same data. Stores
   * that keep nothing across instances omit it, and the persistence case is skipped with that reason.
   */
  reopen?: () => Promise<VectorStore>;
  /** Called after each test (close clients, delete directories…). */
  cleanup?: () => Promise<void>;
}

/** Options of {@link vectorContract}. */
export interface VectorContractOptions {
  /** Cases to skip, each with the reason printed in the test name. */
  skip?: Record<string, string>;
  /** Runs of the property case (default 15; servers may want fewer). */
  propertyRuns?: number;
}

async function expectCode(p: Promise<unknown>, code: string): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    expect(isDreamAgentError(e), `expected a DreamAgentError, got ${String(e)}`).toBe(true);
    expect((e as { code: string }).code).toBe(code);
    return e;
  }
  throw new Error(`expected the call to fail with ${code}`);
}

/** A deterministic pseudo-random generator (mulberry32), so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const randomVectors = (n: number, dim: number, seed: number): number[][] => {
  const r = rng(seed);
  return Array.from({ length: n }, () => Array.from({ length: dim }, () => r() * 2 - 1));
};

const cosine = (a: readonly number[], b: readonly number[]): number => {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
};

let nsCounter = 0;
/** A namespace unique to this test (stores on a server outlive the test). */
const freshNamespace = (): string =>
  `ct-${Date.now().toString(36)}-${(nsCounter += 1)}-${Math.random().toString(36).slice(2, 6)}`;

const ids = (ms: readonly { id: string }[]): string[] => ms.map((m) => m.id);

/**
 * The VectorStore contract suite. Every VectorStore runs it against its real backend — the memory
 * store in the core, FAISS and Chroma in their adapters: upsert and replace, query order and scores,
 * filters (applied before the top k is cut, not after), delete and delete-by-filter, namespace
 * isolation, dimension and model checks with typed errors, the empty store, copy semantics, a
 * persistence round trip where the store persists, concurrent writers, and a property test against a
 * model of the store.
 *
 * @param name - shown in the describe block
 * @param factory - creates a fresh store (cosine similarity) for each test
 * @param options - cases to skip (each with a reason), property runs
 * @example
 * ```ts
 * vectorContract('MemoryVectorStore', async () => ({ store: new MemoryVectorStore() }));
 * ```
 */
export function vectorContract(
  name: string,
  factory: () => Promise<VectorContractSubject>,
  options: VectorContractOptions = {},
): void {
  describe(`VectorStore contract: ${name}`, () => {
    const cases: [string, (s: VectorContractSubject, namespace: string) => Promise<void>][] = [];
    const test = (
      title: string,
      fn: (s: VectorContractSubject, namespace: string) => Promise<void>,
    ): void => {
      cases.push([title, fn]);
    };

    test('upsert stores vectors with metadata; upserting an id again replaces both', async ({
      store,
    }, namespace) => {
      const scope = { namespace };
      await store.upsert(
        [
          { id: 'a', vector: [1, 0, 0], metadata: { tag: 'first', n: 1 } },
          { id: 'b', vector: [0, 1, 0] },
        ],
        scope,
      );
      let [top] = await store.query([1, 0, 0], 1, undefined, scope);
      expect(top?.id).toBe('a');
      expect(top?.score).toBeCloseTo(1, 4);
      expect(top?.metadata).toEqual({ tag: 'first', n: 1 });
      await store.upsert([{ id: 'a', vector: [0, 0, 1], metadata: { tag: 'second' } }], scope);
      [top] = await store.query([0, 0, 1], 1, undefined, scope);
      expect(top?.id).toBe('a');
      expect(top?.metadata).toEqual({ tag: 'second' });
      const all = await store.query([1, 0, 0], 10, undefined, scope);
      expect(ids(all).sort()).toEqual(['a', 'b']);
      if (store.describe) expect((await store.describe(scope)).count).toBe(2);
    });

    test('query returns the k closest, best first, with cosine scores', async ({ store }, namespace) => {
      const scope = { namespace };
      const vectors = randomVectors(60, 16, 7);
      await store.upsert(
        vectors.map((vector, i) => ({ id: `v${i}`, vector })),
        scope,
      );
      const q = randomVectors(1, 16, 99)[0]!;
      const expected = vectors
        .map((v, i) => ({ id: `v${i}`, score: cosine(q, v) }))
        .sort((a, b) => b.score - a.score);
      const got = await store.query(q, 10, undefined, scope);
      expect(got).toHaveLength(10);
      expect(ids(got)).toEqual(ids(expected.slice(0, 10)));
      got.forEach((m, i) => expect(m.score).toBeCloseTo(expected[i]!.score, 4));
      for (let i = 1; i < got.length; i++) expect(got[i - 1]!.score).toBeGreaterThanOrEqual(got[i]!.score);
      expect(await store.query(q, 0, undefined, scope)).toEqual([]);
      expect(await store.query(q, 500, undefined, scope)).toHaveLength(60);
    });

    test('filters select before the top k is cut: equality, $in/$nin, $ne, ranges, $exists, $and/$or', async ({
      store,
    }, namespace) => {
      const scope = { namespace };
      // The three "rare" items are the farthest from the query: a store that filtered after cutting the
      // top k would return fewer than three.
      const items: VectorItem[] = Array.from({ length: 40 }, (_, i) => ({
        id: `i${i}`,
        vector: i < 3 ? [-1, 0.01 * i, 0] : [1, 0.01 * i, 0.1],
        metadata: {
          group: i < 3 ? 'rare' : 'common',
          n: i,
          ...(i % 2 === 0 ? { even: true } : {}),
        },
      }));
      await store.upsert(items, scope);
      const q = [1, 0, 0];
      expect(ids(await store.query(q, 3, { group: 'rare' }, scope)).sort()).toEqual(['i0', 'i1', 'i2']);
      expect(ids(await store.query(q, 10, { group: { $in: ['rare'] } }, scope)).sort()).toEqual([
        'i0',
        'i1',
        'i2',
      ]);
      expect(await store.query(q, 50, { group: { $nin: ['rare', 'common'] } }, scope)).toEqual([]);
      expect(await store.query(q, 50, { group: { $ne: 'common' } }, scope)).toHaveLength(3);
      expect(ids(await store.query(q, 50, { n: { $gte: 10, $lt: 13 } }, scope)).sort()).toEqual([
        'i10',
        'i11',
        'i12',
      ]);
      expect(await store.query(q, 50, { even: { $exists: true } }, scope)).toHaveLength(20);
      expect(
        ids(
          await store.query(
            q,
            50,
            { $or: [{ n: 1 }, { $and: [{ group: 'common' }, { n: { $gt: 38 } }] }] },
            scope,
          ),
        ).sort(),
      ).toEqual(['i1', 'i39']);
      expect(await store.query(q, 50, { group: 'missing' }, scope)).toEqual([]);
      await expectCode(store.query(q, 5, { n: { $near: 3 } }, scope), 'INVALID_INPUT');
      await expectCode(store.query(q, 5, { $nor: [] }, scope), 'INVALID_INPUT');
    });

    test('delete removes by id and ignores unknown ids; deleteWhere removes by filter', async ({
      store,
    }, namespace) => {
      const scope = { namespace };
      await store.upsert(
        [
          { id: 'x', vector: [1, 0], metadata: { sessionId: 's1' } },
          { id: 'y', vector: [0.9, 0.1], metadata: { sessionId: 's1' } },
          { id: 'z', vector: [0, 1], metadata: { sessionId: 's2' } },
        ],
        scope,
      );
      await store.delete(['x', 'never-there'], scope);
      expect(ids(await store.query([1, 0], 10, undefined, scope)).sort()).toEqual(['y', 'z']);
      if (store.deleteWhere) {
        expect(await store.deleteWhere({ sessionId: 's1' }, scope)).toBe(1);
        expect(ids(await store.query([1, 0], 10, undefined, scope))).toEqual(['z']);
        expect(await store.deleteWhere({ sessionId: 's1' }, scope)).toBe(0);
      }
      await store.delete(['z'], scope);
      expect(await store.query([1, 0], 10, undefined, scope)).toEqual([]);
      // A deleted id can be written again.
      await store.upsert([{ id: 'x', vector: [0, 1], metadata: { again: true } }], scope);
      expect(await store.query([0, 1], 10, undefined, scope)).toMatchObject([
        { id: 'x', metadata: { again: true } },
      ]);
    });

    test('namespaces are isolated: same ids, different dimensions, drop one, the other stays', async ({
      store,
    }, namespace) => {
      const a = { namespace: `${namespace}-a` };
      const b = { namespace: `${namespace}-b` };
      await store.upsert([{ id: 'same', vector: [1, 0], metadata: { owner: 'a' } }], a);
      await store.upsert([{ id: 'same', vector: [0, 1, 0], metadata: { owner: 'b' } }], b);
      expect(await store.query([1, 0], 5, undefined, a)).toMatchObject([
        { id: 'same', metadata: { owner: 'a' } },
      ]);
      expect(await store.query([0, 1, 0], 5, undefined, b)).toMatchObject([
        { id: 'same', metadata: { owner: 'b' } },
      ]);
      expect(await store.query([1, 0], 5, { owner: 'b' }, a)).toEqual([]);
      await store.delete(['same'], a);
      expect(await store.query([0, 1, 0], 5, undefined, b)).toHaveLength(1);
      if (store.dropNamespace) {
        await store.upsert([{ id: 'again', vector: [1, 0] }], a);
        await store.dropNamespace(b.namespace);
        expect(await store.query([0, 1, 0], 5, undefined, b)).toEqual([]);
        expect(await store.query([1, 0], 5, undefined, a)).toHaveLength(1);
        if (store.namespaces) {
          const names = await store.namespaces();
          expect(names).toContain(a.namespace);
          expect(names).not.toContain(b.namespace);
        }
        // A dropped namespace starts over with any size.
        await store.upsert([{ id: 'n', vector: [1, 2, 3, 4] }], b);
        expect(await store.query([1, 2, 3, 4], 1, undefined, b)).toHaveLength(1);
      }
      await expectCode(store.query([1, 0], 1, undefined, { namespace: 'bad namespace!' }), 'INVALID_INPUT');
    });

    test('a dimension mismatch is a typed error and stores nothing of the batch', async ({
      store,
    }, namespace) => {
      const scope = { namespace };
      await store.upsert([{ id: 'a', vector: [1, 0, 0] }], scope);
      const err = await expectCode(
        store.upsert(
          [
            { id: 'b', vector: [0, 1, 0] },
            { id: 'c', vector: [0, 1] },
          ],
          scope,
        ),
        'INVALID_INPUT',
      );
      expect((err as { details?: { reason?: string } }).details?.reason).toBe('dimension_mismatch');
      await expectCode(store.query([1, 0], 1, undefined, scope), 'INVALID_INPUT');
      expect(ids(await store.query([1, 0, 0], 10, undefined, scope))).toEqual(['a']);
      await expectCode(store.upsert([{ id: '', vector: [1, 0, 0] }], scope), 'INVALID_INPUT');
      await expectCode(store.upsert([{ id: 'nan', vector: [1, Number.NaN, 0] }], scope), 'INVALID_INPUT');
      await expectCode(store.query([1, 0, 0], -1, undefined, scope), 'INVALID_INPUT');
      await expectCode(store.query([1, 0, 0], 1.5, undefined, scope), 'INVALID_INPUT');
      expect(ids(await store.query([1, 0, 0], 10, undefined, scope))).toEqual(['a']);
    });

    test('an embedding model change against a non-empty namespace is refused with INVALID_STATE', async ({
      store,
    }, namespace) => {
      if (!store.setSpace || !store.describe) return;
      const scope = { namespace };
      await store.setSpace({ dimensions: 3, model: 'model-a' }, scope);
      await store.upsert([{ id: 'a', vector: [1, 0, 0] }], scope);
      expect(await store.describe(scope)).toEqual({ dimensions: 3, model: 'model-a', count: 1 });
      await store.setSpace({ dimensions: 3, model: 'model-a' }, scope);
      const err = await expectCode(
        store.setSpace({ dimensions: 3, model: 'model-b' }, scope),
        'INVALID_STATE',
      );
      expect((err as { details?: { reason?: string } }).details?.reason).toBe('embedding_space_changed');
      await expectCode(store.setSpace({ dimensions: 4, model: 'model-a' }, scope), 'INVALID_STATE');
      expect(await store.describe(scope)).toEqual({ dimensions: 3, model: 'model-a', count: 1 });
    });

    test('an empty store answers queries with nothing and ignores deletes', async ({ store }, namespace) => {
      const scope = { namespace };
      expect(await store.query([1, 2, 3], 5, undefined, scope)).toEqual([]);
      expect(await store.query([1, 2, 3], 5, { any: 'thing' }, scope)).toEqual([]);
      await store.delete(['nothing'], scope);
      await store.upsert([], scope);
      if (store.deleteWhere) expect(await store.deleteWhere({}, scope)).toBe(0);
      if (store.describe) expect((await store.describe(scope)).count).toBe(0);
    });

    test('stored metadata is isolated from the caller on both sides', async ({ store }, namespace) => {
      const scope = { namespace };
      const metadata = { tags: ['one'], nested: { deep: 1 } };
      await store.upsert([{ id: 'a', vector: [1, 0], metadata }], scope);
      metadata.tags.push('mutated');
      metadata.nested.deep = 2;
      const [first] = await store.query([1, 0], 1, undefined, scope);
      expect(first?.metadata).toEqual({ tags: ['one'], nested: { deep: 1 } });
      (first!.metadata!['tags'] as string[]).push('again');
      const [second] = await store.query([1, 0], 1, undefined, scope);
      expect(second?.metadata).toEqual({ tags: ['one'], nested: { deep: 1 } });
    });

    test('persistence: a reopened store answers as before', async (s, namespace) => {
      if (s.reopen === undefined) throw new Error('no reopen');
      const scope = { namespace };
      const vectors = randomVectors(30, 8, 3);
      await s.store.upsert(
        vectors.map((vector, i) => ({ id: `p${i}`, vector, metadata: { i, even: i % 2 === 0 } })),
        scope,
      );
      await s.store.delete(['p0'], scope);
      if (s.store.setSpace) await s.store.setSpace({ dimensions: 8, model: 'm' }, scope);
      const q = vectors[5]!;
      const before = await s.store.query(q, 5, { even: false }, scope);
      const reopened = await s.reopen();
      const after = await reopened.query(q, 5, { even: false }, scope);
      expect(ids(after)).toEqual(ids(before));
      after.forEach((m, i) => {
        expect(m.score).toBeCloseTo(before[i]!.score, 5);
        expect(m.metadata).toEqual(before[i]!.metadata);
      });
      expect(await reopened.query(vectors[0]!, 1, { i: 0 }, scope)).toEqual([]);
      if (reopened.describe)
        expect(await reopened.describe(scope)).toMatchObject({ dimensions: 8, count: 29 });
      await reopened.upsert([{ id: 'p0', vector: vectors[0]! }], scope);
      expect(ids(await reopened.query(vectors[0]!, 1, undefined, scope))).toEqual(['p0']);
    });

    test('concurrent writers: parallel upserts and deletes leave exactly the expected set', async ({
      store,
    }, namespace) => {
      const scope = { namespace };
      const vectors = randomVectors(200, 8, 11);
      const batches = Array.from({ length: 10 }, (_, b) =>
        vectors
          .slice(b * 20, b * 20 + 20)
          .map((vector, i) => ({ id: `c${b * 20 + i}`, vector, metadata: { b } })),
      );
      await Promise.all(batches.map((batch) => store.upsert(batch, scope)));
      // Racing replacements of the same ids: the last writer wins per id, never a torn record.
      await Promise.all(
        [0, 1, 2].map((w) =>
          store.upsert([{ id: 'c0', vector: vectors[w]!, metadata: { writer: w } }], scope),
        ),
      );
      await Promise.all([
        store.delete(['c1', 'c2'], scope),
        store.delete(['c3'], scope),
        store.upsert([{ id: 'extra', vector: vectors[199]! }], scope),
      ]);
      const all = await store.query(vectors[0]!, 1000, undefined, scope);
      const expected = new Set([...vectors.keys()].map((i) => `c${i}`));
      for (const gone of ['c1', 'c2', 'c3']) expected.delete(gone);
      expected.add('extra');
      expect(new Set(ids(all))).toEqual(expected);
      expect(all).toHaveLength(expected.size);
      const c0 = all.find((m) => m.id === 'c0');
      const writer = c0?.metadata?.['writer'];
      expect([0, 1, 2]).toContain(writer);
      const [nearest] = await store.query(vectors[writer as number]!, 1, { writer: writer! }, scope);
      expect(nearest?.score).toBeCloseTo(1, 4);
    });

    test('property: after any sequence of upserts and deletes, queries see exactly the live ids', async ({
      store,
    }, namespace) => {
      // fast-check is loaded here, not at module load: users of `dream-agent/testing` who never run this
      // suite (Jest users of ScriptedModel, ManualClock…) do not need it installed.
      const fc = await loadFastCheck();
      let run = 0;
      const op = fc.oneof(
        fc.record({
          kind: fc.constant('upsert' as const),
          ids: fc.uniqueArray(fc.integer({ min: 0, max: 15 }), { minLength: 1, maxLength: 5 }),
          tag: fc.constantFrom('a', 'b'),
        }),
        fc.record({
          kind: fc.constant('delete' as const),
          ids: fc.uniqueArray(fc.integer({ min: 0, max: 15 }), { maxLength: 4 }),
        }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 8 }), async (ops) => {
          const scope = { namespace: `${namespace}-${(run += 1)}` };
          const model = new Map<string, string>();
          const r = rng(run);
          for (const o of ops) {
            if (o.kind === 'upsert') {
              await store.upsert(
                o.ids.map((i) => ({
                  id: `k${i}`,
                  vector: [r() + 0.01, r(), r(), r()],
                  metadata: { tag: o.tag },
                })),
                scope,
              );
              for (const i of o.ids) model.set(`k${i}`, o.tag);
            } else {
              await store.delete(
                o.ids.map((i) => `k${i}`),
                scope,
              );
              for (const i of o.ids) model.delete(`k${i}`);
            }
          }
          const all = await store.query([1, 1, 1, 1], 100, undefined, scope);
          expect(ids(all).sort()).toEqual([...model.keys()].sort());
          const tagged = await store.query([1, 1, 1, 1], 100, { tag: 'a' }, scope);
          expect(ids(tagged).sort()).toEqual(
            [...model]
              .filter(([, t]) => t === 'a')
              .map(([id]) => id)
              .sort(),
          );
          if (store.dropNamespace) await store.dropNamespace(scope.namespace);
        }),
        { numRuns: options.propertyRuns ?? 15 },
      );
    });

    for (const [title, fn] of cases) {
      const reason = options.skip?.[title];
      if (reason !== undefined) {
        it.skip(`${title} — skipped: ${reason}`, () => {});
        continue;
      }
      it(title, async () => {
        const subject = await factory();
        if (title.startsWith('persistence') && subject.reopen === undefined) {
          await subject.cleanup?.();
          throw new Error(
            `${name} has no reopen(): skip '${title}' with a reason (e.g. "keeps nothing across instances")`,
          );
        }
        try {
          await fn(subject, freshNamespace());
        } finally {
          await subject.cleanup?.();
        }
      });
    }
  });
}

/** The case titles of {@link vectorContract}, for `skip` maps. */
export const VECTOR_CONTRACT_PERSISTENCE_CASE = 'persistence: a reopened store answers as before';
