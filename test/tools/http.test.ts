import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isDreamAgentError, type DreamAgentError } from '../../src/errors/index.js';
import { ToolExecutor } from '../../src/tools/executor.js';
import { ToolRegistry } from '../../src/tools/registry.js';
import { parseToolFile } from '../../src/tools/yaml.js';
import { context, manualClock, todo } from './helpers.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let base: string;
const seen: Seen[] = [];
let handler: (req: Seen, res: ServerResponse) => void = (_r, res) => res.end('{}');

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(s);
      handler(s, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});
beforeEach(() => {
  seen.length = 0;
});

function registry(extra: string, env: Record<string, string> = { API_TOKEN: 's3cr3t-token' }): ToolRegistry {
  const yaml = `name: orders.create
description: Creates an order
domain: ops
input:
  type: object
  properties: { customer: { type: string }, amount: { type: number } }
  required: [customer]
${extra}`;
  const r = parseToolFile(yaml, '/virtual/orders.yaml', { http: { env } });
  if (r.errors.length > 0) throw new Error(JSON.stringify(r.errors));
  const reg = new ToolRegistry();
  for (const t of r.tools) reg.register(t);
  return reg;
}

const httpHandler = (lines: string): string => `handler:\n  http:\n${lines.replace(/^/gm, '    ')}\n`;

async function fail(p: Promise<unknown>): Promise<DreamAgentError> {
  try {
    await p;
  } catch (e) {
    if (isDreamAgentError(e)) return e;
    throw e;
  }
  throw new Error('expected a failure');
}

describe('http handlers', () => {
  it('fills the URL template, sends the body, env secrets and the Idempotency-Key, maps the response', async () => {
    handler = (_r, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ order: { id: 'o-1', total: 5 }, meta: 1 }));
    };
    const reg = registry(
      httpHandler(`url: ${base}/customers/{customer}/orders
method: POST
headers: { Authorization: "Bearer \${env:API_TOKEN}" }
response: { pick: order, map: { orderId: id } }`),
    );
    const r = await new ToolExecutor().execute(
      todo('orders.create'),
      { customer: 'a/b c', amount: 5 },
      context(reg),
    );
    expect(r.output).toEqual({ orderId: 'o-1' });
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/customers/a%2Fb%20c/orders' });
    expect(seen[0]?.headers['authorization']).toBe('Bearer s3cr3t-token');
    expect(seen[0]?.headers['idempotency-key']).toBe('idem-s1-turn1-t1');
    expect(seen[0]?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(seen[0]?.body ?? '')).toEqual({ customer: 'a/b c', amount: 5 });
  });

  it('retries 5xx with backoff, with the same idempotency key each time', async () => {
    let n = 0;
    handler = (_r, res) => {
      n++;
      res.statusCode = n < 3 ? 503 : 200;
      res.end(n < 3 ? 'busy' : '{"ok":true}');
    };
    const reg = registry(`${httpHandler(`url: ${base}/x`)}retries: { max: 3, backoff: 100 }\n`);
    const clock = manualClock();
    const r = await new ToolExecutor({ random: () => 1 }).execute(
      todo('orders.create'),
      { customer: 'c' },
      context(reg, { clock }),
    );
    expect(r.output).toEqual({ ok: true });
    expect(seen).toHaveLength(3);
    expect(new Set(seen.map((s) => s.headers['idempotency-key']))).toEqual(new Set(['idem-s1-turn1-t1']));
    expect(clock.sleeps).toEqual([100, 200]);
  });

  it('does not retry 4xx and reports the status without secrets', async () => {
    handler = (_r, res) => {
      res.statusCode = 422;
      res.end('{"error":"bad customer"}');
    };
    const reg = registry(
      `${httpHandler(`url: ${base}/x?key=\${env:API_TOKEN}\nheaders: { X-Key: "\${env:API_TOKEN}" }`)}retries: { max: 3 }\n`,
    );
    const e = await fail(new ToolExecutor().execute(todo('orders.create'), { customer: 'c' }, context(reg)));
    expect(seen).toHaveLength(1);
    expect(e.code).toBe('TOOL_FAILED');
    expect(e.retryable).toBe(false);
    expect(e.message).toBe(`tool "orders.create": GET ${base}/x?key=\${env:API_TOKEN} returned HTTP 422`);
    expect(e.details).toMatchObject({ status: 422, body: '{"error":"bad customer"}' });
    expect(JSON.stringify(e.toJSON())).not.toContain('s3cr3t');
  });

  it('marks 429 retryable and honours Retry-After as a floor', async () => {
    let n = 0;
    handler = (_r, res) => {
      n++;
      res.statusCode = n === 1 ? 429 : 200;
      if (n === 1) res.setHeader('retry-after', '2');
      res.end('{}');
    };
    const reg = registry(`${httpHandler(`url: ${base}/x`)}retries: { max: 1, backoff: 10 }\n`);
    const clock = manualClock();
    await new ToolExecutor({ random: () => 0 }).execute(
      todo('orders.create'),
      { customer: 'c' },
      context(reg, { clock }),
    );
    expect(clock.sleeps).toEqual([2000]);
  });

  it('times out a slow endpoint with TIMEOUT', async () => {
    handler = (_r, res) => {
      setTimeout(() => res.end('{}'), 2000);
    };
    const reg = registry(`${httpHandler(`url: ${base}/slow`)}timeout: 50\n`);
    const started = Date.now();
    const e = await fail(new ToolExecutor().execute(todo('orders.create'), { customer: 'c' }, context(reg)));
    expect(e.code).toBe('TIMEOUT');
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('fails with TOOL_INVALID naming a missing env variable, without calling the endpoint', async () => {
    const reg = registry(
      httpHandler(`url: ${base}/x\nheaders: { Authorization: "Bearer \${env:MISSING_TOKEN}" }`),
      {},
    );
    const e = await fail(new ToolExecutor().execute(todo('orders.create'), { customer: 'c' }, context(reg)));
    expect(e.code).toBe('TOOL_INVALID');
    expect(e.message).toBe(
      'tool "orders.create": environment variable MISSING_TOKEN is not set (used in header Authorization)',
    );
    expect(seen).toHaveLength(0);
  });

  it('treats a refused connection as a retryable network error', async () => {
    const reg = registry(`${httpHandler('url: http://127.0.0.1:9/x')}retries: { max: 1, backoff: 1 }\n`);
    const e = await fail(new ToolExecutor().execute(todo('orders.create'), { customer: 'c' }, context(reg)));
    expect(e.code).toBe('TOOL_FAILED');
    expect(e.retryable).toBe(true);
    expect(e.message).toMatch(/^tool "orders.create": GET http:\/\/127.0.0.1:9\/x failed: fetch failed/);
  });
});
