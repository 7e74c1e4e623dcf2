import { describe, expect, it } from 'vitest';
import {
  Agent,
  FunctionPlanner,
  MemoryEventBus,
  MemoryStore,
  isDreamAgentError,
  type Executor,
} from 'dream-agent';
import { ManualClock, pausableStore } from 'dream-agent/testing';
import { Recorder, todo } from './fixtures.js';

const TTL = 1000;

/** Waits (real time, bounded) until a condition holds. */
async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i += 1) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** An executor that blocks on todo `block` until released; everything else returns at once. */
function gatedExecutor(rec: Recorder) {
  let release: (() => void) | undefined;
  const gate = new Promise<void>((r) => (release = r));
  const started = new Set<string>();
  const exec: Executor = {
    async execute(t, _input, ctx) {
      rec.record(t, ctx);
      started.add(t.id);
      if (t.id === 'block') await gate;
      return { output: { by: ctx.sessionId, todo: t.id, key: ctx.idempotencyKey } };
    },
  };
  return { exec, started, release: () => release?.() };
}

function setup(idempotentBlock: boolean) {
  const clock = new ManualClock();
  const inner = new MemoryStore({ clock });
  const bus = new MemoryEventBus();
  const planner = new FunctionPlanner(() => ({
    todos: [
      todo('one'),
      todo('two', ['one']),
      todo('block', ['two'], { idempotent: idempotentBlock }),
      todo('after', ['block']),
    ],
  }));
  return { clock, inner, bus, planner };
}

describe('crash simulation in process (manual clock, no sleeps)', () => {
  it('a non-idempotent todo in flight at the crash raises recovery; completed todos never re-run; the old owner cannot commit', async () => {
    const { clock, inner, bus, planner } = setup(false);
    const rec1 = new Recorder();
    const g1 = gatedExecutor(rec1);
    const s1 = pausableStore(inner);
    const a1 = new Agent({
      store: s1,
      bus,
      clock,
      planner,
      executors: { work: g1.exec },
      leaseTtlMs: TTL,
      nodeId: 'node-1',
    });
    const run1 = a1.run('go', { sessionId: 'crash-1' });
    await until(() => g1.started.has('block'), 'block to start');
    // The start of the non-idempotent todo was committed before its code ran.
    expect(
      (await inner.getTodos('crash-1', (await inner.getSession('crash-1'))?.state.turn?.id ?? '')).find(
        (t) => t.todoId === 'block',
      )?.status,
    ).toBe('running');
    s1.pause(); // node-1 "crashes"
    clock.advance(TTL + 1);

    const rec2 = new Recorder();
    const g2 = gatedExecutor(rec2);
    const a2 = new Agent({
      store: inner,
      bus,
      clock,
      planner,
      executors: { work: g2.exec },
      leaseTtlMs: TTL,
      nodeId: 'node-2',
    });
    expect(await a2.recover()).toEqual(['crash-1']);
    await until(async () => (await inner.getSession('crash-1'))?.status === 'waiting', 'recovery request');
    const snap = await a2.getSession('crash-1');
    expect(snap.pending.map((p) => p.kind)).toEqual(['recovery']);
    expect(snap.pending[0]?.todoId).toBe('block');
    expect(rec2.runs.size).toBe(0); // nothing re-ran: one/two completed, block awaits a human

    // The old owner wakes up and its todo returns: it must not be able to commit anything.
    const seqBefore = (await inner.getSession('crash-1'))?.lastSeq;
    s1.resume();
    g1.release();
    const err = await run1.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDreamAgentError(err, 'CONFLICT')).toBe(true);
    expect((await inner.getSession('crash-1'))?.lastSeq).toBe(seqBefore);

    // A human decides: it did take effect → mark done; the rest completes, without re-running anything.
    const done = await a2
      .send('crash-1', {
        type: 'recovery.resolve',
        requestId: snap.pending[0]?.id ?? '',
        decision: 'mark_done',
        output: { manual: true },
        actor: 'ops',
      })
      .result();
    expect(done.status).toBe('completed');
    expect(Object.fromEntries(rec1.runs)).toEqual({ one: 1, two: 1, block: 1 });
    expect(Object.fromEntries(rec2.runs)).toEqual({ after: 1 });
    const log = [];
    for await (const e of a2.events('crash-1')) log.push(e);
    expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
    expect(
      log.filter((e) => e.type === 'todo.completed').map((e) => ('todoId' in e ? e.todoId : '')),
    ).toEqual(['one', 'two', 'block', 'after']);
    await a2.close();
  });

  it('an idempotent todo in flight at the crash re-runs once, with the same idempotency key', async () => {
    const { clock, inner, bus, planner } = setup(true);
    const rec1 = new Recorder();
    const g1 = gatedExecutor(rec1);
    const s1 = pausableStore(inner);
    const a1 = new Agent({ store: s1, bus, clock, planner, executors: { work: g1.exec }, leaseTtlMs: TTL });
    const run1 = a1.run('go', { sessionId: 'crash-2' });
    await until(() => g1.started.has('block'), 'block to start');
    s1.pause();
    const turnId = (await inner.getSession('crash-2'))?.state.turn?.id ?? '';
    const completedBefore = (await inner.getTodos('crash-2', turnId))
      .filter((t) => t.status === 'completed')
      .map((t) => t.todoId);
    clock.advance(TTL + 1);
    const rec2 = new Recorder();
    const g2 = gatedExecutor(rec2);
    g2.release();
    const a2 = new Agent({
      store: inner,
      bus,
      clock,
      planner,
      executors: { work: g2.exec },
      leaseTtlMs: TTL,
    });
    expect(await a2.recover()).toEqual(['crash-2']);
    await until(async () => (await inner.getSession('crash-2'))?.status === 'idle', 'completion');
    const snap = await a2.getSession('crash-2');
    expect(snap.turn?.outcome).toBe('completed');
    // idempotent todos are not start-committed: "one" and "two" may or may not have committed before the
    // crash, but nothing that completed ran again, and "block" ran once more with the same key.
    for (const id of completedBefore) expect(rec2.count(id)).toBe(0);
    expect(rec1.count('block')).toBe(1);
    expect(rec2.count('block')).toBe(1);
    expect(rec2.count('after')).toBe(1);
    expect([...(rec1.keys.get('block') ?? [])]).toEqual([...(rec2.keys.get('block') ?? [])]);
    const completed = snap.todos.filter((t) => t.status === 'completed').map((t) => t.todoId);
    expect(completed).toEqual(['one', 'two', 'block', 'after']);
    s1.resume();
    g1.release();
    await run1.result().catch(() => undefined);
    expect((await a2.getSession('crash-2')).lastSeq).toBe(snap.lastSeq);
    await a2.close();
  });

  it('two agents racing to resume the same session: exactly one drives it, every todo runs once', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock });
    const bus = new MemoryEventBus();
    const rec = new Recorder();
    const planner = new FunctionPlanner(() => ({
      todos: [todo('a'), todo('b', ['a']), todo('c', ['a']), todo('d', ['b', 'c'], { approval: true })],
    }));
    const exec: Executor = {
      async execute(t, _i, ctx) {
        rec.record(t, ctx);
        await new Promise((r) => setTimeout(r, 1));
        return { output: t.id };
      },
    };
    const agents = [1, 2, 3].map(
      (n) => new Agent({ store, bus, clock, planner, executors: { work: exec }, nodeId: `n${n}` }),
    );
    const first = await agents[0]?.run('go', { sessionId: 'race-1' }).result();
    expect(first?.status).toBe('waiting');
    const requestId = first?.pending[0]?.id ?? '';
    const results = await Promise.allSettled(
      agents.map((a) =>
        a.send('race-1', { type: 'approval.grant', requestId, commandId: 'grant-1' }).result(),
      ),
    );
    const statuses = results.map((r) =>
      r.status === 'fulfilled' ? r.value.status : `rejected:${String((r.reason as { code?: string }).code)}`,
    );
    expect(statuses).toEqual(['completed', 'completed', 'completed']);
    expect(Object.fromEntries(rec.runs)).toEqual({ a: 1, b: 1, c: 1, d: 1 });
    const log = await store.readEvents('race-1', { limit: 10_000 });
    expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
    expect(log.filter((e) => e.type === 'approval.resolved')).toHaveLength(1);
    for (const a of agents) await a.close();
  });
});

describe('fail closed: the store blinks', () => {
  it('commits that fail with UNAVAILABLE (or whose reply is lost) are retried; the turn completes and nothing runs twice', async () => {
    const { wrapStore } = await import('dream-agent/testing');
    const { DreamAgentError } = await import('dream-agent');
    const inner = new MemoryStore();
    let calls = 0;
    const flaky = wrapStore(inner, async (method, call) => {
      if (method !== 'commit') return call();
      calls += 1;
      if (calls === 3 || calls === 4) throw new DreamAgentError('UNAVAILABLE', 'connection reset');
      if (calls === 6) {
        await call(); // it landed, but the reply was lost
        throw new DreamAgentError('UNAVAILABLE', 'connection reset after commit');
      }
      return call();
    });
    const rec = new Recorder();
    const agent = new Agent({
      store: flaky,
      planner: new FunctionPlanner(() => ({ todos: [todo('a'), todo('b', ['a']), todo('c', ['b'])] })),
      executors: { work: { execute: async (t, _i, ctx) => (rec.record(t, ctx), { output: t.id }) } },
    });
    const r = await agent.run('go', { sessionId: 'blink' }).result();
    expect(r.status).toBe('completed');
    expect(Object.fromEntries(rec.runs)).toEqual({ a: 1, b: 1, c: 1 });
    expect(calls).toBeGreaterThan(6);
    const log = await inner.readEvents('blink', { limit: 1000 });
    expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
    expect(log.filter((e) => e.type === 'todo.completed')).toHaveLength(3);
  });
});
