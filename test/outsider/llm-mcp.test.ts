/**
 * An outsider's probes of `@dream-agent/mcp` against hostile MCP servers (built with the SDK's low-level
 * `Server`, connected in memory): endless tool-list pagination, tool names that collide once made safe,
 * 2 MB error texts, and a server that dies and comes back with a different tool list.
 */
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { McpToolSource } from '@dream-agent/mcp';
import {
  ToolRegistry,
  isDreamAgentError,
  type DreamAgentError,
  type Json,
  type ToolContext,
} from 'dream-agent';

interface HostileTool {
  name: string;
  description?: string;
}

interface Hostile {
  /** Tools listed (per page, when `pages` is set). */
  tools: () => HostileTool[];
  /** A cursor for the next page, or undefined. */
  nextCursor?: (cursor: string | undefined) => string | undefined;
  call?: (name: string) => Promise<Record<string, unknown>> | Record<string, unknown>;
}

/** A custom transport spec whose every (re)connect builds a fresh server from `make`. */
function hostile(make: (generation: number) => Hostile): {
  spec: { type: 'custom'; create: () => InMemoryTransport };
  servers: Server[];
} {
  const servers: Server[] = [];
  return {
    servers,
    spec: {
      type: 'custom',
      create: () => {
        const behaviour = make(servers.length);
        const server = new Server({ name: 'hostile', version: '1.0.0' }, { capabilities: { tools: {} } });
        server.setRequestHandler(ListToolsRequestSchema, async (req) => {
          // Yield to timers: an in-memory pair is all microtasks, and a client looping on it would
          // starve the test runner's own timeout.
          await new Promise((resolve) => setImmediate(resolve));
          const cursor = req.params?.cursor;
          const next = behaviour.nextCursor?.(cursor);
          return {
            tools: behaviour.tools().map((t) => ({
              name: t.name,
              description: t.description ?? t.name,
              inputSchema: { type: 'object' as const },
              annotations: { readOnlyHint: true },
            })),
            ...(next === undefined ? {} : { nextCursor: next }),
          };
        });
        server.setRequestHandler(
          CallToolRequestSchema,
          async (req) =>
            (await behaviour.call?.(req.params.name)) ?? {
              content: [{ type: 'text', text: `called ${req.params.name}` }],
            },
        );
        const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
        servers.push(server);
        void server.connect(serverSide);
        return clientSide;
      },
    },
  };
}

function ctx(signal: AbortSignal = new AbortController().signal): ToolContext {
  const log = (): void => undefined;
  return {
    signal,
    idempotencyKey: 'k',
    sessionId: 's',
    turnId: 't',
    todoId: 'x',
    attempt: 1,
    progress: log,
    delta: log,
    requestInput: () => Promise.reject(new Error('no input in this test')),
    logger: { debug: log, info: log, warn: log, error: log },
  };
}

async function rejection(p: Promise<unknown>): Promise<DreamAgentError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isDreamAgentError(error)) throw new Error(`expected a DreamAgentError, got ${String(error)}`);
  return error;
}

describe('outsider: hostile MCP servers', () => {
  it(
    'a tool list that paginates forever fails connect with a typed error instead of hanging',
    { timeout: 20_000 },
    async () => {
      const { spec, servers } = hostile(() => ({
        tools: () => [],
        nextCursor: (c) => String(Number(c ?? 0) + 1),
      }));
      const error = await rejection(
        McpToolSource.connect({ name: 'pages', transport: spec, registry: new ToolRegistry() }),
      );
      expect(error.code).toBe('UNAVAILABLE');
      expect(error.message).toMatch(/pages/);
      await Promise.all(servers.map((s) => s.close()));
    },
  );

  it('a cursor that repeats is a typed error too (not 10 000 duplicate tools)', async () => {
    const { spec, servers } = hostile(() => ({
      tools: () => [{ name: 'same' }],
      nextCursor: () => 'again',
    }));
    const error = await rejection(
      McpToolSource.connect({ name: 'loop', transport: spec, registry: new ToolRegistry() }),
    );
    expect(error.code).toBe('UNAVAILABLE');
    await Promise.all(servers.map((s) => s.close()));
  });

  it('two tools whose safe names collide (get.x, get_x) are both refused and reported, never one silently shadowing the other', async () => {
    const registry = new ToolRegistry();
    const errors: DreamAgentError[] = [];
    const { spec } = hostile(() => ({
      tools: () => [
        { name: 'get.x', description: 'reads x' },
        { name: 'get_x', description: 'deletes x' },
        { name: 'fine', description: 'unrelated' },
      ],
    }));
    const source = await McpToolSource.connect({
      name: 'col',
      transport: spec,
      registry,
      onError: (e) => errors.push(e),
    });
    expect(source.tools()).toEqual(['col.fine']);
    expect(registry.get('col.get_x')).toBeUndefined();
    expect(errors.map((e) => e.code)).toEqual(['TOOL_INVALID']);
    expect(errors[0]?.message).toContain('get.x');
    expect(errors[0]?.message).toContain('get_x');
    // A second refresh is stable: no re-registration churn.
    expect(await source.refresh()).toEqual(['col.fine']);
    await source.close();
  });

  it('a 2 MB error text fails TOOL_FAILED with a bounded message and details', async () => {
    const registry = new ToolRegistry();
    const { spec } = hostile(() => ({
      tools: () => [{ name: 'boom' }],
      call: () => ({ isError: true, content: [{ type: 'text', text: 'E'.repeat(2 * 1024 * 1024) }] }),
    }));
    const source = await McpToolSource.connect({ name: 'big', transport: spec, registry });
    const error = await rejection(registry.get('big.boom')!.invoke({}, ctx()));
    expect(error.code).toBe('TOOL_FAILED');
    expect(error.message.length).toBeLessThan(5_000);
    expect(error.message).toMatch(/truncated/);
    expect(JSON.stringify(error.details).length).toBeLessThan(20_000);
    await source.close();
  });

  it('after the server dies and is started again, its new tool list replaces the old one', async () => {
    const registry = new ToolRegistry();
    const { spec, servers } = hostile((generation) => ({
      tools: () =>
        generation === 0 ? [{ name: 'old' }, { name: 'both' }] : [{ name: 'new' }, { name: 'both' }],
    }));
    const source = await McpToolSource.connect({ name: 'gen', transport: spec, registry });
    expect(source.tools()).toEqual(['gen.both', 'gen.old']);
    await servers[0]!.close(); // the server goes away
    const out = (await registry.get('gen.both')!.invoke({}, ctx())) as { text: string } & Json;
    expect(out.text).toBe('called both');
    expect(servers).toHaveLength(2);
    // The reconnect re-lists the tools: `old` is gone, `new` is there.
    await expect.poll(() => source.tools(), { timeout: 10_000 }).toEqual(['gen.both', 'gen.new']);
    await source.close();
  });
});
