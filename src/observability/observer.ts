/**
 * Observability derived from what the engine commits. Every event a cycle commits carries its type and
 * time, so the time per layer, todo outcomes, human wait times and cache hits can be measured without a
 * single extra call in the engine's hot path: `observedStore(store, observer)` hands each commit's events
 * and its latency to an {@link AgentObserver}, which feeds a {@link MetricsSink} and, when given the
 * OpenTelemetry API, records spans (turn → cognitive / planning / todo / response) with the events' own
 * start and end times.
 *
 * Per-session bookkeeping is kept only while a turn is being driven on this node and is bounded, so
 * sessions that wait for a human still cost this process nothing.
 *
 * @packageDocumentation
 */
import type { AgentEvent, EventOf } from '../model/events.js';
import type { Commit, CommitResult, NewSession, Store } from '../ports/store.js';
import type { MetricLabels, MetricsSink } from './metrics.js';

/** A span attribute value (the subset of OpenTelemetry's the observer sets). */
export type OtelAttributeValue = string | number | boolean | string[];

/** The part of an OpenTelemetry span the observer uses (structural: pass spans of `@opentelemetry/api`). */
export interface OtelSpanLike {
  /**
   * Sets one attribute (`dream_agent.todo.attempt`, `dream_agent.tool.name`…); the return value is ignored.
   */
  setAttribute(key: string, value: OtelAttributeValue): unknown;
  /**
   * Sets the span's status: `code` 1 (OK) or 2 (ERROR, with the error's message), as in OpenTelemetry's
   * `SpanStatusCode`; the return value is ignored.
   */
  setStatus(status: { code: number; message?: string }): unknown;
  /** Ends the span at `endTime` (epoch ms: the time of the event that ended it). */
  end(endTime?: number): void;
}

/** The part of `@opentelemetry/api` the observer uses: pass the module itself (`import * as otel from '@opentelemetry/api'`). */
export interface OtelApiLike {
  /** The tracing API (`trace` of `@opentelemetry/api`). */
  trace: {
    /** Returns the tracer the observer records with (called once, with the name `dream-agent`). */
    getTracer(
      name: string,
      version?: string,
    ): {
      /** Starts a span at `options.startTime` (epoch ms), as a child of the span in `context` when given. */
      startSpan(
        name: string,
        options?: { startTime?: number; kind?: number; attributes?: Record<string, OtelAttributeValue> },
        context?: unknown,
      ): OtelSpanLike;
    };
    /**
     * Returns a context with `span` as the active span (used to parent layer and todo spans on the turn's).
     */
    setSpan(context: unknown, span: OtelSpanLike): unknown;
  };
  /** The context API (`context` of `@opentelemetry/api`). */
  context: {
    /** Returns the active context, the parent of each turn span. */
    active(): unknown;
  };
  /**
   * Context propagation (`propagation` of `@opentelemetry/api`): with it, tool HTTP requests carry the
   * todo span's trace context through the globally registered propagator (W3C `traceparent` by default
   * in the OpenTelemetry SDK).
   */
  propagation?: {
    /** Writes the context's trace headers into `carrier` (`propagation.inject` of the API). */
    inject(context: unknown, carrier: Record<string, string>): void;
  };
}

/** A price per million tokens, for cost metrics. */
export interface ModelPrice {
  /** USD per million input (prompt) tokens. */
  inputPerMTok: number;
  /** USD per million output (generated) tokens. */
  outputPerMTok: number;
}

/** Options of {@link AgentObserver}. */
export interface AgentObserverOptions {
  /** Where metrics go (e.g. `new InMemoryMetrics()`). */
  metrics?: MetricsSink;
  /** The OpenTelemetry API module; spans are recorded through its globally registered tracer provider. */
  otel?: OtelApiLike;
  /** USD prices per model id, for `dream_agent_llm_cost_usd_total`. */
  prices?: Record<string, ModelPrice>;
  /** Bound on sessions tracked at once on this node (default 10 000). */
  maxSessions?: number;
}

/** One LLM call's token usage, as `UsageTracker` records it. */
export interface UsageLike {
  /** The provider name (not used as a label: model ids are). */
  provider?: string;
  /** The model id: the `model` label, and the key into the price table. */
  model: string;
  /** The layer that made the call: the `layer` label (`unlabelled` when unset). */
  layer?: string;
  /** The tokens of the call. */
  usage: {
    /** Prompt tokens, counted as `direction="input"`. */
    inputTokens: number;
    /** Generated tokens, counted as `direction="output"`. */
    outputTokens: number;
  };
}

/** Label sets used on every todo, built once (see `labelKey` in metrics.ts: frozen objects are keyed once). */
const L = {
  completed: Object.freeze({ outcome: 'completed' }),
  cached: Object.freeze({ outcome: 'cached' }),
  failed: Object.freeze({ outcome: 'failed' }),
  skipped: Object.freeze({ outcome: 'skipped' }),
  denied: Object.freeze({ outcome: 'denied' }),
  hit: Object.freeze({ result: 'hit' }),
  miss: Object.freeze({ result: 'miss' }),
};

/** SpanStatusCode of OpenTelemetry: 1 OK, 2 ERROR. */
const OK = 1;
const ERROR = 2;

interface TurnTrack {
  turnId: string | null;
  startedAt: number;
  phaseAt: number;
  /** Last execution event (todo end, plan approval…): where the response phase starts. */
  lastExecAt: number;
  /** Todo id → executor domain, from the plan events of this session (shared across its driven segments). */
  domains: Map<string, string>;
  todoStarts: Map<string, { at: number; span?: OtelSpanLike; early?: boolean }>;
  turnSpan?: OtelSpanLike;
  turnContext?: unknown;
  /** A layer span opened early by an LLM call of that layer (cognitive, planning, response): its parent. */
  openLayer?: { layer: string; span: OtelSpanLike };
}

/** The observer's layer of an LLM call's `layer` label (the executor's calls belong to their todo). */
const LLM_LAYER: Readonly<Record<string, string>> = {
  cognitive: 'cognitive',
  planner: 'planning',
  responder: 'response',
};

/** SpanKind.CLIENT of OpenTelemetry. */
const CLIENT = 2;

/**
 * Turns committed events into metrics and spans. Feed it from {@link observedStore}, or call
 * {@link AgentObserver.observe} yourself with the events of each commit.
 *
 * Metrics (all names prefixed `dream_agent_`): `layer_duration_ms{layer,domain?}` (cognitive, planning,
 * executor per domain, response), `todo_total{outcome}` (completed, failed, skipped, denied, cached),
 * `turn_total{outcome}`, `hitl_wait_ms{kind}`, `cache_total{result}`, `store_commit_ms`,
 * `sessions_active` (driven on this node), `llm_tokens_total{model,layer,direction}`,
 * `llm_cost_usd_total{model,layer}`.
 */
export class AgentObserver {
  readonly #metrics: MetricsSink | undefined;
  readonly #tracer: ReturnType<OtelApiLike['trace']['getTracer']> | undefined;
  readonly #otel: OtelApiLike | undefined;
  readonly #prices: Record<string, ModelPrice>;
  readonly #max: number;
  readonly #turns = new Map<string, TurnTrack>();
  /** Plans outlive a driven segment (review, approval); a small bounded map keeps their domains. */
  readonly #domains = new Map<string, Map<string, string>>();
  readonly #requests = new Map<string, { kind: string; createdAt: number; sessionId: string }>();
  /** Frozen label objects per layer/domain/kind, bounded (domains and kinds are a small, fixed set). */
  readonly #labels = new Map<string, MetricLabels>();

  /** @param options - sinks, OpenTelemetry API, prices, bounds */
  constructor(options: AgentObserverOptions = {}) {
    this.#metrics = options.metrics;
    this.#otel = options.otel;
    this.#tracer = options.otel?.trace.getTracer('dream-agent');
    this.#prices = options.prices ?? {};
    this.#max = options.maxSessions ?? 10_000;
  }

  #lab(key: string, make: () => Record<string, string>): MetricLabels {
    let l = this.#labels.get(key);
    if (!l) {
      l = Object.freeze(make());
      if (this.#labels.size < 1000) this.#labels.set(key, l);
    }
    return l;
  }

  #executor(domain: string): MetricLabels {
    return this.#lab(`executor\u0000${domain}`, () => ({ layer: 'executor', domain }));
  }

  #h(name: string, v: number, labels?: MetricLabels): void {
    this.#metrics?.histogram(`dream_agent_${name}`, Math.max(0, v), labels);
  }

  #c(name: string, labels?: MetricLabels, v = 1): void {
    this.#metrics?.counter(`dream_agent_${name}`, labels, v);
  }

  #span(
    track: TurnTrack,
    name: string,
    startTime: number,
    attrs: Record<string, OtelAttributeValue>,
  ): OtelSpanLike | undefined {
    if (!this.#tracer || !this.#otel) return undefined;
    return this.#tracer.startSpan(name, { startTime, attributes: attrs }, track.turnContext);
  }

  /** Whether spans are recorded (an OpenTelemetry API was given). */
  get tracing(): boolean {
    return this.#tracer !== undefined;
  }

  /**
   * The trace-context headers of a todo's span (or of the turn's span when no todo is named), injected
   * by the OpenTelemetry propagator, for a tool's outgoing requests. A todo whose start is not committed
   * yet (idempotent todos commit it with their outcome) has its span opened here, at `startedAt`, and
   * the committed `todo.started` then reuses it.
   *
   * @param sessionId - the session being driven on this node
   * @param todoId - the todo
   * @param startedAt - when the todo started (epoch ms)
   * @returns `{ traceparent, tracestate? }`, or `{}` without tracing or a tracked turn
   */
  traceHeaders(sessionId: string, todoId: string | undefined, startedAt: number): Record<string, string> {
    const headers: Record<string, string> = {};
    const otel = this.#otel;
    if (!otel?.propagation || !this.#tracer) return headers;
    try {
      const t = this.#turns.get(sessionId);
      if (!t?.turnContext) return headers;
      let ctx: unknown = t.turnContext;
      if (todoId !== undefined) {
        let s = t.todoStarts.get(todoId);
        if (!s?.span) {
          const span = this.#span(t, 'dream_agent.todo', startedAt, {
            'dream_agent.todo.id': todoId,
            'dream_agent.domain': t.domains.get(todoId) ?? 'unknown',
          });
          s = span ? { at: startedAt, span, early: true } : { at: startedAt };
          t.todoStarts.set(todoId, s);
        }
        if (s.span) ctx = otel.trace.setSpan(t.turnContext, s.span);
      }
      otel.propagation.inject(ctx, headers);
    } catch {
      /* tracing never breaks a tool call */
    }
    return headers;
  }

  #track(e: AgentEvent): TurnTrack {
    let t = this.#turns.get(e.sessionId);
    if (!t || t.turnId !== e.turnId) {
      if (t) this.#endTurnSpan(t, e.at, undefined);
      if (!t && this.#turns.size >= this.#max) {
        const oldest = this.#turns.keys().next();
        if (!oldest.done) this.#turns.delete(oldest.value);
      }
      let domains = this.#domains.get(e.sessionId);
      if (!domains) {
        if (this.#domains.size >= Math.min(this.#max, 1000)) {
          const oldest = this.#domains.keys().next();
          if (!oldest.done) this.#domains.delete(oldest.value);
        }
        domains = new Map<string, string>();
        this.#domains.set(e.sessionId, domains);
      }
      t = {
        turnId: e.turnId,
        startedAt: e.at,
        phaseAt: e.at,
        lastExecAt: e.at,
        domains,
        todoStarts: new Map(),
      };
      if (this.#tracer && this.#otel) {
        t.turnSpan = this.#tracer.startSpan('dream_agent.turn', {
          startTime: e.at,
          attributes: { 'dream_agent.session.id': e.sessionId, 'dream_agent.turn.id': e.turnId ?? '' },
        });
        t.turnContext = this.#otel.trace.setSpan(this.#otel.context.active(), t.turnSpan);
      }
      this.#turns.set(e.sessionId, t);
      this.#metrics?.gauge('dream_agent_sessions_active', this.#turns.size);
    }
    return t;
  }

  #endTurnSpan(t: TurnTrack, at: number, outcome: string | undefined): void {
    if (!t.turnSpan) return;
    if (outcome) t.turnSpan.setAttribute('dream_agent.turn.outcome', outcome);
    else t.turnSpan.setAttribute('dream_agent.turn.rested', true);
    t.turnSpan.setStatus({ code: outcome === 'failed' ? ERROR : OK });
    t.turnSpan.end(at);
    delete t.turnSpan;
  }

  #layer(t: TurnTrack, layer: string, start: number, end: number): void {
    this.#h(
      'layer_duration_ms',
      end - start,
      this.#lab(layer, () => ({ layer })),
    );
    let span: OtelSpanLike | undefined;
    if (t.openLayer?.layer === layer) {
      span = t.openLayer.span;
      delete t.openLayer;
    } else {
      span = this.#span(t, `dream_agent.${layer}`, start, { 'dream_agent.layer': layer });
    }
    span?.setStatus({ code: OK });
    span?.end(end);
  }

  /**
   * Feeds one commit: its events in order and, optionally, how long the commit took.
   *
   * @param events - the events the commit wrote
   * @param commitMs - the store commit's latency in ms
   * @param rested - whether the session stopped being driven on this node with this commit
   */
  observe(events: readonly AgentEvent[], commitMs?: number, rested = false): void {
    try {
      if (commitMs !== undefined) this.#h('store_commit_ms', commitMs);
      for (const e of events) this.#event(e);
      const last = events[events.length - 1];
      if (rested && last) {
        const t = this.#turns.get(last.sessionId);
        if (t) {
          this.#endTurnSpan(t, last.at, undefined);
          this.#turns.delete(last.sessionId);
          this.#metrics?.gauge('dream_agent_sessions_active', this.#turns.size);
        }
      }
    } catch {
      /* observability never breaks a commit */
    }
  }

  #remember(sessionId: string, id: string, kind: string, createdAt: number): void {
    if (this.#requests.size >= this.#max) {
      const oldest = this.#requests.keys().next();
      if (!oldest.done) this.#requests.delete(oldest.value);
    }
    this.#requests.set(id, { kind, createdAt, sessionId });
  }

  #answered(id: string, at: number): void {
    const r = this.#requests.get(id);
    if (!r) return;
    this.#requests.delete(id);
    this.#h(
      'hitl_wait_ms',
      at - r.createdAt,
      this.#lab(`kind\u0000${r.kind}`, () => ({ kind: r.kind })),
    );
  }

  #event(e: AgentEvent): void {
    const t = this.#track(e);
    switch (e.type) {
      case 'turn.started':
        t.startedAt = e.at;
        t.phaseAt = e.at;
        break;
      case 'intent.detected':
        this.#layer(t, 'cognitive', t.phaseAt, e.at);
        t.phaseAt = e.at;
        break;
      case 'clarification.requested':
        this.#layer(t, 'cognitive', t.phaseAt, e.at);
        this.#remember(e.sessionId, e.request.id, 'clarification', e.request.createdAt);
        break;
      case 'clarification.answered':
        this.#answered(e.requestId, e.at);
        t.phaseAt = e.at;
        break;
      case 'plan.created':
        this.#layer(t, 'planning', t.phaseAt, e.at);
        for (const todo of e.plan.todos) t.domains.set(todo.id, todo.domain);
        t.phaseAt = e.at;
        t.lastExecAt = e.at;
        break;
      case 'plan.updated':
        for (const todo of e.plan.todos) t.domains.set(todo.id, todo.domain);
        break;
      case 'plan.review.requested':
        this.#remember(e.sessionId, e.request.id, 'plan_review', e.request.createdAt);
        break;
      case 'approval.requested':
      case 'input.requested':
      case 'recovery.requested':
        this.#remember(e.sessionId, e.request.id, e.request.kind, e.request.createdAt);
        break;
      case 'plan.approved':
      case 'plan.rejected':
        for (const [id, r] of this.#requests) {
          if (r.kind === 'plan_review' && r.sessionId === e.sessionId) this.#answered(id, e.at);
        }
        t.lastExecAt = e.at;
        break;
      case 'approval.resolved':
      case 'input.received':
      case 'recovery.resolved':
        this.#answered(e.requestId, e.at);
        t.lastExecAt = e.at;
        break;
      case 'todo.started': {
        const early = t.todoStarts.get(e.todoId);
        if (early?.early && early.span) {
          early.span.setAttribute('dream_agent.todo.attempt', e.attempt);
          if (e.tool) early.span.setAttribute('dream_agent.tool.name', e.tool);
          delete early.early;
          break;
        }
        const span = this.#span(t, 'dream_agent.todo', e.at, {
          'dream_agent.todo.id': e.todoId,
          'dream_agent.todo.attempt': e.attempt,
          ...(e.tool ? { 'dream_agent.tool.name': e.tool } : {}),
          'dream_agent.domain': t.domains.get(e.todoId) ?? 'unknown',
        });
        t.todoStarts.set(e.todoId, span ? { at: e.at, span } : { at: e.at });
        break;
      }
      case 'todo.completed': {
        const domain = t.domains.get(e.todoId) ?? 'unknown';
        this.#h('layer_duration_ms', e.durationMs, this.#executor(domain));
        this.#c('todo_total', L.completed);
        if (e.cached) this.#c('todo_total', L.cached);
        this.#c('cache_total', e.cached ? L.hit : L.miss);
        const s = t.todoStarts.get(e.todoId);
        s?.span?.setAttribute('dream_agent.todo.cached', e.cached);
        s?.span?.setStatus({ code: OK });
        s?.span?.end(e.at);
        t.todoStarts.delete(e.todoId);
        t.lastExecAt = e.at;
        break;
      }
      case 'todo.failed': {
        this.#c('todo_total', L.failed);
        const s = t.todoStarts.get(e.todoId);
        if (s)
          this.#h('layer_duration_ms', e.at - s.at, this.#executor(t.domains.get(e.todoId) ?? 'unknown'));
        s?.span?.setStatus({ code: ERROR, message: e.error.message });
        s?.span?.end(e.at);
        t.todoStarts.delete(e.todoId);
        t.lastExecAt = e.at;
        break;
      }
      case 'todo.skipped':
        this.#c('todo_total', e.reason === 'denied' ? L.denied : L.skipped);
        t.lastExecAt = e.at;
        break;
      case 'llm.call':
        this.#llmCall(t, e);
        break;
      case 'response.completed':
        this.#layer(t, 'response', t.lastExecAt, e.at);
        break;
      case 'turn.completed':
      case 'turn.failed':
      case 'run.cancelled': {
        const outcome =
          e.type === 'turn.completed' ? 'completed' : e.type === 'turn.failed' ? 'failed' : 'cancelled';
        this.#c(
          'turn_total',
          this.#lab(`turn\u0000${outcome}`, () => ({ outcome })),
        );
        this.#endTurnSpan(t, e.at, outcome);
        this.#turns.delete(e.sessionId);
        this.#domains.delete(e.sessionId);
        this.#metrics?.gauge('dream_agent_sessions_active', this.#turns.size);
        break;
      }
      default:
        break;
    }
  }

  #llmLab(
    kind: string,
    model: string,
    layer: string,
    extra: string,
    tenant: string | undefined,
  ): MetricLabels {
    return this.#lab(
      `llm\u0000${kind}\u0000${model}\u0000${layer}\u0000${extra}\u0000${tenant ?? ''}`,
      () => {
        const l: Record<string, string> = { model, layer };
        if (kind === 'tokens') l['direction'] = extra;
        if (kind === 'calls') l['outcome'] = extra;
        if (tenant !== undefined && kind !== 'latency') l['tenant'] = tenant;
        return l;
      },
    );
  }

  /** One `llm.call`: calls, tokens, cost, latency, and a GenAI client span under its todo or layer. */
  #llmCall(t: TurnTrack, e: EventOf<'llm.call'>): void {
    const layer = e.layer;
    this.#c('llm_calls_total', this.#llmLab('calls', e.model, layer, e.outcome, e.tenantId));
    this.#c('llm_tokens_total', this.#llmLab('tokens', e.model, layer, 'input', e.tenantId), e.inputTokens);
    this.#c('llm_tokens_total', this.#llmLab('tokens', e.model, layer, 'output', e.tenantId), e.outputTokens);
    const price = Object.hasOwn(this.#prices, e.model) ? this.#prices[e.model] : undefined;
    const cost =
      e.costUsd ??
      (price ? (e.inputTokens * price.inputPerMTok + e.outputTokens * price.outputPerMTok) / 1e6 : undefined);
    if (cost !== undefined)
      this.#c('llm_cost_usd_total', this.#llmLab('cost', e.model, layer, '', e.tenantId), cost);
    this.#h('llm_latency_ms', e.latencyMs, this.#llmLab('latency', e.model, layer, '', undefined));
    if (!this.#tracer || !this.#otel) return;
    // The parent: the todo's span for calls inside a todo, else the span of the calling layer (opened
    // now, ended by the layer's own end event), else the turn.
    let parent = t.turnContext;
    if (e.todoId !== undefined) {
      const s = t.todoStarts.get(e.todoId);
      if (s?.span) parent = this.#otel.trace.setSpan(t.turnContext, s.span);
    } else {
      const own = LLM_LAYER[layer];
      if (own !== undefined) {
        if (t.openLayer?.layer !== own) {
          const start = own === 'response' ? t.lastExecAt : t.phaseAt;
          const span = this.#span(t, `dream_agent.${own}`, start, { 'dream_agent.layer': own });
          if (span) t.openLayer = { layer: own, span };
        }
        if (t.openLayer) parent = this.#otel.trace.setSpan(t.turnContext, t.openLayer.span);
      }
    }
    const attributes: Record<string, OtelAttributeValue> = {
      'gen_ai.operation.name': 'chat',
      'gen_ai.system': e.provider,
      'gen_ai.provider.name': e.provider,
      'gen_ai.request.model': e.model,
      'gen_ai.usage.input_tokens': e.inputTokens,
      'gen_ai.usage.output_tokens': e.outputTokens,
      'dream_agent.layer': layer,
      'dream_agent.session.id': e.sessionId,
    };
    if (e.outcome === 'ok') attributes['gen_ai.response.model'] = e.model;
    if (e.finishReason !== undefined) attributes['gen_ai.response.finish_reasons'] = [e.finishReason];
    if (e.todoId !== undefined) attributes['dream_agent.todo.id'] = e.todoId;
    if (e.tenantId !== undefined) attributes['dream_agent.tenant.id'] = e.tenantId;
    if (cost !== undefined) attributes['dream_agent.llm.cost_usd'] = cost;
    if (e.outcome !== 'ok') attributes['error.type'] = e.outcome;
    const span = this.#tracer.startSpan(
      `chat ${e.model}`,
      { startTime: e.at - e.latencyMs, kind: CLIENT, attributes },
      parent,
    );
    span.setStatus(e.outcome === 'ok' ? { code: OK } : { code: ERROR, message: e.outcome });
    span.end(e.at);
  }

  /**
   * Records one LLM call's tokens (and cost, when a price is configured). Subscribe it to a
   * `UsageTracker`, or call it from your own model wrapper.
   *
   * @param record - model, layer and usage
   */
  usage(record: UsageLike): void {
    const layer = record.layer ?? 'unlabelled';
    this.#c('llm_tokens_total', { model: record.model, layer, direction: 'input' }, record.usage.inputTokens);
    this.#c(
      'llm_tokens_total',
      { model: record.model, layer, direction: 'output' },
      record.usage.outputTokens,
    );
    const price = this.#prices[record.model];
    if (price) {
      const cost =
        (record.usage.inputTokens * price.inputPerMTok + record.usage.outputTokens * price.outputPerMTok) /
        1e6;
      this.#c('llm_cost_usd_total', { model: record.model, layer }, cost);
    }
  }
}

/**
 * Wraps a store so that every commit's events and latency reach an {@link AgentObserver}. The events
 * observed are exactly those committed (a commit that fails is not observed).
 *
 * @param store - the backend
 * @param observer - the observer
 * @param now - a clock for commit latency (default `performance.now`)
 * @returns a Store with the same contract
 * @example
 * ```ts
 * const metrics = new InMemoryMetrics();
 * const store = observedStore(new MemoryStore(), new AgentObserver({ metrics }));
 * ```
 */
export function observedStore(
  store: Store,
  observer: AgentObserver,
  now: () => number = () => performance.now(),
): Store {
  const commit = async (c: Commit): Promise<CommitResult> => {
    const t0 = now();
    const result = await store.commit(c);
    // The session stops being driven here when the commit releases its lease or moves it to rest.
    const rested = c.leaseAction === 'release' || (c.status !== undefined && c.status !== 'running');
    observer.observe(c.events, now() - t0, rested);
    return result;
  };
  const createSession: Store['createSession'] = async (session, owner, ttl) => {
    const created = await store.createSession(session, owner, ttl);
    const events = (session as NewSession & { events?: AgentEvent[] }).events;
    if (events) observer.observe(events);
    return created;
  };
  // A proxy rather than a copy of the method list: optional and future Store methods pass through as
  // they are, bound to the backend (whose private fields need `this` to be the backend itself).
  // Bound methods are made once per method, not on every access (the engine calls several per cycle).
  const bound = new Map<PropertyKey, { fn: unknown; bound: unknown }>();
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'commit') return commit;
      if (prop === 'createSession') return createSession;
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const hit = bound.get(prop);
      if (hit && hit.fn === value) return hit.bound;
      const b = (value as (...a: unknown[]) => unknown).bind(target);
      bound.set(prop, { fn: value, bound: b });
      return b;
    },
  });
}
