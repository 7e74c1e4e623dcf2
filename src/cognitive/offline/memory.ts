/**
 * Context memory for the Cognitive layer: past turns, todo results and user documents are embedded and
 * kept in the {@link VectorStore} port, one namespace per tenant; the most relevant ones of the same
 * session (and the tenant's shared documents) are recalled into the next turn's context, within a
 * character budget for prompts.
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../../errors/index.js';
import type { JsonObject } from '../../model/json.js';
import type { Embedder, VectorFilter, VectorStore } from '../../ports/vector.js';
import { SpaceGuard, checkEmbedding } from '../../memory/embedding.js';
import { memoryNamespace } from '../../memory/scope.js';

/** Options of {@link ContextMemory}. */
export interface ContextMemoryOptions {
  /** Turns texts into vectors (e.g. `HashingEmbedder`, a `CachedEmbedder`, or a model embedder from an adapter). */
  embedder: Embedder;
  /** Where the vectors live (e.g. `MemoryVectorStore`, FAISS, Chroma). */
  store: VectorStore;
  /** Namespace prefix (default `memory`): tenant T's vectors live in `memory:t:<hash of T>`. */
  namespace?: string;
  /** Longest text kept per entry, in characters (default 4000). */
  maxTextChars?: number;
}

/** What a memory is. */
export type MemoryKind = 'turn' | 'todo' | 'document';

/** Something worth remembering: a turn's text and a summary of its result, a todo result, a document chunk. */
export interface MemoryEntry {
  /** Stable id (re-remembering the same id replaces it). Defaults to a counter-based id. */
  id?: string;
  /** What the user said (or the todo / document text). */
  text: string;
  /** What came of it (intent, slots, answer summary…), embedded together with the text. */
  summary?: string;
  /** Default `turn`. */
  kind?: MemoryKind;
  /**
   * Scope and extra fields. `sessionId` scopes recall; `tenantId` picks the namespace; `shared: true`
   * makes an entry visible to every session of its tenant (documents).
   */
  metadata?: JsonObject;
}

/** A recalled memory. */
export interface Recollection {
  /**
   * The entry's id ({@link MemoryEntry.id}); the agent uses turn ids, and `<turn id>/<todo id>` for todo
   * results.
   */
  id: string;
  /** What was remembered: the user's text, the todo result or the document chunk (at most `maxTextChars`). */
  text: string;
  /** What came of it, when the entry had a summary. */
  summary?: string;
  /** Whether it is a turn, a todo result or a document chunk. */
  kind: MemoryKind;
  /** Similarity to the query (cosine for the memory store). */
  score: number;
  /** The entry's metadata as remembered (`sessionId`, `tenantId`, `shared` and extra fields). */
  metadata: JsonObject;
}

/** Options of {@link ContextMemory.context}. */
export interface ContextOptions {
  /** The session asking: only its own memories (and its tenant's shared ones) are recalled. */
  sessionId: string;
  /** The session's tenant (picks the namespace). */
  tenantId?: string;
  /** How many memories at most (default 5). */
  k?: number;
  /** Character budget of the recalled texts together (default 2000). */
  maxChars?: number;
  /** Drop matches scoring at or below this (default 0). */
  minScore?: number;
  /** Only these kinds (default all). */
  kinds?: MemoryKind[];
  /** Include the tenant's shared entries (documents) (default true). */
  shared?: boolean;
}

/** Recalled context, ready for a prompt. */
export interface RecalledContext {
  /** The recalled entries that fit the budget, most relevant first. */
  items: Recollection[];
  /** The items as prompt text (`[kind] text — summary` per line), within the budget. */
  text: string;
}

const KINDS: readonly MemoryKind[] = ['turn', 'todo', 'document'];

/**
 * Remembers turns, todo results and documents, and recalls the most relevant for a new input — per
 * session, per tenant namespace, so one session or tenant never sees another's.
 *
 * @example
 * ```ts
 * const memory = new ContextMemory({ embedder: new HashingEmbedder(), store: new MemoryVectorStore() });
 * await memory.remember({ text: 'sales for Q3 in EMEA', summary: 'revenue 1.2M', metadata: { sessionId: 's1', tenantId: 'acme' } });
 * const { text } = await memory.context('EMEA revenue', { sessionId: 's1', tenantId: 'acme', maxChars: 500 });
 * ```
 */
export class ContextMemory {
  readonly #embedder: Embedder;
  readonly #store: VectorStore;
  readonly #prefix: string;
  readonly #maxText: number;
  readonly #guard: SpaceGuard;
  #counter = 0;

  /**
   * @param options - the embedder, the vector store, the namespace prefix
   */
  constructor(options: ContextMemoryOptions) {
    this.#embedder = options.embedder;
    this.#store = options.store;
    this.#prefix = options.namespace ?? 'memory';
    this.#maxText = options.maxTextChars ?? 4000;
    this.#guard = new SpaceGuard(this.#store, this.#embedder);
  }

  /**
   * The namespace of a tenant's memories.
   *
   * @param tenantId - the tenant (undefined: sessions without one)
   * @returns the namespace
   */
  namespaceOf(tenantId: string | undefined): string {
    return memoryNamespace(this.#prefix, tenantId);
  }

  async #embed(text: string): Promise<number[]> {
    const [vector] = await this.#embedder.embed([text]);
    checkEmbedding(vector, this.#embedder.dimensions, this.#embedder.model ?? 'embedder');
    return vector;
  }

  /**
   * Embeds and stores one entry in its tenant's namespace.
   *
   * @param entry - the text, its result summary, kind and metadata (`sessionId`, `tenantId`, `shared`)
   * @returns the entry's id
   * @throws DreamAgentError `LLM_ERROR` when the embedder returns a vector of the wrong length;
   *   `INVALID_STATE` when the namespace was built with another embedding model
   */
  async remember(entry: MemoryEntry): Promise<string> {
    const id = entry.id ?? `memory-${Date.now().toString(36)}-${(this.#counter++).toString(36)}`;
    const kind = entry.kind ?? 'turn';
    if (!KINDS.includes(kind))
      throw new DreamAgentError('INVALID_INPUT', `unknown memory kind ${String(kind)}`);
    const text = entry.text.slice(0, this.#maxText);
    const summary = entry.summary?.slice(0, this.#maxText);
    const tenant = entry.metadata?.['tenantId'];
    const namespace = this.namespaceOf(typeof tenant === 'string' ? tenant : undefined);
    await this.#guard.ensure({ namespace });
    const vector = await this.#embed(summary === undefined ? text : `${text}\n${summary}`);
    const metadata: JsonObject = { ...entry.metadata, text, kind };
    if (summary !== undefined) metadata['summary'] = summary;
    await this.#store.upsert([{ id, vector, metadata }], { namespace });
    return id;
  }

  /**
   * Recalls the `k` entries most similar to `query` among those matching `filter` (its `tenantId`, if
   * any, picks the namespace).
   *
   * @param query - the new input
   * @param k - how many at most
   * @param filter - metadata that must match (e.g. `{ sessionId }`)
   * @param minScore - drop matches scoring at or below this (default 0: anything sharing a feature)
   * @returns the recollections, most relevant first
   */
  async recall(query: string, k: number, filter?: VectorFilter, minScore = 0): Promise<Recollection[]> {
    if (k <= 0) return [];
    const tenant = filter?.['tenantId'];
    const namespace = this.namespaceOf(typeof tenant === 'string' ? tenant : undefined);
    const vector = await this.#embed(query);
    const matches = await this.#store.query(vector, k, filter, { namespace });
    return matches
      .filter((m) => m.score > minScore)
      .map((m) => {
        const metadata = m.metadata ?? {};
        const text = typeof metadata['text'] === 'string' ? metadata['text'] : '';
        const kind = KINDS.find((x) => x === metadata['kind']) ?? 'turn';
        const r: Recollection = { id: m.id, text, kind, score: m.score, metadata };
        if (typeof metadata['summary'] === 'string') r.summary = metadata['summary'];
        return r;
      });
  }

  /**
   * Recalls context for a session: its own turns and todo results and its tenant's shared documents,
   * most relevant first, cut to a character budget — what goes into a Cognitive context or an LLM prompt.
   *
   * @param query - the new input
   * @param options - session, tenant, k, budget, kinds
   * @returns the items and their prompt text
   * @throws DreamAgentError `INVALID_INPUT` without a session id (recall is never unscoped)
   */
  async context(query: string, options: ContextOptions): Promise<RecalledContext> {
    if (typeof options.sessionId !== 'string' || options.sessionId === '') {
      throw new DreamAgentError('INVALID_INPUT', 'context recall needs the sessionId it is for');
    }
    const scope: VectorFilter[] = [{ sessionId: options.sessionId }];
    if (options.shared !== false) scope.push({ shared: true });
    const filter: VectorFilter = { $or: scope };
    if (options.tenantId !== undefined) filter['tenantId'] = options.tenantId;
    if (options.kinds !== undefined) filter['kind'] = { $in: options.kinds };
    const items = await this.recall(query, options.k ?? 5, filter, options.minScore ?? 0);
    const budget = options.maxChars ?? 2000;
    const kept: Recollection[] = [];
    const lines: string[] = [];
    let used = 0;
    for (const item of items) {
      let line = `[${item.kind}] ${item.text}${item.summary !== undefined ? ` — ${item.summary}` : ''}`;
      if (used + line.length > budget) {
        if (kept.length > 0) break;
        line = `${line.slice(0, Math.max(0, budget - 1))}…`;
      }
      kept.push(item);
      lines.push(line);
      used += line.length + 1;
    }
    return { items: kept, text: lines.join('\n') };
  }

  /**
   * Forgets entries by id.
   *
   * @param ids - the ids
   * @param tenantId - their tenant (picks the namespace)
   */
  async forget(ids: string[], tenantId?: string): Promise<void> {
    await this.#store.delete(ids, { namespace: this.namespaceOf(tenantId) });
  }

  /**
   * Erases everything remembered for a session.
   *
   * @param sessionId - the session
   * @param tenantId - its tenant
   * @returns how many vectors were deleted
   * @throws DreamAgentError `INVALID_STATE` when the store cannot delete by filter
   */
  async forgetSession(sessionId: string, tenantId?: string): Promise<number> {
    if (this.#store.deleteWhere === undefined) {
      throw new DreamAgentError('INVALID_STATE', 'this vector store cannot delete by filter (deleteWhere)');
    }
    return this.#store.deleteWhere({ sessionId }, { namespace: this.namespaceOf(tenantId) });
  }

  /**
   * Erases a tenant's whole namespace.
   *
   * @param tenantId - the tenant
   * @throws DreamAgentError `INVALID_STATE` when the store can neither drop namespaces nor delete by filter
   */
  async forgetTenant(tenantId: string): Promise<void> {
    const namespace = this.namespaceOf(tenantId);
    if (this.#store.dropNamespace !== undefined) {
      await this.#store.dropNamespace(namespace);
    } else if (this.#store.deleteWhere !== undefined) {
      await this.#store.deleteWhere({}, { namespace });
    } else {
      throw new DreamAgentError(
        'INVALID_STATE',
        'this vector store can neither drop namespaces nor delete by filter',
      );
    }
    this.#guard.forget(namespace);
  }
}
