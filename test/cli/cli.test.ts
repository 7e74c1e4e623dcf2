import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, FunctionPlanner } from 'dream-agent';
import { SqliteStore } from '@dream-agent/sqlite';
import { serviceSkipReason, startPostgres, type PostgresService } from '../setup/services.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = join(root, 'node_modules/tsx/dist/cli.mjs');
const cli = join(root, 'src/cli/index.ts');

/** Spawns `dream-agent …` (the source, through tsx) and collects its output and exit code. */
function run(args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsx, cli, ...args], {
      cwd: root,
      env: { ...process.env, DREAM_AGENT_STORE: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

const jsonLines = (text: string): Record<string, unknown>[] =>
  text
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const dir = mkdtempSync(join(tmpdir(), 'dream-cli-'));
const dbFile = join(dir, 'agent.db');
let pg: PostgresService | undefined;

// Each spawn transpiles the CLI with tsx (1–4 s on a busy machine): generous timeouts.
describe('the dream-agent CLI (spawned)', { timeout: 180_000 }, () => {
  beforeAll(async () => {
    // One session waiting for plan review, written by an Agent into a SQLite file.
    const store = new SqliteStore(dbFile);
    const agent = new Agent({
      store,
      planner: new FunctionPlanner(() => ({
        todos: [{ id: 'a', title: 'Step A', domain: 'work', input: {}, dependsOn: [] }],
      })),
      executors: { work: { execute: () => Promise.resolve({ output: { done: true } }) } },
      hitl: { planReview: 'always' },
    });
    expect((await agent.run('do the thing', { sessionId: 'cli-1' }).result()).status).toBe('waiting');
    await agent.close();
    await store.close();
  });

  afterAll(async () => {
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints help (exit 0); no command or an unknown one is a usage error (exit 2)', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/tools validate <dir>/);
    expect((await run([])).code).toBe(2);
    const unknown = await run(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
    const badFlag = await run(['tools', 'list', '--nope']);
    expect(badFlag.code).toBe(2);
  });

  it('tools validate: 0 for a valid directory, 1 with file:line:col for every error', async () => {
    const ok = await run(['tools', 'validate', 'test/tools/fixtures/valid']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/0 error\(s\)/);
    const bad = await run(['tools', 'validate', 'test/tools/fixtures/invalid']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /invalid\/schema\.yaml:7:15 input\.properties\.period\.type: unsupported type "strin"/,
    );
    expect(bad.stderr).toMatch(/invalid\/fields\.yaml:5:13 approval\.risk/);
    const json = jsonLines(
      (await run(['tools', 'validate', 'test/tools/fixtures/invalid', '--json'])).stdout,
    );
    const errors = json
      .filter((l) => 'error' in l)
      .map((l) => l['error'] as { line: number; column: number });
    expect(errors.length).toBeGreaterThan(5);
    for (const e of errors) expect(e.line).toBeGreaterThanOrEqual(1);
    expect((await run(['tools', 'validate', join(dir, 'missing')])).code).toBe(1);
  });

  it('tools list names every tool with its version, domain and approval', async () => {
    const list = await run(['tools', 'list', 'examples/quickstart/tools', '--json']);
    expect(list.code).toBe(0);
    const tools = jsonLines(list.stdout);
    expect(tools.map((t) => t['name'])).toContain('email.send');
    expect(tools.find((t) => t['name'] === 'email.send')).toMatchObject({ domain: 'ops', approval: true });
  });

  it('sessions list / show / events read a SQLite store; unknown ids and stores fail with exit 1', async () => {
    const store = `sqlite:${dbFile}`;
    const list = await run(['sessions', 'list', '--store', store, '--json']);
    expect(list.code).toBe(0);
    expect(jsonLines(list.stdout)).toEqual([expect.objectContaining({ id: 'cli-1', status: 'waiting' })]);
    expect(
      jsonLines((await run(['sessions', 'list', '--store', store, '--status', 'idle', '--json'])).stdout),
    ).toEqual([]);
    const show = await run(['sessions', 'show', 'cli-1', '--store', store]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/session cli-1: waiting/);
    expect(show.stdout).toMatch(/pending plan_review/);
    const events = jsonLines((await run(['sessions', 'events', 'cli-1', '--store', store, '--json'])).stdout);
    expect(events[0]).toMatchObject({ type: 'turn.started', seq: 1 });
    expect(events.map((e) => e['seq'])).toEqual(events.map((_, i) => i + 1));
    const after = jsonLines(
      (await run(['sessions', 'events', 'cli-1', '--store', store, '--after', '2', '--json'])).stdout,
    );
    expect(after[0]?.['seq']).toBe(3);
    const missing = await run(['sessions', 'show', 'nope', '--store', store]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/SESSION_NOT_FOUND/);
    const badStore = await run(['sessions', 'list', '--store', 'mongodb://x']);
    expect(badStore.code).toBe(1);
    expect(badStore.stderr).toMatch(/unknown store "mongodb:\/\/x"/);
    expect((await run(['sessions', 'list'])).code).toBe(2);
    expect((await run(['sessions', 'events', 'cli-1', '--store', store, '--after', '-1'])).code).toBe(2);
  });

  it('migrate runs the PostgreSQL migrations, then sessions list works on the migrated database', async () => {
    const skip = serviceSkipReason('postgres');
    if (skip !== undefined) throw new Error(`PostgreSQL is missing: ${skip}`);
    pg = await startPostgres();
    const migrated = await run(['migrate', '--store', pg.url, '--json']);
    expect(migrated.stderr).toBe('');
    expect(migrated.code).toBe(0);
    expect(jsonLines(migrated.stdout)[0]).toMatchObject({ ok: true, store: 'postgres' });
    const again = await run(['migrate', '--store', pg.url]);
    expect(again.code).toBe(0);
    const list = await run(['sessions', 'list', '--store', pg.url, '--json']);
    expect(list.code).toBe(0);
    expect(jsonLines(list.stdout)).toEqual([]);
  }, 120_000);

  it('demo: --yes completes the session; a closed stdin approves nothing', async () => {
    const yes = await run(['demo', '--yes']);
    expect(yes.code).toBe(0);
    expect(yes.stdout).toMatch(/✔ send/);
    expect(yes.stdout).toMatch(/: completed/);
    const closed = await run(['demo']);
    expect(closed.code).toBe(1);
    expect(closed.stdout).not.toMatch(/✔ send/);
    const typed = await run(['demo'], 'y\nn\n');
    expect(typed.stdout).toMatch(/✔ summarise/);
    expect(typed.stdout).not.toMatch(/✔ send/);
  }, 60_000);
});
