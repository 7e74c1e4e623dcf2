import type { AgentEvent } from '../model/events.js';
import type { RunResult } from '../model/session.js';
import { inboxTopic, type EventBus } from '../ports/bus.js';
import type { Logger } from '../ports/logger.js';
import type { LeaseToken, Store } from '../ports/store.js';
import { SessionDriver, type DriverDeps } from './driver.js';

/** A session this node is driving now. @internal */
export interface ActiveSession {
  listeners: Set<(event: AgentEvent) => void>;
  driver: SessionDriver | undefined;
  done: Promise<RunResult>;
}

/** What hosting a session needs from its Agent. @internal */
export interface HostContext {
  nodeId: string;
  store: Store;
  bus: EventBus;
  logger: Logger;
  leaseTtlMs: number;
  /** Sessions driven by this node (the host adds and removes its own entry). */
  active: Map<string, ActiveSession>;
  /** The driver dependencies for one session, with its event sink. */
  driverDeps: (active: ActiveSession, sessionId: string) => DriverDeps;
  closing: () => boolean;
}

/**
 * Hosts one session on this node, holding its lease: subscribes to its inbox topic (a bus message only
 * makes a command sooner — the commit reports waiting commands anyway), loads and drives it until it
 * rests, then re-checks the inbox once (a command that arrived while the lease was being released) and,
 * if one waits, claims the lease again and drives on. The lease is released by the driver's resting
 * commit (or by the host when `init` throws).
 *
 * @param ctx - the Agent's side
 * @param sessionId - the session
 * @param lease - the lease this node holds
 * @param reason - why the session is driven
 * @param init - runs once on the first driver before it drives (e.g. start a turn)
 * @returns the active entry; `done` settles with the result of the last drive
 * @internal
 */
export function hostSession(
  ctx: HostContext,
  sessionId: string,
  lease: LeaseToken,
  reason: 'run' | 'command' | 'recovery' | 'restart',
  init?: (driver: SessionDriver) => void,
): ActiveSession {
  const active: ActiveSession = {
    listeners: new Set(),
    driver: undefined,
    done: Promise.resolve(undefined as unknown as RunResult),
  };
  ctx.active.set(sessionId, active);
  active.done = (async () => {
    let unsubscribe: (() => Promise<void>) | undefined;
    let current: LeaseToken = lease;
    try {
      unsubscribe = await ctx.bus.subscribe(inboxTopic(sessionId), (msg) => {
        const type = typeof msg === 'object' && msg !== null && !Array.isArray(msg) ? msg['type'] : undefined;
        active.driver?.wake(typeof type === 'string' ? type : undefined);
      });
      let why = reason;
      for (let first = true; ; first = false) {
        const driver = await SessionDriver.load(ctx.driverDeps(active, sessionId), sessionId, current);
        active.driver = driver;
        if (first && init) {
          try {
            init(driver);
          } catch (e) {
            await ctx.store.releaseLease(sessionId, current).catch(() => undefined);
            throw e;
          }
        }
        const result = await driver.drive(why);
        if (ctx.closing()) return result;
        // Close the race with a command that arrived while we were releasing: look once more.
        // The session already rested durably: if the store blinks now, the command's own sender (or
        // recover()) picks it up, so report the result rather than fail.
        const next = await ctx.store
          .pendingCommands(sessionId)
          .then((pending) =>
            pending.length === 0 ? undefined : ctx.store.acquireLease(sessionId, ctx.nodeId, ctx.leaseTtlMs),
          )
          .catch((err: unknown) => {
            ctx.logger.warn({ sessionId, err: String(err) }, 'post-rest inbox check failed');
            return undefined;
          });
        if (!next) return result;
        current = next;
        why = 'command';
      }
    } finally {
      ctx.active.delete(sessionId);
      await unsubscribe?.().catch(() => undefined);
    }
  })();
  active.done.catch(() => undefined);
  return active;
}
