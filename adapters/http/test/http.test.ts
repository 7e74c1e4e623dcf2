import http from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DreamAgentError,
  ERROR_CODES,
  type AgentEvent,
  type RunResult,
  type SessionSnapshot,
} from 'dream-agent';
import {
  buildOpenApiDocument,
  createHandler,
  createRouter,
  httpStatusOf,
  type CommandRecord,
  type HttpTransportOptions,
} from '@dream-agent/http';
import { closeServer, journeyAgent, listen, readSse, request } from '@dream-agent/test-services/transport';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(options: HttpTransportOptions = {}, todos?: Parameters<typeof journeyAgent>[0]) {
  const { agent, rec } = journeyAgent(todos);
  const server = http.createServer(createHandler(agent, { basePath: '/api', ...options }));
  const base = await listen(server);
  cleanups.push(async () => {
    await closeServer(server);
    await agent.close();
  });
  return { agent, rec, base, server };
}

const errorCode = (body: unknown): string => (body as { error: { code: string } }).error.code;

describe('REST: the full human-in-the-loop journey over the wire', () => {
  it('start → review → stale/invalid edits refused → edit → approve → input → approval → completed; events replay gap-free', async () => {
    const { base, rec } = await serve();
    const start = await request(base, 'POST', '/api/sessions', {
      body: { input: 'send the report', sessionId: 'j1' },
    });
    expect(start.status).toBe(202);
    expect(start.body).toMatchObject({ status: 'accepted', sessionId: 'j1', firstSeq: 1 });

    const review = await readSse(base, '/api/sessions/j1/stream', (es) =>
      es.some((e) => e.type === 'plan.review.requested'),
    );
    expect(review.events.map((e) => e.type)).toEqual([
      'turn.started',
      'intent.detected',
      'plan.created',
      'plan.review.requested',
    ]);
    expect(review.ids).toEqual([1, 2, 3, 4]);

    const snap = (await request(base, 'GET', '/api/sessions/j1')).body as SessionSnapshot;
    expect(snap.status).toBe('waiting');
    expect(snap.pending.map((p) => p.kind)).toEqual(['plan_review']);
    expect(snap.plan?.todos.map((t) => t.id)).toEqual(['fetch', 'ask', 'send']);

    // stale version → 409, cycle → 400; both change nothing
    const stale = await request(base, 'POST', '/api/sessions/j1/commands', {
      body: { type: 'plan.edit', baseVersion: 9, edits: [{ op: 'remove', todoId: 'send' }] },
    });
    expect([stale.status, errorCode(stale.body)]).toEqual([409, 'STALE_VERSION']);
    const cycle = await request(base, 'POST', '/api/sessions/j1/commands', {
      body: {
        type: 'plan.edit',
        baseVersion: 1,
        edits: [{ op: 'update', todoId: 'fetch', patch: { dependsOn: ['send'] } }],
      },
    });
    expect([cycle.status, errorCode(cycle.body)]).toEqual([400, 'INVALID_EDIT']);
    const unchanged = (await request(base, 'GET', '/api/sessions/j1')).body as SessionSnapshot;
    expect([unchanged.version, unchanged.lastSeq, unchanged.planHistory.length]).toEqual([
      snap.version,
      snap.lastSeq,
      1,
    ]);

    // a good edit, waited for
    const edit = await request(base, 'POST', '/api/sessions/j1/commands?wait=true', {
      body: {
        type: 'plan.edit',
        baseVersion: 1,
        actor: 'alice',
        edits: [
          {
            op: 'add',
            after: 'fetch',
            todo: { id: 'chart', title: 'Chart', domain: 'work', dependsOn: ['fetch'] },
          },
        ],
      },
    });
    expect(edit.status).toBe(200);
    expect((edit.body as RunResult).status).toBe('waiting');

    const approve = await request(base, 'POST', '/api/sessions/j1/commands?wait=1', {
      body: { type: 'plan.approve', actor: 'alice' },
    });
    expect(approve.status).toBe(200);
    const waitingInput = approve.body as RunResult;
    expect(waitingInput.pending.map((p) => p.kind)).toEqual(['input']);

    const badValue = await request(base, 'POST', '/api/sessions/j1/commands', {
      body: { type: 'input.provide', requestId: waitingInput.pending[0]?.id, value: 'x' },
    });
    expect([badValue.status, errorCode(badValue.body)]).toEqual([400, 'INVALID_INPUT']);
    const unknownReq = await request(base, 'POST', '/api/sessions/j1/commands', {
      body: { type: 'input.provide', requestId: 'nope', value: 'team@x.io' },
    });
    expect([unknownReq.status, errorCode(unknownReq.body)]).toEqual([404, 'REQUEST_NOT_FOUND']);

    const provided = await request(base, 'POST', '/api/sessions/j1/commands?wait=true', {
      body: {
        type: 'input.provide',
        requestId: waitingInput.pending[0]?.id,
        value: 'team@x.io',
        actor: 'bob',
      },
    });
    const approval = (provided.body as RunResult).pending[0];
    expect(approval).toMatchObject({ kind: 'approval', todoId: 'send', roles: ['approver'] });

    const forbidden = await request(base, 'POST', '/api/sessions/j1/commands', {
      body: { type: 'approval.grant', requestId: approval?.id, actor: { id: 'v', roles: ['viewer'] } },
    });
    expect([forbidden.status, errorCode(forbidden.body)]).toEqual([403, 'FORBIDDEN']);

    const granted = await request(base, 'POST', '/api/sessions/j1/commands?wait=true', {
      body: { type: 'approval.grant', requestId: approval?.id, actor: { id: 'ann', roles: ['approver'] } },
    });
    expect(granted.status).toBe(200);
    expect(granted.body).toMatchObject({ status: 'completed' });
    expect(Object.fromEntries(rec.runs)).toEqual({ fetch: 1, chart: 1, ask: 2, send: 1 });

    // replay: paging, no gaps
    const page1 = (await request(base, 'GET', '/api/sessions/j1/events?limit=5')).body as {
      events: AgentEvent[];
      hasMore: boolean;
      lastSeq: number;
    };
    expect(page1.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(page1.hasMore).toBe(true);
    const rest = (await request(base, 'GET', '/api/sessions/j1/events?after=5')).body as {
      events: AgentEvent[];
      hasMore: boolean;
      lastSeq: number;
    };
    expect(rest.events.map((e) => e.seq)).toEqual(Array.from({ length: page1.lastSeq - 5 }, (_, i) => i + 6));
    expect(rest.hasMore).toBe(false);
    expect(rest.events.at(-1)?.type).toBe('turn.completed');

    // waiting sessions are listed; this one is idle now
    const list = (await request(base, 'GET', '/api/sessions?status=waiting')).body as { sessions: unknown[] };
    expect(list.sessions).toEqual([]);
    const all = (await request(base, 'GET', '/api/sessions')).body as {
      sessions: { id: string; status: string }[];
    };
    expect(all.sessions.map((s) => [s.id, s.status])).toEqual([['j1', 'idle']]);
  });

  it('SSE resumes with Last-Event-ID: exactly the missing events, no duplicates', async () => {
    const { base } = await serve();
    await request(base, 'POST', '/api/sessions?wait=true', { body: { input: 'go', sessionId: 'r1' } });
    const first = await readSse(base, '/api/sessions/r1/stream', (es) => es.length >= 2);
    expect(first.ids).toEqual([1, 2]);
    const approving = request(base, 'POST', '/api/sessions/r1/commands?wait=true', {
      body: { type: 'plan.approve' },
    });
    const resumed = await readSse(
      base,
      '/api/sessions/r1/stream',
      (es) => es.some((e) => e.type === 'input.requested'),
      { 'last-event-id': '2' },
    );
    await approving;
    const seqs = resumed.events.map((e) => e.seq);
    expect(seqs[0]).toBe(3);
    expect(seqs).toEqual(seqs.map((_, i) => i + 3));
    const viaQuery = await readSse(base, '/api/sessions/r1/stream?after=4', (es) => es.length >= 1);
    expect(viaQuery.events[0]?.seq).toBe(5);
    const bad = await readSse(base, '/api/sessions/r1/stream', () => true, { 'last-event-id': 'abc' });
    expect(bad.status).toBe(400);
  });
});

describe('REST: bad requests get typed errors and change nothing', () => {
  it('maps errors to statuses with { error: { code, message, details } }', async () => {
    const { base, agent } = await serve();
    await request(base, 'POST', '/api/sessions?wait=true', { body: { input: 'go', sessionId: 'e1' } });
    const before = await agent.getSession('e1');
    const cases: [string, string, Parameters<typeof request>[3], number, string][] = [
      ['GET', '/api/sessions/nobody', {}, 404, 'SESSION_NOT_FOUND'],
      ['POST', '/api/sessions/nobody/commands', { body: { type: 'pause' } }, 404, 'SESSION_NOT_FOUND'],
      ['POST', '/api/sessions/nobody/turns', { body: { input: 'x' } }, 404, 'SESSION_NOT_FOUND'],
      ['POST', '/api/sessions/e1/commands', { body: { type: 'plan.explode' } }, 400, 'INVALID_INPUT'],
      ['POST', '/api/sessions/e1/commands', { body: { type: 'pause', extra: 1 } }, 400, 'INVALID_INPUT'],
      ['POST', '/api/sessions/e1/commands', { raw: '{"type": "pause"' }, 400, 'INVALID_INPUT'],
      [
        'POST',
        '/api/sessions/e1/commands',
        { raw: 'type=pause', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
        400,
        'INVALID_INPUT',
      ],
      [
        'POST',
        '/api/sessions/e1/commands',
        { body: { type: 'cancel', reason: 'x'.repeat(300_000) } },
        413,
        'PAYLOAD_TOO_LARGE',
      ],
      ['POST', '/api/sessions/e1/commands', { body: { type: 'resume' } }, 409, 'INVALID_STATE'],
      ['POST', '/api/sessions/e1/commands?wait=maybe', { body: { type: 'pause' } }, 400, 'INVALID_INPUT'],
      ['POST', '/api/sessions', { body: { input: '' } }, 400, 'INVALID_INPUT'],
      ['POST', '/api/sessions', { body: { input: 'again', sessionId: 'e1' } }, 409, 'SESSION_BUSY'],
      ['POST', '/api/sessions', { body: { input: 'x', sessionId: 'has spaces' } }, 400, 'INVALID_INPUT'],
      ['GET', '/api/sessions?status=sleeping', {}, 400, 'INVALID_INPUT'],
      ['GET', '/api/sessions?limit=0', {}, 400, 'INVALID_INPUT'],
      ['GET', '/api/sessions/e1/events?after=-1', {}, 400, 'INVALID_INPUT'],
      ['GET', '/api/sessions/e1/events?after=1&after=2', {}, 400, 'INVALID_INPUT'],
      ['GET', '/api/nowhere', {}, 404, 'ROUTE_NOT_FOUND'],
      ['DELETE', '/api/sessions/e1', {}, 405, 'METHOD_NOT_ALLOWED'],
      ['GET', '/api/openapi.json', {}, 400, 'INVALID_INPUT'],
    ];
    for (const [method, path, opts, status, code] of cases) {
      const r = await request(base, method, path, opts);
      expect([method, path, r.status, errorCode(r.body)]).toEqual([method, path, status, code]);
      expect(typeof (r.body as { error: { message: string } }).error.message).toBe('string');
    }
    const invalid = await request(base, 'POST', '/api/sessions/e1/commands', {
      body: { type: 'approval.grant' },
    });
    expect(
      (invalid.body as { error: { details: { issues: { path: string }[] } } }).error.details.issues[0]?.path,
    ).toBe('requestId');
    const after = await agent.getSession('e1');
    expect([after.version, after.lastSeq, after.pending]).toEqual([
      before.version,
      before.lastSeq,
      before.pending,
    ]);
  });

  it('maps every core code to the documented status', () => {
    const expected: Record<string, number> = {
      INVALID_INPUT: 400,
      INVALID_EDIT: 400,
      UNAUTHENTICATED: 401,
      FORBIDDEN: 403,
      SESSION_NOT_FOUND: 404,
      REQUEST_NOT_FOUND: 404,
      STALE_VERSION: 409,
      SESSION_BUSY: 409,
      INVALID_STATE: 409,
      CONFLICT: 409,
      PAYLOAD_TOO_LARGE: 413,
      RATE_LIMITED: 429,
      UNAVAILABLE: 503,
      INTERNAL: 500,
    };
    for (const [code, status] of Object.entries(expected))
      expect([code, httpStatusOf(code as never)]).toEqual([code, status]);
    for (const code of ERROR_CODES) expect(httpStatusOf(code)).toBeGreaterThanOrEqual(400);
  });
});

describe('REST: auth hooks', () => {
  it('401 without credentials, 403 on a refused operation, the principal is the actor, every command is audited', async () => {
    const records: CommandRecord[] = [];
    const { base, agent } = await serve({
      authenticate: ({ token }) => {
        if (token === 'op') return { id: 'olga', roles: ['operator'] };
        if (token === 'ap') return { id: 'ann', roles: ['approver'] };
        throw new DreamAgentError('UNAUTHENTICATED', 'bad token');
      },
      authorize: (p, op) => {
        if (op.kind === 'command' && op.command.type === 'approval.grant' && !p.roles.includes('approver'))
          throw new DreamAgentError('FORBIDDEN', 'approvers only');
      },
      onCommand: (r) => records.push(r),
    });
    expect((await request(base, 'GET', '/api/sessions')).status).toBe(401);
    expect(
      (await request(base, 'GET', '/api/sessions', { headers: { authorization: 'Bearer nope' } })).status,
    ).toBe(401);
    expect((await request(base, 'GET', '/api/sessions?token=op')).status).toBe(401);
    const op = { authorization: 'Bearer op' };
    expect(
      (
        await request(base, 'POST', '/api/sessions?wait=true', {
          body: { input: 'go', sessionId: 'a1' },
          headers: op,
        })
      ).status,
    ).toBe(200);
    const r = await request(base, 'POST', '/api/sessions/a1/commands?wait=true', {
      body: { type: 'plan.approve', actor: 'mallory' },
      headers: { 'x-api-key': 'op' },
    });
    expect(r.status).toBe(200);
    const snap = await agent.getSession('a1');
    const approved = [];
    for await (const e of agent.events('a1')) if (e.type === 'plan.approved') approved.push(e.actor);
    expect(approved).toEqual(['olga']); // the claimed actor "mallory" is ignored
    const inputReq = snap.pending[0];
    expect(inputReq?.kind).toBe('input');
    expect(records.map((x) => [x.type, x.principal.id, x.outcome])).toEqual([
      ['turn.start', 'olga', 'accepted'],
      ['plan.approve', 'olga', 'accepted'],
    ]);
    const denied = await request(base, 'POST', '/api/sessions/a1/commands', {
      body: { type: 'approval.grant', requestId: 'x' },
      headers: op,
    });
    expect(denied.status).toBe(403);
  });
});

describe('REST: Express router and OpenAPI', () => {
  it('the Express router serves the same API under its mount path', async () => {
    const { agent } = journeyAgent();
    const app = express();
    app.use(express.json({ limit: '64kb' }));
    app.use('/v1', createRouter(agent, { openapi: buildOpenApiDocument() }));
    const server = http.createServer(app);
    const base = await listen(server);
    cleanups.push(async () => {
      await closeServer(server);
      await agent.close();
    });
    const s = await request(base, 'POST', '/v1/sessions?wait=true', {
      body: { input: 'go', sessionId: 'x1' },
    });
    expect(s.status).toBe(200);
    expect((await request(base, 'GET', '/v1/sessions/x1')).body).toMatchObject({
      id: 'x1',
      status: 'waiting',
    });
    expect((await request(base, 'POST', '/v1/sessions/x1/commands', { body: { type: 'nope' } })).status).toBe(
      400,
    );
    expect((await request(base, 'GET', '/v1/sessions/none')).status).toBe(404);
    const doc = (await request(base, 'GET', '/v1/openapi.json')).body as { openapi: string };
    expect(doc.openapi).toBe('3.1.0');
  });

  it('the committed openapi.json is generated from the schemas and documents every route', () => {
    const file = fileURLToPath(new URL('../openapi.json', import.meta.url));
    const doc = buildOpenApiDocument();
    // Regenerate with: UPDATE_OPENAPI=1 npx vitest run adapters/http
    if (process.env['UPDATE_OPENAPI'] === '1') writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
    const committed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    expect(committed).toEqual(JSON.parse(JSON.stringify(doc)));
    const paths = Object.keys(doc['paths'] as object);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/sessions',
        '/sessions/{id}',
        '/sessions/{id}/commands',
        '/sessions/{id}/events',
        '/sessions/{id}/stream',
        '/sessions/{id}/turns',
      ]),
    );
    const command = (doc['components'] as { schemas: Record<string, { oneOf?: unknown[] }> }).schemas[
      'Command'
    ];
    expect(command?.oneOf).toHaveLength(11);
  });
});

describe('REST: the scope hook (tenant and owner isolation with the core scopedAgent)', () => {
  it('stamps tenant and owner on new sessions; another tenant is 404, another owner 403; nothing changes', async () => {
    const { scopedAgent } = await import('dream-agent');
    const people: Record<string, { id: string; roles: string[]; tenantId: string }> = {
      alice: { id: 'alice', roles: ['operator'], tenantId: 'acme' },
      bob: { id: 'bob', roles: ['operator'], tenantId: 'acme' },
      eve: { id: 'eve', roles: ['admin'], tenantId: 'evil' },
      sue: { id: 'sue', roles: ['supervisor'], tenantId: 'acme' },
    };
    const holder: { agent?: Parameters<typeof scopedAgent>[0] } = {};
    const { base, agent } = await serve({
      authenticate: ({ token }) => {
        const p = token ? people[token] : undefined;
        if (!p) throw new DreamAgentError('UNAUTHENTICATED', 'who?');
        return p;
      },
      scope: (p) => {
        if (!holder.agent) throw new Error('unreachable');
        return scopedAgent(holder.agent, { id: p.id, tenantId: p.tenantId ?? '', roles: p.roles });
      },
    });
    holder.agent = agent;
    const as = (who: string) => ({ authorization: `Bearer ${who}` });
    const started = await request(base, 'POST', '/api/sessions?wait=true', {
      body: { input: 'send the report', sessionId: 's-alice' },
      headers: as('alice'),
    });
    expect(started.status).toBe(200);
    const rec = await agent.store.getSession('s-alice');
    expect([rec?.tenantId, rec?.ownerId]).toEqual(['acme', 'alice']);
    const before = await agent.getSession('s-alice');

    for (const [who, status, errCode] of [
      ['eve', 404, 'SESSION_NOT_FOUND'],
      ['bob', 403, 'FORBIDDEN'],
    ] as const) {
      for (const path of [
        '/api/sessions/s-alice',
        '/api/sessions/s-alice/events',
        '/api/sessions/s-alice/stream',
      ]) {
        const r = await request(base, 'GET', path, { headers: as(who) });
        expect([who, path, r.status, errorCode(r.body)]).toEqual([who, path, status, errCode]);
      }
      for (const cmd of [{ type: 'cancel' }, { type: 'plan.approve' }, { type: 'pause' }]) {
        const r = await request(base, 'POST', '/api/sessions/s-alice/commands', {
          body: cmd,
          headers: as(who),
        });
        expect([who, cmd.type, r.status]).toEqual([who, cmd.type, status]);
      }
      const turn = await request(base, 'POST', '/api/sessions', {
        body: { input: 'take over', sessionId: 's-alice' },
        headers: as(who),
      });
      expect(turn.status).toBe(status);
      const list = await request(base, 'GET', '/api/sessions', { headers: as(who) });
      expect((list.body as { sessions: { id: string }[] }).sessions.map((s) => s.id)).toEqual([]);
    }
    const after = await agent.getSession('s-alice');
    expect([after.lastSeq, after.status]).toEqual([before.lastSeq, before.status]);
    // a supervisor of the same tenant may read and command it
    expect((await request(base, 'GET', '/api/sessions/s-alice', { headers: as('sue') })).status).toBe(200);
    const approved = await request(base, 'POST', '/api/sessions/s-alice/commands?wait=true', {
      body: { type: 'plan.approve' },
      headers: as('sue'),
    });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
  });
});
