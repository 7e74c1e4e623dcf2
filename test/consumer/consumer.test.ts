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
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLlmServer, type LlmServer } from '../helpers/llm-server.js';
import {
  ensureFaissNode,
  serviceSkipReason,
  startChroma,
  startPostgres,
  startRedis,
  type ChromaService,
  type PostgresService,
  type RedisService,
} from '../setup/services.js';
import { runNode, type ExampleProcess } from '../helpers/example.js';
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
  // Not peers: what a user of @dream-agent/ai-sdk has anyway, the AI SDK and a provider of it.
  'ai',
  '@ai-sdk/openai-compatible',
];

const work = mkdtempSync(join(tmpdir(), 'dream-consumer-'));
const tarballs = join(work, 'tarballs');
const app = join(work, 'app');
const tgz: Record<string, string> = {};
let pg: PostgresService | undefined;
let redis: RedisService | undefined;
let llm: LlmServer | undefined;
let chroma: ChromaService | undefined;

/**
 * publint (`--strict`: warnings count as errors) and attw on every tarball, two packages at a time; attw
 * exits non-zero on any problem, in every resolution mode (node10, node16 CJS/ESM, bundler), which
 * rejects with its report.
 */
async function lint(pkgs: { name: string; dir: string }[]): Promise<{ name: string; publint: string }[]> {
  const publint = join(root, 'node_modules/publint/src/cli.js');
  const attw = join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js');
  return pool(pkgs, 2, async (p) => {
    const file = tgz[p.name] ?? '';
    const out = await sh(process.execPath, [publint, 'run', file, '--strict'], { cwd: p.dir });
    await sh(process.execPath, [attw, file, '--format', 'ascii'], { cwd: p.dir, timeout: 600_000 });
    return { name: p.name, publint: out };
  });
}

/** What publint and attw said of each tarball, checked while the fresh project installs. */
let lintRun: Promise<{ name: string; publint: string }[] | Error> | undefined;

describe('the packed packages in a fresh project', () => {
  beforeAll(async () => {
    // faiss-node's own install downloads a prebuilt binary from GitHub (unreachable here): the fresh
    // project installs the package without scripts and gets the addon this repository built against the
    // system FAISS (scripts/build-faiss-node.sh; same faiss-node version, same Node).
    const faissReason = ensureFaissNode();
    if (faissReason !== undefined) throw new Error(faissReason);
    const faissNode = JSON.parse(
      readFileSync(join(root, 'node_modules/faiss-node/package.json'), 'utf8'),
    ) as { version: string };
    const pkgs = await packages();
    const t0 = Date.now();
    const lap = (what: string): void =>
      console.log(`consumer: ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    mkdirSync(tarballs, { recursive: true });
    mkdirSync(app, { recursive: true });
    cpSync(join(root, 'test/consumer/fixture'), app, { recursive: true });
    const manifest = (dependencies: Record<string, string>): string =>
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
      });
    const peers: Record<string, string> = {};
    for (const name of PEERS) peers[name] = lockVersion(name);
    peers['faiss-node'] = faissNode.version;
    // No install scripts: the one native addon (better-sqlite3, same version, same Node) is copied from the
    // repository's build instead of compiled again (there is no prebuilt download on this network).
    const install = (): Promise<string> =>
      sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
        cwd: app,
        timeout: 600_000,
      });
    // The fresh project's third-party part (peers, TypeScript, Jest: mostly I/O) installs while the packages
    // build (CPU); the tarballs are added to it once packed.
    writeFileSync(join(app, 'package.json'), manifest(peers));
    const thirdParty = install().then(
      () => lap('third-party installed'),
      (e: unknown) => e as Error,
    );
    const pack = async (p: { name: string; dir: string }): Promise<void> => {
      const out = await sh('npm', ['pack', '--pack-destination', tarballs, '--json'], { cwd: p.dir });
      const [info] = JSON.parse(out) as { filename: string }[];
      tgz[p.name] = join(tarballs, info?.filename ?? '');
    };
    // Build with each package's real tsup config: the core first (the adapters take its types from dist/),
    // then the adapters two at a time, each packed as soon as it is built.
    const tsup = join(root, 'node_modules/tsup/dist/cli-default.js');
    await sh(process.execPath, [tsup], { cwd: root, timeout: 900_000 });
    lap('core built');
    const [core, ...adapters] = pkgs;
    const corePacked = pack(core as { name: string; dir: string });
    await pool(adapters, 2, async (p) => {
      await sh(process.execPath, [tsup], { cwd: p.dir, timeout: 900_000 });
      await pack(p);
    });
    await corePacked;
    lap('built and packed');
    // publint and attw read the tarballs only: they run while the fresh project installs them.
    lintRun = lint(pkgs).catch((e: unknown) => e as Error);

    const failed = await thirdParty;
    if (failed instanceof Error) throw failed;
    const dependencies: Record<string, string> = { ...peers };
    for (const [name, file] of Object.entries(tgz)) dependencies[name] = `file:${file}`;
    writeFileSync(join(app, 'package.json'), manifest(dependencies));
    await install();
    const release = join(app, 'node_modules/better-sqlite3/build/Release');
    mkdirSync(release, { recursive: true });
    copyFileSync(
      join(root, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'),
      join(release, 'better_sqlite3.node'),
    );
    const faissRelease = join(app, 'node_modules/faiss-node/build/Release');
    mkdirSync(faissRelease, { recursive: true });
    copyFileSync(
      join(root, 'node_modules/faiss-node/build/Release/faiss-node.node'),
      join(faissRelease, 'faiss-node.node'),
    );
    // examples/embed-in-express's host file, compiled as a user deploying it would: once as an ES module,
    // once as CommonJS (no type check here: the repository's typecheck covers the example).
    const host = readFileSync(join(root, 'examples/embed-in-express/src/main.ts'), 'utf8');
    for (const [file, module] of [
      ['embed-host.mjs', ts.ModuleKind.ESNext],
      ['embed-host.cjs', ts.ModuleKind.CommonJS],
    ] as const) {
      const out = ts.transpileModule(host, {
        fileName: 'main.ts',
        compilerOptions: { module, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      });
      writeFileSync(join(app, file), out.outputText);
    }
    lap('installed');
  }, 2_400_000);

  afterAll(async () => {
    await Promise.allSettled([pg?.stop(), redis?.stop(), llm?.close(), chroma?.stop()]);
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
    const results = await lintRun;
    if (results === undefined) throw new Error('the packages were not packed');
    if (results instanceof Error) throw results;
    expect(results.map((r) => r.name).sort()).toEqual(Object.keys(tgz).sort());
    // On the tarball itself (what npm would publish), warnings count as errors.
    for (const r of results) expect(r.publint, r.name).toMatch(/All good!/);
  }, 1_200_000);

  it('the dream-agent executable runs from the installed package', async () => {
    const bin = join(app, 'node_modules/.bin/dream-agent');
    expect(await sh(bin, ['--help'], { cwd: app })).toMatch(/tools validate <dir>/);
    const demo = await sh(bin, ['demo', '--yes'], { cwd: app });
    expect(demo).toMatch(/: completed/);
  }, 180_000);

  it('the core with its required dependencies installs under the 5 MB budget', async () => {
    const out = await sh(
      process.execPath,
      [join(root, 'test/consumer/weight.mjs'), tgz['dream-agent'] ?? ''],
      {
        cwd: root,
      },
    );
    const measured = /install weight: ([\d.]+) MB in (\d+) packages/.exec(out);
    const bytes = Number(measured?.[1]) * 1e6;
    expect(bytes).toBeGreaterThan(100_000);
    expect(bytes).toBeLessThanOrEqual(5_000_000);
    // The README states the number: it must be the measured one (within 0.25 MB), with the package count.
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const stated = /The core installs \*\*([\d.]+) MB in (\d+) packages\*\*/.exec(readme);
    expect(stated, 'README.md states the install weight').not.toBeNull();
    expect(Math.abs(Number(stated?.[1]) * 1e6 - bytes)).toBeLessThanOrEqual(250_000);
    expect(stated?.[2]).toBe(measured?.[2]);
  }, 120_000);

  it('every package and subpath loads from ESM and from CommonJS; the core loads no NLP model or test framework', async () => {
    const [esm, cjs] = (
      await Promise.all(['load.mjs', 'load.cjs'].map((f) => sh(process.execPath, [f], { cwd: app })))
    ).map(lastJson) as [Record<string, unknown>, Record<string, unknown>];
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
    expect(cjs['coreLoads']).toEqual(['dream-agent', 'eventemitter3', 're2js', 'yaml', 'zod']);
  }, 180_000);

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

  it('the vector stores, MCP and the AI SDK run for real: FAISS, a Chroma server, an MCP server over stdio, the AI SDK provider', async () => {
    const skip = serviceSkipReason('chroma');
    if (skip !== undefined) throw new Error(`a service is missing: ${skip}`);
    const [c, server] = await Promise.all([startChroma(), startLlmServer()]);
    chroma = c;
    server.script(
      { route: 'openai', reply: { text: 'hello from the ai sdk' } },
      { route: 'openai', reply: { text: 'streamed reply', chunks: ['stream', 'ed ', 'reply'] } },
      { route: 'openai', reply: { text: 'through ai itself' } },
    );
    try {
      const out = await sh(process.execPath, ['services.mjs'], {
        cwd: app,
        timeout: 120_000,
        env: { CHROMA_URL: c.url, OPENAI_BASE_URL: server.openaiBaseURL },
      });
      const report = lastJson(out);
      expect(report['aiSdk']).toEqual({
        generate: 'hello from the ai sdk',
        finishReason: 'stop',
        stream: 'streamed reply',
        ai: 'through ai itself',
      });
      // The probe is the embedding of the "shipping" text: it is its own nearest neighbour, similarity 1.
      expect(report['faiss']).toEqual({ top: 'shipping', score: 1, hits: 2 });
      expect(report['chroma']).toEqual({ top: 'shipping', score: 1, filtered: ['shipping'] });
      expect(report['mcp']).toEqual({
        tools: ['calc.multiply'],
        status: 'completed',
        output: { product: 42 },
      });
      // Three chats and the embeddings went over the wire, to the provider's paths.
      expect(server.requests.map((r) => r.route).sort()).toEqual([
        'embeddings',
        'embeddings',
        'openai',
        'openai',
        'openai',
      ]);
    } finally {
      await server.close();
    }
  }, 180_000);

  it.each(['embed-host.mjs', 'embed-host.cjs'])(
    'examples/embed-in-express runs from the tarballs with plain node (%s): approval, grant, answer',
    async (file) => {
      let host: ExampleProcess | undefined;
      try {
        host = runNode([file], { cwd: app, env: { PORT: '0' } });
        const [, base] = await host.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
        const post = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
          const res = await fetch(`${base ?? ''}${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
          expect(res.status, path).toBe(200);
          return (await res.json()) as Record<string, unknown>;
        };
        expect(await (await fetch(`${base ?? ''}/health`)).json()).toEqual({ ok: true });
        const waiting = await post('/agent/sessions?wait=true', {
          input: 'refund order 42',
          sessionId: 's-42',
        });
        expect(waiting['status']).toBe('waiting');
        const request = (waiting['pending'] as { id: string; kind: string }[]).find(
          (p) => p.kind === 'approval',
        );
        expect(request).toBeDefined();
        const done = await post('/agent/sessions/s-42/commands?wait=true', {
          type: 'approval.grant',
          requestId: request?.id,
        });
        expect(done['status']).toBe('completed');
        expect(done['answer']).toMatch(/Refund the order/);
        const snapshot = (await (await fetch(`${base ?? ''}/agent/sessions/s-42`)).json()) as {
          todos: { todoId: string; status: string; output?: unknown }[];
        };
        expect(snapshot.todos).toEqual([
          expect.objectContaining({ todoId: 'refund', status: 'completed', output: { refunded: '42' } }),
        ]);
      } finally {
        await host?.stop();
      }
    },
    180_000,
  );

  it('the public API type-checks with tsc --strict under nodenext and under bundler resolution', async () => {
    const tsc = join(app, 'node_modules/typescript/bin/tsc');
    // Two independent programs: checked side by side.
    await Promise.all(
      ['tsconfig.nodenext.json', 'tsconfig.bundler.json'].map((config) =>
        sh(process.execPath, [tsc, '-p', config], { cwd: app, timeout: 600_000 }),
      ),
    );
  }, 600_000);

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
