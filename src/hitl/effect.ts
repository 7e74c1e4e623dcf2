import { canonicalJson, sha256Hex } from '../tools/canonical.js';
import type { Json, JsonObject } from '../model/json.js';
import type { ApprovalEffect } from '../model/session.js';

/**
 * Builds the effect an approval covers: what will run if it is granted.
 *
 * @param parts - todo id and version, tool and version, the resolved input, provided values
 * @returns the effect (optional parts omitted when absent)
 */
export function approvalEffect(parts: {
  todoId: string;
  todoVersion: number;
  tool?: string | undefined;
  toolVersion?: string | undefined;
  /** The tool definition's content hash (`ToolHandle.revision`); kept only when it differs from the version. */
  toolRevision?: string | undefined;
  input: JsonObject;
  provided?: JsonObject | undefined;
}): ApprovalEffect {
  return {
    todoId: parts.todoId,
    todoVersion: parts.todoVersion,
    ...(parts.tool !== undefined ? { tool: parts.tool } : {}),
    ...(parts.toolVersion !== undefined ? { toolVersion: parts.toolVersion } : {}),
    // A definition re-registered (hot reload) under the same version string still changes what runs:
    // the revision makes it a different effect. Omitted when it equals the version (a content-hash
    // version already says the same), so those digests are unchanged.
    ...(parts.toolRevision !== undefined && parts.toolRevision !== parts.toolVersion
      ? { toolRevision: parts.toolRevision }
      : {}),
    input: parts.input,
    ...(parts.provided !== undefined && Object.keys(parts.provided).length > 0
      ? { provided: parts.provided }
      : {}),
  };
}

/**
 * The digest of an effect: sha256 hex of its canonical JSON (sorted keys), so the same effect always
 * has the same digest in every process, and any change to it changes the digest.
 *
 * @param effect - an approval effect
 * @returns 64 hex characters
 */
export function effectDigest(effect: ApprovalEffect): string {
  return sha256Hex(canonicalJson(effect as unknown as Json));
}
