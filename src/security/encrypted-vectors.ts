/**
 * `encryptedVectorStore` wraps a {@link VectorStore} so that the metadata stored beside each vector —
 * the remembered text of a turn, a todo result, a document's passage — reaches the backend only as
 * ciphertext, except the fields filters need (by default the ids memory and erasure filter on).
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../errors/index.js';
import type { JsonObject } from '../model/json.js';
import type { VectorFilter, VectorItem, VectorMatch, VectorScope, VectorStore } from '../ports/vector.js';
import type { Codec } from './codec.js';

/** Options of {@link encryptedVectorStore}. */
export interface EncryptedVectorStoreOptions {
  /** Seals and opens the metadata (the same codec as the store's is fine). */
  codec: Codec;
  /**
   * Metadata fields that stay readable so that filters can match on them (default: `sessionId`,
   * `tenantId`, `ownerId`, `kind`, `turnId`, `todoId`, `documentId`, `version`, `shared`). A filter naming any other
   * field is refused with `INVALID_INPUT`: the backend could not match it.
   */
  clear?: readonly string[];
}

const SEALED = '$sealed';
const DEFAULT_CLEAR = [
  'sessionId',
  'tenantId',
  'ownerId',
  'kind',
  'turnId',
  'todoId',
  'documentId',
  'version',
  'shared',
];

/**
 * Wraps a vector store so that metadata is encrypted at rest. The sealed part of each item is bound
 * (through the codec's associated data) to its namespace and id: metadata copied onto another vector,
 * a flipped byte, a wrong key or a plaintext row fails with `DECRYPTION_FAILED`. Vectors themselves stay
 * as they are (a nearest-neighbour index needs them); so do the `clear` fields.
 *
 * @param store - the backend
 * @param options - the codec and the fields left readable for filters
 * @returns a VectorStore with the same contract
 * @throws DreamAgentError (from its methods) `INVALID_INPUT` for a filter on a sealed field,
 *   `DECRYPTION_FAILED` when a match's metadata cannot be opened
 * @example
 * ```ts
 * const vectors = encryptedVectorStore(await FaissVectorStore.open({ directory: './vectors' }), { codec });
 * ```
 */
export function encryptedVectorStore(store: VectorStore, options: EncryptedVectorStoreOptions): VectorStore {
  const codec = options.codec;
  const clear: ReadonlySet<string> = new Set(options.clear ?? DEFAULT_CLEAR);
  if (clear.has(SEALED)) throw new DreamAgentError('INVALID_INPUT', `"${SEALED}" cannot be a clear field`);
  const aad = (id: string, scope?: VectorScope): string =>
    `vector\u0000${scope?.namespace ?? 'default'}\u0000${id}`;
  const context = (metadata: JsonObject | undefined): { sessionId: string; tenantId?: string } => {
    const tenantId = metadata?.['tenantId'];
    return typeof tenantId === 'string' ? { sessionId: '', tenantId } : { sessionId: '' };
  };
  const checkFilter = (filter: VectorFilter | undefined): void => {
    if (!filter) return;
    for (const [k, v] of Object.entries(filter)) {
      if (k === '$and' || k === '$or') {
        for (const f of Array.isArray(v) ? (v as VectorFilter[]) : []) checkFilter(f);
        continue;
      }
      if (!clear.has(k)) {
        throw new DreamAgentError(
          'INVALID_INPUT',
          `filter on "${k}", a metadata field that is encrypted (readable fields: ${[...clear].join(', ')})`,
          { details: { field: k } },
        );
      }
    }
  };
  const seal = async (item: VectorItem, scope?: VectorScope): Promise<VectorItem> => {
    if (!item.metadata) return item;
    const open: JsonObject = {};
    const secret: JsonObject = {};
    for (const [k, v] of Object.entries(item.metadata)) {
      if (clear.has(k)) open[k] = v;
      else secret[k] = v;
    }
    open[SEALED] = await codec.seal(secret, aad(item.id, scope), context(item.metadata));
    return { ...item, metadata: open };
  };
  const unseal = async (m: VectorMatch, scope?: VectorScope): Promise<VectorMatch> => {
    if (!m.metadata) return m;
    const sealed = m.metadata[SEALED];
    if (typeof sealed !== 'string') {
      throw new DreamAgentError('DECRYPTION_FAILED', `plaintext metadata of vector "${m.id}" refused`, {
        details: { record: 'vector', id: m.id },
      });
    }
    const secret = await codec.open(sealed, aad(m.id, scope), context(m.metadata));
    const metadata: JsonObject = {};
    for (const [k, v] of Object.entries(m.metadata)) if (k !== SEALED) metadata[k] = v;
    if (secret !== null && typeof secret === 'object' && !Array.isArray(secret))
      Object.assign(metadata, secret);
    return { ...m, metadata };
  };
  const wrapped: VectorStore = {
    async upsert(items, scope) {
      const sealed = await Promise.all(items.map((i) => seal(i, scope)));
      return scope === undefined ? store.upsert(sealed) : store.upsert(sealed, scope);
    },
    async query(vector, k, filter, scope) {
      checkFilter(filter);
      const matches = await store.query(vector, k, filter, scope);
      return Promise.all(matches.map((m) => unseal(m, scope)));
    },
    delete: (ids, scope) => store.delete(ids, scope),
  };
  if (store.deleteWhere) {
    const del = store.deleteWhere.bind(store);
    wrapped.deleteWhere = async (filter, scope) => {
      checkFilter(filter);
      return del(filter, scope);
    };
  }
  if (store.dropNamespace) wrapped.dropNamespace = store.dropNamespace.bind(store);
  if (store.namespaces) wrapped.namespaces = store.namespaces.bind(store);
  if (store.describe) wrapped.describe = store.describe.bind(store);
  if (store.setSpace) wrapped.setSpace = store.setSpace.bind(store);
  if (store.close) wrapped.close = store.close.bind(store);
  return wrapped;
}
