/**
 * typedoc over the core and every adapter (the entry points of `typedoc.json`): no broken `{@link}`,
 * and no undocumented export, property or signature beyond a per-file budget that may only shrink.
 *
 * The budget (`api-docs-budget.json`) records what was still undocumented when the check was introduced,
 * file by file. A file over its budget fails (a new export without TSDoc); a file under it fails too,
 * so the budget is lowered in the same change and cannot be spent again. A file that is not listed has
 * a budget of zero — every adapter is at zero.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const exec = promisify(execFile);

/** Runs typedoc (no output written) and returns its warnings and errors, colours stripped. */
async function typedoc(): Promise<string[]> {
  const bin = join(root, 'node_modules/typedoc/bin/typedoc');
  let out = '';
  try {
    const r = await exec(process.execPath, [bin, '--emit', 'none'], {
      cwd: root,
      maxBuffer: 64 * 1024 * 1024,
      timeout: 900_000,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    out = r.stdout + r.stderr;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    out = `${err.stdout ?? ''}${err.stderr ?? ''}`;
  }
  // eslint-disable-next-line no-control-regex
  return out.replace(/\x1b\[[0-9;]*m/g, '').split('\n');
}

describe('API documentation (typedoc over the core and every adapter)', () => {
  it('has no broken links and no undocumented item beyond the shrinking per-file budget', async () => {
    const lines = await typedoc();
    expect(
      lines.some((l) => /Found \d+ errors and \d+ warnings/.test(l)),
      lines.slice(-20).join('\n'),
    ).toBe(true);
    expect(lines.filter((l) => l.startsWith('[error]'))).toEqual([]);
    expect(
      lines.filter((l) => /Failed to resolve link|which was resolved but is not included/.test(l)),
    ).toEqual([]);

    const counts: Record<string, number> = {};
    for (const l of lines) {
      const m = /^\[warning\] .*, defined in (?:dream-agent\/)?(.*), does not have any documentation$/.exec(
        l,
      );
      if (m) counts[m[1] || '(generated)'] = (counts[m[1] || '(generated)'] ?? 0) + 1;
    }
    const budget = JSON.parse(
      readFileSync(join(root, 'test/packaging/api-docs-budget.json'), 'utf8'),
    ) as Record<string, number>;
    const over = Object.entries(counts)
      .filter(([file, n]) => n > (budget[file] ?? 0))
      .map(([file, n]) => `${file}: ${n} undocumented (budget ${budget[file] ?? 0})`);
    expect(over, 'document the new exports (TSDoc on every export, property and signature)').toEqual([]);
    const under = Object.entries(budget)
      .filter(([file, n]) => (counts[file] ?? 0) < n)
      .map(([file, n]) => `${file}: ${counts[file] ?? 0} undocumented, budget ${n}: lower it`);
    expect(under, 'the budget only shrinks: lower it in api-docs-budget.json').toEqual([]);
    // Adapters are fully documented.
    expect(Object.keys(counts).filter((f) => f.startsWith('adapters/'))).toEqual([]);
  }, 900_000);
});
