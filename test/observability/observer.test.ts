import * as otel from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Agent,
  AgentObserver,
  FunctionPlanner,
  InMemoryMetrics,
  MemoryStore,
  observedStore,
  type AgentEvent,
  type Executor,
} from 'dream-agent';
import { ManualClock, storeContract } from 'dream-agent/testing';

storeContract('observedStore(MemoryStore)', async ({ clock }) => ({
  store: observedStore(new MemoryStore({ clock }), new AgentObserver({ metrics: new InMemoryMetrics() })),
}));

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
otel.trace.setGlobalTracerProvider(provider);
afterAll(async () => {
  await provider.shutdown();
  otel.trace.disable();
});

/**
 * Three todos in two domains on a manual clock: `fetch` (data, 40 ms) → `mail` (ops, gated; denied), and
 * `broken` (data, fails after 15 ms). The plan waits 5 s for review and the approval 7 s for a human.
 */
async function scenario(): Promise<{ metrics: InMemoryMetrics; events: AgentEvent[] }> {
  const clock = new ManualClock();
  const metrics = new InMemoryMetrics();
  const observer = new AgentObserver({
    metrics,
    otel,
    prices: { m1: { inputPerMTok: 2, outputPerMTok: 8 } },
  });
  const store = observedStore(new MemoryStore({ clock }), observer);
  const executor: Executor = {
    async execute(todo) {
      await Promise.resolve();
      if (todo.id === 'broken') {
        clock.advance(15);
        throw new Error('upstream down');
      }
      clock.advance(40);
      return { output: { rows: 3 } };
    },
  };
  const agent = new Agent({
    store,
    clock,
    planner: new FunctionPlanner(() => {
      clock.advance(12);
      return {
        todos: [
          { id: 'fetch', title: 'Fetch', domain: 'data', dependsOn: [], input: {} },
          { id: 'broken', title: 'Broken', domain: 'data', dependsOn: [], input: {} },
          { id: 'mail', title: 'Mail', domain: 'ops', dependsOn: ['fetch'], input: {}, approval: true },
        ],
      };
    }),
    executors: { data: executor, ops: executor },
    hitl: { planReview: 'always' },
  });
  try {
    const first = await agent.run('go').result();
    clock.advance(5_000);
    const reviewed = await agent.send(first.sessionId, { type: 'plan.approve', actor: 'alice' }).result();
    const approval = reviewed.pending.find((p) => p.kind === 'approval');
    clock.advance(7_000);
    const done = await agent
      .send(first.sessionId, {
        type: 'approval.deny',
        requestId: approval?.id ?? '',
        actor: 'bob',
        reason: 'no',
      })
      .result();
    expect(done.status).toBe('completed');
    const events: AgentEvent[] = [];
    for await (const e of agent.events(first.sessionId)) events.push(e);
    observer.usage({ model: 'm1', layer: 'planner', usage: { inputTokens: 1_000, outputTokens: 500 } });
    return { metrics, events };
  } finally {
    await agent.close();
  }
}

describe('metrics derived from committed events', () => {
  it('time per layer, todo outcomes, human waits, cache and commits match an independent count from the event log', async () => {
    const { metrics, events } = await scenario();
    const count = (type: string, pred: (e: AgentEvent) => boolean = () => true): number =>
      events.filter((e) => e.type === type && pred(e)).length;

    expect(metrics.histogramSummary('dream_agent_layer_duration_ms', { layer: 'planning' })).toMatchObject({
      count: 1,
      sum: 12,
    });
    expect(
      metrics.histogramSummary('dream_agent_layer_duration_ms', { layer: 'executor', domain: 'data' }),
    ).toMatchObject({
      count: 2,
      sum: 55,
    });
    expect(metrics.histogramSummary('dream_agent_layer_duration_ms', { layer: 'cognitive' })?.count).toBe(1);
    expect(metrics.histogramSummary('dream_agent_layer_duration_ms', { layer: 'response' })?.count).toBe(1);

    expect(metrics.counterValue('dream_agent_todo_total', { outcome: 'completed' })).toBe(
      count('todo.completed'),
    );
    expect(metrics.counterValue('dream_agent_todo_total', { outcome: 'failed' })).toBe(count('todo.failed'));
    expect(metrics.counterValue('dream_agent_todo_total', { outcome: 'denied' })).toBe(
      count('todo.skipped', (e) => e.type === 'todo.skipped' && e.reason === 'denied'),
    );
    expect(metrics.counterValue('dream_agent_todo_total', { outcome: 'completed' })).toBe(1);
    expect(metrics.counterValue('dream_agent_todo_total', { outcome: 'failed' })).toBe(1);
    expect(metrics.counterValue('dream_agent_todo_total', { outcome: 'denied' })).toBe(1);
    expect(metrics.counterValue('dream_agent_cache_total', { result: 'miss' })).toBe(1);
    expect(metrics.counterValue('dream_agent_turn_total', { outcome: 'completed' })).toBe(1);

    expect(metrics.histogramSummary('dream_agent_hitl_wait_ms', { kind: 'plan_review' })).toMatchObject({
      count: 1,
      sum: 5_000,
    });
    // Independent: the request's createdAt and the resolution's time, read from the event log.
    const requested = events.find((e) => e.type === 'approval.requested');
    const resolved = events.find((e) => e.type === 'approval.resolved');
    const waited =
      (resolved?.at ?? 0) - (requested?.type === 'approval.requested' ? requested.request.createdAt : 0);
    expect(waited).toBeGreaterThanOrEqual(7_000);
    expect(metrics.histogramSummary('dream_agent_hitl_wait_ms', { kind: 'approval' })).toMatchObject({
      count: 1,
      sum: waited,
    });

    const commits = metrics.histogramSummary('dream_agent_store_commit_ms');
    expect(commits?.count).toBeGreaterThanOrEqual(3);

    expect(
      metrics.counterValue('dream_agent_llm_tokens_total', {
        model: 'm1',
        layer: 'planner',
        direction: 'input',
      }),
    ).toBe(1_000);
    expect(
      metrics.counterValue('dream_agent_llm_cost_usd_total', { model: 'm1', layer: 'planner' }),
    ).toBeCloseTo(0.006, 10);

    const text = metrics.prometheus();
    expect(text).toContain('# TYPE dream_agent_todo_total counter');
    expect(text).toMatch(
      /dream_agent_layer_duration_ms_bucket\{domain="data",layer="executor",le="\+Inf"\} 2/,
    );
    expect(text).toContain(`dream_agent_hitl_wait_ms_sum{kind="approval"} ${waited}`);
  });

  it('spans: one turn span per driven segment with layer and todo spans under it, timed by the events', async () => {
    exporter.reset();
    await scenario();
    const spans = exporter.getFinishedSpans();
    const byName = (n: string) => spans.filter((s) => s.name === n);
    const turns = byName('dream_agent.turn');
    expect(turns.length).toBeGreaterThanOrEqual(2); // rested for review and for approval, then completed
    const last = turns.find((s) => s.attributes['dream_agent.turn.outcome'] === 'completed');
    expect(last).toBeDefined();
    const todoSpans = byName('dream_agent.todo');
    expect(todoSpans.map((s) => s.attributes['dream_agent.todo.id']).sort()).toEqual(['broken', 'fetch']);
    const failed = todoSpans.find((s) => s.attributes['dream_agent.todo.id'] === 'broken');
    expect(failed?.status.code).toBe(otel.SpanStatusCode.ERROR);
    const fetch = todoSpans.find((s) => s.attributes['dream_agent.todo.id'] === 'fetch');
    const ms = (t: [number, number]): number => t[0] * 1e3 + t[1] / 1e6;
    expect(ms(fetch?.endTime ?? [0, 0]) - ms(fetch?.startTime ?? [0, 0])).toBeCloseTo(40, 3);
    for (const s of [...todoSpans, ...byName('dream_agent.planning')]) {
      const parent = turns.find((t) => t.spanContext().spanId === s.parentSpanContext?.spanId);
      expect(parent, s.name).toBeDefined();
    }
  });

  it('a sink that throws never breaks a commit', async () => {
    const throwing = {
      counter: () => {
        throw new Error('x');
      },
      histogram: () => {
        throw new Error('x');
      },
      gauge: () => {
        throw new Error('x');
      },
    };
    const agent = new Agent({
      store: observedStore(new MemoryStore(), new AgentObserver({ metrics: throwing })),
      planner: new FunctionPlanner(() => ({
        todos: [{ id: 'a', title: 'A', domain: 'd', dependsOn: [], input: {} }],
      })),
      executors: { d: { execute: async () => ({ output: 1 }) } },
    });
    expect((await agent.run('go').result()).status).toBe('completed');
    await agent.close();
  });

  it('series per metric name are bounded', () => {
    const m = new InMemoryMetrics({ maxSeries: 3 });
    for (let i = 0; i < 10; i += 1) m.counter('c', { id: String(i) });
    expect(Object.keys(m.snapshot().counters['c'] ?? {})).toHaveLength(4);
    expect(m.snapshot().counters['c']?.['overflow="true"']).toBe(7);
  });

  it('agent.metrics(): the Agent wires the observer itself and snapshots this node', async () => {
    const extra = new InMemoryMetrics();
    const agent = new Agent({
      observability: { metrics: extra },
      planner: new FunctionPlanner(() => ({
        todos: [
          { id: 'a', title: 'A', domain: 'd', dependsOn: [], input: {} },
          { id: 'b', title: 'B', domain: 'd', dependsOn: ['a'], input: {} },
        ],
      })),
      executors: { d: { execute: async () => ({ output: 1 }) } },
    });
    expect((await agent.run('go').result()).status).toBe('completed');
    const snap = agent.metrics();
    expect(snap?.counters['dream_agent_todo_total']?.['outcome="completed"']).toBe(2);
    expect(snap?.counters['dream_agent_turn_total']?.['outcome="completed"']).toBe(1);
    expect(extra.counterValue('dream_agent_todo_total', { outcome: 'completed' })).toBe(2);
    expect(new Agent({}).metrics()).toBeUndefined();
    await agent.close();
  });
});
