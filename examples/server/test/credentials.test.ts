/**
 * Credentials on live connections and the server's other credential rules: a WebSocket whose API key is
 * revoked (on any node) or whose JWT expires stops at once; dev sign-in is off unless asked for; token
 * lifetimes are capped; handshakes are rate-limited; /metrics is protected; authenticated answers are
 * never cached; CSP only allows the server's own origin.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { PROTOCOL, CLOSE_CODES } from '@dream-agent/ws';
import { request } from '../../../test/transports/helpers.js';
import { serviceSkipReason, startRedis, type RedisService } from '../../../test/setup/services.js';
import { loadConfig } from '../src/config.js';
import { startTestServer } from './helpers.js';

type Msg = { type: string; id?: string; error?: { code: string; message: string } };

/** A raw WebSocket with an inbox and its close code. */
async function open(wsUrl: string, token: string) {
  const ws = new WebSocket(wsUrl, [PROTOCOL, `bearer.${token}`]);
  const inbox: Msg[] = [];
  ws.on('message', (d: Buffer) => inbox.push(JSON.parse(d.toString()) as Msg));
  ws.on('error', () => undefined);
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  await new Promise<void>((r, j) => {
    ws.on('open', () => r());
    ws.on('unexpected-response', (_req, res) => j(new Error(`handshake ${res.statusCode}`)));
  });
  const ask = async (msg: Record<string, unknown>): Promise<Msg> => {
    ws.send(JSON.stringify(msg));
    for (let i = 0; i < 200; i++) {
      const m = inbox.find((x) => x.id === msg['id'] && x.type !== 'subscribed');
      if (m) return m;
      if (ws.readyState !== WebSocket.OPEN) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    return inbox.find((x) => x.id === msg['id']) ?? { type: 'none' };
  };
  return { ws, inbox, closed, ask };
}

describe('credentials on live WebSocket connections', () => {
  let t: Awaited<ReturnType<typeof startTestServer>>;
  let admin: string;
  beforeAll(async () => {
    t = await startTestServer();
    admin = await t.srv.auth.sign('ada', ['admin']);
  });
  afterAll(async () => {
    await t?.srv.close();
  });

  it('a socket opened with an API key that is then revoked cannot start another turn and is closed with 4001', async () => {
    const created = await request(t.base, 'POST', '/api/admin/keys', {
      body: { name: 'bot', roles: ['operator'] },
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(created.status).toBe(201);
    expect(created.headers['cache-control']).toBe('no-store'); // the one answer that carries a secret
    const { key, record } = created.body as { key: string; record: { id: string } };
    const c = await open(t.wsUrl, key);
    expect((await c.ask({ type: 'start', id: 's1', input: 'hello', sessionId: 'k1' })).type).toBe('result');
    const del = await request(t.base, 'DELETE', `/api/admin/keys/${record.id}`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(del.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100)); // past the re-check interval
    const before = (await t.srv.agent.listSessions({})).length;
    const refused = await c.ask({ type: 'start', id: 's2', input: 'again', sessionId: 'k2' });
    expect(refused).toMatchObject({
      type: 'error',
      error: { code: 'UNAUTHENTICATED', message: 'API key revoked' },
    });
    expect(await c.closed).toBe(CLOSE_CODES.UNAUTHENTICATED);
    expect((await t.srv.agent.listSessions({})).length).toBe(before);
    await expect(open(t.wsUrl, key)).rejects.toThrow(/handshake 401/);
  });

  it('a socket whose JWT expires is closed with 4001 at expiry, even when silent', async () => {
    const short = await t.srv.auth.sign('olga', ['operator'], 2);
    const c = await open(t.wsUrl, short);
    expect((await c.ask({ type: 'list', id: 'l1' })).type).toBe('result');
    const started = Date.now();
    expect(await c.closed).toBe(CLOSE_CODES.UNAUTHENTICATED);
    expect(Date.now() - started).toBeLessThan(3500);
    expect(c.inbox.at(-1)).toMatchObject({
      type: 'error',
      error: { code: 'UNAUTHENTICATED', message: 'token expired' },
    });
  });

  it('refuses JWTs whose lifetime exceeds the configured maximum (REST and handshake)', async () => {
    const long = await t.srv.auth.sign('olga', ['operator'], 13 * 3600);
    const r = await request(t.base, 'GET', '/api/sessions', { headers: { authorization: `Bearer ${long}` } });
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({
      error: { message: expect.stringMatching(/exceeds the maximum of 43200s/) },
    });
    expect(r.headers['cache-control']).toBe('no-store');
    await expect(open(t.wsUrl, long)).rejects.toThrow(/handshake 401/);
  });

  it('protects /metrics: 401 without credentials, 403 for a viewer, 200 for an admin', async () => {
    expect((await request(t.base, 'GET', '/metrics')).status).toBe(401);
    const viewer = await t.srv.auth.sign('vera', ['viewer']);
    expect(
      (await request(t.base, 'GET', '/metrics', { headers: { authorization: `Bearer ${viewer}` } })).status,
    ).toBe(403);
    const ok = await request(t.base, 'GET', '/metrics', { headers: { authorization: `Bearer ${admin}` } });
    expect(ok.status).toBe(200);
    expect(String(ok.body)).toContain('dream_ws_connections');
    expect(ok.headers['cache-control']).toBe('no-store');
  });

  it('no-store on authenticated answers; CSP connect-src is the server origin only', async () => {
    for (const path of ['/api/me', '/api/sessions', '/api/admin/keys', '/api/sessions/nope']) {
      const r = await request(t.base, 'GET', path, { headers: { authorization: `Bearer ${admin}` } });
      expect([path, r.headers['cache-control']]).toEqual([path, 'no-store']);
    }
    const page = await request(t.base, 'GET', '/');
    const csp = String(page.headers['content-security-policy']);
    const connect = /connect-src ([^;]*)/.exec(csp)?.[1] ?? '';
    expect(connect.split(' ').sort()).toEqual(["'self'", `ws://${t.base}`, `wss://${t.base}`].sort());
    const spoofed = await request(t.base, 'GET', '/', { headers: { host: 'evil.example; script-src *' } });
    expect(/connect-src ([^;]*)/.exec(String(spoofed.headers['content-security-policy']))?.[1]).toBe(
      "'self'",
    );
  });
});

describe('dev sign-in and handshake limits', () => {
  it('dev sign-in is off by default and refused in production; a local DEV_AUTH=1 turns it on', async () => {
    expect(loadConfig({}).devAuth).toBe(false);
    expect(loadConfig({ DEV_AUTH: '1' }).devAuth).toBe(true);
    expect(() => loadConfig({ NODE_ENV: 'production', DEV_AUTH: '1', JWT_SECRET: 'x'.repeat(40) })).toThrow(
      /DEV_AUTH=1/,
    );
    const t = await startTestServer({ devAuth: loadConfig({}).devAuth });
    try {
      const r = await request(t.base, 'POST', '/auth/dev-token', {
        body: { user: 'mallory', roles: ['admin'] },
      });
      expect(r.status).toBe(404);
      expect((await request(t.base, 'GET', '/config.json')).body).toMatchObject({ devAuth: false });
    } finally {
      await t.srv.close();
    }
  });

  it('rate-limits WebSocket handshakes per client like REST requests (429)', async () => {
    const t = await startTestServer({ rateLimitPerMinute: 5 });
    try {
      const token = await t.srv.auth.sign('olga', ['operator']);
      const results: string[] = [];
      for (let i = 0; i < 7; i++) {
        try {
          const c = await open(t.wsUrl, token);
          results.push('open');
          c.ws.terminate();
        } catch (e) {
          results.push((e as Error).message);
        }
      }
      expect(results).toEqual(['open', 'open', 'open', 'open', 'open', 'handshake 429', 'handshake 429']);
    } finally {
      await t.srv.close();
    }
  });
});

const redisSkip = serviceSkipReason('redis');
describe.skipIf(redisSkip !== undefined)(
  `revocation on every node (shared Redis)${redisSkip ? ` — skipped: ${redisSkip}` : ''}`,
  () => {
    let redis: RedisService;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it('a key issued on node A works on node B; revoked on A, B closes its socket', async () => {
      const a = await startTestServer({ redisUrl: redis.url });
      const b = await startTestServer({ redisUrl: redis.url });
      try {
        const admin = await a.srv.auth.sign('ada', ['admin']);
        const created = await request(a.base, 'POST', '/api/admin/keys', {
          body: { name: 'ci', roles: ['viewer'] },
          headers: { authorization: `Bearer ${admin}` },
        });
        const { key, record } = created.body as { key: string; record: { id: string } };
        const c = await open(b.wsUrl, key);
        expect((await c.ask({ type: 'list', id: 'l1' })).type).toBe('result');
        await request(a.base, 'DELETE', `/api/admin/keys/${record.id}`, {
          headers: { authorization: `Bearer ${admin}` },
        });
        await new Promise((r) => setTimeout(r, 1100));
        expect(await c.ask({ type: 'list', id: 'l2' })).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
        expect(await c.closed).toBe(CLOSE_CODES.UNAUTHENTICATED);
        const rest = await request(b.base, 'GET', '/api/sessions', { headers: { 'x-api-key': key } });
        expect(rest.status).toBe(401);
      } finally {
        await a.srv.close();
        await b.srv.close();
      }
    });
  },
);
