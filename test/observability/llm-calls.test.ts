/**
 * Every LLM call is attributed (session, turn, todo, layer, tenant), becomes one `llm.call` event with
 * tokens, latency, outcome and cost, feeds the token/cost metrics, and is a GenAI client span under its
 * todo or layer span; an HTTP tool's server receives the todo span's W3C `traceparent`.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as otel from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  Agent,
  DreamAgentError,
  ToolRegistry,
  parseToolFile,
  type AgentEvent,
  type EventOf,
  type LanguageModel,
} from 'dream-agent';
import { ScriptedModel } from 'dream-agent/testing';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
otel.trace.setGlobalTracerProvider(provider);
otel.propagation.setGlobalPropagator(new W3CTraceContextPropagator());

let server: Server;
let base: string;
const seen: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ id: 'o-1', total: 42 }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await provider.shutdown();
  otel.trace.disable();
  otel.propagation.disable();
});
beforeEach(() => {
  seen.length = 0;
  exporter.reset();
});

function tools(): ToolRegistry {
  const yaml = `name: orders.lookup
description: Looks an order up
domain: data
input:
  type: object
  properties: { id: { type: string } }
  required: [id]
handler:
  http:
    url: ${base}/orders/{id}
    method: GET
`;
  const r = parseToolFile(yaml, '/virtual/orders.yaml');
  if (r.errors.length > 0) throw new Error(JSON.stringify(r.errors));
  const reg = new ToolRegistry();
  for (const t of r.tools) reg.register(t);
  return reg;
}

const INTENT = {
  intent: 'orders.review',
  confidence: 0.9,
  entities: [],
  slots: {},
  missingSlots: [],
  clarification: null,
};
const PLAN = {
  rationale: 'look the order up, then review it',
  todos: [
    { id: 'fetch', title: 'Look up the order', tool: 'orders.lookup', input: { id: 'o-1' }, dependsOn: [] },
    {
      id: 'review',
      title: 'Review the order',
      domain: 'insight',
      input: { order: { $ref: 'fetch' } },
      dependsOn: ['fetch'],
    },
  ],
};

interface Models {
  cognitive: ScriptedModel;
  planner: ScriptedModel;
  executor: LanguageModel;
  responder: ScriptedModel;
}

function models(executor?: LanguageModel): Models {
  return {
    cognitive: new ScriptedModel({
      model: 'cog-1',
      turns: [{ json: INTENT, usage: { inputTokens: 100, outputTokens: 20 } }],
    }),
    planner: new ScriptedModel({
      model: 'plan-1',
      turns: [{ json: PLAN, usage: { inputTokens: 300, outputTokens: 80 } }],
    }),
    executor:
      executor ??
      new ScriptedModel({
        model: 'write-1',
        turns: [{ text: 'Order o-1 totals 42.', usage: { inputTokens: 50, outputTokens: 10 } }],
      }),
    responder: new ScriptedModel({
      model: 'resp-1',
      turns: [{ text: 'The order totals 42.', usage: { inputTokens: 70, outputTokens: 12 } }],
    }),
  };
}

const PRICES = {
  'cog-1': { inputPerMTok: 1, outputPerMTok: 2 },
  'plan-1': { inputPerMTok: 3, outputPerMTok: 15 },
  'write-1': { inputPerMTok: 0.5, outputPerMTok: 1.5 },
};

const llmCalls = (events: AgentEvent[]): EventOf<'llm.call'>[] =>
  events.filter((e): e is EventOf<'llm.call'> => e.type === 'llm.call');

const parentOf = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;

describe('LLM call attribution', () => {
  it('each call is one llm.call event with its session, turn, todo, layer, tenant, tokens, latency and cost', async () => {
    const agent = new Agent({
      tools: tools(),
      models: models(),
      hitl: { planReview: 'never' },
      observability: { otel, prices: PRICES },
    });
    const result = await agent.run('review order o-1', { tenantId: 'acme' }).result();
    expect(result.status, JSON.stringify(result)).toBe('completed');
    const events = await agent.store.readEvents(result.sessionId);
    const calls = llmCalls(events);
    expect(calls.map((c) => [c.layer, c.model, c.todoId ?? null])).toEqual([
      ['cognitive', 'cog-1', null],
      ['planner', 'plan-1', null],
      ['executor', 'write-1', 'review'],
      ['responder', 'resp-1', null],
    ]);
    for (const c of calls) {
      expect(c.sessionId).toBe(result.sessionId);
      expect(c.turnId).toBe(result.turnId);
      expect(c.tenantId).toBe('acme');
      expect(c.provider).toBe('scripted');
      expect(c.outcome).toBe('ok');
      expect(c.finishReason).toBe('stop');
      expect(c.latencyMs).toBeGreaterThanOrEqual(0);
    }
    expect(calls.map((c) => [c.inputTokens, c.outputTokens])).toEqual([
      [100, 20],
      [300, 80],
      [50, 10],
      [70, 12],
    ]);
    expect(calls[0]?.costUsd).toBeCloseTo((100 * 1 + 20 * 2) / 1e6, 12);
    expect(calls[1]?.costUsd).toBeCloseTo((300 * 3 + 80 * 15) / 1e6, 12);
    // No price for the responder's model: no cost rather than a made-up zero.
    expect(calls[3]?.costUsd).toBeUndefined();
    // The executor's call sits between its todo's start and end in the log.
    const seqOf = (pred: (e: AgentEvent) => boolean): number => events.find(pred)?.seq ?? -1;
    const started = seqOf((e) => e.type === 'todo.started' && e.todoId === 'review');
    const completed = seqOf((e) => e.type === 'todo.completed' && e.todoId === 'review');
    expect(calls[2]?.seq).toBeGreaterThan(started);
    expect(calls[2]?.seq).toBeLessThan(completed);
    const metrics = agent.metrics();
    const tokens = metrics?.counters['dream_agent_llm_tokens_total'] ?? {};
    expect(tokens['direction="input",layer="cognitive",model="cog-1",tenant="acme"']).toBe(100);
    expect(tokens['direction="output",layer="planner",model="plan-1",tenant="acme"']).toBe(80);
    const cost = metrics?.counters['dream_agent_llm_cost_usd_total'] ?? {};
    expect(cost['layer="executor",model="write-1",tenant="acme"']).toBeCloseTo(
      (50 * 0.5 + 10 * 1.5) / 1e6,
      12,
    );
    const callsTotal = metrics?.counters['dream_agent_llm_calls_total'] ?? {};
    expect(callsTotal['layer="responder",model="resp-1",outcome="ok",tenant="acme"']).toBe(1);
    expect(metrics?.histograms['dream_agent_llm_latency_ms']?.['layer="planner",model="plan-1"']?.count).toBe(
      1,
    );
    await agent.close();
  });

  it('spans: one GenAI client span per call, under its todo or layer span; the HTTP tool receives the todo span as traceparent', async () => {
    const agent = new Agent({
      tools: tools(),
      models: models(),
      hitl: { planReview: 'never' },
      observability: { otel, prices: PRICES },
    });
    const result = await agent.run('review order o-1', { tenantId: 'acme' }).result();
    expect(result.status).toBe('completed');
    await agent.close();
    const spans = exporter.getFinishedSpans();
    const byName = (name: string): ReadableSpan[] => spans.filter((s) => s.name === name);
    const turn = byName('dream_agent.turn')[0];
    if (!turn) throw new Error(`no turn span in ${spans.map((s) => s.name).join(', ')}`);
    const traceId = turn.spanContext().traceId;
    const chat = (model: string): ReadableSpan => {
      const found = byName(`chat ${model}`);
      expect(found).toHaveLength(1);
      return found[0] as ReadableSpan;
    };
    const cog = chat('cog-1');
    expect(cog.kind).toBe(otel.SpanKind.CLIENT);
    expect(cog.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.system': 'scripted',
      'gen_ai.provider.name': 'scripted',
      'gen_ai.request.model': 'cog-1',
      'gen_ai.response.model': 'cog-1',
      'gen_ai.usage.input_tokens': 100,
      'gen_ai.usage.output_tokens': 20,
      'gen_ai.response.finish_reasons': ['stop'],
      'dream_agent.layer': 'cognitive',
      'dream_agent.tenant.id': 'acme',
      'dream_agent.session.id': result.sessionId,
    });
    const layerSpan = (name: string): ReadableSpan => {
      const found = byName(`dream_agent.${name}`);
      expect(found).toHaveLength(1);
      return found[0] as ReadableSpan;
    };
    // Each layer's call is a child of that layer's span, which is a child of the turn.
    for (const [model, layer] of [
      ['cog-1', 'cognitive'],
      ['plan-1', 'planning'],
      ['resp-1', 'response'],
    ] as const) {
      const l = layerSpan(layer);
      expect(parentOf(chat(model)), `${model} under ${layer}`).toBe(l.spanContext().spanId);
      expect(parentOf(l)).toBe(turn.spanContext().spanId);
    }
    const todoSpans = byName('dream_agent.todo');
    const todoSpan = (id: string): ReadableSpan => {
      const found = todoSpans.filter((s) => s.attributes['dream_agent.todo.id'] === id);
      expect(found, `one span for todo ${id}`).toHaveLength(1);
      return found[0] as ReadableSpan;
    };
    const review = todoSpan('review');
    const writer = chat('write-1');
    expect(parentOf(writer)).toBe(review.spanContext().spanId);
    expect(writer.attributes['dream_agent.todo.id']).toBe('review');
    for (const s of [cog, writer, review]) expect(s.spanContext().traceId).toBe(traceId);
    // The call span lies inside its parent's time range.
    const ms = (t: [number, number]): number => t[0] * 1000 + t[1] / 1e6;
    expect(ms(writer.startTime)).toBeGreaterThanOrEqual(ms(review.startTime) - 1);
    expect(ms(writer.endTime)).toBeLessThanOrEqual(ms(review.endTime) + 1);
    // The tool's server saw the `fetch` todo's span (opened before its start was committed: GET is idempotent).
    const fetch = todoSpan('fetch');
    expect(fetch.attributes['dream_agent.tool.name']).toBe('orders.lookup');
    expect(fetch.attributes['dream_agent.todo.attempt']).toBe(1);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.traceparent).toBe(`00-${traceId}-${fetch.spanContext().spanId}-01`);
  });

  it('a failed call is reported with its error code and an error span; the todo fails cleanly', async () => {
    const failing = new ScriptedModel({
      model: 'write-1',
      turns: [{ error: new DreamAgentError('UNAUTHENTICATED', 'bad key', { retryable: false }) }],
    });
    const agent = new Agent({
      tools: tools(),
      models: models(failing),
      hitl: { planReview: 'never' },
      observability: { otel },
    });
    const result = await agent.run('review order o-1').result();
    expect(result.status).toBe('completed');
    const events = await agent.store.readEvents(result.sessionId);
    const writer = llmCalls(events).filter((c) => c.layer === 'executor');
    expect(writer).toHaveLength(1);
    expect(writer[0]).toMatchObject({
      outcome: 'UNAUTHENTICATED',
      inputTokens: 0,
      outputTokens: 0,
      todoId: 'review',
    });
    expect(writer[0]?.tenantId).toBeUndefined();
    expect(events.find((e) => e.type === 'todo.failed' && e.todoId === 'review')).toBeDefined();
    await agent.close();
    const span = exporter.getFinishedSpans().find((s) => s.name === 'chat write-1');
    expect(span?.status.code).toBe(otel.SpanStatusCode.ERROR);
    expect(span?.attributes['error.type']).toBe('UNAUTHENTICATED');
  });

  it('the offline default agent calls no model and emits no llm.call; without OpenTelemetry no traceparent is sent', async () => {
    const agent = new Agent({ observability: { metrics: true } });
    const result = await agent.run('hello there').result();
    const events = await agent.store.readEvents(result.sessionId);
    expect(events.length).toBeGreaterThan(0);
    expect(llmCalls(events)).toEqual([]);
    expect(agent.metrics()?.counters['dream_agent_llm_calls_total']).toBeUndefined();
    await agent.close();

    const noOtel = new Agent({ tools: tools(), models: models(), hitl: { planReview: 'never' } });
    const r = await noOtel.run('review order o-1').result();
    expect(r.status).toBe('completed');
    expect(seen).toHaveLength(1);
    expect(seen[0]?.traceparent).toBeUndefined();
    // Attribution does not depend on observability being on.
    expect(llmCalls(await noOtel.store.readEvents(r.sessionId))).toHaveLength(4);
    await noOtel.close();
  });
});
