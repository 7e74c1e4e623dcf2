import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  DreamAgentError,
  isDreamAgentError,
  parseCommand,
  serializeError,
  type Agent,
  type Actor,
  type AgentEvent,
  type Command,
  type Logger,
  type Run,
} from 'dream-agent';
import {
  assertJsonDepth,
  DEFAULT_MAX_JSON_DEPTH,
  parseJsonBounded,
  planVersions,
  snapshotWithHistory,
} from 'dream-agent/adapter-kit';
import type { z } from 'zod';
import { errorResponse, type ErrorBody } from './errors.js';
import {
  EventsQuerySchema,
  ListQuerySchema,
  NewTurnSchema,
  PlansQuerySchema,
  SessionIdSchema,
  SnapshotQuerySchema,
  StartTurnSchema,
  StreamQuerySchema,
  WaitQuerySchema,
} from './schemas.js';
import { settle } from './settle.js';
import type { Operation, Principal, SessionApi, TransportHooks } from './types.js';

/** Options of {@link createHandler} and {@link createRouter}. */
export interface HttpTransportOptions extends TransportHooks {
  /** Path prefix the handler serves under when used as a plain Node handler (e.g. `/api`); Express strips its mount path itself. */
  basePath?: string;
  /** Largest accepted request body in bytes (default 256 KiB); larger → 413. */
  maxBodyBytes?: number;
  /**
   * Deepest JSON nesting accepted in a body (default 64); deeper → 400 `INVALID_INPUT`, checked before
   * any validator sees the body (validators recurse per level and thousands of levels overflow the stack).
   */
  maxJsonDepth?: number;
  /** SSE: heartbeat comment interval in ms (default 15 000). */
  sseHeartbeatMs?: number;
  /**
   * SSE: bytes that may wait in a slow client's socket buffer (default 1 MiB). The stream stops pulling
   * events while the socket is above its high-water mark and waits up to `sseDrainTimeoutMs` for it to
   * drain; a client that does not catch up is disconnected. It reconnects with `Last-Event-ID` and replays
   * from the Store, so nothing is lost and the server never buffers without bound.
   */
  sseMaxBufferedBytes?: number;
  /** SSE: how long to wait for a lagging client to drain (default 10 000 ms). */
  sseDrainTimeoutMs?: number;
  /** Where unexpected (non-dream-agent) errors are logged; they answer `500 INTERNAL` without their text. */
  logger?: Logger;
  /** The OpenAPI document served at `GET /openapi.json` (omit to not serve one). */
  openapi?: Record<string, unknown>;
}

/** A framework-neutral Node request handler; `next` is called for paths it does not serve. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;

/** @internal What a route needs at run time. */
export interface RouteContext {
  /** The agent as the caller sees it (the `scope` hook's view, or the agent itself). */
  agent: SessionApi;
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  principal: Principal;
  options: HttpTransportOptions;
}

/** @internal A response, or `undefined` when the route wrote the response itself (SSE). */
type Reply = { status: number; body: unknown } | undefined;

/** @internal One REST route. */
export interface RouteDef {
  method: 'GET' | 'POST';
  /** Express-style path (`/sessions/:id`). */
  path: string;
  /** Whether the route needs an authenticated caller (all but the OpenAPI document). */
  auth: boolean;
  run(ctx: RouteContext): Promise<Reply>;
}

const anonymous: Principal = { id: 'anonymous', roles: [] };

/** Reads the credentials of a request: `Authorization: Bearer …` or `X-API-Key`, never the query string. */
export function tokenOf(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (m) return m[1];
  }
  const k = req.headers['x-api-key'];
  return typeof k === 'string' && k.length > 0 ? k : undefined;
}

function parse<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  const first = issues[0];
  throw new DreamAgentError(
    'INVALID_INPUT',
    `invalid ${what}: ${first ? `${first.path || '(root)'}: ${first.message}` : 'unknown'}`,
    {
      details: { issues },
    },
  );
}

function queryObject(q: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of q) {
    if (k in out)
      throw new DreamAgentError('INVALID_INPUT', `query parameter "${k}" is repeated`, {
        details: { parameter: k },
      });
    out[k] = v;
  }
  return out;
}

/**
 * Reads and parses a JSON body with a size and a nesting-depth limit; uses `req.body` when a framework
 * already parsed it (its depth is still checked).
 *
 * Over the size limit it stops reading and rejects without destroying the request: the caller answers
 * 413 with `Connection: close` and Node closes the socket once the answer is written. (Breaking out of
 * `for await (… of req)` used to destroy the socket before the answer, and code that later read the
 * socket — a logger's `req.ip` — threw outside any handler and ended the process.)
 */
function readJson(req: IncomingMessage, limit: number, maxDepth: number): Promise<unknown> {
  const pre = (req as IncomingMessage & { body?: unknown }).body;
  if (pre !== undefined) {
    // a framework body parser (e.g. express.json()) already ran
    assertJsonDepth(pre, maxDepth, 'body');
    return Promise.resolve(pre);
  }
  const type = req.headers['content-type'];
  const length = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(length) && length > limit) {
    return Promise.reject(
      new DreamAgentError('PAYLOAD_TOO_LARGE', `body is ${length} bytes; the limit is ${limit}`, {
        details: { size: length, limit },
      }),
    );
  }
  if (typeof type !== 'string' || !/^application\/([a-z0-9.+-]*\+)?json\b/i.test(type)) {
    return Promise.reject(
      new DreamAgentError('INVALID_INPUT', 'the body must be JSON (Content-Type: application/json)', {
        details: { contentType: type ?? null },
      }),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(
          new DreamAgentError('PAYLOAD_TOO_LARGE', `body exceeds ${limit} bytes`, { details: { limit } }),
        );
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      try {
        const text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
        resolve(parseJsonBounded(text, { maxDepth, what: 'body' }));
      } catch (e) {
        reject(
          isDreamAgentError(e)
            ? e
            : new DreamAgentError('INVALID_INPUT', 'the body is not valid UTF-8', { details: {} }),
        );
      }
    };
    const onError = (): void => {
      cleanup();
      reject(new DreamAgentError('ABORTED', 'the request body was not received completely'));
    };
    const onAborted = onError;
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

function bodyOf(ctx: RouteContext): Promise<unknown> {
  return readJson(
    ctx.req,
    ctx.options.maxBodyBytes ?? 256 * 1024,
    ctx.options.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH,
  );
}

function sessionParam(ctx: RouteContext): string {
  return parse(SessionIdSchema, ctx.params['id'], 'session id');
}

async function authorize(ctx: RouteContext, op: Operation): Promise<void> {
  await ctx.options.authorize?.(ctx.principal, op);
}

function actorOf(ctx: RouteContext, claimed: Actor | undefined): Actor | undefined {
  // Without authentication the client's own actor is kept (trusted networks); with it, the principal wins.
  if (!ctx.options.authenticate) return claimed;
  return { id: ctx.principal.id, roles: [...ctx.principal.roles] };
}

function wantsWait(ctx: RouteContext): boolean {
  const w = parse(WaitQuerySchema, queryObject(ctx.query), 'query').wait;
  return w === 'true' || w === '1';
}

async function answer(run: Run, wait: boolean): Promise<Reply> {
  const s = await settle(run, wait);
  if ('accepted' in s) return { status: 202, body: s.accepted };
  return { status: 200, body: s.result };
}

/** Starts a turn and reports it to the audit hook. */
async function startTurn(
  ctx: RouteContext,
  input: string,
  sessionId: string | undefined,
  metadata: Record<string, unknown> | undefined,
): Promise<Reply> {
  const wait = wantsWait(ctx);
  await authorize(
    ctx,
    sessionId === undefined ? { kind: 'start', input } : { kind: 'start', sessionId, input },
  );
  const record = {
    transport: 'http' as const,
    principal: ctx.principal,
    type: 'turn.start',
    commandId: undefined,
    payload: { input, sessionId },
  };
  const run = ctx.agent.run(input, {
    ...(sessionId !== undefined ? { sessionId } : {}),
    ...(metadata !== undefined ? { metadata: metadata as never } : {}),
  });
  try {
    const reply = await answer(run, wait);
    ctx.options.onCommand?.({ ...record, sessionId: run.sessionId, outcome: 'accepted' });
    return reply;
  } catch (e) {
    ctx.options.onCommand?.({
      ...record,
      sessionId: run.sessionId,
      outcome: 'rejected',
      error: serializeError(e),
    });
    throw e;
  }
}

/** @internal The REST routes, shared by the Node handler, the Express router and the OpenAPI document. */
export const ROUTES: readonly RouteDef[] = [
  {
    method: 'GET',
    path: '/openapi.json',
    auth: false,
    async run(ctx) {
      if (!ctx.options.openapi)
        throw new DreamAgentError('INVALID_INPUT', 'no OpenAPI document is configured');
      return Promise.resolve({ status: 200, body: ctx.options.openapi });
    },
  },
  {
    method: 'GET',
    path: '/sessions',
    auth: true,
    async run(ctx) {
      const q = parse(ListQuerySchema, queryObject(ctx.query), 'query');
      await authorize(ctx, { kind: 'read' });
      const sessions = await ctx.agent.listSessions({
        ...(q.status ? { status: q.status } : {}),
        ...(q.after !== undefined ? { after: q.after } : {}),
        ...(q.limit !== undefined ? { limit: q.limit } : {}),
      });
      return { status: 200, body: { sessions } };
    },
  },
  {
    method: 'POST',
    path: '/sessions',
    auth: true,
    async run(ctx) {
      // Authorise before reading the upload: a caller that may not write never gets its body read.
      await authorize(ctx, { kind: 'write' });
      const body = parse(StartTurnSchema, await bodyOf(ctx), 'body');
      return startTurn(ctx, body.input, body.sessionId, body.metadata);
    },
  },
  {
    method: 'GET',
    path: '/sessions/:id',
    auth: true,
    async run(ctx) {
      const id = sessionParam(ctx);
      const q = parse(SnapshotQuerySchema, queryObject(ctx.query), 'query');
      await authorize(ctx, { kind: 'read', sessionId: id });
      const cursor = {
        ...(q.changesLimit !== undefined ? { limit: q.changesLimit } : {}),
        ...(q.changesBefore !== undefined ? { before: q.changesBefore } : {}),
      };
      return {
        status: 200,
        body: await snapshotWithHistory(ctx.agent, id, q.history, q.edits !== 'false', cursor),
      };
    },
  },
  {
    method: 'GET',
    path: '/sessions/:id/plans',
    auth: true,
    async run(ctx) {
      const id = sessionParam(ctx);
      const q = parse(PlansQuerySchema, queryObject(ctx.query), 'query');
      await authorize(ctx, { kind: 'read', sessionId: id });
      return { status: 200, body: { plans: await planVersions(ctx.agent, id, q.versions) } };
    },
  },
  {
    method: 'POST',
    path: '/sessions/:id/turns',
    auth: true,
    async run(ctx) {
      const id = sessionParam(ctx);
      await authorize(ctx, { kind: 'write', sessionId: id });
      const body = parse(NewTurnSchema, await bodyOf(ctx), 'body');
      await ctx.agent.getSession(id); // 404 for an unknown session: this route never creates one
      return startTurn(ctx, body.input, id, undefined);
    },
  },
  {
    method: 'POST',
    path: '/sessions/:id/commands',
    auth: true,
    async run(ctx) {
      const id = sessionParam(ctx);
      const limit = ctx.options.maxBodyBytes ?? 256 * 1024;
      await authorize(ctx, { kind: 'write', sessionId: id });
      const raw = await bodyOf(ctx);
      const wait = wantsWait(ctx);
      let command: Command;
      try {
        command = parseCommand(raw, limit);
      } catch (e) {
        const type =
          typeof raw === 'object' && raw !== null && 'type' in raw
            ? String((raw as { type: unknown }).type).slice(0, 64)
            : 'invalid';
        ctx.options.onCommand?.({
          transport: 'http',
          principal: ctx.principal,
          sessionId: id,
          type,
          commandId: undefined,
          outcome: 'rejected',
          error: serializeError(e),
          payload: null,
        });
        throw e;
      }
      await authorize(ctx, { kind: 'command', sessionId: id, command });
      const actor = actorOf(ctx, command.actor);
      const stamped: Command = { ...command, ...(actor !== undefined ? { actor } : {}) };
      const record = {
        transport: 'http' as const,
        principal: ctx.principal,
        sessionId: id,
        type: command.type,
        commandId: command.commandId,
        payload: stamped,
      };
      try {
        const reply = await answer(ctx.agent.send(id, stamped), wait);
        ctx.options.onCommand?.({ ...record, outcome: 'accepted' });
        return reply;
      } catch (e) {
        ctx.options.onCommand?.({ ...record, outcome: 'rejected', error: serializeError(e) });
        throw e;
      }
    },
  },
  {
    method: 'POST',
    path: '/sessions/:id/resume',
    auth: true,
    async run(ctx) {
      const id = sessionParam(ctx);
      const wait = wantsWait(ctx);
      await authorize(ctx, { kind: 'resume', sessionId: id });
      return answer(ctx.agent.resume(id), wait);
    },
  },
  {
    method: 'GET',
    path: '/sessions/:id/events',
    auth: true,
    async run(ctx) {
      const id = sessionParam(ctx);
      const q = parse(EventsQuerySchema, queryObject(ctx.query), 'query');
      await authorize(ctx, { kind: 'read', sessionId: id });
      const snap = await ctx.agent.getSession(id);
      const limit = q.limit ?? 1000;
      const events: AgentEvent[] = [];
      for await (const e of ctx.agent.events(id, { after: q.after ?? 0 })) {
        events.push(e);
        if (events.length >= limit) break;
      }
      const last = events.at(-1)?.seq ?? q.after ?? 0;
      return { status: 200, body: { events, lastSeq: snap.lastSeq, hasMore: last < snap.lastSeq } };
    },
  },
  {
    method: 'GET',
    path: '/sessions/:id/stream',
    auth: true,
    async run(ctx) {
      const id = sessionParam(ctx);
      const q = parse(StreamQuerySchema, queryObject(ctx.query), 'query');
      const lastEventId = ctx.req.headers['last-event-id'];
      let after = q.after ?? 0;
      if (typeof lastEventId === 'string' && lastEventId.length > 0) {
        if (!/^\d{1,15}$/.test(lastEventId))
          throw new DreamAgentError('INVALID_INPUT', 'Last-Event-ID must be an event seq', {
            details: { lastEventId },
          });
        after = Number(lastEventId);
      }
      await authorize(ctx, { kind: 'read', sessionId: id });
      await ctx.agent.getSession(id);
      await streamEvents(ctx, id, after);
      return undefined;
    },
  },
];

async function streamEvents(ctx: RouteContext, sessionId: string, after: number): Promise<void> {
  const { res, req } = ctx;
  const abort = new AbortController();
  const maxBuffered = ctx.options.sseMaxBufferedBytes ?? 1024 * 1024;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write('retry: 2000\n\n');
  const heartbeat = setInterval(() => res.write(': ping\n\n'), ctx.options.sseHeartbeatMs ?? 15_000);
  const stop = (): void => abort.abort();
  req.on('close', stop);
  res.on('close', stop);
  try {
    for await (const e of ctx.agent.events(sessionId, { after, follow: true, signal: abort.signal })) {
      if (abort.signal.aborted) break;
      const ok = res.write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
      if (!ok && !(await drainOrDrop(res, maxBuffered, ctx.options.sseDrainTimeoutMs ?? 10_000))) {
        // A slow reader: drop it rather than buffer without bound; it resumes with Last-Event-ID.
        res.destroy();
        break;
      }
    }
  } catch (e) {
    if (!abort.signal.aborted) res.write(`event: error\ndata: ${JSON.stringify(errorResponse(e).body)}\n\n`);
  } finally {
    clearInterval(heartbeat);
    req.off('close', stop);
    if (!res.destroyed) res.end();
  }
}

/** Waits for a response to drain; false when it stays over `max` or does not drain in time. */
function drainOrDrop(res: ServerResponse, max: number, timeoutMs: number): Promise<boolean> {
  if (res.writableLength > max) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (v: boolean): void => {
      clearTimeout(t);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(v);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    const t = setTimeout(() => done(false), timeoutMs);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/** Writes a JSON response. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.setHeader('cache-control', 'no-store');
  res.end(text);
}

/** Sends an error body with the mapped status; `413` responses close the connection (the body may still be arriving). */
export function sendError(res: ServerResponse, error: unknown): void {
  const { status, body } = errorResponse(error);
  if (status === 413 || status === 400) res.setHeader('connection', 'close');
  sendJson(res, status, body);
}

/** @internal Runs one route with auth, validation and error mapping. */
export async function execute(
  agent: Agent,
  route: RouteDef,
  params: Record<string, string>,
  req: IncomingMessage,
  res: ServerResponse,
  options: HttpTransportOptions,
): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let principal = anonymous;
    if (route.auth && options.authenticate) {
      principal = await options.authenticate({ token: tokenOf(req), req });
    }
    const view: SessionApi = route.auth && options.scope ? options.scope(principal) : agent;
    const reply = await route.run({
      agent: view,
      req,
      res,
      params,
      query: url.searchParams,
      principal,
      options,
    });
    if (reply) sendJson(res, reply.status, reply.body);
  } catch (e) {
    if (!isDreamAgentError(e))
      options.logger?.error(
        { err: e instanceof Error ? e.stack : String(e), url: req.url },
        'http: unexpected error',
      );
    if (isDreamAgentError(e, 'PAYLOAD_TOO_LARGE'))
      await discardRest(req, 4 * (options.maxBodyBytes ?? 256 * 1024), 2000);
    sendError(res, e);
  }
}

/**
 * Reads and drops the rest of a refused upload (up to `cap` bytes or `timeoutMs`) before the 413 is sent.
 * Closing a socket with unread data makes the kernel send a reset, and a client still writing its body
 * then loses the 413 it was about to read; past the cap the client gets the 413 and a closed socket.
 */
function discardRest(req: IncomingMessage, cap: number, timeoutMs: number): Promise<void> {
  if (req.complete || req.destroyed) return Promise.resolve();
  const length = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(length) && length > cap) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const done = (): void => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', done);
      req.off('close', done);
      req.off('error', done);
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen > cap) {
        req.pause();
        done();
      }
    };
    const timer = setTimeout(done, timeoutMs);
    req.on('data', onData);
    req.on('end', done);
    req.on('close', done);
    req.on('error', done);
    req.resume();
  });
}

interface Compiled {
  route: RouteDef;
  regex: RegExp;
  keys: string[];
}

function compile(route: RouteDef): Compiled {
  const keys: string[] = [];
  const pattern = route.path.replace(/:([A-Za-z]+)/g, (_, k: string) => {
    keys.push(k);
    return '([^/]+)';
  });
  return { route, regex: new RegExp(`^${pattern}/?$`), keys };
}

/**
 * A framework-neutral Node handler for the REST API (works with `http.createServer`, Express, Connect,
 * Fastify's `middie`…): start a turn, get a session, send any Command, list sessions, replay events,
 * and an SSE stream with `Last-Event-ID` resume.
 *
 * @param agent - the agent to expose
 * @param options - auth hooks, limits, base path
 * @returns a `(req, res, next?)` handler; paths it does not serve go to `next` (or get a 404)
 * @example
 * ```ts
 * const handler = createHandler(agent, { basePath: '/api', authenticate, authorize });
 * http.createServer((req, res) => handler(req, res)).listen(3000);
 * ```
 */
export function createHandler(agent: Agent, options: HttpTransportOptions = {}): NodeHandler {
  const compiled = ROUTES.map(compile);
  const base = (options.basePath ?? '').replace(/\/+$/, '');
  return (req, res, next) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      sendError(res, new DreamAgentError('INVALID_INPUT', 'the request URL is malformed'));
      return;
    }
    let path = url.pathname;
    if (base) {
      if (path !== base && !path.startsWith(`${base}/`)) {
        if (next) next();
        else sendJson(res, 404, notFound(path));
        return;
      }
      path = path.slice(base.length) || '/';
    }
    let methodMismatch = false;
    for (const c of compiled) {
      const m = c.regex.exec(path);
      if (!m) continue;
      if (c.route.method !== req.method && !(req.method === 'HEAD' && c.route.method === 'GET')) {
        methodMismatch = true;
        continue;
      }
      const params: Record<string, string> = {};
      c.keys.forEach((k, i) => {
        params[k] = safeDecode(m[i + 1] ?? '');
      });
      void execute(agent, c.route, params, req, res, options);
      return;
    }
    if (methodMismatch) {
      const body: ErrorBody = {
        error: {
          code: 'METHOD_NOT_ALLOWED',
          message: `${req.method ?? '?'} is not allowed on ${path}`,
          details: {},
        },
      };
      sendJson(res, 405, body);
      return;
    }
    if (next) next();
    else sendJson(res, 404, notFound(path));
  };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function notFound(path: string): ErrorBody {
  return { error: { code: 'ROUTE_NOT_FOUND', message: `no route for ${path.slice(0, 200)}`, details: {} } };
}
