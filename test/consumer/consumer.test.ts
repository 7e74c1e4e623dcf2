import {
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLlmServer, type LlmServer } from '../helpers/llm-server.js';
import {
  serviceSkipReason,
  startPostgres,
  startRedis,
  type PostgresService,
  type RedisService,
} from '../setup/services.js';
import { lastJson, packages, pool, root, sh } from './helpers.js';

/**
 * Packaging is checked, not assumed. Every package is built with its real tsup config and packed with
 * `npm pack`; publint and attw check each tarball; then a fresh project outside the repository installs
 * the tarballs (no workspace links) with the peers a user adds, and uses them the way users do: ESM
 * import and CJS require of every entry point, a real run of each adapter against its real service,
 * `tsc --strict` over the public API under `nodenext` and `bundler`, and Jest 29 in CommonJS mode.
 */

const lockVersion = (name: string): string => {
  const lock = createRequire(import.meta.url)(join(root, 'package-lock.json')) as {
    packages: Record<string, { version?: string }>;
  };
  const v = lock.packages[`node_modules/${name}`]?.version;
  if (v === undefined) throw new Error(`${name} is not in the lock file`);
  return v;
};

// What a user of every package adds next to them: the peers (the versions this repository tests with).
const PEERS = [
  'zod',
  'pg',
  'ioredis',
  'better-sqlite3',
  'ws',
  'openai',
  '@anthropic-ai/sdk',
  'express',
  '@types/express',
  'wink-nlp',
  'wink-eng-lite-web-model',
  '@ai-sdk/provider',
  '@modelcontextprotocol/sdk',
  'chromadb',
];

const work = mkdtempSync(join(tmpdir(), 'dream-consumer-'));
const tarballs = join(work, 'tarballs');
const app = join(work, 'app');
const tgz: Record<string, string> = {};
let pg: PostgresService | undefined;
let redis: RedisService | undefined;
let llm: LlmServer | undefined;

describe('the packed packages in a fresh project', () => {
  beforeAll(async () => {
    const pkgs = await packages();
    const t0 = Date.now();
    const lap = (what: string): void =>
      console.log(`consumer: ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // Build: the core first (the adapters take its types from dist/), then the adapters, two at a time.
    const tsup = join(root, 'node_modules/tsup/dist/cli-default.js');
    await sh(process.execPath, [tsup], { cwd: root, timeout: 600_000 });
    lap('core built');
    await pool(pkgs.slice(1), 2, (p) => sh(process.execPath, [tsup], { cwd: p.dir, timeout: 600_000 }));
    lap('built');
    mkdirSync(tarballs, { recursive: true });
    // Packing is I/O and npm start-up: four at a time (each package writes its own tarball).
    await pool(pkgs, 4, async (p) => {
      const out = await sh('npm', ['pack', '--pack-destination', tarballs, '--json'], { cwd: p.dir });
      const [info] = JSON.parse(out) as { filename: string }[];
      tgz[p.name] = join(tarballs, info?.filename ?? '');
    });

    mkdirSync(app, { recursive: true });
    cpSync(join(root, 'test/consumer/fixture'), app, { recursive: true });
    const dependencies: Record<string, string> = {};
    for (const [name, file] of Object.entries(tgz)) dependencies[name] = `file:${file}`;
    for (const name of PEERS) dependencies[name] = lockVersion(name);
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({
        name: 'consumer',
        private: true,
        dependencies,
        // The Chroma client's native bindings: the newest builds need a newer glibc than this Debian's.
        overrides: {
          'chromadb-js-bindings-linux-x64-gnu': lockVersion('chromadb-js-bindings-linux-x64-gnu'),
        },
        devDependencies: {
          typescript: lockVersion('typescript'),
          '@types/node': lockVersion('@types/node'),
          jest: '^29.7.0',
          // The contract suites' property cases need it (an optional peer of dream-agent/testing).
          'fast-check': lockVersion('fast-check'),
        },
      }),
    );
    // No install scripts: the one native addon (better-sqlite3, same version, same Node) is copied from the
    // repository's build instead of compiled again (there is no prebuilt download on this network).
    lap('packed');
    await sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
      cwd: app,
      timeout: 300_000,
    });
    const release = join(app, 'node_modules/better-sqlite3/build/Release');
    mkdirSync(release, { recursive: true });
    copyFileSync(
      join(root, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'),
      join(release, 'better_sqlite3.node'),
    );
    lap('installed');
  }, 1_200_000);

  afterAll(async () => {
    await Promise.allSettled([pg?.stop(), redis?.stop(), llm?.close()]);
    rmSync(work, { recursive: true, force: true });
  });

  it('installs from tarballs, not from the workspace', () => {
    const installed = readdirSync(join(app, 'node_modules/@dream-agent')).sort();
    const adapters = readdirSync(join(root, 'adapters')).sort();
    expect(adapters.length).toBeGreaterThanOrEqual(11);
    expect(installed).toEqual(adapters);
    const pkg = createRequire(join(app, 'x.js'))('dream-agent/package.json') as { files: string[] };
    expect(pkg.files).toEqual(['dist', 'README.md']);
  });

  it('publint and attw pass for every packed package', async () => {
    const publint = join(root, 'node_modules/publint/src/cli.js');
    const attw = join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js');
    const pkgs = await packages();
    await pool(pkgs, 2, async (p) => {
      // On the tarball itself (what npm would publish), warnings count as errors.
      const lint = await sh(process.execPath, [publint, 'run', tgz[p.name] ?? '', '--strict'], {
        cwd: p.dir,
      });
      expect(lint, p.name).toMatch(/All good!/);
      // attw exits non-zero on any problem, in every resolution mode (node10, node16 CJS/ESM, bundler).
      await sh(process.execPath, [attw, tgz[p.name] ?? '', '--format', 'ascii'], { cwd: p.dir });
    });
  }, 240_000);

  it('the dream-agent executable runs from the installed package', async () => {
    const bin = join(app, 'node_modules/.bin/dream-agent');
    expect(await sh(bin, ['--help'], { cwd: app })).toMatch(/tools validate <dir>/);
    const demo = await sh(bin, ['demo', '--yes'], { cwd: app });
    expect(demo).toMatch(/: completed/);
  });

  it('the core with its required dependencies installs under the 5 MB budget', async () => {
    const out = await sh(
      process.execPath,
      [join(root, 'test/consumer/weight.mjs'), tgz['dream-agent'] ?? ''],
      {
        cwd: root,
      },
    );
    const bytes = Number(/install weight: ([\d.]+) MB/.exec(out)?.[1]) * 1e6;
    expect(bytes).toBeGreaterThan(100_000);
    expect(bytes).toBeLessThanOrEqual(5_000_000);
  }, 120_000);

  it('every package and subpath loads from ESM and from CommonJS; the core loads no NLP model or test framework', async () => {
    const esm = lastJson(await sh(process.execPath, ['load.mjs'], { cwd: app }));
    const cjs = lastJson(await sh(process.execPath, ['load.cjs'], { cwd: app }));
    for (const report of [esm, cjs]) {
      for (const [spec, r] of Object.entries(report)) {
        if (spec === 'coreLoads') continue;
        const { exports, missing } = r as { exports: number; missing: string[] };
        expect(missing, spec).toEqual([]);
        expect(exports, spec).toBeGreaterThan(0);
      }
    }
    // Every entry point of specifiers.json, plus @dream-agent/http/openapi.json.
    const specifiers = JSON.parse(
      readFileSync(join(root, 'test/consumer/fixture/specifiers.json'), 'utf8'),
    ) as Record<string, string[]>;
    expect(Object.keys(esm)).toHaveLength(Object.keys(specifiers).length + 1);
    // re2js is the linear-time regex engine behind every schema `pattern` (pure JS, ~0.3 MB).
    expect(cjs['coreLoads']).toEqual(['dream-agent', 'eventemitter3', 'js-yaml', 're2js', 'yaml', 'zod']);
  });

  it('each adapter runs against its real service', async () => {
    const skip = serviceSkipReason('postgres') ?? serviceSkipReason('redis');
    if (skip !== undefined) throw new Error(`a service is missing: ${skip}`);
    [pg, redis, llm] = await Promise.all([startPostgres(), startRedis(), startLlmServer()]);
    llm.script(
      { route: 'openai', reply: { text: 'hello from openai' } },
      { route: 'anthropic', reply: { text: 'hello from anthropic' } },
    );
    const out = await sh(process.execPath, ['adapters.mjs'], {
      cwd: app,
      timeout: 120_000,
      env: {
        SQLITE_FILE: join(work, 'agent.db'),
        DATABASE_URL: pg.url,
        REDIS_URL: redis.url,
        OPENAI_BASE_URL: llm.openaiBaseURL,
        ANTHROPIC_BASE_URL: llm.anthropicBaseURL,
      },
    });
    const report = lastJson(out);
    const journey = { first: 'waiting', done: 'completed', sessionStatus: 'idle' };
    expect(report['sqlite']).toMatchObject(journey);
    expect(report['postgres']).toMatchObject({ ...journey, migrated: true, message: { hello: 'pg' } });
    expect(report['redis']).toEqual({ cached: { rows: 3 }, message: { hello: 'redis' } });
    expect(report['llm']).toEqual({ openai: 'hello from openai', anthropic: 'hello from anthropic' });
    expect(report['transports']).toMatchObject({
      expressStatus: 202,
      handlerStatus: 200,
      sessions: 1,
      wsSession: 'http-1',
    });
  }, 180_000);

  it('the public API type-checks with tsc --strict under nodenext and under bundler resolution', async () => {
    const tsc = join(app, 'node_modules/typescript/bin/tsc');
    await sh(process.execPath, [tsc, '-p', 'tsconfig.nodenext.json'], { cwd: app });
    await sh(process.execPath, [tsc, '-p', 'tsconfig.bundler.json'], { cwd: app });
  }, 180_000);

  it('runs under Jest 29 in CommonJS mode, contract suites included', async () => {
    const jest = join(app, 'node_modules/jest/bin/jest.js');
    const out = await sh(
      process.execPath,
      [jest, '--ci', '--rootDir', 'jest', '--testMatch', '**/*.test.cjs', '--json'],
      {
        cwd: app,
      },
    );
    const report = JSON.parse(out) as {
      numPassedTests: number;
      numFailedTests: number;
      numPendingTests: number;
    };
    expect(report.numFailedTests).toBe(0);
    expect(report.numPassedTests).toBeGreaterThan(40);
  }, 180_000);
});
