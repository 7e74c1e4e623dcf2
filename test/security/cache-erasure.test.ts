import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  Agent,
  FunctionPlanner,
  MemoryCache,
  MemoryStore,
  ToolRegistry,
  defineTool,
  expireSessions,
  type Cache,
  type Json,
} from 'dream-agent';
import { ManualClock } from 'dream-agent/testing';

/** An agent whose one todo calls a cached tool with the turn's input as its argument. */
function setup(cache: Cache, clock = new ManualClock()): { agent: Agent; calls: string[] } {
  const calls: string[] = [];
  const tools = new ToolRegistry();
  tools.register(
    defineTool({
      name: 'crm.lookup',
      description: 'Looks a customer up',
      domain: 'crm',
      input: z.object({ q: z.string() }),
      output: z.object({ card: z.string() }),
      cache: { ttl: 3600 },
      handler: ({ q }) => {
        calls.push(q);
        return { card: `card of ${q}` };
      },
    }),
  );
  const agent = new Agent({
    store: new MemoryStore({ clock }),
    clock,
    cache,
    tools,
    planner: new FunctionPlanner((_intent, input) => ({
      todos: [
        {
          id: 'a',
          title: 'Look up',
          domain: 'crm',
          tool: 'crm.lookup',
          dependsOn: [],
          input: { q: input },
        },
      ],
    })),
  });
  return { agent, calls };
}

describe('erasure of execution-cache entries', () => {
  it('deleteSession removes the entries its todos wrote; entries of other sessions keep serving hits', async () => {
    const cache = new MemoryCache();
    const { agent, calls } = setup(cache);
    const a = await agent.run('alice@example.com').result();
    const b = await agent.run('bob@example.com').result();
    expect([a.status, b.status]).toEqual(['completed', 'completed']);
    expect(cache.size).toBe(2);

    // A third session is served Bob's entry from the cache (a hit, not a write).
    const c = await agent.run('bob@example.com').result();
    expect(c.status).toBe('completed');
    expect(calls).toEqual(['alice@example.com', 'bob@example.com']);

    expect(await agent.deleteSession(a.sessionId)).toBe(true);
    expect(cache.size).toBe(1);
    // Erasing the session that only hit the entry leaves it to the session that wrote it.
    expect(await agent.deleteSession(c.sessionId)).toBe(true);
    expect(cache.size).toBe(1);
    await agent.run('bob@example.com').result();
    expect(calls).toEqual(['alice@example.com', 'bob@example.com']);

    // Alice's entry is gone: the next lookup runs the tool again.
    await agent.run('alice@example.com').result();
    expect(calls).toEqual(['alice@example.com', 'bob@example.com', 'alice@example.com']);

    // Erasing the writer removes the entry other sessions were hitting (documented semantics).
    expect(await agent.deleteSession(b.sessionId)).toBe(true);
    await agent.run('bob@example.com').result();
    expect(calls.at(-1)).toBe('bob@example.com');
    expect(calls).toHaveLength(4);
    await agent.close();
  });

  it('retention (expireSessions) erases the cache entries of the sessions it expires', async () => {
    const clock = new ManualClock();
    const cache = new MemoryCache({ clock });
    const { agent } = setup(cache, clock);
    const old = await agent.run('carol@example.com').result();
    clock.advance(2 * 86_400_000);
    const erased = await expireSessions(agent, { olderThanMs: 86_400_000, now: clock.now() });
    expect(erased).toEqual([old.sessionId]);
    expect(cache.size).toBe(0);
    await agent.close();
  });

  it('a cache that cannot erase fails deleteSession before the store is touched, and a retry finishes', async () => {
    const inner = new MemoryCache();
    let down = true;
    const flaky: Cache = {
      get: (k) => inner.get(k),
      set: (k, v, ttl, o) => inner.set(k, v, ttl, o),
      delete: (k) => inner.delete(k),
      eraseSession: async (id) => {
        if (down) throw new Error('cache unreachable');
        return inner.eraseSession(id);
      },
    };
    const { agent } = setup(flaky);
    const a = await agent.run('dave@example.com').result();
    await expect(agent.deleteSession(a.sessionId)).rejects.toThrow('cache unreachable');
    expect(await agent.getSession(a.sessionId)).toBeDefined();
    expect(inner.size).toBe(1);
    down = false;
    expect(await agent.deleteSession(a.sessionId)).toBe(true);
    expect(inner.size).toBe(0);
    await agent.close();
  });
});

describe('MemoryCache.eraseSession (model-based)', () => {
  type Op =
    | { op: 'set'; key: number; session: number | null; ttl: number }
    | { op: 'get'; key: number }
    | { op: 'delete'; key: number }
    | { op: 'erase'; session: number }
    | { op: 'advance'; ms: number };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      op: fc.constant('set' as const),
      key: fc.nat(5),
      session: fc.option(fc.nat(3), { nil: null }),
      ttl: fc.integer({ min: 1, max: 100 }),
    }),
    fc.record({ op: fc.constant('get' as const), key: fc.nat(5) }),
    fc.record({ op: fc.constant('delete' as const), key: fc.nat(5) }),
    fc.record({ op: fc.constant('erase' as const), session: fc.nat(3) }),
    fc.record({ op: fc.constant('advance' as const), ms: fc.nat(60) }),
  );

  it('after any sequence of writes, reads, evictions and expiries, erasing removes exactly what the session wrote', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { maxLength: 60 }),
        fc.integer({ min: 1, max: 4 }),
        async (ops, max) => {
          const clock = new ManualClock();
          const cache = new MemoryCache({ clock, max });
          // The model: key → value, expiry, writers, recency order (a Map, as an LRU).
          const model = new Map<string, { value: Json; expiresAt: number; writers: Set<string> }>();
          for (const o of ops) {
            if (o.op === 'set') {
              const k = `k${o.key}`;
              const prev = model.get(k);
              model.delete(k);
              const writers = new Set(prev?.writers ?? []);
              if (o.session !== null) writers.add(`s${o.session}`);
              model.set(k, { value: o.ttl, expiresAt: clock.now() + o.ttl, writers });
              while (model.size > max) model.delete(model.keys().next().value!);
              await cache.set(
                k,
                o.ttl,
                o.ttl,
                o.session === null ? undefined : { sessionId: `s${o.session}` },
              );
            } else if (o.op === 'get') {
              const k = `k${o.key}`;
              const e = model.get(k);
              let want: Json | undefined;
              if (e !== undefined) {
                model.delete(k);
                if (clock.now() < e.expiresAt) {
                  model.set(k, e);
                  want = e.value;
                }
              }
              expect(await cache.get(k)).toEqual(want);
            } else if (o.op === 'delete') {
              model.delete(`k${o.key}`);
              await cache.delete(`k${o.key}`);
            } else if (o.op === 'erase') {
              const s = `s${o.session}`;
              const gone = [...model].filter(([, e]) => e.writers.has(s)).map(([k]) => k);
              for (const k of gone) model.delete(k);
              expect(await cache.eraseSession(s)).toBe(gone.length);
            } else {
              clock.advance(o.ms);
            }
            expect(cache.size).toBe(model.size);
          }
        },
      ),
    );
  });
});
