import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  Agent,
  DreamAgentError,
  FunctionPlanner,
  MemoryStore,
  PlanDraftSchema,
  type AgentEvent,
  type RunResult,
} from 'dream-agent';
import {
  AgentClient,
  AgentClientError,
  CLOSE_CODES,
  PROTOCOL,
  createWsServer,
  type AgentWsServer,
  type ServerMessage,
  type WsCommandRecord,
  type WsServerOptions,
} from '@dream-agent/ws';
import { closeServer, journeyAgent, listen } from '@dream-agent/test-services/transport';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const TOKENS: Record<string, { id: string; roles: string[] }> = {
  op: { id: 'olga', roles: ['operator'] },
  ap: { id: 'ann', roles: ['approver'] },
};

const auth: Pick<WsServerOptions, 'authenticate' | 'authorize'> = {
  authenticate: ({ token }) => {
    const p = token ? TOKENS[token] : undefined;
    if (!p) throw new DreamAgentError('UNAUTHENTICATED', 'bad token');
    return p;
  },
  authorize: (p, op) => {
    if (op.kind === 'command' && op.command.type === 'approval.grant' && !p.roles.includes('approver'))
      throw new DreamAgentError('FORBIDDEN', 'approvers only');
  },
};

async function serve(
  options: WsServerOptions = {},
  agent: Agent = journeyAgent().agent,
): Promise<{ url: string; agent: Agent; ws: AgentWsServer; base: string }> {
  const server = http.createServer((_, res) => res.writeHead(404).end());
  const ws = createWsServer(agent, { server, ...options });
  const base = await listen(server);
  cleanups.push(async () => {
    await ws.close();
    await closeServer(server);
    await agent.close();
  });
  return { url: `ws://${base}/ws`, agent, ws, base };
}

/** A raw protocol client for the wire-level cases. */
function raw(url: string, protocols: string[], options: WebSocket.ClientOptions = {}) {
  const ws = new WebSocket(url, protocols, options);
  const messages: ServerMessage[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (d: Buffer) => {
    messages.push(JSON.parse(d.toString()) as ServerMessage);
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const refused = new Promise<number>((resolve) =>
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
  );
  ws.on('error', () => undefined);
  async function next(pred: (m: ServerMessage) => boolean): Promise<ServerMessage> {
    for (;;) {
      const m = messages.find(pred);
      if (m) return m;
      await new Promise<void>((r) => waiters.push(r));
    }
  }
  cleanups.push(() => ws.terminate());
  return { ws, messages, next, closed, refused, opened: new Promise<void>((r) => ws.on('open', () => r())) };
}

function client(url: string, token: string, wrap?: (ws: WebSocket) => void): AgentClient {
  class Recording extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols);
      wrap?.(this);
    }
  }
  const c = new AgentClient({
    url,
    token,
    WebSocket: wrap ? Recording : WebSocket,
    reconnect: { minDelayMs: 10, maxDelayMs: 50 },
  });
  cleanups.push(() => c.close());
  return c;
}

async function until(
  events: AsyncIterator<AgentEvent>,
  seen: AgentEvent[],
  type: AgentEvent['type'],
): Promise<void> {
  for (;;) {
    const n = await events.next();
    if (n.done) throw new Error(`stream ended before ${type}`);
    seen.push(n.value);
    if (n.value.type === type) return;
  }
}

describe('WebSocket: the human-in-the-loop journey with the typed client', () => {
  it('start → subscribe → approve → input → approval (role-checked) → completed; the principal is the actor; commands audited', async () => {
    const records: WsCommandRecord[] = [];
    const { url } = await serve({ ...auth, onCommand: (r) => records.push(r) });
    const operator = client(url, 'op');
    const approver = client(url, 'ap');
    const started = await operator.start('send the report', { sessionId: 'w1' });
    expect(started).toEqual({ status: 'accepted', sessionId: 'w1', firstSeq: 1 });
    const sub = operator.subscribe('w1');
    const it = sub[Symbol.asyncIterator]();
    const seen: AgentEvent[] = [];
    await until(it, seen, 'plan.review.requested');
    await operator.send('w1', { type: 'plan.approve', actor: 'mallory' });
    await until(it, seen, 'input.requested');
    const inputReq = seen.at(-1);
    if (inputReq?.type !== 'input.requested') throw new Error('expected input.requested');
    await expect(
      operator.send('w1', { type: 'input.provide', requestId: inputReq.request.id, value: 'x' }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await operator.send('w1', { type: 'input.provide', requestId: inputReq.request.id, value: 'team@x.io' });
    await until(it, seen, 'approval.requested');
    const approval = seen.at(-1);
    if (approval?.type !== 'approval.requested') throw new Error('expected approval.requested');
    const denied = await operator
      .send('w1', { type: 'approval.grant', requestId: approval.request.id })
      .catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(AgentClientError);
    expect((denied as AgentClientError).code).toBe('FORBIDDEN');
    const done = (await approver.send(
      'w1',
      { type: 'approval.grant', requestId: approval.request.id },
      { wait: true },
    )) as RunResult;
    expect(done.status).toBe('completed');
    await until(it, seen, 'turn.completed');
    sub.close();
    expect(seen.map((e) => e.seq)).toEqual(seen.map((_, i) => i + 1));
    expect(seen.find((e) => e.type === 'plan.approved')).toMatchObject({ actor: 'olga' });
    expect(seen.find((e) => e.type === 'approval.resolved')).toMatchObject({ actor: 'ann', granted: true });
    const snap = await approver.get('w1');
    expect(snap.status).toBe('idle');
    expect(await approver.list({ status: ['waiting'] })).toEqual([]);
    expect(records.map((r) => [r.type, r.principal.id, r.outcome])).toEqual([
      ['turn.start', 'olga', 'accepted'],
      ['plan.approve', 'olga', 'accepted'],
      ['input.provide', 'olga', 'rejected'],
      ['input.provide', 'olga', 'accepted'],
      ['approval.grant', 'ann', 'accepted'],
    ]);
    // the FORBIDDEN grant was refused before reaching the agent, so it is not an agent command
    expect(approver.principal).toEqual({ id: 'ann', roles: ['approver'] });
  });

  it('reconnects after a dropped connection and resumes after the last seq: no gaps, no duplicates', async () => {
    const { url, agent } = await serve(auth);
    const sockets: WebSocket[] = [];
    const c = client(url, 'ap', (ws) => sockets.push(ws));
    const states: string[] = [];
    c.onState((s) => states.push(s));
    await agent.run('go', { sessionId: 'rc' }).result();
    const it = c.subscribe('rc')[Symbol.asyncIterator]();
    const seen: AgentEvent[] = [];
    await until(it, seen, 'plan.review.requested');
    // drop the connection, then advance the session while the client is away
    sockets[0]?.terminate();
    const r = await agent.send('rc', { type: 'plan.approve' }).result();
    expect(r.pending[0]?.kind).toBe('input');
    await until(it, seen, 'input.requested');
    sockets.at(-1)?.terminate();
    const input = (
      await agent
        .send('rc', { type: 'input.provide', requestId: r.pending[0]?.id ?? '', value: 'team@x.io' })
        .result()
    ).pending[0];
    await agent
      .send('rc', {
        type: 'approval.grant',
        requestId: input?.id ?? '',
        actor: { id: 'a', roles: ['approver'] },
      })
      .result();
    await until(it, seen, 'turn.completed');
    expect(sockets.length).toBeGreaterThanOrEqual(3);
    expect(states).toContain('reconnecting');
    const log: AgentEvent[] = [];
    for await (const e of agent.events('rc')) log.push(e);
    expect(seen.map((e) => e.seq)).toEqual(log.map((e) => e.seq));
    expect(seen.map((e) => e.type)).toEqual(log.map((e) => e.type));
  });
});

describe('WebSocket: the handshake', () => {
  it('refuses missing, bad and query-string tokens (401) and foreign origins (403); accepts header and subprotocol tokens', async () => {
    const { url, ws } = await serve({ ...auth, allowedOrigins: ['https://ops.example.com'] });
    expect(await raw(url, [PROTOCOL]).refused).toBe(401);
    expect(await raw(url, [PROTOCOL, 'bearer.nope']).refused).toBe(401);
    expect(await raw(`${url}?token=op&access_token=op`, [PROTOCOL]).refused).toBe(401);
    expect(await raw(url, [PROTOCOL, 'bearer.op'], { origin: 'https://evil.example.com' }).refused).toBe(403);
    const viaProtocol = raw(url, [PROTOCOL, 'bearer.op'], { origin: 'https://ops.example.com' });
    await viaProtocol.opened;
    expect(viaProtocol.ws.protocol).toBe(PROTOCOL); // the token is never echoed
    expect(await viaProtocol.next((m) => m.type === 'welcome')).toMatchObject({ principal: { id: 'olga' } });
    const viaHeader = raw(url, [PROTOCOL], { headers: { authorization: 'Bearer ap' } });
    expect(await viaHeader.next((m) => m.type === 'welcome')).toMatchObject({ principal: { id: 'ann' } });
    expect(ws.stats().handshakesRefused).toBe(4);
  });

  it('defaults to same-origin when no allow-list is given', async () => {
    const { url, base } = await serve(auth);
    expect(await raw(url, [PROTOCOL, 'bearer.op'], { origin: 'http://elsewhere.test' }).refused).toBe(403);
    const same = raw(url, [PROTOCOL, 'bearer.op'], { origin: `http://${base}` });
    await same.opened;
  });
});

describe('WebSocket: bad messages, limits and slow consumers', () => {
  it('invalid messages get INVALID_INPUT error frames, the connection stays and nothing changes', async () => {
    const { url, agent } = await serve(auth);
    await agent.run('go', { sessionId: 'b1' }).result();
    const before = await agent.getSession('b1');
    const c = raw(url, [PROTOCOL, 'bearer.op']);
    await c.next((m) => m.type === 'welcome');
    const bad: (string | object)[] = [
      'not json',
      '[1,2]',
      { type: 'teleport' },
      { type: 'subscribe' },
      { type: 'subscribe', sessionId: 'b1', after: -1 },
      { type: 'subscribe', sessionId: 'b1', extra: true },
      { type: 'command', sessionId: 'b1', command: { type: 'plan.explode' } },
      { type: 'command', sessionId: 'b1', command: { type: 'pause', extra: 1 } },
      { type: 'command', sessionId: 'has space', command: { type: 'pause' } },
      { type: 'start', input: '' },
    ];
    for (const [i, m] of bad.entries()) {
      const msg = typeof m === 'string' ? m : JSON.stringify({ ...m, id: `b${i}` });
      c.ws.send(msg);
    }
    await c.next((m) => m.type === 'error' && m.id === `b${bad.length - 1}`);
    const errors = c.messages.filter((m) => m.type === 'error');
    expect(errors).toHaveLength(bad.length);
    expect(new Set(errors.map((e) => (e.type === 'error' ? e.error.code : '')))).toEqual(
      new Set(['INVALID_INPUT']),
    );
    c.ws.send(JSON.stringify({ type: 'subscribe', id: 'nf', sessionId: 'nobody' }));
    expect(await c.next((m) => m.type === 'error' && m.id === 'nf')).toMatchObject({
      error: { code: 'SESSION_NOT_FOUND' },
    });
    c.ws.send(
      JSON.stringify({
        type: 'command',
        id: 'st',
        sessionId: 'b1',
        command: { type: 'plan.edit', baseVersion: 5, edits: [{ op: 'remove', todoId: 'send' }] },
      }),
    );
    expect(await c.next((m) => m.type === 'error' && m.id === 'st')).toMatchObject({
      error: { code: 'STALE_VERSION' },
    });
    c.ws.send(JSON.stringify({ type: 'get', id: 'g', sessionId: 'b1' }));
    expect(await c.next((m) => m.type === 'result' && m.id === 'g')).toMatchObject({
      result: { id: 'b1', status: 'waiting' },
    });
    const after = await agent.getSession('b1');
    expect([after.version, after.lastSeq]).toEqual([before.version, before.lastSeq]);
  });

  it('closes with 1009 on an oversized message', async () => {
    const { url, agent } = await serve({ ...auth, maxPayloadBytes: 4096 });
    await agent.run('go', { sessionId: 'o1' }).result();
    const before = await agent.getSession('o1');
    const c = raw(url, [PROTOCOL, 'bearer.op']);
    await c.next((m) => m.type === 'welcome');
    c.ws.send(
      JSON.stringify({
        type: 'command',
        sessionId: 'o1',
        command: { type: 'cancel', reason: 'x'.repeat(5000) },
      }),
    );
    expect((await c.closed).code).toBe(CLOSE_CODES.MESSAGE_TOO_BIG);
    expect((await agent.getSession('o1')).version).toBe(before.version);
  });

  it('refuses floods with RATE_LIMITED', async () => {
    const { url } = await serve({ ...auth, messagesPerSecond: 5 });
    const c = raw(url, [PROTOCOL, 'bearer.op']);
    await c.next((m) => m.type === 'welcome');
    for (let i = 0; i < 30; i++) c.ws.send(JSON.stringify({ type: 'list', id: `l${i}` }));
    await c.next((m) => m.type === 'error' && m.error.code === 'RATE_LIMITED');
    await c.next((m) => m.type === 'result');
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('drops a slow consumer with 4008 and never buffers more than the limit for it', async () => {
    const chunk = 'x'.repeat(64 * 1024);
    const agent = new Agent({
      store: new MemoryStore(),
      planner: new FunctionPlanner(() =>
        PlanDraftSchema.parse({ todos: [{ id: 'big', title: 'Big', domain: 'work' }] }),
      ),
      executors: {
        work: {
          async execute(_todo, _input, ctx) {
            for (let i = 0; i < 400; i++) ctx.delta(chunk); // ≈ 26 MB of events: more than any socket buffer
            return Promise.resolve({ output: 'ok' });
          },
        },
      },
    });
    const maxBufferedBytes = 256 * 1024;
    const drops: string[] = [];
    const { url, ws } = await serve(
      { ...auth, maxBufferedBytes, drainTimeoutMs: 300, onDisconnect: (d) => drops.push(d.reason) },
      agent,
    );
    expect((await agent.run('go', { sessionId: 'slow' }).result()).status).toBe('completed');
    const c = raw(url, [PROTOCOL, 'bearer.op']);
    await c.next((m) => m.type === 'welcome');
    const sock = (c.ws as unknown as { _socket: { pause(): void } })._socket;
    sock.pause(); // stop reading: the kernel buffers fill, then the server's queue
    c.ws.send(JSON.stringify({ type: 'subscribe', sessionId: 'slow' }));
    let maxSeen = 0;
    while (drops.length === 0) {
      for (const b of ws.bufferedAmounts()) maxSeen = Math.max(maxSeen, b);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(drops).toEqual(['slow_consumer']);
    expect(ws.stats().dropped.slow_consumer).toBe(1);
    expect(maxSeen).toBeLessThanOrEqual(maxBufferedBytes);
    expect(ws.stats().connections).toBe(0);
    // a healthy client on the same server still gets everything
    const ok = client(url, 'op');
    const seen: AgentEvent[] = [];
    await until(ok.subscribe('slow')[Symbol.asyncIterator](), seen, 'turn.completed');
    expect(seen.filter((e) => e.type === 'todo.output.delta')).toHaveLength(400);
  });

  it('drops a peer that stops answering heartbeats and keeps one that answers', async () => {
    const drops: string[] = [];
    const { url, ws } = await serve({ ...auth, heartbeatMs: 40, onDisconnect: (d) => drops.push(d.reason) });
    const silent = raw(url, [PROTOCOL, 'bearer.op'], { autoPong: false });
    const alive = raw(url, [PROTOCOL, 'bearer.op']);
    await silent.next((m) => m.type === 'welcome');
    await alive.next((m) => m.type === 'welcome');
    await silent.closed;
    expect(ws.stats().dropped.heartbeat_timeout).toBe(1);
    expect(alive.ws.readyState).toBe(WebSocket.OPEN);
    expect(ws.stats().connections).toBe(1);
  });
});

describe('WebSocket: the scope hook (tenant and owner isolation with the core scopedAgent)', () => {
  it('subscribe, get, list, start and commands go through the caller’s scoped view', async () => {
    const { scopedAgent } = await import('dream-agent');
    const people: Record<string, { id: string; roles: string[]; tenantId: string }> = {
      alice: { id: 'alice', roles: ['operator'], tenantId: 'acme' },
      eve: { id: 'eve', roles: ['admin'], tenantId: 'evil' },
    };
    const { agent } = journeyAgent();
    const server = http.createServer();
    createWsServer(agent, {
      server,
      authenticate: ({ token }) => {
        const p = token ? people[token] : undefined;
        if (!p) throw new DreamAgentError('UNAUTHENTICATED', 'who?');
        return p;
      },
      scope: (p) => scopedAgent(agent, { id: p.id, tenantId: p.tenantId ?? '', roles: p.roles }),
    });
    const base = await listen(server);
    cleanups.push(async () => {
      await closeServer(server);
      await agent.close();
    });
    const alice = new AgentClient({ url: `ws://${base}/ws`, token: 'alice', WebSocket });
    const eve = new AgentClient({ url: `ws://${base}/ws`, token: 'eve', WebSocket });
    cleanups.push(() => alice.close());
    cleanups.push(() => eve.close());
    await alice.start('send the report', { sessionId: 'w-alice', wait: true });
    const rec = await agent.store.getSession('w-alice');
    expect([rec?.tenantId, rec?.ownerId]).toEqual(['acme', 'alice']);
    const before = await agent.getSession('w-alice');
    await expect(eve.get('w-alice')).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
    await expect(eve.send('w-alice', { type: 'cancel' })).rejects.toMatchObject({
      code: 'SESSION_NOT_FOUND',
    });
    await expect(eve.start('take over', { sessionId: 'w-alice' })).rejects.toMatchObject({
      code: 'SESSION_NOT_FOUND',
    });
    expect((await eve.list()).map((s) => s.id)).toEqual([]);
    expect((await alice.list()).map((s) => s.id)).toEqual(['w-alice']);
    expect((await alice.get('w-alice')).id).toBe('w-alice');
    const after = await agent.getSession('w-alice');
    expect([after.lastSeq, after.status]).toEqual([before.lastSeq, before.status]);
  });
});
