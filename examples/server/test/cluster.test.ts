import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentEvent, RunResult } from 'dream-agent';
import { request } from '../../../test/transports/helpers.js';
import {
  serviceSkipReason,
  startPostgres,
  startRedis,
  type PostgresService,
  type RedisService,
} from '../../../test/setup/services.js';
import { startTestServer } from './helpers.js';

const skip = serviceSkipReason('postgres') ?? serviceSkipReason('redis');

if (skip) {
  describe.skip(`example server on PostgreSQL + Redis — skipped: ${skip}`, () => {
    it('needs PostgreSQL and Redis', () => undefined);
  });
} else {
  describe('two example-server nodes behind a "load balancer" (shared PostgreSQL + Redis bus)', () => {
    let pg: PostgresService;
    let redis: RedisService;
    let out: string;
    const previous = process.env['DREAM_AGENT_OUTPUT'];
    beforeAll(async () => {
      [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
      out = await mkdtemp(join(tmpdir(), 'dream-cluster-'));
      process.env['DREAM_AGENT_OUTPUT'] = out;
    });
    afterAll(async () => {
      if (previous === undefined) delete process.env['DREAM_AGENT_OUTPUT'];
      else process.env['DREAM_AGENT_OUTPUT'] = previous;
      await Promise.all([pg?.stop(), redis?.stop()]);
      await rm(out, { recursive: true, force: true });
    });

    it('a session started on one node is reviewed, approved and answered on either node, with one gap-free log', async () => {
      const common = {
        store: 'postgres' as const,
        databaseUrl: pg.url,
        redisUrl: redis.url,
        layers: 'offline' as const,
      };
      const a = await startTestServer({ ...common, nodeId: 'node-a' });
      const b = await startTestServer({ ...common, nodeId: 'node-b' });
      try {
        const as = (srv: typeof a.srv, user: string, roles: string[]) =>
          srv.auth.sign(user, roles).then((t) => ({ authorization: `Bearer ${t}` }));
        const opA = await as(a.srv, 'olga', ['operator']);
        const apB = await as(b.srv, 'ann', ['approver']);
        const apA = await as(a.srv, 'ann', ['approver']);
        const opB = await as(b.srv, 'olga', ['operator']);
        const started = await request(a.base, 'POST', '/api/sessions?wait=true', {
          body: {
            input: "Analyse last quarter's sales by region and email the report to the team",
            sessionId: 'cluster-1',
          },
          headers: opA,
        });
        expect(started.status, JSON.stringify(started.body)).toBe(200);
        let r = started.body as RunResult;
        expect(r.pending[0]?.kind).toBe('plan_review');
        const send = async (
          base: string,
          command: unknown,
          headers: Record<string, string>,
        ): Promise<RunResult> => {
          const res = await request(base, 'POST', '/api/sessions/cluster-1/commands?wait=true', {
            body: command,
            headers,
          });
          expect(res.status, JSON.stringify(res.body)).toBe(200);
          return res.body as RunResult;
        };
        r = await send(b.base, { type: 'plan.approve' }, apB); // node B approves what node A planned
        expect(r.pending[0]?.kind).toBe('approval');
        r = await send(a.base, { type: 'approval.grant', requestId: r.pending[0]?.id }, apA);
        expect(r.pending[0]?.kind).toBe('input');
        r = await send(
          b.base,
          { type: 'input.provide', requestId: r.pending[0]?.id, value: 'team@example.com' },
          opB,
        );
        // The recipient was asked after the grant: the approver now sees it in the effect and grants again.
        expect(r.pending[0]?.kind).toBe('approval');
        expect(r.pending[0]?.effect?.provided).toMatchObject({ recipient: 'team@example.com' });
        r = await send(a.base, { type: 'approval.grant', requestId: r.pending[0]?.id }, apA);
        expect(r.status).toBe('completed');
        const log = (
          await request(a.base, 'GET', '/api/sessions/cluster-1/events?limit=1000', { headers: opA })
        ).body as { events: AgentEvent[] };
        expect(log.events.map((e) => e.seq)).toEqual(log.events.map((_, i) => i + 1));
        expect(log.events.filter((e) => e.type === 'todo.completed')).toHaveLength(5);
        expect(log.events.at(-1)?.type).toBe('turn.completed');
      } finally {
        await a.srv.close();
        await b.srv.close();
      }
    });
  });
}
