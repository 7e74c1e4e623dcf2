import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentEvent } from 'dream-agent';
import { factsFor, matches, statedFigures, type GoldRequest } from '../../../bench/understanding/gold.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
let out: string;

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'dream-demo-'));
});
afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

/** Runs the demo as a user would (`tsx examples/quickstart/src/main.ts …`), feeding stdin line by line. */
function runDemo(
  args: string[],
  stdinLines: string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/quickstart/src/main.ts', ...args], {
      cwd: root,
      env: {
        ...process.env,
        DREAM_AGENT_OUTPUT: out,
        DREAM_AGENT_DB: join(out, 'sessions.sqlite'),
        NO_COLOR: '1',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    for (const line of stdinLines) child.stdin.write(`${line}\n`);
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

// Each case spawns the demo (tsx compiles it on start) up to three times: on a loaded machine that alone takes
// longer than the default 30 s, so the bound is the child's own kill timer instead.
describe('the quick-start demo', { timeout: 240_000 }, () => {
  it('runs unattended (--yes): understanding, plan review, approval, input request, live progress, answer, follow-up', async () => {
    const { code, stdout, stderr } = await runDemo(['--yes', '--json']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const events = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AgentEvent);
    const types = events.map((e) => e.type);
    for (const t of [
      'intent.detected',
      'plan.review.requested',
      'plan.approved',
      'todo.progress',
      'approval.requested',
      'approval.resolved',
      'input.requested',
      'input.received',
      'response.completed',
    ]) {
      expect(types, t).toContain(t);
    }
    expect(types.filter((t) => t === 'turn.completed')).toHaveLength(2);
    const intents = events.filter(
      (e): e is Extract<AgentEvent, { type: 'intent.detected' }> => e.type === 'intent.detected',
    );
    expect(intents[0]?.intent.name).toBe('sales.report');
    // the follow-up reuses the previous turn's period and changes only the region
    expect(intents[1]?.intent.slots['region']).toBe('EMEA');
    expect(intents[1]?.intent.slots['period']).toEqual(intents[0]?.intent.slots['period']);
    const written = await files(out);
    const reports = written.filter((f) => f.endsWith('report.md'));
    const charts = written.filter((f) => f.endsWith('chart.svg'));
    const mails = written.filter((f) => f.endsWith('.eml'));
    expect(reports).toHaveLength(2);
    expect(charts).toHaveLength(2);
    expect(mails).toHaveLength(2);
    const texts = await Promise.all(reports.map((r) => readFile(r, 'utf8')));
    for (const t of texts) expect(t).toMatch(/^# Sales report, /);
    // the first turn covers every region, the follow-up only EMEA
    expect(texts.filter((t) => t.includes('| North America |'))).toHaveLength(1);
    expect(texts.filter((t) => t.includes('| EMEA |'))).toHaveLength(2);
    expect(await readFile(charts[0] ?? '', 'utf8')).toMatch(/^<svg [^>]*>.*<rect /s);
    const mail = await readFile(mails[0] ?? '', 'utf8');
    expect(mail).toContain('To: team@example.com');
    expect(mail).toContain('Attachment: ');
    const answer = events.find((e) => e.type === 'response.completed');
    expect(answer && 'text' in answer ? answer.text : '').toContain('report.md');
  });

  it('the interactive path: a refused edit, a removal, approval, and quitting at the follow-up prompt', async () => {
    await rm(out, { recursive: true, force: true });
    const { code, stdout } = await runDemo([], ['remove fetch', 'r email', 'a', '']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/refused: .*depends on removed/);
    expect(stdout).toContain('plan updated to v2 by you');
    expect(stdout).toContain('✓ report');
    expect(stdout).not.toContain('▶ email');
    expect(stdout).toContain('turn completed');
    const written = await files(out);
    expect(written.filter((f) => f.endsWith('.eml'))).toHaveLength(0);
    expect(written.filter((f) => f.endsWith('report.md'))).toHaveLength(1);
  });

  it('closed input at plan review never approves: the session rests, and --resume continues it', async () => {
    await rm(out, { recursive: true, force: true });
    const closedAtReview = await runDemo([], []);
    expect(closedAtReview.code).toBe(0);
    expect(closedAtReview.stdout).toContain('⚠ needs your approval');
    expect(closedAtReview.stdout).toContain('input closed: nothing was approved or sent');
    expect(closedAtReview.stdout).not.toContain('▶ fetch');
    expect(closedAtReview.stdout).not.toContain('turn completed');

    // Approve the plan, then close the input at the approval prompt: still nothing is sent.
    const closedAtApproval = await runDemo(['--resume'], ['a']);
    expect(closedAtApproval.code).toBe(0);
    expect(closedAtApproval.stdout).toContain('✓ report');
    expect(closedAtApproval.stdout).toContain('tool: email.send');
    expect(closedAtApproval.stdout).toContain('input closed');
    expect(closedAtApproval.stdout).not.toContain('▶ email');
    expect((await files(out)).filter((f) => f.endsWith('.eml'))).toHaveLength(0);

    // Grant, then close the input at the recipient prompt: one notice, no repeated errors, nothing sent.
    const closedAtRecipient = await runDemo(['--resume'], ['y']);
    expect(closedAtRecipient.code).toBe(0);
    expect(closedAtRecipient.stdout.match(/input closed/g) ?? []).toHaveLength(1);
    expect(closedAtRecipient.stdout).not.toMatch(/refused:|error/i);
    expect(closedAtRecipient.stdout).not.toContain('turn completed');
    expect((await files(out)).filter((f) => f.endsWith('.eml'))).toHaveLength(0);

    // Resume once more: give the recipient, approve again now that the effect names the recipient
    // (a grant never covers an input given after it); the step continues with the answer (no "attempt 2").
    const done = await runDemo(['--resume'], ['ann@example.com', 'y', '']);
    expect(done.code).toBe(0);
    expect(done.stdout).toContain('▶ email (continuing with your answer)');
    expect(done.stdout).not.toContain('attempt 2');
    // the second approval prompt (the only one of this run) shows the recipient given after the first grant
    const second = done.stdout.split('Approve? [y/N]')[0] ?? '';
    expect(second).toMatch(/provided recipient: ann@example\.com/);
    expect(done.stdout).toContain('turn completed');
    const mails = (await files(out)).filter((f) => f.endsWith('.eml'));
    expect(mails).toHaveLength(1);
    expect(await readFile(mails[0] ?? '', 'utf8')).toContain('To: ann@example.com');
  });

  it('--json emits only JSON lines, also when answering interactively', async () => {
    await rm(out, { recursive: true, force: true });
    const { code, stdout } = await runDemo(['--json', 'sales for Q3 2025 in APAC'], ['a']);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
  });

  it('a vague request goes through the clarification loop', async () => {
    const { code, stdout } = await runDemo(['--yes', 'do the numbers thing']);
    expect(code).toBe(0);
    expect(stdout).toContain('understood: unknown');
    // the question offers numbered options
    expect(stdout).toMatch(/\? .+\n {3}1\. .+\n {3}2\. /);
    expect(stdout).toMatch(/understood: sales\.report/);
    expect(stdout).toContain('turn completed');
  });

  it('answers several requests as a user would, every stated figure recomputed independently', async () => {
    await rm(out, { recursive: true, force: true });
    // Periods in the past of any run date, so the independent figures do not depend on today.
    const gold = (intent: string, slots: Record<string, string[]>, text: string): GoldRequest => ({
      line: 0,
      kind: 'c',
      intent,
      slots,
      text,
    });
    const requests: { text: string; first: GoldRequest; followUp: GoldRequest }[] = [
      {
        text: 'sales for Q3 2025 in APAC',
        first: gold('sales.report', { p: ['2025-Q3'], r: ['APAC'] }, 'sales for Q3 2025 in APAC'),
        followUp: gold('sales.report', { p: ['2025-Q3'], r: ['EMEA'] }, 'now do the same for EMEA'),
      },
      {
        text: 'compare EMEA and APAC in Q2 2025',
        first: gold(
          'sales.compare',
          { p: ['2025-Q2'], r: ['EMEA', 'APAC'] },
          'compare EMEA and APAC in Q2 2025',
        ),
        followUp: gold(
          'sales.compare',
          { p: ['2025-Q2', '2025-Q1'], r: ['EMEA'] },
          'now do the same for EMEA',
        ),
      },
      {
        text: 'top 3 products by revenue in 2025',
        first: gold('sales.top_products', { p: ['2025'], n: ['3'] }, 'top 3 products by revenue in 2025'),
        followUp: gold(
          'sales.top_products',
          { p: ['2025'], n: ['3'], r: ['EMEA'] },
          'now do the same for EMEA',
        ),
      },
    ];
    const today = new Date().toISOString().slice(0, 10);
    const runs = [];
    for (const r of requests) runs.push(await runDemo(['--yes', '--json', r.text]));
    runs.forEach((run, i) => {
      const r = requests[i]!;
      expect(run.code, run.stderr).toBe(0);
      const events = run.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as AgentEvent);
      const intents = events.filter((e) => e.type === 'intent.detected');
      const answers = events.flatMap((e) => (e.type === 'response.completed' ? [e.text] : []));
      // the request and the follow-up "Now do the same for EMEA" (run by --yes)
      expect(answers, r.text).toHaveLength(2);
      expect(intents[0] && 'intent' in intents[0] ? intents[0].intent.name : '').toBe(r.first.intent);
      [r.first, r.followUp].forEach((g, turn) => {
        const answer = answers[turn] ?? '';
        const facts = factsFor(g, today);
        const figures = statedFigures(answer);
        expect(figures.length, answer).toBeGreaterThan(0);
        const untrue = figures.filter((f) => !matches(f, [...facts.all, ...facts.key]));
        expect(
          untrue.map((f) => f.text),
          `${g.text}: ${answer}`,
        ).toEqual([]);
        // and the headline figure is there
        expect(
          facts.key.some((k) => figures.some((f) => matches(f, [k]))),
          `${g.text}: ${answer}`,
        ).toBe(true);
      });
    });
  }, 300_000);
});
