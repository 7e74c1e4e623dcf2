import type { Json } from '../model/json.js';

/** A message handler; errors thrown by it are caught and logged by the bus. */
export type BusHandler = (message: Json) => void;

/**
 * Pub/sub between agents that share a Store: wakes the owner of a session when a command arrives on
 * another node and carries committed events to followers. Delivery is best effort — the Store is the
 * truth and followers repair gaps from its event log — so a bus may drop messages but must not invent them.
 * Implementations: memory (core), Redis, PostgreSQL LISTEN/NOTIFY (adapters).
 */
export interface EventBus {
  /**
   * Sends a message to every current subscriber of `topic`, on every node sharing the bus (best effort:
   * subscribers that join later do not get it).
   *
   * @param topic - e.g. `session:<id>:events`
   * @param message - a JSON message
   */
  publish(topic: string, message: Json): Promise<void>;
  /**
   * @param topic - the topic
   * @param handler - called for each message
   * @returns an unsubscribe function
   */
  subscribe(topic: string, handler: BusHandler): Promise<() => Promise<void>>;
  /** Releases connections (optional). */
  close?(): Promise<void>;
}

/** Topic carrying committed events of a session (message: `{ events: AgentEvent[] }`). */
export const eventsTopic = (sessionId: string): string => `session:${sessionId}:events`;
/** Topic announcing a new command in a session's inbox (message: `{ commandId }`). */
export const inboxTopic = (sessionId: string): string => `session:${sessionId}:inbox`;
