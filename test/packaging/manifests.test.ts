/**
 * What each adapter imports at run time is declared honestly: the core, zod and vendor SDKs are peers
 * (the user's app owns them — one copy, the user's version), small helpers it owns are dependencies,
 * and nothing it imports is missing from its manifest.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
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

/** The only files an adapter publishes: its build, its README and CHANGELOG (and the HTTP adapter's OpenAPI document). */
const PUBLISHED = new Set(['dist', 'README.md', 'CHANGELOG.md', 'openapi.json']);
const CHANGE_KINDS = new Set(['Added', 'Changed', 'Deprecated', 'Removed', 'Fixed', 'Security']);

describe('what each adapter publishes', () => {
  for (const name of adapters) {
    it(`${name}: files lists only the build and docs, every listed file exists, no source maps, a Keep a Changelog CHANGELOG`, () => {
      const dir = join(root, 'adapters', name);
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name: string;
        files?: string[];
      };
      const files = pkg.files ?? [];
      expect(files.filter((f) => !PUBLISHED.has(f))).toEqual([]);
      // npm skips a listed file that is missing without a word: the tarball would lack it.
      expect(files.filter((f) => f !== 'dist' && !existsSync(join(dir, f)))).toEqual([]);
      expect(files).toContain('CHANGELOG.md');
      expect(readFileSync(join(dir, 'tsup.config.ts'), 'utf8')).toMatch(/sourcemap:\s*false/);
      const log = readFileSync(join(dir, 'CHANGELOG.md'), 'utf8');
      expect(log.split('\n')[0]).toBe(`# Changelog — ${pkg.name}`);
      expect(log).toContain('[Keep a Changelog]');
      expect(log).toMatch(/^## \[Unreleased\]$/m);
      const kinds = [...log.matchAll(/^### (.+)$/gm)].map((m) => m[1] ?? '');
      expect(kinds.length).toBeGreaterThan(0);
      expect(kinds.filter((k) => !CHANGE_KINDS.has(k))).toEqual([]);
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
 * The repository's test harness (throwaway PostgreSQL, Redis, Chroma; the FAISS build; the transport
 * tests' fixtures) is the private workspace package `@dream-agent/test-services` at `test/services/`: an
 * adapter's tests import it by name, declared in its devDependencies, never by a relative path. Its source
 * never does (it is not published).
 */
const HARNESS = '@dream-agent/test-services';
const HARNESS_DIR = join(root, 'test/services');

/** Every module specifier of a TypeScript file: static imports and re-exports, dynamic imports, mocks. */
function specifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'/gm)) out.push(m[1] ?? '');
  for (const m of text.matchAll(/^\s*import\s+'([^']+)'/gm)) out.push(m[1] ?? '');
  for (const m of text.matchAll(/(?:import|require|vi\.mock|vi\.importActual)\(\s*'([^']+)'/g))
    out.push(m[1] ?? '');
  return out;
}

/**
 * The imports of a package's files that break its boundary, as `file: specifier`: a relative path out of
 * the package (no exception), a non-public path of the core, or the test harness imported from source or
 * without being declared in devDependencies.
 */
function boundaryBreaks(dir: string): string[] {
  const out: string[] = [];
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    devDependencies?: Record<string, string>;
  };
  const harnessDeclared = pkg.devDependencies?.[HARNESS] !== undefined;
  for (const f of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    if (!f.endsWith('.ts') || f.split(/[\\/]/).includes('node_modules')) continue;
    const file = join(dir, f);
    const inTests = f.startsWith('test');
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (relative(dir, target).startsWith('..')) out.push(`${f}: ${spec}`);
      } else if (spec.startsWith('dream-agent') && !CORE_ENTRIES.has(spec)) {
        out.push(`${f}: ${spec}`);
      } else if (packageOf(spec) === HARNESS && !(inTests && harnessDeclared)) {
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

  it('flags a planted relative import of the old harness path, a harness import from source, and an undeclared one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dream-boundary-'));
    try {
      const fake = join(dir, 'adapters/fake');
      mkdirSync(join(fake, 'src'), { recursive: true });
      mkdirSync(join(fake, 'test'), { recursive: true });
      writeFileSync(join(fake, 'package.json'), JSON.stringify({ name: '@dream-agent/fake' }));
      writeFileSync(join(fake, 'src/index.ts'), `import { startRedis } from '${HARNESS}';\n`);
      writeFileSync(
        join(fake, 'test/a.test.ts'),
        "import { startRedis } from '../../../test/setup/services.js';\n" +
          `import { listen } from '${HARNESS}/transport';\n` +
          "import { x } from './fixtures/x.js';\n",
      );
      expect(boundaryBreaks(fake).sort()).toEqual([
        'src/index.ts: @dream-agent/test-services',
        'test/a.test.ts: ../../../test/setup/services.js',
        'test/a.test.ts: @dream-agent/test-services/transport',
      ]);
      // Declared as a devDependency, the tests' import is fine; the relative path and the source import are not.
      writeFileSync(
        join(fake, 'package.json'),
        JSON.stringify({ name: '@dream-agent/fake', devDependencies: { [HARNESS]: '*' } }),
      );
      expect(boundaryBreaks(fake).sort()).toEqual([
        'src/index.ts: @dream-agent/test-services',
        'test/a.test.ts: ../../../test/setup/services.js',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const name of adapters) {
    it(`${name}: source and tests import the core only through its public entry points, the harness by name, and nothing relative outside the package`, () => {
      expect(boundaryBreaks(join(root, 'adapters', name))).toEqual([]);
    });
  }
});

describe('the test harness package', () => {
  const pkg = JSON.parse(readFileSync(join(HARNESS_DIR, 'package.json'), 'utf8')) as {
    name: string;
    private?: boolean;
    files?: string[];
  };
  const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    workspaces: string[];
    files: string[];
  };

  it('is a private workspace (npm refuses to publish it) outside every published package', () => {
    expect(pkg.name).toBe(HARNESS);
    expect(pkg.private).toBe(true);
    expect(rootPkg.workspaces).toContain('test/services');
    // The core publishes dist/ and its README only; no adapter folder contains test/services.
    expect(rootPkg.files.some((f) => f.startsWith('test'))).toBe(false);
  });

  it('imports nothing relative outside itself, and the core only through its public entry points', () => {
    expect(boundaryBreaks(HARNESS_DIR).filter((b) => !b.includes(HARNESS))).toEqual([]);
  });

  it('is what the adapter tests resolve: the workspace link points at test/services', () => {
    const resolved = createRequire(join(root, 'adapters/redis/package.json')).resolve(
      `${HARNESS}/package.json`,
    );
    expect(realpathSync(resolved)).toBe(join(HARNESS_DIR, 'package.json'));
  });
});
