import { pino } from 'pino';
import WebSocket from 'ws';
import { AgentClient } from '@dream-agent/ws';
import type { AgentEvent } from 'dream-agent';
import { startServer, type RunningServer } from '../src/app.js';
import { loadConfig, type ServerConfig } from '../src/config.js';
import type { AgentWiring } from '../src/agent.js';

export const SECRET = 'test-secret-0123456789-0123456789-abcdef';

/** Starts the example server on loopback with a memory store and quiet logs. */
export async function startTestServer(
  overrides: Partial<ServerConfig> = {},
  wiring?: AgentWiring,
): Promise<{ srv: RunningServer; base: string; wsUrl: string }> {
  const config = loadConfig(
    {},
    {
      store: 'memory',
      port: 0,
      host: '127.0.0.1',
      jwtSecret: SECRET,
      stepDelayMs: 0,
      layers: 'scripted',
      logLevel: 'silent',
      rateLimitPerMinute: 100_000,
      wsMessagesPerSecond: 10_000,
      ...overrides,
    },
  );
  const srv = await startServer(config, { log: pino({ level: 'silent' }), ...(wiring ? { wiring } : {}) });
  const base = srv.url.replace('http://', '');
  return { srv, base, wsUrl: `ws://${base}/ws` };
}

/** A typed WebSocket client for a token. */
export function wsClient(url: string, token: string, onSocket?: (ws: WebSocket) => void): AgentClient {
  class Recording extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols);
      onSocket?.(this);
    }
  }
  return new AgentClient({ url, token, WebSocket: Recording, reconnect: { minDelayMs: 10, maxDelayMs: 50 } });
}

/** Pulls events from an iterator until one of `type` arrives. */
export async function until(
  events: AsyncIterator<AgentEvent>,
  seen: AgentEvent[],
  type: AgentEvent['type'],
): Promise<AgentEvent> {
  for (;;) {
    const n = await events.next();
    if (n.done) throw new Error(`stream ended before ${type}`);
    seen.push(n.value);
    if (n.value.type === type) return n.value;
  }
}
