import { expect } from 'vitest';
import { isDreamAgentError, type AgentEvent, type DreamAgentError, type RunResult } from 'dream-agent';

/** Drains a Run: every event it yields, then its result. */
export async function collect(
  run: AsyncIterable<AgentEvent> & { result(): Promise<RunResult> },
): Promise<{ events: AgentEvent[]; result: RunResult }> {
  const events: AgentEvent[] = [];
  for await (const e of run) events.push(e);
  return { events, result: await run.result() };
}

/** The typed error a promise rejects with (fails the test when it resolves or rejects with anything else). */
export async function rejection(p: Promise<unknown>): Promise<DreamAgentError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isDreamAgentError(err)) throw new Error(`expected a DreamAgentError, got ${String(err)}`);
  return err;
}

/** Asserts that a promise rejects with a DreamAgentError of this code. */
export async function expectRejects(p: Promise<unknown>, code: string): Promise<void> {
  expect((await rejection(p)).code).toBe(code);
}
