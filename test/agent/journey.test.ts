import { describe, expect, it } from 'vitest';
import { Agent, FunctionPlanner, MemoryStore, type AgentEvent } from 'dream-agent';
import { guardStore } from 'dream-agent/testing';
import { collect, expectRejects } from '../helpers/run.js';
import { Recorder, scriptedExecutor, todo } from './fixtures.js';

describe('the full human-in-the-loop journey', () => {
  it('review → edits (good and refused) → approve → approval gate → input request → pause → a new Agent resumes → completes', async () => {
    const store = guardStore(new MemoryStore());
    const rec = new Recorder();
    const planner = new FunctionPlanner(() => ({
      todos: [
        todo('fetch', [], { title: 'Fetch rows', input: { rows: [1, 2, 3] }, idempotent: true }),
        todo('analyse', ['fetch'], {
          input: { data: { $ref: 'fetch', path: 'input.rows' } },
          idempotent: true,
        }),
        todo('ask', ['analyse'], {
          input: {
            mode: 'ask',
            prompt: 'Who should get it?',
            key: 'recipient',
            schema: { type: 'string', minLength: 3 },
          },
        }),
        todo('send', ['ask'], { approval: { required: true, risk: 'high', reason: 'Sends an e-mail' } }),
      ],
    }));
    const options = {
      store,
      planner,
      executors: { work: scriptedExecutor(rec) },
      hitl: { planReview: 'always' as const },
    };
    const a1 = new Agent(options);

    // 1. plan review
    const r1 = await collect(a1.run('please do the thing', { sessionId: 'journey-1' }));
    expect(r1.result.status).toBe('waiting');
    expect(r1.result.pending.map((p) => p.kind)).toEqual(['plan_review']);
    expect(r1.events.map((e) => e.type)).toEqual([
      'turn.started',
      'intent.detected',
      'plan.created',
      'plan.review.requested',
    ]);
    expect(rec.runs.size).toBe(0);

    // 2. a refused edit (cycle) changes nothing
    await expectRejects(
      a1
        .send('journey-1', {
          type: 'plan.edit',
          baseVersion: 1,
          edits: [{ op: 'update', todoId: 'fetch', patch: { dependsOn: ['send'] } }],
        })
        .result(),
      'INVALID_EDIT',
    );
    // a stale base version is refused
    await expectRejects(
      a1
        .send('journey-1', { type: 'plan.edit', baseVersion: 7, edits: [{ op: 'remove', todoId: 'send' }] })
        .result(),
      'STALE_VERSION',
    );
    const s1 = await a1.getSession('journey-1');
    expect(s1.plan?.version).toBe(1);
    expect(s1.planHistory).toHaveLength(1);

    // 3. a good edit: add a todo after analyse
    const e1 = await collect(
      a1.send('journey-1', {
        type: 'plan.edit',
        baseVersion: 1,
        actor: 'alice',
        edits: [
          {
            op: 'add',
            after: 'analyse',
            todo: todo('chart', ['analyse'], { title: 'Draw chart', idempotent: true }),
          },
        ],
      }),
    );
    expect(e1.result.status).toBe('waiting');
    expect(e1.events.map((e) => e.type)).toEqual(['plan.updated']);
    const s2 = await a1.getSession('journey-1');
    expect(s2.plan?.version).toBe(2);
    expect(s2.plan?.todos.map((t) => t.id)).toEqual(['fetch', 'analyse', 'chart', 'ask', 'send']);
    expect(s2.planHistory.map((h) => [h.plan.version, h.actor])).toEqual([
      [1, 'planner'],
      [2, 'alice'],
    ]);

    // 4. approve: runs until the input request
    const e2 = await collect(a1.send('journey-1', { type: 'plan.approve', actor: 'alice' }));
    expect(e2.result.status).toBe('waiting');
    expect(e2.result.pending.map((p) => p.kind)).toEqual(['input']);
    const inputReq = e2.result.pending[0];
    expect(inputReq?.prompt).toBe('Who should get it?');
    expect(rec.count('fetch')).toBe(1);
    expect(rec.count('analyse')).toBe(1);
    expect(rec.count('chart')).toBe(1);
    expect(rec.count('ask')).toBe(1);
    const completedAnalyse = e2.events.find((e) => e.type === 'todo.completed' && e.todoId === 'analyse');
    expect(completedAnalyse).toMatchObject({ output: { input: { data: [1, 2, 3] } } });

    // 5. invalid input is refused and the request stays pending
    await expectRejects(
      a1.send('journey-1', { type: 'input.provide', requestId: inputReq?.id ?? '', value: 'x' }).result(),
      'INVALID_INPUT',
    );
    await expectRejects(
      a1.send('journey-1', { type: 'input.provide', requestId: 'nope', value: 'team@example.com' }).result(),
      'REQUEST_NOT_FOUND',
    );
    expect((await a1.getSession('journey-1')).pending.map((p) => p.id)).toEqual([inputReq?.id]);

    // 6. valid input: the todo continues with the value, then the approval gate
    const e3 = await collect(
      a1.send('journey-1', {
        type: 'input.provide',
        requestId: inputReq?.id ?? '',
        value: 'team@example.com',
        actor: 'bob',
      }),
    );
    expect(e3.result.status).toBe('waiting');
    expect(e3.result.pending.map((p) => p.kind)).toEqual(['approval']);
    expect(e3.result.pending[0]).toMatchObject({ todoId: 'send', risk: 'high', prompt: 'Sends an e-mail' });
    expect(e3.events.find((e) => e.type === 'todo.completed' && e.todoId === 'ask')).toMatchObject({
      output: { value: 'team@example.com' },
    });
    expect(rec.count('ask')).toBe(2);
    expect(rec.count('send')).toBe(0);

    // 7. pause while waiting, then a brand-new Agent on the same store takes over
    const p = await a1.send('journey-1', { type: 'pause', actor: 'carol' }).result();
    expect(p.status).toBe('paused');
    await a1.close();
    const a2 = new Agent(options);
    const approvalId = e3.result.pending[0]?.id ?? '';
    const g = await a2
      .send('journey-1', { type: 'approval.grant', requestId: approvalId, actor: 'dave' })
      .result();
    expect(g.status).toBe('paused'); // granted, but still paused
    expect(rec.count('send')).toBe(0);
    const done = await collect(a2.resume('journey-1'));
    expect(done.result.status).toBe('completed');
    expect(done.events[0]?.type).toBe('run.resumed');
    expect(done.events.map((e) => e.type)).toContain('turn.completed');
    expect(done.result.answer).toMatch(/Completed 5 of 5 steps/);

    // every todo ran exactly once (ask twice: once before and once after its input)
    expect(Object.fromEntries(rec.runs)).toEqual({ fetch: 1, analyse: 1, chart: 1, ask: 2, send: 1 });
    for (const keys of rec.keys.values()) expect(keys.size).toBe(1);

    // the durable log: seq strictly increasing without gaps, in causal order
    const log: AgentEvent[] = [];
    for await (const e of a2.events('journey-1')) log.push(e);
    expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
    const types = log.map((e) => e.type);
    const at = (t: string, id?: string): number =>
      log.findIndex((e) => e.type === t && (id === undefined || ('todoId' in e && e.todoId === id)));
    expect(at('plan.approved')).toBeGreaterThan(at('plan.updated'));
    expect(at('todo.started', 'fetch')).toBeGreaterThan(at('plan.approved'));
    expect(at('input.requested')).toBeLessThan(at('input.received'));
    expect(at('approval.requested')).toBeLessThan(at('run.paused'));
    expect(at('approval.resolved')).toBeGreaterThan(at('run.paused'));
    expect(at('todo.started', 'send')).toBeGreaterThan(at('run.resumed'));
    expect(types.at(-1)).toBe('turn.completed');
    expect(types.filter((t) => t === 'command.rejected')).toEqual([]);
    store.verify();
    await a2.close();
  });
});
