import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { LeaseToken, Store } from '../ports/store.js';

/**
 * Keeps a session's lease alive while its owner drives it: renews it every third of its TTL on the
 * injected clock. A renewal the store refuses means the lease is no longer ours (fenced: another owner
 * took over) and calls `onLost`; a renewal that fails (the store blinked) is retried at the next beat —
 * every commit renews the lease too, and fencing inside each write keeps a stale owner from committing.
 *
 * @param deps - store, clock, logger
 * @param sessionId - the session
 * @param lease - the lease token held
 * @param ttlMs - the lease duration
 * @param onLost - called once the store refuses a renewal
 * @returns a controller whose `abort()` stops the heartbeat
 */
export function startHeartbeat(
  deps: { store: Pick<Store, 'renewLease'>; clock: Clock; logger: Logger },
  sessionId: string,
  lease: LeaseToken,
  ttlMs: number,
  onLost: (cause: Error) => void,
): AbortController {
  const ctrl = new AbortController();
  const every = Math.max(Math.floor(ttlMs / 3), 1);
  const loop = async (): Promise<void> => {
    while (!ctrl.signal.aborted) {
      await deps.clock.sleep(every, ctrl.signal);
      if (ctrl.signal.aborted) return;
      try {
        const until = await deps.store.renewLease(sessionId, lease, ttlMs);
        if (until === undefined) {
          onLost(new Error('lease renewal refused'));
          return;
        }
      } catch (err) {
        deps.logger.warn({ sessionId, err: String(err) }, 'lease renewal failed; retrying');
      }
    }
  };
  loop().catch(() => undefined);
  return ctrl;
}
