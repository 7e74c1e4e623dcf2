/**
 * Vector search as ports: an {@link Embedder} turns texts into vectors, a {@link VectorStore} keeps them
 * and answers nearest-neighbour queries. Implementations: memory (core), FAISS and Chroma (adapters);
 * embedders: OpenAI (adapter) or any object with this shape.
 *
 * @packageDocumentation
 */
import type { JsonObject } from '../model/json.js';

/** Turns texts into fixed-size vectors. */
export interface Embedder {
  /** The length of every vector returned. */
  readonly dimensions: number;
  /**
   * @param texts - the texts to embed
   * @returns one vector per text, in order
   */
  embed(texts: string[]): Promise<number[][]>;
}

/** One stored vector. */
export interface VectorItem {
  id: string;
  vector: number[];
  /** Stored with the vector and returned by queries; filters match on it. */
  metadata?: JsonObject;
}

/** One query result; higher scores are closer. */
export interface VectorMatch {
  id: string;
  score: number;
  metadata?: JsonObject;
}

/** A store of vectors with nearest-neighbour queries. */
export interface VectorStore {
  /** @param items - vectors to insert or replace (by id) */
  upsert(items: VectorItem[]): Promise<void>;
  /**
   * @param vector - the query vector
   * @param k - how many matches at most
   * @param filter - metadata fields that must be equal
   * @returns the closest matches first
   */
  query(vector: number[], k: number, filter?: JsonObject): Promise<VectorMatch[]>;
  /** @param ids - ids to remove (unknown ids are ignored) */
  delete(ids: string[]): Promise<void>;
}
