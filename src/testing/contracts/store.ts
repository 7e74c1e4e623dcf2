import { describe, expect, it } from './api.js';
import { loadFastCheck } from './fast-check.js';
import { isDreamAgentError } from '../../errors/index.js';
import type { EventOf } from '../../model/events.js';
import type { Json } from '../../model/json.js';
import type { Plan, PlanVersionRecord } from '../../model/plan.js';
import type { SessionState } from '../../model/session.js';
import type { Commit, LeaseToken, Store } from '../../ports/store.js';
import { ManualClock } from '../clock.js';

/** What a store factory gets: a manual clock the store must use for lease expiry. */
export interface StoreContractContext {
  /** The manual clock the suite advances; give it to the store so lease expiry follows it. */
  clock: ManualClock;
}

/** What a store factory returns. */
export interface StoreContractSubject {
  /** A fresh, empty store under test. */
  store: Store;
  /** Called after each test (drop tables, close pools…). */
  cleanup?: () => Promise<void>;
  /**
   * Optional: how many bytes the store holds for one session's plan versions (e.g. the summed length of
   * their rows). When given, the suite checks that plan history grows linearly with the edits.
   */
  planStorageBytes?: (sessionId: string) => Promise<number>;
}

/** Options of {@link storeContract}. */
export interface StoreContractOptions {
  /** Cases to skip, each with the reason printed in the test name. */
  skip?: Record<string, string>;
  /** Runs of the property cases (default 12). */
  propertyRuns?: number;
}

const TTL = 30_000;

const emptyState = (): SessionState => ({ turn: null, turns: 0, dialogue: [], slots: {}, metadata: {} });

let idCounter = 0;
const newId = (): string =>
  `s-${Date.now().toString(36)}-${(idCounter += 1)}-${Math.random().toString(36).slice(2, 8)}`;

const event = (sessionId: string, seq: number, at = 0): EventOf<'todo.progress'> => ({
  type: 'todo.progress',
  sessionId,
  turnId: 't1',
  seq,
  at,
  todoId: 'a',
  message: `step ${seq}`,
});

const commitOf = (
  sessionId: string,
  expectedVersion: number,
  lease: LeaseToken,
  patch: Partial<Commit> = {},
): Commit => ({
  sessionId,
  expectedVersion,
  lease,
  events: [],
  todos: [],
  planVersions: [],
  inboxAcks: [],
  leaseAction: 'renew',
  leaseTtlMs: TTL,
  ...patch,
});

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect(isDreamAgentError(e), `expected a DreamAgentError, got ${String(e)}`).toBe(true);
    expect((e as { code: string }).code).toBe(code);
    return;
  }
  throw new Error(`expected the call to fail with ${code}`);
}

/**
 * The Store contract suite. Every Store implementation runs it against its real backend — the memory
 * store in the core, PostgreSQL and SQLite in their adapters. Beyond the happy path it checks stale
 * versions, stale and expired leases, racing owners, seq continuity, atomicity and copy semantics.
 *
 * @param name - shown in the describe block
 * @param factory - creates a fresh store for each test, using the given manual clock for lease expiry
 * @param options - cases to skip (each with a reason)
 * @example
 * ```ts
 * storeContract('MemoryStore', async ({ clock }) => ({ store: new MemoryStore({ clock }) }));
 * ```
 */
export function storeContract(
  name: string,
  factory: (ctx: StoreContractContext) => Promise<StoreContractSubject>,
  options: StoreContractOptions = {},
): void {
  describe(`Store contract: ${name}`, () => {
    type Case = (store: Store, clock: ManualClock, subject: StoreContractSubject) => Promise<void>;
    const cases: [string, Case][] = [];
    const test = (title: string, fn: Case): void => {
      cases.push([title, fn]);
    };

    test('createSession stores the row with version 1 and gives the lease to the creator', async (store, clock) => {
      const id = newId();
      const { record, lease } = await store.createSession(
        { id, status: 'running', state: emptyState() },
        'node-a',
        TTL,
      );
      expect(record).toMatchObject({ id, version: 1, status: 'running', lastSeq: 0, leaseOwner: 'node-a' });
      expect(lease.owner).toBe('node-a');
      expect(record.leaseEpoch).toBe(lease.epoch);
      expect(record.leaseExpiresAt).toBe(clock.now() + TTL);
      const loaded = await store.getSession(id);
      expect(loaded).toEqual(record);
    });

    test('createSession on an existing id fails with SESSION_BUSY and changes nothing', async (store) => {
      const id = newId();
      const { record } = await store.createSession(
        { id, status: 'running', state: emptyState() },
        'node-a',
        TTL,
      );
      await expectCode(
        store.createSession({ id, status: 'idle', state: { ...emptyState(), turns: 9 } }, 'node-b', TTL),
        'SESSION_BUSY',
      );
      expect(await store.getSession(id)).toEqual(record);
    });

    test('unknown sessions: getSession is undefined, acquireLease fails with SESSION_NOT_FOUND', async (store) => {
      expect(await store.getSession(newId())).toBeUndefined();
      await expectCode(store.acquireLease(newId(), 'x', TTL), 'SESSION_NOT_FOUND');
      await expectCode(
        store.enqueueCommand({
          id: 'c1',
          sessionId: newId(),
          command: { type: 'pause' },
          actor: 'a',
          receivedAt: 0,
        }),
        'SESSION_NOT_FOUND',
      );
    });

    test('commit applies every delta atomically and bumps version and lastSeq', async (store) => {
      const id = newId();
      const { lease } = await store.createSession({ id, status: 'running', state: emptyState() }, 'n', TTL);
      await store.enqueueCommand({
        id: 'cmd-1',
        sessionId: id,
        command: { type: 'pause' },
        actor: 'alice',
        receivedAt: 1,
      });
      const state = { ...emptyState(), turns: 1 };
      const res = await store.commit(
        commitOf(id, 1, lease, {
          status: 'paused',
          state,
          events: [event(id, 1), event(id, 2)],
          todos: [
            {
              sessionId: id,
              turnId: 't1',
              todoId: 'a',
              status: 'completed',
              attempts: 1,
              idempotencyKey: 'k',
              output: { n: 1 },
            },
          ],
          planVersions: [
            {
              sessionId: id,
              turnId: 't1',
              plan: { id: 'p1', version: 1, todos: [] },
              edits: [],
              actor: 'planner',
              createdAt: 1,
            },
          ],
          inboxAcks: [{ commandId: 'cmd-1', status: 'applied' }],
        }),
      );
      expect(res.version).toBe(2);
      expect(res.lastSeq).toBe(2);
      const rec = await store.getSession(id);
      expect(rec).toMatchObject({ version: 2, lastSeq: 2, status: 'paused', state });
      expect((await store.readEvents(id)).map((e) => e.seq)).toEqual([1, 2]);
      expect(await store.getTodos(id, 't1')).toEqual([
        {
          sessionId: id,
          turnId: 't1',
          todoId: 'a',
          status: 'completed',
          attempts: 1,
          idempotencyKey: 'k',
          output: { n: 1 },
        },
      ]);
      expect((await store.getPlan(id, 'p1'))?.plan.version).toBe(1);
      expect(await store.pendingCommands(id)).toEqual([]);
      expect((await store.getCommand(id, 'cmd-1'))?.status).toBe('applied');
    });

    test('a commit with a stale version fails with CONFLICT and writes nothing', async (store) => {
      const id = newId();
      const { lease } = await store.createSession({ id, status: 'running', state: emptyState() }, 'n', TTL);
      await store.commit(commitOf(id, 1, lease, { events: [event(id, 1)] }));
      await expectCode(
        store.commit(
          commitOf(id, 1, lease, {
            events: [event(id, 2)],
            todos: [
              {
                sessionId: id,
                turnId: 't1',
                todoId: 'x',
                status: 'running',
                attempts: 1,
                idempotencyKey: 'k',
              },
            ],
            status: 'idle',
          }),
        ),
        'CONFLICT',
      );
      const rec = await store.getSession(id);
      expect(rec).toMatchObject({ version: 2, lastSeq: 1, status: 'running' });
      expect(await store.readEvents(id)).toHaveLength(1);
      expect(await store.getTodos(id, 't1')).toEqual([]);
    });

    test('concurrent commits on the same version: exactly one succeeds', async (store) => {
      const id = newId();
      const { lease } = await store.createSession({ id, status: 'running', state: emptyState() }, 'n', TTL);
      const results = await Promise.allSettled(
        [0, 1, 2, 3].map((i) => {
          const ev = event(id, 1);
          ev.message = `writer ${i}`;
          return store.commit(commitOf(id, 1, lease, { events: [ev] }));
        }),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results)
        if (r.status === 'rejected') expect(isDreamAgentError(r.reason, 'CONFLICT')).toBe(true);
      expect(await store.readEvents(id)).toHaveLength(1);
      expect((await store.getSession(id))?.version).toBe(2);
    });

    test('two owners racing for a free lease: exactly one wins', async (store) => {
      const id = newId();
      const { lease } = await store.createSession(
        { id, status: 'waiting', state: emptyState() },
        'creator',
        TTL,
      );
      await store.releaseLease(id, lease);
      const tokens = await Promise.all(['a', 'b', 'c', 'd'].map((o) => store.acquireLease(id, o, TTL)));
      const winners = tokens.filter((t): t is LeaseToken => t !== undefined);
      expect(winners).toHaveLength(1);
      const rec = await store.getSession(id);
      expect(rec?.leaseOwner).toBe(winners[0]?.owner);
      expect(rec?.leaseEpoch).toBe(winners[0]?.epoch);
      expect(winners[0]?.epoch).toBeGreaterThan(lease.epoch);
    });

    test('a live lease cannot be taken; an expired one is taken over with a higher epoch (manual clock)', async (store, clock) => {
      const id = newId();
      const { lease } = await store.createSession({ id, status: 'running', state: emptyState() }, 'a', TTL);
      expect(await store.acquireLease(id, 'b', TTL)).toBeUndefined();
      clock.advance(TTL - 1);
      expect(await store.acquireLease(id, 'b', TTL)).toBeUndefined();
      clock.advance(2);
      const taken = await store.acquireLease(id, 'b', TTL);
      expect(taken).toEqual({ owner: 'b', epoch: lease.epoch + 1 });
      expect(
        (await store.listSessions({ leaseExpiredBefore: clock.now(), limit: 1000 })).map((s) => s.id),
      ).not.toContain(id);
    });

    test('the old owner cannot commit, renew or release after a takeover (fencing)', async (store, clock) => {
      const id = newId();
      const { lease: old } = await store.createSession(
        { id, status: 'running', state: emptyState() },
        'a',
        TTL,
      );
      clock.advance(TTL + 1);
      const fresh = await store.acquireLease(id, 'b', TTL);
      expect(fresh).toBeDefined();
      await expectCode(store.commit(commitOf(id, 1, old, { events: [event(id, 1)] })), 'CONFLICT');
      expect(await store.renewLease(id, old, TTL)).toBeUndefined();
      await store.releaseLease(id, old);
      expect((await store.getSession(id))?.leaseOwner).toBe('b');
      if (!fresh) return;
      await store.commit(commitOf(id, 1, fresh, { events: [event(id, 1)] }));
      expect((await store.readEvents(id)).map((e) => e.seq)).toEqual([1]);
    });

    test('an owner whose lease expired cannot commit even if nobody took over', async (store, clock) => {
      const id = newId();
      const { lease } = await store.createSession({ id, status: 'running', state: emptyState() }, 'a', TTL);
      clock.advance(TTL + 1);
      await expectCode(store.commit(commitOf(id, 1, lease, { events: [event(id, 1)] })), 'CONFLICT');
      expect(await store.readEvents(id)).toEqual([]);
      expect((await store.listSessions({ leaseExpiredBefore: clock.now() })).map((s) => s.id)).toContain(id);
    });

    test('renewLease extends a live lease; commit renews or releases as asked', async (store, clock) => {
      const id = newId();
      const { lease } = await store.createSession({ id, status: 'running', state: emptyState() }, 'a', TTL);
      clock.advance(TTL - 10);
      const until = await store.renewLease(id, lease, TTL);
      expect(until).toBe(clock.now() + TTL);
      clock.advance(TTL - 10);
      const r1 = await store.commit(commitOf(id, 1, lease));
      expect(r1.leaseExpiresAt).toBe(clock.now() + TTL);
      const r2 = await store.commit(commitOf(id, 2, lease, { leaseAction: 'release' }));
      expect(r2.version).toBe(3);
      const rec = await store.getSession(id);
      expect(rec?.leaseOwner).toBeNull();
      expect(await store.acquireLease(id, 'b', TTL)).toEqual({ owner: 'b', epoch: lease.epoch + 1 });
    });

    test('a released lease token is stale: re-acquiring gives a new epoch', async (store) => {
      const id = newId();
      const { lease } = await store.createSession({ id, status: 'running', state: emptyState() }, 'a', TTL);
      await store.releaseLease(id, lease);
      const again = await store.acquireLease(id, 'a', TTL);
      expect(again?.epoch).toBe(lease.epoch + 1);
      await expectCode(store.commit(commitOf(id, 1, lease)), 'CONFLICT');
    });

    test('events must continue the log exactly: a gap or a repeat fails and writes nothing', async (store) => {
      const id = newId();
      const { lease } = await store.createSession({ id, status: 'running', state: emptyState() }, 'a', TTL);
      await expectCode(store.commit(commitOf(id, 1, lease, { events: [event(id, 2)] })), 'INVALID_INPUT');
      await store.commit(commitOf(id, 1, lease, { events: [event(id, 1), event(id, 2)] }));
      await expectCode(store.commit(commitOf(id, 2, lease, { events: [event(id, 2)] })), 'INVALID_INPUT');
      await expectCode(
        store.commit(commitOf(id, 2, lease, { events: [event(id, 3), event(id, 5)] })),
        'INVALID_INPUT',
      );
      const rec = await store.getSession(id);
      expect(rec).toMatchObject({ version: 2, lastSeq: 2 });
    });

    test('readEvents pages by seq with after and limit; seqs are strictly increasing without gaps', async (store) => {
      const id = newId();
      const { lease } = await store.createSession({ id, status: 'running', state: emptyState() }, 'a', TTL);
      let version = 1;
      let seq = 0;
      for (let batch = 0; batch < 5; batch += 1) {
        const events = Array.from({ length: batch + 1 }, () => event(id, (seq += 1)));
        await store.commit(commitOf(id, version, lease, { events }));
        version += 1;
      }
      const all = await store.readEvents(id);
      expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
      expect((await store.readEvents(id, { after: 10 })).map((e) => e.seq)).toEqual([11, 12, 13, 14, 15]);
      expect((await store.readEvents(id, { after: 3, limit: 2 })).map((e) => e.seq)).toEqual([4, 5]);
      expect(await store.readEvents(id, { after: 15 })).toEqual([]);
      expect(all[0]).toEqual(event(id, 1));
    });

    test('todo rows are upserted by (turn, todo); other turns are separate', async (store) => {
      const id = newId();
      const { lease } = await store.createSession({ id, status: 'running', state: emptyState() }, 'a', TTL);
      const row = {
        sessionId: id,
        turnId: 't1',
        todoId: 'a',
        status: 'running' as const,
        attempts: 1,
        idempotencyKey: 'k',
      };
      await store.commit(commitOf(id, 1, lease, { todos: [row, { ...row, turnId: 't2' }] }));
      await store.commit(
        commitOf(id, 2, lease, {
          todos: [{ ...row, status: 'completed', output: [1, 'two', { three: 3 }] }],
        }),
      );
      expect(await store.getTodos(id, 't1')).toEqual([
        { ...row, status: 'completed', output: [1, 'two', { three: 3 }] },
      ]);
      expect((await store.getTodos(id, 't2'))[0]?.status).toBe('running');
    });

    test('plan versions are append-only: latest, by version, history; a duplicate version conflicts', async (store) => {
      const id = newId();
      const { lease } = await store.createSession({ id, status: 'running', state: emptyState() }, 'a', TTL);
      const pv = (version: number) => ({
        sessionId: id,
        turnId: 't1',
        plan: {
          id: 'p',
          version,
          todos: [{ id: `t${version}`, title: 'x', domain: 'data', input: {}, dependsOn: [] }],
        },
        edits: [],
        actor: version === 1 ? 'planner' : 'alice',
        createdAt: version,
      });
      await store.commit(commitOf(id, 1, lease, { planVersions: [pv(1)] }));
      await store.commit(commitOf(id, 2, lease, { planVersions: [pv(2), pv(3)] }));
      expect((await store.getPlan(id, 'p'))?.plan.version).toBe(3);
      expect((await store.getPlan(id, 'p', 2))?.actor).toBe('alice');
      expect(await store.getPlan(id, 'p', 9)).toBeUndefined();
      expect((await store.listPlanVersions(id, 'p')).map((v) => v.plan.version)).toEqual([1, 2, 3]);
      await expectCode(
        store.commit(commitOf(id, 3, lease, { planVersions: [pv(3)], events: [event(id, 1)] })),
        'CONFLICT',
      );
      expect(await store.readEvents(id)).toEqual([]);
    });

    test('property: every plan version reads back exactly as committed, across checkpoints and batched commits', async (store) => {
      // fast-check is loaded here, not at module load (see the vector suite).
      const fc = await loadFastCheck();
      const todo = (id: string, input: Record<string, Json>): Plan['todos'][number] => ({
        id,
        title: `do ${id}`,
        domain: 'data',
        input,
        dependsOn: [],
      });
      const step = fc.oneof(
        fc.record({ op: fc.constant('add' as const), big: fc.boolean(), at: fc.nat() }),
        fc.record({ op: fc.constant('remove' as const), at: fc.nat() }),
        fc.record({ op: fc.constant('input' as const), at: fc.nat(), text: fc.string({ maxLength: 12 }) }),
        fc.record({
          op: fc.constant('title' as const),
          at: fc.nat(),
          text: fc.string({ minLength: 1, maxLength: 12 }),
        }),
        fc.record({
          op: fc.constant('describe' as const),
          at: fc.nat(),
          text: fc.option(fc.string({ maxLength: 8 })),
        }),
        fc.record({ op: fc.constant('move' as const), at: fc.nat(), to: fc.nat() }),
        fc.record({ op: fc.constant('rationale' as const), text: fc.option(fc.string({ maxLength: 8 })) }),
      );
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(step, fc.boolean()), { minLength: 1, maxLength: 40 }),
          async (steps) => {
            run += 1;
            const id = `${newId()}-${run}`;
            const { lease } = await store.createSession(
              { id, status: 'running', state: emptyState() },
              'a',
              TTL,
            );
            let n = 0;
            let plan: Plan = { id: 'p', version: 1, todos: [todo('a', { q: 1 }), todo('b', { q: 2 })] };
            const committed: PlanVersionRecord[] = [];
            const record = (p: Plan): PlanVersionRecord => ({
              sessionId: id,
              turnId: 't1',
              plan: p,
              edits: [],
              actor: p.version === 1 ? 'planner' : `u${p.version % 3}`,
              createdAt: p.version,
            });
            let batch: PlanVersionRecord[] = [record(plan)];
            let version = 1;
            const flush = async (): Promise<void> => {
              if (batch.length === 0) return;
              await store.commit(commitOf(id, version, lease, { planVersions: batch }));
              committed.push(...batch);
              version += 1;
              batch = [];
            };
            for (const [s, together] of steps) {
              if (!together) await flush();
              const todos = plan.todos.map((t) => ({ ...t }));
              const at = todos.length === 0 ? 0 : ('at' in s ? s.at : 0) % todos.length;
              const t = todos[at];
              const next: Plan = { ...plan, version: plan.version + 1, todos };
              if (s.op === 'add') {
                n += 1;
                todos.splice(at, 0, todo(`n${n}`, s.big ? { blob: 'x'.repeat(2000) } : { n }));
              } else if (s.op === 'remove' && t) todos.splice(at, 1);
              else if (s.op === 'input' && t) todos[at] = { ...t, input: { ...t.input, text: s.text } };
              else if (s.op === 'title' && t) todos[at] = { ...t, title: s.text };
              else if (s.op === 'describe' && t) {
                const { description: _d, ...rest } = t;
                todos[at] = s.text === null ? rest : { ...rest, description: s.text };
              } else if (s.op === 'move' && t) {
                todos.splice(at, 1);
                todos.splice(s.to % (todos.length + 1), 0, t);
              } else if (s.op === 'rationale') {
                delete next.rationale;
                if (s.text !== null) next.rationale = s.text;
              }
              plan = next;
              batch.push(record(plan));
            }
            await flush();
            expect(await store.listPlanVersions(id, 'p')).toEqual(committed);
            for (const r of committed) expect(await store.getPlan(id, 'p', r.plan.version)).toEqual(r);
            expect(await store.getPlan(id, 'p')).toEqual(committed.at(-1));
            expect(await store.getPlan(id, 'p', committed.length + 1)).toBeUndefined();
          },
        ),
        { numRuns: options.propertyRuns ?? 12 },
      );
    });

    test('plan history grows with the edits, not with edits x plan size (five 200 KB edits)', async (store, _clock, subject) => {
      const id = newId();
      const { lease } = await store.createSession({ id, status: 'running', state: emptyState() }, 'a', TTL);
      const big = (v: number): Plan => ({
        id: 'p',
        version: v,
        todos: [
          { id: 'fetch', title: 'fetch', domain: 'data', input: { table: 'sales' }, dependsOn: [] },
          {
            id: 'draft',
            title: 'draft',
            domain: 'content',
            input: { notes: `v${v} ${'x'.repeat(200_000)}` },
            dependsOn: ['fetch'],
          },
        ],
      });
      const versions: PlanVersionRecord[] = [];
      for (let v = 1; v <= 6; v += 1) {
        const rec: PlanVersionRecord = {
          sessionId: id,
          turnId: 't1',
          plan: big(v),
          edits: [],
          actor: v === 1 ? 'planner' : 'alice',
          createdAt: v,
        };
        await store.commit(commitOf(id, v, lease, { planVersions: [rec] }));
        versions.push(rec);
      }
      expect(await store.listPlanVersions(id, 'p')).toEqual(versions);
      expect(await store.getPlan(id, 'p', 4)).toEqual(versions[3]);
      if (subject.planStorageBytes) {
        // Six versions of a 200 KB plan, each changing the 200 KB todo: about 6 x 200 KB when each
        // version stores what changed (a full copy per version would be the same here), and a title edit
        // of the big todo must not store it again.
        const afterBig = await subject.planStorageBytes(id);
        for (let v = 7; v <= 11; v += 1) {
          const prev = versions.at(-1)!.plan;
          const plan: Plan = {
            ...prev,
            version: v,
            todos: prev.todos.map((t) => (t.id === 'draft' ? { ...t, title: `draft ${v}` } : t)),
          };
          const rec: PlanVersionRecord = {
            sessionId: id,
            turnId: 't1',
            plan,
            edits: [],
            actor: 'bob',
            createdAt: v,
          };
          await store.commit(commitOf(id, v, lease, { planVersions: [rec] }));
          versions.push(rec);
        }
        const grown = (await subject.planStorageBytes(id)) - afterBig;
        expect(afterBig).toBeLessThan(6 * 200_000 * 1.5);
        expect(grown, 'five title edits of a 200 KB todo').toBeLessThan(20_000);
        expect(await store.listPlanVersions(id, 'p')).toEqual(versions);
      }
    });

    test('the inbox keeps commands in order, de-duplicates ids and acks them in commits', async (store) => {
      const id = newId();
      const { lease } = await store.createSession({ id, status: 'waiting', state: emptyState() }, 'a', TTL);
      const first = await store.enqueueCommand({
        id: 'c1',
        sessionId: id,
        command: { type: 'pause' },
        actor: 'alice',
        receivedAt: 1,
      });
      expect(first.status).toBe('pending');
      await store.enqueueCommand({
        id: 'c2',
        sessionId: id,
        command: { type: 'resume' },
        actor: 'bob',
        receivedAt: 2,
      });
      const dup = await store.enqueueCommand({
        id: 'c1',
        sessionId: id,
        command: { type: 'cancel' },
        actor: 'eve',
        receivedAt: 3,
      });
      expect(dup.command).toEqual({ type: 'pause' });
      expect((await store.pendingCommands(id)).map((c) => c.id)).toEqual(['c1', 'c2']);
      expect((await store.listSessions({ hasPendingCommands: true })).map((s) => s.id)).toContain(id);
      await store.commit(
        commitOf(id, 1, lease, {
          inboxAcks: [
            { commandId: 'c1', status: 'applied' },
            {
              commandId: 'c2',
              status: 'rejected',
              error: { code: 'INVALID_STATE', message: 'not paused', retryable: false, details: {} },
            },
          ],
        }),
      );
      expect(await store.pendingCommands(id)).toEqual([]);
      expect((await store.getCommand(id, 'c2'))?.error?.code).toBe('INVALID_STATE');
      expect((await store.listSessions({ hasPendingCommands: true })).map((s) => s.id)).not.toContain(id);
      await expectCode(
        store.commit(commitOf(id, 2, lease, { inboxAcks: [{ commandId: 'nope', status: 'applied' }] })),
        'INVALID_INPUT',
      );
    });

    test('returned objects are copies: mutating them never changes stored state', async (store) => {
      const id = newId();
      const { record, lease } = await store.createSession(
        { id, status: 'running', state: emptyState() },
        'a',
        TTL,
      );
      record.state.turns = 42;
      const ev = event(id, 1);
      await store.commit(commitOf(id, 1, lease, { events: [ev] }));
      ev.message = 'mutated after commit';
      const loaded = await store.getSession(id);
      expect(loaded?.state.turns).toBe(0);
      if (loaded) loaded.status = 'idle';
      const events = await store.readEvents(id);
      expect(events[0]).toMatchObject({ message: 'step 1' });
      (events[0] as { message: string }).message = 'changed';
      expect((await store.readEvents(id))[0]).toMatchObject({ message: 'step 1' });
      expect((await store.getSession(id))?.status).toBe('running');
    });

    test('listSessions filters by status and expired lease and pages by id', async (store, clock) => {
      const prefix = newId();
      const ids = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
      const leases: LeaseToken[] = [];
      for (const [i, sid] of ids.entries()) {
        const { lease } = await store.createSession(
          { id: sid, status: i === 1 ? 'waiting' : 'running', state: emptyState() },
          'n',
          TTL,
        );
        leases.push(lease);
      }
      const first = leases[1];
      if (first) await store.releaseLease(ids[1] ?? '', first);
      const waiting = (await store.listSessions({ status: ['waiting'], limit: 1000 })).map((s) => s.id);
      expect(waiting).toContain(ids[1]);
      expect(waiting).not.toContain(ids[0]);
      clock.advance(TTL + 1);
      const expired = (await store.listSessions({ leaseExpiredBefore: clock.now(), limit: 1000 })).map(
        (s) => s.id,
      );
      expect(expired).toEqual(expect.arrayContaining([ids[0], ids[1], ids[2]]));
      const stuck = (
        await store.listSessions({ status: ['running'], leaseExpiredBefore: clock.now(), limit: 1000 })
      ).map((s) => s.id);
      expect(stuck).toEqual(expect.arrayContaining([ids[0], ids[2]]));
      expect(stuck).not.toContain(ids[1]);
      const liveId = `${prefix}-d`;
      await store.createSession({ id: liveId, status: 'running', state: emptyState() }, 'n', TTL);
      expect(
        (await store.listSessions({ leaseExpiredBefore: clock.now(), limit: 1000 })).map((s) => s.id),
      ).not.toContain(liveId);
      const page = await store.listSessions({ after: ids[0] ?? '', limit: 1 });
      expect(page).toHaveLength(1);
      expect((page[0]?.id ?? '') > (ids[0] ?? '')).toBe(true);
    });

    test('claimStale (when implemented) gives each stale running session to exactly one of several racing claimers', async (store, clock) => {
      if (!store.claimStale) return; // optional method: nothing to check
      const prefix = newId();
      const ids = [0, 1, 2, 3, 4].map((i) => `${prefix}-${i}`);
      for (const sid of ids)
        await store.createSession({ id: sid, status: 'running', state: emptyState() }, 'dead', TTL);
      const idle = `${prefix}-idle`;
      await store.createSession({ id: idle, status: 'idle', state: emptyState() }, 'dead', TTL);
      const live = `${prefix}-live`;
      clock.advance(TTL + 1);
      await store.createSession({ id: live, status: 'running', state: emptyState() }, 'alive', TTL);
      const results = await Promise.all(
        ['w1', 'w2', 'w3'].map((w) => store.claimStale?.(1000, w, TTL) ?? Promise.resolve([])),
      );
      const mine = results.flat().filter((c) => c.sessionId.startsWith(prefix));
      expect(mine.map((c) => c.sessionId).sort()).toEqual(ids);
      for (const c of mine) {
        const rec = await store.getSession(c.sessionId);
        expect(rec?.leaseOwner).toBe(c.lease.owner);
        expect(rec?.leaseEpoch).toBe(c.lease.epoch);
      }
      expect((await store.getSession(idle))?.leaseOwner).toBe('dead');
      expect((await store.getSession(live))?.leaseOwner).toBe('alive');
    });

    test('commit reports the inbox entries still pending, excluding those it acked', async (store) => {
      const id = newId();
      const { lease } = await store.createSession({ id, status: 'running', state: emptyState() }, 'a', TTL);
      const r0 = await store.commit(commitOf(id, 1, lease, { events: [event(id, 1)] }));
      expect(r0.pendingCommands).toBe(0);
      for (const c of ['c1', 'c2', 'c3'])
        await store.enqueueCommand({
          id: c,
          sessionId: id,
          command: { type: 'pause' },
          actor: 'x',
          receivedAt: 1,
        });
      const r1 = await store.commit(commitOf(id, 2, lease, { events: [event(id, 2)] }));
      expect(r1.pendingCommands).toBe(3);
      const r2 = await store.commit(
        commitOf(id, 3, lease, {
          inboxAcks: [
            { commandId: 'c1', status: 'applied' },
            {
              commandId: 'c2',
              status: 'rejected',
              error: { code: 'INVALID_STATE', message: 'no', retryable: false, details: {} },
            },
          ],
        }),
      );
      expect(r2.pendingCommands).toBe(1);
      const r3 = await store.commit(
        commitOf(id, 4, lease, {
          inboxAcks: [{ commandId: 'c3', status: 'applied' }],
          leaseAction: 'release',
        }),
      );
      expect(r3.pendingCommands).toBe(0);
    });

    test('createSession with events appends them atomically as seq 1..n', async (store) => {
      const id = newId();
      const { record, lease } = await store.createSession(
        { id, status: 'running', state: emptyState(), events: [event(id, 1), event(id, 2), event(id, 3)] },
        'a',
        TTL,
      );
      expect(record).toMatchObject({ version: 1, lastSeq: 3 });
      expect((await store.getSession(id))?.lastSeq).toBe(3);
      expect((await store.readEvents(id)).map((e) => e.seq)).toEqual([1, 2, 3]);
      expect((await store.readEvents(id))[1]).toEqual(event(id, 2));
      await expectCode(store.commit(commitOf(id, 1, lease, { events: [event(id, 3)] })), 'INVALID_INPUT');
      await store.commit(commitOf(id, 1, lease, { events: [event(id, 4)] }));
      expect((await store.readEvents(id)).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      const bad = newId();
      await expectCode(
        store.createSession(
          { id: bad, status: 'running', state: emptyState(), events: [event(bad, 1), event(bad, 3)] },
          'a',
          TTL,
        ),
        'INVALID_INPUT',
      );
      expect(await store.getSession(bad)).toBeUndefined();
      expect(await store.readEvents(bad)).toEqual([]);
    });

    test('tenant and owner are stored and filter listSessions', async (store) => {
      const prefix = newId();
      const rows: [string, string | undefined, string | undefined][] = [
        [`${prefix}-1`, 'acme', 'alice'],
        [`${prefix}-2`, 'acme', 'bob'],
        [`${prefix}-3`, 'globex', 'alice'],
        [`${prefix}-4`, undefined, undefined],
      ];
      for (const [sid, tenantId, ownerId] of rows) {
        const s: Parameters<Store['createSession']>[0] = { id: sid, status: 'idle', state: emptyState() };
        if (tenantId !== undefined) s.tenantId = tenantId;
        if (ownerId !== undefined) s.ownerId = ownerId;
        const { record } = await store.createSession(s, 'n', TTL);
        expect(record.tenantId).toBe(tenantId);
        expect(record.ownerId).toBe(ownerId);
      }
      const got = await store.getSession(`${prefix}-2`);
      expect(got).toMatchObject({ tenantId: 'acme', ownerId: 'bob' });
      const ids = async (q: Parameters<Store['listSessions']>[0]) =>
        (await store.listSessions({ ...q, limit: 1000 }))
          .map((r) => r.id)
          .filter((i) => i.startsWith(prefix));
      expect(await ids({ tenantId: 'acme' })).toEqual([`${prefix}-1`, `${prefix}-2`]);
      expect(await ids({ ownerId: 'alice' })).toEqual([`${prefix}-1`, `${prefix}-3`]);
      expect(await ids({ tenantId: 'acme', ownerId: 'alice' })).toEqual([`${prefix}-1`]);
      expect(await ids({ tenantId: 'initech' })).toEqual([]);
      expect(await ids({})).toHaveLength(4);
    });

    test('deleteSession (when implemented) removes everything stored for the session; unknown ids give false', async (store) => {
      if (!store.deleteSession) return; // optional method: nothing to check
      const id = newId();
      const other = newId();
      const { lease } = await store.createSession({ id, status: 'running', state: emptyState() }, 'a', TTL);
      await store.createSession({ id: other, status: 'idle', state: emptyState() }, 'a', TTL);
      await store.enqueueCommand({
        id: 'c1',
        sessionId: id,
        command: { type: 'pause' },
        actor: 'x',
        receivedAt: 1,
      });
      await store.commit(
        commitOf(id, 1, lease, {
          events: [event(id, 1)],
          todos: [
            { sessionId: id, turnId: 't1', todoId: 'a', status: 'running', attempts: 1, idempotencyKey: 'k' },
          ],
          planVersions: [
            {
              sessionId: id,
              turnId: 't1',
              plan: { id: 'p1', version: 1, todos: [] },
              edits: [],
              actor: 'planner',
              createdAt: 1,
            },
          ],
        }),
      );
      expect(await store.deleteSession(id)).toBe(true);
      expect(await store.getSession(id)).toBeUndefined();
      expect(await store.readEvents(id)).toEqual([]);
      expect(await store.getTodos(id, 't1')).toEqual([]);
      expect(await store.getPlan(id, 'p1')).toBeUndefined();
      expect(await store.listPlanVersions(id, 'p1')).toEqual([]);
      expect(await store.getCommand(id, 'c1')).toBeUndefined();
      expect(await store.pendingCommands(id)).toEqual([]);
      expect(await store.deleteSession(id)).toBe(false);
      expect(await store.deleteSession(newId())).toBe(false);
      expect(await store.getSession(other)).toBeDefined();
      // The id is free again: a new session starts from scratch.
      const again = await store.createSession({ id, status: 'idle', state: emptyState() }, 'b', TTL);
      expect(again.record).toMatchObject({ version: 1, lastSeq: 0 });
      expect(await store.readEvents(id)).toEqual([]);
    });

    test('readRecords/rewriteRecords (when implemented) replace payloads in place, fenced by the version', async (store) => {
      if (!store.readRecords || !store.rewriteRecords) return; // optional methods: nothing to check
      const id = newId();
      const { lease } = await store.createSession({ id, status: 'running', state: emptyState() }, 'a', TTL);
      await store.enqueueCommand({
        id: 'c1',
        sessionId: id,
        command: { type: 'pause' },
        actor: 'x',
        receivedAt: 1,
      });
      const plan = {
        sessionId: id,
        turnId: 't1',
        plan: { id: 'p1', version: 1, todos: [] },
        edits: [],
        actor: 'planner',
        createdAt: 1,
      };
      const todo = {
        sessionId: id,
        turnId: 't1',
        todoId: 'a',
        status: 'running' as const,
        attempts: 1,
        idempotencyKey: 'k',
      };
      await store.commit(
        commitOf(id, 1, lease, { events: [event(id, 1), event(id, 2)], todos: [todo], planVersions: [plan] }),
      );
      expect(await store.readRecords(newId())).toBeUndefined();
      const recs = await store.readRecords(id);
      expect(recs?.session).toMatchObject({ id, version: 2, lastSeq: 2 });
      expect(recs?.events.map((e) => e.seq)).toEqual([1, 2]);
      expect(recs?.todos).toEqual([todo]);
      expect(recs?.planVersions).toEqual([plan]);
      expect(recs?.commands.map((c) => [c.id, c.command])).toEqual([['c1', { type: 'pause' }]]);

      const state = { ...emptyState(), metadata: { rewritten: true } };
      const e2 = { ...event(id, 2), message: 'rewritten' };
      const todo2 = { ...todo, reason: 'rewritten' };
      const plan2 = { ...plan, actor: 'rewritten' };
      await store.rewriteRecords({
        sessionId: id,
        expectedVersion: 2,
        state,
        events: [e2],
        todos: [todo2],
        planVersions: [plan2],
        commands: [{ id: 'c1', command: { type: 'rewritten' } }],
      });
      const after = await store.readRecords(id);
      // Payloads replaced; version, seqs and lease untouched.
      expect(after?.session).toMatchObject({ version: 2, lastSeq: 2, leaseEpoch: lease.epoch, state });
      expect(after?.events).toEqual([event(id, 1), e2]);
      expect(await store.readEvents(id)).toEqual([event(id, 1), e2]);
      expect(await store.getTodos(id, 't1')).toEqual([todo2]);
      expect(await store.getPlan(id, 'p1', 1)).toEqual(plan2);
      expect((await store.getCommand(id, 'c1'))?.command).toEqual({ type: 'rewritten' });
      expect((await store.getCommand(id, 'c1'))?.status).toBe('pending');

      // The session's own next commit still applies (the rewrite moved no version) …
      await store.commit(commitOf(id, 2, lease, { events: [event(id, 3)] }));
      // … and a rewrite computed before it is refused, changing nothing.
      const before = await store.readRecords(id);
      await expectCode(
        store.rewriteRecords({ sessionId: id, expectedVersion: 2, state: emptyState() }),
        'CONFLICT',
      );
      expect(await store.readRecords(id)).toEqual(before);
      await expectCode(
        store.rewriteRecords({ sessionId: newId(), expectedVersion: 1, state: emptyState() }),
        'SESSION_NOT_FOUND',
      );
    });

    for (const [title, fn] of cases) {
      const reason = options.skip?.[title];
      if (reason !== undefined) {
        it.skip(`${title} — skipped: ${reason}`, () => undefined);
        continue;
      }
      it(title, async () => {
        const clock = new ManualClock();
        const subject = await factory({ clock });
        try {
          await fn(subject.store, clock, subject);
        } finally {
          await subject.cleanup?.();
        }
      });
    }
  });
}
