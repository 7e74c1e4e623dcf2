/**
 * Runs one request through the quick-start agent (the offline default configuration) to its end, as an
 * unattended but careful user would: plans are approved, approvals granted, inputs provided; a
 * clarification question ends the run (the bench counts it as "asked").
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentEvent, HitlRequest, Intent, RunResult } from 'dream-agent';
import { createDemoAgent, type DemoAgent } from '../../examples/quickstart/src/agent.js';

/** What happened to one request. */
export interface AgentOutcome {
  intent: Intent | undefined;
  /** The clarification question, when the agent asked one instead of acting. */
  asked?: HitlRequest;
  status: RunResult['status'] | 'asked';
  answer: string;
  events: AgentEvent[];
  /** Names of the tools whose todos completed. */
  executed: string[];
}

/** A fixed "now" for the bench: 1 December 2026, 10:00 UTC (mid-quarter, late in the year). */
export const BENCH_NOW = Date.UTC(2026, 11, 1, 10, 0, 0);

let demo: DemoAgent | undefined;
let counter = 0;

/** The shared demo agent on a fixed clock (trained once). */
export async function benchAgent(): Promise<DemoAgent> {
  if (demo) return demo;
  process.env['DREAM_AGENT_OUTPUT'] ??= mkdtempSync(join(tmpdir(), 'dream-bench-'));
  const clock = { now: () => BENCH_NOW, sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)) };
  demo = await createDemoAgent({ clock });
  return demo;
}

/**
 * @param text - the request
 * @param answers - answers to give to clarification questions, in order (none: stop at the first)
 * @returns the outcome
 */
export async function runRequest(text: string, answers: string[] = []): Promise<AgentOutcome> {
  const { agent } = await benchAgent();
  const sessionId = `bench-${++counter}`;
  const events: AgentEvent[] = [];
  const drain = async (run: AsyncIterable<AgentEvent> & { result(): Promise<RunResult> }) => {
    for await (const e of run) events.push(e);
    return run.result();
  };
  let result = await drain(agent.run(text, { sessionId }));
  const queue = [...answers];
  let asked: HitlRequest | undefined;
  for (let guard = 0; result.status === 'waiting' && guard < 20; guard++) {
    const req = result.pending[0];
    if (!req) break;
    if (req.kind === 'clarification') {
      asked ??= req;
      const a = queue.shift();
      if (a === undefined) break;
      result = await drain(
        agent.send(sessionId, { type: 'clarification.answer', requestId: req.id, answer: a }),
      );
    } else if (req.kind === 'plan_review') {
      result = await drain(agent.send(sessionId, { type: 'plan.approve' }));
    } else if (req.kind === 'approval') {
      const digest = (req as { digest?: string }).digest;
      result = await drain(
        agent.send(sessionId, { type: 'approval.grant', requestId: req.id, ...(digest ? { digest } : {}) }),
      );
    } else if (req.kind === 'input') {
      result = await drain(
        agent.send(sessionId, { type: 'input.provide', requestId: req.id, value: 'team@example.com' }),
      );
    } else {
      result = await drain(
        agent.send(sessionId, { type: 'recovery.resolve', requestId: req.id, decision: 'skip' }),
      );
    }
  }
  const intents = events.filter((e) => e.type === 'intent.detected');
  const last = intents.at(-1);
  const answer = events.findLast((e) => e.type === 'response.completed');
  const plan = events.findLast((e) => e.type === 'plan.created');
  const tools = new Map(
    plan && plan.type === 'plan.created' ? plan.plan.todos.map((t) => [t.id, t.tool ?? '']) : [],
  );
  const executed = events
    .filter((e) => e.type === 'todo.completed')
    .map((e) => (e.type === 'todo.completed' ? (tools.get(e.todoId) ?? '') : ''));
  const stillAsking = result.status === 'waiting' && result.pending[0]?.kind === 'clarification';
  return {
    intent: last && last.type === 'intent.detected' ? last.intent : undefined,
    ...(asked ? { asked } : {}),
    status: stillAsking ? 'asked' : result.status,
    answer: answer && answer.type === 'response.completed' ? answer.text : '',
    events,
    executed,
  };
}

/** Closes the shared agent. */
export async function closeBenchAgent(): Promise<void> {
  await demo?.agent.close();
  demo = undefined;
}
