/** Per-client limits the example server applies outside Express (WebSocket handshakes). */
import type { IncomingMessage } from 'node:http';
import { DreamAgentError } from 'dream-agent';

/**
 * The client address of a request, honouring `trustProxy` hops of `X-Forwarded-For` as Express does.
 *
 * @param req - the request
 * @param trustProxy - how many proxies in front of the server are trusted
 * @returns the address
 */
export function clientAddress(req: IncomingMessage, trustProxy: number): string {
  const direct = req.socket.remoteAddress ?? 'unknown';
  if (trustProxy <= 0) return direct;
  const xff = req.headers['x-forwarded-for'];
  const hops = (typeof xff === 'string' ? xff : '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  // [client, proxy1, …] + direct: trusting N hops picks the address N from the right.
  const chain = [...hops, direct];
  return chain[Math.max(0, chain.length - 1 - trustProxy)] ?? direct;
}

/** A fixed-window counter of WebSocket handshakes per client address. */
export interface HandshakeLimiter {
  /**
   * Counts a handshake (once per request: re-checks of a live connection reuse its request and are free).
   *
   * @throws `RATE_LIMITED` past `perMinute` handshakes from one address in the current minute
   */
  take(req: IncomingMessage): void;
}

/**
 * Rate-limits WebSocket handshakes like the REST API's requests.
 *
 * @param perMinute - handshakes per address per minute
 * @param trustProxy - proxy hops to trust for the client address
 * @returns the limiter
 */
export function handshakeLimiter(perMinute: number, trustProxy: number): HandshakeLimiter {
  const windows = new Map<string, { count: number; resetAt: number }>();
  const counted = new WeakSet<IncomingMessage>();
  return {
    take(req) {
      if (counted.has(req)) return;
      counted.add(req);
      const now = Date.now();
      if (windows.size > 10_000) for (const [k, w] of windows) if (w.resetAt <= now) windows.delete(k);
      const ip = clientAddress(req, trustProxy);
      let w = windows.get(ip);
      if (!w || w.resetAt <= now) {
        w = { count: 0, resetAt: now + 60_000 };
        windows.set(ip, w);
      }
      w.count += 1;
      if (w.count > perMinute)
        throw new DreamAgentError('RATE_LIMITED', 'too many WebSocket handshakes; slow down', {
          details: { retryAfterMs: w.resetAt - now },
        });
    },
  };
}
