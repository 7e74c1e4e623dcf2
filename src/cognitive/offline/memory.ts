/**
 * Context memory for the Cognitive layer: past turns and their results are embedded and kept in the
 * {@link VectorStore} port; the most relevant ones are recalled into the next turn's context.
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../../errors/index.js';
import type { JsonObject } from '../../model/json.js';
import type { Embedder, VectorStore } from '../../ports/vector.js';

/** Options of {@link ContextMemory}. */
export interface ContextMemoryOptions {
  /** Turns texts into vectors (e.g. `HashingEmbedder`, or a model embedder from an adapter). */
  embedder: Embedder;
  /** Where the vectors live (e.g. `MemoryVectorStore`, FAISS, Chroma). */
  store: VectorStore;
}

/** Something worth remembering: a turn's text and a summary of its result. */
export interface MemoryEntry {
  /** Stable id (re-remembering the same id replaces it). Defaults to a counter-based id. */
  id?: string;
  /** What the user said. */
  text: string;
  /** What came of it (intent, slots, answer summary…), embedded together with the text. */
  summary?: string;
  /** Scope and extra fields; `sessionId` is what {@link ContextMemory.recall} usually filters on. */
  metadata?: JsonObject;
}

/** A recalled memory. */
export interface Recollection {
  id: string;
  text: string;
  summary?: string;
  /** Similarity to the query (cosine for the memory store). */
  score: number;
  metadata: JsonObject;
}

/**
 * Remembers turns and recalls the most relevant ones for a new input.
 *
 * @example
 * ```ts
 * const memory = new ContextMemory({ embedder: new HashingEmbedder(), store: new MemoryVectorStore() });
 * await memory.remember({ text: 'sales for Q3 in EMEA', summary: 'revenue 1.2M', metadata: { sessionId: 's1' } });
 * await memory.recall('EMEA revenue', 3, { sessionId: 's1' });
 * ```
 */
export class ContextMemory {
  readonly #embedder: Embedder;
  readonly #store: VectorStore;
  #counter = 0;

  /**
   * @param options - the embedder and the vector store
   */
  constructor(options: ContextMemoryOptions) {
    this.#embedder = options.embedder;
    this.#store = options.store;
  }

  /**
   * Embeds and stores one entry.
   *
   * @param entry - the turn text, its result summary and metadata
   * @returns the entry's id
   * @throws DreamAgentError `INVALID_INPUT` when the embedder returns a vector of the wrong length
   */
  async remember(entry: MemoryEntry): Promise<string> {
    const id = entry.id ?? `memory-${Date.now().toString(36)}-${(this.#counter++).toString(36)}`;
    const body = entry.summary === undefined ? entry.text : `${entry.text}\n${entry.summary}`;
    const [vector] = await this.#embedder.embed([body]);
    if (vector === undefined || vector.length !== this.#embedder.dimensions) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `the embedder returned no vector of ${this.#embedder.dimensions} dimensions`,
      );
    }
    const metadata: JsonObject = { ...entry.metadata, text: entry.text };
    if (entry.summary !== undefined) metadata['summary'] = entry.summary;
    await this.#store.upsert([{ id, vector, metadata }]);
    return id;
  }

  /**
   * Recalls the `k` entries most similar to `query`.
   *
   * @param query - the new input
   * @param k - how many at most
   * @param filter - metadata that must match (e.g. `{ sessionId }`)
   * @param minScore - drop matches scoring below this (default 0: anything sharing a feature)
   * @returns the recollections, most relevant first
   */
  async recall(query: string, k: number, filter?: JsonObject, minScore = 0): Promise<Recollection[]> {
    const [vector] = await this.#embedder.embed([query]);
    if (vector === undefined || k <= 0) return [];
    const matches = await this.#store.query(vector, k, filter);
    return matches
      .filter((m) => m.score > minScore)
      .map((m) => {
        const metadata = m.metadata ?? {};
        const text = typeof metadata['text'] === 'string' ? metadata['text'] : '';
        const r: Recollection = { id: m.id, text, score: m.score, metadata };
        if (typeof metadata['summary'] === 'string') r.summary = metadata['summary'];
        return r;
      });
  }

  /**
   * Forgets entries by id.
   *
   * @param ids - the ids
   */
  async forget(ids: string[]): Promise<void> {
    await this.#store.delete(ids);
  }
}
