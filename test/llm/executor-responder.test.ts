import { describe, expect, it } from 'vitest';
import { DreamAgentError } from '../../src/errors/index.js';
import { LlmExecutor } from '../../src/llm/executor.js';
import { LlmResponder } from '../../src/llm/responder.js';
import { estimateTokens } from '../../src/ports/llm.js';
import type { TurnSummary } from '../../src/layers.js';
import type { Todo } from '../../src/model/plan.js';
import type { TodoRecord } from '../../src/model/session.js';
import { ScriptedModel } from '../../src/testing/scripted-model.js';
import { executionContext, memoryLogger, responseContext } from './fixtures.js';

const insight: Todo = {
  id: 'analyse',
  title: 'Analyse sales by region',
  description: 'Find the strongest and weakest region',
  domain: 'insight',
  input: { rows: [{ region: 'EU', total: 10 }] },
  dependsOn: ['fetch'],
};

describe('LlmExecutor', () => {
  it('streams the output as deltas and returns { text, truncated }', async () => {
    const model = new ScriptedModel({
      turns: [{ text: 'EU leads with 10.', deltas: ['EU ', 'leads ', 'with 10.'] }],
    });
    const ctx = executionContext();
    const result = await new LlmExecutor({ model }).execute(
      insight,
      { rows: [{ region: 'EU', total: 10 }] },
      ctx,
    );
    expect(ctx.deltas).toEqual(['EU ', 'leads ', 'with 10.']);
    expect(result).toEqual({ output: { text: 'EU leads with 10.', truncated: false } });
    const req = model.requests[0];
    expect(req?.layer).toBe('executor');
    expect(req?.tools).toBeUndefined();
    expect(req?.messages[1]?.content).toContain(
      'Task: Analyse sales by region\nFind the strongest and weakest region',
    );
    expect(req?.messages[1]?.content).toContain('"region": "EU"');
    expect(req?.signal).toBe(ctx.signal);
  });

  it('uses a content-writer role for content todos and marks truncated output', async () => {
    const model = new ScriptedModel({ turns: [{ text: 'Dear team', finishReason: 'length' }] });
    const result = await new LlmExecutor({ model, maxTokens: 3 }).execute(
      { ...insight, domain: 'content' },
      {},
      executionContext(),
    );
    expect(result.output).toEqual({ text: 'Dear team', truncated: true });
    expect(model.requests[0]?.messages[0]?.content).toContain('You write content');
    expect(model.requests[0]?.maxTokens).toBe(3);
  });

  it('delegates a todo that names a tool to the tool executor: a model never stands in for a real tool', async () => {
    const model = new ScriptedModel({ turns: [{ text: 'pretend I sent it' }] });
    const seen: string[] = [];
    const toolExecutor = {
      execute: async (todo: Todo) => {
        seen.push(todo.tool ?? '');
        return { output: { sent: true } };
      },
    };
    const result = await new LlmExecutor({ model, toolExecutor }).execute(
      { ...insight, tool: 'email.send' },
      {},
      executionContext(),
    );
    expect(result.output).toEqual({ sent: true });
    expect(seen).toEqual(['email.send']);
    expect(model.calls).toBe(0);
    // Without an explicit tool executor the default one runs it from ctx.tools: an unknown tool is TOOL_NOT_FOUND.
    await expect(
      new LlmExecutor({ model }).execute({ ...insight, tool: 'email.send' }, {}, executionContext()),
    ).rejects.toMatchObject({ code: 'TOOL_NOT_FOUND' });
    expect(model.calls).toBe(0);
  });

  it('fails typed on a stream cut mid-way, after the deltas already sent', async () => {
    const model = new ScriptedModel({
      turns: [{ text: 'a b c', failAfterDeltas: { count: 2, error: new TypeError('terminated') } }],
    });
    const ctx = executionContext();
    await expect(new LlmExecutor({ model }).execute(insight, {}, ctx)).rejects.toMatchObject({
      code: 'LLM_ERROR',
      retryable: true,
    });
    expect(ctx.deltas).toEqual(['a ', 'b ']);
  });

  it('an abort during the call is ABORTED', async () => {
    const a = new AbortController();
    const model = new ScriptedModel({ turns: [{ text: 'slow', latencyMs: 5_000 }] });
    const p = new LlmExecutor({ model }).execute(insight, {}, executionContext({ signal: a.signal }));
    a.abort();
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
  });
});

function record(todoId: string, over: Partial<TodoRecord> = {}): TodoRecord {
  return {
    sessionId: 's1',
    turnId: 't1',
    todoId,
    status: 'completed',
    attempts: 1,
    idempotencyKey: `k-${todoId}`,
    ...over,
  };
}

function turn(todos: TodoRecord[]): TurnSummary {
  return {
    input: 'analyse Q3 sales',
    intent: { name: 'sales.report', confidence: 0.9, entities: [], slots: {}, missingSlots: [] },
    plan: {
      id: 'p1',
      version: 1,
      todos: todos.map((t) => ({
        id: t.todoId,
        title: `Title of ${t.todoId}`,
        domain: 'data',
        input: {},
        dependsOn: [],
      })),
    },
    todos,
  };
}

describe('LlmResponder', () => {
  it('aggregates results (completed, failed, skipped) and streams the answer', async () => {
    const model = new ScriptedModel({
      turns: [
        {
          text: 'Q3 sales rose; the email was not sent.',
          deltas: ['Q3 sales rose; ', 'the email was not sent.'],
        },
      ],
    });
    const ctx = responseContext();
    const answer = await new LlmResponder({ model }).respond(
      turn([
        record('fetch', { output: { total: 42 } }),
        record('send', { status: 'skipped', skipReason: 'denied', reason: 'not now' }),
        record('chart', {
          status: 'failed',
          error: { code: 'TOOL_FAILED', message: 'renderer down', retryable: false, details: {} },
        }),
      ]),
      ctx,
    );
    expect(answer).toBe('Q3 sales rose; the email was not sent.');
    expect(ctx.deltas).toEqual(['Q3 sales rose; ', 'the email was not sent.']);
    expect(model.calls).toBe(1);
    const user = model.requests[0]?.messages[1]?.content ?? '';
    expect(user).toContain('<data source="step fetch Title of fetch (completed)">\n{"total":42}\n</data>');
    expect(user).toContain('skipped (denied): not now');
    expect(user).toContain('failed: renderer down');
    expect(user).toContain('Intent: sales.report');
    expect(model.requests[0]?.layer).toBe('responder');
  });

  it('summarises oversized results first, keeping small ones whole, so the prompt fits the budget', async () => {
    const big = 'row,'.repeat(5_000); // ≈ 5,000 tokens
    const model = new ScriptedModel({ turns: [{ text: 'EU 10, US 7 (summary)' }, { text: 'Answer.' }] });
    const responder = new LlmResponder({ model, maxContextTokens: 1_000 });
    await responder.respond(
      turn([record('small', { output: 'tiny result' }), record('big', { output: big })]),
      responseContext(),
    );
    expect(model.calls).toBe(2);
    const summarise = model.requests[0];
    expect(summarise?.messages[0]?.content).toContain('Summarise the data below');
    expect(summarise?.maxTokens).toBeLessThanOrEqual(1_000);
    const final = model.requests[1]?.messages[1]?.content ?? '';
    expect(final).toContain('tiny result');
    expect(final).toContain('[summary] EU 10, US 7 (summary)');
    expect(final).not.toContain('row,'.repeat(300));
    expect(final.length).toBeLessThan(8_000);
  });

  it('truncates the input of the summariser for huge results', async () => {
    const huge = 'x'.repeat(400_000);
    const model = new ScriptedModel({ turns: [{ text: 'short' }, { text: 'Answer.' }] });
    await new LlmResponder({ model, maxContextTokens: 500, maxSummaryInputTokens: 1_000 }).respond(
      turn([record('huge', { output: huge })]),
      responseContext(),
    );
    const sent = model.requests[0]?.messages[1]?.content ?? '';
    expect(estimateTokens(sent)).toBeLessThan(1_100);
    expect(sent).toContain('…[truncated: about');
  });

  it('falls back to truncation when the summary call fails, and logs it', async () => {
    const logger = memoryLogger();
    const model = new ScriptedModel({
      turns: [{ error: new DreamAgentError('RATE_LIMITED', 'slow down') }, { text: 'Answer anyway.' }],
    });
    const answer = await new LlmResponder({ model, maxContextTokens: 200 }).respond(
      turn([record('big', { output: 'y'.repeat(20_000) })]),
      responseContext({ logger }),
    );
    expect(answer).toBe('Answer anyway.');
    const final = model.requests[1]?.messages[1]?.content ?? '';
    expect(final).toContain('…[truncated: about');
    expect(final.length).toBeLessThan(3_000);
    expect(logger.lines.some((l) => l.level === 'warn' && (l.msg ?? '').includes('truncating'))).toBe(true);
  });

  it('answers without a plan (no steps ran)', async () => {
    const model = new ScriptedModel({ turns: [{ text: 'Hello!' }] });
    const answer = await new LlmResponder({ model }).respond(
      { input: 'hi', plan: null, todos: [] },
      responseContext(),
    );
    expect(answer).toBe('Hello!');
    expect(model.requests[0]?.messages[1]?.content).toContain('(no steps ran)');
  });

  it('fails typed when the answer stream fails or is aborted', async () => {
    const model = new ScriptedModel({ turns: [{ error: new Error('socket hang up') }] });
    await expect(new LlmResponder({ model }).respond(turn([]), responseContext())).rejects.toMatchObject({
      code: 'LLM_ERROR',
    });
    const a = new AbortController();
    const slow = new ScriptedModel({ turns: [{ text: 'x', latencyMs: 5_000 }] });
    const p = new LlmResponder({ model: slow }).respond(turn([]), responseContext({ signal: a.signal }));
    a.abort();
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
  });
});
