/**
 * Cached tool outputs are sealed when the agent has a codec: a canary a tool returns never reaches
 * Redis in plaintext, hits still serve other sessions, an entry moved onto another key or written in
 * plaintext behind the agent's back is a miss (the tool runs again), and erasure still removes every key
 * of an erased session.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  AesGcmCodec,
  Agent,
  FunctionPlanner,
  MemoryStore,
  StaticKeyring,
  ToolRegistry,
  defineTool,
} from 'dream-agent';
import { RedisCache } from '@dream-agent/redis';
import { serviceSkipReason, startRedis, type RedisService } from '@dream-agent/test-services';

const skip = serviceSkipReason('redis');
const CANARY = 'CANARY-7f3a9c-card-4111111111111111';

/** An agent whose one todo calls a cached tool returning a canary; the cache is sealed by `codec`. */
function setup(
  cache: RedisCache,
  codec: AesGcmCodec,
): { agent: Agent; calls: string[]; next: (q: string) => void } {
  const calls: string[] = [];
  let q = '';
  const tools = new ToolRegistry();
  tools.register(
    defineTool({
      name: 'crm.lookup',
      description: 'Looks a customer up',
      domain: 'crm',
      input: z.object({ q: z.string() }),
      output: z.object({ card: z.string() }),
      cache: { ttl: 3600 },
      handler: ({ q: who }) => {
        calls.push(who);
        return { card: `${CANARY} of ${who}` };
      },
    }),
  );
  const agent = new Agent({
    store: new MemoryStore(),
    cache,
    codec,
    tools,
    planner: new FunctionPlanner(() => ({
      todos: [{ id: 'a', title: 'Look up', domain: 'crm', tool: 'crm.lookup', dependsOn: [], input: { q } }],
    })),
  });
  return { agent, calls, next: (v) => (q = v) };
}

if (skip) {
  describe.skip(`encrypted cache on Redis — skipped: ${skip}`, () => {
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

  describe('cached tool outputs on Redis with a codec', () => {
    it('no canary in the raw Redis bytes; hits across sessions; moved or plaintext entries are misses; erasure', async () => {
      const client = new Redis(server.url);
      const namespace = `enc${Math.random().toString(36).slice(2)}`;
      const cache = new RedisCache({ client, namespace, timeoutMs: 10_000 });
      const codec = new AesGcmCodec(
        new StaticKeyring({ keys: { k1: new Uint8Array(randomBytes(32)) }, current: 'k1' }),
      );
      const { agent, calls, next } = setup(cache, codec);
      const run = async (q: string): Promise<{ sessionId: string; answer: string }> => {
        next(q);
        const r = await agent.run(q).result();
        expect(r.status).toBe('completed');
        const todo = (await agent.getSession(r.sessionId))?.todos.find((t) => t.todoId === 'a');
        return { sessionId: r.sessionId, answer: JSON.stringify(todo?.output ?? null) };
      };
      /** Every raw key of the namespace with its raw bytes (strings) or members (sets). */
      const raw = async (): Promise<Map<string, Buffer>> => {
        const out = new Map<string, Buffer>();
        for (const k of await client.keys(`${namespace}:*`)) {
          out.set(
            k,
            (await client.type(k)) === 'set'
              ? Buffer.from((await client.smembers(k)).sort().join(','))
              : ((await client.getBuffer(k)) ?? Buffer.alloc(0)),
          );
        }
        return out;
      };
      const entryKeys = async (): Promise<string[]> =>
        [...(await raw()).keys()].filter((k) => !k.includes(':writers:'));
      try {
        const alice = await run('alice@example.com');
        expect(alice.answer).toContain(CANARY);
        const hit = await run('alice@example.com'); // another session, served from the cache
        expect(hit.answer).toBe(alice.answer);
        expect(calls).toEqual(['alice@example.com']);

        const bytes = await raw();
        expect(bytes.size).toBeGreaterThan(0);
        for (const [k, v] of bytes) {
          expect(v.includes(CANARY), k).toBe(false);
          expect(v.includes('alice@example.com'), k).toBe(false);
        }
        const [entry] = await entryKeys();
        expect(entry).toBeDefined();
        expect((await client.get(entry!)) ?? '').toContain('da1.k1.');

        // The sealed value copied onto another entry's key does not open there: a miss, the tool runs.
        await run('bob@example.com');
        expect(calls).toEqual(['alice@example.com', 'bob@example.com']);
        const keys = await entryKeys();
        const bobKey = keys.find((k) => k !== entry)!;
        await client.set(bobKey, (await client.get(entry!))!, 'PX', 3_600_000);
        const moved = await run('bob@example.com');
        expect(moved.answer).toContain('of bob@example.com');
        expect(calls).toEqual(['alice@example.com', 'bob@example.com', 'bob@example.com']);

        // A plaintext value written behind the agent's back is refused too.
        await client.set(bobKey, JSON.stringify(JSON.stringify({ card: 'forged' })), 'PX', 3_600_000);
        const forged = await run('bob@example.com');
        expect(forged.answer).not.toContain('forged');
        expect(calls).toHaveLength(4);

        // Erasure still reaches the entries through the wrapper.
        expect(await agent.deleteSession(alice.sessionId)).toBe(true);
        expect(await entryKeys()).not.toContain(entry);
      } finally {
        await agent.close();
        client.disconnect();
      }
    });
  });
}
