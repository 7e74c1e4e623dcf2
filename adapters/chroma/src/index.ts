/**
 * `@dream-agent/chroma`: a {@link VectorStore} on a Chroma server through the `chromadb` client.
 *
 * One collection per namespace (named `<prefix><escaped namespace>`, the namespace itself kept in the
 * collection's metadata), created with the configured distance space. Metadata is stored twice: its
 * scalar fields as Chroma metadata (so filters run in the server) and the whole object as JSON (so
 * nested values and `null` come back exactly). Filters use dream-agent's one `VectorFilter` language:
 * the part Chroma evaluates the same way is pushed down as `where`, and every result is checked
 * against the full filter, fetching more when that drops some.
 *
 * @packageDocumentation
 */
import { ChromaClient } from 'chromadb';
import type { Collection, Metadata, Where } from 'chromadb';
import { DreamAgentError } from 'dream-agent';
import {
  checkK,
  checkSpaceChange,
  checkUpsert,
  checkVector,
  compileVectorFilter,
  vectorNamespace,
} from 'dream-agent/adapter-kit';
import type {
  Json,
  JsonObject,
  VectorFilter,
  VectorItem,
  VectorMatch,
  VectorScope,
  VectorSpaceInfo,
  VectorStore,
} from 'dream-agent';

/** Chroma's distance spaces. */
export type ChromaSpace = 'cosine' | 'ip' | 'l2';

/** Options of {@link ChromaVectorStore}. */
export interface ChromaVectorStoreOptions {
  /** Your client (any tenant/database/auth it carries is used). Default: one built from `url`. */
  client?: ChromaClient;
  /** Server URL when no client is given (default `http://localhost:8000`). */
  url?: string;
  /** Collection name prefix (default `da-`): lets several apps share a database. */
  collectionPrefix?: string;
  /**
   * Distance space of new collections (default `cosine`). Scores: `cosine` → 1 − cosine distance =
   * cosine similarity; `ip` → 1 − ip distance = the inner product; `l2` → −(squared L2 distance).
   */
  space?: ChromaSpace;
  /** HNSW `ef_search` of new collections (Chroma's default 100). */
  efSearch?: number;
  /** Records per upsert request (default 1000). */
  batchSize?: number;
}

/** Metadata key holding the whole metadata object as JSON. */
const JSON_KEY = '__da_json';
const NS_KEY = 'da:namespace';
const DIM_KEY = 'da:dimensions';
const MODEL_KEY = 'da:model';

const isPlainObject = (v: unknown): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown): v is string | number | boolean =>
  typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

/**
 * A collection name for a namespace: characters outside `[A-Za-z0-9-]` become `_hh` (hex), and a name
 * that would end in `-` ends in `_2d`, so the result is a valid Chroma name and one-to-one.
 */
function collectionName(prefix: string, ns: string): string {
  let enc = ns.replace(/[^A-Za-z0-9-]/g, (c) => `_${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  if (enc.endsWith('-')) enc = `${enc.slice(0, -1)}_2d`;
  return `${prefix}${enc}`;
}

/** A `where` clause and whether Chroma evaluates it exactly as the filter (or only a superset). */
interface Pushdown {
  where: Where | undefined;
  exact: boolean;
}

function pushField(field: string, cond: Json): Pushdown {
  const ops = isPlainObject(cond) && Object.keys(cond).some((k) => k.startsWith('$'));
  if (!ops) return isScalar(cond) ? { where: { [field]: { $eq: cond } } as Where, exact: true } : none;
  const parts: Where[] = [];
  let exact = true;
  for (const [op, arg] of Object.entries(cond as JsonObject)) {
    if (op === '$eq' && isScalar(arg)) parts.push({ [field]: { $eq: arg } } as Where);
    else if (op === '$in' && Array.isArray(arg) && arg.length > 0 && arg.every(isScalar))
      parts.push({ [field]: { $in: arg } } as Where);
    else if (['$gt', '$gte', '$lt', '$lte'].includes(op) && typeof arg === 'number')
      parts.push({ [field]: { [op]: arg } } as Where);
    // $ne / $nin (a missing field matches ours, not Chroma's), $exists, strings in ranges, non-scalars:
    // checked on the results only.
    else exact = false;
  }
  return combine(parts, exact);
}

const none: Pushdown = { where: undefined, exact: false };

function combine(parts: Where[], exact: boolean): Pushdown {
  if (parts.length === 0) return { where: undefined, exact: exact && false };
  if (parts.length === 1) return { where: parts[0], exact };
  return { where: { $and: parts } as Where, exact };
}

function pushdown(filter: JsonObject): Pushdown {
  const parts: Where[] = [];
  let exact = true;
  for (const [key, value] of Object.entries(filter)) {
    if (value === undefined) continue;
    if (key === '$and' && Array.isArray(value)) {
      for (const sub of value) {
        const p = pushdown(sub as JsonObject);
        if (p.where !== undefined) parts.push(p.where);
        exact &&= p.exact;
      }
    } else if (key === '$or' && Array.isArray(value)) {
      const subs = value.map((sub) => pushdown(sub as JsonObject));
      if (subs.length >= 2 && subs.every((p) => p.where !== undefined && p.exact))
        parts.push({ $or: subs.map((p) => p.where!) } as Where);
      else if (subs.length === 1 && subs[0]!.where !== undefined) {
        parts.push(subs[0]!.where);
        exact &&= subs[0]!.exact;
      } else exact = false;
    } else {
      const p = pushField(key, value);
      if (p.where !== undefined) parts.push(p.where);
      exact &&= p.exact;
    }
  }
  if (parts.length === 0) return { where: undefined, exact: exact && Object.keys(filter).length === 0 };
  return combine(parts, exact);
}

function toChromaMetadata(metadata: JsonObject | undefined): Metadata {
  const out: Metadata = { [JSON_KEY]: JSON.stringify(metadata ?? null) };
  for (const [key, value] of Object.entries(metadata ?? {})) {
    if (key !== JSON_KEY && isScalar(value)) out[key] = value;
  }
  return out;
}

function fromChromaMetadata(metadata: Metadata | null | undefined): JsonObject | undefined {
  const raw = metadata?.[JSON_KEY];
  if (typeof raw !== 'string') return undefined;
  const parsed = JSON.parse(raw) as JsonObject | null;
  return parsed ?? undefined;
}

/** Maps chromadb's errors onto dream-agent codes (by name: no `instanceof` across package copies). */
function mapError(error: unknown, what: string): DreamAgentError {
  const name = error instanceof Error ? error.name || error.constructor.name : '';
  const message = error instanceof Error ? error.message : String(error);
  if (/dimension/i.test(message)) {
    return new DreamAgentError('INVALID_INPUT', `${what}: ${message}`, {
      cause: error,
      details: { reason: 'dimension_mismatch' },
    });
  }
  if (/Connection|Server|RateLimit|Quota/.test(name) || /fetch failed|ECONNREFUSED/i.test(message)) {
    return new DreamAgentError('UNAVAILABLE', `${what}: Chroma is unreachable (${message})`, {
      cause: error,
    });
  }
  if (/Unauthorized/.test(name))
    return new DreamAgentError('UNAUTHENTICATED', `${what}: ${message}`, { cause: error });
  if (/Forbidden/.test(name))
    return new DreamAgentError('FORBIDDEN', `${what}: ${message}`, { cause: error });
  return new DreamAgentError('INVALID_INPUT', `${what}: ${message}`, { cause: error });
}

const isNotFound = (error: unknown): boolean => {
  const name = error instanceof Error ? error.name || error.constructor.name : '';
  const message = error instanceof Error ? error.message : '';
  return /NotFound/.test(name) || /does not exist|not found/i.test(message);
};

/**
 * A {@link VectorStore} on Chroma: a collection per namespace.
 *
 * @example
 * ```ts
 * import { ChromaClient } from 'chromadb';
 * import { ChromaVectorStore } from '@dream-agent/chroma';
 * const store = new ChromaVectorStore({ client: new ChromaClient({ host: 'localhost', port: 8000 }) });
 * await store.upsert([{ id: 'a', vector, metadata: { tenantId: 'acme' } }], { namespace: 'tenant:acme' });
 * await store.query(queryVector, 5, { tenantId: 'acme' }, { namespace: 'tenant:acme' });
 * ```
 */
export class ChromaVectorStore implements VectorStore {
  /** The underlying client. */
  readonly client: ChromaClient;
  readonly #prefix: string;
  readonly #space: ChromaSpace;
  readonly #efSearch: number | undefined;
  readonly #batch: number;
  readonly #collections = new Map<string, Promise<Collection | undefined>>();
  /** The tail of each namespace's write queue (see {@link ChromaVectorStore.#exclusive}). */
  readonly #writes = new Map<string, Promise<unknown>>();

  /**
   * @param options - client or URL, collection prefix, distance space
   * @throws DreamAgentError `INVALID_INPUT` for a bad URL, prefix, space or batch size
   */
  constructor(options: ChromaVectorStoreOptions = {}) {
    this.#prefix = options.collectionPrefix ?? 'da-';
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]{2,62}$/.test(this.#prefix)) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `collectionPrefix must be 3–63 characters of [A-Za-z0-9_-] starting with a letter or digit, got ${JSON.stringify(this.#prefix)}`,
      );
    }
    this.#space = options.space ?? 'cosine';
    if (!['cosine', 'ip', 'l2'].includes(this.#space)) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `space must be cosine, ip or l2, got ${String(this.#space)}`,
      );
    }
    this.#efSearch = options.efSearch;
    this.#batch = options.batchSize ?? 1000;
    if (!Number.isInteger(this.#batch) || this.#batch < 1) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `batchSize must be a positive integer, got ${String(this.#batch)}`,
      );
    }
    if (options.client !== undefined) {
      this.client = options.client;
    } else {
      let url: URL;
      try {
        url = new URL(options.url ?? 'http://localhost:8000');
      } catch (cause) {
        throw new DreamAgentError('INVALID_INPUT', `bad Chroma url ${String(options.url)}`, { cause });
      }
      const ssl = url.protocol === 'https:';
      this.client = new ChromaClient({
        host: url.hostname,
        port: url.port === '' ? (ssl ? 443 : 80) : Number(url.port),
        ssl,
      });
    }
  }

  /** The collection of a namespace; undefined when it does not exist and `create` is false. */
  #collection(ns: string, create: boolean): Promise<Collection | undefined> {
    const cached = this.#collections.get(ns);
    if (cached !== undefined) {
      return cached.then((c) => (c !== undefined || !create ? c : this.#open(ns, true)));
    }
    return this.#open(ns, create);
  }

  #open(ns: string, create: boolean): Promise<Collection | undefined> {
    const name = collectionName(this.#prefix, ns);
    const p = (async (): Promise<Collection | undefined> => {
      try {
        if (create) {
          return await this.client.getOrCreateCollection({
            name,
            embeddingFunction: null,
            metadata: { [NS_KEY]: ns },
            configuration: {
              hnsw: {
                space: this.#space,
                ...(this.#efSearch !== undefined ? { ef_search: this.#efSearch } : {}),
              },
            },
          });
        }
        return await this.client.getCollection({ name, embeddingFunction: undefined as never });
      } catch (error) {
        if (!create && isNotFound(error)) return undefined;
        throw mapError(error, `opening collection ${name}`);
      }
    })();
    this.#collections.set(ns, p);
    // A failed open is not cached.
    p.catch(() => this.#collections.delete(ns));
    return p;
  }

  /**
   * Runs the writes of one namespace one at a time, in call order. The Chroma server (1.0.x bindings
   * here) can lose a vector from its HNSW index when writes to one collection overlap: the record stays
   * (`get` and `count` see it) but no query returns it, even with its own vector, until it is written
   * again. Serialising a store's writes per collection avoids it; writers in other processes are not
   * covered (see the README).
   */
  #exclusive<T>(ns: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#writes.get(ns) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.#writes.set(ns, tail);
    void tail.then(() => {
      if (this.#writes.get(ns) === tail) this.#writes.delete(ns);
    });
    return run;
  }

  async #dimensions(collection: Collection): Promise<number | undefined> {
    const recorded = collection.metadata?.[DIM_KEY];
    if (typeof recorded === 'number') return recorded;
    try {
      const peek = await collection.peek({ limit: 1 });
      const first = peek.embeddings[0];
      return first === undefined ? undefined : first.length;
    } catch (error) {
      throw mapError(error, 'reading the collection');
    }
  }

  async #record(collection: Collection, ns: string, patch: Metadata): Promise<void> {
    const metadata: Metadata = { ...collection.metadata, [NS_KEY]: ns, ...patch };
    try {
      await collection.modify({ metadata });
    } catch (error) {
      throw mapError(error, 'recording the collection space');
    }
  }

  /**
   * Inserts or replaces vectors by id.
   *
   * @param items - the vectors
   * @param scope - the namespace
   * @throws DreamAgentError `INVALID_INPUT` for a bad id or vector or a length other than the namespace's;
   *   `UNAVAILABLE` when Chroma is unreachable
   */
  async upsert(items: VectorItem[], scope?: VectorScope): Promise<void> {
    const ns = vectorNamespace(scope);
    checkUpsert(items, undefined);
    if (items.length === 0) return;
    await this.#exclusive(ns, () => this.#upsert(ns, items));
  }

  async #upsert(ns: string, items: VectorItem[]): Promise<void> {
    const collection = (await this.#collection(ns, true))!;
    const known = await this.#dimensions(collection);
    const dim = checkUpsert(items, known)!;
    // Last write wins inside a batch, as for the other stores.
    const byId = new Map(items.map((item) => [item.id, item]));
    const batch = [...byId.values()];
    try {
      for (let i = 0; i < batch.length; i += this.#batch) {
        const chunk = batch.slice(i, i + this.#batch);
        await collection.upsert({
          ids: chunk.map((it) => it.id),
          embeddings: chunk.map((it) => it.vector),
          metadatas: chunk.map((it) => toChromaMetadata(it.metadata)),
        });
      }
    } catch (error) {
      throw mapError(error, `upsert into ${ns}`);
    }
    if (known === undefined) await this.#record(collection, ns, { [DIM_KEY]: dim });
  }

  /**
   * Returns the `k` nearest vectors whose metadata matches `filter`.
   *
   * @param vector - the query
   * @param k - how many at most
   * @param filter - a metadata filter
   * @param scope - the namespace
   * @returns matches, best first (ties by id); scores as documented for the space
   * @throws DreamAgentError `INVALID_INPUT` for a bad vector, `k` or filter; `UNAVAILABLE`
   */
  async query(
    vector: number[],
    k: number,
    filter?: VectorFilter,
    scope?: VectorScope,
  ): Promise<VectorMatch[]> {
    checkK(k);
    const ns = vectorNamespace(scope);
    checkVector(vector, undefined, 'query');
    const match = compileVectorFilter(filter);
    const collection = await this.#collection(ns, false);
    if (collection === undefined) return [];
    checkVector(vector, await this.#dimensions(collection), 'query');
    if (k === 0) return [];
    const { where, exact } = match === undefined ? { where: undefined, exact: true } : pushdown(filter!);
    let want = exact ? k : Math.max(4 * k, 32);
    for (;;) {
      let result;
      try {
        result = await collection.query({
          queryEmbeddings: [vector],
          nResults: want,
          ...(where !== undefined ? { where } : {}),
          include: ['distances', 'metadatas'] as never,
        });
      } catch (error) {
        throw mapError(error, `query in ${ns}`);
      }
      const ids = result.ids[0] ?? [];
      const distances = result.distances[0] ?? [];
      const metadatas = result.metadatas[0] ?? [];
      const matches: VectorMatch[] = [];
      ids.forEach((id, i) => {
        const metadata = fromChromaMetadata(metadatas[i]);
        if (match !== undefined && !match(metadata)) return;
        const m: VectorMatch = { id, score: this.#score(distances[i] ?? Number.NaN) };
        if (metadata !== undefined) m.metadata = metadata;
        matches.push(m);
      });
      if (matches.length >= k || ids.length < want) {
        matches.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        return matches.slice(0, k);
      }
      want *= 4;
    }
  }

  #score(distance: number): number {
    return this.#space === 'l2' ? -distance : 1 - distance;
  }

  /**
   * Removes vectors by id; unknown ids are ignored.
   *
   * @param ids - the ids
   * @param scope - the namespace
   */
  async delete(ids: string[], scope?: VectorScope): Promise<void> {
    const ns = vectorNamespace(scope);
    if (ids.length === 0) return;
    await this.#exclusive(ns, async () => {
      const collection = await this.#collection(ns, false);
      if (collection === undefined) return;
      try {
        await collection.delete({ ids });
      } catch (error) {
        throw mapError(error, `delete in ${ns}`);
      }
    });
  }

  /**
   * Deletes every vector of a namespace whose metadata matches.
   *
   * @param filter - a metadata filter
   * @param scope - the namespace
   * @returns how many were deleted
   */
  async deleteWhere(filter: VectorFilter, scope?: VectorScope): Promise<number> {
    const ns = vectorNamespace(scope);
    const match = compileVectorFilter(filter);
    return this.#exclusive(ns, () => this.#deleteWhere(ns, filter, match));
  }

  async #deleteWhere(
    ns: string,
    filter: VectorFilter,
    match: ReturnType<typeof compileVectorFilter>,
  ): Promise<number> {
    const collection = await this.#collection(ns, false);
    if (collection === undefined) return 0;
    const { where } = match === undefined ? { where: undefined } : pushdown(filter);
    try {
      const found = await collection.get({
        ...(where !== undefined ? { where } : {}),
        include: ['metadatas'] as never,
      });
      const doomed = found.ids.filter(
        (_, i) => match === undefined || match(fromChromaMetadata(found.metadatas[i])),
      );
      for (let i = 0; i < doomed.length; i += this.#batch) {
        await collection.delete({ ids: doomed.slice(i, i + this.#batch) });
      }
      return doomed.length;
    } catch (error) {
      throw mapError(error, `deleteWhere in ${ns}`);
    }
  }

  /**
   * Drops a namespace (deletes its collection).
   *
   * @param namespace - the namespace
   */
  async dropNamespace(namespace: string): Promise<void> {
    const ns = vectorNamespace({ namespace });
    await this.#exclusive(ns, () => this.#drop(ns));
  }

  async #drop(ns: string): Promise<void> {
    const cached = this.#collections.get(ns);
    this.#collections.delete(ns);
    await cached?.catch(() => undefined);
    try {
      await this.client.deleteCollection({ name: collectionName(this.#prefix, ns) });
    } catch (error) {
      if (!isNotFound(error)) throw mapError(error, `dropping ${ns}`);
    }
  }

  /** @returns the namespaces of this store's collections (by prefix), sorted */
  async namespaces(): Promise<string[]> {
    const out: string[] = [];
    try {
      for (let offset = 0; ; offset += 100) {
        const page = await this.client.listCollections({ limit: 100, offset });
        for (const c of page) {
          const ns = c.metadata?.[NS_KEY];
          if (c.name.startsWith(this.#prefix) && typeof ns === 'string') out.push(ns);
        }
        if (page.length < 100) break;
      }
    } catch (error) {
      throw mapError(error, 'listing collections');
    }
    return out.sort();
  }

  /**
   * @param scope - the namespace
   * @returns its dimensions, model and count
   */
  async describe(scope?: VectorScope): Promise<VectorSpaceInfo> {
    const ns = vectorNamespace(scope);
    const collection = await this.#collection(ns, false);
    if (collection === undefined) return { count: 0 };
    let count: number;
    try {
      count = await collection.count();
    } catch (error) {
      throw mapError(error, `counting ${ns}`);
    }
    const info: VectorSpaceInfo = { count };
    const dim = await this.#dimensions(collection);
    if (dim !== undefined) info.dimensions = dim;
    const model = collection.metadata?.[MODEL_KEY];
    if (typeof model === 'string') info.model = model;
    return info;
  }

  /**
   * Records the embedding space of a namespace in its collection's metadata.
   *
   * @param wanted - dimensions and model
   * @param scope - the namespace
   * @throws DreamAgentError `INVALID_STATE` when the non-empty namespace holds another model or size
   */
  async setSpace(wanted: { dimensions: number; model?: string }, scope?: VectorScope): Promise<void> {
    const ns = vectorNamespace(scope);
    await this.#exclusive(ns, async () => {
      const current = await this.describe(scope);
      checkSpaceChange(ns, current, wanted);
      if (
        current.count === 0 &&
        current.dimensions !== undefined &&
        current.dimensions !== wanted.dimensions
      ) {
        await this.#drop(ns);
      }
      const collection = (await this.#collection(ns, true))!;
      await this.#record(collection, ns, {
        [DIM_KEY]: wanted.dimensions,
        ...(wanted.model !== undefined ? { [MODEL_KEY]: wanted.model } : {}),
      });
    });
  }

  /** Forgets cached collection handles (the client is yours to close). */
  async close(): Promise<void> {
    await Promise.resolve();
    this.#collections.clear();
  }
}
