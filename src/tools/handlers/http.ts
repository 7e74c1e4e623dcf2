/**
 * HTTP handlers: `handler: { http: { url, method, headers, body, response } }`.
 *
 * - `url` is a template: `{field}` is replaced by the URL-encoded input field, `${env:NAME}` by an
 *   environment variable read at call time.
 * - `headers` values may contain `${env:NAME}` secrets. Resolved values never appear in errors or logs:
 *   errors carry the URL *template*, never the resolved URL or header values.
 * - POST/PUT/PATCH send the input (or the input field named by `body`) as JSON.
 * - The response JSON becomes the output, optionally narrowed with `response.pick` (a dot path) and/or
 *   reshaped with `response.map` (output field → dot path).
 * - Non-2xx → `TOOL_FAILED` with `details.status`; retryable for 5xx, 408 and 429, not for other 4xx.
 *   Network errors are retryable. The executor's signal carries timeouts and cancellation.
 * - Every request carries `Idempotency-Key: <ctx.idempotencyKey>`, and — when the agent traces with
 *   OpenTelemetry — the todo span's `traceparent` (W3C trace context).
 *
 * @packageDocumentation
 */
import { DreamAgentError, isDreamAgentError } from '../../errors/index.js';
import type { Json } from '../../model/json.js';
import type { ToolContext } from '../types.js';

/** HTTP methods supported by http handlers. */
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** `handler: { http: … }` in a tool definition. */
export interface HttpHandlerSpec {
  /** URL template: `https://api.example.com/orders/{id}?key=${env:API_KEY}`. */
  url: string;
  /** Default `GET`. */
  method?: (typeof HTTP_METHODS)[number];
  /** Header templates; values may contain `${env:NAME}`. */
  headers?: Record<string, string>;
  /** The input field sent as the JSON body (POST/PUT/PATCH); the whole input when omitted. */
  body?: string;
  /** How the response becomes the output. */
  response?: {
    /** A dot path into the response JSON (`data.items`). */
    pick?: string;
    /** Output field → dot path into the (picked) response. */
    map?: Record<string, string>;
  };
}

/** Options of http handlers. */
export interface HttpHandlerOptions {
  /** Where `${env:NAME}` is read from, at call time (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** The fetch implementation (default the global `fetch`). */
  fetch?: typeof fetch;
  /** Largest response body accepted, in bytes (default 10 MiB). */
  maxResponseBytes?: number;
}

const TOKEN = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}|\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const ENV_TOKEN = /\$\{([^}]*)\}/g;
const ENV_NAME = /^env:[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Checks an http handler spec statically (URL shape, placeholder and env syntax).
 *
 * @param spec - the spec
 * @returns issues with paths relative to the spec
 */
export function checkHttpSpec(spec: HttpHandlerSpec): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  for (const m of spec.url.matchAll(ENV_TOKEN)) {
    if (!ENV_NAME.test(m[1] ?? '')) {
      issues.push({ path: ['url'], message: `unsupported substitution ${m[0]} (expected \${env:NAME})` });
    }
  }
  const probe = spec.url.replace(TOKEN, 'x');
  let parsed: URL | undefined;
  try {
    parsed = new URL(probe);
  } catch {
    issues.push({
      path: ['url'],
      message: `expected an absolute http(s) URL, got ${JSON.stringify(spec.url)}`,
    });
  }
  if (parsed && parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    issues.push({ path: ['url'], message: `expected an http or https URL, got ${parsed.protocol}` });
  }
  for (const [name, value] of Object.entries(spec.headers ?? {})) {
    for (const m of value.matchAll(ENV_TOKEN)) {
      if (!ENV_NAME.test(m[1] ?? '')) {
        issues.push({
          path: ['headers', name],
          message: `unsupported substitution ${m[0]} (expected \${env:NAME})`,
        });
      }
    }
  }
  return issues;
}

/**
 * Creates the invoker of an http handler.
 *
 * @param toolName - the tool (for errors)
 * @param spec - the handler spec
 * @param options - env, fetch, size limit
 * @returns an invoke function
 * @throws (from the invoker) `TOOL_INVALID` for a missing env variable, `INVALID_INPUT` for a missing URL
 *   field, `TOOL_FAILED` for non-2xx/network/bad JSON, the signal's reason (`TIMEOUT`/`ABORTED`) when aborted
 */
export function createHttpInvoker(
  toolName: string,
  spec: HttpHandlerSpec,
  options: HttpHandlerOptions = {},
): (input: Json, ctx: ToolContext) => Promise<Json> {
  const method = spec.method ?? 'GET';
  const maxBytes = options.maxResponseBytes ?? 10 * 1024 * 1024;
  const details = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    tool: toolName,
    method,
    url: spec.url, // the template: never the resolved URL, which may hold secrets
    ...extra,
  });
  const env = (name: string, where: string): string => {
    const value = (options.env ?? process.env)[name];
    if (value === undefined) {
      throw new DreamAgentError(
        'TOOL_INVALID',
        `tool "${toolName}": environment variable ${name} is not set (used in ${where})`,
        { retryable: false, details: details({ variable: name }) },
      );
    }
    return value;
  };

  return async (input, ctx) => {
    const fields = typeof input === 'object' && input !== null && !Array.isArray(input) ? input : {};
    const url = spec.url.replace(TOKEN, (_m, envName: string | undefined, field: string | undefined) => {
      if (envName !== undefined) return encodeURIComponent(env(envName, 'url'));
      const v = fields[field as string];
      if (v === undefined || v === null) {
        throw new DreamAgentError(
          'INVALID_INPUT',
          `tool "${toolName}": input field "${field}" is required by the URL`,
          {
            details: details({ field }),
          },
        );
      }
      return encodeURIComponent(typeof v === 'string' ? v : JSON.stringify(v));
    });
    const headers = new Headers({ accept: 'application/json' });
    for (const [name, template] of Object.entries(spec.headers ?? {})) {
      const value = template.replace(ENV_TOKEN, (_m, ref: string) => env(ref.slice(4), `header ${name}`));
      try {
        headers.set(name, value);
      } catch {
        // The platform's message quotes the value, which may be a secret: say which header, not what.
        throw new DreamAgentError(
          'TOOL_INVALID',
          `tool "${toolName}": header ${name} has an invalid name or value`,
          {
            retryable: false,
            details: details({ header: name }),
          },
        );
      }
    }
    headers.set('idempotency-key', ctx.idempotencyKey);
    // The todo's trace context (W3C `traceparent`), so the tool's server joins the agent's trace; a
    // header the tool declares itself wins.
    if (ctx.traceHeaders) {
      for (const [name, value] of Object.entries(ctx.traceHeaders())) {
        if (!headers.has(name)) headers.set(name, value);
      }
    }
    let body: string | undefined;
    if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
      headers.set('content-type', 'application/json');
      body = JSON.stringify(spec.body === undefined ? input : (fields[spec.body] ?? null));
    }

    let res: Response;
    try {
      res = await (options.fetch ?? fetch)(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        signal: ctx.signal,
      });
    } catch (e) {
      if (ctx.signal.aborted) throw abortReason(ctx.signal);
      throw new DreamAgentError(
        'TOOL_FAILED',
        `tool "${toolName}": ${method} ${spec.url} failed: ${networkMessage(e)}`,
        {
          cause: e,
          retryable: true,
          details: details(),
        },
      );
    }
    let text: string;
    try {
      const declared = Number(res.headers.get('content-length') ?? '0');
      if (declared > maxBytes) throw tooLarge(declared);
      text = await res.text();
      if (Buffer.byteLength(text) > maxBytes) throw tooLarge(Buffer.byteLength(text));
    } catch (e) {
      if (ctx.signal.aborted) throw abortReason(ctx.signal);
      if (isDreamAgentError(e)) throw e;
      throw new DreamAgentError(
        'TOOL_FAILED',
        `tool "${toolName}": reading the response failed: ${networkMessage(e)}`,
        {
          cause: e,
          retryable: true,
          details: details({ status: res.status }),
        },
      );
    }
    if (!res.ok) {
      const retryable = res.status >= 500 || res.status === 429 || res.status === 408;
      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
      throw new DreamAgentError(
        'TOOL_FAILED',
        `tool "${toolName}": ${method} ${spec.url} returned HTTP ${res.status}`,
        {
          retryable,
          details: details({
            status: res.status,
            body: text.length > 500 ? `${text.slice(0, 500)}…` : text,
            ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
          }),
        },
      );
    }
    let data: Json;
    if (text.trim() === '') {
      data = null;
    } else if (/json/i.test(res.headers.get('content-type') ?? 'application/json')) {
      try {
        data = JSON.parse(text) as Json;
      } catch (e) {
        throw new DreamAgentError('TOOL_FAILED', `tool "${toolName}": the response is not valid JSON`, {
          cause: e,
          retryable: false,
          details: details({ status: res.status }),
        });
      }
    } else {
      data = text;
    }
    return mapResponse(data, spec.response);

    function tooLarge(bytes: number): DreamAgentError {
      return new DreamAgentError(
        'PAYLOAD_TOO_LARGE',
        `tool "${toolName}": the response (${bytes} bytes) exceeds ${maxBytes} bytes`,
        {
          retryable: false,
          details: details({ status: res.status, bytes }),
        },
      );
    }
  };
}

function mapResponse(data: Json, response: HttpHandlerSpec['response']): Json {
  if (response === undefined) return data;
  const picked = response.pick === undefined ? data : getPath(data, response.pick);
  if (response.map === undefined) return picked;
  const out: Record<string, Json> = {};
  for (const [field, path] of Object.entries(response.map)) out[field] = getPath(picked, path);
  return out;
}

/**
 * Reads a dot path (`data.items.0.id`) from a JSON value.
 *
 * @param value - the JSON value
 * @param path - the dot path; empty for the whole value
 * @returns the value there, or null when absent
 */
export function getPath(value: Json, path: string): Json {
  if (path === '') return value;
  let cur: Json | undefined = value;
  for (const seg of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return null;
    cur = Array.isArray(cur) ? cur[Number(seg)] : cur[seg];
  }
  return cur ?? null;
}

function abortReason(signal: AbortSignal): unknown {
  const reason: unknown = signal.reason;
  if (isDreamAgentError(reason)) return reason;
  return new DreamAgentError('ABORTED', 'the tool call was aborted', { cause: reason });
}

function networkMessage(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
  return `${e.message}${cause}`;
}

function parseRetryAfter(header: string | null): number | undefined {
  if (header === null) return undefined;
  const secs = Number(header);
  if (Number.isFinite(secs) && secs >= 0) return Math.round(secs * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
