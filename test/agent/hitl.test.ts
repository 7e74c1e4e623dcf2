import { describe, expect, it } from 'vitest';
import {
  Agent,
  FunctionPlanner,
  MemoryStore,
  type AgentEvent,
  type CommandInput,
  type Cognitive,
  type Intent,
  type TodoInput,
} from 'dream-agent';
import { guardStore } from 'dream-agent/testing';
import { collect, rejection } from '../helpers/run.js';
import { Recorder, scriptedExecutor, todo } from './fixtures.js';

function agentWith(todos: TodoInput[], extra: Partial<ConstructorParameters<typeof Agent>[0]> = {}) {
  const rec = new Recorder();
  const store = guardStore(new MemoryStore());
  const agent = new Agent({
    store,
    planner: new FunctionPlanner(() => ({ todos })),
    executors: { work: scriptedExecutor(rec) },
    ...extra,
  });
  return { agent, rec, store };
}

describe('approvals', () => {
  it('deny skips the todo and its dependents with reasons; independent todos continue', async () => {
    const { agent, rec } = agentWith([
      todo('risky', [], { approval: true }),
      todo('after', ['risky']),
      todo('free'),
    ]);
    const r = await agent.run('go', { sessionId: 'deny-1' }).result();
    expect(r.status).toBe('waiting');
    expect(rec.count('free')).toBe(1); // independent work ran while the approval waits
    const d = await collect(
      agent.send('deny-1', {
        type: 'approval.deny',
        requestId: r.pending[0]?.id ?? '',
        reason: 'too risky',
        actor: 'boss',
      }),
    );
    expect(d.result.status).toBe('completed');
    const skipped = d.events.filter((e) => e.type === 'todo.skipped');
    expect(skipped.map((e) => [e.todoId, e.reason])).toEqual([
      ['risky', 'denied'],
      ['after', 'dependency_failed'],
    ]);
    expect(d.events.find((e) => e.type === 'approval.resolved')).toMatchObject({
      granted: false,
      actor: 'boss',
      reason: 'too risky',
    });
    expect(rec.count('risky') + rec.count('after')).toBe(0);
    expect(d.result.answer).toContain('denied');
  });

  it('an approval policy can auto-approve or auto-deny, and a planner cannot remove a gate the policy requires', async () => {
    const seen: string[] = [];
    const { agent, rec } = agentWith([todo('a', [], { approval: false }), todo('b'), todo('c')], {
      hitl: {
        approvals: (t) => {
          seen.push(t.id);
          return t.id === 'a' ? 'require' : t.id === 'b' ? { deny: 'policy says no' } : 'approve';
        },
      },
    });
    const r = await agent.run('go', { sessionId: 'policy-1' }).result();
    expect(r.status).toBe('waiting');
    expect(r.pending.map((p) => p.todoId)).toEqual(['a']);
    expect(rec.count('c')).toBe(1);
    expect(rec.count('b')).toBe(0);
    const snap = await agent.getSession('policy-1');
    expect(snap.todos.find((t) => t.todoId === 'b')).toMatchObject({
      status: 'skipped',
      skipReason: 'policy',
      reason: 'policy says no',
    });
    expect(snap.todos.find((t) => t.todoId === 'c')?.approvedBy).toBe('policy');
    expect(seen).toEqual(['a', 'b', 'c']);
  });

  it('approval requests with roles refuse actors without the role (FORBIDDEN) and accept those with it', async () => {
    const { agent } = agentWith([todo('pay', [], { approval: { required: true, roles: ['approver'] } })]);
    const r = await agent.run('go', { sessionId: 'roles-1' }).result();
    const requestId = r.pending[0]?.id ?? '';
    const e = await rejection(
      agent
        .send('roles-1', { type: 'approval.grant', requestId, actor: { id: 'v', roles: ['viewer'] } })
        .result(),
    );
    expect(e.code).toBe('FORBIDDEN');
    expect((await agent.getSession('roles-1')).pending).toHaveLength(1);
    const ok = await agent
      .send('roles-1', { type: 'approval.grant', requestId, actor: { id: 'a', roles: ['approver'] } })
      .result();
    expect(ok.status).toBe('completed');
  });
});

describe('bad input gets a typed error and changes nothing', () => {
  const cases: [string, unknown, string][] = [
    ['not an object', 'pause', 'INVALID_INPUT'],
    ['unknown type', { type: 'plan.explode' }, 'INVALID_INPUT'],
    ['unknown field', { type: 'pause', extra: 1 }, 'INVALID_INPUT'],
    ['missing requestId', { type: 'approval.grant' }, 'INVALID_INPUT'],
    ['bad edit op', { type: 'plan.edit', edits: [{ op: 'teleport', todoId: 'a' }] }, 'INVALID_INPUT'],
    [
      'move with both before and after',
      { type: 'plan.edit', edits: [{ op: 'move', todoId: 'a', before: 'b', after: 'b' }] },
      'INVALID_INPUT',
    ],
    ['oversized', { type: 'cancel', reason: 'x'.repeat(2_000) + 'y'.repeat(300_000) }, 'PAYLOAD_TOO_LARGE'],
    ['unknown request id', { type: 'approval.grant', requestId: 'nope' }, 'REQUEST_NOT_FOUND'],
    ['wrong kind of request', { type: 'input.provide', requestId: 'PLACEHOLDER', value: 1 }, 'INVALID_STATE'],
    ['resume when not paused', { type: 'resume' }, 'INVALID_STATE'],
    ['approve when no plan review', { type: 'plan.approve' }, 'INVALID_STATE'],
    [
      'edit a removed todo',
      { type: 'plan.edit', edits: [{ op: 'update', todoId: 'ghost', patch: { title: 'x' } }] },
      'INVALID_EDIT',
    ],
  ];
  for (const [name, command, code] of cases) {
    it(`${name} → ${code}`, async () => {
      const { agent, store } = agentWith([todo('a', [], { approval: true }), todo('b', ['a'])]);
      const r = await agent.run('go', { sessionId: 's' }).result();
      const before = await agent.getSession('s');
      const cmd = JSON.parse(
        JSON.stringify(command).replace('PLACEHOLDER', r.pending[0]?.id ?? ''),
      ) as CommandInput;
      const e = await rejection(agent.send('s', cmd).result());
      expect(e.code).toBe(code);
      const after = await agent.getSession('s');
      expect(after.version).toBe(before.version);
      expect(after.lastSeq).toBe(before.lastSeq);
      expect(after.pending).toEqual(before.pending);
      store.verify();
    });
  }

  it('unknown sessions, empty and oversized inputs, and a busy session are refused', async () => {
    const { agent } = agentWith([todo('a', [], { approval: true })]);
    expect((await rejection(agent.send('nobody', { type: 'pause' }).result())).code).toBe(
      'SESSION_NOT_FOUND',
    );
    expect((await rejection(agent.resume('nobody').result())).code).toBe('SESSION_NOT_FOUND');
    expect((await rejection(agent.run('   ').result())).code).toBe('INVALID_INPUT');
    expect((await rejection(agent.run('x'.repeat(70_000)).result())).code).toBe('PAYLOAD_TOO_LARGE');
    expect((await rejection(agent.run('hi', { sessionId: 'bad id with spaces' }).result())).code).toBe(
      'INVALID_INPUT',
    );
    await agent.run('go', { sessionId: 'busy' }).result();
    expect((await rejection(agent.run('again', { sessionId: 'busy' }).result())).code).toBe('SESSION_BUSY');
    expect(() => new Agent({ concurrency: 0 })).toThrow(/concurrency must be an integer ≥ 1, got 0/);
  });

  it('a rejected Run also rejects its iteration', async () => {
    const { agent } = agentWith([]);
    const run = agent.send('nobody', { type: 'pause' });
    await expect(async () => {
      for await (const _ of run) {
        /* nothing */
      }
    }).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
  });
});

describe('pause, resume, cancel', () => {
  it('pause takes effect after the todo in flight; resume continues', async () => {
    const rec = new Recorder();
    let release: (() => void) | undefined;
    const gate = new Promise<void>((r) => (release = r));
    let started: (() => void) | undefined;
    const aStarted = new Promise<void>((r) => (started = r));
    const store = new MemoryStore();
    const agent = new Agent({
      store,
      planner: new FunctionPlanner(() => ({ todos: [todo('a'), todo('b', ['a']), todo('c', ['b'])] })),
      executors: {
        work: {
          async execute(t, input, ctx) {
            rec.record(t, ctx);
            if (t.id === 'a') {
              started?.();
              await gate; // "a" is in flight until the pause command is in the inbox
            }
            return { output: { id: t.id, input } };
          },
        },
      },
    });
    const run = agent.run('go', { sessionId: 'p1' });
    await aStarted;
    const pause = agent.send('p1', { type: 'pause', actor: 'u' });
    for (let i = 0; i < 1000 && (await store.pendingCommands('p1')).length === 0; i += 1)
      await new Promise((r) => setTimeout(r, 2));
    release?.();
    const r = await run.result();
    expect(r.status).toBe('paused');
    expect((await pause.result()).status).toBe('paused');
    expect(rec.count('a')).toBe(1);
    expect(rec.count('b')).toBe(0);
    const snap = await agent.getSession('p1');
    expect(snap.status).toBe('paused');
    expect(snap.todos.find((t) => t.todoId === 'a')?.status).toBe('completed');
    const res = await collect(agent.resume('p1'));
    expect(res.result.status).toBe('completed');
    expect(res.events[0]).toMatchObject({ type: 'run.resumed', reason: 'command' });
    expect(Object.fromEntries(rec.runs)).toEqual({ a: 1, b: 1, c: 1 });
  });

  it('cancel aborts the todo in flight through its AbortSignal and skips the rest', async () => {
    const rec = new Recorder();
    let started: (() => void) | undefined;
    const inFlight = new Promise<void>((r) => (started = r));
    const agent = new Agent({
      planner: new FunctionPlanner(() => ({
        todos: [todo('hang', [], { input: { mode: 'hang' } }), todo('next', ['hang'])],
      })),
      executors: { work: scriptedExecutor(rec, { onStart: () => started?.() }) },
    });
    const run = agent.run('go', { sessionId: 'c1' });
    await inFlight;
    const c = await agent.send('c1', { type: 'cancel', reason: 'changed my mind', actor: 'u' }).result();
    expect(c.status).toBe('cancelled');
    expect((await run.result()).status).toBe('cancelled');
    const snap = await agent.getSession('c1');
    expect(snap.todos.map((t) => [t.todoId, t.status, t.skipReason])).toEqual([
      ['hang', 'skipped', 'cancelled'],
      ['next', 'skipped', 'cancelled'],
    ]);
    expect(snap.turn?.outcome).toBe('cancelled');
    expect(rec.count('next')).toBe(0);
  });
});

describe('clarification', () => {
  it('asks when a required slot is missing and re-enters understanding with the answer', async () => {
    const inputs: string[][] = [];
    const cognitive: Cognitive = {
      understand(input, ctx) {
        inputs.push(ctx.clarifications.map((c) => c.answer));
        const period = ctx.clarifications.find((c) => c.slot === 'period')?.answer;
        const intent: Intent = period
          ? { name: 'report', confidence: 0.9, entities: [], slots: { period }, missingSlots: [] }
          : {
              name: 'report',
              confidence: 0.9,
              entities: [],
              slots: {},
              missingSlots: ['period'],
              clarification: { question: 'Which period?', slot: 'period' },
            };
        return Promise.resolve(intent);
      },
    };
    const rec = new Recorder();
    const agent = new Agent({
      cognitive,
      planner: new FunctionPlanner((intent) => ({
        todos: [todo('r', [], { input: { period: intent.slots['period'] ?? null } })],
      })),
      executors: { work: scriptedExecutor(rec) },
    });
    const r1 = await collect(agent.run('make a report', { sessionId: 'cl' }));
    expect(r1.result.status).toBe('waiting');
    expect(r1.result.pending[0]).toMatchObject({ kind: 'clarification', prompt: 'Which period?' });
    const r2 = await collect(
      agent.send('cl', {
        type: 'clarification.answer',
        requestId: r1.result.pending[0]?.id ?? '',
        answer: 'Q3',
      }),
    );
    expect(r2.result.status).toBe('completed');
    expect(r2.events.find((e) => e.type === 'todo.completed')).toMatchObject({
      output: { input: { period: 'Q3' } },
    });
    expect(inputs).toEqual([[], ['Q3']]);
    // the next turn of the same session sees the dialogue and carried slots
    const r3 = await agent.run('same again', { sessionId: 'cl' }).result();
    expect(r3.status).toBe('waiting'); // our toy cognitive asks again: slots are per turn in ctx.clarifications
    expect((await agent.getSession('cl')).dialogue.map((d) => d.slots)).toEqual([{ period: 'Q3' }]);
  });
});

describe('failures', () => {
  it('continue policy: a failed todo skips its dependents, independent ones finish, the turn completes', async () => {
    const { agent, rec } = agentWith([
      todo('bad', [], { input: { mode: 'fail' } }),
      todo('dep', ['bad']),
      todo('ok'),
    ]);
    const r = await collect(agent.run('go'));
    expect(r.result.status).toBe('completed');
    expect(r.events.find((e) => e.type === 'todo.failed')).toMatchObject({
      todoId: 'bad',
      error: { code: 'TOOL_FAILED', message: 'boom in bad' },
    });
    expect(rec.count('ok')).toBe(1);
    expect(rec.count('dep')).toBe(0);
  });

  it('fail-turn policy: the turn fails with the error', async () => {
    const { agent } = agentWith([todo('bad', [], { input: { mode: 'fail' } }), todo('later', ['bad'])], {
      failurePolicy: 'fail-turn',
    });
    const r = await collect(agent.run('go'));
    expect(r.result.status).toBe('failed');
    expect(r.result.error?.message).toBe('boom in bad');
    expect(r.events.at(-1)?.type).toBe('turn.failed');
  });

  it('a per-todo timeout fails the todo with TIMEOUT', async () => {
    const { agent } = agentWith([todo('slow', [], { input: { mode: 'hang' }, timeoutMs: 20 })]);
    const r = await collect(agent.run('go'));
    expect(r.events.find((e) => e.type === 'todo.failed')).toMatchObject({ error: { code: 'TIMEOUT' } });
  });

  it('an invalid plan from the planner fails the turn with INVALID_PLAN naming the cycle; nothing runs', async () => {
    const { agent, rec } = agentWith([todo('a', ['b']), todo('b', ['a'])]);
    const r = await agent.run('go').result();
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('INVALID_PLAN');
    expect(r.error?.message).toMatch(/a → b → a|b → a → b/);
    expect(rec.runs.size).toBe(0);
  });

  it('an unknown domain is refused at plan validation', async () => {
    const { agent } = agentWith([todo('a', [], { domain: 'nowhere' })]);
    const r = await agent.run('go').result();
    expect(r.error?.code).toBe('INVALID_PLAN');
    expect(r.error?.message).toContain('nowhere');
  });
});

describe('runs and event streams', () => {
  it('on(type) narrows to one event type; breaking out of the loop does not corrupt the session', async () => {
    const { agent, rec } = agentWith([todo('a'), todo('b', ['a']), todo('c', ['b'])]);
    const run = agent.run('go', { sessionId: 'brk' });
    const completed: string[] = [];
    run.on('todo.completed', (e) => completed.push(`${e.todoId}:${String(e.cached)}`));
    for await (const e of run) if (e.type === 'todo.started') break;
    const r = await run.result();
    expect(r.status).toBe('completed');
    expect(completed).toEqual(['a:false', 'b:false', 'c:false']);
    expect(Object.fromEntries(rec.runs)).toEqual({ a: 1, b: 1, c: 1 });
  });

  it('events(after, follow) replays the log and tails live events without gaps or duplicates', async () => {
    const { agent } = agentWith([todo('a', [], { approval: true }), todo('b', ['a'])]);
    const r = await agent.run('go', { sessionId: 'ev' }).result();
    const ctrl = new AbortController();
    const seen: AgentEvent[] = [];
    const follower = (async () => {
      for await (const e of agent.events('ev', { after: 2, follow: true, signal: ctrl.signal })) {
        seen.push(e);
        if (e.type === 'turn.completed') ctrl.abort();
      }
    })();
    await agent.send('ev', { type: 'approval.grant', requestId: r.pending[0]?.id ?? '' }).result();
    await follower;
    expect(seen[0]?.seq).toBe(3);
    expect(seen.map((e) => e.seq)).toEqual(seen.map((_, i) => i + 3));
    expect(seen.at(-1)?.type).toBe('turn.completed');
  });

  it('concurrency N runs independent todos in parallel, each completion committed on its own', async () => {
    let running = 0;
    let peak = 0;
    const agent = new Agent({
      concurrency: 3,
      planner: new FunctionPlanner(() => ({ todos: ['a', 'b', 'c', 'd', 'e'].map((id) => todo(id)) })),
      executors: {
        work: {
          async execute(t) {
            running += 1;
            peak = Math.max(peak, running);
            await new Promise((res) => setTimeout(res, 10));
            running -= 1;
            return { output: t.id };
          },
        },
      },
    });
    const store = agent.store;
    const r = await agent.run('go', { sessionId: 'par' }).result();
    expect(r.status).toBe('completed');
    expect(peak).toBe(3);
    const log = await store.readEvents('par', { limit: 1000 });
    expect(log.filter((e) => e.type === 'todo.completed')).toHaveLength(5);
  });
});

describe('executor routing', () => {
  it('a todo without a tool in a domain only the tool executor serves is refused at plan validation', async () => {
    const agent = new Agent({
      planner: new FunctionPlanner(() => ({ todos: [{ id: 'x', title: 'x', domain: 'data' }] })),
    });
    const r = await agent.run('go').result();
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('INVALID_PLAN');
    expect(r.error?.message).toContain(
      'todo "x" names no tool, and domain "data" is served only by the tool executor',
    );
  });

  it('with `llm`, tool-free insight todos are written by the model and tool todos still run their tool', async () => {
    const { ScriptedModel } = await import('dream-agent/testing');
    const { ToolRegistry, defineTool } = await import('dream-agent');
    const { z } = await import('zod');
    const tools = new ToolRegistry();
    let toolRuns = 0;
    tools.register(
      defineTool({
        name: 'calc.sum',
        description: 'adds',
        domain: 'insight',
        input: z.object({ a: z.number(), b: z.number() }),
        handler: ({ a, b }) => {
          toolRuns += 1;
          return { sum: a + b };
        },
      }),
    );
    const llm = new ScriptedModel({ turns: [{ text: 'The sum is 5.', deltas: ['The sum ', 'is 5.'] }] });
    const agent = new Agent({
      tools,
      llm,
      cognitive: new (await import('dream-agent')).PassthroughCognitive(),
      planner: new FunctionPlanner(() => ({
        todos: [
          { id: 'sum', title: 'Sum', domain: 'insight', tool: 'calc.sum', input: { a: 2, b: 3 } },
          {
            id: 'explain',
            title: 'Explain',
            domain: 'insight',
            dependsOn: ['sum'],
            input: { sum: { $ref: 'sum', path: 'sum' } },
          },
        ],
      })),
      responder: new (await import('dream-agent')).TemplateResponder(),
    });
    const r = await collect(agent.run('add 2 and 3'));
    expect(r.result.status).toBe('completed');
    expect(toolRuns).toBe(1);
    expect(
      r.events
        .filter((e) => e.type === 'todo.output.delta' && e.todoId === 'explain')
        .map((e) => ('delta' in e ? e.delta : '')),
    ).toEqual(['The sum ', 'is 5.']);
  });
});

describe('cancel and shutdown edge cases', () => {
  it('cancel while the cognitive layer is thinking ends the turn as cancelled, not failed', async () => {
    let entered: (() => void) | undefined;
    const thinking = new Promise<void>((r) => (entered = r));
    const agent = new Agent({
      cognitive: {
        understand: (_input, ctx) =>
          new Promise((_resolve, reject) => {
            entered?.();
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
          }),
      },
    });
    const run = agent.run('think hard', { sessionId: 'cthink' });
    await thinking;
    const c = await agent.send('cthink', { type: 'cancel', reason: 'too slow' }).result();
    expect(c.status).toBe('cancelled');
    expect((await run.result()).status).toBe('cancelled');
    const log = await agent.store.readEvents('cthink');
    expect(log.map((e) => e.type)).toEqual(['turn.started', 'run.cancelled']);
  });

  it('close() drains: the todo in flight finishes, the session is released as running, recover() elsewhere completes it', async () => {
    const store = new MemoryStore();
    let release: (() => void) | undefined;
    const gate = new Promise<void>((r) => (release = r));
    let started: (() => void) | undefined;
    const inFlight = new Promise<void>((r) => (started = r));
    const planner = new FunctionPlanner(() => ({ todos: [todo('a'), todo('b', ['a'])] }));
    const runs: string[] = [];
    const a1 = new Agent({
      store,
      planner,
      executors: {
        work: {
          async execute(t) {
            runs.push(`a1:${t.id}`);
            started?.();
            await gate;
            return { output: t.id };
          },
        },
      },
    });
    const run = a1.run('go', { sessionId: 'drain' });
    await inFlight;
    const closing = a1.close();
    release?.();
    await closing;
    expect((await rejection(run.result())).code).toBe('CLOSED');
    const rec = await store.getSession('drain');
    expect(rec?.status).toBe('running');
    expect(rec?.leaseOwner).toBeNull();
    const a2 = new Agent({
      store,
      planner,
      executors: { work: { execute: async (t) => (runs.push(`a2:${t.id}`), { output: t.id }) } },
    });
    expect(await a2.recover()).toEqual(['drain']);
    for (let i = 0; i < 200 && (await store.getSession('drain'))?.status !== 'idle'; i += 1)
      await new Promise((r) => setTimeout(r, 5));
    expect(runs).toEqual(['a1:a', 'a2:b']);
    expect((await a2.getSession('drain')).turn?.outcome).toBe('completed');
  });
});

describe('editing a running plan', () => {
  it('an edit during execution can add an approval gate to a pending todo, add and remove todos; started ones are locked', async () => {
    let release: (() => void) | undefined;
    const gate = new Promise<void>((r) => (release = r));
    let started: (() => void) | undefined;
    const aStarted = new Promise<void>((r) => (started = r));
    const ran: string[] = [];
    const store = new MemoryStore();
    const agent = new Agent({
      store,
      planner: new FunctionPlanner(() => ({ todos: [todo('a'), todo('b', ['a']), todo('c', ['a'])] })),
      executors: {
        work: {
          async execute(t) {
            ran.push(t.id);
            if (t.id === 'a') {
              started?.();
              await gate;
            }
            return { output: t.id };
          },
        },
      },
    });
    const run = agent.run('go', { sessionId: 'live-edit' });
    await aStarted;
    // a is running: it is locked
    expect(
      (
        await rejection(
          agent.send('live-edit', { type: 'plan.edit', edits: [{ op: 'remove', todoId: 'a' }] }).result(),
        )
      ).code,
    ).toBe('INVALID_EDIT');
    const edit = agent.send('live-edit', {
      type: 'plan.edit',
      baseVersion: 1,
      actor: 'eve',
      edits: [
        { op: 'update', todoId: 'b', patch: { approval: true } },
        { op: 'remove', todoId: 'c' },
        { op: 'add', todo: todo('d', ['a']) },
      ],
    });
    for (let i = 0; i < 1000 && (await store.pendingCommands('live-edit')).length === 0; i += 1)
      await new Promise((r) => setTimeout(r, 2));
    release?.();
    const r = await run.result();
    expect(r.status).toBe('waiting');
    expect(r.pending.map((p) => [p.kind, p.todoId])).toEqual([['approval', 'b']]);
    expect((await edit.result()).status).toBe('waiting');
    expect(ran).toEqual(['a', 'd']);
    const snap = await agent.getSession('live-edit');
    expect(snap.plan?.version).toBe(2);
    expect(snap.todos.find((t) => t.todoId === 'c')).toMatchObject({
      status: 'skipped',
      skipReason: 'removed',
    });
    const done = await agent
      .send('live-edit', { type: 'approval.grant', requestId: r.pending[0]?.id ?? '' })
      .result();
    expect(done.status).toBe('completed');
    expect(ran).toEqual(['a', 'd', 'b']);
  });
});

describe('a broken plugin never leaves a session stuck', () => {
  it('an approval policy that throws fails the turn, records why, and releases the session', async () => {
    const store = new MemoryStore();
    const agent = new Agent({
      store,
      planner: new FunctionPlanner(() => ({ todos: [todo('a')] })),
      executors: { work: scriptedExecutor(new Recorder()) },
      hitl: {
        approvals: () => {
          throw new Error('policy service is down');
        },
      },
    });
    const r = await agent.run('go', { sessionId: 'broken-policy' }).result();
    expect(r.status).toBe('failed');
    expect(r.error?.message).toBe('policy service is down');
    const rec = await store.getSession('broken-policy');
    expect(rec?.status).toBe('idle');
    expect(rec?.leaseOwner).toBeNull();
    expect((await store.readEvents('broken-policy')).at(-1)?.type).toBe('turn.failed');
    // the session is usable again
    expect((await agent.run('again', { sessionId: 'broken-policy' }).result()).status).toBe('failed');
  });
});
