/**
 * Regression tests for the tightened promises (issue 10 §1), written against the public API only. Each
 * describes what was seen breaking it.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  Agent,
  defineTool,
  FunctionPlanner,
  MemoryEventBus,
  MemoryStore,
  ToolRegistry,
  isDreamAgentError,
  type AgentEvent,
  type EventBus,
  type Executor,
  type HitlRequest,
  type Responder,
  type RunResult,
  type Store,
  type TodoInput,
} from 'dream-agent';
import { pausableStore, wrapStore } from 'dream-agent/testing';
import { collect, rejection } from '../helpers/run.js';
import { Recorder, scriptedExecutor, todo } from './fixtures.js';

const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([
    p,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms),
    ),
  ]);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function simple(todos: TodoInput[], extra: ConstructorParameters<typeof Agent>[0] = {}) {
  const rec = new Recorder();
  const agent = new Agent({
    store: new MemoryStore(),
    planner: new FunctionPlanner(() => ({ todos })),
    executors: { work: scriptedExecutor(rec) },
    ...extra,
  });
  return { agent, rec };
}

describe('an approval covers exactly what then runs', () => {
  it('an edit of a todo awaiting approval withdraws the request; the old grant is refused; the new effect is shown', async () => {
    const outputs: unknown[] = [];
    const exec: Executor = {
      async execute(t, input) {
        outputs.push({ id: t.id, input });
        return { output: { sent: true } };
      },
    };
    const agent = new Agent({
      store: new MemoryStore(),
      planner: new FunctionPlanner(() => ({
        todos: [
          { id: 'who', title: 'Find recipients', domain: 'work', input: { list: 'team' } },
          {
            id: 'mail',
            title: 'Send the report',
            domain: 'work',
            dependsOn: ['who'],
            input: { to: 'team@corp', body: { $ref: 'who', path: 'sent' } },
            approval: { required: true, roles: ['manager'] },
          },
        ],
      })),
      executors: { work: exec },
    });
    const first = await collect(agent.run('mail the team', { sessionId: 'fx-1' }));
    expect(first.result.status).toBe('waiting');
    const asked = first.events.find((e) => e.type === 'approval.requested');
    const req = asked?.type === 'approval.requested' ? asked.request : undefined;
    expect(req?.effect).toEqual({
      todoId: 'mail',
      todoVersion: 1,
      input: { to: 'team@corp', body: true }, // the $ref is substituted: what will really run
    });
    expect(req?.digest).toMatch(/^[0-9a-f]{64}$/);
    const snap = await agent.getSession('fx-1');
    expect(snap.pending[0]?.effect).toEqual(req?.effect);
    expect(snap.pending[0]?.digest).toBe(req?.digest);

    // An actor with no role edits the recipient while the request is open.
    const edit = await collect(
      agent.send('fx-1', {
        type: 'plan.edit',
        actor: 'mallory',
        edits: [{ op: 'update', todoId: 'mail', patch: { input: { to: 'attacker@evil', body: 'x' } } }],
      }),
    );
    const resolved = edit.events.find((e) => e.type === 'approval.resolved');
    expect(resolved).toMatchObject({ requestId: req?.id, outcome: 'superseded', granted: false });
    const again = edit.events.find((e) => e.type === 'approval.requested');
    const next = again?.type === 'approval.requested' ? again.request : undefined;
    expect(next?.id).not.toBe(req?.id);
    expect(next?.effect).toMatchObject({ todoVersion: 2, input: { to: 'attacker@evil', body: 'x' } });
    expect(edit.result.pending.map((p) => p.id)).toEqual([next?.id]);

    // The manager's grant of what they saw is refused; nothing ran.
    const stale = await rejection(
      agent
        .send('fx-1', {
          type: 'approval.grant',
          requestId: req?.id ?? '',
          actor: { id: 'boss', roles: ['manager'] },
        })
        .result(),
    );
    expect(stale.code).toBe('REQUEST_NOT_FOUND');
    expect(outputs.filter((o) => (o as { id: string }).id === 'mail')).toEqual([]);

    // A grant naming a digest must match the effect it grants.
    const wrong = await rejection(
      agent
        .send('fx-1', {
          type: 'approval.grant',
          requestId: next?.id ?? '',
          digest: req?.digest ?? '',
          actor: { id: 'boss', roles: ['manager'] },
        })
        .result(),
    );
    expect(wrong.code).toBe('STALE_VERSION');
    const ok = await agent
      .send('fx-1', {
        type: 'approval.grant',
        requestId: next?.id ?? '',
        digest: next?.digest ?? '',
        actor: { id: 'boss', roles: ['manager'] },
      })
      .result();
    expect(ok.status).toBe('completed');
    expect(outputs.at(-1)).toEqual({ id: 'mail', input: { to: 'attacker@evil', body: 'x' } });
  });

  it('input requested after the grant re-opens the approval with the new effect (unless the policy keeps it)', async () => {
    const sent: unknown[] = [];
    const exec: Executor = {
      async execute(t, input, ctx) {
        const to = await ctx.requestInput({ prompt: 'recipient?', key: 'to', schema: { type: 'string' } });
        sent.push({ ...input, to });
        return { output: { to } };
      },
    };
    const plan = { todos: [todo('mail', [], { approval: true, input: { subject: 'Q3' } })] };
    for (const keep of [false, true]) {
      sent.length = 0;
      const agent = new Agent({
        store: new MemoryStore(),
        planner: new FunctionPlanner(() => plan),
        executors: { work: exec },
        hitl: { keepApprovalAfterInput: keep },
      });
      const sid = `late-${String(keep)}`;
      const r1 = await agent.run('mail', { sessionId: sid }).result();
      const approval = r1.pending[0] as HitlRequest;
      expect(approval.effect?.provided).toBeUndefined();
      const r2 = await agent.send(sid, { type: 'approval.grant', requestId: approval.id }).result();
      expect(r2.pending[0]?.kind).toBe('input');
      const r3 = await collect(
        agent.send(sid, { type: 'input.provide', requestId: r2.pending[0]?.id ?? '', value: 'anyone@evil' }),
      );
      if (keep) {
        expect(r3.result.status).toBe('completed');
        expect(sent).toEqual([{ subject: 'Q3', to: 'anyone@evil' }]);
        continue;
      }
      // The approver approved `to: (not yet known)`; now they must see the address.
      expect(sent).toEqual([]);
      expect(r3.result.status).toBe('waiting');
      const reopened = r3.result.pending[0];
      expect(reopened?.kind).toBe('approval');
      expect(reopened?.id).not.toBe(approval.id);
      expect(reopened?.effect?.provided).toEqual({ to: 'anyone@evil' });
      const r4 = await agent.send(sid, { type: 'approval.deny', requestId: reopened?.id ?? '' }).result();
      expect(r4.status).toBe('completed');
      expect(sent).toEqual([]);
      expect(r4.todos).toMatchObject({ total: 1, skipped: 1, skips: [{ todoId: 'mail', reason: 'denied' }] });
    }
  });

  it('a new tool version withdraws an open request and asks again', async () => {
    const tools = new ToolRegistry();
    const def = (version: string) =>
      defineTool({
        name: 'mail.send',
        version,
        description: 'Sends mail',
        domain: 'ops',
        input: z.object({ to: z.string() }),
        handler: ({ to }) => ({ to, version }),
        approval: true,
      });
    tools.register(def('1.0.0'));
    const agent = new Agent({
      store: new MemoryStore(),
      tools,
      planner: new FunctionPlanner(() => ({
        todos: [{ id: 'm', title: 'Mail', domain: 'ops', tool: 'mail.send', input: { to: 'team@corp' } }],
      })),
    });
    const r1 = await agent.run('mail', { sessionId: 'tv-1' }).result();
    expect(r1.pending[0]?.effect).toMatchObject({ tool: 'mail.send', toolVersion: '1.0.0' });
    tools.register(def('2.0.0'));
    tools.unregister('mail.send', '1.0.0');
    // Any command boundary re-checks the effect: the grant of the 1.0.0 request no longer applies.
    const e = await rejection(
      agent.send('tv-1', { type: 'approval.grant', requestId: r1.pending[0]?.id ?? '' }).result(),
    );
    expect(['REQUEST_NOT_FOUND', 'STALE_VERSION']).toContain(e.code);
    const snap = await agent.getSession('tv-1');
    const req = snap.pending.find((p) => p.kind === 'approval');
    expect(req?.effect).toMatchObject({ toolVersion: '2.0.0' });
    const done = await agent.send('tv-1', { type: 'approval.grant', requestId: req?.id ?? '' }).result();
    expect(done.status).toBe('completed');
    const after = await agent.getSession('tv-1');
    expect(after.todos[0]?.output).toEqual({ to: 'team@corp', version: '2.0.0' });
  });
});

/** A bus that accepts every message and delivers none. */
const deafBus = (): EventBus => ({
  publish: async () => undefined,
  subscribe: async () => async () => undefined,
});

describe('a command is applied by the owner at the next cycle boundary, with or without a bus', () => {
  for (const variant of ['two agents sharing only a store', 'a bus that drops every message']) {
    it(`pause and cancel reach a running 20-todo turn: ${variant}`, async () => {
      const store = new MemoryStore();
      const shared = variant.startsWith('a bus') ? deafBus() : undefined;
      const rec = new Recorder();
      const make = (nodeId: string) =>
        new Agent({
          store,
          nodeId,
          ...(shared ? { bus: shared } : {}),
          planner: new FunctionPlanner(() => ({
            todos: Array.from({ length: 20 }, (_, i) =>
              todo(`t${i}`, i === 0 ? [] : [`t${i - 1}`], { input: { mode: 'slow', ms: 10 } }),
            ),
          })),
          executors: { work: scriptedExecutor(rec) },
        });
      const a = make('node-a');
      const b = make('node-b');
      const run = a.run('go', { sessionId: 'remote-1' });
      run.onAny(() => undefined);
      while (rec.count('t1') === 0) await sleep(2);
      const paused = await within(
        b.send('remote-1', { type: 'pause', actor: 'ops' }).result(),
        5000,
        'pause',
      );
      expect(paused.status).toBe('paused');
      expect((await within(run.result(), 5000, 'run')).status).toBe('paused');
      const ran = [...rec.runs.keys()].length;
      expect(ran).toBeLessThan(20);
      const cancelled = await within(
        b.send('remote-1', { type: 'cancel', reason: 'enough' }).result(),
        5000,
        'cancel',
      );
      expect(cancelled.status).toBe('cancelled');
      expect([...rec.runs.keys()].length).toBe(ran);
      await a.close();
      await b.close();
    });
  }

  it('the owner learns of new commands from its own commit (no extra inbox read per cycle)', async () => {
    const inner = new MemoryStore();
    let inboxReads = 0;
    const store = wrapStore(inner, (method, call) => {
      if (method === 'pendingCommands') inboxReads += 1;
      return call();
    });
    const { agent } = simple(
      Array.from({ length: 30 }, (_, i) => todo(`t${i}`, i === 0 ? [] : [`t${i - 1}`])),
      { store },
    );
    const r = await agent.run('go', { sessionId: 'hot-1' }).result();
    expect(r.status).toBe('completed');
    expect(inboxReads).toBeLessThanOrEqual(3);
  });
});

describe('at concurrency > 1, completions that land together share one commit', () => {
  it('eight parallel todos behind a slow store need fewer commits than todos', async () => {
    const inner = new MemoryStore();
    let commits = 0;
    const store = wrapStore(inner, async (method, call) => {
      if (method === 'commit') {
        commits += 1;
        await sleep(10);
      }
      return call();
    });
    const { agent } = simple(
      Array.from({ length: 8 }, (_, i) => todo(`p${i}`)),
      { store, concurrency: 8 },
    );
    const r = await agent.run('go', { sessionId: 'batch-1' }).result();
    expect(r.status).toBe('completed');
    expect(r.todos?.completed).toBe(8);
    // planning + one shared commit for the completions (+ a few boundaries), never one per todo
    expect(commits).toBeLessThan(8);
    const log = await inner.readEvents('batch-1', { limit: 1000 });
    expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
  });
});

describe('resume() of a crashed session takes it over', () => {
  for (const idempotent of [false, true]) {
    it(`at lease expiry, ${idempotent ? 'continuing an idempotent todo with the same key' : 'raising a recovery request for a non-idempotent todo'}`, async () => {
      const inner = new MemoryStore();
      const dead = pausableStore(inner);
      const keys: string[] = [];
      let started!: () => void;
      const running = new Promise<void>((r) => (started = r));
      const exec: Executor = {
        async execute(t, _input, ctx) {
          keys.push(ctx.idempotencyKey);
          started();
          if (keys.length === 1) await new Promise(() => undefined); // the process dies here
          return { output: t.id };
        },
      };
      const options = {
        planner: new FunctionPlanner(() => ({ todos: [todo('x', [], { idempotent })] })),
        executors: { work: exec },
        leaseTtlMs: 150,
      };
      const a = new Agent({ ...options, store: dead, nodeId: 'dead' });
      void a
        .run('go', { sessionId: 'crash-1' })
        .result()
        .catch(() => undefined);
      await running;
      dead.pause(); // SIGKILL: nothing of node "dead" reaches the store any more
      const b = new Agent({ ...options, store: inner, nodeId: 'alive' });
      const r = await within(b.resume('crash-1').result(), 5000, 'resume');
      const rec = await inner.getSession('crash-1');
      if (idempotent) {
        expect(r.status).toBe('completed');
        expect(keys).toHaveLength(2);
        expect(keys[1]).toBe(keys[0]);
      } else {
        expect(r.status).toBe('waiting');
        expect(r.pending.map((p) => p.kind)).toEqual(['recovery']);
        expect(keys).toHaveLength(1);
      }
      // Never a status the store contradicts.
      expect(rec?.status).toBe(r.status === 'completed' ? 'idle' : 'waiting');
      expect(rec?.leaseOwner).toBeNull();
      await b.close();
    });
  }
});

describe('reacting at once to an event never gets a false refusal', () => {
  it('plan.approve on plan.review.requested and approval.grant on approval.requested, sent synchronously from the listener', async () => {
    const agent = new Agent({
      store: new MemoryStore(),
      planner: new FunctionPlanner(() => ({ todos: [todo('a'), todo('b', ['a'], { approval: true })] })),
      executors: { work: scriptedExecutor(new Recorder()) },
      hitl: { planReview: 'always' },
    });
    const refusals: string[] = [];
    const results = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const sid = `react-${i}`;
        const replies: Promise<RunResult>[] = [];
        const answered = new Set<string>();
        const react = (e: AgentEvent): void => {
          // One reaction per request, as a UI answers each request once (several runs may stream it).
          if ('request' in e) {
            if (answered.has(e.request.id)) return;
            answered.add(e.request.id);
          }
          const send = (cmd: Parameters<Agent['send']>[1]) => {
            const run = agent.send(sid, cmd);
            run.onAny(react);
            replies.push(
              run.result().catch((err: unknown) => {
                refusals.push(`${cmd.type}: ${isDreamAgentError(err) ? err.code : String(err)}`);
                throw err;
              }),
            );
          };
          if (e.type === 'plan.review.requested') send({ type: 'plan.approve', actor: 'alice' });
          if (e.type === 'approval.requested') send({ type: 'approval.grant', requestId: e.request.id });
        };
        const run = agent.run('go', { sessionId: sid });
        run.onAny(react);
        await run.result();
        for (let k = 0; k < replies.length; k += 1) await replies[k]?.catch(() => undefined);
        return agent.getSession(sid);
      }),
    );
    expect(refusals).toEqual([]);
    expect(results.map((s) => s.status)).toEqual(results.map(() => 'idle'));
  });
});

describe('a session never hangs under its own lease', () => {
  it('an approval gate decided while another todo is in flight, whose commit was queued first (concurrency 2)', async () => {
    const inner = new MemoryStore();
    let committing!: () => void;
    const slowCommitStarted = new Promise<void>((r) => (committing = r));
    const base = wrapStore(inner, (_m, call) => call());
    const store: Store = {
      ...base,
      commit: async (c) => {
        if (c.todos.some((t) => t.todoId === 'slow' && t.status === 'completed')) {
          committing();
          await sleep(30); // the in-flight todo's commit is slow and queued before the gate's
        }
        return inner.commit(c);
      },
    };
    const { agent } = simple(
      [todo('fast'), todo('slow', [], { input: { mode: 'slow', ms: 10 } }), todo('gated', ['fast'])],
      {
        store,
        concurrency: 2,
        hitl: {
          // The gate is decided while "slow" is committing its outcome.
          approvals: async (t) => {
            if (t.id !== 'gated') return undefined;
            await slowCommitStarted;
            return 'require';
          },
        },
      },
    );
    const r = await within(agent.run('go', { sessionId: 'hang-1' }).result(), 5000, 'run');
    expect(r.status).toBe('waiting');
    expect(r.pending.map((p) => p.todoId)).toEqual(['gated']);
    const done = await within(
      agent.send('hang-1', { type: 'approval.grant', requestId: r.pending[0]?.id ?? '' }).result(),
      5000,
      'grant',
    );
    expect(done.status).toBe('completed');
  });

  it('createSession and acquireLease failing UNAVAILABLE are retried (fail closed), never a rejected run', async () => {
    const inner = new MemoryStore();
    const failures = { createSession: 2, acquireLease: 2 };
    const store = wrapStore(inner, async (method, call) => {
      if ((method === 'createSession' || method === 'acquireLease') && failures[method] > 0) {
        failures[method] -= 1;
        const { DreamAgentError } = await import('dream-agent');
        throw new DreamAgentError('UNAVAILABLE', 'database restarting');
      }
      return call();
    });
    const { agent } = simple([todo('a')], { store });
    expect((await agent.run('one', { sessionId: 'blink-1' }).result()).status).toBe('completed');
    expect((await agent.run('two', { sessionId: 'blink-1' }).result()).status).toBe('completed');
    expect(failures).toEqual({ createSession: 0, acquireLease: 0 });
  });

  it('creation and the first commit are one step: a process killed right after creating keeps the input', async () => {
    const inner = new MemoryStore();
    const dead = pausableStore(inner);
    const gate = wrapStore(dead, async (method, call) => {
      const result = await call();
      if (method === 'createSession') dead.pause(); // killed right after the session was created
      return result;
    });
    const opts = {
      planner: new FunctionPlanner(() => ({ todos: [todo('a')] })),
      executors: { work: scriptedExecutor(new Recorder()) },
      leaseTtlMs: 100,
    };
    const a = new Agent({ ...opts, store: gate, nodeId: 'dead' });
    void a
      .run('the user input', { sessionId: 'kill-1' })
      .result()
      .catch(() => undefined);
    while (!(await inner.getSession('kill-1'))) await sleep(2);
    const rec = await inner.getSession('kill-1');
    expect(rec?.state.turn?.input).toBe('the user input');
    expect((await inner.readEvents('kill-1')).map((e) => [e.seq, e.type])).toEqual([[1, 'turn.started']]);
    await sleep(120);
    const b = new Agent({ ...opts, store: inner, nodeId: 'b' });
    expect(await b.recover()).toEqual(['kill-1']);
    const done = await within(b.resume('kill-1').result(), 5000, 'resume');
    expect(done.status).toBe('completed');
    await b.close();
  });
});

describe('bad input is refused, never half-read', () => {
  it('an unknown key inside an edit is refused naming its path; nothing changes', async () => {
    const { agent } = simple([todo('a'), todo('b'), todo('c', ['a'])], { hitl: { planReview: 'always' } });
    await agent.run('go', { sessionId: 'strict-1' }).result();
    const before = await agent.getSession('strict-1');
    const e = await rejection(
      agent
        .send('strict-1', {
          type: 'plan.edit',
          // @ts-expect-error -- a typo: `dependson` is not a todo field, so it does not compile either
          edits: [{ op: 'update', todoId: 'c', patch: { dependson: ['b'] } }],
        })
        .result(),
    );
    expect(e.code).toBe('INVALID_INPUT');
    expect(e.message).toContain('edits.0.patch');
    expect(e.message).toContain('dependson');
    expect((await agent.getSession('strict-1')).version).toBe(before.version);
    const add = await rejection(
      agent
        .send('strict-1', {
          type: 'plan.edit',
          // @ts-expect-error -- unknown key inside an added todo
          edits: [{ op: 'add', todo: { id: 'd', title: 'D', domain: 'work', dependson: ['a'] } }],
        })
        .result(),
    );
    expect(add.message).toContain('edits.0.todo');
  });

  it('a planner todo with an unknown key fails the turn with INVALID_PLAN', async () => {
    const { agent } = simple([{ ...todo('a'), dependson: [] } as unknown as TodoInput]);
    const r = await agent.run('go', { sessionId: 'strict-2' }).result();
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('INVALID_PLAN');
  });

  it('a partial update patch merges: a {title} patch keeps input and dependsOn', async () => {
    const { agent } = simple([todo('a'), todo('b', ['a'], { input: { region: 'EU' } })], {
      hitl: { planReview: 'always' },
    });
    await agent.run('go', { sessionId: 'patch-1' }).result();
    await agent
      .send('patch-1', {
        type: 'plan.edit',
        edits: [{ op: 'update', todoId: 'b', patch: { title: 'Renamed' } }],
      })
      .result();
    const plan = (await agent.getSession('patch-1')).plan;
    expect(plan?.todos[1]).toMatchObject({ title: 'Renamed', input: { region: 'EU' }, dependsOn: ['a'] });
    await agent
      .send('patch-1', {
        type: 'plan.edit',
        edits: [{ op: 'update', todoId: 'b', patch: { input: { region: 'US' } } }],
      })
      .result();
    const plan2 = (await agent.getSession('patch-1')).plan;
    expect(plan2?.todos[1]).toMatchObject({ title: 'Renamed', input: { region: 'US' }, dependsOn: ['a'] });
  });

  it('an executor result without output is a typed executor error; the result counts failed and skipped todos', async () => {
    const exec: Executor = {
      // @ts-expect-error -- no `output`: the type says so, and so does the engine at run time
      execute: async (t) => (t.id === 'bad' ? {} : { output: t.id }),
    };
    const agent = new Agent({
      store: new MemoryStore(),
      planner: new FunctionPlanner(() => ({ todos: [todo('ok'), todo('bad'), todo('after', ['bad'])] })),
      executors: { work: exec },
    });
    const { events, result } = await collect(agent.run('go', { sessionId: 'out-1' }));
    const failed = events.find((e) => e.type === 'todo.failed');
    expect(failed).toMatchObject({ todoId: 'bad', error: { code: 'INVALID_INPUT' } });
    expect(failed?.type === 'todo.failed' && failed.error.message).toContain('without "output"');
    expect(result.status).toBe('completed');
    expect(result.todos).toMatchObject({
      total: 3,
      completed: 1,
      failed: 1,
      skipped: 1,
      failures: [{ todoId: 'bad', error: { code: 'INVALID_INPUT' } }],
      skips: [{ todoId: 'after', reason: 'dependency_failed' }],
    });
  });
});

describe('calls that always end', () => {
  it('cancel wins during a responder call that ignores its abort signal', async () => {
    let called!: () => void;
    const inResponder = new Promise<void>((r) => (called = r));
    const responder: Responder = {
      respond: () => {
        called();
        return new Promise<string>(() => undefined); // never settles, ignores the signal
      },
    };
    const { agent } = simple([todo('a')], { responder });
    const run = agent.run('go', { sessionId: 'cw-1' });
    await inResponder;
    const c = await within(agent.send('cw-1', { type: 'cancel', reason: 'stop' }).result(), 2000, 'cancel');
    expect(c.status).toBe('cancelled');
    expect((await within(run.result(), 2000, 'run')).status).toBe('cancelled');
    expect((await agent.getSession('cw-1')).status).toBe('idle');
  });

  it('a late responder failure after every todo ran: retried once, then the turn completes with answerError and results intact', async () => {
    let calls = 0;
    const flaky: Responder = {
      respond: async () => {
        calls += 1;
        if (calls === 1) throw new Error('stream cut');
        return 'all done';
      },
    };
    const one = simple([todo('a')], { responder: flaky });
    const r1 = await one.agent.run('go', { sessionId: 'late-1' }).result();
    expect(r1).toMatchObject({ status: 'completed', answer: 'all done' });
    expect(calls).toBe(2);

    const broken: Responder = {
      respond: async () => {
        throw new Error('stream cut again');
      },
    };
    const two = simple([todo('a'), todo('b', ['a'])], { responder: broken });
    const r2 = await two.agent.run('go', { sessionId: 'late-2' }).result();
    expect(r2.status).toBe('completed');
    expect(r2.answerError?.message).toContain('stream cut again');
    expect(r2.todos).toMatchObject({ completed: 2, failed: 0 });
    expect(two.rec.count('a') + two.rec.count('b')).toBe(2);
    const snap = await two.agent.getSession('late-2');
    expect(snap.todos.map((t) => t.status)).toEqual(['completed', 'completed']);
  });
});

void MemoryEventBus;
