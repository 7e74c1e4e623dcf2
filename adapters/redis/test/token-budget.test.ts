/**
 * Per-tenant token budgets across nodes: two agents sharing one Redis count one budget per tenant
 * (RedisCache.increment is atomic), and a Redis that is down refuses rather than lets calls through.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, ToolRegistry, defineTool, isDreamAgentError } from 'dream-agent';
import { ScriptedModel } from 'dream-agent/testing';
import { RedisCache } from '@dream-agent/redis';
import { z } from 'zod';
import { serviceSkipReason, startRedis, type RedisService } from '@dream-agent/test-services';

const skip = serviceSkipReason('redis');
const PERIOD = 3_600_000;

const INTENT = {
  intent: 'orders.review',
  confidence: 0.9,
  entities: [],
  slots: {},
  missingSlots: [],
  clarification: null,
};
const PLAN = {
  todos: [{ id: 'fetch', title: 'Fetch the order', tool: 'orders.get', input: { id: 'o-1' }, dependsOn: [] }],
};

/** One node: its own store, the shared Redis cache; cognitive 120 tokens, planner 380, responder 80. */
function node(
  cache: RedisCache,
  limit: (tenant: string | undefined) => number | undefined = (t) => (t === 'acme' ? 1_000 : undefined),
): Agent {
  const tools = new ToolRegistry();
  tools.register(
    defineTool({
      name: 'orders.get',
      description: 'Gets an order',
      domain: 'data',
      input: z.object({ id: z.string() }),
      handler: (input) => ({ id: input.id }),
    }),
  );
  const scripted = (model: string, reply: object): ScriptedModel =>
    new ScriptedModel({ model, turns: [reply], whenExhausted: 'repeat-last' });
  return new Agent({
    tools,
    cache,
    models: {
      cognitive: scripted('cog-1', { json: INTENT, usage: { inputTokens: 100, outputTokens: 20 } }),
      planner: scripted('plan-1', { json: PLAN, usage: { inputTokens: 300, outputTokens: 80 } }),
      responder: scripted('resp-1', { text: 'Done.', usage: { inputTokens: 60, outputTokens: 20 } }),
    },
    hitl: { planReview: 'never' },
    tokenBudget: { tokensPerPeriod: limit, periodMs: PERIOD },
  });
}

if (skip) {
  describe.skip(`token budgets on Redis — skipped: ${skip}`, () => {
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

  describe('token budgets on Redis', () => {
    it('RedisCache.increment is atomic across clients and sets the expiry once', async () => {
      const ns = `t${Math.random().toString(36).slice(2)}`;
      const a = new RedisCache({ url: server.url, namespace: ns, timeoutMs: 10_000 });
      const b = new RedisCache({ url: server.url, namespace: ns, timeoutMs: 10_000 });
      const adds = Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? a : b).increment('k', 3, 60_000));
      const values = await Promise.all(adds);
      expect(Math.max(...values)).toBe(300);
      // Every intermediate value seen exactly once: no lost update.
      expect(new Set(values).size).toBe(100);
      expect(await a.increment('k', 0, 1)).toBe(300);
      const raw = new Redis(server.url);
      const ttl = await raw.pttl(a.keyOf('k'));
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
      raw.disconnect();
      await a.close();
      await b.close();
    });

    it('a tenant spending its budget on one node is refused on the other; other tenants are not', async () => {
      const ns = `t${Math.random().toString(36).slice(2)}`;
      const cacheA = new RedisCache({ url: server.url, namespace: ns, timeoutMs: 10_000 });
      const cacheB = new RedisCache({ url: server.url, namespace: ns, timeoutMs: 10_000 });
      const a = node(cacheA);
      const b = node(cacheB);
      // Node A: 580 tokens. Node B: cognitive and planner add 500 (1 080 ≥ 1 000, counted from A's 580):
      // its answer is refused.
      const r1 = await a.run('review o-1', { tenantId: 'acme' }).result();
      expect(r1.status, JSON.stringify(r1)).toBe('completed');
      expect(r1.answerError).toBeUndefined();
      const r2 = await b.run('review o-2', { tenantId: 'acme' }).result();
      expect(r2.status).toBe('completed');
      expect(r2.answerError?.code).toBe('RATE_LIMITED');
      const r3 = await a.run('review o-3', { tenantId: 'acme' }).result();
      expect(r3.status).toBe('failed');
      expect(r3.error).toMatchObject({
        code: 'RATE_LIMITED',
        details: { reason: 'token_budget', tenantId: 'acme', limit: 1_000, used: 1_080 },
      });
      const r4 = await b.run('review o-4', { tenantId: 'globex' }).result();
      expect(r4.status).toBe('completed');
      await a.close();
      await b.close();
      await cacheA.close();
      await cacheB.close();
    });

    it("eraseTenant erases a tenant's sessions and its budget counters in Redis; a user's erasure leaves the tenant's count", async () => {
      const namespace = `erase${Math.random().toString(36).slice(2)}`;
      const client = new Redis(server.url);
      const cache = new RedisCache({ client, namespace, timeoutMs: 10_000 });
      const a = node(cache, () => 100_000);
      /** Raw counter keys of the namespace (token budgets) with their values. */
      const counters = async (): Promise<Map<string, string>> => {
        const out = new Map<string, string>();
        for (const k of await client.keys(`${namespace}:*llm-tokens*`))
          out.set(k, (await client.get(k)) ?? '');
        return out;
      };
      try {
        const alice = await a.run('review o-1', { tenantId: 'acme', ownerId: 'alice' }).result();
        const bob = await a.run('review o-2', { tenantId: 'acme', ownerId: 'bob' }).result();
        const carol = await a.run('review o-3', { tenantId: 'globex', ownerId: 'carol' }).result();
        expect([alice.status, bob.status, carol.status]).toEqual(['completed', 'completed', 'completed']);
        const before = await counters();
        expect([...before.keys()].filter((k) => k.includes('"acme"'))).toHaveLength(1);
        expect([...before.values()].sort()).toEqual(['1160', '580']);

        // One user's data: their sessions go, the tenant's aggregate count stays.
        const user = await a.eraseTenant('acme', { ownerId: 'alice' });
        expect(user).toEqual({ erased: [alice.sessionId], busy: [], budgetErased: false });
        expect(await counters()).toEqual(before);
        await expect(a.getSession(alice.sessionId)).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
        expect((await a.getSession(bob.sessionId)).id).toBe(bob.sessionId);

        // The whole tenant: its remaining sessions and its counters; globex keeps both.
        const tenant = await a.eraseTenant('acme');
        expect(tenant).toEqual({ erased: [bob.sessionId], busy: [], budgetErased: true });
        const after = await counters();
        expect([...after.keys()].some((k) => k.includes('acme'))).toBe(false);
        expect([...after.values()]).toEqual(['580']);
        expect((await a.getSession(carol.sessionId)).id).toBe(carol.sessionId);
        expect(await a.listSessions({ tenantId: 'acme' })).toEqual([]);
        // Idempotent, and acme starts counting from zero again.
        expect(await a.eraseTenant('acme')).toEqual({ erased: [], busy: [], budgetErased: true });
        await a.run('review o-4', { tenantId: 'acme' }).result();
        expect([...(await counters()).entries()].find(([k]) => k.includes('"acme"'))?.[1]).toBe('580');
      } finally {
        await a.close();
        client.disconnect();
      }
    });

    it('with Redis down the call is refused (UNAVAILABLE), not let through unbudgeted', async () => {
      const own = await startRedis();
      const cache = new RedisCache({ url: own.url, namespace: 'down', timeoutMs: 200 });
      const a = node(cache);
      await own.kill();
      const r = await a.run('review o-1', { tenantId: 'acme' }).result();
      expect(r.status).toBe('failed');
      expect(r.error?.code).toBe('UNAVAILABLE');
      let caught: unknown;
      try {
        await cache.increment('k', 1, 1000);
      } catch (e) {
        caught = e;
      }
      expect(isDreamAgentError(caught, 'UNAVAILABLE')).toBe(true);
      await a.close();
      await cache.close();
      await own.stop();
    });
  });
}
