/**
 * `@dream-agent/mcp` against real MCP servers nobody here wrote — the protocol's reference servers
 * `@modelcontextprotocol/server-everything` (stdio and streamable HTTP) and
 * `@modelcontextprotocol/server-filesystem` on a temp directory — and against a server built with the SDK
 * (a stdio child and streamable HTTP on loopback) for a server that dies mid-call, a tool that times out,
 * cancellation and a tool list change during a run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { McpToolSource, parseMcpOverlay, toOutput } from '@dream-agent/mcp';
import {
  Agent,
  DreamAgentError,
  FunctionPlanner,
  MemoryStore,
  ToolRegistry,
  type AgentEvent,
  type Json,
  type Run,
  type ToolContext,
} from 'dream-agent';
import { buildServer } from './fixtures/test-server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const nodeModules = join(here, '../../../node_modules/@modelcontextprotocol');
const EVERYTHING = join(nodeModules, 'server-everything/dist/index.js');
const FILESYSTEM = join(nodeModules, 'server-filesystem/dist/index.js');
const FIXTURE = join(here, 'fixtures/test-server.mjs');

function toolCtx(signal: AbortSignal = new AbortController().signal): ToolContext {
  return {
    signal,
    idempotencyKey: 'key-1',
    sessionId: 's',
    turnId: 't',
    todoId: 'x',
    attempt: 1,
    progress: () => undefined,
    delta: () => undefined,
    requestInput: () => Promise.reject(new Error('no input in these tests')),
    logger: {
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
    } as never,
  };
}

async function rejection(p: Promise<unknown>): Promise<DreamAgentError> {
  try {
    await p;
  } catch (error) {
    return error as DreamAgentError;
  }
  throw new Error('expected a rejection');
}

async function events(run: Run): Promise<AgentEvent[]> {
  const out: AgentEvent[] = [];
  for await (const e of run) out.push(e);
  return out;
}

function agentFor(tools: ToolRegistry, todos: { id: string; tool: string; input: Json }[]): Agent {
  return new Agent({
    tools,
    store: new MemoryStore(),
    planner: new FunctionPlanner(() => ({
      todos: todos.map((t) => ({ ...t, title: t.id, domain: 'data', dependsOn: [] }) as never),
    })),
    hitl: { planReview: 'never' },
  });
}

describe('reference server: server-everything over stdio', () => {
  let registry: ToolRegistry;
  let source: McpToolSource;
  beforeAll(async () => {
    registry = new ToolRegistry();
    source = await McpToolSource.connect({
      name: 'everything',
      transport: { type: 'stdio', command: process.execPath, args: [EVERYTHING, 'stdio'] },
      registry,
    });
  });
  afterAll(async () => {
    await source.close();
  });

  it('registers its tools as ordinary tools, annotations mapped to approval and idempotency defaults', () => {
    const names = source.tools();
    expect(names).toEqual(
      expect.arrayContaining(['everything.echo', 'everything.get-sum', 'everything.get-structured-content']),
    );
    const echo = registry.get('everything.echo');
    expect(echo).toMatchObject({
      domain: 'data',
      idempotent: true,
      approval: { required: false },
      tags: ['mcp', 'mcp:everything'],
      inputSchema: { type: 'object', properties: { message: { type: 'string' } } },
    });
    expect(echo?.description).toMatch(/echo/i);
    // Every tool the server does not mark read-only needs a human approval.
    for (const name of names) {
      const tool = registry.get(name);
      if (tool?.domain === 'ops') expect(tool.approval.required).toBe(true);
      if (tool?.approval.required === false) expect(tool.domain).toBe('data');
    }
    expect(names.some((n) => registry.get(n)?.approval.required === true)).toBe(true);
  });

  it('text results become { text, content }; structured content becomes the output itself', async () => {
    const echo = registry.get('everything.echo');
    expect(await echo?.invoke({ message: 'hi there' }, toolCtx())).toMatchObject({ text: 'Echo: hi there' });
    const weather = await registry
      .get('everything.get-structured-content')
      ?.invoke({ location: 'Chicago' }, toolCtx());
    expect(weather).toMatchObject({ temperature: expect.any(Number), conditions: expect.any(String) });
    expect(registry.get('everything.get-structured-content')?.validateOutput(weather as Json).ok).toBe(true);
  });

  it('MCP progress notifications become todo progress', async () => {
    const seen: [string, number | undefined][] = [];
    const ctx = { ...toolCtx(), progress: (m: string, pct?: number) => seen.push([m, pct]) };
    const out = await registry
      .get('everything.trigger-long-running-operation')
      ?.invoke({ duration: 0.4, steps: 2 }, ctx);
    expect(out).toMatchObject({ text: expect.stringContaining('completed') });
    // One notification per step; the last may race the result.
    expect(seen[0]?.[1]).toBe(50);
  });

  it('validates input against the server JSON Schema before any call', () => {
    const r = registry.get('everything.get-sum')?.validateInput({ a: 'one' });
    expect(r?.ok).toBe(false);
  });

  it('runs inside an agent turn like any tool', async () => {
    const agent = agentFor(registry, [{ id: 'sum', tool: 'everything.get-sum', input: { a: 2, b: 40 } }]);
    const all = await events(agent.run('add'));
    const done = all.find((e) => e.type === 'todo.completed');
    expect(done).toMatchObject({ todoId: 'sum', output: { text: expect.stringContaining('42') } });
  });
});

describe('reference server: server-everything over streamable HTTP', () => {
  let child: ChildProcess;
  let url: string;
  beforeAll(async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    child = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], {
      env: { ...process.env, PORT: String(port) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('server-everything did not start')), 15_000);
      child.stderr?.on('data', (d: Buffer) => {
        if (d.toString().includes('listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    url = `http://127.0.0.1:${port}/mcp`;
  });
  afterAll(() => {
    child.kill();
  });

  it('lists and calls tools over HTTP', async () => {
    const registry = new ToolRegistry();
    const source = await McpToolSource.connect({ name: 'web', transport: { type: 'http', url }, registry });
    try {
      expect(source.tools()).toContain('web.echo');
      expect(await registry.get('web.echo')?.invoke({ message: 'over http' }, toolCtx())).toMatchObject({
        text: 'Echo: over http',
      });
    } finally {
      await source.close();
    }
    expect(registry.list()).toEqual([]);
  });
});

describe('reference server: server-filesystem on a temp directory, with an overlay', () => {
  let dir: string;
  let registry: ToolRegistry;
  let source: McpToolSource;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dream-mcp-fs-'));
    await writeFile(join(dir, 'notes.txt'), 'quarterly numbers: 42\n');
    registry = new ToolRegistry();
    source = await McpToolSource.connect({
      name: 'files',
      transport: { type: 'stdio', command: process.execPath, args: [FILESYSTEM, dir] },
      registry,
      overlay: [
        'prefix: fs',
        'allow: [read_text_file, list_directory, write_file, "list_*"]',
        'deny: [list_allowed_directories]',
        'defaults: { timeout: 15000 }',
        'tools:',
        '  write_file: { roles: [editor] }',
        '  read_text_file: { cache: { ttl: 60 }, description: Read a UTF-8 text file }',
      ].join('\n'),
    });
  });
  afterAll(async () => {
    await source.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('registers only what the overlay allows, with its overrides', () => {
    expect(source.tools()).toEqual([
      'fs.list_directory',
      'fs.list_directory_with_sizes',
      'fs.read_text_file',
      'fs.write_file',
    ]);
    expect(registry.get('fs.edit_file')).toBeUndefined();
    expect(registry.get('fs.write_file')).toMatchObject({
      domain: 'ops',
      idempotent: true, // idempotentHint: true
      timeoutMs: 15_000,
      approval: { required: true, risk: 'high', roles: ['editor'] },
    });
    expect(registry.get('fs.read_text_file')).toMatchObject({
      cacheTtlSeconds: 60,
      description: 'Read a UTF-8 text file',
      approval: { required: false },
    });
  });

  it('reads a file through the agent; a write waits for an editor to approve, then runs', async () => {
    const read = agentFor(registry, [
      { id: 'read', tool: 'fs.read_text_file', input: { path: join(dir, 'notes.txt') } },
    ]);
    const all = await events(read.run('read the notes'));
    expect(all.find((e) => e.type === 'todo.completed')).toMatchObject({
      // server-filesystem returns structured content: the output is that object.
      output: { content: expect.stringContaining('quarterly numbers: 42') },
    });

    const target = join(dir, 'out.txt');
    const write = agentFor(registry, [
      { id: 'write', tool: 'fs.write_file', input: { path: target, content: 'approved' } },
    ]);
    const run = write.run('write it');
    const waiting = await run.result();
    expect(waiting.status).toBe('waiting');
    const request = waiting.pending[0];
    expect(request).toMatchObject({ kind: 'approval' });
    await expect(readFile(target, 'utf8')).rejects.toThrow();
    const granted = await write
      .send(waiting.sessionId, {
        type: 'approval.grant',
        requestId: request?.id ?? '',
        actor: { id: 'e', roles: ['editor'] },
      })
      .result();
    expect(granted.status).toBe('completed');
    expect(await readFile(target, 'utf8')).toBe('approved');
  });
});

describe('a server built with the SDK, as a stdio child', () => {
  let registry: ToolRegistry;
  let source: McpToolSource;
  let cancelLog: string;
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'dream-mcp-'));
    cancelLog = join(tmp, 'cancel.log');
    await writeFile(cancelLog, '');
    registry = new ToolRegistry();
    source = await McpToolSource.connect({
      name: 'dream',
      transport: {
        type: 'stdio',
        command: process.execPath,
        args: [FIXTURE],
        env: { ...(process.env as Record<string, string>), CANCEL_LOG: cancelLog },
      },
      registry,
      overlay: { tools: { slow: { timeout: 300 } }, deny: ['nothing*'] },
    });
  });
  afterAll(async () => {
    await source.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it('maps annotations: read-only free, unannotated (destructive by MCP default) needs approval', () => {
    expect(registry.get('dream.add')).toMatchObject({
      approval: { required: false },
      idempotent: true,
      outputSchema: { type: 'object' },
    });
    expect(registry.get('dream.write')).toMatchObject({
      approval: { required: true, risk: 'high' },
      idempotent: false,
      domain: 'ops',
    });
  });

  it('an error result is TOOL_FAILED with the server text', async () => {
    const error = await rejection(registry.get('dream.fail')?.invoke({}, toolCtx()) ?? Promise.resolve());
    expect(error).toMatchObject({ code: 'TOOL_FAILED', message: expect.stringContaining('disk on fire') });
  });

  it('a tool that times out fails TIMEOUT in the agent and the server receives an MCP cancel', async () => {
    const agent = agentFor(registry, [{ id: 'wait', tool: 'dream.slow', input: { ms: 10_000 } }]);
    const started = Date.now();
    const all = await events(agent.run('wait'));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(all.find((e) => e.type === 'todo.failed')).toMatchObject({
      todoId: 'wait',
      error: { code: 'TIMEOUT' },
    });
    await vi.waitFor(async () => expect(await readFile(cancelLog, 'utf8')).toMatch(/cancelled/), {
      timeout: 3000,
    });
  });

  it('aborting a call sends MCP cancel and rejects ABORTED at once', async () => {
    await writeFile(cancelLog, '');
    const a = new AbortController();
    const p = registry.get('dream.slow')?.invoke({ ms: 10_000 }, toolCtx(a.signal)) ?? Promise.resolve();
    setTimeout(() => a.abort(), 100);
    const at = Date.now();
    expect((await rejection(p)).code).toBe('ABORTED');
    expect(Date.now() - at).toBeLessThan(1_000);
    await vi.waitFor(async () => expect(await readFile(cancelLog, 'utf8')).toMatch(/cancelled/), {
      timeout: 3000,
    });
  });

  it('a tool list change during a run is picked up: new tools registered, removed ones unregistered', async () => {
    const refreshed: string[][] = [];
    const r = new ToolRegistry();
    const s = await McpToolSource.connect({
      name: 'live',
      transport: { type: 'stdio', command: process.execPath, args: [FIXTURE] },
      registry: r,
      onRefresh: (names) => refreshed.push(names),
    });
    try {
      expect(s.tools()).toContain('live.fail');
      const agent = agentFor(r, [{ id: 'grow', tool: 'live.grow', input: {} }]);
      const all = await events(agent.run('grow'));
      expect(all.some((e) => e.type === 'todo.completed')).toBe(true);
      await vi.waitFor(() => expect(r.get('live.added')).toBeDefined(), { timeout: 3000 });
      expect(r.get('live.fail')).toBeUndefined();
      expect(await r.get('live.added')?.invoke({}, toolCtx())).toMatchObject({ text: 'new tool' });
      expect(refreshed.length).toBeGreaterThanOrEqual(2);
    } finally {
      await s.close();
    }
  });

  it('a server that dies mid-call fails UNAVAILABLE (retryable); the next call starts it again', async () => {
    const r = new ToolRegistry();
    const s = await McpToolSource.connect({
      name: 'mortal',
      transport: { type: 'stdio', command: process.execPath, args: [FIXTURE] },
      registry: r,
    });
    try {
      const error = await rejection(r.get('mortal.die')?.invoke({}, toolCtx()) ?? Promise.resolve());
      expect(error).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
      expect(await r.get('mortal.add')?.invoke({ a: 1, b: 2 }, toolCtx())).toEqual({ sum: 3 });
    } finally {
      await s.close();
    }
  });
});

describe('a server built with the SDK, over streamable HTTP on loopback', () => {
  let http: Server;
  let url: string;
  beforeAll(async () => {
    const sessions = new Map<string, StreamableHTTPServerTransport>();
    http = createServer((req, res) => {
      void (async () => {
        const id = req.headers['mcp-session-id'];
        let transport = typeof id === 'string' ? sessions.get(id) : undefined;
        if (transport === undefined) {
          const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
            sessionIdGenerator: () => randomUUID(),
            onsessioninitialized: (sid) => {
              sessions.set(sid, created);
            },
          });
          transport = created;
          await buildServer().connect(transport);
        }
        await transport.handleRequest(req, res);
      })();
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
  });
  afterAll(async () => {
    http.closeAllConnections();
    await new Promise<void>((r) => http.close(() => r()));
  });

  it('calls tools and follows a list change over HTTP', async () => {
    const registry = new ToolRegistry();
    const source = await McpToolSource.connect({
      name: 'remote',
      transport: { type: 'http', url },
      registry,
    });
    try {
      expect(await registry.get('remote.add')?.invoke({ a: 20, b: 22 }, toolCtx())).toEqual({ sum: 42 });
      await registry.get('remote.grow')?.invoke({}, toolCtx());
      await vi.waitFor(() => expect(registry.get('remote.added')).toBeDefined(), { timeout: 3000 });
      expect(registry.get('remote.fail')).toBeUndefined();
    } finally {
      await source.close();
    }
  });

  it('an unreachable server is UNAVAILABLE at connect', async () => {
    const error = await rejection(
      McpToolSource.connect({
        name: 'gone',
        transport: { type: 'http', url: 'http://127.0.0.1:1/mcp' },
        registry: new ToolRegistry(),
      }),
    );
    expect(error).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
  });
});

describe('overlay and result mapping', () => {
  it('a broken overlay names the line and the key', () => {
    expect(() => parseMcpOverlay('tools:\n  x:\n    timeout: -5\n', 'fs.yaml')).toThrow(
      /fs\.yaml:3: tools\.x\.timeout/,
    );
    expect(() => parseMcpOverlay('allow: [a\n', 'bad.yaml')).toThrow(/bad\.yaml:\d+/);
    expect(() => parseMcpOverlay('unknown: 1')).toThrow(DreamAgentError);
  });

  it('binary content is replaced by its size; isError throws TOOL_FAILED', () => {
    expect(
      toOutput(
        {
          content: [
            { type: 'text', text: 'a' },
            { type: 'image', data: 'AAAA', mimeType: 'image/png' },
          ],
        },
        's',
        't',
      ),
    ).toEqual({
      text: 'a',
      content: [
        { type: 'text', text: 'a' },
        { type: 'image', mimeType: 'image/png', dataBytes: 3 },
      ],
    });
    expect(() => toOutput({ isError: true, content: [{ type: 'text', text: 'no' }] }, 's', 't')).toThrow(
      /no/,
    );
  });

  it('rejects a bad server name', async () => {
    await expect(
      McpToolSource.connect({
        name: 'bad name',
        transport: { type: 'http', url: 'http://x' },
        registry: new ToolRegistry(),
      }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});
