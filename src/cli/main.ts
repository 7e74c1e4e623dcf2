/**
 * The `dream-agent` command line: validate and list YAML tools, run a store's migrations, inspect
 * sessions in a store, and run an offline demo. `node:util`'s `parseArgs` only — no extra dependencies.
 *
 * Every command returns an exit code instead of calling `process.exit`, so it can run inside tests.
 */
import { parseArgs } from 'node:util';
import { isDreamAgentError } from '../errors/index.js';
import { formatToolDefinitionError } from '../tools/yaml.js';
import { ToolRegistry } from '../tools/registry.js';
import { runDemo } from './demo.js';
import { openStore } from './stores.js';

/** Where the CLI writes and reads. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Lines typed by the user (the demo's prompts); `undefined` when stdin is closed. */
  readLine?: (prompt: string) => Promise<string | undefined>;
  /** Environment (for `DREAM_AGENT_STORE`). */
  env?: Record<string, string | undefined>;
}

/** The help text. */
export const USAGE = `Usage: dream-agent <command> [options]

Commands:
  tools validate <dir>          Check every YAML tool in <dir>; errors as file:line:col (exit 1 on any)
  tools list <dir>              List the tools of <dir> (name, version, domain, approval)
  migrate --store <spec>        Run the store's migrations
  sessions list --store <spec>  List sessions (--status idle|running|waiting|paused, --limit N)
  sessions show <id> --store <spec>    One session: status, version, plan, pending requests
  sessions events <id> --store <spec>  Its events (--after SEQ, --limit N)
  demo [--yes]                  An offline human-in-the-loop run in the terminal

Options:
  --store <spec>   sqlite:<path> | postgres://user@host/db (default: $DREAM_AGENT_STORE)
  --json           Machine-readable output (JSON lines)
  -h, --help       This help

Exit codes: 0 ok, 1 failed (invalid tools, command error), 2 usage error.`;

class UsageError extends Error {}

/**
 * Runs one CLI invocation.
 *
 * @param argv - the arguments after the program name
 * @param io - output streams, input and environment
 * @returns the process exit code (0 ok, 1 failure, 2 usage error)
 * @example
 * ```ts
 * const code = await runCli(['tools', 'validate', './tools'], { stdout: console.log, stderr: console.error });
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    io.stderr(`dream-agent: ${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help === true || positionals.length === 0) {
    (values.help === true ? io.stdout : io.stderr)(USAGE);
    return values.help === true ? 0 : 2;
  }
  const json = values.json === true;
  const out = (human: string, data: unknown): void => io.stdout(json ? JSON.stringify(data) : human);
  try {
    const [command, sub, arg] = positionals;
    switch (command) {
      case 'tools':
        return await tools(sub, arg, json, io, out);
      case 'migrate': {
        const opened = await openStore(storeSpec(values.store, io));
        try {
          const summary = await opened.migrate();
          out(summary, { ok: true, store: opened.kind, summary });
          return 0;
        } finally {
          await opened.close();
        }
      }
      case 'sessions':
        return await sessions(sub, arg, values, io, out);
      case 'demo':
        return await runDemo({ yes: values.yes === true, json, io });
      default:
        throw new UsageError(`unknown command "${command ?? ''}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`dream-agent: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    const message = isDreamAgentError(e)
      ? `${e.code}: ${e.message}`
      : e instanceof Error
        ? e.message
        : String(e);
    io.stderr(`dream-agent: ${message}`);
    return 1;
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      store: { type: 'string' },
      json: { type: 'boolean' },
      yes: { type: 'boolean', short: 'y' },
      status: { type: 'string' },
      limit: { type: 'string' },
      after: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function storeSpec(value: string | undefined, io: CliIo): string {
  const spec = value ?? io.env?.['DREAM_AGENT_STORE'];
  if (spec === undefined || spec === '')
    throw new UsageError('--store <spec> is required (or set DREAM_AGENT_STORE)');
  return spec;
}

function positiveInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`--${name} must be a non-negative integer, got "${value}"`);
  return n;
}

async function tools(
  sub: string | undefined,
  dir: string | undefined,
  json: boolean,
  io: CliIo,
  out: (human: string, data: unknown) => void,
): Promise<number> {
  if (sub !== 'validate' && sub !== 'list')
    throw new UsageError('tools: use "tools validate <dir>" or "tools list <dir>"');
  if (dir === undefined) throw new UsageError(`tools ${sub}: a directory is required`);
  const registry = new ToolRegistry();
  const result = await registry.discover(dir);
  if (sub === 'validate') {
    for (const e of result.errors) {
      if (json) io.stdout(JSON.stringify({ error: e }));
      else io.stderr(formatToolDefinitionError(e));
    }
    const summary = `${result.files} file(s), ${result.tools.length} valid tool(s), ${result.errors.length} error(s)`;
    out(summary, { files: result.files, tools: result.tools.length, errors: result.errors.length });
    return result.errors.length === 0 ? 0 : 1;
  }
  for (const t of registry.list()) {
    const approval = t.approval.required ? `approval (${t.approval.risk ?? 'risk unset'})` : '';
    out(`${t.name}@${t.version}\t${t.domain}\t${approval}\t${t.description}`, {
      name: t.name,
      version: t.version,
      domain: t.domain,
      approval: t.approval.required,
      description: t.description,
    });
  }
  for (const e of result.errors) io.stderr(formatToolDefinitionError(e));
  return result.errors.length === 0 ? 0 : 1;
}

async function sessions(
  sub: string | undefined,
  id: string | undefined,
  values: ReturnType<typeof parse>['values'],
  io: CliIo,
  out: (human: string, data: unknown) => void,
): Promise<number> {
  if (sub !== 'list' && sub !== 'show' && sub !== 'events') {
    throw new UsageError('sessions: use "sessions list", "sessions show <id>" or "sessions events <id>"');
  }
  if (sub !== 'list' && id === undefined) throw new UsageError(`sessions ${sub}: a session id is required`);
  const spec = storeSpec(values.store, io);
  const limit = positiveInt(values.limit, 'limit');
  const after = positiveInt(values.after, 'after');
  const opened = await openStore(spec);
  try {
    const { store } = opened;
    if (sub === 'list') {
      const status = values.status;
      if (status !== undefined && !['idle', 'running', 'waiting', 'paused'].includes(status)) {
        throw new UsageError(`--status must be idle, running, waiting or paused, got "${status}"`);
      }
      const rows = await store.listSessions({
        ...(status !== undefined ? { status: [status as 'idle'] } : {}),
        ...(limit !== undefined ? { limit } : {}),
      });
      for (const r of rows) {
        out(`${r.id}\t${r.status}\tv${r.version}\tseq ${r.lastSeq}\t${new Date(r.updatedAt).toISOString()}`, {
          id: r.id,
          status: r.status,
          version: r.version,
          lastSeq: r.lastSeq,
          updatedAt: r.updatedAt,
        });
      }
      return 0;
    }
    const sessionId = id ?? '';
    const record = await store.getSession(sessionId);
    if (record === undefined) {
      io.stderr(`dream-agent: SESSION_NOT_FOUND: no session "${sessionId}"`);
      return 1;
    }
    if (sub === 'show') {
      const turn = record.state.turn;
      const pending = turn?.pending ?? [];
      const lines = [
        `session ${record.id}: ${record.status}, version ${record.version}, ${record.lastSeq} events, ${record.state.turns} turn(s)`,
        ...(turn ? [`turn ${turn.id}: ${turn.phase} — "${turn.input}"`] : []),
        ...pending.map((p) => `  pending ${p.kind} ${p.id}: ${p.prompt}`),
      ];
      out(lines.join('\n'), record);
      return 0;
    }
    const events = await store.readEvents(sessionId, {
      ...(after !== undefined ? { after } : {}),
      ...(limit !== undefined ? { limit } : {}),
    });
    for (const e of events) out(`${e.seq}\t${new Date(e.at).toISOString()}\t${e.type}`, e);
    return 0;
  } finally {
    await opened.close();
  }
}
