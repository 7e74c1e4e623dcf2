/**
 * Outsider findings (fixed): a failing event bus changed a turn's outcome. `subscribe` rejecting made
 * `agent.run()` reject with a raw Error and left the session `running`; `subscribe` never settling hung
 * `run()`; `publish` throwing synchronously turned a turn the store recorded as completed into a rejected
 * run. The agent now guards the bus it is given: failures are logged (`UNAVAILABLE`) and the session goes
 * on from the store, so `run()` resolves with what the store records.
 */
import { describe, expect, it } from 'vitest';
import {
  Agent,
  FunctionPlanner,
  MemoryEventBus,
  MemoryStore,
  type AgentEvent,
  type EventBus,
  type Logger,
} from 'dream-agent';

function makeAgent(bus: EventBus, store = new MemoryStore()) {
  const warnings: string[] = [];
  const logger: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (obj, msg) => warnings.push(`${(obj as { code?: string }).code ?? ''} ${msg ?? ''}`),
    error: () => undefined,
  };
  const agent = new Agent({
    store,
    bus,
    logger,
    hitl: { planReview: 'never' },
    executors: { w: { execute: async () => ({ output: { ok: true } }) } },
    planner: new FunctionPlanner(() => ({
      todos: [{ id: 'a', title: 'a', domain: 'w', dependsOn: [], input: {} }],
    })),
  });
  return { agent, store, warnings };
}

async function runToEnd(agent: Agent): Promise<{ status: string; sessionId: string; events: AgentEvent[] }> {
  const run = agent.run('go');
  const events: AgentEvent[] = [];
  for await (const e of run) events.push(e);
  const result = (await run.result()) as { status: string; sessionId: string };
  return { ...result, events };
}

const working = new MemoryEventBus();
const badSubscribe: [string, EventBus['subscribe']][] = [
  ['rejects', async () => Promise.reject(new Error('no subscribe'))],
  [
    'throws synchronously',
    () => {
      throw new Error('no subscribe');
    },
  ],
  ['never settles', () => new Promise(() => undefined)],
];

describe('outsider: a failing event bus', () => {
  for (const [what, subscribe] of badSubscribe) {
    it(`a bus whose subscribe ${what} does not fail or hang agent.run(), and leaves no session stuck running`, async () => {
      const bus: EventBus = { publish: (t, m) => working.publish(t, m), subscribe };
      const { agent, store, warnings } = makeAgent(bus);
      const { status, sessionId, events } = await runToEnd(agent);
      expect(status).toBe('completed');
      expect(events.some((e) => e.type === 'todo.completed')).toBe(true);
      const rec = await store.getSession(sessionId);
      expect(rec?.status).toBe('idle');
      expect(warnings.some((w) => w.startsWith('UNAVAILABLE'))).toBe(true);
      await agent.close();
    }, 20_000);
  }

  for (const [what, publish] of [
    [
      'throws synchronously',
      () => {
        throw new Error('no publish');
      },
    ],
    ['rejects', async () => Promise.reject(new Error('no publish'))],
  ] as [string, EventBus['publish']][]) {
    it(`a bus whose publish ${what} does not turn a completed turn into a rejected run`, async () => {
      const bus: EventBus = { publish, subscribe: (t, h) => working.subscribe(t, h) };
      const { agent, store } = makeAgent(bus);
      const { status, sessionId } = await runToEnd(agent);
      expect(status).toBe('completed');
      expect((await store.getSession(sessionId))?.status).toBe('idle');
      // The next turn on the same session runs too.
      const next = agent.run('again', { sessionId });
      for await (const _ of next) void _;
      expect(((await next.result()) as { status: string }).status).toBe('completed');
      await agent.close();
    }, 20_000);
  }
});
