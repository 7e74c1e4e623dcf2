/**
 * What each adapter imports at run time is declared honestly: the core, zod and vendor SDKs are peers
 * (the user's app owns them — one copy, the user's version), small helpers it owns are dependencies,
 * and nothing it imports is missing from its manifest.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Packages a user's app shares with the adapter: never bundled as the adapter's own dependency. */
const MUST_BE_PEERS = new Set([
  'dream-agent',
  'zod',
  'openai',
  '@anthropic-ai/sdk',
  'pg',
  'ioredis',
  'better-sqlite3',
  'ws',
  'express',
  'chromadb',
  'faiss-node',
  '@ai-sdk/provider',
  '@modelcontextprotocol/sdk',
]);

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** The package name of an import specifier (`@scope/name/sub` → `@scope/name`). */
const packageOf = (spec: string): string =>
  spec
    .split('/')
    .slice(0, spec.startsWith('@') ? 2 : 1)
    .join('/');

function imports(dir: string): Set<string> {
  const out = new Set<string>();
  for (const f of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    if (!f.endsWith('.ts')) continue;
    const text = readFileSync(join(dir, f), 'utf8');
    // Runtime imports only: `import type` is erased (types come from the peers' own declarations).
    for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^'"]*?from\s+'([^'.][^']*)'/gm)) {
      const spec = m[1] ?? '';
      if (spec.startsWith('node:') || builtinModules.includes(spec)) continue;
      out.add(packageOf(spec));
    }
    for (const m of text.matchAll(/import\(\s*'([^'.][^']*)'\s*\)/g)) out.add(packageOf(m[1] ?? ''));
  }
  return out;
}

const adapters = readdirSync(join(root, 'adapters')).sort();

describe('adapter manifests', () => {
  it('covers all eleven adapters', () => {
    expect(adapters.length).toBeGreaterThanOrEqual(11);
  });

  for (const name of adapters) {
    it(`${name}: shared packages are peers, and every runtime import is declared`, () => {
      const dir = join(root, 'adapters', name);
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
      const deps = Object.keys(pkg.dependencies ?? {});
      const peers = Object.keys(pkg.peerDependencies ?? {});
      expect(deps.filter((d) => MUST_BE_PEERS.has(d))).toEqual([]);
      expect(peers).toContain('dream-agent');
      const undeclared = [...imports(join(dir, 'src'))].filter(
        (p) => !deps.includes(p) && !peers.includes(p),
      );
      expect(undeclared).toEqual([]);
    });
  }
});

/**
 * The public entry points of the core: what an adapter (source or test) may import of it. An adapter
 * that reached into the core's files would break the day they move, and would test something a user
 * cannot build.
 */
const CORE_ENTRIES = new Set([
  'dream-agent',
  'dream-agent/testing',
  'dream-agent/adapter-kit',
  'dream-agent/offline',
]);

/**
 * The one file outside its package an adapter's tests may import: the repository's harness that starts
 * the real services (a throwaway PostgreSQL, Redis, Chroma; the FAISS build). It is the test
 * environment, like the vitest config, not code under test or API.
 */
const SERVICE_HARNESS = join(root, 'test/setup/services.ts');

/** Every module specifier of a TypeScript file: static imports and re-exports, dynamic imports, mocks. */
function specifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'/gm)) out.push(m[1] ?? '');
  for (const m of text.matchAll(/^\s*import\s+'([^']+)'/gm)) out.push(m[1] ?? '');
  for (const m of text.matchAll(/(?:import|require|vi\.mock|vi\.importActual)\(\s*'([^']+)'/g))
    out.push(m[1] ?? '');
  return out;
}

/** The imports of an adapter's files that break its boundary, as `file: specifier`. */
function boundaryBreaks(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    if (!f.endsWith('.ts') || f.split(/[\\/]/).includes('node_modules')) continue;
    const file = join(dir, f);
    const inTests = f.startsWith('test');
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
        const inside = !relative(dir, target).startsWith('..');
        if (!inside && !(inTests && target === SERVICE_HARNESS)) out.push(`${f}: ${spec}`);
      } else if (spec.startsWith('dream-agent') && !CORE_ENTRIES.has(spec)) {
        out.push(`${f}: ${spec}`);
      }
    }
  }
  return out;
}

describe('adapter boundaries', () => {
  it('the check sees a relative import out of a package, and a deep import into the core', () => {
    expect(
      specifiers(
        "import { x } from '../../../test/helpers/run.js';\nconst m = await import('dream-agent/src/x');",
      ),
    ).toEqual(['../../../test/helpers/run.js', 'dream-agent/src/x']);
  });

  for (const name of adapters) {
    it(`${name}: source and tests import the core only through its public entry points, and nothing relative outside the package`, () => {
      expect(boundaryBreaks(join(root, 'adapters', name))).toEqual([]);
    });
  }
});
