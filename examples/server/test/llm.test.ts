import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentEvent, RunResult } from 'dream-agent';
import { startLlmServer, type LlmServer } from '../../../test/helpers/llm-server.js';
import { request } from '../../../test/transports/helpers.js';
import { parsePrices } from '../src/config.js';
import { startTestServer } from './helpers.js';

let llm: LlmServer;
let out: string;
const previous = process.env['DREAM_AGENT_OUTPUT'];
beforeAll(async () => {
  llm = await startLlmServer();
  out = await mkdtemp(join(tmpdir(), 'dream-llm-server-'));
  process.env['DREAM_AGENT_OUTPUT'] = out;
});
afterAll(async () => {
  if (previous === undefined) delete process.env['DREAM_AGENT_OUTPUT'];
  else process.env['DREAM_AGENT_OUTPUT'] = previous;
  await llm.close();
  await rm(out, { recursive: true, force: true });
});

describe('example server with LLM layers (an OpenAI-compatible endpoint)', () => {
  it('plans over the demo tools with the model, streams a model-written insight and answer, and keeps the approval gate', async () => {
    const json = (value: unknown) => ({ route: 'openai' as const, reply: { text: JSON.stringify(value) } });
    const text = (chunks: string[]) => ({
      route: 'openai' as const,
      reply: { text: chunks.join(''), chunks },
    });
    llm.script(
      json({
        intent: 'sales.report',
        confidence: 0.9,
        entities: [],
        slots: {},
        missingSlots: [],
        clarification: null,
      }),
      json({
        rationale: 'Query Q3, let the model comment, e-mail it.',
        todos: [
          {
            id: 'fetch',
            title: 'Query Q3',
            tool: 'sales.query',
            input: { period: { from: '2026-07-01', to: '2026-09-30' } },
            dependsOn: [],
          },
          {
            id: 'comment',
            title: 'Comment on the numbers',
            domain: 'insight',
            input: { rows: { $ref: 'fetch', path: 'rows' } },
            dependsOn: ['fetch'],
          },
          {
            id: 'mail',
            title: 'E-mail it',
            tool: 'email.send',
            input: { to: 'team@example.com', subject: 'Q3' },
            dependsOn: ['comment'],
            approval: false,
          },
        ],
      }),
      text(['North America ', 'leads.']),
      text(['Sent the ', 'Q3 summary.']),
    );
    const { srv, base } = await startTestServer({
      layers: 'llm',
      llmBaseUrl: llm.openaiBaseURL,
      llmApiKey: 'sk-test',
      llmModel: 'gpt-e2e',
    });
    try {
      const ap = { authorization: `Bearer ${await srv.auth.sign('ann', ['approver', 'operator'])}` };
      let r = (
        await request(base, 'POST', '/api/sessions?wait=true', {
          body: { input: 'How did Q3 go? Mail the team.', sessionId: 'llm-1' },
          headers: ap,
        })
      ).body as RunResult;
      expect(r.pending[0]?.kind).toBe('plan_review');
      r = (
        await request(base, 'POST', '/api/sessions/llm-1/commands?wait=true', {
          body: { type: 'plan.approve' },
          headers: ap,
        })
      ).body as RunResult;
      // the planner said approval: false, but email.send requires approval: the gate stands
      expect(r.pending.map((p) => [p.kind, p.todoId])).toEqual([['approval', 'mail']]);
      r = (
        await request(base, 'POST', '/api/sessions/llm-1/commands?wait=true', {
          body: { type: 'approval.grant', requestId: r.pending[0]?.id },
          headers: ap,
        })
      ).body as RunResult;
      expect(r.status).toBe('completed');
      expect(r.answer).toBe('Sent the Q3 summary.');
      const log = (await request(base, 'GET', '/api/sessions/llm-1/events?limit=1000', { headers: ap }))
        .body as { events: AgentEvent[] };
      const deltas = log.events
        .filter((e) => e.type === 'todo.output.delta')
        .map((e) => ('delta' in e ? e.delta : ''));
      expect(deltas).toEqual(['North America ', 'leads.']);
      expect(llm.pending()).toBe(0);
    } finally {
      await srv.close();
    }
  });

  it('prices from LLM_PRICES: /metrics reports the cost per model and layer, and each llm.call carries its cost', async () => {
    const json = (value: unknown, usage: { input: number; output: number }) => ({
      route: 'openai' as const,
      reply: { text: JSON.stringify(value), usage },
    });
    llm.script(
      json(
        {
          intent: 'sales.report',
          confidence: 0.9,
          entities: [],
          slots: {},
          missingSlots: [],
          clarification: null,
        },
        { input: 1_000_000, output: 0 },
      ),
      json(
        {
          rationale: 'Query Q3.',
          todos: [
            {
              id: 'fetch',
              title: 'Query Q3',
              tool: 'sales.query',
              input: { period: { from: '2026-07-01', to: '2026-09-30' } },
              dependsOn: [],
            },
          ],
        },
        { input: 500_000, output: 250_000 },
      ),
      { route: 'openai' as const, reply: { text: 'Q3 is in.', usage: { input: 0, output: 100_000 } } },
    );
    const prices = parsePrices('{"gpt-priced":{"inputPerMTok":2,"outputPerMTok":8}}');
    expect(prices).toEqual({ 'gpt-priced': { inputPerMTok: 2, outputPerMTok: 8 } });
    const { srv, base } = await startTestServer({
      layers: 'llm',
      llmBaseUrl: llm.openaiBaseURL,
      llmApiKey: 'sk-test',
      llmModel: 'gpt-priced',
      ...(prices ? { llmPrices: prices } : {}),
    });
    try {
      const ap = { authorization: `Bearer ${await srv.auth.sign('ann', ['approver', 'operator', 'admin'])}` };
      let r = (
        await request(base, 'POST', '/api/sessions?wait=true', {
          body: { input: 'How did Q3 go?', sessionId: 'priced-1' },
          headers: ap,
        })
      ).body as RunResult;
      r = (
        await request(base, 'POST', '/api/sessions/priced-1/commands?wait=true', {
          body: { type: 'plan.approve' },
          headers: ap,
        })
      ).body as RunResult;
      expect(r.status).toBe('completed');
      const log = (await request(base, 'GET', '/api/sessions/priced-1/events?limit=1000', { headers: ap }))
        .body as { events: AgentEvent[] };
      const calls = log.events.filter((e) => e.type === 'llm.call') as unknown as {
        layer: string;
        costUsd?: number;
      }[];
      // cognitive 1M in × $2; planner 0.5M × $2 + 0.25M × $8; responder 0.1M out × $8
      expect(calls.map((c) => [c.layer, c.costUsd])).toEqual([
        ['cognitive', 2],
        ['planner', 3],
        ['responder', 0.8],
      ]);
      const text = String((await request(base, 'GET', '/metrics', { headers: ap })).body);
      const cost = (layer: string): number => {
        const line = text
          .split('\n')
          .find(
            (l) =>
              l.startsWith('dream_agent_llm_cost_usd_total{') &&
              l.includes('model="gpt-priced"') &&
              l.includes(`layer="${layer}"`),
          );
        return Number(line?.split(' ').pop());
      };
      expect([cost('cognitive'), cost('planner'), cost('responder')]).toEqual([2, 3, 0.8]);
      expect(llm.pending()).toBe(0);
    } finally {
      await srv.close();
    }
  });

  it('LLM_PRICES that is not a price table is refused at start-up', () => {
    expect(parsePrices(undefined)).toBeUndefined();
    expect(parsePrices('')).toBeUndefined();
    for (const bad of [
      '{',
      '[]',
      '"x"',
      '{"m":{"inputPerMTok":1}}',
      '{"m":{"inputPerMTok":-1,"outputPerMTok":1}}',
      '{"m":null}',
    ])
      expect(() => parsePrices(bad), bad).toThrow(/LLM_PRICES/);
  });
});
