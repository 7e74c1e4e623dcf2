import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkSamples, extractSamples, sampleFiles } from './samples.js';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Guides whose samples are reported by name instead of checked, each with the reason. Empty: every
 * sample compiles (fragments get their setup from hidden `ts-prelude` / `ts-setup` blocks, see
 * `samples.ts`). The list may only shrink: a listed file that compiles fails the test, so it is taken off.
 */
const PENDING: Record<string, string> = {};

describe('code samples in README.md, docs/ and the adapter READMEs', () => {
  it('type-check against the packages (strict)', () => {
    const all = extractSamples(sampleFiles(root));
    const rel = (f: string): string => f.slice(root.length).replace(/^\//, '');
    // One program for every sample (a TypeScript program over the core is the slow part).
    const problems = checkSamples(root, all, join(root, '.tmp/samples'));
    const failing = problems.filter((p) => PENDING[p.split(':')[0] ?? ''] === undefined);
    expect(all.filter((s) => PENDING[rel(s.file)] === undefined).length).toBeGreaterThanOrEqual(5);
    expect(failing).toEqual([]);
    // A pending guide that compiles now must leave the list.
    const stillFailing = new Set(problems.map((p) => p.split(':')[0]));
    for (const file of Object.keys(PENDING)) {
      expect(stillFailing.has(file), `${file} compiles now: remove it from PENDING`).toBe(true);
    }
  }, 600_000);
});

describe('sample extraction', () => {
  it('prepends the file prelude to every sample and a ts-setup block only to the sample right below it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'samples-'));
    const file = join(dir, 'guide.md');
    writeFileSync(
      file,
      [
        '<!-- ts-prelude',
        'const fromPrelude = 1;',
        '-->',
        '<!-- ts-setup',
        'const fromSetup = 2;',
        '-->',
        '',
        '```ts',
        'use(fromSetup);',
        '```',
        '',
        '```ts',
        'use(fromPrelude);',
        '```',
        '',
        '```ts nocheck',
        'not compiled',
        '```',
      ].join('\n'),
    );
    const [first, second, ...rest] = extractSamples([file]);
    expect(rest).toEqual([]);
    expect(first?.code).toContain('const fromPrelude = 1;');
    expect(first?.code).toContain('const fromSetup = 2;');
    expect(second?.code).toContain('const fromPrelude = 1;');
    expect(second?.code).not.toContain('fromSetup');
    // The sample's own first line is at bodyStart (diagnostics map back to markdown lines from it).
    expect(first?.code.split('\n')[first.bodyStart]).toBe('use(fromSetup);');
    expect(second?.code.split('\n')[second.bodyStart]).toBe('use(fromPrelude);');
    expect(first?.line).toBe(8);
  });

  it('refuses a ts-setup block that is not directly above a sample (it would set up nothing)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'samples-'));
    const file = join(dir, 'guide.md');
    writeFileSync(
      file,
      ['<!-- ts-setup', 'const x = 1;', '-->', 'Some prose.', '', '```ts', 'x;', '```'].join('\n'),
    );
    expect(() => extractSamples([file])).toThrow(/not directly above/);
  });
});
