import { EventEmitter } from 'eventemitter3';
import { cloneJson, type Json } from '../../model/json.js';
import type { BusHandler, EventBus } from '../bus.js';

const DONE: Promise<void> = Promise.resolve();

/**
 * The in-process {@link EventBus}: delivers to subscribers of the same `MemoryEventBus` instance. Share
 * one instance between several Agents in a process (tests, workers) to let them wake each other.
 * Messages are cloned so subscribers never alias the publisher's objects.
 */
export class MemoryEventBus implements EventBus {
  readonly #emitter = new EventEmitter();

  publish(topic: string, message: Json): Promise<void> {
    // Nobody subscribed (an Agent alone in its process publishes every commit): nothing to do, and no
    // async frame or listener array per commit.
    if (this.#emitter.listenerCount(topic) === 0) return DONE;
    return this.#deliver(topic, message);
  }

  async #deliver(topic: string, message: Json): Promise<void> {
    await Promise.resolve();
    const handlers = this.#emitter.listeners(topic) as BusHandler[];
    for (const h of handlers) {
      try {
        h(cloneJson(message));
      } catch {
        // A failing subscriber must not break the publisher or the other subscribers.
      }
    }
  }

  async subscribe(topic: string, handler: BusHandler): Promise<() => Promise<void>> {
    await Promise.resolve();
    this.#emitter.on(topic, handler);
    return async () => {
      await Promise.resolve();
      this.#emitter.off(topic, handler);
    };
  }

  /** Number of subscriptions on a topic (tests use it to check nothing leaks). */
  listenerCount(topic: string): number {
    return this.#emitter.listenerCount(topic);
  }
}
