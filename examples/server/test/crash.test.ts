/**
 * The requests that used to end the `npm start` process (issue: "nothing a client sends may take the
 * process down"), replayed against the real server process. After each one the process must still be
 * alive, answer a 4xx, log no stack trace, and hold the same sessions as before.
 */
import http from 'node:http';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import WebSocket from 'ws';
import { PROTOCOL } from '@dream-agent/ws';
import { request } from '../../../test/transports/helpers.js';
import { chunkedPost, startServerProcess, type ServerProcess } from './process.js';

let sp: ServerProcess;
let viewer: string;
let operator: string;

beforeAll(async () => {
  sp = await startServerProcess();
  viewer = await sp.token('vera', ['viewer']);
  operator = await sp.token('olga', ['operator']);
}, 90_000);
afterAll(async () => {
  await sp?.stop();
});

const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

async function sessions(): Promise<unknown> {
  const r = await request(sp.base, 'GET', '/api/sessions', {
    headers: { authorization: `Bearer ${operator}` },
  });
  expect(r.status).toBe(200);
  return r.body;
}

async function stillUp(): Promise<void> {
  await new Promise((r) => setTimeout(r, 300)); // a crash after the answer shows up here
  expect(sp.alive(), sp.output().slice(-2000)).toBe(true);
  expect((await request(sp.base, 'GET', '/healthz')).status).toBe(200);
}

describe('npm start survives what used to crash it', () => {
  it('a 1,500-deep WebSocket start message: INVALID_INPUT, connection and process stay up', async () => {
    const before = await sessions();
    const ws = new WebSocket(`ws://${sp.base}/ws`, [PROTOCOL, `bearer.${operator}`]);
    const inbox: { type: string; id?: string; error?: { code: string; message: string } }[] = [];
    ws.on('message', (d: Buffer) => inbox.push(JSON.parse(d.toString()) as (typeof inbox)[number]));
    await new Promise<void>((r, j) => {
      ws.on('open', () => r());
      ws.on('error', j);
    });
    const msg = `{"type":"start","id":"deep","input":"hi","metadata":{"x":${nested(1500)}}}`;
    expect(msg.length).toBeLessThan(10_000);
    ws.send(msg);
    ws.send(JSON.stringify({ type: 'list', id: 'probe' }));
    for (let i = 0; i < 100 && !inbox.some((m) => m.id === 'probe'); i++)
      await new Promise((r) => setTimeout(r, 50));
    // the id cannot be read from a message that is never parsed: the error comes without one
    const reply = inbox.find((m) => m.type === 'error');
    expect(reply?.type).toBe('error');
    expect(reply?.error?.code).toBe('INVALID_INPUT');
    expect(reply?.error?.message).toMatch(/deeper than 64/);
    expect(inbox.find((m) => m.id === 'probe')?.type).toBe('result');
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.terminate();
    await stillUp();
    expect(await sessions()).toEqual(before);
  });

  it('a chunked body over 256 KiB: 413 for an operator, 403 before reading for a viewer', async () => {
    const before = await sessions();
    const op = await chunkedPost(
      sp.base,
      '/api/sessions',
      { authorization: `Bearer ${operator}` },
      40,
      16 * 1024,
    );
    expect(op.status).toBe(413);
    expect(JSON.parse(op.body)).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    await stillUp();
    const v = await chunkedPost(
      sp.base,
      '/api/sessions',
      { authorization: `Bearer ${viewer}` },
      40,
      16 * 1024,
    );
    expect(v.status).toBe(403);
    await stillUp();
    const anon = await chunkedPost(sp.base, '/api/sessions/x/commands', {}, 40, 16 * 1024);
    expect(anon.status).toBe(401);
    await stillUp();
    expect(await sessions()).toEqual(before);
  });

  it('a malformed %-escape in the path and a 2,000-deep body: 400, no stack trace in the log', async () => {
    const before = await sessions();
    const mark = sp.output().length;
    const auth = { authorization: `Bearer ${operator}` };
    for (const path of [
      '/api/sessions/%E0%A4%A',
      '/api/sessions/%E0%A4%A/events',
      '/api/sessions/%ZZ/commands',
    ]) {
      const r = await request(sp.base, path.endsWith('commands') ? 'POST' : 'GET', path, {
        headers: auth,
        ...(path.endsWith('commands') ? { body: { type: 'pause' } } : {}),
      });
      expect(r.status, path).toBe(400);
      expect(r.body).toMatchObject({ error: { code: 'INVALID_INPUT' } });
    }
    for (const path of ['/api/sessions', '/api/sessions/x/commands', '/api/sessions/x/turns']) {
      const r = await request(sp.base, 'POST', path, {
        headers: auth,
        raw: `{"type":"plan.edit","input":"x","edits":${nested(2000)}}`,
      });
      expect(r.status, path).toBe(400);
      expect(r.body).toMatchObject({ error: { code: 'INVALID_INPUT', details: { maxDepth: 64 } } });
    }
    await stillUp();
    const log = sp.output().slice(mark);
    expect(log).not.toMatch(/unhandled error|unexpected error|RangeError|"level":50/);
    expect(await sessions()).toEqual(before);
  });
});

// ---- bounded fuzzing of both transports against the same process

const deepText = fc
  .tuple(
    fc.integer({ min: 30, max: 4000 }),
    fc.constantFrom('[', '{"a":', '{"type":"start","input":"x","metadata":{"m":'),
  )
  .map(([d, open]) => {
    const close = open === '[' ? ']' : '}';
    const extra = open.startsWith('{"type"') ? '}' : '';
    return open.repeat(d) + (open === '[' ? '' : '1') + close.repeat(d) + extra;
  });
const oddBytes = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  fc.constantFrom(
    Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), // {"\xff\xfe"}
    Buffer.from([0xc3, 0x28]), // an invalid 2-byte sequence
    Buffer.from('{"input":"\uD800"}'), // a lone surrogate escape written raw
    Buffer.from([0xe0, 0xa4]), // a truncated sequence
  ),
);
const restBody = fc.oneof(
  deepText.map((t) => Buffer.from(t)),
  oddBytes,
  fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
);
const badPath = fc.oneof(
  fc.constantFrom(
    '/api/sessions/%E0%A4%A',
    '/api/sessions/%',
    '/api/sessions/%ZZ',
    '/api/sessions/%C0%AF',
    '/api/sessions/%ED%A0%80/events',
    '/api/sessions/%00/turns',
    '/api/sessions/a%2Fb/commands',
    '/api/sessions//commands',
    '/api/%E0%A4%A/sessions',
    '/api/sessions',
    '/api/sessions/fz/commands',
    '/api/sessions/fz/turns',
  ),
  fc.string({ maxLength: 12 }).map((s) => `/api/sessions/${encodeURIComponent(s).replace(/%2/g, '%')}`),
);

function rawPost(
  base: string,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
  chunkSizes: number[],
  withLength: boolean,
): Promise<number> {
  return new Promise((resolve) => {
    let answered = false;
    const req = http.request(`http://${base}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(withLength ? { 'content-length': String(body.length) } : {}),
        ...headers,
      },
    });
    req.on('response', (res) => {
      answered = true;
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => {
      if (!answered) resolve(0);
    });
    let off = 0;
    let k = 0;
    const pump = (): void => {
      while (off < body.length && !req.destroyed) {
        const n = Math.max(1, chunkSizes[k++ % chunkSizes.length] ?? 1);
        const ok = req.write(body.subarray(off, off + n));
        off += n;
        if (!ok) {
          req.once('drain', pump);
          return;
        }
      }
      if (!req.destroyed) req.end();
    };
    pump();
  });
}

describe('fuzz against npm start: deep nesting, odd chunking, malformed UTF-8 and URIs, random frames', () => {
  it('REST: every answer is a 4xx, the process stays up, nothing changes', async () => {
    const before = await sessions();
    const auth = { authorization: `Bearer ${operator}` };
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(
        badPath,
        restBody,
        fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        fc.boolean(),
        async (path, body, chunks, withLength, huge) => {
          const payload = huge
            ? Buffer.concat([Buffer.from('{"input":"'), Buffer.alloc(300 * 1024, 0x61), Buffer.from('"}')])
            : body;
          const status = await rawPost(sp.base, path, auth, payload, chunks, withLength);
          seen.add(status);
          if (status === 0)
            expect(payload.length).toBeGreaterThan(256 * 1024); // closed after a 413 it could not read
          else expect(status, `${path} ${payload.subarray(0, 60).toString()}`).toBeGreaterThanOrEqual(400);
          if (status !== 0) expect(status).toBeLessThan(500);
        },
      ),
      { numRuns: 120, seed: 20261201 },
    );
    expect(sp.alive()).toBe(true);
    expect([...seen]).toEqual(expect.arrayContaining([400]));
    await stillUp();
    expect(await sessions()).toEqual(before);
  }, 120_000);

  it('WebSocket: deep, malformed and random frames get an error or a protocol close; the process stays up', async () => {
    const before = await sessions();
    const frames = fc.oneof(
      deepText.map((t) => ({ text: t })),
      oddBytes.map((b) => ({ bytes: b })),
      fc.jsonValue({ maxDepth: 5 }).map((v) => ({ text: JSON.stringify(v) ?? 'null' })),
      fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => ({ raw: Buffer.from(b) })),
    );
    await fc.assert(
      fc.asyncProperty(frames, async (f) => {
        if ('raw' in f) {
          // bytes straight onto the socket after a real handshake: random frame headers, bad opcodes, unmasked frames
          const sock = net.connect(Number(sp.base.split(':')[1]), '127.0.0.1');
          await new Promise<void>((r) => sock.on('connect', () => r()));
          sock.on('error', () => undefined);
          sock.write(
            `GET /ws HTTP/1.1\r\nHost: ${sp.base}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
              `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
              `Sec-WebSocket-Protocol: ${PROTOCOL}, bearer.${operator}\r\n\r\n`,
          );
          const head = await new Promise<string>((r) => sock.once('data', (d: Buffer) => r(d.toString())));
          expect(head).toMatch(/^HTTP\/1\.1 101/);
          sock.write(f.raw);
          await new Promise((r) => setTimeout(r, 20));
          sock.destroy();
          return;
        }
        const ws = new WebSocket(`ws://${sp.base}/ws`, [PROTOCOL, `bearer.${operator}`]);
        const got: { type: string; error?: { code: string } }[] = [];
        ws.on('message', (d: Buffer) => got.push(JSON.parse(d.toString()) as (typeof got)[number]));
        ws.on('error', () => undefined);
        await new Promise<void>((r) => ws.on('open', () => r()));
        const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
        if ('text' in f) ws.send(f.text);
        else ws.send(f.bytes, { binary: false });
        ws.send(JSON.stringify({ type: 'list', id: 'probe', limit: 1 }));
        const outcome = await Promise.race([
          closed.then((code) => ({ code })),
          (async () => {
            while (!got.some((m) => (m as { id?: string }).id === 'probe'))
              await new Promise((r) => setTimeout(r, 5));
            return { code: 0 };
          })(),
        ]);
        if (outcome.code !== 0) expect([1007, 1008, 1009]).toContain(outcome.code);
        for (const m of got) if (m.type === 'error') expect(m.error?.code).not.toBe('INTERNAL');
        ws.terminate();
      }),
      { numRuns: 120, seed: 20261202 },
    );
    await stillUp();
    expect(await sessions()).toEqual(before);
  }, 120_000);
});
