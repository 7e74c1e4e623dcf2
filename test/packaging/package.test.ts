import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const out = join(root, 'dist');

/**
 * Packaging is checked, not assumed: the core is built with its real tsup config (ESM, CJS, .d.ts),
 * then loaded from ESM and from CommonJS, and its `exports` map is checked by publint.
 */
describe('the published core package', () => {
  beforeAll(async () => {
    await run(process.execPath, [join(root, 'node_modules/tsup/dist/cli-default.js')], {
      cwd: root,
      timeout: 280_000,
    });
  }, 300_000);

  it('loads from ESM and CommonJS with the same public API, and runs a turn', async () => {
    const esm = (await import(pathToFileURL(join(out, 'index.js')).href)) as Record<string, unknown>;
    const cjs = createRequire(import.meta.url)(join(out, 'index.cjs')) as Record<string, unknown>;
    expect(Object.keys(cjs).sort()).toEqual(Object.keys(esm).sort());
    for (const name of [
      'Agent',
      'MemoryStore',
      'ToolRegistry',
      'RecipePlanner',
      'DreamAgentError',
      'isDreamAgentError',
      'parseCommand',
    ]) {
      expect(typeof esm[name], name).toBe('function');
    }
    type AgentCtor = new (o: unknown) => {
      run(i: string): { result(): Promise<{ status: string }> };
      close(): Promise<void>;
    };
    const Agent = cjs['Agent'] as AgentCtor;
    const agent = new Agent({});
    expect((await agent.run('hello').result()).status).toBe('completed');
    await agent.close();
    const testing = (await import(pathToFileURL(join(out, 'testing/index.js')).href)) as Record<
      string,
      unknown
    >;
    expect(typeof testing['storeContract']).toBe('function');
    expect(typeof testing['ManualClock']).toBe('function');
  });

  it('has no module-scope side effects and a valid exports map (publint)', async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
      sideEffects: boolean;
      exports: Record<string, unknown>;
    };
    expect(pkg.sideEffects).toBe(false);
    expect(Object.keys(pkg.exports)).toEqual([
      '.',
      './offline',
      './testing',
      './adapter-kit',
      './package.json',
    ]);
    const { stdout } = await run(
      process.execPath,
      [join(root, 'node_modules/publint/src/cli.js'), '--level', 'error', root],
      { cwd: root, timeout: 120_000 },
    ).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: `${e.stdout ?? ''}${e.stderr ?? ''}` }));
    expect(stdout).not.toMatch(/Errors:/);
  });
});
