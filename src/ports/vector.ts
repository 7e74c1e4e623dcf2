/**
 * Vector search as ports: an {@link Embedder} turns texts into vectors, a {@link VectorStore} keeps them
 * in namespaces and answers nearest-neighbour queries with metadata filters. Implementations: memory
 * (core, `MemoryVectorStore`), FAISS (`@dream-agent/faiss`) and Chroma (`@dream-agent/chroma`);
 * embedders: the offline `HashingEmbedder`, OpenAI (`@dream-agent/openai`) or any object with this shape.
 *
 * Every store runs the same contract suite (`vectorContract` from `dream-agent/testing`).
 *
 * @packageDocumentation
 */
import type { JsonObject } from '../model/json.js';

/** Turns texts into fixed-size vectors. */
export interface Embedder {
  /** The length of every vector returned. */
  readonly dimensions: number;
  /**
   * Which model produces the vectors (e.g. `text-embedding-3-small`). Optional; when present it is
   * recorded with an index so that a later model change is refused instead of mixing vector spaces.
   */
  readonly model?: string;
  /**
   * @param texts - the texts to embed
   * @returns one vector per text, in order
   */
  embed(texts: string[]): Promise<number[][]>;
}

/** One stored vector. */
export interface VectorItem {
  /** Unique within its namespace; upserting an existing id replaces vector and metadata. */
  id: string;
  /**
   * The embedding: finite numbers, the same length as every other vector of the namespace (the first one
   * fixes it).
   */
  vector: number[];
  /** Stored with the vector and returned by queries; filters match on it. */
  metadata?: JsonObject;
}

/** One query result; higher scores are closer (the exact mapping is documented per store and metric). */
export interface VectorMatch {
  /** The id of the matching item. */
  id: string;
  /** How close it is to the query: higher is closer (cosine similarity for the memory store). */
  score: number;
  /** The item's metadata, when it was stored with some. */
  metadata?: JsonObject;
}

/**
 * A metadata filter. A plain value means equality (`{ sessionId: 's1' }`; arrays and objects compare
 * as canonical JSON); an object of operators compares one field: `$eq`, `$ne`, `$in`, `$nin` (values),
 * `$gt`, `$gte`, `$lt`, `$lte` (numbers or strings), `$exists` (boolean). `$and` / `$or` take a list of
 * filters. Every top-level key must hold (implicit and). `{}` matches everything.
 *
 * @example
 * ```ts
 * const filter: VectorFilter = { tenantId: 'acme', kind: { $in: ['turn', 'document'] }, $or: [{ sessionId: 's1' }, { shared: true }] };
 * ```
 */
export type VectorFilter = JsonObject;

/** Which namespace an operation addresses. */
export interface VectorScope {
  /**
   * A namespace (1–128 characters of `[A-Za-z0-9._:@/-]`); namespaces never see each other's vectors.
   * Default `default`.
   */
  namespace?: string;
}

/** What a store records about a namespace (see {@link VectorStore.describe}). */
export interface VectorSpaceInfo {
  /** Vector length of the namespace, once the first vector or a space was recorded. */
  dimensions?: number;
  /** The embedding model recorded with {@link VectorStore.setSpace}, if any. */
  model?: string;
  /** Number of stored vectors. */
  count: number;
}

/**
 * A store of vectors with nearest-neighbour queries, partitioned into namespaces.
 *
 * Only `upsert`, `query` and `delete` are required; the optional methods make erasure, persistence and
 * model checks possible, and every store in this repository implements them.
 */
export interface VectorStore {
  /**
   * @param items - vectors to insert or replace (by id)
   * @param scope - the namespace
   * @throws DreamAgentError `INVALID_INPUT` for a bad id, a non-finite value or a vector whose length
   *   differs from the namespace's; nothing of the batch is stored then
   */
  upsert(items: VectorItem[], scope?: VectorScope): Promise<void>;
  /**
   * @param vector - the query vector
   * @param k - how many matches at most
   * @param filter - a {@link VectorFilter} on metadata
   * @param scope - the namespace
   * @returns the closest matches first (ties by id)
   * @throws DreamAgentError `INVALID_INPUT` for a bad vector, `k` or filter
   */
  query(vector: number[], k: number, filter?: VectorFilter, scope?: VectorScope): Promise<VectorMatch[]>;
  /**
   * Removes vectors by id from one namespace.
   *
   * @param ids - ids to remove (unknown ids are ignored)
   * @param scope - the namespace
   */
  delete(ids: string[], scope?: VectorScope): Promise<void>;
  /**
   * Deletes every vector of the namespace whose metadata matches (erasure of a session or a tenant).
   *
   * @returns how many were deleted
   */
  deleteWhere?(filter: VectorFilter, scope?: VectorScope): Promise<number>;
  /** Drops a namespace and everything in it (no-op when it does not exist). */
  dropNamespace?(namespace: string): Promise<void>;
  /** @returns the namespaces holding vectors (or a recorded space), sorted */
  namespaces?(): Promise<string[]>;
  /** @returns what the store knows about a namespace */
  describe?(scope?: VectorScope): Promise<VectorSpaceInfo>;
  /**
   * Records the embedding space of a namespace (dimensions and model). Recording a different one
   * over an existing, non-empty namespace fails.
   *
   * @throws DreamAgentError `INVALID_STATE` when the namespace was built with another model or size
   */
  setSpace?(space: { dimensions: number; model?: string }, scope?: VectorScope): Promise<void>;
  /** Flushes and releases resources (files, connections). */
  close?(): Promise<void>;
}
