/**
 * `@dream-agent/mcp`: Model Context Protocol servers as dream-agent tools. Connects over stdio or
 * streamable HTTP, lists the server's tools and registers each in a {@link ToolRegistry} as an ordinary
 * tool (JSON Schema input, domain, description), refreshed when the server announces
 * `notifications/tools/list_changed`.
 *
 * Safety is ours, not the server's: annotations only set defaults (read-only → no approval, idempotent;
 * anything else → approval required), and a per-server overlay (YAML) overrides approval, idempotency,
 * timeout, cache and roles per tool and decides which tools are registered at all.
 *
 * @packageDocumentation
 */
import { readFile } from 'node:fs/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ToolListChangedNotificationSchema, type Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import {
  DreamAgentError,
  TOOL_NAME_PATTERN,
  compileJsonSchema,
  isDreamAgentError,
  type Json,
  type JsonObject,
  type ToolApproval,
  type ToolContext,
  type ToolHandle,
  type ToolRegistry,
  type ValidationResult,
} from 'dream-agent';
import { canonicalJson } from 'dream-agent/adapter-kit';
import { isAllowed, parseMcpOverlay, type McpOverlay, type McpToolOverlay } from './overlay.js';

export { isAllowed, McpOverlaySchema, McpToolOverlaySchema, parseMcpOverlay } from './overlay.js';
export type { McpOverlay, McpToolOverlay } from './overlay.js';

/** How to reach the server. */
export type McpTransportSpec =
  /** Spawn a child process speaking MCP on stdin/stdout. */
  | { type: 'stdio'; command: string; args?: string[]; env?: Record<string, string>; cwd?: string }
  /** A streamable HTTP endpoint (e.g. `http://127.0.0.1:3001/mcp`). */
  | { type: 'http'; url: string; headers?: Record<string, string> }
  /** Any transport of the SDK, built by you (called again on reconnect). */
  | { type: 'custom'; create: () => Transport };

/** Options of {@link McpToolSource.connect}. */
export interface McpToolSourceOptions {
  /** A name for the server: the default prefix of its tools (`<name>.<tool>`) and the label in errors. */
  name: string;
  transport: McpTransportSpec;
  /** Where the tools are registered. */
  registry: ToolRegistry;
  /** The overlay: parsed, YAML text, or `{ file }` to read. */
  overlay?: McpOverlay | string | { file: string };
  /** Default per-call timeout in ms when neither the overlay nor the todo sets one (default 60 000). */
  timeoutMs?: number;
  /** Client identity sent in `initialize` (default `dream-agent`). */
  clientInfo?: { name: string; version: string };
  /** Called after every refresh of the tool list (also the first). */
  onRefresh?: (names: string[]) => void;
  /** Called when a refresh after `list_changed` failed (the previous tools stay registered). */
  onError?: (error: DreamAgentError) => void;
}

const IDEMPOTENCY_META_KEY = 'io.dream-agent/idempotency-key';
/** At most this many `tools/list` pages per refresh: a server that paginates forever cannot hang us. */
const MAX_LIST_PAGES = 100;
/** At most this many tools per server. */
const MAX_TOOLS = 10_000;
/** Longest server text kept in an error message, and in its details (characters). */
const MAX_ERROR_MESSAGE_CHARS = 2000;
const MAX_ERROR_DETAIL_CHARS = 8000;

/**
 * The tools of one MCP server, registered in a registry and kept in sync with the server.
 *
 * @example
 * ```ts
 * const registry = new ToolRegistry();
 * const fs = await McpToolSource.connect({
 *   name: 'fs',
 *   transport: { type: 'stdio', command: 'npx', args: ['@modelcontextprotocol/server-filesystem', dir] },
 *   registry,
 *   overlay: { file: './mcp/fs.yaml' },
 * });
 * const agent = new Agent({ tools: registry, llm });
 * // … later
 * await fs.close(); // unregisters its tools
 * ```
 */
export class McpToolSource {
  /** The server name given in the options. */
  readonly name: string;
  readonly #options: McpToolSourceOptions;
  readonly #overlay: McpOverlay;
  readonly #prefix: string;
  #client: Client | undefined;
  #connecting: Promise<Client> | undefined;
  readonly #registered = new Map<string, string>(); // registered name → revision
  #closed = false;
  #refreshing: Promise<string[]> | undefined;
  #again = false;
  #connectedOnce = false;

  private constructor(options: McpToolSourceOptions, overlay: McpOverlay) {
    this.name = options.name;
    this.#options = options;
    this.#overlay = overlay;
    this.#prefix = overlay.prefix ?? options.name;
  }

  /**
   * Connects to the server, lists its tools and registers those the overlay allows.
   *
   * @param options - server, transport, registry, overlay
   * @returns the connected source
   * @throws DreamAgentError `INVALID_INPUT` for a bad name or overlay (with file and line);
   *   `UNAVAILABLE` when the server cannot be reached or fails `initialize`
   */
  static async connect(options: McpToolSourceOptions): Promise<McpToolSource> {
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(options.name)) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `an MCP server name must match ^[A-Za-z][A-Za-z0-9_-]{0,63}$, got ${JSON.stringify(options.name)}`,
      );
    }
    let overlay: McpOverlay = {};
    const given = options.overlay;
    if (typeof given === 'string') overlay = parseMcpOverlay(given);
    else if (given !== undefined && 'file' in given && typeof given.file === 'string') {
      overlay = parseMcpOverlay(await readFile(given.file, 'utf8'), given.file);
    } else if (given !== undefined)
      overlay = parseMcpOverlay(JSON.stringify(given), `<${options.name} overlay>`);
    const source = new McpToolSource(options, overlay);
    await source.#connect();
    await source.refresh();
    return source;
  }

  /** @returns the names this source has registered, sorted */
  tools(): string[] {
    return [...this.#registered.keys()].sort();
  }

  /**
   * Lists the server's tools again and updates the registry: new and changed tools are registered,
   * removed or no longer allowed ones unregistered. Concurrent calls share one refresh (and one more
   * runs after it if another was asked for meanwhile).
   *
   * @returns the registered names
   * @throws DreamAgentError `UNAVAILABLE` when the server cannot be reached
   */
  async refresh(): Promise<string[]> {
    if (this.#refreshing !== undefined) {
      this.#again = true;
      return this.#refreshing;
    }
    this.#refreshing = (async () => {
      try {
        let names: string[];
        do {
          this.#again = false;
          names = await this.#sync();
        } while (this.#again);
        return names;
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  /**
   * Unregisters every tool of this source and closes the connection (stops a stdio child).
   */
  async close(): Promise<void> {
    this.#closed = true;
    for (const name of this.#registered.keys()) this.#options.registry.unregister(name);
    this.#registered.clear();
    const client = this.#client;
    this.#client = undefined;
    await client?.close().catch(() => undefined);
  }

  async #connect(): Promise<Client> {
    if (this.#client !== undefined) return this.#client;
    if (this.#connecting !== undefined) return this.#connecting;
    this.#connecting = (async () => {
      const client = new Client(this.#options.clientInfo ?? { name: 'dream-agent', version: '0.1.0' }, {
        capabilities: {},
      });
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
        if (this.#closed) return;
        this.refresh().catch((error: unknown) => this.#options.onError?.(toError(error, this.name)));
      });
      client.onclose = () => {
        // The server went away (a stdio child died, an HTTP session ended): reconnect on next use.
        if (this.#client === client) this.#client = undefined;
      };
      try {
        await client.connect(this.#transport());
      } catch (error) {
        await client.close().catch(() => undefined);
        throw new DreamAgentError(
          'UNAVAILABLE',
          `could not connect to MCP server "${this.name}": ${message(error)}`,
          {
            cause: error,
            retryable: true,
            details: { server: this.name },
          },
        );
      }
      this.#client = client;
      return client;
    })();
    let client: Client;
    try {
      client = await this.#connecting;
    } finally {
      this.#connecting = undefined;
    }
    if (this.#connectedOnce && !this.#closed) {
      // A reconnect (the server died, an HTTP session ended): the server that answers now may list other
      // tools than the one that went away, so the registry is brought in line with it.
      this.refresh().catch((error: unknown) => this.#options.onError?.(toError(error, this.name)));
    }
    this.#connectedOnce = true;
    return client;
  }

  #transport(): Transport {
    const t = this.#options.transport;
    switch (t.type) {
      case 'stdio':
        return new StdioClientTransport({
          command: t.command,
          ...(t.args === undefined ? {} : { args: t.args }),
          ...(t.env === undefined ? {} : { env: t.env }),
          ...(t.cwd === undefined ? {} : { cwd: t.cwd }),
          stderr: 'ignore',
        });
      case 'http':
        return new StreamableHTTPClientTransport(
          new URL(t.url),
          t.headers === undefined ? undefined : { requestInit: { headers: t.headers } },
        );
      case 'custom':
        return t.create();
    }
  }

  async #sync(): Promise<string[]> {
    const client = await this.#connect();
    const listed: McpTool[] = [];
    let cursor: string | undefined;
    const cursors = new Set<string>();
    try {
      for (let page = 1; ; page++) {
        const result = await client.listTools(cursor === undefined ? undefined : { cursor });
        listed.push(...result.tools);
        cursor = result.nextCursor;
        if (cursor === undefined || listed.length >= MAX_TOOLS) break;
        if (cursors.has(cursor) || page >= MAX_LIST_PAGES) {
          const why = cursors.has(cursor)
            ? `repeats the cursor ${JSON.stringify(cursor.slice(0, 100))} after ${page} pages`
            : `is still paginating after ${page} pages`;
          throw new DreamAgentError(
            'UNAVAILABLE',
            `the MCP server "${this.name}" ${why} of its tool list (at most ${MAX_LIST_PAGES} pages are read)`,
            { retryable: true, details: { server: this.name, pages: page } },
          );
        }
        cursors.add(cursor);
      }
    } catch (error) {
      throw toError(error, this.name);
    }
    if (this.#closed) return [];
    const registry = this.#options.registry;
    const seen = new Set<string>();
    // Names made safe can collide (`get.x` and `get_x` both become `<prefix>.get_x`): registering either
    // would let one tool silently stand in for the other, so neither is registered.
    const byName = new Map<string, string[]>();
    for (const tool of listed) {
      if (!isAllowed(this.#overlay, tool.name)) continue;
      const name = this.#nameOf(tool.name);
      byName.set(name, [...(byName.get(name) ?? []), tool.name]);
    }
    for (const [name, originals] of byName) {
      if (originals.length < 2) continue;
      this.#options.onError?.(
        new DreamAgentError(
          'TOOL_INVALID',
          `MCP tools ${originals.map((o) => JSON.stringify(o)).join(', ')} on "${this.name}" would all be named "${name}": none of them is registered`,
          { retryable: false, details: { server: this.name, tools: originals, name } },
        ),
      );
    }
    for (const tool of listed) {
      if (!isAllowed(this.#overlay, tool.name)) continue;
      if ((byName.get(this.#nameOf(tool.name))?.length ?? 0) > 1) continue;
      const handle = this.#handle(tool);
      if (handle === undefined) continue;
      seen.add(handle.name);
      if (this.#registered.get(handle.name) === handle.revision) continue;
      if (this.#registered.has(handle.name)) registry.unregister(handle.name);
      registry.register(handle);
      this.#registered.set(handle.name, handle.revision ?? handle.version);
    }
    for (const name of [...this.#registered.keys()]) {
      if (!seen.has(name)) {
        registry.unregister(name);
        this.#registered.delete(name);
      }
    }
    const names = this.tools();
    this.#options.onRefresh?.(names);
    return names;
  }

  /** The registry name of an MCP tool: the prefix, then the tool name with unsafe characters as `_`. */
  #nameOf(tool: string): string {
    return `${this.#prefix}.${tool.replace(/[^A-Za-z0-9_:-]/g, '_')}`;
  }

  /** Builds the registry entry of one MCP tool, or undefined (reported) when its schema is unusable. */
  #handle(tool: McpTool): ToolHandle | undefined {
    const settings: McpToolOverlay = { ...this.#overlay.defaults, ...this.#overlay.tools?.[tool.name] };
    const hints = tool.annotations ?? {};
    const readOnly = hints.readOnlyHint === true;
    // MCP's defaults: destructiveHint true and idempotentHint false unless the server says otherwise.
    const destructive = !readOnly && hints.destructiveHint !== false;
    const approval: ToolApproval = approvalOf(settings, readOnly, destructive);
    const name = this.#nameOf(tool.name);
    if (!TOOL_NAME_PATTERN.test(name)) {
      this.#options.onError?.(
        new DreamAgentError('TOOL_INVALID', `MCP tool "${tool.name}" cannot be named "${name}"`, {
          retryable: false,
          details: { server: this.name, tool: tool.name },
        }),
      );
      return undefined;
    }
    const inputSchema = tool.inputSchema as unknown as JsonObject;
    const input = compileJsonSchema(inputSchema);
    const output = tool.outputSchema === undefined ? undefined : compileJsonSchema(tool.outputSchema);
    if (!input.ok || (output !== undefined && !output.ok)) {
      const issues = !input.ok ? input.issues : output !== undefined && !output.ok ? output.issues : [];
      this.#options.onError?.(
        new DreamAgentError(
          'TOOL_INVALID',
          `MCP tool "${tool.name}" has an unusable schema: ${issues[0]?.message ?? ''}`,
          {
            retryable: false,
            details: { server: this.name, tool: tool.name },
          },
        ),
      );
      return undefined;
    }
    const revision = canonicalJson({ tool, settings } as unknown as Json);
    const version = `mcp-${hash(revision)}`;
    const timeoutMs = settings.timeout ?? this.#options.timeoutMs ?? 60_000;
    const handle: ToolHandle = {
      name,
      version,
      description: settings.description ?? tool.description ?? tool.title ?? tool.name,
      domain: settings.domain ?? (readOnly ? 'data' : 'ops'),
      tags: ['mcp', `mcp:${this.name}`],
      approval,
      idempotent: settings.idempotent ?? (readOnly || hints.idempotentHint === true),
      timeoutMs,
      inputSchema,
      revision: version,
      source: `mcp:${this.name}`,
      validateInput: (value: Json): ValidationResult => input.validator.validate(value),
      validateOutput: (value: Json): ValidationResult =>
        output?.ok === true && isObject(value) && !('text' in value && 'content' in value)
          ? output.validator.validate(value)
          : { ok: true, value },
      invoke: (value: Json, ctx: ToolContext) => this.#call(tool.name, value, ctx, timeoutMs),
    };
    if (output?.ok === true) handle.outputSchema = tool.outputSchema as unknown as JsonObject;
    const cache = settings.cache;
    if (cache !== undefined && cache !== false) handle.cacheTtlSeconds = cache.ttl;
    if (settings.retries !== undefined)
      handle.retries = { max: settings.retries.max, backoffMs: settings.retries.backoff };
    return handle;
  }

  /** One `tools/call`. Aborting `ctx.signal` (cancel, todo timeout) sends MCP `notifications/cancelled`. */
  async #call(tool: string, input: Json, ctx: ToolContext, timeoutMs: number): Promise<Json> {
    if (this.#closed) {
      throw new DreamAgentError('UNAVAILABLE', `MCP server "${this.name}" is closed`, { retryable: false });
    }
    const client = await this.#connect();
    let result: Awaited<ReturnType<Client['callTool']>>;
    try {
      result = await client.callTool(
        {
          name: tool,
          arguments: isObject(input) ? (input as Record<string, unknown>) : {},
          _meta: { [IDEMPOTENCY_META_KEY]: ctx.idempotencyKey },
        },
        undefined,
        // The todo's timeout aborts ctx.signal first; this bound is the backstop of the SDK itself.
        {
          signal: ctx.signal,
          timeout: timeoutMs + 1000,
          // MCP progress notifications become todo.progress events.
          onprogress: (p) => {
            const pct =
              p.total !== undefined && p.total > 0 ? Math.round((p.progress / p.total) * 100) : undefined;
            ctx.progress(p.message ?? `${p.progress}${p.total === undefined ? '' : `/${p.total}`}`, pct);
          },
        },
      );
    } catch (error) {
      throw toError(error, this.name, ctx.signal, tool);
    }
    return toOutput(result as CallResult, this.name, tool);
  }
}

interface CallResult {
  content?: { type: string; text?: string; [k: string]: unknown }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
  toolResult?: unknown;
}

/**
 * Maps a `tools/call` result to a todo output: the structured content when the tool returned one
 * (so later todos can `$ref` into it), otherwise `{ text, content }` — the text parts joined, and the
 * content blocks with binary data replaced by its size (images, audio, blobs). `isError: true` becomes
 * a `TOOL_FAILED` error carrying the text.
 *
 * @param result - the MCP result
 * @param server - the server name (for errors)
 * @param tool - the MCP tool name (for errors)
 * @returns the todo output
 * @throws DreamAgentError `TOOL_FAILED` for an error result
 */
export function toOutput(result: CallResult, server: string, tool: string): Json {
  const content = Array.isArray(result.content) ? result.content : [];
  const text = content
    .filter((c) => c.type === 'text' && typeof c.text === 'string')
    .map((c) => c.text as string)
    .join('\n');
  if (result.isError === true) {
    // The server's text is bounded: a 2 MB error would otherwise be stored, logged and sent on as is.
    throw new DreamAgentError(
      'TOOL_FAILED',
      `MCP tool "${tool}" on "${server}" failed: ${clip(text, MAX_ERROR_MESSAGE_CHARS) || 'no message'}`,
      {
        retryable: false,
        details: { server, tool, text: clip(text, MAX_ERROR_DETAIL_CHARS) },
      },
    );
  }
  if (result.structuredContent !== undefined && isObject(result.structuredContent)) {
    return JSON.parse(JSON.stringify(result.structuredContent)) as Json;
  }
  if (content.length === 0 && result.toolResult !== undefined) {
    return JSON.parse(JSON.stringify({ text: '', content: [], result: result.toolResult })) as Json;
  }
  const blocks = content.map((c) => {
    const out: Record<string, unknown> = { ...c };
    for (const key of ['data', 'blob'] as const) {
      const v = (c as Record<string, unknown>)[key];
      if (typeof v === 'string') {
        delete out[key];
        out[`${key}Bytes`] = Math.floor((v.length * 3) / 4);
      }
    }
    const resource = (c as { resource?: Record<string, unknown> }).resource;
    if (isObject(resource) && typeof resource['blob'] === 'string') {
      const { blob, ...rest } = resource;
      out['resource'] = { ...rest, blobBytes: Math.floor(((blob as string).length * 3) / 4) };
    }
    return out;
  });
  return JSON.parse(JSON.stringify({ text, content: blocks })) as Json;
}

function approvalOf(settings: McpToolOverlay, readOnly: boolean, destructive: boolean): ToolApproval {
  const a = settings.approval;
  let approval: ToolApproval;
  if (a === undefined) {
    approval = readOnly
      ? { required: false }
      : {
          required: true,
          risk: destructive ? 'high' : 'medium',
          reason: destructive
            ? 'the MCP server does not mark this tool read-only or non-destructive'
            : 'the MCP tool is not read-only',
        };
  } else if (typeof a === 'boolean') approval = { required: a };
  else {
    approval = { required: a.required };
    if (a.reason !== undefined) approval.reason = a.reason;
    if (a.risk !== undefined) approval.risk = a.risk;
  }
  if (settings.roles !== undefined) approval.roles = settings.roles;
  return approval;
}

function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = max;
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut -= 1; // do not split a surrogate pair
  return `${text.slice(0, cut)}…[truncated: ${cut} of ${text.length} characters shown]`;
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function hash(text: string): string {
  // FNV-1a, 52 bits: a version label, not a security boundary.
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) {
    h ^= BigInt(text.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return (h & 0xfffffffffffffn).toString(36);
}

/** MCP / JSON-RPC error codes the SDK uses. */
const CONNECTION_CLOSED = -32000;
const REQUEST_TIMEOUT = -32001;

/**
 * Translates what the MCP client threw into a `DreamAgentError`: an aborted signal → `ABORTED`; the SDK's
 * request timeout → `TIMEOUT`; a closed connection (the server died) → `UNAVAILABLE` (retryable); a
 * JSON-RPC error from the server (unknown tool, invalid params) → `TOOL_FAILED`; anything else →
 * `UNAVAILABLE`.
 *
 * @param error - the thrown value
 * @param server - the server name
 * @param signal - the call's signal
 * @param tool - the tool name, when a call failed
 * @returns the mapped error
 */
export function toError(
  error: unknown,
  server: string,
  signal?: AbortSignal,
  tool?: string,
): DreamAgentError {
  if (isDreamAgentError(error)) return error;
  const details = { server, ...(tool === undefined ? {} : { tool }) };
  if (signal?.aborted) {
    const reason: unknown = signal.reason;
    if (isDreamAgentError(reason)) return reason;
    return new DreamAgentError('ABORTED', `the MCP call to "${server}" was cancelled`, {
      cause: error,
      retryable: false,
      details,
    });
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (code === REQUEST_TIMEOUT) {
    return new DreamAgentError(
      'TIMEOUT',
      `the MCP server "${server}" did not answer in time: ${message(error)}`,
      {
        cause: error,
        retryable: true,
        details,
      },
    );
  }
  if (
    code === CONNECTION_CLOSED ||
    (error instanceof Error && /closed|ECONNREFUSED|EPIPE|fetch failed/i.test(error.message))
  ) {
    return new DreamAgentError('UNAVAILABLE', `the MCP server "${server}" went away: ${message(error)}`, {
      cause: error,
      retryable: true,
      details,
    });
  }
  if (typeof code === 'number') {
    return new DreamAgentError(
      'TOOL_FAILED',
      `the MCP server "${server}" refused the call: ${message(error)}`,
      {
        cause: error,
        retryable: false,
        details: { ...details, rpcCode: code },
      },
    );
  }
  return new DreamAgentError('UNAVAILABLE', `the MCP server "${server}" failed: ${message(error)}`, {
    cause: error,
    retryable: true,
    details,
  });
}
