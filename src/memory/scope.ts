/**
 * Where memory vectors live: one namespace per tenant (and one for sessions without a tenant), so a
 * tenant's vectors can be dropped whole and no query of one tenant can reach another's.
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../errors/index.js';
import { sha256Hex } from '../tools/canonical.js';

/**
 * The namespace holding a tenant's memory (turns, todo results, documents).
 *
 * @param prefix - the namespace prefix (default `memory`)
 * @param tenantId - the tenant, or undefined for sessions without one
 * @returns `<prefix>` without a tenant, `<prefix>:t:<first 32 hex of sha256(tenantId)>` with one (tenant
 *   ids may hold any characters; namespaces may not)
 * @throws DreamAgentError `INVALID_INPUT` for an empty tenant id
 */
export function memoryNamespace(prefix: string, tenantId: string | undefined): string {
  if (tenantId === undefined) return prefix;
  if (typeof tenantId !== 'string' || tenantId === '') {
    throw new DreamAgentError('INVALID_INPUT', 'a tenant id must be a non-empty string');
  }
  return `${prefix}:t:${sha256Hex(tenantId).slice(0, 32)}`;
}
