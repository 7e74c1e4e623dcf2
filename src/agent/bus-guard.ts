import { DreamAgentError } from '../errors/index.js';
import type { BusHandler, EventBus } from '../ports/bus.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { Json } from '../model/json.js';

/** How long a subscription may take before the agent goes on without it (ms, on the agent's Clock). */
export const BUS_SUBSCRIBE_WAIT_MS = 2_000;

/**
 * Wraps an application's event bus so that its failures never change a session's outcome: the bus only
 * makes followers and owners learn of things sooner, the Store is the truth. A `publish` that throws
 * (synchronously or by rejecting) is logged and ignored; a `subscribe` that rejects, or does not settle
 * within {@link BUS_SUBSCRIBE_WAIT_MS}, is logged (`UNAVAILABLE`) and replaced by a subscription that
 * delivers nothing — the agent then learns from the Store, which it polls anyway. A late subscription is
 * unsubscribed as soon as it settles.
 *
 * @param bus - the application's bus
 * @param logger - where failures are logged
 * @param clock - the agent's clock (bounds the wait for a subscription)
 * @returns a bus whose methods never throw and whose `subscribe` always settles
 * @internal
 */
export function guardBus(bus: EventBus, logger: Logger, clock: Clock): EventBus {
  const failed = (op: string, topic: string, err: unknown): void => {
    const error = new DreamAgentError('UNAVAILABLE', `event bus ${op} failed on "${topic}"`, {
      cause: err,
      details: { topic, op },
    });
    logger.warn({ topic, code: error.code, err: String(err) }, `${error.message}; continuing from the store`);
  };
  const guarded: EventBus = {
    publish(topic: string, message: Json): Promise<void> {
      try {
        return Promise.resolve(bus.publish(topic, message)).catch((err: unknown) =>
          failed('publish', topic, err),
        );
      } catch (err) {
        failed('publish', topic, err);
        return Promise.resolve();
      }
    },
    async subscribe(topic: string, handler: BusHandler): Promise<() => Promise<void>> {
      const noop = (): Promise<void> => Promise.resolve();
      let pending: Promise<() => Promise<void>>;
      try {
        pending = Promise.resolve(bus.subscribe(topic, handler));
      } catch (err) {
        failed('subscribe', topic, err);
        return noop;
      }
      const ctrl = new AbortController();
      const outcome: (() => Promise<void>) | null = await Promise.race([
        pending.then(
          (off) => off,
          (err: unknown) => {
            failed('subscribe', topic, err);
            return noop;
          },
        ),
        clock.sleep(BUS_SUBSCRIBE_WAIT_MS, ctrl.signal).then(
          () => null,
          () => null,
        ),
      ]);
      ctrl.abort();
      if (outcome !== null) return outcome;
      failed('subscribe', topic, new Error(`no answer within ${BUS_SUBSCRIBE_WAIT_MS} ms`));
      // If it settles after all, drop it: nobody listens to it any more.
      pending.then((off) => off().catch(() => undefined)).catch(() => undefined);
      return noop;
    },
  };
  if (bus.close) {
    guarded.close = async () => {
      try {
        await bus.close?.();
      } catch (err) {
        failed('close', '*', err);
      }
    };
  }
  return guarded;
}
