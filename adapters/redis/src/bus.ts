import type { Redis } from 'ioredis';
import { DreamAgentError, silentLogger } from 'dream-agent';
import type { AgentEvent, BusHandler, EventBus, Json, Logger, Store } from 'dream-agent';
import { ownClient, withTimeout, type RedisConnection } from './cache.js';

/** Options of {@link RedisEventBus}. */
export type RedisEventBusOptions = RedisConnection & {
  /** Channel prefix (default `dream-agent:bus:`). */
  prefix?: string;
  /**
   * The Store the agents share. With it, subscribers of a session's events topic never miss an event:
   * a message whose first seq skips ahead is preceded by the missing events read from the Store's log,
   * duplicates are dropped, and while Redis is down the Store is polled instead.
   */
  store?: Pick<Store, 'readEvents' | 'getSession'>;
  /** How often the Store is polled while Redis is down (default 500 ms). */
  pollMs?: number;
  /** How long a publish may take (default 500 ms). */
  timeoutMs?: number;
  /** Where connection trouble is reported (default: silent). */
  logger?: Logger;
};

const EVENTS_TOPIC = /^session:(.+):events$/;

interface Subscription {
  topic: string;
  handler: BusHandler;
  /** Events topics with a store: the last seq delivered to this handler. */
  lastSeq: number | undefined;
  sessionId: string | undefined;
  /** Serialises deliveries (gap repair reads are async). */
  chain: Promise<void>;
}

/**
 * An {@link EventBus} on Redis pub/sub, with seq-based gap repair from the Store.
 *
 * Plain pub/sub drops messages whenever a subscriber's connection blinks. Given the shared Store, this
 * bus makes the events topics (`session:<id>:events`) gap-free for its subscribers: each subscription
 * remembers the last seq it delivered, repairs a gap from the Store's event log before delivering
 * newer events, drops duplicates, and while Redis is down polls the log itself — so no follower stalls
 * and no run fails because of Redis. Other topics (inbox wake-ups) stay best effort: the engine also
 * checks the inbox at every cycle boundary.
 *
 * @example
 * ```ts
 * const bus = new RedisEventBus({ client: new Redis(process.env.REDIS_URL!), store });
 * const agent = new Agent({ store, bus });
 * ```
 */
export class RedisEventBus implements EventBus {
  readonly #pub: Redis;
  readonly #sub: Redis;
  readonly #ownedPub: boolean;
  readonly #prefix: string;
  readonly #store: Pick<Store, 'readEvents' | 'getSession'> | undefined;
  readonly #pollMs: number;
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  readonly #subs = new Map<string, Set<Subscription>>();
  #poller: NodeJS.Timeout | undefined;
  #closed = false;

  /**
   * @param options - your ioredis client (a duplicate is made for subscribing) or a URL, prefix, store
   */
  constructor(options: RedisEventBusOptions | string) {
    const opts: RedisEventBusOptions = typeof options === 'string' ? { url: options } : options;
    this.#ownedPub = !('client' in opts);
    this.#pub = 'client' in opts ? opts.client : ownClient(opts.url);
    // The subscriber keeps its offline queue: SUBSCRIBE is sent (and re-sent) whenever it (re)connects.
    this.#sub = this.#pub.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.#sub.on('error', () => undefined);
    this.#prefix = opts.prefix ?? 'dream-agent:bus:';
    this.#store = opts.store;
    this.#pollMs = opts.pollMs ?? 500;
    this.#timeoutMs = opts.timeoutMs ?? 500;
    this.#logger = opts.logger ?? silentLogger;
    this.#sub.on('message', (channel: string, text: string) => this.#onMessage(channel, text));
    // After an outage, what was published meanwhile is gone from pub/sub: repair from the Store.
    this.#sub.on('ready', () => this.#repairAll());
    if (this.#store) {
      this.#poller = setInterval(() => {
        if (this.#sub.status !== 'ready') this.#repairAll();
      }, this.#pollMs);
      this.#poller.unref();
    }
  }

  /** Whether the subscriber connection is up. */
  get connected(): boolean {
    return this.#sub.status === 'ready';
  }

  async publish(topic: string, message: Json): Promise<void> {
    try {
      await withTimeout(
        this.#pub.publish(this.#prefix + topic, JSON.stringify(message)),
        this.#timeoutMs,
        'PUBLISH',
      );
    } catch (e) {
      throw new DreamAgentError(
        'UNAVAILABLE',
        `Redis publish failed: ${e instanceof Error ? e.message : String(e)}`,
        { retryable: true, cause: e },
      );
    }
  }

  async subscribe(topic: string, handler: BusHandler): Promise<() => Promise<void>> {
    if (this.#closed) throw new DreamAgentError('CLOSED', 'the RedisEventBus is closed');
    const sessionId = this.#store ? EVENTS_TOPIC.exec(topic)?.[1] : undefined;
    const sub: Subscription = { topic, handler, lastSeq: undefined, sessionId, chain: Promise.resolve() };
    if (sessionId !== undefined && this.#store) {
      // Start from what is committed now: later events come from Redis or, on a gap, from the log.
      try {
        sub.lastSeq = (await this.#store.getSession(sessionId))?.lastSeq ?? 0;
      } catch {
        sub.lastSeq = 0;
      }
    }
    let set = this.#subs.get(topic);
    if (!set) {
      set = new Set();
      this.#subs.set(topic, set);
      try {
        await withTimeout(this.#sub.subscribe(this.#prefix + topic), this.#timeoutMs, 'SUBSCRIBE');
      } catch (e) {
        // Queued: ioredis subscribes when the connection comes back; the Store covers the meantime.
        this.#logger.warn({ topic, err: String(e) }, 'RedisEventBus: subscribe deferred until Redis is back');
      }
    }
    set.add(sub);
    return async () => {
      const s = this.#subs.get(topic);
      if (!s?.delete(sub) || s.size > 0) return;
      this.#subs.delete(topic);
      await withTimeout(this.#sub.unsubscribe(this.#prefix + topic), this.#timeoutMs, 'UNSUBSCRIBE').catch(
        () => undefined,
      );
    };
  }

  /** Stops polling and closes the connections this bus created. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#poller) clearInterval(this.#poller);
    this.#subs.clear();
    this.#sub.disconnect();
    if (this.#ownedPub) this.#pub.disconnect();
    await Promise.resolve();
  }

  #onMessage(channel: string, text: string): void {
    if (!channel.startsWith(this.#prefix)) return;
    const subs = this.#subs.get(channel.slice(this.#prefix.length));
    if (!subs) return;
    let message: Json;
    try {
      message = JSON.parse(text) as Json;
    } catch {
      return;
    }
    for (const sub of subs) {
      if (sub.sessionId === undefined) {
        this.#deliver(sub, message);
        continue;
      }
      const events =
        typeof message === 'object' && message !== null && !Array.isArray(message)
          ? message['events']
          : undefined;
      const list = Array.isArray(events) ? (events as unknown as AgentEvent[]) : [];
      sub.chain = sub.chain.then(() => this.#deliverEvents(sub, list)).catch(() => undefined);
    }
  }

  async #deliverEvents(sub: Subscription, incoming: AgentEvent[]): Promise<void> {
    const fresh = incoming.filter((e) => typeof e.seq === 'number').sort((a, b) => a.seq - b.seq);
    const last = sub.lastSeq ?? 0;
    const first = fresh.find((e) => e.seq > last);
    if (!first) return;
    if (first.seq > last + 1) await this.#repair(sub, first.seq - 1);
    const rest = fresh.filter((e) => e.seq > (sub.lastSeq ?? 0));
    let expected = (sub.lastSeq ?? 0) + 1;
    const contiguous: AgentEvent[] = [];
    for (const e of rest) {
      if (e.seq !== expected) break;
      contiguous.push(e);
      expected += 1;
    }
    if (contiguous.length === 0) return;
    sub.lastSeq = contiguous.at(-1)?.seq ?? sub.lastSeq;
    this.#deliver(sub, { events: contiguous as unknown as Json });
  }

  /** Reads the log after the subscription's last seq (up to `upTo`, or everything) and delivers it. */
  async #repair(sub: Subscription, upTo?: number): Promise<void> {
    if (!this.#store || sub.sessionId === undefined) return;
    for (;;) {
      const after = sub.lastSeq ?? 0;
      if (upTo !== undefined && after >= upTo) return;
      let page: AgentEvent[];
      try {
        page = await this.#store.readEvents(sub.sessionId, {
          after,
          limit: upTo === undefined ? 1000 : Math.min(1000, upTo - after),
        });
      } catch (e) {
        this.#logger.warn(
          { sessionId: sub.sessionId, err: String(e) },
          'RedisEventBus: gap repair read failed',
        );
        return;
      }
      if (page.length === 0) return;
      sub.lastSeq = page.at(-1)?.seq ?? after;
      this.#deliver(sub, { events: page as unknown as Json });
      if (page.length < 1000 && upTo === undefined) return;
    }
  }

  #repairAll(): void {
    if (this.#closed || !this.#store) return;
    for (const set of this.#subs.values()) {
      for (const sub of set) {
        if (sub.sessionId === undefined) continue;
        sub.chain = sub.chain.then(() => this.#repair(sub)).catch(() => undefined);
      }
    }
  }

  #deliver(sub: Subscription, message: Json): void {
    try {
      sub.handler(structuredClone(message));
    } catch (err) {
      this.#logger.warn({ topic: sub.topic, err: String(err) }, 'RedisEventBus: a subscriber threw');
    }
  }
}
