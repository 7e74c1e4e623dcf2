/**
 * The safety overlay of one MCP server: which of its tools are registered, and per tool the approval,
 * idempotency, timeout, cache and roles dream-agent applies — whatever the server's annotations claim.
 *
 * @packageDocumentation
 */
import { DreamAgentError } from 'dream-agent';
import { parseDocument } from 'yaml';
import { z } from 'zod';

/**
 * The risk levels of an approval (the core's `low` / `medium` / `high`), as the entries of a zod enum: an
 * object rather than an array so that each level is documented where the schema's type shows it.
 */
const RISK_LEVELS = {
  /** Little harm if it goes wrong, easily undone (reading, drafting). */
  low: 'low',
  /** Visible to others or costly to undo (sending one message, a bounded spend). */
  medium: 'medium',
  /** Hard or impossible to undo (payments, deletions, mass messages). */
  high: 'high',
} as const;

const ApprovalSchema = z.union([
  z.boolean(),
  z.strictObject({
    required: z.boolean(),
    reason: z.string().optional(),
    risk: z.enum(RISK_LEVELS).optional(),
  }),
]);

/** Per-tool settings (all optional: what is absent comes from the defaults, then the annotations). */
export const McpToolOverlaySchema = z.strictObject({
  /** Require a human approval before the tool runs (or not). */
  approval: ApprovalSchema.optional(),
  /** Safe to retry after a crash (same idempotency key). */
  idempotent: z.boolean().optional(),
  /** Per-call timeout in ms (the call is cancelled with MCP `notifications/cancelled`). */
  timeout: z.number().int().positive().optional(),
  /** Cache results by canonical input for `ttl` seconds. */
  cache: z.union([z.literal(false), z.strictObject({ ttl: z.number().int().positive() })]).optional(),
  /** Roles allowed to grant the approval (empty or absent: any actor). */
  roles: z.array(z.string().min(1)).optional(),
  /** The executor domain (default: `data` for read-only tools, `ops` otherwise). */
  domain: z.string().min(1).optional(),
  /** Replaces the server's description (what the planner reads). */
  description: z.string().min(1).optional(),
  retries: z
    .strictObject({ max: z.number().int().min(0).max(10), backoff: z.number().int().min(0) })
    .optional(),
});

/** The overlay file of one server. */
export const McpOverlaySchema = z.strictObject({
  /** Prefix of the registered names (`<prefix>.<tool>`); default: the server name given in code. */
  prefix: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/)
    .optional(),
  /**
   * Tools to register, by name or glob (`*` matches any run of characters). Absent: every tool the
   * server lists. A tool not allowed here (or denied below) is never registered.
   */
  allow: z.array(z.string().min(1)).optional(),
  /** Tools never to register (wins over `allow`). */
  deny: z.array(z.string().min(1)).optional(),
  /** Settings for every tool of the server (a tool's own entry wins). */
  defaults: McpToolOverlaySchema.optional(),
  /** Settings per tool, by the server's tool name. */
  tools: z.record(z.string().min(1), McpToolOverlaySchema).optional(),
});

/** Per-tool overlay settings. */
export type McpToolOverlay = z.infer<typeof McpToolOverlaySchema>;
/** A server's overlay. */
export type McpOverlay = z.infer<typeof McpOverlaySchema>;

/**
 * Parses and validates an overlay written in YAML (or JSON).
 *
 * @param text - the file's text
 * @param file - its name, for error messages
 * @returns the overlay
 * @throws DreamAgentError `INVALID_INPUT` naming the file, line and key of the first problem
 * @example
 * ```yaml
 * prefix: fs
 * allow: [read_text_file, list_directory, write_file]
 * defaults: { timeout: 10000 }
 * tools:
 *   write_file: { approval: { required: true, risk: high }, roles: [editor] }
 *   read_text_file: { cache: { ttl: 60 } }
 * ```
 */
export function parseMcpOverlay(text: string, file = '<overlay>'): McpOverlay {
  const doc = parseDocument(text, { prettyErrors: false });
  const yamlError = doc.errors[0];
  if (yamlError !== undefined) {
    const line = yamlError.linePos?.[0]?.line ?? 1;
    throw new DreamAgentError('INVALID_INPUT', `${file}:${line}: ${yamlError.message}`, {
      retryable: false,
      details: { file, line },
    });
  }
  const parsed = McpOverlaySchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.map(String) ?? [];
    const node = path.length > 0 ? doc.getIn(path, true) : undefined;
    const offset = (node as { range?: [number, number] } | undefined)?.range?.[0];
    const line = offset === undefined ? 1 : text.slice(0, offset).split('\n').length;
    throw new DreamAgentError(
      'INVALID_INPUT',
      `${file}:${line}: ${path.join('.') || '(root)'}: ${issue?.message ?? 'invalid overlay'}`,
      { retryable: false, details: { file, line, path: path.join('.') } },
    );
  }
  return parsed.data;
}

function glob(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

/**
 * Whether the overlay lets a tool be registered.
 *
 * @param overlay - the overlay
 * @param tool - the server's tool name
 * @returns false when denied, or when an `allow` list exists and does not match
 */
export function isAllowed(overlay: McpOverlay, tool: string): boolean {
  if ((overlay.deny ?? []).some((p) => glob(p).test(tool))) return false;
  if (overlay.allow === undefined) return true;
  return overlay.allow.some((p) => glob(p).test(tool));
}
