import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot, runExample } from '../../../test/helpers/example.js';

const dir = mkdtempSync(join(tmpdir(), 'dream-yaml-tools-'));
cpSync(join(repoRoot, 'examples/yaml-tools/tools'), dir, { recursive: true });
const file = join(dir, 'greet.yaml');
const original = readFileSync(file, 'utf8');

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('examples/yaml-tools', () => {
  it('serves the YAML tool, swaps in an edited version, and keeps it through a broken edit', async () => {
    // Polling makes the test independent of fs.watch latency on a loaded machine.
    const p = runExample('yaml-tools/src/main.ts', { TOOLS_DIR: dir, TOOLS_POLL_MS: '100' });
    try {
      await p.waitFor(/^ready$/m);
      expect(p.stdout()).toMatch(/^registered greet\.hello v1$/m);
      p.child.stdin.write('Ann\n');
      await p.waitFor(/^completed: Hello, Ann! \(v1\)$/m);

      writeFileSync(
        file,
        original.replace('default: Hello', 'default: Bonjour').replace('version: 1', 'version: 2'),
      );
      await p.waitFor(/^updated greet\.hello v1 -> v2$/m);
      p.child.stdin.write('Bea\n');
      await p.waitFor(/^completed: Bonjour, Bea! \(v2\)$/m);

      // A broken edit: reported with file:line:col; version 2 stays in service.
      writeFileSync(
        file,
        original.replace('version: 1', 'version: 3').replace('domain: content', 'domian: content'),
      );
      const [line] = await p.waitFor(/^invalid .*greet\.yaml:\d+:\d+ .*$/m);
      expect(line).toMatch(/greet\.yaml:\d+:1 /);
      p.child.stdin.write('Cy\n');
      await p.waitFor(/^completed: Bonjour, Cy! \(v2\)$/m);
    } finally {
      p.child.stdin.end();
      await p.stop();
    }
  }, 180_000);
});
