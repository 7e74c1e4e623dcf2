/**
 * The in-memory {@link VectorStore}: exact cosine similarity over every stored vector. Right for tests,
 * demos and up to tens of thousands of vectors per process; use the FAISS or Chroma adapter beyond.
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../../errors/index.js';
import type { Json, JsonObject } from '../../model/json.js';
import type { VectorItem, VectorMatch, VectorStore } from '../vector.js';

interface Entry {
  unit: Float64Array;
  metadata?: JsonObject;
}

function sameJson(a: Json | undefined, b: Json): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Exact nearest-neighbour search by cosine similarity, in memory. Vectors are normalised on insert, so
 * a query costs one dot product per stored vector. Scores are cosine similarities in [-1, 1].
 *
 * @example
 * ```ts
 * const store = new MemoryVectorStore();
 * await store.upsert([{ id: 'a', vector: [1, 0], metadata: { sessionId: 's1' } }]);
 * await store.query([1, 0.1], 5, { sessionId: 's1' }); // [{ id: 'a', score: 0.995…, metadata: … }]
 * ```
 */
export class MemoryVectorStore implements VectorStore {
  readonly #items = new Map<string, Entry>();
  #dimensions: number | undefined;

  /** Number of stored vectors. */
  get size(): number {
    return this.#items.size;
  }

  #check(vector: readonly number[], what: string): void {
    if (!Array.isArray(vector) || vector.length === 0 || !vector.every((v) => Number.isFinite(v))) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `${what}: a vector must be a non-empty array of finite numbers`,
      );
    }
    if (this.#dimensions !== undefined && vector.length !== this.#dimensions) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `${what}: vector has ${vector.length} dimensions, the store holds ${this.#dimensions}`,
        { details: { expected: this.#dimensions, got: vector.length } },
      );
    }
  }

  /**
   * Inserts or replaces vectors by id. All vectors of a store have the same length.
   *
   * @param items - the vectors
   * @throws DreamAgentError `INVALID_INPUT` for an empty id, a non-finite value or a length mismatch
   */
  async upsert(items: VectorItem[]): Promise<void> {
    for (const item of items) {
      if (typeof item.id !== 'string' || item.id === '')
        throw new DreamAgentError('INVALID_INPUT', 'upsert: an id must be a non-empty string');
      this.#check(item.vector, `upsert ${item.id}`);
      this.#dimensions ??= item.vector.length;
    }
    for (const item of items) {
      let norm = 0;
      for (const v of item.vector) norm += v * v;
      const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
      const entry: Entry = { unit: Float64Array.from(item.vector, (v) => v * inv) };
      if (item.metadata !== undefined) entry.metadata = structuredClone(item.metadata);
      this.#items.set(item.id, entry);
    }
  }

  /**
   * Returns the `k` stored vectors most similar to `vector` whose metadata has every field of `filter`.
   *
   * @param vector - the query
   * @param k - how many at most
   * @param filter - metadata fields that must be equal
   * @returns matches, highest cosine first (ties by id)
   * @throws DreamAgentError `INVALID_INPUT` for a bad vector or `k`
   */
  async query(vector: number[], k: number, filter?: JsonObject): Promise<VectorMatch[]> {
    this.#check(vector, 'query');
    if (!Number.isInteger(k) || k < 0)
      throw new DreamAgentError('INVALID_INPUT', `query: k must be a non-negative integer, got ${k}`);
    let norm = 0;
    for (const v of vector) norm += v * v;
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    const conditions = Object.entries(filter ?? {});
    const matches: VectorMatch[] = [];
    for (const [id, entry] of this.#items) {
      if (!conditions.every(([key, value]) => sameJson(entry.metadata?.[key], value))) continue;
      let dot = 0;
      const u = entry.unit;
      for (let i = 0; i < u.length; i++) dot += u[i]! * (vector[i] ?? 0);
      const match: VectorMatch = { id, score: dot * inv };
      if (entry.metadata !== undefined) match.metadata = structuredClone(entry.metadata);
      matches.push(match);
    }
    matches.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return matches.slice(0, k);
  }

  /**
   * Removes vectors by id; unknown ids are ignored.
   *
   * @param ids - the ids
   */
  async delete(ids: string[]): Promise<void> {
    for (const id of ids) this.#items.delete(id);
    if (this.#items.size === 0) this.#dimensions = undefined;
  }
}
