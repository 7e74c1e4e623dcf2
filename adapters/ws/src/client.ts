/**
 * A small typed WebSocket client for dream-agent, for Node and browsers (no Node imports). Events are
 * async iterators; after a dropped connection it reconnects with backoff and resumes every subscription
 * `after` the last seq it delivered — no gaps, no duplicates.
 *
 * @packageDocumentation
 */
import type {
  AgentEvent,
  CommandInput,
  JsonObject,
  PlanVersionRecord,
  RunResult,
  SessionStatus,
  SessionSummary,
} from 'dream-agent';
import type { HistorySnapshot } from 'dream-agent/adapter-kit';
import {
  BEARER_PREFIX,
  PROTOCOL,
  type AcceptedResult,
  type ClientMessage,
  type ServerMessage,
  type WelcomeMessage,
} from './protocol.js';

/** An event handler property, declared bivariantly so both the DOM's and `ws`'s handler types fit. */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The part of the WebSocket API the client uses (the browser's `WebSocket` and the `ws` package both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
}

/** A WebSocket constructor. */
export type WebSocketFactory = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** Options of {@link AgentClient}. */
export interface AgentClientOptions {
  /** `ws://host/ws` or `wss://…`. */
  url: string;
  /** A bearer token (JWT or API key), or a function returning a fresh one at each (re)connect. Sent as a subprotocol entry. */
  token?: string | (() => string | Promise<string>);
  /** The WebSocket implementation (default: `globalThis.WebSocket`; in Node 20 pass `WebSocket` from `ws`). */
  WebSocket?: WebSocketFactory;
  /** Reconnect after a drop (default true) with exponential backoff from `minDelayMs` (250) to `maxDelayMs` (10 000). */
  reconnect?: boolean | { minDelayMs?: number; maxDelayMs?: number };
  /** Per-request timeout in ms (default 30 000). */
  requestTimeoutMs?: number;
}

/** How long a connection must stay open before the reconnect backoff starts again from its minimum. */
const STABLE_MS = 5000;

/** Connection states reported to {@link AgentClient.onState}. */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** A typed error raised by the client, carrying the server's `{ code, message, details }`. */
export class AgentClientError extends Error {
  /** The error code (a core code such as `FORBIDDEN`, or `UNAVAILABLE` when disconnected). */
  readonly code: string;
  /** Structured details from the server. */
  readonly details: Record<string, unknown>;
  /**
   * @param code - the error code
   * @param message - the message
   * @param details - structured details
   */
  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'AgentClientError';
    this.code = code;
    this.details = details;
  }
}

/** An async iterable of a session's events; `close()` ends it. */
export interface EventSubscription extends AsyncIterable<AgentEvent> {
  readonly sessionId: string;
  /** Seq of the last event delivered (what a resume continues after). */
  readonly lastSeq: number;
  /** Stops the subscription and ends the iteration. */
  close(): void;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

interface Sub {
  sessionId: string;
  lastSeq: number;
  queue: AgentEvent[];
  waiters: (() => void)[];
  error: Error | undefined;
  closed: boolean;
}

const OPEN = 1;

/**
 * The client. Requests (`start`, `send`, `get`, `list`) resolve with the server's answer or reject with an
 * {@link AgentClientError}; requests in flight when the connection drops reject with `UNAVAILABLE` (a
 * command may be re-sent with the same `commandId`: the server de-duplicates it).
 *
 * @example
 * ```ts
 * const client = new AgentClient({ url: 'ws://127.0.0.1:3000/ws', token, WebSocket });
 * const { sessionId } = await client.start('analyse sales by region');
 * for await (const e of client.subscribe(sessionId)) {
 *   if (e.type === 'approval.requested') await client.send(sessionId, { type: 'approval.grant', requestId: e.request.id });
 *   if (e.type === 'turn.completed') break;
 * }
 * client.close();
 * ```
 */
export class AgentClient {
  readonly #options: AgentClientOptions;
  readonly #subs = new Map<string, Sub>();
  readonly #pending = new Map<string, Pending>();
  readonly #stateListeners = new Set<(state: ConnectionState) => void>();
  #ws: WebSocketLike | undefined;
  #nextId = 1;
  #closed = false;
  #attempt = 0;
  #opened: Promise<WelcomeMessage> | undefined;
  #welcome: WelcomeMessage | undefined;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;

  /** @param options - url, token, WebSocket implementation, reconnect policy */
  constructor(options: AgentClientOptions) {
    this.#options = options;
  }

  /** Who the server says we are (after the first connect). */
  get principal(): WelcomeMessage['principal'] | undefined {
    return this.#welcome?.principal;
  }

  /**
   * Opens the connection (requests and subscriptions do this on demand).
   *
   * @returns the server's welcome
   * @throws `UNAVAILABLE` when the handshake fails (bad token, origin, network)
   */
  connect(): Promise<WelcomeMessage> {
    if (this.#closed) return Promise.reject(new AgentClientError('CLOSED', 'the client is closed'));
    this.#opened ??= this.#open();
    return this.#opened;
  }

  /**
   * Listens to connection state changes.
   *
   * @param fn - called with each new state
   * @returns a function removing the listener
   */
  onState(fn: (state: ConnectionState) => void): () => void {
    this.#stateListeners.add(fn);
    return () => this.#stateListeners.delete(fn);
  }

  /**
   * Subscribes to a session's events: the replay after `after`, then live events. Survives reconnects.
   *
   * @param sessionId - the session
   * @param options - `after`: resume after this seq (default 0)
   * @returns an async iterable of events
   */
  subscribe(sessionId: string, options: { after?: number } = {}): EventSubscription {
    this.#subs.get(sessionId)?.waiters.forEach((w) => w());
    const sub: Sub = {
      sessionId,
      lastSeq: options.after ?? 0,
      queue: [],
      waiters: [],
      error: undefined,
      closed: false,
    };
    this.#subs.set(sessionId, sub);
    void this.connect().then(
      () => this.#sendSubscribe(sub),
      (e: unknown) => this.#failSub(sub, e instanceof Error ? e : new Error(String(e))),
    );
    const close = (): void => {
      if (sub.closed) return;
      sub.closed = true;
      if (this.#subs.get(sessionId) === sub) {
        this.#subs.delete(sessionId);
        if (this.#ws?.readyState === OPEN) this.#raw({ type: 'unsubscribe', sessionId });
      }
      this.#wake(sub);
    };
    const iterate = async function* (this: void): AsyncGenerator<AgentEvent> {
      try {
        for (;;) {
          while (sub.queue.length > 0) yield sub.queue.shift() as AgentEvent;
          if (sub.error) throw sub.error;
          if (sub.closed) return;
          await new Promise<void>((resolve) => sub.waiters.push(resolve));
        }
      } finally {
        close();
      }
    };
    return {
      sessionId,
      get lastSeq() {
        return sub.lastSeq;
      },
      close,
      [Symbol.asyncIterator]: () => iterate(),
    };
  }

  /**
   * Starts a turn.
   *
   * @param input - the user's request
   * @param options - session id, metadata, `wait` for the session to rest
   * @returns acceptance (`firstSeq`) or, with `wait`, the RunResult
   */
  start(
    input: string,
    options: { sessionId?: string; metadata?: JsonObject; wait?: boolean } = {},
  ): Promise<AcceptedResult | RunResult> {
    return this.#request({ type: 'start', input, ...options }) as Promise<AcceptedResult | RunResult>;
  }

  /**
   * Sends a Command.
   *
   * @param sessionId - the session
   * @param command - the command (the same JSON as the in-process API)
   * @param options - `wait` for the session to rest
   * @returns acceptance or, with `wait`, the RunResult
   * @throws {@link AgentClientError} with the server's code (`FORBIDDEN`, `STALE_VERSION`…)
   */
  send(
    sessionId: string,
    command: CommandInput,
    options: { wait?: boolean } = {},
  ): Promise<AcceptedResult | RunResult> {
    return this.#request({ type: 'command', sessionId, command, ...options }) as Promise<
      AcceptedResult | RunResult
    >;
  }

  /**
   * Reads a session snapshot.
   *
   * @param sessionId - the session
   * @param options - `history`: `'full'` (default) every plan version whole; `'changes'` only
   *   `planChanges` and the current plan (big sessions open fast; fetch versions with {@link AgentClient.plans});
   *   a number N: `planChanges` and the last N versions whole; `edits: false` leaves each change's
   *   `edits` empty (its `diff` still names the todos; versions with `plans` carry their edits);
   *   `changesLimit` / `changesBefore` page `planChanges` (the newest `changesLimit` changes below version
   *   `changesBefore`) and add `planChangesPage`
   * @returns status, plan, plan history, todos, pending requests
   * @throws DreamAgentError `INVALID_INPUT` for a bad cursor (or a cursor with `history` `'full'`)
   * @example
   * ```ts
   * const snap = await client.get(id, { history: 'changes', edits: false, changesLimit: 50 });
   * const older = await client.get(id, {
   *   history: 'changes',
   *   changesLimit: 50,
   *   changesBefore: snap.planChanges?.[0]?.version,
   * });
   * const [a, b] = await client.plans(id, [1, snap.plan?.version ?? 1]);
   * ```
   */
  get(
    sessionId: string,
    options: {
      history?: number | 'full' | 'changes';
      edits?: boolean;
      changesLimit?: number;
      changesBefore?: number;
    } = {},
  ): Promise<HistorySnapshot> {
    return this.#request({ type: 'get', sessionId, ...options }) as Promise<HistorySnapshot>;
  }

  /**
   * Reads chosen plan versions of the session's current turn (e.g. two versions to diff).
   *
   * @param sessionId - the session
   * @param versions - 1 to 20 plan versions
   * @returns the versions found, oldest first
   */
  async plans(sessionId: string, versions: number[]): Promise<PlanVersionRecord[]> {
    const r = (await this.#request({ type: 'plans', sessionId, versions })) as { plans: PlanVersionRecord[] };
    return r.plans;
  }

  /**
   * Lists sessions.
   *
   * @param query - status filter and paging
   * @returns session summaries
   */
  async list(
    query: { status?: SessionStatus[]; after?: string; limit?: number } = {},
  ): Promise<SessionSummary[]> {
    const r = (await this.#request({ type: 'list', ...query })) as { sessions: SessionSummary[] };
    return r.sessions;
  }

  /** Closes the connection for good; subscriptions end and pending requests reject. */
  close(): void {
    this.#closed = true;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#ws?.close(1000, 'client closed');
    this.#rejectPending(new AgentClientError('CLOSED', 'the client is closed'));
    for (const sub of this.#subs.values()) {
      sub.closed = true;
      this.#wake(sub);
    }
    this.#subs.clear();
    this.#setState('closed');
  }

  // ------------------------------------------------------------------ internals

  #setState(state: ConnectionState): void {
    for (const fn of this.#stateListeners) fn(state);
  }

  async #open(): Promise<WelcomeMessage> {
    const Impl = this.#options.WebSocket ?? (globalThis as { WebSocket?: WebSocketFactory }).WebSocket;
    if (!Impl)
      throw new AgentClientError(
        'INVALID_INPUT',
        'no WebSocket implementation: pass options.WebSocket (e.g. from the "ws" package)',
      );
    const t = this.#options.token;
    const token = typeof t === 'function' ? await t() : t;
    const protocols = token ? [PROTOCOL, `${BEARER_PREFIX}${token}`] : [PROTOCOL];
    this.#setState(this.#attempt === 0 ? 'connecting' : 'reconnecting');
    const ws = new Impl(this.#options.url, protocols);
    this.#ws = ws;
    return new Promise<WelcomeMessage>((resolve, reject) => {
      let welcomed = false;
      let stable: ReturnType<typeof setTimeout> | undefined;
      const parts = new Map<string, string[]>();
      ws.onmessage = (ev) => {
        let msg = this.#decode(ev.data);
        if (!msg) return;
        if (msg.type === 'segment') {
          // A message too big for one frame: collect its pieces, then handle the joined message.
          const { segmentId, index, count, data } = msg;
          if (
            !Number.isInteger(count) ||
            count < 1 ||
            count > 1_000_000 ||
            index !== (parts.get(segmentId)?.length ?? 0)
          )
            return;
          const got = parts.get(segmentId) ?? [];
          got.push(data);
          parts.set(segmentId, got);
          if (got.length < count) return;
          parts.delete(segmentId);
          msg = this.#decode(got.join(''));
          if (!msg || msg.type === 'segment') return;
        }
        if (msg.type === 'welcome') {
          welcomed = true;
          this.#welcome = msg;
          // Back off from zero only once the connection has proved stable: a server that accepts and then
          // drops at once (a message it cannot deliver) must not be reconnected to in a tight loop.
          stable = setTimeout(() => {
            this.#attempt = 0;
          }, STABLE_MS);
          this.#setState('open');
          resolve(msg);
          for (const sub of this.#subs.values()) this.#sendSubscribe(sub);
          return;
        }
        this.#dispatch(msg);
      };
      ws.onerror = () => undefined;
      ws.onclose = (ev) => {
        clearTimeout(stable);
        if (this.#ws !== ws) return;
        this.#ws = undefined;
        this.#opened = undefined;
        this.#rejectPending(
          new AgentClientError(
            'UNAVAILABLE',
            `connection closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`,
            { closeCode: ev.code },
          ),
        );
        if (!welcomed)
          reject(
            new AgentClientError('UNAVAILABLE', `could not connect (${ev.code})`, { closeCode: ev.code }),
          );
        this.#scheduleReconnect();
      };
    });
  }

  #scheduleReconnect(): void {
    const policy = this.#options.reconnect ?? true;
    if (this.#closed || policy === false) {
      if (!this.#closed) {
        for (const sub of this.#subs.values())
          this.#failSub(sub, new AgentClientError('UNAVAILABLE', 'connection lost'));
        this.#setState('closed');
      }
      return;
    }
    const min = typeof policy === 'object' ? (policy.minDelayMs ?? 250) : 250;
    const max = typeof policy === 'object' ? (policy.maxDelayMs ?? 10_000) : 10_000;
    const delay = Math.min(max, min * 2 ** this.#attempt) * (0.5 + Math.random() / 2);
    this.#attempt += 1;
    this.#setState('reconnecting');
    this.#reconnectTimer = setTimeout(() => {
      if (this.#closed) return;
      this.connect().catch(() => undefined); // a failed attempt schedules the next one from onclose
    }, delay);
  }

  #decode(data: unknown): ServerMessage | undefined {
    try {
      return JSON.parse(typeof data === 'string' ? data : String(data)) as ServerMessage;
    } catch {
      return undefined;
    }
  }

  #dispatch(msg: ServerMessage): void {
    switch (msg.type) {
      case 'event': {
        const sub = this.#subs.get(msg.event.sessionId);
        // Resume after a reconnect may overlap what was already delivered: seq filters duplicates.
        if (!sub || sub.closed || msg.event.seq <= sub.lastSeq) return;
        sub.lastSeq = msg.event.seq;
        sub.queue.push(msg.event);
        this.#wake(sub);
        return;
      }
      case 'result':
      case 'error': {
        const p = msg.id !== undefined ? this.#pending.get(msg.id) : undefined;
        if (p && msg.id !== undefined) {
          this.#pending.delete(msg.id);
          clearTimeout(p.timer);
          if (msg.type === 'result') p.resolve(msg.result);
          else p.reject(new AgentClientError(msg.error.code, msg.error.message, msg.error.details));
          return;
        }
        if (msg.type === 'error' && msg.sessionId !== undefined) {
          const sub = this.#subs.get(msg.sessionId);
          if (sub)
            this.#failSub(sub, new AgentClientError(msg.error.code, msg.error.message, msg.error.details));
        }
        return;
      }
      case 'welcome':
      case 'subscribed':
      case 'unsubscribed':
      case 'segment': // joined before dispatch
        return;
    }
  }

  #sendSubscribe(sub: Sub): void {
    if (sub.closed || this.#ws?.readyState !== OPEN) return;
    this.#raw({ type: 'subscribe', sessionId: sub.sessionId, after: sub.lastSeq });
  }

  #failSub(sub: Sub, error: Error): void {
    sub.error = error;
    if (this.#subs.get(sub.sessionId) === sub) this.#subs.delete(sub.sessionId);
    this.#wake(sub);
  }

  #wake(sub: Sub): void {
    const ws = sub.waiters;
    sub.waiters = [];
    for (const w of ws) w();
  }

  #raw(msg: ClientMessage): void {
    this.#ws?.send(JSON.stringify(msg));
  }

  async #request(msg: ClientMessage): Promise<unknown> {
    await this.connect();
    const id = `r${this.#nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new AgentClientError(
            'TIMEOUT',
            `no answer to ${msg.type} within ${this.#options.requestTimeoutMs ?? 30_000} ms`,
          ),
        );
      }, this.#options.requestTimeoutMs ?? 30_000);
      this.#pending.set(id, { resolve, reject, timer });
      this.#raw({ ...msg, id });
    });
  }

  #rejectPending(error: Error): void {
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(error);
      this.#pending.delete(id);
    }
  }
}
