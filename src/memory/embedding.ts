/**
 * Embedding plumbing shared by every use of vectors: a caching, batching, checking wrapper around any
 * {@link Embedder}, and the check that an index is only ever fed vectors of the model it was built with.
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../errors/index.js';
import type { Json } from '../model/json.js';
import type { Cache } from '../ports/cache.js';
import type { Embedder, VectorScope, VectorStore } from '../ports/vector.js';
import { checkSpaceChange, vectorNamespace } from '../ports/vector-kit.js';
import { sha256Hex } from '../tools/canonical.js';

/** Options of {@link CachedEmbedder}. */
export interface CachedEmbedderOptions {
  /** Where vectors are cached (a memory LRU, Redis…); cache errors count as misses. */
  cache?: Cache;
  /** Cache entry lifetime in ms (default 30 days). */
  ttlMs?: number;
  /** Texts per call to the wrapped embedder (default 128). */
  batchSize?: number;
  /**
   * The model id used in cache keys and recorded with indexes (default: the embedder's `model`, or
   * `unnamed-<dimensions>`). Two embedders with different models must never share cache entries.
   */
  model?: string;
}

/**
 * Wraps an {@link Embedder}: identical texts are embedded once per call, cached vectors are reused
 * across calls through the Cache port (key: model, dimensions and the SHA-256 of the text), misses go
 * to the embedder in batches, and every vector returned is checked for length and finiteness.
 *
 * @example
 * ```ts
 * const embedder = new CachedEmbedder(new OpenAIEmbedder({ model: 'text-embedding-3-small' }), { cache: new MemoryCache() });
 * await embedder.embed(['quarterly sales', 'quarterly sales']); // one text sent
 * ```
 */
export class CachedEmbedder implements Embedder {
  /** The length of every vector returned. */
  readonly dimensions: number;
  /** The model id (cache keys, index records). */
  readonly model: string;
  /** Texts sent to the wrapped embedder so far (cache misses). */
  embedded = 0;
  readonly #inner: Embedder;
  readonly #cache: Cache | undefined;
  readonly #ttl: number;
  readonly #batch: number;

  /**
   * @param inner - the embedder to wrap
   * @param options - cache, TTL, batch size, model id
   * @throws DreamAgentError `INVALID_INPUT` for a bad batch size, TTL or dimension count
   */
  constructor(inner: Embedder, options: CachedEmbedderOptions = {}) {
    if (!Number.isInteger(inner.dimensions) || inner.dimensions < 1) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `embedder dimensions must be a positive integer, got ${String(inner.dimensions)}`,
      );
    }
    this.#inner = inner;
    this.dimensions = inner.dimensions;
    this.model = options.model ?? inner.model ?? `unnamed-${inner.dimensions}`;
    this.#cache = options.cache;
    this.#ttl = options.ttlMs ?? 30 * 24 * 3600 * 1000;
    this.#batch = options.batchSize ?? 128;
    if (!Number.isInteger(this.#batch) || this.#batch < 1) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `batchSize must be a positive integer, got ${String(this.#batch)}`,
      );
    }
    if (!(this.#ttl > 0))
      throw new DreamAgentError('INVALID_INPUT', `ttlMs must be positive, got ${String(this.#ttl)}`);
  }

  /**
   * The cache key of a text.
   *
   * @param text - the text
   * @returns `dream-agent:embedding:<model>:<dimensions>:<sha256(text)>`
   */
  key(text: string): string {
    return `dream-agent:embedding:${encodeURIComponent(this.model)}:${this.dimensions}:${sha256Hex(text)}`;
  }

  /**
   * Embeds texts.
   *
   * @param texts - the texts
   * @returns one vector per text, in order
   * @throws DreamAgentError `LLM_ERROR` (not retryable, `details.reason = 'dimension_mismatch'`) when the
   *   wrapped embedder returns a vector of another length, a non-finite value or too few vectors;
   *   whatever the wrapped embedder throws
   */
  async embed(texts: string[]): Promise<number[][]> {
    const unique = [...new Set(texts)];
    const found = new Map<string, number[]>();
    if (this.#cache !== undefined) {
      const cache = this.#cache;
      const hits = await Promise.all(
        unique.map((t) =>
          cache.get(this.key(t)).then(
            (v) => v,
            () => undefined,
          ),
        ),
      );
      hits.forEach((v, i) => {
        if (Array.isArray(v) && v.length === this.dimensions && v.every((x) => typeof x === 'number')) {
          found.set(unique[i]!, v as number[]);
        }
      });
    }
    const missing = unique.filter((t) => !found.has(t));
    for (let i = 0; i < missing.length; i += this.#batch) {
      const batch = missing.slice(i, i + this.#batch);
      const vectors = await this.#inner.embed(batch);
      if (!Array.isArray(vectors) || vectors.length !== batch.length) {
        throw new DreamAgentError(
          'LLM_ERROR',
          `the embedder returned ${Array.isArray(vectors) ? vectors.length : 'no'} vectors for ${batch.length} texts`,
          { retryable: false },
        );
      }
      this.embedded += batch.length;
      vectors.forEach((v, j) => {
        checkEmbedding(v, this.dimensions, this.model);
        found.set(batch[j]!, v);
      });
      if (this.#cache !== undefined) {
        const cache = this.#cache;
        await Promise.all(
          batch.map((t, j) => cache.set(this.key(t), vectors[j]! as Json, this.#ttl).catch(() => undefined)),
        );
      }
    }
    return texts.map((t) => found.get(t)!);
  }
}

/**
 * Checks one vector from an embedder.
 *
 * @param vector - what the embedder returned
 * @param dimensions - the length it promised
 * @param model - named in the message
 * @throws DreamAgentError `LLM_ERROR` (not retryable) with `details.reason = 'dimension_mismatch'` or `'not_finite'`
 */
export function checkEmbedding(
  vector: unknown,
  dimensions: number,
  model: string,
): asserts vector is number[] {
  if (!Array.isArray(vector) || vector.length !== dimensions) {
    throw new DreamAgentError(
      'LLM_ERROR',
      `embedding model "${model}" returned a vector of ${Array.isArray(vector) ? vector.length : 'no'} dimensions; ${dimensions} were expected`,
      {
        retryable: false,
        details: {
          reason: 'dimension_mismatch',
          expected: dimensions,
          got: Array.isArray(vector) ? vector.length : null,
        },
      },
    );
  }
  if (!vector.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new DreamAgentError('LLM_ERROR', `embedding model "${model}" returned a non-finite value`, {
      retryable: false,
      details: { reason: 'not_finite' },
    });
  }
}

/**
 * Makes sure a namespace is, or becomes, the vector space of an embedder: records dimensions and model
 * with stores that keep them (`setSpace`), and otherwise compares the dimensions the store reports.
 *
 * @param store - the vector store
 * @param embedder - the embedder about to write or query
 * @param scope - the namespace
 * @throws DreamAgentError `INVALID_STATE` (`details.reason = 'embedding_space_changed'`) when the
 *   namespace holds vectors of another model or length
 * @example
 * ```ts
 * await ensureEmbeddingSpace(store, embedder, { namespace: 'docs' }); // throws if 'docs' was built with another model
 * ```
 */
export async function ensureEmbeddingSpace(
  store: VectorStore,
  embedder: Embedder,
  scope?: VectorScope,
): Promise<void> {
  const space = {
    dimensions: embedder.dimensions,
    ...(embedder.model !== undefined ? { model: embedder.model } : {}),
  };
  if (store.setSpace !== undefined) {
    await store.setSpace(space, scope);
    return;
  }
  if (store.describe !== undefined) {
    const info = await store.describe(scope);
    checkSpaceChange(vectorNamespace(scope), info, space);
  }
}

/**
 * Remembers which namespaces were checked by {@link ensureEmbeddingSpace}, so each is checked once per
 * process (the check is a round trip on server stores).
 */
export class SpaceGuard {
  readonly #checked = new Map<string, Promise<void>>();

  /**
   * @param store - the vector store
   * @param embedder - the embedder
   */
  constructor(
    private readonly store: VectorStore,
    private readonly embedder: Embedder,
  ) {}

  /**
   * @param scope - the namespace
   * @throws DreamAgentError as {@link ensureEmbeddingSpace}
   */
  ensure(scope?: VectorScope): Promise<void> {
    const ns = vectorNamespace(scope);
    let p = this.#checked.get(ns);
    if (p === undefined) {
      p = ensureEmbeddingSpace(this.store, this.embedder, { namespace: ns });
      this.#checked.set(ns, p);
      p.catch(() => this.#checked.delete(ns));
    }
    return p;
  }

  /** Forgets a namespace (after it was dropped). */
  forget(namespace: string): void {
    this.#checked.delete(namespace);
  }
}
