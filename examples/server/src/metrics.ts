import { InMemoryMetrics } from 'dream-agent';
import type { AgentWsServer } from '@dream-agent/ws';

/**
 * The server's metrics: one core `InMemoryMetrics` sink that the agent's observability feeds (time per
 * layer, todo outcomes, HITL waits, tokens and cost, cache, commit latency, active sessions) and that
 * the transports add their own series to (HTTP requests, commands, refused credentials, WebSocket
 * connections). `/metrics` renders it in the Prometheus text format — no second registry.
 */
export interface Metrics {
  /** The sink (give it to the agent as `observability.metrics`). */
  sink: InMemoryMetrics;
  /** Counts an HTTP request and observes its duration. */
  request(labels: { method: string; route: string; status: string }, ms: number): void;
  /** Counts a command or turn start. */
  command(labels: { transport: string; type: string; outcome: string }): void;
  /** Counts refused credentials. */
  authFailure(labels: { transport: string; reason: string }): void;
  /** Counts a request the ownership or role policy refused. */
  refusal(labels: { transport: string; code: string }): void;
  /** The Prometheus text exposition (version 0.0.4), with WebSocket and process gauges read now. */
  render(): string;
  /** The content type of {@link Metrics.render}'s text. */
  contentType: string;
}

/**
 * Creates the metrics; WebSocket and process gauges are read at scrape time.
 *
 * @param ws - returns the WebSocket transport (once created)
 * @returns the metrics
 */
export function createMetrics(ws: () => AgentWsServer | undefined): Metrics {
  const sink = new InMemoryMetrics();
  return {
    sink,
    contentType: 'text/plain; version=0.0.4; charset=utf-8',
    request(labels, ms) {
      sink.counter('dream_http_requests_total', labels);
      sink.histogram('dream_http_request_duration_ms', ms, { method: labels.method, route: labels.route });
    },
    command(labels) {
      sink.counter('dream_commands_total', labels);
    },
    authFailure(labels) {
      sink.counter('dream_auth_failures_total', labels);
    },
    refusal(labels) {
      sink.counter('dream_refusals_total', labels);
    },
    render() {
      const s = ws()?.stats();
      sink.gauge('dream_ws_connections', s?.connections ?? 0);
      sink.gauge('dream_ws_subscriptions', s?.subscriptions ?? 0);
      sink.gauge('dream_ws_events_sent', s?.eventsSent ?? 0);
      if (s)
        for (const [reason, n] of Object.entries(s.dropped)) sink.gauge('dream_ws_dropped', n, { reason });
      const mem = process.memoryUsage();
      sink.gauge('process_resident_memory_bytes', mem.rss);
      sink.gauge('nodejs_heap_used_bytes', mem.heapUsed);
      return sink.prometheus();
    },
  };
}
