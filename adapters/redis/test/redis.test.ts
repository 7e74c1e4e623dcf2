import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  Agent,
  FunctionPlanner,
  MemoryStore,
  ToolRegistry,
  defineTool,
  type AgentEvent,
  type Executor,
  type Json,
  type SessionState,
} from 'dream-agent';
import { busContract, cacheContract } from 'dream-agent/testing';
import { RedisCache, RedisEventBus } from '@dream-agent/redis';
import { freePort, serviceSkipReason, startRedis, type RedisService } from '@dream-agent/test-services';

const skip = serviceSkipReason('redis');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const emptyState = (): SessionState => ({ turn: null, turns: 0, dialogue: [], slots: {}, metadata: {} });
const waitFor = async (cond: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 500; i += 1) {
    if (cond()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
};

/** Appends `count` progress events to a session of a MemoryStore (the Store the bus repairs from). */
async function appendEvents(store: MemoryStore, sessionId: string, count: number): Promise<AgentEvent[]> {
  const rec = await store.getSession(sessionId);
  if (!rec) throw new Error('no session');
  const lease = (await store.acquireLease(sessionId, 'writer', 60_000)) ?? {
    owner: rec.leaseOwner ?? '',
    epoch: rec.leaseEpoch,
  };
  const events = Array.from({ length: count }, (_, i) => ({
    type: 'todo.progress',
    sessionId,
    turnId: 't',
    seq: rec.lastSeq + i + 1,
    at: 0,
    todoId: 'x',
    message: `e${rec.lastSeq + i + 1}`,
  })) as AgentEvent[];
  await store.commit({
    sessionId,
    expectedVersion: rec.version,
    lease,
    events,
    todos: [],
    planVersions: [],
    inboxAcks: [],
    leaseAction: 'release',
    leaseTtlMs: 1,
  });
  return events;
}

const seqsOf = (messages: Json[]): number[] =>
  messages.flatMap((m) => ((m as { events?: AgentEvent[] }).events ?? []).map((e) => e.seq));

if (skip) {
  describe.skip(`@dream-agent/redis — skipped: ${skip}`, () => {
    it('needs redis-server', () => undefined);
  });
} else {
  let server: RedisService;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });

  cacheContract('RedisCache', async () => {
    const cache = new RedisCache({ url: server.url, namespace: `t${Math.random().toString(36).slice(2)}` });
    return { cache, advance: (ms) => sleep(ms), cleanup: () => cache.close() };
  });

  busContract('RedisEventBus (pub/sub)', async () => {
    const client = new Redis(server.url);
    const a = new RedisEventBus({ client });
    const b = new RedisEventBus(server.url);
    return {
      a,
      b,
      cleanup: async () => {
        await a.close();
        await b.close();
        client.disconnect();
      },
    };
  });

  describe('RedisCache specifics', () => {
    it('namespaces and versions keys, and counts hits and misses', async () => {
      const client = new Redis(server.url);
      try {
        const v1 = new RedisCache({ client, namespace: 'ns-a', version: 1 });
        const v2 = new RedisCache({ client, namespace: 'ns-a', version: 2 });
        const other = new RedisCache({ client, namespace: 'ns-b', version: 1 });
        await v1.set('k', { rows: 1 }, 60_000);
        expect(await v1.get('k')).toEqual({ rows: 1 });
        expect(await v2.get('k')).toBeUndefined();
        expect(await other.get('k')).toBeUndefined();
        expect(await client.get('ns-a:v1:k')).toBe('{"rows":1}');
        expect(v1.keyOf('k')).toBe('ns-a:v1:k');
        expect(v1.metrics()).toEqual({ hits: 1, misses: 0, sets: 1, errors: 0 });
        expect(v2.metrics()).toMatchObject({ hits: 0, misses: 1 });
        const ttl = await client.pttl('ns-a:v1:k');
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(60_000);
      } finally {
        client.disconnect();
      }
    });

    it('erasure through the agent: deleteSession leaves no key of the session in Redis, other sessions keep theirs', async () => {
      const client = new Redis(server.url);
      const namespace = `erase${Math.random().toString(36).slice(2)}`;
      const cache = new RedisCache({ client, namespace });
      const calls: string[] = [];
      let next = '';
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
        store: new MemoryStore(),
        cache,
        tools,
        planner: new FunctionPlanner(() => ({
          todos: [
            {
              id: 'a',
              title: 'Look up',
              domain: 'crm',
              tool: 'crm.lookup',
              dependsOn: [],
              input: { q: next },
            },
          ],
        })),
      });
      const run = async (q: string): Promise<string> => {
        next = q;
        const r = await agent.run(q).result();
        expect(r.status).toBe('completed');
        return r.sessionId;
      };
      /** Every raw key of this cache's namespace with its value (strings) or members (sets). */
      const raw = async (): Promise<Map<string, string>> => {
        const out = new Map<string, string>();
        for (const k of await client.keys(`${namespace}:*`)) {
          out.set(
            k,
            (await client.type(k)) === 'set'
              ? (await client.smembers(k)).sort().join(',')
              : ((await client.get(k)) ?? ''),
          );
        }
        return out;
      };
      try {
        const alice = await run('alice@example.com');
        const bob = await run('bob@example.com');
        const hitter = await run('bob@example.com'); // a hit on Bob's entry: not a writer
        expect(calls).toEqual(['alice@example.com', 'bob@example.com']);
        const before = await raw();
        expect([...before.keys()].filter((k) => k.includes(':writers:')).sort()).toEqual(
          [cache.writersKeyOf(alice), cache.writersKeyOf(bob)].sort(),
        );
        expect(await client.pttl(cache.writersKeyOf(alice))).toBeGreaterThan(3_000_000);

        expect(await agent.deleteSession(alice)).toBe(true);
        expect(await agent.deleteSession(hitter)).toBe(true);
        const after = await raw();
        expect([...after.keys()].sort()).toEqual(
          [...before.keys()]
            .filter((k) => k !== cache.writersKeyOf(alice) && !before.get(k)!.includes('alice'))
            .sort(),
        );
        for (const [k, v] of after) {
          expect(k).not.toContain(alice);
          expect(v).not.toContain('alice');
        }
        expect([...after.values()].some((v) => v.includes('card of bob'))).toBe(true);

        expect(await agent.deleteSession(bob)).toBe(true);
        expect(await raw()).toEqual(new Map());
      } finally {
        await agent.close();
        client.disconnect();
      }
    });

    it('eraseSession throws UNAVAILABLE while Redis is down (nothing half-done is reported as done), and finishes once it is back', async () => {
      const own = await startRedis();
      const cache = new RedisCache({ url: own.url, timeoutMs: 200 });
      try {
        await cache.set('k', 1, 60_000, { sessionId: 's1' });
        await own.kill();
        await expect(cache.eraseSession('s1')).rejects.toMatchObject({
          code: 'UNAVAILABLE',
          retryable: true,
        });
        await own.start();
        let removed: number | undefined;
        for (let i = 0; i < 100 && removed === undefined; i += 1) {
          removed = await cache.eraseSession('s1').catch(() => undefined);
          if (removed === undefined) await sleep(50);
        }
        // Redis ran without persistence: after the restart nothing is left to erase.
        expect(removed).toBe(0);
        await cache.set('k', 2, 60_000, { sessionId: 's1' });
        expect(await cache.eraseSession('s1')).toBe(1);
        expect(await cache.get('k')).toBeUndefined();
      } finally {
        await cache.close();
        await own.stop();
      }
    });

    it('Redis down: get is a miss, set and delete do not throw, errors are counted; it recovers when Redis is back', async () => {
      const own = await startRedis();
      const cache = new RedisCache({ url: own.url, timeoutMs: 200 });
      try {
        await cache.set('k', 1, 60_000);
        expect(await cache.get('k')).toBe(1);
        await own.kill();
        expect(await cache.get('k')).toBeUndefined();
        await cache.set('k2', 2, 60_000);
        await cache.delete('k');
        expect(cache.metrics().errors).toBeGreaterThanOrEqual(3);
        await own.start();
        let back: Json | undefined;
        for (let i = 0; i < 100 && back === undefined; i += 1) {
          await cache.set('k3', 3, 60_000);
          back = await cache.get('k3');
          if (back === undefined) await sleep(50);
        }
        expect(back).toBe(3);
      } finally {
        await cache.close();
        await own.stop();
      }
    });
  });

  describe('RedisEventBus with the Store: gap repair and fallback', () => {
    it('a subscriber that missed messages gets the missing events from the log first, in order, once', async () => {
      const store = new MemoryStore();
      const { lease } = await store.createSession(
        { id: 'gap', status: 'running', state: emptyState() },
        'w',
        60_000,
      );
      await store.releaseLease('gap', lease);
      await appendEvents(store, 'gap', 2);
      const pub = new RedisEventBus(server.url);
      const sub = new RedisEventBus({ url: server.url, store });
      try {
        const got: Json[] = [];
        await sub.subscribe('session:gap:events', (m) => got.push(m));
        const missed = await appendEvents(store, 'gap', 3); // seq 3..5: committed, never published
        const next = await appendEvents(store, 'gap', 2); // seq 6..7: published
        await pub.publish('session:gap:events', { events: next as unknown as Json });
        await pub.publish('session:gap:events', { events: [next[1]] as unknown as Json }); // a duplicate
        await waitFor(() => seqsOf(got).length >= 5, 'seq 3..7');
        await sleep(50);
        expect(seqsOf(got)).toEqual([3, 4, 5, 6, 7]);
        expect(missed.map((e) => e.seq)).toEqual([3, 4, 5]);
      } finally {
        await pub.close();
        await sub.close();
      }
    });

    it('Redis down: subscribers keep receiving events from the Store; publishing fails fast with UNAVAILABLE', async () => {
      const own = await startRedis();
      const store = new MemoryStore();
      const { lease } = await store.createSession(
        { id: 'down', status: 'running', state: emptyState() },
        'w',
        60_000,
      );
      await store.releaseLease('down', lease);
      const bus = new RedisEventBus({ url: own.url, store, pollMs: 50 });
      try {
        const got: Json[] = [];
        await bus.subscribe('session:down:events', (m) => got.push(m));
        await own.kill();
        await waitFor(() => !bus.connected, 'disconnect');
        await appendEvents(store, 'down', 3);
        await waitFor(() => seqsOf(got).length === 3, 'events from the store');
        const err = await bus.publish('session:down:events', { events: [] }).catch((e: unknown) => e);
        expect((err as { code?: string }).code).toBe('UNAVAILABLE');
        await own.start();
        await waitFor(() => bus.connected, 'reconnect');
        const more = await appendEvents(store, 'down', 1);
        await bus.publish('session:down:events', { events: more as unknown as Json });
        await waitFor(() => seqsOf(got).length === 4, 'event 4');
        expect(seqsOf(got)).toEqual([1, 2, 3, 4]);
      } finally {
        await bus.close();
        await own.stop();
      }
    });

    it('an Agent whose Redis is unreachable still completes its run (cache misses, bus fails over to the Store)', async () => {
      const dead = `redis://127.0.0.1:${await freePort()}`;
      const store = new MemoryStore();
      const cache = new RedisCache({ url: dead, timeoutMs: 100 });
      const bus = new RedisEventBus({ url: dead, store, timeoutMs: 100 });
      let runs = 0;
      const executor: Executor = {
        async execute(_todo, _input, ctx) {
          runs += 1;
          const hit = await ctx.cache.get('x');
          return { output: { hit: hit ?? null } };
        },
      };
      const agent = new Agent({
        store,
        cache,
        bus,
        planner: new FunctionPlanner(() => ({
          todos: [{ id: 'a', title: 'A', domain: 'work', dependsOn: [], input: {}, idempotent: true }],
        })),
        executors: { work: executor },
      });
      try {
        const result = await agent.run('go').result();
        expect(result.status).toBe('completed');
        expect(runs).toBe(1);
        expect(cache.metrics().misses).toBeGreaterThanOrEqual(1);
      } finally {
        await agent.close();
        await bus.close();
        await cache.close();
      }
    });
  });
}
