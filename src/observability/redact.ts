/**
 * Redaction for structured logs: secrets never reach a log line, whatever a caller passes to the logger.
 * Keys that name secrets (password, token, api key, authorization, cookie, secret…), fields a tool's JSON
 * Schema marks sensitive (`x-sensitive: true`, `writeOnly: true`, `format: password`), and known secret
 * values (an API key read from the environment) are replaced by `[redacted]` at any depth.
 *
 * @packageDocumentation
 */
import type { JsonObject } from '../model/json.js';
import type { Logger } from '../ports/logger.js';

/** Keys whose values are secrets wherever they appear. */
export const DEFAULT_SECRET_KEYS =
  /^(pass(word|wd)?|secret|token|access[_-]?token|refresh[_-]?token|id[_-]?token|api[_-]?key|apikey|authorization|auth|cookie|set-cookie|private[_-]?key|client[_-]?secret|session[_-]?token|x-api-key)$/i;

/** Options of {@link redactingLogger} and {@link redact}. */
export interface RedactOptions {
  /** Keys to redact (default {@link DEFAULT_SECRET_KEYS}); extra names from {@link sensitiveKeys} are added. */
  keys?: RegExp;
  /** More key names to redact (e.g. from `sensitiveKeys(tool.inputSchema)`). */
  extraKeys?: Iterable<string>;
  /** Secret values to mask wherever they occur inside strings (≥ 8 characters each). */
  secrets?: Iterable<string>;
  /** What replaces a secret (default `[redacted]`). */
  censor?: string;
  /** Deepest level inspected; deeper values are replaced by `[depth]` (default 8). */
  maxDepth?: number;
}

/**
 * The property names a JSON Schema marks sensitive: `x-sensitive: true`, `writeOnly: true` or
 * `format: "password"`, at any depth of `properties`, `items`, `anyOf`/`oneOf`/`allOf`.
 *
 * @param schema - a tool's input or output JSON Schema
 * @returns the names of sensitive properties
 */
export function sensitiveKeys(schema: JsonObject | undefined): Set<string> {
  const out = new Set<string>();
  const walk = (node: unknown, depth: number): void => {
    if (depth > 32 || node === null || typeof node !== 'object') return;
    const n = node as Record<string, unknown>;
    const props = n['properties'];
    if (props && typeof props === 'object') {
      for (const [name, sub] of Object.entries(props as Record<string, unknown>)) {
        const s = (sub ?? {}) as Record<string, unknown>;
        if (s['x-sensitive'] === true || s['writeOnly'] === true || s['format'] === 'password') out.add(name);
        walk(sub, depth + 1);
      }
    }
    for (const k of ['items', 'additionalProperties']) walk(n[k], depth + 1);
    for (const k of ['anyOf', 'oneOf', 'allOf']) {
      const list = n[k];
      if (Array.isArray(list)) for (const sub of list) walk(sub, depth + 1);
    }
  };
  walk(schema, 0);
  return out;
}

/**
 * Returns a redacted copy of a log object (the input is never changed). Errors become
 * `{ name, message, code?, stack }` with their messages masked too.
 *
 * @param value - what a caller logs
 * @param options - keys, values, censor, depth
 * @returns the redacted copy
 */
export function redact(value: unknown, options: RedactOptions = {}): unknown {
  const keys = options.keys ?? DEFAULT_SECRET_KEYS;
  const extra = new Set(options.extraKeys ?? []);
  const censor = options.censor ?? '[redacted]';
  const secrets = [...(options.secrets ?? [])].filter((s) => s.length >= 8);
  const maxDepth = options.maxDepth ?? 8;
  const mask = (s: string): string => {
    let out = s;
    for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(censor);
    return out;
  };
  const seen = new WeakSet<object>();
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return mask(v);
    if (v === null || typeof v !== 'object') return v;
    if (depth >= maxDepth) return '[depth]';
    if (seen.has(v)) return '[circular]';
    seen.add(v);
    if (v instanceof Error) {
      const e = v as Error & { code?: unknown };
      const out: Record<string, unknown> = { name: e.name, message: mask(e.message) };
      if (typeof e.code === 'string') out['code'] = e.code;
      if (e.stack) out['stack'] = mask(e.stack);
      return out;
    }
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      out[k] = keys.test(k) || extra.has(k) ? censor : walk(x, depth + 1);
    }
    return out;
  };
  return walk(value, 0);
}

/**
 * Wraps a logger (pino, the console logger, yours) so that every object and message it receives is
 * redacted first.
 *
 * @param logger - the logger to wrap
 * @param options - what to redact
 * @returns a logger with the same shape
 * @example
 * ```ts
 * const log = redactingLogger(consoleLogger(), { secrets: [process.env.OPENAI_API_KEY ?? ''] });
 * log.info({ headers: { authorization: 'Bearer abc' } }, 'calling'); // authorization: "[redacted]"
 * ```
 */
export function redactingLogger(logger: Logger, options: RedactOptions = {}): Logger {
  const wrap =
    (level: keyof Logger) =>
    (obj: Record<string, unknown>, msg?: string): void => {
      const safe = redact(obj, options) as Record<string, unknown>;
      const text = msg === undefined ? undefined : (redact(msg, options) as string);
      if (text === undefined) logger[level](safe);
      else logger[level](safe, text);
    };
  return { debug: wrap('debug'), info: wrap('info'), warn: wrap('warn'), error: wrap('error') };
}
