/**
 * Tenant and owner isolation, tried as an attacker would: against `npm start` in its own process (the
 * default offline agent), two tenants, two operators of one tenant, a viewer, an approver, a
 * supervisor and an API key. Every list, read, replay, SSE stream, WebSocket subscribe/get/list and
 * every start, extend, pause, cancel, approve and resume across the boundary is refused — another
 * tenant's session and a session the caller may not read are `SESSION_NOT_FOUND` — and nothing changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { PROTOCOL } from '@dream-agent/ws';
import type { RunResult, SessionSnapshot, SessionSummary } from 'dream-agent';
import { request } from '../../../test/transports/helpers.js';
import { startServerProcess, type ServerProcess } from './process.js';

let srv: ServerProcess;
const headers: Record<string, Record<string, string>> = {};
const h = (user: string): Record<string, string> => headers[user] ?? {};
const tokens: Record<string, string> = {};
const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });
const code = (body: unknown): string => (body as { error?: { code?: string } }).error?.code ?? '(none)';
const INPUT = "Analyse last quarter's sales by region and email the report to the team";

beforeAll(async () => {
  srv = await startServerProcess({ FOUR_EYES: '1' });
  const who: [string, string[], string | undefined][] = [
    ['olga', ['operator', 'approver'], 'acme'],
    ['oscar', ['operator'], 'acme'],
    ['vera', ['viewer'], 'acme'],
    ['ann', ['approver'], 'acme'],
    ['sam', ['supervisor'], 'acme'],
    ['gina', ['operator'], 'globex'],
    ['gail', ['admin'], 'globex'],
    ['ada', ['admin'], 'acme'],
  ];
  for (const [user, roles, tenant] of who) {
    tokens[user] = await srv.token(user, roles, 600, tenant);
    headers[user] = bearer(tokens[user] ?? '');
  }
  for (const [user, id] of [
    ['olga', 'acme-olga'],
    ['gina', 'globex-gina'],
  ] as const) {
    const r = await request(srv.base, 'POST', '/api/sessions?wait=true', {
      body: { input: INPUT, sessionId: id },
      headers: h(user),
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect((r.body as RunResult).pending[0]?.kind).toBe('plan_review');
  }
}, 120_000);

afterAll(async () => {
  await srv?.stop();
});

async function snapshot(id: string): Promise<SessionSnapshot> {
  const as = id.startsWith('acme') ? h('ada') : h('gail');
  const r = await request(srv.base, 'GET', `/api/sessions/${id}`, { headers: as });
  expect(r.status).toBe(200);
  return r.body as SessionSnapshot;
}

async function listed(user: string): Promise<string[]> {
  const r = await request(srv.base, 'GET', '/api/sessions', { headers: h(user) });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return (r.body as { sessions: SessionSummary[] }).sessions.map((s) => s.id).sort();
}

/** A raw WebSocket with request/answer by id. */
async function socket(token: string): Promise<{
  ask(msg: Record<string, unknown>): Promise<{ type: string; error?: { code: string }; result?: unknown }>;
  close(): void;
}> {
  const ws = new WebSocket(`ws://${srv.base}/ws`, [PROTOCOL, `bearer.${token}`]);
  const waiting = new Map<string, (m: { type: string; id?: string }) => void>();
  ws.on('message', (data: Buffer) => {
    const m = JSON.parse(data.toString()) as { type: string; id?: string };
    if (m.id !== undefined) waiting.get(m.id)?.(m);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let n = 0;
  return {
    ask(msg) {
      const id = `q${++n}`;
      return new Promise((resolve) => {
        waiting.set(id, (m) => {
          // `subscribed` is followed by events; an error comes instead when the subscription is refused
          waiting.delete(id);
          resolve(m as never);
        });
        ws.send(JSON.stringify({ ...msg, id }));
      });
    },
    close: () => ws.terminate(),
  };
}

describe('tenant and owner isolation over REST, SSE and WebSocket (npm start)', () => {
  it('lists only what each caller may see', async () => {
    expect(await listed('olga')).toEqual(['acme-olga']);
    expect(await listed('oscar')).toEqual([]); // another operator's session is not even listed
    expect(await listed('vera')).toEqual(['acme-olga']); // viewers read their tenant, never another
    expect(await listed('sam')).toEqual(['acme-olga']);
    expect(await listed('gina')).toEqual(['globex-gina']);
    expect(await listed('gail')).toEqual(['globex-gina']); // an admin of globex sees nothing of acme
    const me = await request(srv.base, 'GET', '/api/me', { headers: h('gina') });
    expect(me.body).toMatchObject({ id: 'gina', tenantId: 'globex' });
  });

  it('refuses every read across the boundary as SESSION_NOT_FOUND (REST, replay, SSE, files, audit)', async () => {
    const reads = [
      '/api/sessions/acme-olga',
      '/api/sessions/acme-olga/events',
      '/api/sessions/acme-olga/plans?versions=1',
      '/api/sessions/acme-olga/stream',
      '/api/sessions/acme-olga/files/t/report.md',
    ];
    for (const user of ['oscar', 'gina', 'gail'])
      for (const path of reads) {
        const r = await request(srv.base, 'GET', path, { headers: h(user) });
        expect([path, user, r.status, code(r.body)]).toEqual([path, user, 404, 'SESSION_NOT_FOUND']);
      }
    const audit = await request(srv.base, 'GET', '/api/audit?sessionId=acme-olga', { headers: h('gail') });
    expect([audit.status, code(audit.body)]).toEqual([404, 'SESSION_NOT_FOUND']);
    // …and the same session reads fine for its owner and its tenant's viewer
    for (const user of ['olga', 'vera'])
      expect((await request(srv.base, 'GET', '/api/sessions/acme-olga', { headers: h(user) })).status).toBe(
        200,
      );
  });

  it('refuses every start, extend, pause, cancel, edit, approve and resume across the boundary; nothing changes', async () => {
    const before = await snapshot('acme-olga');
    const commands = [
      { type: 'pause' },
      { type: 'cancel' },
      { type: 'plan.approve' },
      { type: 'plan.reject', reason: 'no' },
      { type: 'plan.edit', edits: [{ op: 'remove', todoId: before.plan?.todos[0]?.id ?? 'x' }] },
    ];
    const attempts: [string, string, string, unknown][] = [];
    for (const user of ['oscar', 'gina', 'gail']) {
      attempts.push([user, 'POST', '/api/sessions', { input: 'take over', sessionId: 'acme-olga' }]);
      attempts.push([user, 'POST', '/api/sessions/acme-olga/turns', { input: 'and one more thing' }]);
      attempts.push([user, 'POST', '/api/sessions/acme-olga/resume', undefined]);
      for (const c of commands) attempts.push([user, 'POST', '/api/sessions/acme-olga/commands', c]);
    }
    for (const [user, method, path, body] of attempts) {
      const r = await request(srv.base, method, path, {
        ...(body !== undefined ? { body } : {}),
        headers: h(user),
      });
      const expected =
        // operators lack the approve permission at all: refused by role before ownership is looked at
        user !== 'gail' && /plan\.(approve|reject)/.test(JSON.stringify(body)) ? 403 : 404;
      expect([user, path, JSON.stringify(body), r.status]).toEqual([
        user,
        path,
        JSON.stringify(body),
        expected,
      ]);
      if (expected === 404) expect(code(r.body)).toBe('SESSION_NOT_FOUND');
    }
    // the viewer reads but may not command; the approver of acme may not pause someone else's session
    const viewer = await request(srv.base, 'POST', '/api/sessions/acme-olga/commands', {
      body: { type: 'cancel' },
      headers: h('vera'),
    });
    expect([viewer.status, code(viewer.body)]).toEqual([403, 'FORBIDDEN']);
    const approverPause = await request(srv.base, 'POST', '/api/sessions/acme-olga/commands', {
      body: { type: 'pause' },
      headers: h('ann'),
    });
    expect([approverPause.status, code(approverPause.body)]).toEqual([403, 'FORBIDDEN']);
    // four eyes: the owner may not approve her own plan
    const own = await request(srv.base, 'POST', '/api/sessions/acme-olga/commands', {
      body: { type: 'plan.approve' },
      headers: { ...h('olga') },
    });
    expect([own.status, code(own.body)]).toEqual([403, 'FORBIDDEN']);
    expect(JSON.stringify(own.body)).toContain('four eyes');

    const after = await snapshot('acme-olga');
    expect(after.lastSeq).toBe(before.lastSeq);
    expect(after.status).toBe(before.status);
    expect(after.plan).toEqual(before.plan);
    expect(await listed('gail')).toEqual(['globex-gina']); // no session was created in another tenant's name
  });

  it('refuses WebSocket subscribe, get, plans, start and commands across the boundary; lists are scoped', async () => {
    const before = await snapshot('acme-olga');
    for (const user of ['oscar', 'gina', 'gail']) {
      const c = await socket(tokens[user] ?? '');
      try {
        for (const msg of [
          { type: 'subscribe', sessionId: 'acme-olga' },
          { type: 'get', sessionId: 'acme-olga' },
          { type: 'plans', sessionId: 'acme-olga', versions: [1] },
          { type: 'start', sessionId: 'acme-olga', input: 'take over' },
          { type: 'command', sessionId: 'acme-olga', command: { type: 'cancel' } },
          { type: 'command', sessionId: 'acme-olga', command: { type: 'pause' } },
        ]) {
          const m = await c.ask(msg);
          expect([user, msg.type, m.type, m.error?.code]).toEqual([
            user,
            msg.type,
            'error',
            'SESSION_NOT_FOUND',
          ]);
        }
        const list = await c.ask({ type: 'list' });
        const ids = ((list.result as { sessions: SessionSummary[] }).sessions ?? []).map((s) => s.id);
        expect(ids).not.toContain('acme-olga');
      } finally {
        c.close();
      }
    }
    // the owner subscribes fine
    const mine = await socket(tokens['olga'] ?? '');
    try {
      expect((await mine.ask({ type: 'subscribe', sessionId: 'acme-olga' })).type).toBe('subscribed');
    } finally {
      mine.close();
    }
    const after = await snapshot('acme-olga');
    expect([after.lastSeq, after.status]).toEqual([before.lastSeq, before.status]);
  });

  it('API keys act in the tenant of the admin who made them; admins manage only their tenant’s keys', async () => {
    const made = await request(srv.base, 'POST', '/api/admin/keys', {
      body: { name: 'globex-bot', roles: ['operator'] },
      headers: h('gail'),
    });
    expect(made.status).toBe(201);
    const { key, record } = made.body as { key: string; record: { id: string; tenantId: string } };
    expect(record.tenantId).toBe('globex');
    const asKey = { 'x-api-key': key };
    const list = await request(srv.base, 'GET', '/api/sessions', { headers: asKey });
    expect((list.body as { sessions: SessionSummary[] }).sessions.map((s) => s.id)).toEqual([]);
    const read = await request(srv.base, 'GET', '/api/sessions/acme-olga', { headers: asKey });
    expect([read.status, code(read.body)]).toEqual([404, 'SESSION_NOT_FOUND']);
    // acme's admin neither sees nor revokes globex's key
    const keys = await request(srv.base, 'GET', '/api/admin/keys', { headers: h('ada') });
    expect((keys.body as { keys: { id: string }[] }).keys.map((k) => k.id)).not.toContain(record.id);
    const revoke = await request(srv.base, 'DELETE', `/api/admin/keys/${record.id}`, { headers: h('ada') });
    expect(revoke.status).toBe(404);
    expect((await request(srv.base, 'GET', '/api/sessions', { headers: asKey })).status).toBe(200);
  });

  it('inside the tenant, roles that allow more do: an approver approves another’s plan, the trail verifies', async () => {
    const r = await request(srv.base, 'POST', '/api/sessions/acme-olga/commands?wait=true', {
      body: { type: 'plan.approve' },
      headers: h('ann'),
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const audit = await request(srv.base, 'GET', '/api/audit?sessionId=acme-olga', { headers: h('ada') });
    expect(audit.status).toBe(200);
    const body = audit.body as {
      verify: { ok: boolean; entries: number };
      entries: { type: string; actor?: string }[];
    };
    expect(body.verify.ok).toBe(true);
    expect(body.verify.entries).toBe(body.entries.length);
    expect(body.entries.some((e) => e.type === 'plan.approved' && e.actor === 'ann')).toBe(true);
    // a supervisor commands any session of its tenant
    const paused = await request(srv.base, 'POST', '/api/sessions/acme-olga/commands', {
      body: { type: 'cancel' },
      headers: h('sam'),
    });
    expect(paused.status, JSON.stringify(paused.body)).toBeLessThan(300);
  });

  it('/metrics renders the core metrics (per-layer time, todo outcomes) with the server’s, for admins only', async () => {
    expect((await request(srv.base, 'GET', '/metrics')).status).toBe(401);
    expect((await request(srv.base, 'GET', '/metrics', { headers: h('olga') })).status).toBe(403);
    const r = await request(srv.base, 'GET', '/metrics', { headers: h('ada') });
    expect(r.status).toBe(200);
    const text = String(r.body);
    expect(text).toMatch(/^dream_agent_layer_duration_ms_count\{[^}]*layer="planning"[^}]*\} [1-9]/m);
    expect(text).toMatch(/^dream_agent_turn_total|^dream_agent_todo_total/m);
    expect(text).toMatch(/^dream_http_requests_total\{[^}]*route="\/api\/sessions"[^}]*\} [1-9]/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
  });
});
