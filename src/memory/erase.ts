/**
 * Erasure across vector stores: deleting a session or a tenant deletes its vectors everywhere they were
 * written (context memory, documents, any store the application registers).
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../errors/index.js';
import type { VectorStore } from '../ports/vector.js';
import { memoryNamespace } from './scope.js';

/** What to erase. */
export type EraseTarget =
  | {
      /** Erase every vector recorded with this session id (stores need `deleteWhere`). */
      sessionId: string;
      /** The session's tenant: selects the tenant's namespace; unset for sessions without a tenant. */
      tenantId?: string;
    }
  | {
      /** Erase everything of this tenant: its namespace is dropped (or emptied by filter). */
      tenantId: string;
      /** Absent: a tenant-wide erasure names no session. */
      sessionId?: undefined;
    };

/** Options of {@link eraseVectors}. */
export interface EraseOptions {
  /** Namespace prefix used by `ContextMemory` / `DocumentIngestor` (default `memory`). */
  namespace?: string;
  /** Further namespaces to sweep by `sessionId` / `tenantId` metadata (e.g. an application's own). */
  alsoNamespaces?: string[];
}

/**
 * Deletes a session's vectors (by `sessionId` metadata, in its tenant's memory namespace) or a whole
 * tenant's (its namespace dropped), in every given store. Stores are erased in parallel; a store that
 * cannot erase fails the call after the others were erased, so a retry finishes the job.
 *
 * @param stores - every vector store the application writes to
 * @param target - `{ sessionId, tenantId? }` or `{ tenantId }`
 * @param options - namespace prefix, extra namespaces
 * @returns how many vectors were deleted by filter (dropped namespaces are not counted)
 * @throws DreamAgentError `INVALID_STATE` when a store supports neither `deleteWhere` nor `dropNamespace`;
 *   whatever a store throws
 * @example
 * ```ts
 * await eraseVectors([memoryStore, faissStore], { sessionId: 's-42', tenantId: 'acme' });
 * await eraseVectors([memoryStore, faissStore], { tenantId: 'acme' });
 * ```
 */
export async function eraseVectors(
  stores: readonly VectorStore[],
  target: EraseTarget,
  options: EraseOptions = {},
): Promise<number> {
  const prefix = options.namespace ?? 'memory';
  const ns = memoryNamespace(prefix, target.tenantId);
  const results = await Promise.allSettled(
    stores.map(async (store): Promise<number> => {
      let n = 0;
      if (target.sessionId !== undefined) {
        if (store.deleteWhere === undefined) {
          throw new DreamAgentError('INVALID_STATE', 'a vector store cannot delete by filter (deleteWhere)');
        }
        n += await store.deleteWhere({ sessionId: target.sessionId }, { namespace: ns });
        for (const extra of options.alsoNamespaces ?? []) {
          n += await store.deleteWhere({ sessionId: target.sessionId }, { namespace: extra });
        }
        return n;
      }
      if (store.dropNamespace !== undefined) await store.dropNamespace(ns);
      else if (store.deleteWhere !== undefined) n += await store.deleteWhere({}, { namespace: ns });
      else
        throw new DreamAgentError(
          'INVALID_STATE',
          'a vector store can neither drop namespaces nor delete by filter',
        );
      for (const extra of options.alsoNamespaces ?? []) {
        if (store.deleteWhere === undefined) {
          throw new DreamAgentError('INVALID_STATE', 'a vector store cannot delete by filter (deleteWhere)');
        }
        n += await store.deleteWhere({ tenantId: target.tenantId }, { namespace: extra });
      }
      return n;
    }),
  );
  let total = 0;
  for (const r of results) {
    if (r.status === 'rejected') throw r.reason;
    total += r.value;
  }
  return total;
}
