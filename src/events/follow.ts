import type { AgentEvent } from '../model/events.js';
import { eventsTopic, type EventBus } from '../ports/bus.js';
import type { Clock } from '../ports/clock.js';
import type { Store } from '../ports/store.js';

/** What {@link followEvents} reads from. */
export interface FollowSource {
  store: Pick<Store, 'readEvents'>;
  bus: EventBus;
  clock: Clock;
  /** Registers a listener for events this process emits for the session; returns its removal. */
  local: (sessionId: string, listener: (event: AgentEvent) => void) => () => void;
  /** True once the owner closes (the tail ends). */
  closed: () => boolean;
}

/** Options of {@link followEvents}. */
export interface FollowOptions {
  /** Only events with a seq greater than this (default 0). */
  after?: number;
  /** Keep tailing live events after the replay (default false). */
  follow?: boolean;
  /** Stops following. */
  signal?: AbortSignal;
  /** Page size of store reads (default 1000). */
  pageSize?: number;
  /** Safety-net interval for a bus that drops messages, in ms on the injected clock (default 1000). */
  repairMs?: number;
}

/**
 * The one paged reader of a session's event log: replays the committed log after `after`, then (with
 * `follow`) tails live events from this process and from the bus, repairing any gap from the store, so
 * every seq is delivered exactly once, in order. Waiting uses the injected Clock, never a raw timer.
 *
 * @param src - store, bus, clock and the local event source
 * @param sessionId - the session
 * @param options - `after`, `follow`, `signal`
 * @returns an async generator of events
 */
export async function* followEvents(
  src: FollowSource,
  sessionId: string,
  options: FollowOptions = {},
): AsyncGenerator<AgentEvent> {
  const pageSize = options.pageSize ?? 1000;
  let last = options.after ?? 0;
  const queue: AgentEvent[] = [];
  let wake: AbortController | undefined;
  let poked = false;
  const notify = (): void => {
    poked = true;
    wake?.abort();
  };
  let offLocal: (() => void) | undefined;
  let offBus: (() => Promise<void>) | undefined;
  if (options.follow) {
    offLocal = src.local(sessionId, (e) => {
      queue.push(e);
      notify();
    });
    offBus = await src.bus.subscribe(eventsTopic(sessionId), (msg) => {
      const events =
        typeof msg === 'object' && msg !== null && !Array.isArray(msg) ? msg['events'] : undefined;
      if (Array.isArray(events)) for (const e of events) queue.push(e as unknown as AgentEvent);
      notify();
    });
  }
  const onAbort = (): void => notify();
  options.signal?.addEventListener('abort', onAbort);
  async function* readAfter(): AsyncGenerator<AgentEvent> {
    for (;;) {
      const page = await src.store.readEvents(sessionId, { after: last, limit: pageSize });
      for (const e of page) {
        last = e.seq;
        yield e;
      }
      if (page.length < pageSize) return;
    }
  }
  try {
    yield* readAfter();
    if (!options.follow) return;
    while (options.signal?.aborted !== true && !src.closed()) {
      poked = false;
      // Take the whole queue at once (no shift(): following a large burst must stay linear).
      const batch = queue.splice(0, queue.length).sort((a, b) => a.seq - b.seq);
      let gap = false;
      for (const e of batch) {
        if (e.seq <= last) continue; // live copy and committed copy of the same event
        if (e.seq > last + 1) {
          gap = true;
          break;
        }
        last = e.seq;
        yield e;
      }
      if (gap) {
        yield* readAfter();
        continue;
      }
      if (poked || queue.length > 0) continue;
      const ctrl = new AbortController();
      wake = ctrl;
      const timedOut = await src.clock.sleep(options.repairMs ?? 1000, ctrl.signal).then(
        () => true,
        () => false,
      );
      wake = undefined;
      // Safety net for a bus that dropped messages: read what the store has.
      if (timedOut) yield* readAfter();
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    offLocal?.();
    await offBus?.().catch(() => undefined);
  }
}
