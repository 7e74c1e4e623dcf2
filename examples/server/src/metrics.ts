import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AgentWsServer } from '@dream-agent/ws';

/** The server's Prometheus metrics, in their own registry (no global state). */
export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  commands: Counter<'transport' | 'type' | 'outcome'>;
  authFailures: Counter<'transport' | 'reason'>;
}

/**
 * Creates the metrics; WebSocket gauges are read from the transport's counters at scrape time.
 *
 * @param ws - returns the WebSocket transport (once created)
 * @returns the metrics
 */
export function createMetrics(ws: () => AgentWsServer | undefined): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpRequests = new Counter({
    name: 'dream_http_requests_total',
    help: 'HTTP requests',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'dream_http_request_duration_seconds',
    help: 'HTTP request duration',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const commands = new Counter({
    name: 'dream_commands_total',
    help: 'Commands and turn starts',
    labelNames: ['transport', 'type', 'outcome'] as const,
    registers: [registry],
  });
  const authFailures = new Counter({
    name: 'dream_auth_failures_total',
    help: 'Refused credentials',
    labelNames: ['transport', 'reason'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'dream_ws_connections',
    help: 'Open WebSocket connections',
    registers: [registry],
    collect() {
      this.set(ws()?.stats().connections ?? 0);
    },
  });
  new Gauge({
    name: 'dream_ws_subscriptions',
    help: 'Live session subscriptions',
    registers: [registry],
    collect() {
      this.set(ws()?.stats().subscriptions ?? 0);
    },
  });
  new Gauge({
    name: 'dream_ws_events_sent',
    help: 'Events delivered over WebSocket since start',
    registers: [registry],
    collect() {
      this.set(ws()?.stats().eventsSent ?? 0);
    },
  });
  new Gauge({
    name: 'dream_ws_dropped',
    help: 'WebSocket connections dropped since start, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() {
      const d = ws()?.stats().dropped;
      if (d) for (const [reason, n] of Object.entries(d)) this.set({ reason }, n);
    },
  });
  return { registry, httpRequests, httpDuration, commands, authFailures };
}
