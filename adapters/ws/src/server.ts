import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';
import {
  DreamAgentError,
  isDreamAgentError,
  JsonObjectSchema,
  parseCommand,
  serializeError,
  SESSION_STATUSES,
  type Actor,
  type Agent,
  type AgentEvent,
  type Command,
  type EventsOptions,
  type JsonObject,
  type Logger,
  type PlanVersionRecord,
  type Run,
  type SerializedError,
  type SessionSnapshot,
  type SessionStatus,
  type SessionSummary,
} from 'dream-agent';
import {
  DEFAULT_MAX_JSON_DEPTH,
  parseJsonBounded,
  planVersions,
  snapshotWithHistory,
} from 'dream-agent/adapter-kit';
import { BEARER_PREFIX, CLOSE_CODES, PROTOCOL, type AcceptedResult, type ServerMessage } from './protocol.js';

/** The authenticated caller. */
export interface WsPrincipal {
  id: string;
  roles: readonly string[];
  /** The tenant the caller acts in (used by the `scope` hook, e.g. the core's `scopedAgent`). */
  tenantId?: string;
  /**
   * Epoch ms at which the credentials stop being valid (a JWT's `exp`). The connection is closed with
   * {@link CLOSE_CODES.UNAUTHENTICATED} at that moment, whatever it is doing.
   */
  expiresAt?: number;
}

/**
 * The part of the agent the transport calls on a caller's behalf: an `Agent`, or the core's
 * `scopedAgent(agent, principal)` view that authorizes each call for one principal.
 */
export interface WsSessionApi {
  /** Starts a turn (a new session, or a new turn of `options.sessionId`). */
  run(input: string, options?: { sessionId?: string; metadata?: JsonObject }): Run;
  /** Sends a command to a session. */
  send(sessionId: string, command: Command): Run;
  /**
   * The session's snapshot (rejects `SESSION_NOT_FOUND`); `history: 'changes'` lists `planChanges`
   * instead of every plan version whole (see the core's `Agent.getSession`).
   */
  getSession(sessionId: string, options?: { history?: 'full' | 'changes' }): Promise<SessionSnapshot>;
  /**
   * One plan version whole (the current turn's plan by default). Optional: without it the transport
   * reads versions from the full snapshot.
   */
  getPlanVersion?(
    sessionId: string,
    version?: number,
    planId?: string,
  ): Promise<PlanVersionRecord | undefined>;
  /** The session's events after `options.after`, then live with `follow`. */
  events(sessionId: string, options?: EventsOptions): AsyncIterable<AgentEvent>;
  /** Sessions the caller may see. */
  listSessions(query?: {
    status?: SessionStatus[];
    after?: string;
    limit?: number;
  }): Promise<SessionSummary[]>;
}

/** What a caller is about to do (the same shape as the HTTP transport's `Operation`). */
export type WsOperation =
  | { kind: 'read'; sessionId?: string }
  | { kind: 'start'; sessionId?: string; input: string }
  | { kind: 'command'; sessionId: string; command: Command };

/** One accepted or refused command (or turn start), for the audit hook. */
export interface WsCommandRecord {
  transport: 'ws';
  principal: WsPrincipal;
  sessionId: string | undefined;
  type: string;
  commandId: string | undefined;
  outcome: 'accepted' | 'rejected';
  error?: SerializedError;
  payload: unknown;
}

/** Why a connection ended, for logs and metrics. */
export type DropReason =
  'slow_consumer' | 'heartbeat_timeout' | 'message_too_big' | 'closed' | 'shutdown' | 'unauthenticated';

/** Options of {@link createWsServer}. */
export interface WsServerOptions {
  /** Attach to this server's `upgrade` events (otherwise call {@link AgentWsServer.handleUpgrade} yourself). */
  server?: Server;
  /** The path served (default `/ws`); other upgrade paths are left alone. */
  path?: string;
  /**
   * Identifies the caller at the handshake from a bearer token (`Authorization: Bearer …`, `X-API-Key`, or
   * the subprotocol entry `bearer.<token>` browsers use). Never from the query string. Throw
   * `UNAUTHENTICATED` to refuse: the handshake gets `401` and no WebSocket is opened. Omitted: anonymous.
   */
  authenticate?: (credentials: {
    token: string | undefined;
    req: IncomingMessage;
  }) => WsPrincipal | Promise<WsPrincipal>;
  /**
   * Credentials are re-checked on live connections: a message arriving more than this many ms after the
   * last check runs `authenticate` again with the handshake's credentials before it is handled (default
   * 1000; 0 = before every message), and every connection is re-checked at each heartbeat. A refusal
   * (a revoked API key, an expired token) answers `UNAUTHENTICATED` and closes the connection with
   * {@link CLOSE_CODES.UNAUTHENTICATED}.
   */
  recheckMs?: number;
  /** Decides whether the principal may perform an operation; throw `FORBIDDEN` to refuse it (an error message, the connection stays). */
  authorize?: (principal: WsPrincipal, operation: WsOperation) => void | Promise<void>;
  /**
   * Allowed `Origin`s (exact, e.g. `https://ops.example.com`), or a predicate. Default: same origin as the
   * `Host` header. Requests without an `Origin` (non-browser clients) are allowed; they still need a token.
   */
  allowedOrigins?: readonly string[] | ((origin: string, req: IncomingMessage) => boolean);
  /** Largest accepted message in bytes (default 256 KiB); larger closes with 1009. */
  maxPayloadBytes?: number;
  /**
   * Deepest JSON nesting accepted in a message (default 64). Deeper messages get `INVALID_INPUT` before
   * any validator sees them (validators recurse per level; thousands of levels would overflow the stack).
   */
  maxJsonDepth?: number;
  /**
   * Bytes that may wait to be sent to one client (default 1 MiB). A subscription stops pulling events
   * once a quarter of this is queued and waits for the client to catch up; a client that does not get
   * below it within `drainTimeoutMs`, or whose queue would pass the limit, is dropped with 4008.
   */
  maxBufferedBytes?: number;
  /**
   * Largest single frame the server sends, in bytes (default an eighth of `maxBufferedBytes`, 128 KiB).
   * A larger message — a snapshot with a long plan history, an event carrying a big plan — is sent as
   * `segment` frames that the client joins, each waiting for the client's queue to drain, so one big
   * message never drops a fast reader as a slow consumer.
   */
  maxMessageBytes?: number;
  /** How long a subscription waits for a lagging client to drain its queue before dropping it (default 10 000 ms). */
  drainTimeoutMs?: number;
  /** Ping interval in ms; a client that misses a pong is dropped (default 30 000; 0 disables). */
  heartbeatMs?: number;
  /** Subscriptions per connection (default 100). */
  maxSubscriptions?: number;
  /** Messages per second per connection, with a burst of twice that (default 50); excess gets `RATE_LIMITED`. */
  messagesPerSecond?: number;
  /** How long a dropped client gets to receive its close frame before the socket is destroyed (default 1000 ms). */
  closeGraceMs?: number;
  /** Called for every command and turn start, accepted or refused. */
  onCommand?: (record: WsCommandRecord) => void;
  /**
   * The agent as one authenticated caller may use it: every subscribe, get, plans, list, start and
   * command goes through what this returns (after `authorize` allowed the operation), re-created with
   * the principal of each re-check. Pass
   * `(p) => scopedAgent(agent, { id: p.id, tenantId: p.tenantId ?? '', roles: p.roles })` so another
   * tenant's session is `SESSION_NOT_FOUND` and another owner's `FORBIDDEN`. Without it every
   * authenticated caller reaches every session.
   */
  scope?: (principal: WsPrincipal) => WsSessionApi;
  /** Called when a connection ends. */
  onDisconnect?: (info: { principal: WsPrincipal; reason: DropReason; code: number }) => void;
  logger?: Logger;
}

/** Counters for metrics. */
export interface WsStats {
  connections: number;
  subscriptions: number;
  eventsSent: number;
  dropped: Record<DropReason, number>;
  handshakesRefused: number;
}

/** A running WebSocket transport. */
export interface AgentWsServer {
  /** Completes an upgrade for the configured path (auth, origin check, then the WebSocket). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Counters for metrics. */
  stats(): WsStats;
  /** Bytes waiting to be sent, per open connection (for tests and memory dashboards). */
  bufferedAmounts(): number[];
  /** Closes every connection with 1001 and detaches from the server. */
  close(): Promise<void>;
}

const id = z.string().min(1).max(128).optional();
const sessionId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.:-]+$/);

/** The client messages, validated strictly (unknown fields are an error). */
const ClientMessageSchema = z.discriminatedUnion('type', [
  z
    .object({ type: z.literal('subscribe'), id, sessionId, after: z.number().int().min(0).optional() })
    .strict(),
  z.object({ type: z.literal('unsubscribe'), id, sessionId }).strict(),
  z
    .object({ type: z.literal('command'), id, sessionId, command: z.unknown(), wait: z.boolean().optional() })
    .strict(),
  z
    .object({
      type: z.literal('start'),
      id,
      input: z
        .string()
        .min(1)
        .max(64 * 1024),
      sessionId: sessionId.optional(),
      metadata: JsonObjectSchema.optional(),
      wait: z.boolean().optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('get'),
      id,
      sessionId,
      history: z.union([z.number().int().min(0).max(1000), z.enum(['full', 'changes'])]).optional(),
      edits: z.boolean().optional(),
      changesLimit: z.number().int().min(1).max(1000).optional(),
      changesBefore: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('plans'),
      id,
      sessionId,
      versions: z.array(z.number().int().min(1)).min(1).max(20),
    })
    .strict(),
  z
    .object({
      type: z.literal('list'),
      id,
      status: z.array(z.enum(SESSION_STATUSES)).max(4).optional(),
      after: sessionId.optional(),
      limit: z.number().int().min(1).max(1000).optional(),
    })
    .strict(),
]);

interface Conn {
  ws: WebSocket;
  principal: WsPrincipal;
  subs: Map<string, AbortController>;
  alive: boolean;
  dead: boolean;
  /** Why the server dropped it (set before the close completes). */
  reason: DropReason | undefined;
  /** Settles when the most recent message has been handed to the socket (ws's send callback). */
  flushed: Promise<void>;
  tokens: number;
  lastRefill: number;
  /** The handshake's credentials, re-checked while the connection lives. */
  token: string | undefined;
  req: IncomingMessage;
  checkedAt: number;
  /** An in-flight re-check, shared by the messages that arrive meanwhile. */
  checking: Promise<boolean> | undefined;
  expiry: ReturnType<typeof setTimeout> | undefined;
}

/** Reads a bearer token from the handshake: header, API-key header, or subprotocol — never the URL. */
function handshakeToken(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (m) return m[1];
  }
  const k = req.headers['x-api-key'];
  if (typeof k === 'string' && k.length > 0) return k;
  const p = req.headers['sec-websocket-protocol'];
  if (typeof p === 'string') {
    for (const entry of p.split(',')) {
      const v = entry.trim();
      if (v.startsWith(BEARER_PREFIX) && v.length > BEARER_PREFIX.length)
        return v.slice(BEARER_PREFIX.length);
    }
  }
  return undefined;
}

function refuse(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message, details: {} } });
  const reason =
    status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : status === 400 ? 'Bad Request' : 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${status === 401 ? 'WWW-Authenticate: Bearer\r\n' : ''}\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), 100).unref();
}

function originAllowed(req: IncomingMessage, allowed: WsServerOptions['allowedOrigins']): boolean {
  const origin = req.headers.origin;
  if (typeof origin !== 'string') return true;
  if (typeof allowed === 'function') return allowed(origin, req);
  if (allowed) return allowed.includes(origin);
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

function errorOf(e: unknown): { code: string; message: string; details: Record<string, unknown> } {
  if (!isDreamAgentError(e)) return { code: 'INTERNAL', message: 'internal error', details: {} };
  const s = serializeError(e);
  return { code: s.code, message: s.message, details: s.details };
}

function settle(run: Run, wait: boolean): Promise<AcceptedResult | Awaited<ReturnType<Run['result']>>> {
  if (wait) return run.result();
  return new Promise((resolve, reject) => {
    const off = run.onAny((e: AgentEvent) => {
      if (e.type === 'command.rejected') return;
      off();
      resolve({ status: 'accepted', sessionId: e.sessionId, firstSeq: e.seq });
    });
    run.result().then(
      (r) => {
        off();
        resolve(r);
      },
      (e: unknown) => {
        off();
        reject(e);
      },
    );
  });
}

/**
 * The WebSocket transport: clients subscribe to sessions (replayed from the Store after `after`, then
 * live — no gaps, no duplicates) and send Commands (the same JSON as the in-process API). Auth happens at
 * the handshake; origins are checked; messages, send queues and message rates are bounded; dead peers are
 * found by heartbeats.
 *
 * @param agent - the agent to expose
 * @param options - server/path, auth hooks, limits
 * @returns the running transport
 * @example
 * ```ts
 * const server = http.createServer(app);
 * const ws = createWsServer(agent, { server, path: '/ws', authenticate, authorize });
 * server.listen(3000);
 * ```
 */
export function createWsServer(agent: Agent, options: WsServerOptions = {}): AgentWsServer {
  const path = options.path ?? '/ws';
  const maxPayload = options.maxPayloadBytes ?? 256 * 1024;
  const maxDepth = options.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
  const maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
  const heartbeatMs = options.heartbeatMs ?? 30_000;
  const maxSubs = options.maxSubscriptions ?? 100;
  const rate = options.messagesPerSecond ?? 50;
  const grace = options.closeGraceMs ?? 1000;
  const drainTimeout = options.drainTimeoutMs ?? 10_000;
  const recheckMs = options.recheckMs ?? 1000;
  const highWater = Math.max(1, Math.floor(maxBuffered / 4));
  const maxMessage = Math.max(1024, options.maxMessageBytes ?? Math.floor(maxBuffered / 8));
  let segments = 0;
  const logger = options.logger;
  const conns = new Set<Conn>();
  const stats: WsStats = {
    connections: 0,
    subscriptions: 0,
    eventsSent: 0,
    dropped: {
      slow_consumer: 0,
      heartbeat_timeout: 0,
      message_too_big: 0,
      closed: 0,
      shutdown: 0,
      unauthenticated: 0,
    },
    handshakesRefused: 0,
  };
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload,
    perMessageDeflate: false,
    // Answer with our protocol only; the bearer entry is never echoed back.
    handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
  });

  function drop(conn: Conn, code: number, reason: string, why: DropReason): void {
    if (conn.dead) return;
    conn.dead = true;
    conn.reason = why;
    for (const ac of conn.subs.values()) ac.abort();
    conn.subs.clear();
    try {
      conn.ws.close(code, reason);
    } catch {
      /* already closing */
    }
    // A client that does not read will never see the close frame: destroy the socket after a grace period.
    setTimeout(() => conn.ws.terminate(), grace).unref();
  }

  function send(conn: Conn, msg: ServerMessage): boolean {
    return sendText(conn, JSON.stringify(msg));
  }

  function sendText(conn: Conn, text: string): boolean {
    if (conn.dead || conn.ws.readyState !== conn.ws.OPEN) return false;
    if (conn.ws.bufferedAmount + Buffer.byteLength(text) > maxBuffered) {
      stats.dropped.slow_consumer += 1;
      logger?.warn(
        { principal: conn.principal.id, buffered: conn.ws.bufferedAmount },
        'ws: slow consumer dropped',
      );
      drop(conn, CLOSE_CODES.SLOW_CONSUMER, 'slow consumer: send queue limit exceeded', 'slow_consumer');
      return false;
    }
    conn.flushed = new Promise<void>((resolve) => conn.ws.send(text, () => resolve()));
    return true;
  }

  /** Waits until the client's queue is under the high-water mark; false (and the client dropped) on timeout. */
  async function drained(conn: Conn): Promise<boolean> {
    if (conn.ws.bufferedAmount < highWater) return true;
    const deadline = Date.now() + drainTimeout;
    while (!conn.dead && conn.ws.bufferedAmount >= highWater) {
      const left = deadline - Date.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = await Promise.race([
        conn.flushed.then(() => false),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(true), Math.max(0, left)))),
      ]);
      clearTimeout(timer);
      // The deadline holds even when the last send already flushed (its promise settles at once) and the
      // queue stays high: without this check that case spun on setImmediate and never dropped the reader.
      if ((timedOut || Date.now() >= deadline) && conn.ws.bufferedAmount >= highWater) {
        stats.dropped.slow_consumer += 1;
        logger?.warn(
          { principal: conn.principal.id, buffered: conn.ws.bufferedAmount },
          'ws: slow consumer dropped (drain timeout)',
        );
        drop(conn, CLOSE_CODES.SLOW_CONSUMER, 'slow consumer: send queue did not drain', 'slow_consumer');
        return false;
      }
      // The last message was flushed but the queue may still be high (the kernel is full): yield and re-check.
      if (!timedOut && conn.ws.bufferedAmount >= highWater) await new Promise((r) => setImmediate(r));
    }
    return !conn.dead;
  }

  /**
   * Sends a message of any size: at most `maxMessage` bytes per frame (larger ones as `segment` frames),
   * each after the client's queue has drained below the high-water mark.
   */
  async function deliver(conn: Conn, msg: ServerMessage): Promise<boolean> {
    const text = JSON.stringify(msg);
    if (text.length * 3 <= maxMessage || Buffer.byteLength(text) <= maxMessage) {
      return (await drained(conn)) && sendText(conn, text);
    }
    // Pieces of maxMessage/3 UTF-16 units are at most maxMessage bytes before JSON escaping; a piece may
    // end inside a surrogate pair: JSON escapes the halves and the client's join restores the pair.
    const unit = Math.max(256, Math.floor(maxMessage / 3));
    const count = Math.ceil(text.length / unit);
    segments += 1;
    const segmentId = `g${segments.toString(36)}`;
    for (let index = 0; index < count; index += 1) {
      if (!(await drained(conn))) return false;
      const data = text.slice(index * unit, (index + 1) * unit);
      if (!send(conn, { type: 'segment', segmentId, index, count, data })) return false;
    }
    return true;
  }

  function reply(
    conn: Conn,
    reqId: string | undefined,
    result: Extract<ServerMessage, { type: 'result' }>['result'],
  ): Promise<boolean> {
    return deliver(conn, { type: 'result', ...(reqId !== undefined ? { id: reqId } : {}), result });
  }

  function fail(conn: Conn, reqId: string | undefined, e: unknown, sessionId?: string): void {
    if (!isDreamAgentError(e))
      logger?.error({ err: e instanceof Error ? e.stack : String(e) }, 'ws: unexpected error');
    send(conn, {
      type: 'error',
      ...(reqId !== undefined ? { id: reqId } : {}),
      ...(sessionId !== undefined ? { sessionId } : {}),
      error: errorOf(e),
    });
  }

  async function subscribe(conn: Conn, reqId: string | undefined, sid: string, after: number): Promise<void> {
    await options.authorize?.(conn.principal, { kind: 'read', sessionId: sid });
    const view = viewOf(conn);
    await view.getSession(sid);
    if (!conn.subs.has(sid) && conn.subs.size >= maxSubs) {
      throw new DreamAgentError('RATE_LIMITED', `at most ${maxSubs} subscriptions per connection`, {
        details: { maxSubscriptions: maxSubs },
      });
    }
    conn.subs.get(sid)?.abort();
    const ac = new AbortController();
    conn.subs.set(sid, ac);
    stats.subscriptions += 1;
    send(conn, { type: 'subscribed', ...(reqId !== undefined ? { id: reqId } : {}), sessionId: sid, after });
    try {
      for await (const event of view.events(sid, { after, follow: true, signal: ac.signal })) {
        if (ac.signal.aborted) break;
        // Backpressure: stop pulling while the client lags (replays can be large), drop it if it never catches up.
        if (!(await drained(conn)) || ac.signal.aborted) break;
        if (!(await deliver(conn, { type: 'event', event }))) break;
        stats.eventsSent += 1;
      }
    } catch (e) {
      if (!ac.signal.aborted) fail(conn, undefined, e, sid);
    } finally {
      stats.subscriptions -= 1;
      if (conn.subs.get(sid) === ac) conn.subs.delete(sid);
    }
  }

  /** The agent as this connection's caller sees it. */
  function viewOf(conn: Conn): WsSessionApi {
    return options.scope ? options.scope(conn.principal) : agent;
  }

  function actorFor(conn: Conn, claimed: Actor | undefined): Actor | undefined {
    if (!options.authenticate) return claimed;
    return { id: conn.principal.id, roles: [...conn.principal.roles] };
  }

  function expel(conn: Conn, e: unknown, reqId?: string): void {
    if (conn.dead) return;
    fail(conn, reqId, e);
    stats.dropped.unauthenticated += 1;
    drop(conn, CLOSE_CODES.UNAUTHENTICATED, 'credentials expired or revoked', 'unauthenticated');
  }

  /** Re-runs `authenticate` with the handshake's credentials; false (and the connection closed) on refusal. */
  function stillAuthenticated(conn: Conn, reqId?: string): Promise<boolean> {
    if (!options.authenticate || conn.dead) return Promise.resolve(!conn.dead);
    if (conn.principal.expiresAt !== undefined && conn.principal.expiresAt <= Date.now()) {
      expel(conn, new DreamAgentError('UNAUTHENTICATED', 'token expired'), reqId);
      return Promise.resolve(false);
    }
    const authenticate = options.authenticate;
    conn.checking ??= (async () => {
      try {
        const p = await authenticate({ token: conn.token, req: conn.req });
        // The same credentials must still name the same caller; roles may change (they take effect now).
        if (p.id !== conn.principal.id) throw new DreamAgentError('UNAUTHENTICATED', 'credentials changed');
        conn.principal = p;
        conn.checkedAt = Date.now();
        return true;
      } catch (e) {
        expel(
          conn,
          isDreamAgentError(e) ? e : new DreamAgentError('UNAUTHENTICATED', 'authentication failed'),
          reqId,
        );
        return false;
      } finally {
        conn.checking = undefined;
      }
    })();
    return conn.checking;
  }

  async function onMessage(conn: Conn, data: Buffer, isBinary: boolean): Promise<void> {
    const now = Date.now();
    conn.tokens = Math.min(rate * 2, conn.tokens + ((now - conn.lastRefill) / 1000) * rate);
    conn.lastRefill = now;
    if (conn.tokens < 1) {
      fail(conn, undefined, new DreamAgentError('RATE_LIMITED', `more than ${rate} messages per second`));
      return;
    }
    conn.tokens -= 1;
    if (isBinary) {
      fail(
        conn,
        undefined,
        new DreamAgentError('INVALID_INPUT', 'binary messages are not supported; send JSON text'),
      );
      return;
    }
    let raw: unknown;
    try {
      const text = new TextDecoder('utf-8', { fatal: true }).decode(data);
      raw = parseJsonBounded(text, { maxDepth, what: 'message' });
    } catch (e) {
      fail(
        conn,
        undefined,
        isDreamAgentError(e) ? e : new DreamAgentError('INVALID_INPUT', 'the message is not valid UTF-8'),
      );
      return;
    }
    const reqId =
      typeof raw === 'object' &&
      raw !== null &&
      'id' in raw &&
      typeof raw.id === 'string' &&
      raw.id.length <= 128
        ? raw.id
        : undefined;
    const parsed = ClientMessageSchema.safeParse(raw);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
      const first = issues[0];
      fail(
        conn,
        reqId,
        new DreamAgentError(
          'INVALID_INPUT',
          `invalid message: ${first ? `${first.path || '(root)'}: ${first.message}` : 'unknown'}`,
          { details: { issues } },
        ),
      );
      return;
    }
    const msg = parsed.data;
    // Credentials live as long as the connection: re-check them (cheaply, at most every `recheckMs`).
    if (Date.now() - conn.checkedAt >= recheckMs && !(await stillAuthenticated(conn, msg.id))) return;
    try {
      const view = viewOf(conn);
      switch (msg.type) {
        case 'subscribe':
          await subscribe(conn, msg.id, msg.sessionId, msg.after ?? 0);
          return;
        case 'unsubscribe': {
          conn.subs.get(msg.sessionId)?.abort();
          conn.subs.delete(msg.sessionId);
          send(conn, {
            type: 'unsubscribed',
            ...(msg.id !== undefined ? { id: msg.id } : {}),
            sessionId: msg.sessionId,
          });
          return;
        }
        case 'get':
          await options.authorize?.(conn.principal, { kind: 'read', sessionId: msg.sessionId });
          await reply(
            conn,
            msg.id,
            await snapshotWithHistory(view, msg.sessionId, msg.history, msg.edits ?? true, {
              ...(msg.changesLimit !== undefined ? { limit: msg.changesLimit } : {}),
              ...(msg.changesBefore !== undefined ? { before: msg.changesBefore } : {}),
            }),
          );
          return;
        case 'plans': {
          await options.authorize?.(conn.principal, { kind: 'read', sessionId: msg.sessionId });
          await reply(conn, msg.id, { plans: await planVersions(view, msg.sessionId, msg.versions) });
          return;
        }
        case 'list': {
          await options.authorize?.(conn.principal, { kind: 'read' });
          const sessions = await view.listSessions({
            ...(msg.status ? { status: msg.status } : {}),
            ...(msg.after !== undefined ? { after: msg.after } : {}),
            ...(msg.limit !== undefined ? { limit: msg.limit } : {}),
          });
          await reply(conn, msg.id, { sessions });
          return;
        }
        case 'start': {
          await options.authorize?.(
            conn.principal,
            msg.sessionId === undefined
              ? { kind: 'start', input: msg.input }
              : { kind: 'start', sessionId: msg.sessionId, input: msg.input },
          );
          const run = view.run(msg.input, {
            ...(msg.sessionId !== undefined ? { sessionId: msg.sessionId } : {}),
            ...(msg.metadata !== undefined ? { metadata: msg.metadata } : {}),
          });
          const record = {
            transport: 'ws' as const,
            principal: conn.principal,
            sessionId: run.sessionId,
            type: 'turn.start',
            commandId: undefined,
            payload: { input: msg.input, sessionId: msg.sessionId },
          };
          try {
            await reply(conn, msg.id, await settle(run, msg.wait ?? false));
            options.onCommand?.({ ...record, outcome: 'accepted' });
          } catch (e) {
            options.onCommand?.({ ...record, outcome: 'rejected', error: serializeError(e) });
            throw e;
          }
          return;
        }
        case 'command': {
          let command: Command;
          try {
            command = parseCommand(msg.command, maxPayload);
          } catch (e) {
            const t =
              typeof msg.command === 'object' && msg.command !== null && 'type' in msg.command
                ? String(msg.command.type).slice(0, 64)
                : 'invalid';
            options.onCommand?.({
              transport: 'ws',
              principal: conn.principal,
              sessionId: msg.sessionId,
              type: t,
              commandId: undefined,
              outcome: 'rejected',
              error: serializeError(e),
              payload: null,
            });
            throw e;
          }
          await options.authorize?.(conn.principal, { kind: 'command', sessionId: msg.sessionId, command });
          const actor = actorFor(conn, command.actor);
          const stamped: Command = { ...command, ...(actor !== undefined ? { actor } : {}) };
          const record = {
            transport: 'ws' as const,
            principal: conn.principal,
            sessionId: msg.sessionId,
            type: command.type,
            commandId: command.commandId,
            payload: stamped,
          };
          try {
            await reply(conn, msg.id, await settle(view.send(msg.sessionId, stamped), msg.wait ?? false));
            options.onCommand?.({ ...record, outcome: 'accepted' });
          } catch (e) {
            options.onCommand?.({ ...record, outcome: 'rejected', error: serializeError(e) });
            throw e;
          }
          return;
        }
      }
    } catch (e) {
      fail(conn, msg.id, e, msg.type === 'subscribe' ? msg.sessionId : undefined);
    }
  }

  function onConnection(ws: WebSocket, principal: WsPrincipal, req: IncomingMessage): void {
    const conn: Conn = {
      ws,
      principal,
      subs: new Map(),
      alive: true,
      dead: false,
      reason: undefined,
      flushed: Promise.resolve(),
      tokens: rate * 2,
      lastRefill: Date.now(),
      token: handshakeToken(req),
      req,
      checkedAt: Date.now(),
      checking: undefined,
      expiry: undefined,
    };
    if (principal.expiresAt !== undefined) {
      // Close at expiry even when the client is silent (a subscription would otherwise read on forever).
      const ms = Math.min(Math.max(0, principal.expiresAt - Date.now()), 2 ** 31 - 1);
      conn.expiry = setTimeout(
        () => expel(conn, new DreamAgentError('UNAUTHENTICATED', 'token expired')),
        ms,
      );
      conn.expiry.unref();
    }
    conns.add(conn);
    stats.connections += 1;
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      // Whatever a message does, it must not become an unhandled rejection (that ends the process).
      onMessage(conn, data, isBinary).catch((e: unknown) => fail(conn, undefined, e));
    });
    ws.on('error', (err) => {
      logger?.debug({ err: err.message }, 'ws: connection error');
    });
    ws.on('close', (code) => {
      clearTimeout(conn.expiry);
      conns.delete(conn);
      stats.connections -= 1;
      for (const ac of conn.subs.values()) ac.abort();
      conn.subs.clear();
      const reason: DropReason =
        conn.reason ?? (code === CLOSE_CODES.MESSAGE_TOO_BIG ? 'message_too_big' : 'closed');
      if (conn.reason === undefined) stats.dropped[reason] += 1;
      if (reason === 'shutdown') stats.dropped.shutdown += 1;
      conn.dead = true;
      options.onDisconnect?.({ principal: conn.principal, reason, code });
    });
    send(conn, {
      type: 'welcome',
      protocol: PROTOCOL,
      principal: { id: principal.id, roles: [...principal.roles] },
      heartbeatMs,
      maxPayloadBytes: maxPayload,
    });
  }

  const timer =
    heartbeatMs > 0
      ? setInterval(() => {
          for (const conn of conns) {
            if (conn.dead) continue;
            if (!conn.alive) {
              stats.dropped.heartbeat_timeout += 1;
              drop(conn, CLOSE_CODES.HEARTBEAT_TIMEOUT, 'heartbeat timeout', 'heartbeat_timeout');
              conn.ws.terminate();
              continue;
            }
            conn.alive = false;
            try {
              conn.ws.ping();
            } catch {
              /* closing */
            }
            void stillAuthenticated(conn); // a revoked key also ends idle subscriptions
          }
        }, heartbeatMs)
      : undefined;
  timer?.unref();

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => undefined);
    if (!originAllowed(req, options.allowedOrigins)) {
      stats.handshakesRefused += 1;
      refuse(socket, 403, 'FORBIDDEN', 'origin not allowed');
      return;
    }
    let principal: WsPrincipal = { id: 'anonymous', roles: [] };
    if (options.authenticate) {
      try {
        principal = await options.authenticate({ token: handshakeToken(req), req });
      } catch (e) {
        stats.handshakesRefused += 1;
        const err = errorOf(e);
        const status =
          err.code === 'FORBIDDEN'
            ? 403
            : err.code === 'UNAUTHENTICATED'
              ? 401
              : err.code === 'RATE_LIMITED'
                ? 429
                : 500;
        refuse(socket, status, err.code, err.code === 'INTERNAL' ? 'authentication failed' : err.message);
        return;
      }
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, principal, req));
  }

  /** Runs a handshake; nothing it throws may escape (an unhandled rejection ends the process). */
  const guardedUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    upgrade(req, socket, head).catch((e: unknown) => {
      logger?.error({ err: e instanceof Error ? e.stack : String(e) }, 'ws: handshake failed');
      socket.destroy();
    });
  };
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      return; // not a URL this transport serves
    }
    if (pathname !== path) return; // another handler may own it
    guardedUpgrade(req, socket, head);
  };
  options.server?.on('upgrade', onUpgrade);

  return {
    handleUpgrade(req, socket, head) {
      guardedUpgrade(req, socket, head);
    },
    stats: () => ({ ...stats, dropped: { ...stats.dropped } }),
    bufferedAmounts: () => [...conns].map((c) => c.ws.bufferedAmount),
    async close() {
      if (timer) clearInterval(timer);
      options.server?.off('upgrade', onUpgrade);
      for (const conn of conns) drop(conn, CLOSE_CODES.GOING_AWAY, 'server shutting down', 'shutdown');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
