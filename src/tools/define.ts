/**
 * Code tools (`defineTool` with zod schemas) and the metadata schema shared with YAML tools: both kinds
 * of definition end up as the same {@link ToolHandle}.
 *
 * @packageDocumentation
 */
import { z } from 'zod';
import { DreamAgentError } from '../errors/index.js';
import type { Json, JsonObject } from '../model/json.js';
import { RISK_LEVELS } from '../model/plan.js';
import { canonicalJson, sha256Hex } from './canonical.js';
import {
  createHttpInvoker,
  type HTTP_METHODS,
  type HttpHandlerOptions,
  type HttpHandlerSpec,
} from './handlers/http.js';
import { formatZodIssues, validateWithZod } from './json-schema.js';
import type {
  ToolApproval,
  ToolContext,
  ToolDefinitionError,
  ToolHandle,
  ValidationResult,
} from './types.js';

/** Tool names: a letter, then letters, digits, `_`, `.`, `:` or `-`; at most 128 characters; no `@`. */
export const TOOL_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.:-]{0,127}$/;

/** {@link HTTP_METHODS} as the entries of a zod enum, each documented (the values are the same). */
const HTTP_METHOD_ENTRIES = {
  /** Sends no body: input fields only fill the URL template. */
  GET: 'GET',
  /** Sends the input (or its `body` field) as JSON. */
  POST: 'POST',
  /** Sends the input (or its `body` field) as JSON. */
  PUT: 'PUT',
  /** Sends the input (or its `body` field) as JSON. */
  PATCH: 'PATCH',
  /** Sends no body: input fields only fill the URL template. */
  DELETE: 'DELETE',
} as const satisfies { [M in (typeof HTTP_METHODS)[number]]: M };

/** `approval:` in a definition: a boolean or settings. */
export const ToolApprovalInputSchema = z.union([
  z.boolean(),
  z.strictObject({
    /**
     * Whether a human must approve before a todo running this tool starts (default true when settings are
     * given).
     */
    required: z.boolean().default(true),
    /** Why approval is needed, shown to the approver (at most 2000 characters). Unset: no reason shown. */
    reason: z.string().max(2000).optional(),
    /**
     * How risky the effect is (`low`, `medium` or `high`), shown to the approver in the approval request.
     * Unset: not rated.
     */
    risk: z.enum(RISK_LEVELS).optional(),
    /** Roles allowed to grant the approval; unset or empty means any actor may. */
    roles: z.array(z.string().min(1)).optional(),
  }),
]);
/** `approval:` as written. */
export type ToolApprovalInput = z.input<typeof ToolApprovalInputSchema>;

/** The zod shape of the metadata every tool definition has (YAML and code). */
export const toolMetaShape = {
  /**
   * Unique tool name (`sales.query`): a letter, then letters, digits, `_`, `.`, `:` or `-`; at most 128
   * characters.
   */
  name: z.string().regex(TOOL_NAME_PATTERN, {
    message: 'expected a letter followed by letters, digits, "_", ".", ":" or "-" (at most 128 characters)',
  }),
  /**
   * What the tool does, for planners (and the model) choosing tools and for users reviewing plans; 1–4000
   * characters.
   */
  description: z.string().min(1).max(4000),
  /**
   * Which executor runs it: `data`, `insight`, `content`, `ops`, or a custom domain (a letter, then up to 63
   * letters, digits, `_` or `-`).
   */
  domain: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, {
    message: 'expected a domain name such as data, insight, content or ops',
  }),
  /**
   * The tool's version (a string of 1–64 characters or a number). Unset: a hash of the definition, so every
   * change is a new version.
   */
  version: z.union([z.string().min(1).max(64), z.number()]).optional(),
  /**
   * Approval gate: `true`, `false` (the default) or settings. A todo's own `approval` and the agent's policy
   * can still require approval.
   */
  approval: ToolApprovalInputSchema.default(false),
  /**
   * Safe to run again with the same input after a crash (default false: a run interrupted by a crash
   * waits for a human to retry it, mark it done or skip it).
   */
  idempotent: z.boolean().default(false),
  /** Execution cache: results are reused for the same input while fresh. Unset: not cached. */
  cache: z
    .strictObject({
      /** How long a result stays fresh, in seconds (positive). */
      ttl: z.number().positive(),
    })
    .optional(),
  /**
   * Per-attempt timeout in ms (a positive integer); an attempt that exceeds it fails with `TIMEOUT`, which is
   * retryable. Unset: no timeout.
   */
  timeout: z.number().int().positive().optional(),
  /** Retries of retryable failures (timeouts, 5xx, network errors). Unset: none. */
  retries: z
    .strictObject({
      /** Extra attempts after the first (0–10). */
      max: z.number().int().min(0).max(10),
      /**
       * Base delay in ms (0–600000, default 500): retry n waits a random time up to `backoff * 2^n` (capped
       * by the executor).
       */
      backoff: z.number().int().min(0).max(600_000).default(500),
    })
    .optional(),
  /** Free labels for search and filtering (at most 64, each 1–64 characters; default none). */
  tags: z.array(z.string().min(1).max(64)).max(64).default([]),
};

/** The zod schema of an http handler spec. */
export const HttpHandlerSpecSchema = z.strictObject({
  /**
   * URL template: `{field}` is replaced by the URL-encoded input field, `${env:NAME}` by an environment
   * variable read at call time.
   */
  url: z.string().min(1),
  /** HTTP method, case-insensitive (default `GET`). POST, PUT and PATCH send the input as the JSON body. */
  method: z
    .preprocess((m) => (typeof m === 'string' ? m.toUpperCase() : m), z.enum(HTTP_METHOD_ENTRIES))
    .optional(),
  /**
   * Request headers; values may contain `${env:NAME}` secrets, which never appear in errors or logs. Unset:
   * none besides the defaults.
   */
  headers: z.record(z.string(), z.string()).optional(),
  /** The input field sent as the JSON body (POST/PUT/PATCH). Unset: the whole input. */
  body: z.string().min(1).optional(),
  /** How the response JSON becomes the output. Unset: the whole response. */
  response: z
    .strictObject({
      /** A dot path into the response JSON (`data.items`); the output is the value there. */
      pick: z.string().optional(),
      /** Reshapes the (picked) response: output field → dot path into it. */
      map: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
});

/**
 * Normalises `approval:` to a {@link ToolApproval}.
 *
 * @param a - a boolean or settings (already parsed)
 * @returns the settings
 */
export function normalizeApproval(a: z.output<typeof ToolApprovalInputSchema>): ToolApproval {
  if (typeof a === 'boolean') return { required: a };
  const out: ToolApproval = { required: a.required };
  if (a.reason !== undefined) out.reason = a.reason;
  if (a.risk !== undefined) out.risk = a.risk;
  if (a.roles !== undefined) out.roles = a.roles;
  return out;
}

/** The parts of a handle that come from the metadata. */
export type ToolMeta = Pick<
  ToolHandle,
  | 'name'
  | 'description'
  | 'domain'
  | 'tags'
  | 'approval'
  | 'idempotent'
  | 'cacheTtlSeconds'
  | 'timeoutMs'
  | 'retries'
>;

/**
 * Converts parsed metadata into handle fields.
 *
 * @param m - the parsed metadata
 * @returns the handle fields (version excluded)
 */
export function toolMetaFields(m: z.output<z.ZodObject<typeof toolMetaShape>>): ToolMeta {
  const meta: ToolMeta = {
    name: m.name,
    description: m.description,
    domain: m.domain,
    tags: m.tags,
    approval: normalizeApproval(m.approval),
    idempotent: m.idempotent,
  };
  if (m.cache !== undefined) meta.cacheTtlSeconds = m.cache.ttl;
  if (m.timeout !== undefined) meta.timeoutMs = m.timeout;
  if (m.retries !== undefined) meta.retries = { max: m.retries.max, backoffMs: m.retries.backoff };
  return meta;
}

/**
 * A short content hash used as the default version of tools that do not set one.
 *
 * @param content - any JSON describing the definition
 * @returns 12 hex characters
 */
export function contentVersion(content: Json): string {
  return sha256Hex(canonicalJson(content)).slice(0, 12);
}

/**
 * Checks that a handler's output is plain JSON (used when a tool declares no output schema).
 *
 * @param value - the output
 * @returns ok, or an issue naming the first non-JSON value
 */
export function checkJsonValue(value: unknown): ValidationResult {
  const bad = findNonJson(value, '', 0);
  return bad === undefined
    ? { ok: true, value: value as Json }
    : { ok: false, issues: [{ path: bad.path, message: `expected a JSON value, got ${bad.what}` }] };
}

function findNonJson(v: unknown, path: string, depth: number): { path: string; what: string } | undefined {
  if (depth > 256) return { path, what: 'a value nested deeper than 256 levels' };
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(v) ? undefined : { path, what: String(v) };
    case 'object': {
      if (v === null) return undefined;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const b = findNonJson(v[i], `${path}[${i}]`, depth + 1);
          if (b) return b;
        }
        return undefined;
      }
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null)
        return { path, what: `an instance of ${(v as object).constructor.name}` };
      for (const [k, item] of Object.entries(v)) {
        const b = findNonJson(item, path === '' ? k : `${path}.${k}`, depth + 1);
        if (b) return b;
      }
      return undefined;
    }
    case 'undefined':
    case 'bigint':
    case 'function':
    case 'symbol':
      return { path, what: typeof v };
  }
}

/** A code tool's handler: a function of the parsed input, or an http endpoint. */
export type CodeToolHandler<I extends z.ZodType, O extends z.ZodType> =
  | ((input: z.output<I>, ctx: ToolContext) => z.input<O> | Promise<z.input<O>>)
  | {
      /**
       * The endpoint to call instead of a function (`defineTool`'s `http` option configures env and fetch).
       */
      http: HttpHandlerSpec;
    };

/** What {@link defineTool} takes: the fields of a YAML definition, with zod schemas and a function. */
export interface DefineToolOptions<I extends z.ZodType, O extends z.ZodType> {
  /** Unique name (`sales.query`). */
  name: string;
  /**
   * What the tool does, for planners (and the model) choosing tools and for users reviewing plans; 1–4000
   * characters.
   */
  description: string;
  /** Which executor runs it (`data`, `insight`, `content`, `ops` or custom). */
  domain: string;
  /** Default: a hash of the definition and the handler's source, so a code change is a new version. */
  version?: string | number;
  /**
   * The zod schema of the input: the handler receives the parsed value; invalid input fails the todo with
   * `INVALID_INPUT`. Its JSON Schema is what planners see.
   */
  input: I;
  /**
   * The zod schema of the output, checked after every call (invalid output fails the todo with
   * `TOOL_FAILED`). Unset: any JSON value is accepted.
   */
  output?: O;
  /**
   * The function that does the work (receives the parsed input and a {@link ToolContext}), or `{ http: … }`
   * for an HTTP endpoint.
   */
  handler: CodeToolHandler<I, O>;
  /** Approval gate: `true`, `false` (the default) or settings (`{ reason, risk, roles }`). */
  approval?: ToolApprovalInput;
  /**
   * Safe to run again with the same input after a crash (default false: a run interrupted by a crash
   * waits for a human to retry it, mark it done or skip it).
   */
  idempotent?: boolean;
  /** Execution cache: results are reused for the same input while fresh. Unset: not cached. */
  cache?: {
    /** How long a result stays fresh, in seconds (positive). */
    ttl: number;
  };
  /** Per-attempt timeout in ms. */
  timeout?: number;
  /** Retries of retryable errors (timeouts, 5xx, network errors). Unset: none. */
  retries?: {
    /** Extra attempts after the first (0–10). */
    max: number;
    /** Base delay in ms (default 500): retry n waits a random time up to `backoff * 2^n`. */
    backoff?: number;
  };
  /** Free labels for search and filtering (at most 64, each 1–64 characters; default none). */
  tags?: string[];
  /** Options of http handlers (env, fetch). */
  http?: HttpHandlerOptions;
}

/**
 * Defines a tool in code. The result is the same {@link ToolHandle} a YAML file produces; register it with
 * `registry.register(tool)`.
 *
 * @param options - the definition (see {@link DefineToolOptions})
 * @returns the tool handle
 * @throws DreamAgentError `TOOL_INVALID` naming each bad field
 * @example
 * ```ts
 * const add = defineTool({
 *   name: 'math.add', description: 'Adds two numbers', domain: 'data',
 *   input: z.object({ a: z.number(), b: z.number() }),
 *   output: z.object({ sum: z.number() }),
 *   handler: ({ a, b }) => ({ sum: a + b }),
 *   cache: { ttl: 60 },
 * });
 * registry.register(add);
 * ```
 */
export function defineTool<I extends z.ZodType, O extends z.ZodType = z.ZodType<Json>>(
  options: DefineToolOptions<I, O>,
): ToolHandle {
  const { input, output, handler, http, ...metaInput } = options;
  const parsed = z.strictObject(toolMetaShape).safeParse(metaInput);
  if (!parsed.success) {
    const errors: ToolDefinitionError[] = formatZodIssues(parsed.error.issues, metaInput).map((i) => ({
      file: '<code>',
      line: 1,
      column: 1,
      path: i.path,
      message: i.message,
    }));
    const label = typeof options.name === 'string' ? `"${options.name}"` : '(unnamed)';
    throw new DreamAgentError(
      'TOOL_INVALID',
      `invalid tool definition ${label}: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
      { retryable: false, details: { errors } },
    );
  }
  const toJson = (s: z.ZodType): JsonObject =>
    z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as unknown as JsonObject;
  const inputSchema = toJson(input);
  const outputSchema = output === undefined ? undefined : toJson(output);
  const meta = toolMetaFields(parsed.data);
  const handlerSource: Json =
    typeof handler === 'function' ? handler.toString() : (handler.http as unknown as Json);
  const revision = contentVersion({
    meta: metaInput as unknown as Json,
    input: inputSchema,
    output: outputSchema ?? null,
    handler: handlerSource,
  });
  const version = parsed.data.version === undefined ? revision : String(parsed.data.version);

  let invoke: ToolHandle['invoke'];
  if (typeof handler === 'function') {
    invoke = async (value, ctx) => (await handler(value as z.output<I>, ctx)) as Json;
  } else {
    const httpSpec = HttpHandlerSpecSchema.safeParse(handler.http);
    if (!httpSpec.success) {
      const msg = formatZodIssues(httpSpec.error.issues, handler.http)
        .map((i) => `handler.http.${i.path}: ${i.message}`)
        .join('; ');
      throw new DreamAgentError('TOOL_INVALID', `invalid tool definition "${meta.name}": ${msg}`, {
        retryable: false,
      });
    }
    invoke = createHttpInvoker(meta.name, httpSpec.data as HttpHandlerSpec, http);
  }

  const handle: ToolHandle = {
    ...meta,
    version,
    revision,
    inputSchema,
    source: '<code>',
    validateInput: (value) => validateWithZod(input, value),
    validateOutput: (value) =>
      output === undefined ? checkJsonValue(value) : validateWithZod(output, value),
    invoke,
  };
  if (outputSchema !== undefined) handle.outputSchema = outputSchema;
  return Object.freeze(handle);
}
