import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DreamAgentError, isDreamAgentError } from '../../src/errors/index.js';
import type { Json } from '../../src/model/json.js';
import type { Cache } from '../../src/ports/cache.js';
import { MemoryCache } from '../../src/ports/memory/cache.js';
import { defineTool } from '../../src/tools/define.js';
import { ToolExecutor } from '../../src/tools/executor.js';
import { ToolRegistry } from '../../src/tools/registry.js';
import type { ToolContext } from '../../src/tools/types.js';
import { context, manualClock, todo } from './helpers.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));

async function rejection(p: Promise<unknown>): Promise<DreamAgentError> {
  try {
    await p;
  } catch (e) {
    if (isDreamAgentError(e)) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

function counterTool(
  opts: {
    cache?: number;
    version?: string;
    fail?: (n: number) => Error | undefined;
    retries?: number;
    timeout?: number;
  } = {},
) {
  const calls: { input: unknown; ctx: ToolContext }[] = [];
  const tool = defineTool({
    name: 'math.add',
    description: 'Adds',
    domain: 'data',
    ...(opts.version === undefined ? {} : { version: opts.version }),
    input: z.object({ a: z.number(), b: z.number().default(0) }),
    output: z.object({ sum: z.number() }),
    handler: ({ a, b }, ctx) => {
      calls.push({ input: { a, b }, ctx });
      const err = opts.fail?.(calls.length);
      if (err) throw err;
      return { sum: a + b };
    },
    ...(opts.cache === undefined ? {} : { cache: { ttl: opts.cache } }),
    ...(opts.retries === undefined ? {} : { retries: { max: opts.retries, backoff: 100 } }),
    ...(opts.timeout === undefined ? {} : { timeout: opts.timeout }),
  });
  return { tool, calls };
}

describe('ToolExecutor', () => {
  it('runs the tool with validated input and passes the context through', async () => {
    const reg = new ToolRegistry();
    const { tool, calls } = counterTool();
    reg.register(tool);
    const ctx = context(reg);
    const r = await new ToolExecutor().execute(todo('math.add', { a: 2 }), { a: 2 }, ctx);
    expect(r).toEqual({ output: { sum: 2 }, cached: false });
    expect(calls[0]?.input).toEqual({ a: 2, b: 0 }); // defaults applied
    expect(calls[0]?.ctx).toMatchObject({
      idempotencyKey: 'idem-s1-turn1-t1',
      sessionId: 's1',
      turnId: 'turn1',
      todoId: 't1',
      attempt: 1,
      retry: 0,
      toolVersion: tool.version,
    });
    calls[0]?.ctx.progress('half', 50);
    calls[0]?.ctx.delta('x');
    expect(ctx.progressed).toEqual([['half', 50]]);
    expect(ctx.deltas).toEqual(['x']);
  });

  it('fails with TOOL_NOT_FOUND when the todo has no tool or the tool is unknown', async () => {
    const reg = new ToolRegistry();
    const ex = new ToolExecutor();
    const e1 = await rejection(ex.execute(todo(undefined), {}, context(reg)));
    expect(e1.code).toBe('TOOL_NOT_FOUND');
    expect(e1.message).toBe('todo "t1" names no tool');
    const e2 = await rejection(ex.execute(todo('nope'), {}, context(reg)));
    expect(e2.message).toBe('tool "nope" is not registered');
  });

  it('rejects invalid input with INVALID_INPUT naming the field, without calling the handler', async () => {
    const reg = new ToolRegistry();
    const { tool, calls } = counterTool();
    reg.register(tool);
    const e = await rejection(new ToolExecutor().execute(todo('math.add'), { a: 'x' }, context(reg)));
    expect(e.code).toBe('INVALID_INPUT');
    expect(e.message).toBe('invalid input for tool "math.add": a: expected number, got string');
    expect(e.details['issues']).toEqual([{ path: 'a', message: 'expected number, got string' }]);
    expect(calls).toHaveLength(0);
  });

  it('fails with TOOL_FAILED when the output does not match the output schema, and does not cache it', async () => {
    const reg = new ToolRegistry();
    reg.register(
      defineTool({
        name: 'bad.out',
        description: 'Bad output',
        domain: 'data',
        input: z.object({}),
        output: z.object({ n: z.number() }),
        handler: () => ({ n: 'x' }) as unknown as { n: number },
        cache: { ttl: 60 },
      }),
    );
    const ctx = context(reg);
    const e = await rejection(new ToolExecutor().execute(todo('bad.out'), {}, ctx));
    expect(e.code).toBe('TOOL_FAILED');
    expect(e.message).toBe('tool "bad.out" returned invalid output: n: expected number, got string');
    expect((ctx.cache as MemoryCache).size).toBe(0);
  });

  it('retries retryable errors with exponential backoff and full jitter, then succeeds', async () => {
    const reg = new ToolRegistry();
    const { tool, calls } = counterTool({
      retries: 3,
      fail: (n) => (n < 4 ? new DreamAgentError('TOOL_FAILED', 'flaky', { retryable: true }) : undefined),
    });
    reg.register(tool);
    const clock = manualClock();
    const r = await new ToolExecutor({ random: () => 0.5 }).execute(
      todo('math.add'),
      { a: 1 },
      context(reg, { clock }),
    );
    expect(r.output).toEqual({ sum: 1 });
    expect(calls.map((c) => c.ctx.retry)).toEqual([0, 1, 2, 3]);
    expect(clock.sleeps).toEqual([50, 100, 200]); // 0.5 × 100·2^n
    // Same idempotency key on every attempt.
    expect(new Set(calls.map((c) => c.ctx.idempotencyKey))).toEqual(new Set(['idem-s1-turn1-t1']));
  });

  it('does not retry non-retryable errors, and stops after max retries', async () => {
    const reg = new ToolRegistry();
    const plain = counterTool({ retries: 3, fail: () => new Error('boom') });
    reg.register(plain.tool);
    const e = await rejection(new ToolExecutor().execute(todo('math.add'), { a: 1 }, context(reg)));
    expect(e.code).toBe('TOOL_FAILED');
    expect(e.message).toBe('tool "math.add" failed: boom');
    expect(plain.calls).toHaveLength(1);

    const reg2 = new ToolRegistry();
    const flaky = counterTool({ retries: 2, fail: () => new DreamAgentError('UNAVAILABLE', 'down') });
    reg2.register(flaky.tool);
    const e2 = await rejection(new ToolExecutor().execute(todo('math.add'), { a: 1 }, context(reg2)));
    expect(e2.code).toBe('UNAVAILABLE');
    expect(flaky.calls).toHaveLength(3);
  });

  it('treats network errors from handler code as retryable', async () => {
    const reg = new ToolRegistry();
    const net = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const { tool, calls } = counterTool({ retries: 1, fail: (n) => (n === 1 ? net : undefined) });
    reg.register(tool);
    await new ToolExecutor().execute(todo('math.add'), { a: 1 }, context(reg));
    expect(calls).toHaveLength(2);
  });

  it('times out a handler that ignores its signal, aborting the signal it was given', async () => {
    const reg = new ToolRegistry();
    let seen: AbortSignal | undefined;
    reg.register(
      defineTool({
        name: 'slow',
        description: 'Never returns',
        domain: 'data',
        input: z.object({}),
        handler: (_i, ctx) => {
          seen = ctx.signal;
          return new Promise<Json>(() => undefined);
        },
        timeout: 30,
      }),
    );
    const e = await rejection(new ToolExecutor().execute(todo('slow'), {}, context(reg)));
    expect(e.code).toBe('TIMEOUT');
    expect(e.message).toBe('tool "slow" timed out after 30 ms');
    expect(seen?.aborted).toBe(true);
  });

  it('todo.timeoutMs overrides the tool timeout', async () => {
    const reg = new ToolRegistry();
    reg.register(
      defineTool({
        name: 'slow',
        description: 'Slow',
        domain: 'data',
        input: z.object({}),
        handler: () => new Promise<Json>((r) => setTimeout(() => r(1), 200)),
        timeout: 10_000,
      }),
    );
    const e = await rejection(
      new ToolExecutor().execute(todo('slow', {}, { timeoutMs: 20 }), {}, context(reg)),
    );
    expect(e.code).toBe('TIMEOUT');
  });

  it('aborts when the todo is cancelled, without retrying', async () => {
    const reg = new ToolRegistry();
    const ac = new AbortController();
    let calls = 0;
    reg.register(
      defineTool({
        name: 'cancel.me',
        description: 'Waits',
        domain: 'data',
        input: z.object({}),
        handler: () => {
          calls++;
          setTimeout(() => ac.abort(new Error('user cancelled')), 5);
          return new Promise<Json>(() => undefined);
        },
        retries: { max: 3 },
      }),
    );
    const e = await rejection(
      new ToolExecutor().execute(todo('cancel.me'), {}, context(reg, { signal: ac.signal })),
    );
    expect(e.code).toBe('ABORTED');
    expect(calls).toBe(1);
  });

  it('passes errors thrown by requestInput through untouched (they belong to the engine)', async () => {
    const reg = new ToolRegistry();
    reg.register(
      defineTool({
        name: 'ask',
        description: 'Asks',
        domain: 'data',
        input: z.object({}),
        handler: async (_i, ctx) => ctx.requestInput({ prompt: 'value?' }),
        retries: { max: 3 },
      }),
    );
    const suspend = new Error('suspend');
    const e = await new ToolExecutor()
      .execute(todo('ask'), {}, context(reg, { requestInput: () => Promise.reject(suspend) }))
      .catch((x: unknown) => x);
    expect(e).toBe(suspend);
  });

  describe('execution cache', () => {
    it('hits without calling the handler, independent of key order', async () => {
      const reg = new ToolRegistry();
      const { tool, calls } = counterTool({ cache: 60 });
      reg.register(tool);
      const ctx = context(reg);
      const ex = new ToolExecutor();
      expect(await ex.execute(todo('math.add'), { a: 1, b: 2 }, ctx)).toEqual({
        output: { sum: 3 },
        cached: false,
      });
      expect(await ex.execute(todo('math.add'), { b: 2, a: 1 }, ctx)).toEqual({
        output: { sum: 3 },
        cached: true,
      });
      // Defaults are applied before keying: { a: 5 } and { a: 5, b: 0 } are the same call.
      await ex.execute(todo('math.add'), { a: 5 }, ctx);
      expect(await ex.execute(todo('math.add'), { a: 5, b: 0 }, ctx)).toMatchObject({ cached: true });
      expect(calls).toHaveLength(2);
    });

    it('expires entries after the TTL', async () => {
      const reg = new ToolRegistry();
      const { tool, calls } = counterTool({ cache: 10 });
      reg.register(tool);
      let now = 0;
      const ctx = context(reg, { cache: new MemoryCache({ clock: { now: () => now } }) });
      const ex = new ToolExecutor();
      await ex.execute(todo('math.add'), { a: 1 }, ctx);
      now = 9_999;
      expect((await ex.execute(todo('math.add'), { a: 1 }, ctx)).cached).toBe(true);
      now = 10_000;
      expect((await ex.execute(todo('math.add'), { a: 1 }, ctx)).cached).toBe(false);
      expect(calls).toHaveLength(2);
    });

    it('never lets a new tool version read the old version entries', async () => {
      const reg = new ToolRegistry();
      const v1 = counterTool({ cache: 60, version: '1' });
      const v2 = counterTool({ cache: 60, version: '2' });
      const ctx = context(reg);
      const ex = new ToolExecutor();
      reg.register(v1.tool);
      await ex.execute(todo('math.add'), { a: 1 }, ctx);
      reg.register(v2.tool);
      expect((await ex.execute(todo('math.add'), { a: 1 }, ctx)).cached).toBe(false);
      expect(v2.calls).toHaveLength(1);
    });

    it('never caches a failed run', async () => {
      const reg = new ToolRegistry();
      const { tool, calls } = counterTool({
        cache: 60,
        fail: (n) => (n === 1 ? new Error('once') : undefined),
      });
      reg.register(tool);
      const ctx = context(reg);
      const ex = new ToolExecutor();
      await expect(ex.execute(todo('math.add'), { a: 1 }, ctx)).rejects.toThrow('once');
      expect((await ex.execute(todo('math.add'), { a: 1 }, ctx)).cached).toBe(false);
      expect(calls).toHaveLength(2);
    });

    it('degrades cache errors to a miss', async () => {
      const reg = new ToolRegistry();
      const { tool, calls } = counterTool({ cache: 60 });
      reg.register(tool);
      const broken: Cache = {
        get: () => Promise.reject(new Error('redis down')),
        set: () => Promise.reject(new Error('redis down')),
        delete: () => Promise.resolve(),
      };
      const r = await new ToolExecutor().execute(todo('math.add'), { a: 1 }, context(reg, { cache: broken }));
      expect(r).toEqual({ output: { sum: 1 }, cached: false });
      expect(calls).toHaveLength(1);
    });

    it('treats a cached value that fails the output schema as a miss', async () => {
      const reg = new ToolRegistry();
      const { tool, calls } = counterTool({ cache: 60, version: '1' });
      reg.register(tool);
      const cache = new MemoryCache();
      const { toolCacheKey } = await import('../../src/tools/canonical.js');
      await cache.set(toolCacheKey('math.add', '1', { a: 1, b: 0 }), { wrong: true }, 60_000);
      const r = await new ToolExecutor().execute(todo('math.add'), { a: 1 }, context(reg, { cache }));
      expect(r.cached).toBe(false);
      expect(calls).toHaveLength(1);
    });
  });

  describe('versions', () => {
    it('a todo that started with version N finishes with version N', async () => {
      const reg = new ToolRegistry();
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const mk = (version: string, wait: boolean) =>
        defineTool({
          name: 'v.tool',
          description: 'Versioned',
          domain: 'data',
          version,
          input: z.object({}),
          handler: async () => {
            if (wait) await gate;
            return { version };
          },
        });
      reg.register(mk('1', true));
      const ex = new ToolExecutor();
      const running = ex.execute(todo('v.tool'), {}, context(reg));
      await new Promise((r) => setTimeout(r, 5));
      reg.register(mk('2', false));
      release();
      expect((await running).output).toEqual({ version: '1' });
      expect((await ex.execute(todo('v.tool'), {}, context(reg))).output).toEqual({ version: '2' });
      // The engine can pin a version on the todo.
      expect(
        (await ex.execute(todo('v.tool', {}, { metadata: { toolVersion: '1' } }), {}, context(reg))).output,
      ).toEqual({
        version: '1',
      });
      const e = await rejection(
        ex.execute(todo('v.tool', {}, { metadata: { toolVersion: '9' } }), {}, context(reg)),
      );
      expect(e.message).toBe('tool "v.tool" version "9" is not registered');
    });
  });

  describe('module handlers', () => {
    const dirs: string[] = [];
    afterEach(async () => {
      for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
    });

    it('imports the module lazily, on the first call only', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'da-lazy-'));
      dirs.push(dir);
      await cp(join(fixtures, 'valid'), join(dir, 'valid'), { recursive: true });
      await cp(join(fixtures, 'handlers'), join(dir, 'handlers'), { recursive: true });
      const g = globalThis as { __echoModuleLoads?: number };
      const before = g.__echoModuleLoads ?? 0;
      const reg = new ToolRegistry();
      await reg.discover(join(dir, 'valid'));
      expect(reg.get('util.echo')).toBeDefined();
      expect(g.__echoModuleLoads ?? 0).toBe(before); // loading the registry imported nothing
      const ex = new ToolExecutor();
      expect((await ex.execute(todo('util.echo'), { text: 'hi' }, context(reg))).output).toEqual({
        text: 'hi',
      });
      expect(g.__echoModuleLoads).toBe(before + 1);
      await ex.execute(todo('util.echo'), { text: 'again' }, context(reg));
      expect(g.__echoModuleLoads).toBe(before + 1);
      await reg.close();
    });

    it('reports a missing export as TOOL_INVALID at call time', async () => {
      const { parseToolFile } = await import('../../src/tools/yaml.js');
      const r = parseToolFile(
        'name: m\ndescription: M\ndomain: data\nhandler: { module: ./handlers/math.mjs, export: notAFunction }\n',
        join(fixtures, 'x.yaml'),
      );
      const reg = new ToolRegistry();
      reg.register(r.tools[0] as NonNullable<(typeof r.tools)[0]>);
      const e = await rejection(new ToolExecutor().execute(todo('m'), {}, context(reg)));
      expect(e.code).toBe('TOOL_INVALID');
      expect(e.message).toBe(
        'tool "m": handler module ./handlers/math.mjs has no function export "notAFunction"',
      );
    });
  });
});
