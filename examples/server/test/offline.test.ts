import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from 'dream-agent';
import { request } from '../../../test/transports/helpers.js';
import { startTestServer } from './helpers.js';

let out: string;
const previous = process.env['DREAM_AGENT_OUTPUT'];
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'dream-server-'));
  process.env['DREAM_AGENT_OUTPUT'] = out;
});
afterAll(async () => {
  if (previous === undefined) delete process.env['DREAM_AGENT_OUTPUT'];
  else process.env['DREAM_AGENT_OUTPUT'] = previous;
  await rm(out, { recursive: true, force: true });
});

describe('example server with the default offline layers', () => {
  it('serves the quick-start business agent over REST: review, approve, gate, input, completion with files', async () => {
    const { srv, base } = await startTestServer({ layers: 'offline' });
    try {
      const op = { authorization: `Bearer ${await srv.auth.sign('olga', ['operator'])}` };
      const ap = { authorization: `Bearer ${await srv.auth.sign('ann', ['approver'])}` };
      const started = await request(base, 'POST', '/api/sessions?wait=true', {
        body: {
          input: "Analyse last quarter's sales by region and email the report to the team",
          sessionId: 'offline-1',
        },
        headers: op,
      });
      expect(started.status).toBe(200);
      let r = started.body as RunResult;
      expect(r.pending[0]?.kind).toBe('plan_review');
      const send = async (command: unknown, headers = op): Promise<RunResult> => {
        const res = await request(base, 'POST', '/api/sessions/offline-1/commands?wait=true', {
          body: command,
          headers,
        });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        return res.body as RunResult;
      };
      r = await send({ type: 'plan.approve' }, ap);
      expect(r.pending[0]?.kind).toBe('approval');
      r = await send({ type: 'approval.grant', requestId: r.pending[0]?.id }, ap);
      expect(r.pending[0]?.kind).toBe('input');
      r = await send({ type: 'input.provide', requestId: r.pending[0]?.id, value: 'team@example.com' });
      // The recipient was asked after the grant: the approver sees it in the effect and grants again.
      expect(r.pending[0]?.kind).toBe('approval');
      expect(r.pending[0]?.effect?.provided).toMatchObject({ recipient: 'team@example.com' });
      r = await send({ type: 'approval.grant', requestId: r.pending[0]?.id }, ap);
      expect(r.status).toBe('completed');
      expect(r.answer).toContain('report.md');
      const files = (await readdir(out, { recursive: true })).map(String);
      expect(files.some((f) => f.endsWith('report.md'))).toBe(true);
      expect(files.some((f) => f.endsWith('.eml'))).toBe(true);
    } finally {
      await srv.close();
    }
  });
});
