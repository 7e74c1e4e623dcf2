/**
 * `@dream-agent/test-services` — a private workspace package, never packed or published: the
 * repository's harness of throwaway real services for tests and benchmarks. A PostgreSQL 15 cluster
 * (`initdb` in a temp dir, a free port, run as an unprivileged user), a `redis-server` and a Chroma
 * server on free ports, and the FAISS build. Each `start*` call owns its server and must be stopped; a
 * process-exit hook stops anything a crashed test left behind. Adapter tests import it by package name
 * (never by a relative path out of their package); `@dream-agent/test-services/transport` holds the
 * transport tests' journey agent and loopback helpers.
 *
 * When a binary is missing, {@link serviceSkipReason} returns why (tests skip with that reason); with
 * `CI=true` it throws instead, because a skipped integration test in CI is a failure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, chownSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A service the tests can start. */
export type ServiceName = 'postgres' | 'redis' | 'chroma';

const BINARIES: Record<ServiceName, string[]> = {
  postgres: ['initdb', 'pg_ctl', 'postgres'],
  redis: ['redis-server'],
  // The `chroma` CLI of the chromadb npm package (node_modules/.bin), which runs the Rust server.
  chroma: ['chroma'],
};

// This package lives at test/services/ of the repository: its binaries and scripts are the repository's.
const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

const EXTRA_PATHS = [
  '/usr/lib/postgresql/15/bin',
  '/usr/local/bin',
  '/usr/bin',
  '/usr/sbin',
  join(REPO_ROOT, 'node_modules/.bin'),
];

function findBinary(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), ...EXTRA_PATHS].filter((d) => d.length > 0);
  for (const dir of dirs) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* try the next directory */
    }
  }
  return undefined;
}

/**
 * Why a service cannot run here, or undefined when it can.
 *
 * @param service - the service
 * @returns the reason to skip, or undefined
 * @throws Error when the service is missing and `CI=true` (CI must not skip integration tests)
 */
export function serviceSkipReason(service: ServiceName): string | undefined {
  const missing = BINARIES[service].filter((b) => findBinary(b) === undefined);
  if (missing.length === 0) return undefined;
  const reason = `${service} is not installed (missing ${missing.join(', ')}); install it to run these tests`;
  if (process.env['CI'] === 'true') throw new Error(`CI=true and ${reason}`);
  return reason;
}

/** @returns a TCP port the OS says is free on 127.0.0.1 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

// ------------------------------------------------------------------ cleanup on exit

const exitHooks = new Set<() => void>();
let exitHookInstalled = false;
function onExit(fn: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const h of exitHooks) {
        try {
          h();
        } catch {
          /* best effort */
        }
      }
    });
  }
  exitHooks.add(fn);
  return () => exitHooks.delete(fn);
}

// ------------------------------------------------------------------ PostgreSQL

/** A running throwaway PostgreSQL cluster. */
export interface PostgresService {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  url: string;
  port: number;
  dataDir: string;
  /** Stops the server (immediate) without deleting the data: `start()` brings it back with its data. */
  kill(): Promise<void>;
  /** Starts the server again after `kill()`. */
  start(): Promise<void>;
  /** Stops the server and deletes the cluster. */
  stop(): Promise<void>;
}

/** Options of {@link startPostgres}. */
export interface StartPostgresOptions {
  /**
   * `fsync` and `full_page_writes` (default off for tests: durable against a killed server, not against
   * power loss; benchmarks pass true to measure real commits).
   */
  fsync?: boolean;
  /** `max_connections` (default 100). */
  maxConnections?: number;
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

function pgUser(): { name: string; uid: number; gid: number } | undefined {
  if (!isRoot()) return undefined;
  for (const name of ['postgres', 'dreamtest']) {
    const r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    if (r.status === 0) {
      const g = spawnSync('id', ['-g', name], { encoding: 'utf8' });
      return { name, uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
    }
  }
  const created = spawnSync('useradd', ['--system', '--no-create-home', 'dreamtest'], { encoding: 'utf8' });
  if (created.status !== 0)
    throw new Error(`cannot create an unprivileged user for PostgreSQL: ${created.stderr}`);
  return pgUser();
}

function runAs(
  user: { name: string } | undefined,
  bin: string,
  args: string[],
): { status: number | null; out: string } {
  const exe = findBinary(bin) ?? bin;
  const r = user
    ? spawnSync('runuser', ['-u', user.name, '--', exe, ...args], { encoding: 'utf8' })
    : spawnSync(exe, args, { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/**
 * Starts a throwaway PostgreSQL cluster: `initdb` into a temp dir (as an unprivileged user when running
 * as root), `pg_ctl start` on a free loopback port with the socket in that dir.
 *
 * @param options - fsync, max connections
 * @returns the running service; call `stop()` when done
 * @throws Error when initdb or pg_ctl fails (with their output)
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresService> {
  const user = pgUser();
  const dataDir = mkdtempSync(join(tmpdir(), 'dream-pg-'));
  if (user) chownSync(dataDir, user.uid, user.gid);
  const init = runAs(user, 'initdb', [
    '-D',
    dataDir,
    '-U',
    'postgres',
    '--auth=trust',
    '--no-sync',
    '-E',
    'UTF8',
    '--locale=C',
  ]);
  if (init.status !== 0) throw new Error(`initdb failed:\n${init.out}`);
  const port = await freePort();
  const conf = [
    `-p ${port}`,
    `-k ${dataDir}`,
    `-c listen_addresses=127.0.0.1`,
    `-c fsync=${options.fsync === true ? 'on' : 'off'}`,
    // synchronous_commit stays on even without fsync: a server killed with -m immediate must not forget
    // commits it acknowledged (the OS still has the WAL); fsync only matters for power loss.
    `-c synchronous_commit=on`,
    `-c full_page_writes=${options.fsync === true ? 'on' : 'off'}`,
    `-c max_connections=${options.maxConnections ?? 100}`,
  ].join(' ');
  let running = false;
  const pgStart = async (): Promise<void> => {
    const r = runAs(user, 'pg_ctl', [
      '-D',
      dataDir,
      '-o',
      conf,
      '-l',
      join(dataDir, 'server.log'),
      '-w',
      '-t',
      '60',
      'start',
    ]);
    if (r.status !== 0) throw new Error(`pg_ctl start failed:\n${r.out}`);
    running = true;
    await waitForPort(port);
  };
  const pgStop = (): void => {
    if (!running) return;
    runAs(user, 'pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
    running = false;
  };
  const off = onExit(() => {
    pgStop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  await pgStart();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    kill: async () => {
      await Promise.resolve();
      pgStop();
    },
    start: pgStart,
    stop: async () => {
      await Promise.resolve();
      pgStop();
      off();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = new Socket();
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
      s.connect(port, '127.0.0.1');
    });
    if (ok) return;
    if (Date.now() - start > timeoutMs)
      throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ------------------------------------------------------------------ Redis

/** A running throwaway redis-server. */
export interface RedisService {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Kills the server (SIGKILL) without forgetting its port: `start()` brings it back (empty). */
  kill(): Promise<void>;
  /** Starts it again on the same port after `kill()`. */
  start(): Promise<void>;
  /** Stops the server. */
  stop(): Promise<void>;
}

/**
 * Starts `redis-server` on a free loopback port, without persistence, as a child of this process.
 *
 * @returns the running service; call `stop()` when done
 * @throws Error when redis-server does not come up
 */
export async function startRedis(): Promise<RedisService> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'dream-redis-'));
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const exe = findBinary('redis-server') ?? 'redis-server';
    const proc = spawn(
      exe,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      {
        stdio: 'ignore',
      },
    );
    child = proc;
    await waitForPort(port);
  };
  const kill = (): void => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child = undefined;
  };
  const off = onExit(() => {
    kill();
    rmSync(dir, { recursive: true, force: true });
  });
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill: async () => {
      const c = child;
      kill();
      if (c && c.exitCode === null) await new Promise((r) => c.once('exit', r));
    },
    start: launch,
    stop: async () => {
      const c = child;
      kill();
      if (c && c.exitCode === null) await new Promise((r) => c.once('exit', r));
      off();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------------ Chroma

/** A running throwaway Chroma server (`chroma run`). */
export interface ChromaService {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Stops the server and deletes its data directory. */
  stop(): Promise<void>;
}

/**
 * Starts a Chroma server (`chroma run --path DIR --port N` from the chromadb npm package) on a free
 * loopback port with a temp data directory.
 *
 * @param options - `path`: a data directory to use and keep (benchmarks cache a collection in it);
 *   default a temp directory deleted on stop
 * @returns the running service; call `stop()` when done
 * @throws Error when the server does not answer its heartbeat
 */
export async function startChroma(options: { path?: string } = {}): Promise<ChromaService> {
  const port = await freePort();
  const keep = options.path !== undefined;
  const dir = options.path ?? mkdtempSync(join(tmpdir(), 'dream-chroma-'));
  const remove = (): void => {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };
  const exe = findBinary('chroma') ?? 'chroma';
  const child = spawn(exe, ['run', '--path', dir, '--port', String(port), '--host', '127.0.0.1'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, CHROMA_TELEMETRY: 'false', ANONYMIZED_TELEMETRY: 'false' },
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const off = onExit(() => {
    kill();
    remove();
  });
  const url = `http://127.0.0.1:${port}`;
  const started = Date.now();
  for (;;) {
    try {
      const res = await fetch(`${url}/api/v2/heartbeat`);
      if (res.ok) break;
    } catch {
      /* not up yet */
    }
    if (child.exitCode !== null || Date.now() - started > 30_000) {
      kill();
      off();
      remove();
      throw new Error(`chroma run did not come up on ${url}:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    stop: async () => {
      kill();
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
      off();
      remove();
    },
  };
}

// ------------------------------------------------------------------ faiss-node

/**
 * Makes sure `faiss-node` loads, building it against the system FAISS with
 * `scripts/build-faiss-node.sh` when its prebuilt binary is unavailable (an offline machine).
 *
 * @returns undefined when faiss-node loads, or the reason it cannot (tests skip with it)
 * @throws Error when it cannot be made to load and `CI=true`
 */
export function ensureFaissNode(): string | undefined {
  // As the adapter does before loading faiss-node: OpenMP threads must not spin on a shared machine.
  process.env['OMP_WAIT_POLICY'] ??= 'PASSIVE';
  const load = (): boolean => {
    try {
      createRequire(join(REPO_ROOT, 'package.json'))('faiss-node');
      return true;
    } catch {
      return false;
    }
  };
  if (load()) return undefined;
  const r = spawnSync('bash', [join(REPO_ROOT, 'scripts/build-faiss-node.sh')], { encoding: 'utf8' });
  if (r.status === 0 && load()) return undefined;
  // A native module this process already failed to load may stay unloadable here even once rebuilt:
  // check the rebuilt one in a fresh process, so the reason says which of the two happened.
  const fresh = spawnSync(process.execPath, ['-e', "require('faiss-node')"], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  const reason =
    r.status === 0 && fresh.status === 0
      ? 'faiss-node was rebuilt by scripts/build-faiss-node.sh and loads in a fresh process, but not in ' +
        'this one (it had already failed to load here): run the tests again'
      : `faiss-node does not load and scripts/build-faiss-node.sh failed:\n${r.stdout}${r.stderr}${fresh.stderr}`;
  if (process.env['CI'] === 'true') throw new Error(`CI=true and ${reason}`);
  return reason;
}
