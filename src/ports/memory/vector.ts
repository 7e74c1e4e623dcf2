/**
 * The in-memory {@link VectorStore}: exact cosine similarity over every stored vector of a namespace.
 * The embedded default: right for tests, demos and up to ~100k vectors per process; use the FAISS
 * adapter (approximate indexes, persistence) or the Chroma adapter (a server) beyond.
 *
 * @packageDocumentation
 */
import type { JsonObject } from '../../model/json.js';
import type {
  VectorFilter,
  VectorItem,
  VectorMatch,
  VectorScope,
  VectorSpaceInfo,
  VectorStore,
} from '../vector.js';
import {
  checkK,
  checkSpaceChange,
  checkUpsert,
  checkVector,
  compileVectorFilter,
  TopK,
  vectorNamespace,
} from '../vector-kit.js';
import { DotMatrix } from './dot-kernel.js';

/**
 * One namespace: unit vectors in one contiguous float32 matrix (row i at `i * dim`), ids and metadata
 * in parallel arrays. Deleting swaps the last row into the hole, so rows stay dense.
 */
class Space {
  dim: number | undefined;
  model: string | undefined;
  matrix: DotMatrix | undefined;
  ids: string[] = [];
  metadata: (JsonObject | undefined)[] = [];
  readonly rowOf = new Map<string, number>();

  get size(): number {
    return this.ids.length;
  }

  put(item: VectorItem, dim: number): void {
    if (this.matrix?.dim !== dim) this.matrix = new DotMatrix(dim);
    const matrix = this.matrix;
    let row = this.rowOf.get(item.id);
    if (row === undefined) {
      row = this.ids.length;
      matrix.resize(row + 1);
      this.ids.push(item.id);
      this.metadata.push(undefined);
      this.rowOf.set(item.id, row);
    }
    const v = item.vector;
    let norm = 0;
    for (let i = 0; i < dim; i++) norm += v[i]! * v[i]!;
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    const data = matrix.data;
    const base = row * dim;
    for (let i = 0; i < dim; i++) data[base + i] = v[i]! * inv;
    // Copied once on write, so callers mutating their object later cannot change what is stored.
    this.metadata[row] = item.metadata === undefined ? undefined : structuredClone(item.metadata);
  }

  remove(id: string): boolean {
    const row = this.rowOf.get(id);
    const matrix = this.matrix;
    if (row === undefined || matrix === undefined) return false;
    const dim = matrix.dim;
    const last = this.ids.length - 1;
    if (row !== last) {
      const lastId = this.ids[last]!;
      matrix.data.copyWithin(row * dim, last * dim, last * dim + dim);
      this.ids[row] = lastId;
      this.metadata[row] = this.metadata[last];
      this.rowOf.set(lastId, row);
    }
    this.ids.pop();
    this.metadata.pop();
    this.rowOf.delete(id);
    matrix.resize(last);
    return true;
  }
}

/**
 * Exact nearest-neighbour search by cosine similarity, in memory, per namespace. Vectors are normalised
 * on insert into one contiguous `Float32Array`; a query is one pass of dot products with a top-k heap
 * and copies only the metadata of the `k` results (about 1 ms for 10k vectors of 384 dimensions).
 * Scores are cosine similarities in [-1, 1] (float32 precision).
 *
 * @example
 * ```ts
 * const store = new MemoryVectorStore();
 * await store.upsert([{ id: 'a', vector: [1, 0], metadata: { sessionId: 's1' } }], { namespace: 'tenant:acme' });
 * await store.query([1, 0.1], 5, { sessionId: 's1' }, { namespace: 'tenant:acme' }); // [{ id: 'a', score: 0.995…, … }]
 * ```
 */
export class MemoryVectorStore implements VectorStore {
  readonly #spaces = new Map<string, Space>();

  /** Number of stored vectors over all namespaces. */
  get size(): number {
    let n = 0;
    for (const s of this.#spaces.values()) n += s.size;
    return n;
  }

  #space(scope: VectorScope | undefined, create: true): Space;
  #space(scope: VectorScope | undefined, create: false): Space | undefined;
  #space(scope: VectorScope | undefined, create: boolean): Space | undefined {
    const ns = vectorNamespace(scope);
    let space = this.#spaces.get(ns);
    if (space === undefined && create) {
      space = new Space();
      this.#spaces.set(ns, space);
    }
    return space;
  }

  /**
   * Inserts or replaces vectors by id. All vectors of a namespace have the same length; a batch that
   * fails a check stores nothing.
   *
   * @param items - the vectors
   * @param scope - the namespace
   * @throws DreamAgentError `INVALID_INPUT` for an empty id, a non-finite value or a length mismatch
   */
  async upsert(items: VectorItem[], scope?: VectorScope): Promise<void> {
    await Promise.resolve();
    const existing = this.#space(scope, false);
    const dim = checkUpsert(items, existing?.dim);
    if (dim === undefined) return;
    const space = existing ?? this.#space(scope, true);
    space.dim = dim;
    for (const item of items) space.put(item, dim);
  }

  /**
   * Returns the `k` stored vectors most similar to `vector` whose metadata matches `filter`.
   *
   * @param vector - the query
   * @param k - how many at most
   * @param filter - a metadata filter (see `VectorFilter`)
   * @param scope - the namespace
   * @returns matches, highest cosine first (ties by id)
   * @throws DreamAgentError `INVALID_INPUT` for a bad vector, `k` or filter
   */
  async query(
    vector: number[],
    k: number,
    filter?: VectorFilter,
    scope?: VectorScope,
  ): Promise<VectorMatch[]> {
    await Promise.resolve();
    checkK(k);
    const space = this.#space(scope, false);
    checkVector(vector, space?.dim, 'query');
    const match = compileVectorFilter(filter);
    if (space === undefined || space.dim === undefined || space.size === 0 || k === 0) return [];
    const dim = space.dim;
    const q = new Float32Array(dim);
    let norm = 0;
    for (let i = 0; i < dim; i++) norm += vector[i]! * vector[i]!;
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let i = 0; i < dim; i++) q[i] = vector[i]! * inv;

    const { ids, metadata } = space;
    const scores = space.matrix!.scores(q);
    const top = new TopK(k, (row) => ids[row]!);
    const n = space.size;
    for (let row = 0; row < n; row++) {
      const score = scores[row]!;
      // The filter runs only for rows that would enter the top k: most rows never reach it.
      if (score < top.threshold || (match !== undefined && !match(metadata[row]))) continue;
      top.push(score, row);
    }
    return top.sorted().map(({ row, score }) => {
      const m: VectorMatch = { id: ids[row]!, score };
      const meta = metadata[row];
      if (meta !== undefined) m.metadata = structuredClone(meta);
      return m;
    });
  }

  /**
   * Removes vectors by id; unknown ids are ignored.
   *
   * @param ids - the ids
   * @param scope - the namespace
   */
  async delete(ids: string[], scope?: VectorScope): Promise<void> {
    await Promise.resolve();
    const space = this.#space(scope, false);
    if (space === undefined || space.dim === undefined) return;
    for (const id of ids) space.remove(id);
  }

  /**
   * Deletes every vector of a namespace whose metadata matches.
   *
   * @param filter - a metadata filter
   * @param scope - the namespace
   * @returns how many were deleted
   * @throws DreamAgentError `INVALID_INPUT` for a bad filter
   */
  async deleteWhere(filter: VectorFilter, scope?: VectorScope): Promise<number> {
    await Promise.resolve();
    const match = compileVectorFilter(filter) ?? ((): boolean => true);
    const space = this.#space(scope, false);
    if (space === undefined || space.dim === undefined) return 0;
    const doomed = space.ids.filter((_, row) => match(space.metadata[row]));
    for (const id of doomed) space.remove(id);
    return doomed.length;
  }

  /**
   * Drops a namespace.
   *
   * @param namespace - the namespace
   */
  async dropNamespace(namespace: string): Promise<void> {
    await Promise.resolve();
    this.#spaces.delete(vectorNamespace({ namespace }));
  }

  /** @returns the namespaces holding vectors or a recorded space, sorted */
  async namespaces(): Promise<string[]> {
    await Promise.resolve();
    return [...this.#spaces]
      .filter(([, s]) => s.size > 0 || s.model !== undefined)
      .map(([ns]) => ns)
      .sort();
  }

  /**
   * @param scope - the namespace
   * @returns its dimensions, model and count
   */
  async describe(scope?: VectorScope): Promise<VectorSpaceInfo> {
    await Promise.resolve();
    const space = this.#space(scope, false);
    const info: VectorSpaceInfo = { count: space?.size ?? 0 };
    if (space?.dim !== undefined) info.dimensions = space.dim;
    if (space?.model !== undefined) info.model = space.model;
    return info;
  }

  /**
   * Records the embedding space of a namespace.
   *
   * @param space - dimensions and model
   * @param scope - the namespace
   * @throws DreamAgentError `INVALID_STATE` when the non-empty namespace holds another model or size
   */
  async setSpace(space: { dimensions: number; model?: string }, scope?: VectorScope): Promise<void> {
    await Promise.resolve();
    const s = this.#space(scope, true);
    checkSpaceChange(vectorNamespace(scope), { dimensions: s.dim, model: s.model, count: s.size }, space);
    s.dim = space.dimensions;
    if (space.model !== undefined) s.model = space.model;
  }
}
