import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SignJWT } from 'jose';
import {
  Agent,
  FunctionPlanner,
  MemoryStore,
  PlanDraftSchema,
  type AgentEvent,
  type RunResult,
  type SessionSnapshot,
} from 'dream-agent';
import { PROTOCOL, CLOSE_CODES } from '@dream-agent/ws';
import { request, readSse } from '../../../test/transports/helpers.js';
import type { RunningServer } from '../src/app.js';
import { ScenarioCognitive, ScenarioPlanner, scenarioExecutor } from '../src/scenario.js';
import { SECRET, startTestServer, until, wsClient } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(...args: Parameters<typeof startTestServer>) {
  const s = await startTestServer(...args);
  cleanups.push(() => s.srv.close());
  const tok = async (user: string, roles: string[]) => s.srv.auth.sign(user, roles);
  const tokens = {
    viewer: await tok('vera', ['viewer']),
    operator: await tok('olga', ['operator']),
    approver: await tok('ann', ['approver']),
    admin: await tok('ada', ['admin']),
    finance: await tok('fin', ['approver', 'finance']),
  };
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  return { ...s, tokens, bearer };
}

const code = (body: unknown): string => (body as { error: { code: string } }).error.code;

function rawWs(url: string, protocols: string[], options: WebSocket.ClientOptions = {}) {
  const ws = new WebSocket(url, protocols, options);
  ws.on('error', () => undefined);
  cleanups.push(() => ws.terminate());
  return {
    ws,
    refused: new Promise<number>((r) => ws.on('unexpected-response', (_q, res) => r(res.statusCode ?? 0))),
    opened: new Promise<void>((r) => ws.on('open', () => r())),
    closed: new Promise<number>((r) => ws.on('close', (c) => r(c))),
  };
}

describe('example server: the full HITL journey over REST and WebSocket', () => {
  it('clarify → review → edit → approve → input → gated approval → completed; a dropped WebSocket resumes without gaps; all audited', async () => {
    const { base, wsUrl, tokens, bearer, srv } = await start();
    const sockets: WebSocket[] = [];
    const watcher = wsClient(wsUrl, tokens.viewer, (ws) => sockets.push(ws));
    cleanups.push(() => watcher.close());

    const started = await request(base, 'POST', '/api/sessions', {
      body: { input: 'Analyse sales by region and email the report', sessionId: 'hitl-1' },
      headers: bearer(tokens.operator),
    });
    expect(started.status).toBe(202);
    const it = watcher.subscribe('hitl-1')[Symbol.asyncIterator]();
    const seen: AgentEvent[] = [];
    const clar = await until(it, seen, 'clarification.requested');
    if (clar.type !== 'clarification.requested') throw new Error('unreachable');
    expect(clar.request.prompt).toBe('Which period should I cover?');

    const answered = await request(base, 'POST', '/api/sessions/hitl-1/commands?wait=true', {
      body: { type: 'clarification.answer', requestId: clar.request.id, answer: 'last quarter' },
      headers: bearer(tokens.operator),
    });
    expect((answered.body as RunResult).pending.map((p) => p.kind)).toEqual(['plan_review']);
    await until(it, seen, 'plan.review.requested');

    sockets[0]?.terminate(); // the watcher drops; it must resume after its last seq

    const snap = (await request(base, 'GET', '/api/sessions/hitl-1', { headers: bearer(tokens.viewer) }))
      .body as SessionSnapshot;
    expect(snap.plan?.todos.map((t) => t.id)).toEqual([
      'collect',
      'analyse',
      'chart',
      'draft',
      'recipient',
      'send',
    ]);
    const edit = await request(base, 'POST', '/api/sessions/hitl-1/commands?wait=true', {
      body: {
        type: 'plan.edit',
        baseVersion: 1,
        edits: [
          {
            op: 'add',
            after: 'analyse',
            todo: {
              id: 'forecast',
              title: 'Forecast next quarter',
              domain: 'insight',
              dependsOn: ['analyse'],
            },
          },
          { op: 'update', todoId: 'draft', patch: { dependsOn: ['analyse', 'forecast'] } },
          { op: 'remove', todoId: 'chart' },
        ],
      },
      headers: bearer(tokens.operator),
    });
    expect(edit.status).toBe(200);
    const stale = await request(base, 'POST', '/api/sessions/hitl-1/commands', {
      body: { type: 'plan.edit', baseVersion: 1, edits: [{ op: 'remove', todoId: 'forecast' }] },
      headers: bearer(tokens.operator),
    });
    expect([stale.status, code(stale.body)]).toEqual([409, 'STALE_VERSION']);

    const approver = wsClient(wsUrl, tokens.approver);
    cleanups.push(() => approver.close());
    const approved = (await approver.send('hitl-1', { type: 'plan.approve' }, { wait: true })) as RunResult;
    expect(approved.pending.map((p) => p.kind)).toEqual(['input']);
    const provided = await request(base, 'POST', '/api/sessions/hitl-1/commands?wait=true', {
      body: { type: 'input.provide', requestId: approved.pending[0]?.id, value: 'team@example.com' },
      headers: bearer(tokens.operator),
    });
    const gate = (provided.body as RunResult).pending[0];
    expect(gate).toMatchObject({ kind: 'approval', todoId: 'send', roles: ['approver'] });
    const done = (await approver.send(
      'hitl-1',
      { type: 'approval.grant', requestId: gate?.id ?? '' },
      { wait: true },
    )) as RunResult;
    expect(done.status).toBe('completed');
    await until(it, seen, 'turn.completed');

    expect(sockets.length).toBeGreaterThanOrEqual(2);
    const log = (
      await request(base, 'GET', '/api/sessions/hitl-1/events', { headers: bearer(tokens.viewer) })
    ).body as { events: AgentEvent[] };
    expect(seen.map((e) => e.seq)).toEqual(log.events.map((e) => e.seq));
    expect(log.events.find((e) => e.type === 'plan.updated')).toMatchObject({ actor: 'olga' });
    expect(log.events.find((e) => e.type === 'approval.resolved')).toMatchObject({
      actor: 'ann',
      granted: true,
    });
    const final = (await request(base, 'GET', '/api/sessions/hitl-1', { headers: bearer(tokens.viewer) }))
      .body as SessionSnapshot;
    expect(final.planHistory.map((h) => [h.plan.version, h.actor])).toEqual([
      [1, 'planner'],
      [2, 'olga'],
    ]);
    expect(final.todos.map((t) => [t.todoId, t.status])).toEqual([
      ['collect', 'completed'],
      ['analyse', 'completed'],
      ['forecast', 'completed'],
      ['draft', 'completed'],
      ['recipient', 'completed'],
      ['send', 'completed'],
    ]);
    // The core's hash-chained trail: every decision with its actor, verified on read.
    const audit = (
      await request(base, 'GET', '/api/audit?sessionId=hitl-1', { headers: bearer(tokens.admin) })
    ).body as { verify: { ok: boolean; entries: number }; entries: { type: string; actor?: string }[] };
    expect(audit.verify.ok).toBe(true);
    expect(audit.entries.length).toBe(audit.verify.entries);
    expect(audit.entries.filter((e) => e.actor !== undefined).map((e) => [e.type, e.actor])).toEqual([
      ['clarification.answered', 'olga'],
      ['plan.updated', 'olga'],
      ['plan.approved', 'ann'],
      ['input.received', 'olga'],
      ['approval.resolved', 'ann'],
    ]);
    expect(srv.audit).toBeDefined();
    expect((await srv.audit?.verifyAudit('hitl-1'))?.ok).toBe(true);
  });
});

describe('example server: authentication', () => {
  it('refuses missing, forged, alg:none, expired, wrong-audience/issuer, malformed and revoked credentials with 401 on REST and WebSocket', async () => {
    const { base, wsUrl, srv, tokens, bearer } = await start();
    const key = new TextEncoder().encode(SECRET);
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>, k: Uint8Array = key) =>
      new SignJWT({ roles: ['admin'], ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(k);
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const good = { sub: 'x', iss: 'dream-agent-example', aud: 'dream-agent', exp: now + 600 };
    const { key: apiKey, record } = await srv.auth.createApiKey('ci', ['operator'], 'test');
    const bad: [string, string | undefined][] = [
      ['none', undefined],
      [
        'forged signature',
        await sign(good, new TextEncoder().encode('another-secret-0123456789-0123456789-xx')),
      ],
      ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...good, roles: ['admin'] })}.`],
      [
        'alg HS512',
        await new SignJWT({ roles: ['admin'] })
          .setProtectedHeader({ alg: 'HS512' })
          .setSubject('x')
          .setIssuer(good.iss)
          .setAudience(good.aud)
          .setExpirationTime(now + 600)
          .sign(new Uint8Array(64).fill(1)),
      ],
      ['expired', await sign({ ...good, exp: now - 120 })],
      ['not yet valid', await sign({ ...good, nbf: now + 600 })],
      ['no exp', await sign({ sub: 'x', iss: good.iss, aud: good.aud })],
      ['wrong audience', await sign({ ...good, aud: 'someone-else' })],
      ['wrong issuer', await sign({ ...good, iss: 'evil' })],
      ['garbage', 'abc.def.ghi'],
      ['unknown key', 'dak_000000000000_AAAAAAAAAAAAAAAAAAAAAAAA'],
      ['wrong key secret', `${record.prefix}_BBBBBBBBBBBBBBBBBBBBBBBB`],
    ];
    for (const [name, token] of bad) {
      const r = await request(base, 'GET', '/api/sessions', { headers: token ? bearer(token) : {} });
      expect([name, r.status, code(r.body)]).toEqual([name, 401, 'UNAUTHENTICATED']);
      const w = rawWs(wsUrl, token ? [PROTOCOL, `bearer.${token}`] : [PROTOCOL]);
      expect([name, await w.refused]).toEqual([name, 401]);
    }
    // the API key works until revoked, then 401 everywhere
    expect((await request(base, 'GET', '/api/sessions', { headers: { 'x-api-key': apiKey } })).status).toBe(
      200,
    );
    const keyWs = rawWs(wsUrl, [PROTOCOL, `bearer.${apiKey}`]);
    await keyWs.opened;
    const listed = (await request(base, 'GET', '/api/admin/keys', { headers: bearer(tokens.admin) }))
      .body as { keys: Record<string, unknown>[] };
    expect(listed.keys[0]).toMatchObject({ id: record.id, prefix: record.prefix, roles: ['operator'] });
    expect(JSON.stringify(listed)).not.toContain(apiKey.split('_')[2] ?? '');
    expect(listed.keys[0]?.['hash']).toBeUndefined();
    expect(
      (await request(base, 'DELETE', `/api/admin/keys/${record.id}`, { headers: bearer(tokens.admin) }))
        .status,
    ).toBe(200);
    const revoked = await request(base, 'GET', '/api/sessions', { headers: { 'x-api-key': apiKey } });
    expect([revoked.status, (revoked.body as { error: { message: string } }).error.message]).toEqual([
      401,
      'API key revoked',
    ]);
    expect(await rawWs(wsUrl, [PROTOCOL, `bearer.${apiKey}`]).refused).toBe(401);
    // tokens are never read from the query string
    expect((await request(base, 'GET', `/api/sessions?access_token=${tokens.admin}`)).status).toBe(401);
    expect(await rawWs(`${wsUrl}?token=${tokens.admin}`, [PROTOCOL]).refused).toBe(401);
  });
});

describe('example server: roles', () => {
  it('viewers only read, only approvers approve, per-tool approver roles are honoured (403), admins manage keys; refusals change nothing and are audited', async () => {
    const { base, wsUrl, tokens, bearer } = await start();
    const as = (t: string) => ({ headers: bearer(t) });
    expect(
      (
        await request(base, 'POST', '/api/sessions', {
          body: { input: 'x last quarter' },
          ...as(tokens.viewer),
        })
      ).status,
    ).toBe(403);
    const s = await request(base, 'POST', '/api/sessions?wait=true', {
      body: { input: 'Refund the invoice for last quarter', sessionId: 'r1' },
      ...as(tokens.operator),
    });
    expect(s.status).toBe(200);
    const before = (await request(base, 'GET', '/api/sessions/r1', as(tokens.viewer)))
      .body as SessionSnapshot;
    expect(before.plan?.todos.find((t) => t.id === 'pay')?.approval).toMatchObject({ roles: ['finance'] });
    const forbidden: [string, object][] = [
      [tokens.viewer, { type: 'pause' }],
      [tokens.viewer, { type: 'plan.approve' }],
      [tokens.operator, { type: 'plan.approve' }],
      [tokens.operator, { type: 'plan.reject' }],
      [tokens.approver, { type: 'plan.edit', edits: [{ op: 'remove', todoId: 'chart' }] }],
      [tokens.approver, { type: 'plan.approve', edits: [{ op: 'remove', todoId: 'chart' }] }],
      [tokens.approver, { type: 'cancel' }],
    ];
    for (const [t, cmd] of forbidden) {
      const r = await request(base, 'POST', '/api/sessions/r1/commands', { body: cmd, ...as(t) });
      expect([JSON.stringify(cmd), r.status, code(r.body)]).toEqual([JSON.stringify(cmd), 403, 'FORBIDDEN']);
    }
    expect((await request(base, 'POST', '/api/sessions/r1/resume', as(tokens.viewer))).status).toBe(403);
    const mid = (await request(base, 'GET', '/api/sessions/r1', as(tokens.viewer))).body as SessionSnapshot;
    expect([mid.version, mid.lastSeq]).toEqual([before.version, before.lastSeq]);

    // over WebSocket too
    const viewerWs = wsClient(wsUrl, tokens.viewer);
    cleanups.push(() => viewerWs.close());
    await expect(viewerWs.send('r1', { type: 'cancel' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(viewerWs.start('hello last quarter')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect((await viewerWs.get('r1')).id).toBe('r1');

    // the payment gate needs "finance": a plain approver and even an admin are refused by the core
    const approved = await request(base, 'POST', '/api/sessions/r1/commands?wait=true', {
      body: { type: 'plan.approve' },
      ...as(tokens.approver),
    });
    const gate = (approved.body as RunResult).pending[0];
    expect(gate).toMatchObject({ kind: 'approval', todoId: 'pay', roles: ['finance'] });
    for (const t of [tokens.approver, tokens.admin]) {
      const r = await request(base, 'POST', '/api/sessions/r1/commands', {
        body: { type: 'approval.grant', requestId: gate?.id },
        ...as(t),
      });
      expect([r.status, code(r.body)]).toEqual([403, 'FORBIDDEN']);
    }
    const paid = await request(base, 'POST', '/api/sessions/r1/commands?wait=true', {
      body: { type: 'approval.grant', requestId: gate?.id },
      ...as(tokens.finance),
    });
    expect(paid.body).toMatchObject({ status: 'completed' });

    // admin-only endpoints
    expect((await request(base, 'GET', '/api/audit', as(tokens.approver))).status).toBe(403);
    expect(
      (
        await request(base, 'POST', '/api/admin/keys', {
          body: { name: 'k', roles: ['admin'] },
          ...as(tokens.operator),
        })
      ).status,
    ).toBe(403);
    // Refusals by role never reach the agent: the trail holds only what the agent did, with its actor.
    const audit = (await request(base, 'GET', '/api/audit?sessionId=r1', as(tokens.admin))).body as {
      verify: { ok: boolean };
      entries: { type: string; actor?: string }[];
    };
    expect(audit.verify.ok).toBe(true);
    expect(audit.entries.filter((e) => e.actor !== undefined).map((e) => [e.type, e.actor])).toEqual([
      ['plan.approved', 'ann'],
      ['approval.resolved', 'fin'],
    ]);
  });
});

describe('example server: limits, headers, health, metrics, shutdown', () => {
  it('rejects malformed and oversized bodies (400/413) and oversized WebSocket messages (1009) with no state change', async () => {
    const { base, wsUrl, tokens, bearer } = await start({ maxBodyBytes: 8 * 1024 });
    await request(base, 'POST', '/api/sessions?wait=true', {
      body: { input: 'report for last quarter', sessionId: 'm1' },
      headers: bearer(tokens.operator),
    });
    const before = (await request(base, 'GET', '/api/sessions/m1', { headers: bearer(tokens.viewer) }))
      .body as SessionSnapshot;
    const h = bearer(tokens.admin);
    const cases: [Parameters<typeof request>[3], number][] = [
      [{ raw: '{', headers: h }, 400],
      [{ raw: 'null', headers: h }, 400],
      [{ body: { type: 'plan.edit', edits: [] }, headers: h }, 400],
      [
        {
          body: {
            type: 'plan.edit',
            edits: [{ op: 'add', todo: { id: 'bad id!', title: 't', domain: 'data' } }],
          },
          headers: h,
        },
        400,
      ],
      [
        {
          body: {
            type: 'plan.edit',
            edits: [{ op: 'update', todoId: 'collect', patch: { dependsOn: ['draft'] } }],
          },
          headers: h,
        },
        400,
      ],
      [{ body: { type: 'cancel', reason: 'x'.repeat(9000) }, headers: h }, 413],
      [
        {
          raw: JSON.stringify({ type: 'cancel', reason: 'y'.repeat(20_000) }),
          headers: { ...h, 'content-length': '1' },
        },
        400,
      ],
    ];
    for (const [opts, status] of cases) {
      const r = await request(base, 'POST', '/api/sessions/m1/commands', opts);
      expect(r.status).toBe(status);
    }
    const w = rawWs(wsUrl, [PROTOCOL, `bearer.${tokens.admin}`]);
    await w.opened;
    w.ws.send(
      JSON.stringify({
        type: 'command',
        sessionId: 'm1',
        command: { type: 'cancel', reason: 'z'.repeat(10_000) },
      }),
    );
    expect(await w.closed).toBe(CLOSE_CODES.MESSAGE_TOO_BIG);
    const after = (await request(base, 'GET', '/api/sessions/m1', { headers: bearer(tokens.viewer) }))
      .body as SessionSnapshot;
    expect([after.version, after.lastSeq, after.status]).toEqual([before.version, before.lastSeq, 'waiting']);
  });

  it('drops a slow WebSocket consumer with 4008, server buffering bounded; SSE is served too', async () => {
    const chunk = 'x'.repeat(64 * 1024);
    const store = new MemoryStore();
    const agent = new Agent({
      store,
      planner: new FunctionPlanner(() =>
        PlanDraftSchema.parse({ todos: [{ id: 'big', title: 'Big', domain: 'data' }] }),
      ),
      executors: {
        data: {
          execute: async (_t, _i, ctx) => {
            for (let i = 0; i < 400; i++) ctx.delta(chunk);
            return Promise.resolve({ output: 'ok' });
          },
        },
      },
    });
    const limit = 256 * 1024;
    const { wsUrl, base, srv, tokens, bearer } = await start(
      { wsMaxBufferedBytes: limit, drainTimeoutMs: 300 },
      { agent, storeName: 'memory', closePorts: async () => Promise.resolve() },
    );
    await agent.run('go', { sessionId: 'big' }).result();
    const w = rawWs(wsUrl, [PROTOCOL, `bearer.${tokens.viewer}`]);
    await w.opened;
    (w.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    w.ws.send(JSON.stringify({ type: 'subscribe', sessionId: 'big' }));
    let max = 0;
    while (srv.ws.stats().dropped.slow_consumer === 0) {
      for (const b of srv.ws.bufferedAmounts()) max = Math.max(max, b);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(max).toBeLessThanOrEqual(limit);
    const sse = await readSse(
      base,
      '/api/sessions/big/stream',
      (es) => es.some((e) => e.type === 'turn.completed'),
      bearer(tokens.viewer),
    );
    expect(sse.events.filter((e) => e.type === 'todo.output.delta')).toHaveLength(400);
    const metrics = await request(base, 'GET', '/metrics', { headers: bearer(tokens.admin) });
    expect(String(metrics.body)).toMatch(/dream_ws_dropped\{reason="slow_consumer"\} 1/);
  }, 120_000); // 25 MB of events through WebSocket and SSE: the 30 s default is tight on a loaded machine

  it('sends security headers, honours the CORS allow-list, rate-limits, and answers health and readiness', async () => {
    const { base, tokens, bearer } = await start({
      allowedOrigins: ['https://ops.example.com'],
      rateLimitPerMinute: 5,
    });
    const page = await request(base, 'GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(page.headers['x-powered-by']).toBeUndefined();
    const allowed = await request(base, 'OPTIONS', '/api/sessions', {
      headers: { origin: 'https://ops.example.com', 'access-control-request-method': 'POST' },
    });
    expect([allowed.status, allowed.headers['access-control-allow-origin']]).toEqual([
      204,
      'https://ops.example.com',
    ]);
    const other = await request(base, 'OPTIONS', '/api/sessions', {
      headers: { origin: 'https://evil.example.com' },
    });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    expect((await request(base, 'GET', '/healthz')).status).toBe(200);
    expect((await request(base, 'GET', '/readyz')).body).toMatchObject({ status: 'ready', store: 'memory' });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++)
      statuses.push((await request(base, 'GET', '/api/sessions', { headers: bearer(tokens.viewer) })).status);
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    const limited = await request(base, 'GET', '/api/sessions', { headers: bearer(tokens.viewer) });
    expect([limited.status, code(limited.body)]).toEqual([429, 'RATE_LIMITED']);
    const metrics = String((await request(base, 'GET', '/metrics', { headers: bearer(tokens.admin) })).body);
    expect(metrics).toContain('dream_http_requests_total{method="GET",route="/api/sessions",status="429"}');
    expect(metrics).toContain('process_resident_memory_bytes');
  });

  it('graceful shutdown drains the todo in flight, commits it and releases the session for another node', async () => {
    const store = new MemoryStore();
    let release: (() => void) | undefined;
    const gate = new Promise<void>((r) => (release = r));
    let started: (() => void) | undefined;
    const inFlight = new Promise<void>((r) => (started = r));
    const executor = scenarioExecutor(0);
    const agent = new Agent({
      store,
      cognitive: new ScenarioCognitive(),
      planner: new ScenarioPlanner(),
      executors: {
        '*': {
          async execute(todo, input, ctx) {
            if (todo.id === 'analyse') {
              started?.();
              await gate;
            }
            return executor.execute(todo, input, ctx);
          },
        },
      },
      hitl: { planReview: 'never' },
    });
    const s = await startTestServer(
      {},
      { agent, storeName: 'memory', closePorts: async () => Promise.resolve() },
    );
    const srv: RunningServer = s.srv;
    const token = await srv.auth.sign('olga', ['operator']);
    await request(s.base, 'POST', '/api/sessions', {
      body: { input: 'report for last quarter', sessionId: 'g1' },
      headers: { authorization: `Bearer ${token}` },
    });
    await inFlight;
    const closing = srv.close();
    expect((await request(s.base, 'GET', '/readyz').catch(() => ({ status: 503 }))).status).toBe(503);
    release?.();
    await closing;
    const rec = await store.getSession('g1');
    const todos = await store.getTodos('g1', rec?.state.turn?.id ?? '');
    expect(todos.find((t) => t.todoId === 'analyse')?.status).toBe('completed');
    expect(todos.find((t) => t.todoId === 'chart')).toMatchObject({ status: 'pending', attempts: 0 }); // nothing started after the drain
    expect(rec?.leaseOwner).toBeNull();
    // another node on the same store finishes it
    const next = new Agent({
      store,
      cognitive: new ScenarioCognitive(),
      planner: new ScenarioPlanner(),
      executors: { '*': executor },
    });
    const r = await next.resume('g1').result();
    expect(r.status).toBe('completed');
    await next.close();
  });
});

void ({} as RunResult);
