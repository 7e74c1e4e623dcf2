import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from 'dream-agent';
import { runExample, type ExampleProcess } from '../../../test/helpers/example.js';

let app: ExampleProcess;
let base: string;

beforeAll(async () => {
  app = runExample('embed-in-express/src/main.ts', { PORT: '0' });
  const [, url] = await app.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
  base = url ?? '';
}, 180_000);
afterAll(async () => {
  await app?.stop();
});

async function post(path: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

describe('examples/embed-in-express', () => {
  it("keeps the host app's own routes", async () => {
    const res = await fetch(`${base}/health`);
    expect(await res.json()).toEqual({ ok: true });
  });

  it('stops for approval before the refund, runs it once granted, and answers', async () => {
    const started = await post('/agent/sessions?wait=true', { input: 'refund order 42', sessionId: 's-42' });
    expect(started.status).toBe(200);
    const waiting = started.json as RunResult;
    expect(waiting.status).toBe('waiting');
    const request = waiting.pending.find((p) => p.kind === 'approval');
    expect(request).toBeDefined();

    const granted = await post('/agent/sessions/s-42/commands?wait=true', {
      type: 'approval.grant',
      requestId: request?.id,
    });
    expect(granted.status).toBe(200);
    const done = granted.json as RunResult;
    expect(done.status).toBe('completed');
    expect(done.answer).toMatch(/Refund the order/);

    const snapshot = (await (await fetch(`${base}/agent/sessions/s-42`)).json()) as {
      todos: { todoId: string; status: string; output?: unknown }[];
    };
    expect(snapshot.todos).toEqual([
      expect.objectContaining({ todoId: 'refund', status: 'completed', output: { refunded: '42' } }),
    ]);
  });

  it('refuses a malformed command with a typed 400 and changes nothing', async () => {
    const bad = await post('/agent/sessions/s-42/commands', { type: 'no.such.command' });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: { code: expect.any(String) as string } });
  });
});
