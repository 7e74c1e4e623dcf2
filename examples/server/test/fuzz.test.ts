import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import WebSocket from 'ws';
import { PROTOCOL } from '@dream-agent/ws';
import type { SessionSnapshot } from 'dream-agent';
import { request } from '../../../test/transports/helpers.js';
import type { RunningServer } from '../src/app.js';
import { startTestServer } from './helpers.js';

let srv: RunningServer;
let base: string;
let wsUrl: string;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  ({ srv, base, wsUrl } = await startTestServer({ maxBodyBytes: 16 * 1024 }));
  tokens['viewer'] = await srv.auth.sign('vera', ['viewer']);
  tokens['operator'] = await srv.auth.sign('olga', ['operator']);
  tokens['approver'] = await srv.auth.sign('ann', ['approver']);
  tokens['none'] = '';
  tokens['bad'] = 'not-a-token';
  const r = await request(base, 'POST', '/api/sessions?wait=true', {
    body: { input: 'report for last quarter and email it', sessionId: 'fz' },
    headers: { authorization: `Bearer ${tokens['operator']}` },
  });
  expect(r.status).toBe(200);
});
afterAll(async () => {
  await srv?.close();
});

const COMMAND_TYPES = [
  'plan.approve',
  'plan.edit',
  'plan.reject',
  'approval.grant',
  'approval.deny',
  'input.provide',
  'clarification.answer',
  'recovery.resolve',
  'pause',
  'resume',
  'cancel',
  'nope',
  '',
];
const ids = fc.oneof(
  fc.constant('fz'),
  fc.constant('nobody'),
  fc.string({ maxLength: 20 }),
  fc.constantFrom('%00', '..%2F..', 'a b', '%E0%A4%A', 'x'.repeat(200)),
);
const edit = fc.oneof(
  fc.record(
    {
      op: fc.constantFrom('add', 'remove', 'update', 'move', 'warp'),
      todoId: fc.constantFrom('collect', 'draft', 'send', 'ghost', ''),
      before: fc.option(fc.constantFrom('collect', 'send', 'x'), { nil: undefined }),
      after: fc.option(fc.constantFrom('draft', 'y'), { nil: undefined }),
    },
    { requiredKeys: ['op'] },
  ),
  fc.record({
    op: fc.constant('add'),
    todo: fc.record(
      {
        id: fc.string({ maxLength: 8 }),
        title: fc.string({ maxLength: 8 }),
        domain: fc.constantFrom('data', 'ops', 'mars'),
        dependsOn: fc.array(fc.constantFrom('collect', 'send', 'ghost'), { maxLength: 3 }),
      },
      { requiredKeys: [] },
    ),
  }),
  fc.record({
    op: fc.constant('update'),
    todoId: fc.constantFrom('collect', 'send'),
    patch: fc.dictionary(
      fc.constantFrom('title', 'dependsOn', 'domain', 'id', 'zzz'),
      fc.jsonValue({ maxDepth: 1 }),
    ),
  }),
  fc.jsonValue({ maxDepth: 2 }),
);
const commandLike = fc.record(
  {
    type: fc.constantFrom(...COMMAND_TYPES),
    requestId: fc.oneof(fc.string({ maxLength: 10 }), fc.integer()),
    edits: fc.array(edit, { maxLength: 3 }),
    baseVersion: fc.oneof(fc.integer({ min: -2, max: 5 }), fc.string({ maxLength: 3 })),
    reason: fc.string({ maxLength: 30 }),
    value: fc.jsonValue({ maxDepth: 2 }),
    answer: fc.string({ maxLength: 10 }),
    decision: fc.constantFrom('retry', 'mark_done', 'skip', 'explode'),
    actor: fc.oneof(
      fc.string({ maxLength: 8 }),
      fc.record({
        id: fc.string({ maxLength: 8 }),
        roles: fc.array(fc.constantFrom('admin', 'approver', 'finance'), { maxLength: 3 }),
      }),
    ),
    extra: fc.jsonValue({ maxDepth: 1 }),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  commandLike.map((b) => ({ body: b as unknown })),
  fc
    .record(
      {
        input: fc.oneof(fc.string({ maxLength: 40 }), fc.integer()),
        sessionId: fc.option(ids, { nil: undefined }),
        metadata: fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }),
      },
      { requiredKeys: [] },
    )
    .map((b) => ({ body: b as unknown })),
  fc.jsonValue({ maxDepth: 3 }).map((b) => ({ body: b })),
  fc.string({ maxLength: 60 }).map((raw) => ({ raw })),
  fc.constant({ raw: '{"type":"cancel","reason":"' + 'x'.repeat(20_000) + '"}' }),
);
const query = fc.oneof(
  fc.constant(''),
  fc.constantFrom(
    '?wait=true',
    '?wait=nope',
    '?after=-3',
    '?after=2&after=3',
    '?limit=99999',
    '?status=waiting,zzz',
    '?status=',
    '?x=%ZZ',
    '?history=changes&changesLimit=0',
    '?history=changes&changesLimit=1001',
    '?history=changes&changesLimit=2.5',
    '?history=changes&changesBefore=-1',
    '?history=changes&changesBefore=abc',
    '?history=changes&changesBefore=99999999999999999999',
    '?history=full&changesLimit=5',
    '?changesBefore=3',
    '?history=3&changesLimit=2&changesBefore=2',
  ),
);
const route = fc.oneof(
  fc.tuple(fc.constant('GET'), fc.constant('/api/sessions')),
  fc.tuple(fc.constant('POST'), fc.constant('/api/sessions')),
  fc.tuple(
    fc.constantFrom('GET', 'DELETE', 'PUT'),
    ids.map((id) => `/api/sessions/${encodeURIComponent(id)}`),
  ),
  fc.tuple(
    fc.constant('POST'),
    ids.map((id) => `/api/sessions/${encodeURIComponent(id)}/commands`),
  ),
  fc.tuple(
    fc.constant('POST'),
    ids.map((id) => `/api/sessions/${encodeURIComponent(id)}/turns`),
  ),
  fc.tuple(
    fc.constant('POST'),
    ids.map((id) => `/api/sessions/${encodeURIComponent(id)}/resume`),
  ),
  fc.tuple(
    fc.constant('GET'),
    ids.map((id) => `/api/sessions/${encodeURIComponent(id)}/events`),
  ),
  fc.tuple(
    fc.constantFrom('GET', 'POST'),
    fc.constantFrom(
      '/api/openapi.json',
      '/api/me',
      '/api/audit',
      '/api/admin/keys',
      '/api/admin/keys/zzz',
      '/auth/dev-token',
      '/api/nothing',
      '/healthz',
      '/metrics',
    ),
  ),
);

/** Waits until no node drives the session (an accepted command's run has come to rest). */
async function settled(): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const s = await srv.agent.getSession('fz');
    if (s.lease.owner === null || s.lease.expiresAt < Date.now()) return;
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function state(): Promise<[number, number]> {
  const s: SessionSnapshot = await srv.agent.getSession('fz');
  return [s.version, s.lastSeq];
}

describe('fuzz: every REST route with random bodies, queries and credentials', () => {
  it('never answers 5xx, never crashes, and a rejected request changes nothing', async () => {
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(
        route,
        body,
        query,
        fc.constantFrom('viewer', 'operator', 'approver', 'none', 'bad'),
        fc.constantFrom('application/json', 'text/plain', 'application/merge-patch+json'),
        async ([method, path], b, q, who, type) => {
          const before = await state();
          const t = tokens[who] ?? '';
          const headers: Record<string, string> = { ...(t ? { authorization: `Bearer ${t}` } : {}) };
          const opts =
            method === 'GET' || method === 'DELETE'
              ? { headers }
              : { ...b, headers: { ...headers, 'content-type': type } };
          const r = await request(base, method, `${path}${q}`, opts);
          expect(
            r.status,
            `${method} ${path}${q} → ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`,
          ).toBeLessThan(500);
          if (r.status >= 400) {
            if (path.startsWith('/api/sessions'))
              expect(typeof (r.body as { error?: { code?: unknown } }).error?.code).toBe('string');
            expect(await state()).toEqual(before);
          }
          seen.add(Math.floor(r.status / 100) * 100 + (r.status === 401 ? 1 : r.status === 403 ? 3 : 0));
          await settled(); // let an accepted run come to rest before the next case compares state
        },
      ),
      { numRuns: 300, seed: 20260107 },
    );
    expect((await request(base, 'GET', '/healthz')).status).toBe(200);
    // the generators reach past authentication: successes, validation errors, 401 and 403 all occur
    expect([...seen].sort()).toEqual(expect.arrayContaining([200, 400, 401, 403]));
  });
});

describe('fuzz: every WebSocket message type', () => {
  it('answers every message with a result or a typed error, never INTERNAL, never drops the connection; rejected messages change nothing', async () => {
    const ws = new WebSocket(wsUrl, [PROTOCOL, `bearer.${tokens['operator'] ?? ''}`]);
    const inbox: { type: string; id?: string; error?: { code: string } }[] = [];
    let wake: (() => void) | undefined;
    ws.on('message', (d: Buffer) => {
      inbox.push(JSON.parse(d.toString()) as { type: string; id?: string });
      wake?.();
    });
    await new Promise<void>((r) => ws.on('open', () => r()));
    const waitFor = async (id: string) => {
      for (;;) {
        const m = inbox.find(
          (x) =>
            x.id === id &&
            (x.type === 'result' ||
              x.type === 'error' ||
              x.type === 'subscribed' ||
              x.type === 'unsubscribed'),
        );
        if (m) return m;
        await new Promise<void>((r) => (wake = r));
      }
    };
    const shaped = fc.oneof(
      fc.record(
        { type: fc.constant('subscribe'), sessionId: ids, after: fc.integer({ min: 0, max: 60 }) },
        { requiredKeys: ['type', 'sessionId'] },
      ),
      fc.record({ type: fc.constant('unsubscribe'), sessionId: ids }),
      fc.record({ type: fc.constant('get'), sessionId: ids }),
      fc.record(
        {
          type: fc.constant('get'),
          sessionId: ids,
          history: fc.oneof(fc.constantFrom('full', 'changes', 'all'), fc.integer({ min: -1, max: 1001 })),
          changesLimit: fc.oneof(
            fc.integer({ min: -1, max: 1001 }),
            fc.double(),
            fc.string({ maxLength: 3 }),
          ),
          changesBefore: fc.oneof(fc.integer({ min: -2, max: 20 }), fc.constant(2 ** 60), fc.constant(null)),
        },
        { requiredKeys: ['type', 'sessionId'] },
      ),
      fc.record(
        {
          type: fc.constant('list'),
          status: fc.uniqueArray(fc.constantFrom('waiting', 'idle', 'paused', 'running')),
          limit: fc.integer({ min: 1, max: 50 }),
        },
        { requiredKeys: ['type'] },
      ),
      fc.record(
        {
          type: fc.constant('command'),
          sessionId: fc.constantFrom('fz', 'nobody'),
          command: commandLike,
          wait: fc.boolean(),
        },
        { requiredKeys: ['type', 'sessionId', 'command'] },
      ),
      fc.record(
        {
          type: fc.constant('start'),
          input: fc.string({ minLength: 1, maxLength: 20 }),
          sessionId: fc.constantFrom('fz', 'fz-new'),
        },
        { requiredKeys: ['type', 'input'] },
      ),
    );
    const garbage = fc.record(
      {
        type: fc.constantFrom('subscribe', 'unsubscribe', 'get', 'command', 'start', 'list', 'ping', ''),
        sessionId: ids,
        after: fc.oneof(fc.integer({ min: -5, max: 50 }), fc.string({ maxLength: 3 })),
        command: commandLike,
        input: fc.string({ maxLength: 20 }),
        limit: fc.integer({ min: -1, max: 2000 }),
        extra: fc.jsonValue({ maxDepth: 1 }),
      },
      { requiredKeys: ['type'] },
    );
    const message = fc.oneof(
      shaped,
      shaped,
      garbage,
      fc.jsonValue({ maxDepth: 3 }).filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)),
    );
    let n = 0;
    const kinds = new Set<string>();
    await fc.assert(
      fc.asyncProperty(message, async (m) => {
        const id = `f${n++}`;
        const before = await state();
        const payload = typeof m === 'object' && m !== null && !Array.isArray(m) ? { ...m, id } : m;
        ws.send(JSON.stringify(payload));
        if (payload === m) {
          // no id to correlate: send a probe and wait for it, the garbage must have produced an error without killing the socket
          ws.send(JSON.stringify({ type: 'list', id: `${id}-probe`, limit: 1 }));
          await waitFor(`${id}-probe`);
          return;
        }
        const reply = await waitFor(id);
        expect(reply.error?.code).not.toBe('INTERNAL');
        kinds.add(reply.type === 'error' ? (reply.error?.code ?? 'error') : reply.type);
        if (reply.type === 'error') expect(await state()).toEqual(before);
        await settled();
      }),
      { numRuns: 300, seed: 20260108 },
    );
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect([...kinds]).toEqual(
      expect.arrayContaining(['result', 'subscribed', 'INVALID_INPUT', 'SESSION_NOT_FOUND']),
    );
    ws.terminate();
  });
});
