#!/usr/bin/env node
// Install weight of the core: a fresh project installs only the packed `dream-agent` tarball, without its
// peers (zod, and the optional wink-nlp model), and the bytes under node_modules are summed (file sizes,
// not disk blocks, so the number is the same on every file system). Exits 1 over the budget.
//
//   node test/consumer/weight.mjs <dream-agent-x.y.z.tgz> [budgetBytes]
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const BUDGET_BYTES = 5_000_000;

/** Sum of file sizes under `dir` (symlinks not followed). */
export function bytesUnder(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) total += bytesUnder(p);
    else if (entry.isFile()) total += lstatSync(p).size;
  }
  return total;
}

/**
 * @param {string} tarball - the packed core
 * @returns {{ bytes: number, packages: string[] }}
 */
export function installWeight(tarball) {
  const dir = mkdtempSync(join(tmpdir(), 'dream-weight-'));
  try {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'weight', private: true }));
    execFileSync(
      'npm',
      [
        'install',
        '--omit=peer',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        resolve(tarball),
      ],
      { cwd: dir, stdio: 'pipe' },
    );
    const nm = join(dir, 'node_modules');
    const packages = [];
    for (const e of readdirSync(nm)) {
      if (e.startsWith('.')) continue;
      if (e.startsWith('@')) for (const s of readdirSync(join(nm, e))) packages.push(`${e}/${s}`);
      else packages.push(e);
    }
    return { bytes: bytesUnder(nm), packages: packages.sort() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const [tarball, budget = String(BUDGET_BYTES)] = process.argv.slice(2);
  if (!tarball) {
    console.error('usage: weight.mjs <dream-agent.tgz> [budgetBytes]');
    process.exit(2);
  }
  const { bytes, packages } = installWeight(tarball);
  const mb = (bytes / 1e6).toFixed(2);
  console.log(
    `dream-agent install weight: ${mb} MB in ${packages.length} packages (${packages.join(', ')}); budget ${(Number(budget) / 1e6).toFixed(2)} MB`,
  );
  process.exit(bytes <= Number(budget) ? 0 : 1);
}
