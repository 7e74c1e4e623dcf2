import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { ClientBase, Notification, Pool } from 'pg';
import { DreamAgentError, silentLogger } from 'dream-agent';
import type { BusHandler, EventBus, Json, Logger } from 'dream-agent';
import {
  openPool,
  quoteIdent,
  toAgentError,
  withClient,
  type PoolHandle,
  type PostgresConnection,
} from './connection.js';

/** Options of {@link PostgresEventBus}. */
export type PostgresEventBusOptions = PostgresConnection & {
  /** The NOTIFY channel shared by every node (default `dream_agent_bus`). */
  channel?: string;
  /** Delay before reconnecting a lost listening connection (default 250 ms, doubling up to 5 s). */
  reconnectMs?: number;
  /** Where connection trouble is reported (default: silent). */
  logger?: Logger;
  /**
   * What every subscribed handler receives after the listening connection came back from a loss
   * (default `{ catchUp: true }`; `null` sends nothing). NOTIFYs sent while it was down are gone, so
   * this tells subscribers to re-check the Store: the Agent's inbox handler wakes the session's owner,
   * which reads the inbox; event followers re-read the log after their last seq.
   */
  catchUpMessage?: Json | null;
};

/** The default `catchUpMessage` of {@link PostgresEventBusOptions}. */
export const CATCH_UP_MESSAGE = { catchUp: true } as const;

/** NOTIFY payloads must stay below 8000 bytes; bigger messages travel in base64 chunks. */
const MAX_PAYLOAD = 7900;
const CHUNK_BYTES = 5000;
const PARTIAL_TTL_MS = 30_000;

interface PartialMessage {
  parts: (string | undefined)[];
  got: number;
  at: number;
}

/**
 * An {@link EventBus} on PostgreSQL `LISTEN`/`NOTIFY`: a command or an event committed on one node
 * wakes the others through the database they already share — no Redis needed.
 *
 * One dedicated connection per bus instance listens on one channel and runs nothing else; messages are
 * published through a pool (yours, or a small one the bus opens), one statement at a time: publishes
 * that arrive while one is in flight are sent together by the next, so messages from one publisher
 * arrive in order and a burst costs few round trips. (Publishing on the listening connection, as
 * earlier versions did, overlapped queries on one client — pg's deprecation warning, an error in pg 9.)
 * Messages above NOTIFY's 8000-byte limit are split into chunks and reassembled.
 *
 * Delivery is best effort, as the port allows: NOTIFYs sent while the listening connection is down are
 * lost. When it reconnects, every subscriber receives the `catchUpMessage` of
 * {@link PostgresEventBusOptions} so that it re-checks the Store (commands wait in the inbox; events are
 * in the log by seq).
 *
 * @example
 * ```ts
 * const bus = new PostgresEventBus({ connectionString: process.env.DATABASE_URL! });
 * const agent = new Agent({ store, bus });
 * ```
 */
export class PostgresEventBus implements EventBus {
  readonly #conn: PostgresConnection;
  readonly #channel: string;
  readonly #reconnectMs: number;
  readonly #logger: Logger;
  readonly #catchUp: Json | null;
  readonly #handlers = new Map<string, Set<BusHandler>>();
  readonly #partials = new Map<string, PartialMessage>();
  #publisher: PoolHandle | undefined;
  /** Payloads waiting for the next publish statement, with their publishers' promises. */
  #outbox: { payloads: string[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  #flushing = false;
  /** The listening connection was lost since it last listened: catch subscribers up when it is back. */
  #missed = false;
  #client: ClientBase | undefined;
  #release: ((destroy: boolean) => Promise<void>) | undefined;
  #connecting: Promise<ClientBase> | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #closed = false;

  /**
   * @param options - the user's `pg.Pool` (one client is held for listening) or a connection string, and the channel
   * @throws `INVALID_INPUT` for a bad channel name
   */
  constructor(options: PostgresEventBusOptions | string) {
    const opts: PostgresEventBusOptions =
      typeof options === 'string' ? { connectionString: options } : options;
    this.#conn =
      'pool' in opts
        ? { pool: opts.pool }
        : {
            connectionString: opts.connectionString,
            ...(opts.poolConfig ? { poolConfig: opts.poolConfig } : {}),
          };
    this.#channel = opts.channel ?? 'dream_agent_bus';
    quoteIdent(this.#channel);
    this.#reconnectMs = opts.reconnectMs ?? 250;
    this.#logger = opts.logger ?? silentLogger;
    this.#catchUp = opts.catchUpMessage === undefined ? { ...CATCH_UP_MESSAGE } : opts.catchUpMessage;
  }

  /** Whether the listening connection is up. */
  get connected(): boolean {
    return this.#client !== undefined;
  }

  async publish(topic: string, message: Json): Promise<void> {
    const body = JSON.stringify({ t: topic, m: message });
    const payloads: string[] = [];
    if (Buffer.byteLength(body, 'utf8') <= MAX_PAYLOAD) {
      payloads.push(body);
    } else {
      const bytes = Buffer.from(JSON.stringify(message), 'utf8');
      const id = randomUUID();
      const n = Math.ceil(bytes.length / CHUNK_BYTES);
      for (let i = 0; i < n; i += 1) {
        payloads.push(
          JSON.stringify({
            t: topic,
            id,
            i,
            n,
            d: bytes.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES).toString('base64'),
          }),
        );
      }
    }
    if (this.#closed) throw new DreamAgentError('CLOSED', 'the PostgresEventBus is closed');
    return new Promise<void>((resolve, reject) => {
      this.#outbox.push({ payloads, resolve, reject });
      if (!this.#flushing) void this.#flush();
    });
  }

  /** Sends queued payloads, one statement at a time (order kept), until the outbox is empty. */
  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#outbox.length > 0) {
        const batch = this.#outbox;
        this.#outbox = [];
        const payloads = batch.flatMap((b) => b.payloads);
        try {
          this.#publisher ??=
            'pool' in this.#conn
              ? { pool: this.#conn.pool, owned: false }
              : openPool({
                  connectionString: this.#conn.connectionString,
                  poolConfig: { ...this.#conn.poolConfig, max: 2 },
                });
          const pool: Pool = this.#publisher.pool;
          // One statement, one transaction: the chunks are delivered together and in order.
          await withClient(pool, 'publish', 'before-send', 2_000, (c) =>
            c.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS x(p, i) ORDER BY i', [
              this.#channel,
              payloads,
            ]),
          );
          for (const b of batch) b.resolve();
        } catch (e) {
          const err = toAgentError(e, 'publish');
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  async subscribe(topic: string, handler: BusHandler): Promise<() => Promise<void>> {
    const set = this.#handlers.get(topic) ?? new Set<BusHandler>();
    // Wrap so the same function may subscribe twice and unsubscribe each independently.
    const h: BusHandler = (m) => handler(m);
    set.add(h);
    this.#handlers.set(topic, set);
    try {
      await this.#connect();
    } catch (e) {
      // Subscribed anyway: the listener reconnects in the background, delivery resumes, and this
      // subscriber is caught up then (it may miss messages meanwhile).
      this.#missed = true;
      this.#scheduleReconnect();
      this.#logger.warn({ err: String(e) }, 'PostgresEventBus: listening connection unavailable; retrying');
    }
    return async () => {
      await Promise.resolve();
      const s = this.#handlers.get(topic);
      s?.delete(h);
      if (s && s.size === 0) this.#handlers.delete(topic);
    };
  }

  /** Stops listening and releases the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#handlers.clear();
    await this.#connecting?.catch(() => undefined);
    const release = this.#release;
    this.#client = undefined;
    this.#release = undefined;
    await release?.(false);
    const closed = new DreamAgentError('CLOSED', 'the PostgresEventBus is closed');
    for (const b of this.#outbox.splice(0)) b.reject(closed);
    const publisher = this.#publisher;
    this.#publisher = undefined;
    if (publisher?.owned) await publisher.pool.end().catch(() => undefined);
  }

  async #connect(): Promise<ClientBase> {
    if (this.#closed) throw new DreamAgentError('CLOSED', 'the PostgresEventBus is closed');
    if (this.#client) return this.#client;
    this.#connecting ??= this.#open().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #open(): Promise<ClientBase> {
    let client: ClientBase;
    let release: (destroy: boolean) => Promise<void>;
    try {
      if ('pool' in this.#conn) {
        const pc = await this.#conn.pool.connect();
        client = pc;
        release = async (destroy) => {
          await Promise.resolve();
          pc.release(destroy ? true : undefined);
        };
      } else {
        const c = new pg.Client({
          connectionString: this.#conn.connectionString,
          connectionTimeoutMillis: 5_000,
        });
        await c.connect();
        client = c;
        release = async () => {
          await c.end().catch(() => undefined);
        };
      }
    } catch (e) {
      throw toAgentError(e, 'connect');
    }
    const onLost = (err?: Error): void => {
      if (this.#client !== client) return;
      this.#client = undefined;
      this.#release = undefined;
      client.removeListener('notification', onNotification);
      void release(true);
      this.#missed = true;
      if (!this.#closed) {
        this.#logger.warn(
          { err: String(err ?? 'ended') },
          'PostgresEventBus: listening connection lost; reconnecting',
        );
        this.#scheduleReconnect();
      }
    };
    const onNotification = (n: Notification): void => this.#dispatch(n);
    client.on('notification', onNotification);
    client.on('error', onLost);
    client.on('end', () => onLost());
    try {
      await client.query(`LISTEN ${quoteIdent(this.#channel)}`);
    } catch (e) {
      client.removeListener('notification', onNotification);
      await release(true);
      throw toAgentError(e, 'listen');
    }
    if (this.#closed) {
      await release(false);
      throw new DreamAgentError('CLOSED', 'the PostgresEventBus is closed');
    }
    this.#client = client;
    this.#release = release;
    this.#failures = 0;
    if (this.#missed) {
      this.#missed = false;
      this.#catchUpSubscribers();
    }
    return client;
  }

  /** After a reconnect: every subscriber may have missed messages; tell each to re-check the Store. */
  #catchUpSubscribers(): void {
    if (this.#catchUp === null) return;
    this.#logger.info({ channel: this.#channel }, 'PostgresEventBus: listening again; subscribers catch up');
    for (const [topic, handlers] of this.#handlers) {
      for (const h of [...handlers]) {
        try {
          h(structuredClone(this.#catchUp));
        } catch (err) {
          this.#logger.warn({ topic, err: String(err) }, 'PostgresEventBus: a subscriber threw');
        }
      }
    }
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnectTimer || this.#client) return;
    const delay = Math.min(this.#reconnectMs * 2 ** this.#failures, 5_000);
    this.#failures += 1;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#closed || this.#client || this.#handlers.size === 0) return;
      this.#connect().catch(() => this.#scheduleReconnect());
    }, delay);
    this.#reconnectTimer.unref();
  }

  #dispatch(n: Notification): void {
    if (n.channel !== this.#channel || n.payload === undefined) return;
    let msg: { t?: unknown; m?: Json; id?: unknown; i?: unknown; n?: unknown; d?: unknown };
    try {
      msg = JSON.parse(n.payload) as typeof msg;
    } catch {
      return; // not ours
    }
    if (typeof msg.t !== 'string') return;
    const handlers = this.#handlers.get(msg.t);
    let message: Json;
    if (
      typeof msg.id === 'string' &&
      typeof msg.i === 'number' &&
      typeof msg.n === 'number' &&
      typeof msg.d === 'string'
    ) {
      if (!handlers) return;
      const whole = this.#assemble(msg.id, msg.i, msg.n, msg.d);
      if (whole === undefined) return;
      message = whole;
    } else {
      if (!handlers || msg.m === undefined) return;
      message = msg.m;
    }
    for (const h of [...handlers]) {
      try {
        h(structuredClone(message));
      } catch (err) {
        this.#logger.warn({ topic: msg.t, err: String(err) }, 'PostgresEventBus: a subscriber threw');
      }
    }
  }

  #assemble(id: string, i: number, n: number, d: string): Json | undefined {
    const now = Date.now();
    for (const [k, p] of this.#partials) if (now - p.at > PARTIAL_TTL_MS) this.#partials.delete(k);
    const p = this.#partials.get(id) ?? {
      parts: new Array<string | undefined>(n).fill(undefined),
      got: 0,
      at: now,
    };
    if (i < 0 || i >= n || p.parts[i] !== undefined) return undefined;
    p.parts[i] = d;
    p.got += 1;
    this.#partials.set(id, p);
    if (p.got < n) return undefined;
    this.#partials.delete(id);
    try {
      return JSON.parse(
        Buffer.concat(p.parts.map((x) => Buffer.from(x ?? '', 'base64'))).toString('utf8'),
      ) as Json;
    } catch {
      return undefined;
    }
  }
}
