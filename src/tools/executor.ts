/**
 * The ToolExecutor: runs a todo's tool, for any domain.
 *
 * Per todo: resolve the tool once (so the whole execution uses one version) → validate the input (a bad
 * field fails the todo with `INVALID_INPUT` naming it; the handler is not called) → execution cache →
 * call the handler with a timeout and retries → validate the output → cache it.
 *
 * @packageDocumentation
 */
import { DreamAgentError, isDreamAgentError } from '../errors/index.js';
import type { ExecutionContext, ExecutionResult, Executor } from '../layers.js';
import type { Json, JsonObject } from '../model/json.js';
import type { Todo } from '../model/plan.js';
import type { Cache } from '../ports/cache.js';
import type { Clock } from '../ports/clock.js';
import { toolCacheKey } from './canonical.js';
import type { ToolCatalog, ToolContext, ToolHandle, ValidationResult } from './types.js';

/** The todo metadata key that pins a tool version (`todo.metadata.toolVersion`). */
export const TOOL_VERSION_METADATA_KEY = 'toolVersion';

/** Options of the {@link ToolExecutor}. */
export interface ToolExecutorOptions {
  /** Where tools are looked up (default: `ctx.tools`). */
  tools?: ToolCatalog;
  /** The execution cache (default: `ctx.cache`); `false` disables caching. */
  cache?: Cache | false;
  /** Used for backoff sleeps (default: `ctx.clock`). */
  clock?: Clock;
  /** Jitter source in [0, 1) (default `Math.random`). */
  random?: () => number;
  /** Upper bound of one backoff delay (default 30 s). */
  maxBackoffMs?: number;
  /** Timeout of tools that set none (default: none). */
  defaultTimeoutMs?: number;
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
]);

/**
 * Runs the todo's tool. Use one instance for every domain (data, insight, content, ops, custom).
 *
 * @example
 * ```ts
 * const executor = new ToolExecutor();
 * const agent = new Agent({ tools, executors: { data: executor, ops: executor } });
 * ```
 */
export class ToolExecutor implements Executor {
  private readonly random: () => number;
  private readonly maxBackoffMs: number;

  /** @param options - catalog, cache, clock and retry tuning */
  constructor(private readonly options: ToolExecutorOptions = {}) {
    this.random = options.random ?? Math.random;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
  }

  /**
   * Resolves the tool of a todo: `todo.tool`, at the version pinned in `todo.metadata.toolVersion` if any.
   *
   * @param todo - the todo
   * @param tools - the catalog
   * @returns the tool handle
   * @throws DreamAgentError `TOOL_NOT_FOUND` when the todo has no tool or the tool/version is not registered
   */
  resolve(todo: Todo, tools: ToolCatalog): ToolHandle {
    if (todo.tool === undefined) {
      throw new DreamAgentError('TOOL_NOT_FOUND', `todo "${todo.id}" names no tool`, {
        details: { todoId: todo.id },
      });
    }
    const pinned = todo.metadata?.[TOOL_VERSION_METADATA_KEY];
    const version = typeof pinned === 'string' ? pinned : undefined;
    const tool = tools.get(todo.tool, version);
    if (tool === undefined) {
      throw new DreamAgentError(
        'TOOL_NOT_FOUND',
        version === undefined
          ? `tool "${todo.tool}" is not registered`
          : `tool "${todo.tool}" version "${version}" is not registered`,
        { details: { todoId: todo.id, tool: todo.tool, ...(version === undefined ? {} : { version }) } },
      );
    }
    return tool;
  }

  /**
   * Executes a todo's tool.
   *
   * @param todo - the todo (`tool` required)
   * @param input - its input, references resolved
   * @param ctx - the execution context
   * @returns the output, and `cached: true` when it came from the execution cache
   * @throws DreamAgentError `TOOL_NOT_FOUND`, `INVALID_INPUT` (naming the field), `TIMEOUT`, `ABORTED`,
   *   `TOOL_FAILED` (handler error or invalid output), `TOOL_INVALID` (bad handler module/env)
   */
  async execute(todo: Todo, input: JsonObject, ctx: ExecutionContext): Promise<ExecutionResult> {
    const tool = this.resolve(todo, this.options.tools ?? ctx.tools);
    const details = { tool: tool.name, version: tool.version, todoId: todo.id };

    const checked = tool.validateInput(input);
    if (!checked.ok) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `invalid input for tool "${tool.name}": ${describeIssues(checked)}`,
        {
          details: { ...details, issues: checked.issues },
        },
      );
    }
    const value = checked.value;

    const cache = this.options.cache === false ? undefined : (this.options.cache ?? ctx.cache);
    const ttl = tool.cacheTtlSeconds;
    const key =
      cache !== undefined && ttl !== undefined && ttl > 0
        ? toolCacheKey(tool.name, tool.version, value)
        : undefined;
    if (cache !== undefined && key !== undefined) {
      try {
        const hit = await cache.get(key);
        if (hit !== undefined) {
          const valid = tool.validateOutput(hit);
          if (valid.ok) return { output: valid.value, cached: true };
          ctx.logger.warn(
            { ...details, issues: valid.issues },
            'cached tool output no longer valid; running the tool',
          );
        }
      } catch (err) {
        // A cache must never fail a todo: an error is a miss.
        ctx.logger.warn({ ...details, err }, 'tool cache read failed; treating as a miss');
      }
    }

    const raw = await this.runWithRetries(tool, todo, value, ctx);
    const out = tool.validateOutput(raw === undefined ? null : raw);
    if (!out.ok) {
      throw new DreamAgentError(
        'TOOL_FAILED',
        `tool "${tool.name}" returned invalid output: ${describeIssues(out)}`,
        {
          retryable: false,
          details: { ...details, issues: out.issues },
        },
      );
    }
    if (cache !== undefined && key !== undefined && ttl !== undefined) {
      try {
        // The session is recorded with the entry, so erasing the session erases the entry too.
        await cache.set(key, out.value, ttl * 1000, { sessionId: ctx.sessionId });
      } catch (err) {
        ctx.logger.warn({ ...details, err }, 'tool cache write failed');
      }
    }
    return { output: out.value, cached: false };
  }

  private async runWithRetries(
    tool: ToolHandle,
    todo: Todo,
    input: Json,
    ctx: ExecutionContext,
  ): Promise<Json> {
    const max = tool.retries?.max ?? 0;
    const base = tool.retries?.backoffMs ?? 500;
    const timeoutMs = todo.timeoutMs ?? tool.timeoutMs ?? this.options.defaultTimeoutMs;
    const clock = this.options.clock ?? ctx.clock;
    // Errors thrown by ctx.requestInput belong to the engine (suspending the todo): pass them through.
    const engineErrors = new WeakSet<object>();
    for (let retry = 0; ; retry++) {
      try {
        return await this.attempt(tool, input, ctx, retry, timeoutMs, engineErrors);
      } catch (e) {
        if (typeof e === 'object' && e !== null && engineErrors.has(e)) throw e;
        if (ctx.signal.aborted) throw abortError(ctx.signal, tool);
        const err = toToolError(e, tool);
        if (!err.retryable || err.code === 'ABORTED' || retry >= max) throw err;
        const cap = Math.min(this.maxBackoffMs, base * 2 ** retry);
        let delay = Math.floor(this.random() * cap); // full jitter
        const after = err.details['retryAfterMs'];
        if (typeof after === 'number') delay = Math.max(delay, Math.min(after, this.maxBackoffMs));
        ctx.logger.debug(
          {
            tool: tool.name,
            version: tool.version,
            todoId: todo.id,
            retry: retry + 1,
            delayMs: delay,
            code: err.code,
          },
          'retrying tool',
        );
        try {
          await clock.sleep(delay, ctx.signal);
        } catch {
          throw abortError(ctx.signal, tool);
        }
      }
    }
  }

  private async attempt(
    tool: ToolHandle,
    input: Json,
    ctx: ExecutionContext,
    retry: number,
    timeoutMs: number | undefined,
    engineErrors: WeakSet<object>,
  ): Promise<Json> {
    if (ctx.signal.aborted) throw abortError(ctx.signal, tool);
    const ac = new AbortController();
    const onAbort = (): void => ac.abort(abortError(ctx.signal, tool));
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(
            () =>
              ac.abort(
                new DreamAgentError('TIMEOUT', `tool "${tool.name}" timed out after ${timeoutMs} ms`, {
                  retryable: true,
                  details: { tool: tool.name, version: tool.version, timeoutMs },
                }),
              ),
            timeoutMs,
          );
    const toolCtx: ToolContext = {
      signal: ac.signal,
      idempotencyKey: ctx.idempotencyKey,
      sessionId: ctx.sessionId,
      turnId: ctx.turnId,
      todoId: ctx.todoId,
      attempt: ctx.attempt,
      retry,
      toolVersion: tool.version,
      progress: (message, pct) => ctx.progress(message, pct),
      delta: (text) => ctx.delta(text),
      requestInput: async (spec) => {
        try {
          return await ctx.requestInput(spec);
        } catch (e) {
          if (typeof e === 'object' && e !== null) engineErrors.add(e);
          throw e;
        }
      },
      logger: ctx.logger,
      ...(ctx.traceHeaders ? { traceHeaders: () => ctx.traceHeaders?.(ctx.todoId) ?? {} } : {}),
    };
    // The handler gets the signal, but one that ignores it must still not outlive its timeout.
    const aborted = new Promise<never>((_, reject) => {
      ac.signal.addEventListener('abort', () => reject(ac.signal.reason as Error), { once: true });
    });
    const call = Promise.resolve().then(() => tool.invoke(input, toolCtx));
    call.catch(() => undefined); // a late rejection after a timeout is not unhandled
    try {
      return await Promise.race([call, aborted]);
    } finally {
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
    }
  }
}

function describeIssues(r: Extract<ValidationResult, { ok: false }>): string {
  return r.issues.map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`)).join('; ');
}

function abortError(signal: AbortSignal, tool: ToolHandle): DreamAgentError {
  const reason: unknown = signal.reason;
  if (isDreamAgentError(reason, 'ABORTED')) return reason;
  return new DreamAgentError('ABORTED', `tool "${tool.name}" was aborted`, {
    retryable: false,
    cause: reason,
    details: { tool: tool.name, version: tool.version },
  });
}

function toToolError(e: unknown, tool: ToolHandle): DreamAgentError {
  if (isDreamAgentError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new DreamAgentError('TOOL_FAILED', `tool "${tool.name}" failed: ${message}`, {
    cause: e,
    retryable: isNetworkError(e),
    details: { tool: tool.name, version: tool.version },
  });
}

function isNetworkError(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur instanceof Error && depth < 4; cur = cur.cause, depth++) {
    const code = (cur as NodeJS.ErrnoException).code;
    if (code !== undefined && NETWORK_CODES.has(code)) return true;
    if (cur instanceof TypeError && cur.message === 'fetch failed') return true;
  }
  return false;
}
