/**
 * Metrics: a three-method sink port (counter, histogram, gauge) that any backend can implement
 * (Prometheus, OpenTelemetry, StatsD…), and an in-memory implementation with a snapshot and Prometheus
 * text output. Nothing is sent anywhere unless the host wires a sink that sends.
 *
 * @packageDocumentation
 */

/** Label values of one series. Keep cardinality bounded: no ids of unbounded sets as labels by default. */
export type MetricLabels = Readonly<Record<string, string>>;

/** Where metrics go. Implementations must never throw into the caller. */
export interface MetricsSink {
  /** Adds `value` (default 1) to a counter. */
  counter(name: string, labels?: MetricLabels, value?: number): void;
  /** Records one observation (milliseconds for durations). */
  histogram(name: string, value: number, labels?: MetricLabels): void;
  /** Sets a gauge. */
  gauge(name: string, value: number, labels?: MetricLabels): void;
}

/** Summary of one histogram series. */
export interface HistogramSummary {
  /** How many values were observed. */
  count: number;
  /** Their sum (in the series' unit, ms for durations). */
  sum: number;
  /** The smallest value observed (0 when none). */
  min: number;
  /** The largest value observed (0 when none). */
  max: number;
  /**
   * The median, estimated from the buckets: the upper bound of the bucket holding it, capped at `max` (0 when
   * empty).
   */
  p50: number;
  /** The 95th percentile, estimated like `p50`. */
  p95: number;
  /** The 99th percentile, estimated like `p50`. */
  p99: number;
  /** Cumulative counts per upper bound (Prometheus `le` buckets), `+Inf` last. */
  buckets: [number, number][];
}

/** A point-in-time copy of every series. */
export interface MetricsSnapshot {
  /**
   * Counter totals: metric name → series key → value. The series key is the labels as `k="v"` pairs sorted
   * by name and joined by commas (`layer="planner",outcome="ok"`); `''` for no labels.
   */
  counters: Record<string, Record<string, number>>;
  /** Histogram summaries: metric name → series key (as for `counters`) → summary. */
  histograms: Record<string, Record<string, HistogramSummary>>;
  /** Last gauge values: metric name → series key (as for `counters`) → value. */
  gauges: Record<string, Record<string, number>>;
}

/** Default histogram bounds in ms: sub-millisecond engine steps up to five-minute human waits. */
export const DEFAULT_BUCKETS_MS: readonly number[] = [
  0.1, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000,
  3_600_000,
];

/**
 * Series keys by label object. Callers that record the same label set again and again (the observer
 * keeps one frozen object per outcome, layer and domain) pay the sort and the quoting once per object,
 * not once per observation — that per-call work was most of what metrics cost per todo.
 */
const labelKeys = new WeakMap<MetricLabels, string>();

const labelKey = (labels: MetricLabels | undefined): string => {
  if (!labels) return '';
  let key = labelKeys.get(labels);
  if (key === undefined) {
    const keys = Object.keys(labels).sort();
    key = keys.map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',');
    // Only frozen objects can be trusted not to change under the cached key.
    if (Object.isFrozen(labels)) labelKeys.set(labels, key);
  }
  return key;
};

class Histogram {
  readonly counts: number[];
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }
  observe(v: number): void {
    let i = 0;
    while (i < this.bounds.length && v > (this.bounds[i] as number)) i += 1;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.count += 1;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = q * this.count;
    let seen = 0;
    for (let i = 0; i < this.counts.length; i += 1) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return Math.min(this.bounds[i] ?? this.max, this.max);
    }
    return this.max;
  }
  summary(): HistogramSummary {
    let cumulative = 0;
    const buckets: [number, number][] = this.counts.map((c, i) => {
      cumulative += c;
      return [this.bounds[i] ?? Infinity, cumulative];
    });
    return {
      count: this.count,
      sum: this.sum,
      min: this.count ? this.min : 0,
      max: this.count ? this.max : 0,
      p50: this.quantile(0.5),
      p95: this.quantile(0.95),
      p99: this.quantile(0.99),
      buckets,
    };
  }
}

/** Options of {@link InMemoryMetrics}. */
export interface InMemoryMetricsOptions {
  /** Histogram bounds (default {@link DEFAULT_BUCKETS_MS}). */
  buckets?: readonly number[];
  /** Most series per metric name; further label sets are folded into `{overflow="true"}` (default 1000). */
  maxSeries?: number;
}

/**
 * Keeps every series in memory (bounded per metric name) and renders a snapshot or the Prometheus text
 * exposition format.
 *
 * @example
 * ```ts
 * const metrics = new InMemoryMetrics();
 * metrics.histogram('dream_agent_layer_duration_ms', 12.5, { layer: 'planning' });
 * metrics.snapshot().histograms['dream_agent_layer_duration_ms'];
 * ```
 */
export class InMemoryMetrics implements MetricsSink {
  readonly #counters = new Map<string, Map<string, number>>();
  readonly #histograms = new Map<string, Map<string, Histogram>>();
  readonly #gauges = new Map<string, Map<string, number>>();
  readonly #buckets: readonly number[];
  readonly #maxSeries: number;

  /** @param options - buckets and series bound */
  constructor(options: InMemoryMetricsOptions = {}) {
    this.#buckets = options.buckets ?? DEFAULT_BUCKETS_MS;
    this.#maxSeries = options.maxSeries ?? 1000;
  }

  #series<T>(
    table: Map<string, Map<string, T>>,
    name: string,
    labels: MetricLabels | undefined,
  ): [Map<string, T>, string] {
    let byLabels = table.get(name);
    if (!byLabels) {
      byLabels = new Map();
      table.set(name, byLabels);
    }
    let key = labelKey(labels);
    if (!byLabels.has(key) && byLabels.size >= this.#maxSeries) key = 'overflow="true"';
    return [byLabels, key];
  }

  /** Adds to a counter. */
  counter(name: string, labels?: MetricLabels, value = 1): void {
    if (!Number.isFinite(value)) return;
    const [m, k] = this.#series(this.#counters, name, labels);
    m.set(k, (m.get(k) ?? 0) + value);
  }

  /** Records a histogram observation. */
  histogram(name: string, value: number, labels?: MetricLabels): void {
    if (!Number.isFinite(value)) return;
    const [m, k] = this.#series(this.#histograms, name, labels);
    let h = m.get(k);
    if (!h) {
      h = new Histogram(this.#buckets);
      m.set(k, h);
    }
    h.observe(value);
  }

  /** Sets a gauge. */
  gauge(name: string, value: number, labels?: MetricLabels): void {
    if (!Number.isFinite(value)) return;
    const [m, k] = this.#series(this.#gauges, name, labels);
    m.set(k, value);
  }

  /** @returns the value of one counter series (0 when absent) */
  counterValue(name: string, labels?: MetricLabels): number {
    return this.#counters.get(name)?.get(labelKey(labels)) ?? 0;
  }

  /** @returns one histogram series, or undefined */
  histogramSummary(name: string, labels?: MetricLabels): HistogramSummary | undefined {
    return this.#histograms.get(name)?.get(labelKey(labels))?.summary();
  }

  /** @returns a copy of every series, keyed by name then by the label set (`k="v",…`) */
  snapshot(): MetricsSnapshot {
    const plain = <T, U>(t: Map<string, Map<string, T>>, f: (v: T) => U): Record<string, Record<string, U>> =>
      Object.fromEntries([...t].map(([n, m]) => [n, Object.fromEntries([...m].map(([k, v]) => [k, f(v)]))]));
    return {
      counters: plain(this.#counters, (v) => v),
      histograms: plain(this.#histograms, (h) => h.summary()),
      gauges: plain(this.#gauges, (v) => v),
    };
  }

  /** @returns every series in the Prometheus text exposition format (version 0.0.4) */
  prometheus(): string {
    const lines: string[] = [];
    const braces = (k: string, extra?: string): string => {
      const inner = [k, extra].filter((x) => x).join(',');
      return inner ? `{${inner}}` : '';
    };
    for (const [name, m] of this.#counters) {
      lines.push(`# TYPE ${name} counter`);
      for (const [k, v] of m) lines.push(`${name}${braces(k)} ${v}`);
    }
    for (const [name, m] of this.#gauges) {
      lines.push(`# TYPE ${name} gauge`);
      for (const [k, v] of m) lines.push(`${name}${braces(k)} ${v}`);
    }
    for (const [name, m] of this.#histograms) {
      lines.push(`# TYPE ${name} histogram`);
      for (const [k, h] of m) {
        for (const [le, c] of h.summary().buckets) {
          lines.push(`${name}_bucket${braces(k, `le="${le === Infinity ? '+Inf' : le}"`)} ${c}`);
        }
        lines.push(`${name}_sum${braces(k)} ${h.sum}`, `${name}_count${braces(k)} ${h.count}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }
}

/** Sends every call to several sinks (e.g. in-memory for `snapshot()` and OpenTelemetry). */
export function teeMetrics(...sinks: MetricsSink[]): MetricsSink {
  const each = (f: (s: MetricsSink) => void): void => {
    for (const s of sinks) {
      try {
        f(s);
      } catch {
        /* a sink never breaks the agent */
      }
    }
  };
  return {
    counter: (n, l, v) => each((s) => s.counter(n, l, v)),
    histogram: (n, v, l) => each((s) => s.histogram(n, v, l)),
    gauge: (n, v, l) => each((s) => s.gauge(n, v, l)),
  };
}
