/**
 * The Store port's extensions (tenants and owners, creation with the first events, the pending-inbox
 * count in every commit result, `deleteSession`) as a contract suite, run against each durable store's
 * real backend beside {@link storeContract}.
 *
 * @packageDocumentation
 */
import { isDreamAgentError } from '../../errors/index.js';
import type { AgentEvent } from '../../model/events.js';
import type { SessionState } from '../../model/session.js';
import type { Commit, Store } from '../../ports/store.js';
import { describe, expect, it } from './api.js';

const TTL = 30_000;
const emptyState = (): SessionState => ({ turn: null, turns: 0, dialogue: [], slots: {}, metadata: {} });
let n = 0;
const newId = (): string => `ext-${Date.now().toString(36)}-${(n += 1)}`;

const progress = (sessionId: string, seq: number): AgentEvent =>
  ({
    type: 'todo.progress',
    sessionId,
    turnId: 't',
    seq,
    at: seq,
    todoId: 'a',
    message: `m${seq}`,
  }) as AgentEvent;

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return isDreamAgentError(e) ? e.code : `not a DreamAgentError: ${String(e)}`;
  }
  return 'resolved';
}

const commitOf = (c: Partial<Commit> & Pick<Commit, 'sessionId' | 'expectedVersion' | 'lease'>): Commit => ({
  events: [],
  todos: [],
  planVersions: [],
  inboxAcks: [],
  leaseAction: 'renew',
  leaseTtlMs: TTL,
  ...c,
});

/**
 * Declares the Store extension cases for one store: `createSession` with its first events (atomic, seqs
 * 1..n), tenant and owner filters of `listSessions`, the pending-inbox count each commit returns, and
 * `deleteSession`. Framework-neutral like the other suites (see `useTestApi`).
 *
 * @param name - the store's name in the test titles
 * @param make - a fresh store on the real backend (a shared database is fine: the ids are unique)
 * @example
 * ```ts
 * import { describe, expect, it } from 'vitest';
 * import { storeExtensionsContract, useTestApi } from 'dream-agent/testing';
 *
 * useTestApi({ describe, it, expect });
 * storeExtensionsContract('MyStore', () => new MyStore(db));
 * ```
 */
export function storeExtensionsContract(name: string, make: () => Store): void {
  describe(`Store port extensions: ${name}`, () => {
    it('createSession with events stores them atomically as seqs 1..n; the next commit continues at n + 1', async () => {
      const store = make();
      const id = newId();
      const events = [1, 2, 3].map((s) => progress(id, s));
      const { record, lease } = await store.createSession(
        { id, status: 'running', state: emptyState(), events },
        'node',
        TTL,
      );
      expect(record).toMatchObject({ id, version: 1, lastSeq: 3 });
      expect(await store.getSession(id)).toEqual(record);
      expect(await store.readEvents(id)).toEqual(events);
      expect(await store.readEvents(id, { after: 1, limit: 1 })).toEqual([progress(id, 2)]);
      // A commit that does not continue the log at 4 is refused; one that does lands.
      expect(
        await codeOf(
          store.commit(commitOf({ sessionId: id, expectedVersion: 1, lease, events: [progress(id, 1)] })),
        ),
      ).toBe('INVALID_INPUT');
      const r = await store.commit(
        commitOf({ sessionId: id, expectedVersion: 1, lease, events: [progress(id, 4)] }),
      );
      expect(r).toMatchObject({ version: 2, lastSeq: 4 });
      expect((await store.readEvents(id)).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    });

    it('createSession refuses events that are not seqs 1..n of this session and creates nothing', async () => {
      const store = make();
      for (const events of [
        [progress('x', 1)].map((e) => ({ ...e, seq: 2 })),
        [progress('x', 1), progress('x', 3)],
      ]) {
        const id = newId();
        const bad = events.map((e) => ({ ...e, sessionId: id }));
        expect(
          await codeOf(
            store.createSession({ id, status: 'running', state: emptyState(), events: bad }, 'n', TTL),
          ),
        ).toBe('INVALID_INPUT');
        expect(await store.getSession(id)).toBeUndefined();
        expect(await store.readEvents(id)).toEqual([]);
      }
      const id = newId();
      const foreign = [progress('someone-else', 1)];
      expect(
        await codeOf(
          store.createSession({ id, status: 'running', state: emptyState(), events: foreign }, 'n', TTL),
        ),
      ).toBe('INVALID_INPUT');
      expect(await store.getSession(id)).toBeUndefined();
    });

    it('createSession on an existing id with events is SESSION_BUSY and appends nothing', async () => {
      const store = make();
      const id = newId();
      await store.createSession(
        { id, status: 'running', state: emptyState(), events: [progress(id, 1)] },
        'a',
        TTL,
      );
      expect(
        await codeOf(
          store.createSession(
            { id, status: 'idle', state: emptyState(), events: [progress(id, 1), progress(id, 2)] },
            'b',
            TTL,
          ),
        ),
      ).toBe('SESSION_BUSY');
      expect(await store.readEvents(id)).toEqual([progress(id, 1)]);
      expect(await store.getSession(id)).toMatchObject({ lastSeq: 1, leaseOwner: 'a', status: 'running' });
    });

    it('tenantId and ownerId are stored, returned and filter listSessions (alone, together, paged)', async () => {
      const store = make();
      const tenant = `tenant-${newId()}`;
      const other = `tenant-${newId()}`;
      const ids = {
        a1: `${tenant}-1`,
        a2: `${tenant}-2`,
        b1: `${tenant}-3`,
        x: `${other}-1`,
      };
      await store.createSession(
        { id: ids.a1, status: 'idle', state: emptyState(), tenantId: tenant, ownerId: 'alice' },
        'n',
        TTL,
      );
      await store.createSession(
        { id: ids.a2, status: 'waiting', state: emptyState(), tenantId: tenant, ownerId: 'alice' },
        'n',
        TTL,
      );
      await store.createSession(
        { id: ids.b1, status: 'idle', state: emptyState(), tenantId: tenant, ownerId: 'bob' },
        'n',
        TTL,
      );
      await store.createSession(
        { id: ids.x, status: 'idle', state: emptyState(), tenantId: other, ownerId: 'alice' },
        'n',
        TTL,
      );
      const plain = newId();
      await store.createSession({ id: plain, status: 'idle', state: emptyState() }, 'n', TTL);
      expect(await store.getSession(ids.a1)).toMatchObject({ tenantId: tenant, ownerId: 'alice' });
      const none = await store.getSession(plain);
      expect(none && 'tenantId' in none).toBe(false);
      expect(none && 'ownerId' in none).toBe(false);
      const list = async (q: Parameters<Store['listSessions']>[0]): Promise<string[]> =>
        (await store.listSessions(q)).map((r) => r.id);
      expect(await list({ tenantId: tenant })).toEqual([ids.a1, ids.a2, ids.b1]);
      expect(await list({ tenantId: tenant, ownerId: 'alice' })).toEqual([ids.a1, ids.a2]);
      expect(await list({ tenantId: tenant, ownerId: 'alice', status: ['waiting'] })).toEqual([ids.a2]);
      expect(await list({ tenantId: tenant, limit: 2 })).toEqual([ids.a1, ids.a2]);
      expect(await list({ tenantId: tenant, after: ids.a2 })).toEqual([ids.b1]);
      expect((await list({ ownerId: 'alice' })).filter((id) => id.startsWith('tenant-'))).toEqual(
        [ids.a1, ids.a2, ids.x].sort(),
      );
      expect(await list({ tenantId: `missing-${newId()}` })).toEqual([]);
      // Commits never change them.
      const lease = await store.acquireLease(ids.b1, 'n2', TTL);
      expect(lease).toBeUndefined();
    });

    it('every commit result carries the pending inbox count, acks of this commit excluded', async () => {
      const store = make();
      const id = newId();
      const { lease } = await store.createSession({ id, status: 'running', state: emptyState() }, 'n', TTL);
      let r = await store.commit(commitOf({ sessionId: id, expectedVersion: 1, lease }));
      expect(r.pendingCommands).toBe(0);
      for (const c of ['c1', 'c2', 'c3'])
        await store.enqueueCommand({
          id: c,
          sessionId: id,
          command: { type: 'pause' },
          actor: 'a',
          receivedAt: 1,
        });
      r = await store.commit(
        commitOf({ sessionId: id, expectedVersion: r.version, lease, events: [progress(id, 1)] }),
      );
      expect(r.pendingCommands).toBe(3);
      r = await store.commit(
        commitOf({
          sessionId: id,
          expectedVersion: r.version,
          lease,
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
      expect(r.pendingCommands).toBe(1);
      // Re-acking an already applied command does not count it twice or go negative.
      r = await store.commit(
        commitOf({
          sessionId: id,
          expectedVersion: r.version,
          lease,
          inboxAcks: [
            { commandId: 'c3', status: 'applied' },
            { commandId: 'c1', status: 'applied' },
          ],
        }),
      );
      expect(r.pendingCommands).toBe(0);
      expect(await store.pendingCommands(id)).toEqual([]);
      // Another session's inbox is not counted.
      const other = newId();
      await store.createSession({ id: other, status: 'idle', state: emptyState() }, 'n', TTL);
      await store.enqueueCommand({
        id: 'o1',
        sessionId: other,
        command: { type: 'pause' },
        actor: 'a',
        receivedAt: 1,
      });
      r = await store.commit(
        commitOf({ sessionId: id, expectedVersion: r.version, lease, leaseAction: 'release' }),
      );
      expect(r.pendingCommands).toBe(0);
    });

    it('deleteSession removes the session and everything stored for it, and nothing else', async () => {
      const store = make();
      const id = newId();
      const keep = newId();
      const { lease } = await store.createSession(
        { id, status: 'running', state: emptyState(), events: [progress(id, 1)] },
        'n',
        TTL,
      );
      await store.createSession(
        { id: keep, status: 'idle', state: emptyState(), events: [progress(keep, 1)] },
        'n',
        TTL,
      );
      await store.enqueueCommand({
        id: 'c1',
        sessionId: id,
        command: { type: 'pause' },
        actor: 'a',
        receivedAt: 1,
      });
      await store.enqueueCommand({
        id: 'c1',
        sessionId: keep,
        command: { type: 'pause' },
        actor: 'a',
        receivedAt: 1,
      });
      await store.commit(
        commitOf({
          sessionId: id,
          expectedVersion: 1,
          lease,
          events: [progress(id, 2)],
          todos: [
            {
              sessionId: id,
              turnId: 't',
              todoId: 'a',
              status: 'completed',
              attempts: 1,
              idempotencyKey: 'k',
            },
          ],
          planVersions: [
            {
              sessionId: id,
              turnId: 't',
              plan: { id: 'p', version: 1, todos: [] },
              edits: [],
              actor: 'x',
              createdAt: 1,
            },
          ],
        }),
      );
      if (!store.deleteSession) throw new Error(`${name} has no deleteSession`);
      expect(await store.deleteSession(id)).toBe(true);
      expect(await store.getSession(id)).toBeUndefined();
      expect(await store.readEvents(id)).toEqual([]);
      expect(await store.getTodos(id, 't')).toEqual([]);
      expect(await store.listPlanVersions(id, 'p')).toEqual([]);
      expect(await store.getPlan(id, 'p')).toBeUndefined();
      expect(await store.pendingCommands(id)).toEqual([]);
      expect(await store.getCommand(id, 'c1')).toBeUndefined();
      expect(await store.deleteSession(id)).toBe(false);
      // The former owner's next commit finds no session.
      expect(await codeOf(store.commit(commitOf({ sessionId: id, expectedVersion: 2, lease })))).toBe(
        'SESSION_NOT_FOUND',
      );
      // The other session is untouched, and the id can be used again.
      expect(await store.readEvents(keep)).toEqual([progress(keep, 1)]);
      expect((await store.pendingCommands(keep)).map((e) => e.id)).toEqual(['c1']);
      const again = await store.createSession({ id, status: 'idle', state: emptyState() }, 'n', TTL);
      expect(again.record).toMatchObject({ version: 1, lastSeq: 0 });
    });
  });
}
