/**
 * `hitl.approvalTtlMs` is enforced: an approval granted at or after its `expiresAt` (on the agent's
 * Clock) is refused `INVALID_STATE` (`details.reason: 'expired'`) and the step does not run; a grant in
 * time still runs it, and an expired request can still be denied.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Agent, FunctionPlanner, MemoryStore, type AgentEvent, type Store } from 'dream-agent';
import { ManualClock } from 'dream-agent/testing';
import { SqliteStore } from '@dream-agent/sqlite';

const drain = async (run: AsyncIterable<AgentEvent> & { result(): Promise<unknown> }): Promise<string> => {
  try {
    for await (const _ of run) void _;
    await run.result();
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
};

const dir = mkdtempSync(join(tmpdir(), 'dream-approval-expiry-'));
const sqlites: SqliteStore[] = [];
afterAll(async () => {
  for (const s of sqlites) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

const stores: [string, () => Store][] = [
  ['memory', () => new MemoryStore()],
  [
    'SQLite',
    () => {
      const s = new SqliteStore(join(dir, `s${sqlites.length}.db`));
      sqlites.push(s);
      return s;
    },
  ],
];

describe.each(stores)('approval expiry on %s', (_name, makeStore) => {
  async function setup() {
    const clock = new ManualClock(Date.now());
    const ran: unknown[] = [];
    const agent = new Agent({
      store: makeStore(),
      clock,
      planner: new FunctionPlanner(() => ({
        todos: [
          { id: 'pay', title: 'Pay', domain: 'w', dependsOn: [], input: { amount: 10 }, approval: true },
        ],
      })),
      executors: {
        w: {
          async execute(_todo, input) {
            await Promise.resolve();
            ran.push(input);
            return { output: { ok: true } };
          },
        },
      },
      hitl: { planReview: 'never', approvalTtlMs: 300 },
    });
    const first = agent.run('pay');
    expect(await drain(first)).toBe('ok');
    const { sessionId } = (await first.result()) as { sessionId: string };
    const request = (await agent.getSession(sessionId)).pending[0]!;
    expect(request.expiresAt).toBe(clock.now() + 300);
    return { agent, clock, ran, sessionId, request };
  }

  it('a grant after expiresAt is refused INVALID_STATE and nothing runs', async () => {
    const { agent, clock, ran, sessionId, request } = await setup();
    clock.advance(600);
    let error: unknown;
    const run = agent.send(sessionId, { type: 'approval.grant', requestId: request.id });
    try {
      for await (const _ of run) void _;
      await run.result();
    } catch (e) {
      error = e;
    }
    expect((error as { code?: string }).code).toBe('INVALID_STATE');
    expect((error as { details?: { reason?: string } }).details?.reason).toBe('expired');
    expect(ran).toEqual([]);
    const after = await agent.getSession(sessionId);
    expect(after.pending.map((p) => p.id)).toEqual([request.id]);
    // Still deniable: the todo is skipped, nothing runs.
    expect(await drain(agent.send(sessionId, { type: 'approval.deny', requestId: request.id }))).toBe('ok');
    expect(ran).toEqual([]);
    await agent.close();
  });

  it('a grant exactly at expiresAt is refused too', async () => {
    const { agent, clock, ran, sessionId, request } = await setup();
    clock.advance(300);
    expect(await drain(agent.send(sessionId, { type: 'approval.grant', requestId: request.id }))).toBe(
      'INVALID_STATE',
    );
    expect(ran).toEqual([]);
    await agent.close();
  });

  it('a grant in time runs the step', async () => {
    const { agent, clock, ran, sessionId, request } = await setup();
    clock.advance(299);
    expect(await drain(agent.send(sessionId, { type: 'approval.grant', requestId: request.id }))).toBe('ok');
    expect(ran).toEqual([{ amount: 10 }]);
    await agent.close();
  });
});
