/**
 * Overhead of the model and tool adapter layers, per call, in nanoseconds — each measured against calling
 * the client underneath directly, in the same run:
 *
 *   - `OpenAIModel.generate` vs `openai.chat.completions.create` (both on a client whose `fetch` returns a
 *     canned response at once, so no network is in the numbers);
 *   - `AiSdkModel.generate` / `.stream` vs `doGenerate` / `doStream` of an AI SDK provider model;
 *   - `withResilience(model)` vs the bare model (generate, and a 20-chunk stream);
 *   - `fallbackModel([model])` vs the bare model;
 *   - an `@dream-agent/mcp` tool's `invoke` vs `client.callTool` over the SDK's in-memory transport.
 *
 *   npx tsx bench/llm-adapters.ts         # results also written to bench/results/llm-adapters.json
 *
 * Numbers on a shared 2-core machine are noisy: compare the ratios within one run. Each case runs
 * warm-up iterations first, then alternates direct/adapter batches so drift hits both alike.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { LanguageModelV3, LanguageModelV3StreamPart } from '@ai-sdk/provider';
import OpenAI from 'openai';
import { z } from 'zod';
import { AiSdkModel } from '../adapters/ai-sdk/src/index.js';
import { McpToolSource } from '../adapters/mcp/src/index.js';
import { OpenAIModel } from '../adapters/openai/src/index.js';
import {
  ToolRegistry,
  fallbackModel,
  withResilience,
  type GenerateRequest,
  type LanguageModel,
  type StreamChunk,
  type ToolContext,
} from '../src/index.js';

const messages: GenerateRequest['messages'] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Say hello.' },
];

async function time(fn: () => Promise<unknown>, n: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  return Number(process.hrtime.bigint() - start) / n;
}

interface Row {
  case: string;
  directNs: number;
  adapterNs: number;
  overheadNs: number;
  ratio: number;
}

async function compare(
  name: string,
  direct: () => Promise<unknown>,
  adapter: () => Promise<unknown>,
  n: number,
): Promise<Row> {
  for (let i = 0; i < Math.min(500, n); i++) {
    await direct();
    await adapter();
  }
  const d: number[] = [];
  const a: number[] = [];
  for (let round = 0; round < 5; round++) {
    d.push(await time(direct, n));
    a.push(await time(adapter, n));
  }
  const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
  const directNs = median(d);
  const adapterNs = median(a);
  return {
    case: name,
    directNs: Math.round(directNs),
    adapterNs: Math.round(adapterNs),
    overheadNs: Math.round(adapterNs - directNs),
    ratio: Number((adapterNs / directNs).toFixed(2)),
  };
}

// ---------------------------------------------------------------- OpenAI: canned fetch

const completionBody = JSON.stringify({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-bench',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'Hello.', refusal: null },
      finish_reason: 'stop',
      logprobs: null,
    },
  ],
  usage: { prompt_tokens: 12, completion_tokens: 2, total_tokens: 14 },
});
const cannedFetch = (async () =>
  new Response(completionBody, {
    status: 200,
    headers: { 'content-type': 'application/json' },
  })) as unknown as typeof fetch;

// ---------------------------------------------------------------- AI SDK: an in-memory provider model

const streamParts: LanguageModelV3StreamPart[] = [
  { type: 'stream-start', warnings: [] },
  ...Array.from({ length: 20 }, (_, i): LanguageModelV3StreamPart => ({
    type: 'text-delta',
    id: 't',
    delta: `w${i} `,
  })),
  {
    type: 'finish',
    finishReason: { unified: 'stop', raw: 'stop' },
    usage: {
      inputTokens: { total: 12, noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
      outputTokens: { total: 20, text: undefined, reasoning: undefined },
    },
  },
];
const aiModel: LanguageModelV3 = {
  specificationVersion: 'v3',
  provider: 'bench',
  modelId: 'bench-1',
  supportedUrls: {},
  doGenerate: async () => ({
    content: [{ type: 'text', text: 'Hello.' }],
    finishReason: { unified: 'stop', raw: 'stop' },
    usage: (streamParts.at(-1) as unknown as { usage: never }).usage,
    warnings: [],
  }),
  doStream: async () => ({
    stream: new ReadableStream<LanguageModelV3StreamPart>({
      start(c) {
        for (const p of streamParts) c.enqueue(p);
        c.close();
      },
    }),
  }),
};

// ---------------------------------------------------------------- a constant LanguageModel

const constant: LanguageModel = {
  provider: 'const',
  model: 'const-1',
  generate: async () => ({
    text: 'Hello.',
    toolCalls: [],
    finishReason: 'stop',
    usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 },
    model: 'const-1',
  }),
  async *stream(): AsyncIterable<StreamChunk> {
    for (let i = 0; i < 20; i++) yield { type: 'text.delta', text: `w${i} ` };
    yield {
      type: 'finish',
      result: {
        text: '',
        toolCalls: [],
        finishReason: 'stop',
        usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 },
        model: 'const-1',
      },
    };
  },
};

async function drain(it: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of it) void _;
}

async function drainReadable(stream: ReadableStream<unknown>): Promise<void> {
  const reader = stream.getReader();
  for (;;) if ((await reader.read()).done) break;
}

// ---------------------------------------------------------------- MCP over the in-memory transport

function mcpServer(): McpServer {
  const server = new McpServer({ name: 'bench', version: '1.0.0' });
  server.registerTool(
    'add',
    {
      description: 'Adds',
      inputSchema: { a: z.number(), b: z.number() },
      annotations: { readOnlyHint: true },
    },
    async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }),
  );
  return server;
}

async function mcpPair(): Promise<{ client: Client }> {
  const [c, s] = InMemoryTransport.createLinkedPair();
  await mcpServer().connect(s);
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(c);
  return { client };
}

const toolCtx: ToolContext = {
  signal: new AbortController().signal,
  idempotencyKey: 'k',
  sessionId: 's',
  turnId: 't',
  todoId: 'x',
  attempt: 1,
  progress: () => undefined,
  delta: () => undefined,
  requestInput: () => Promise.reject(new Error('none')),
  logger: {
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: () => undefined,
  } as never,
};

async function main(): Promise<void> {
  const rows: Row[] = [];
  const client = new OpenAI({
    apiKey: 'sk',
    baseURL: 'http://127.0.0.1:9/v1',
    fetch: cannedFetch,
    maxRetries: 0,
  });
  const openai = new OpenAIModel({ model: 'gpt-bench', client });
  rows.push(
    await compare(
      'OpenAIModel.generate vs chat.completions.create',
      () =>
        client.chat.completions.create({
          model: 'gpt-bench',
          messages: [
            { role: 'system', content: 'You are terse.' },
            { role: 'user', content: 'Say hello.' },
          ],
        }),
      () => openai.generate({ messages }),
      2000,
    ),
  );

  const ai = new AiSdkModel(aiModel);
  rows.push(
    await compare(
      'AiSdkModel.generate vs doGenerate',
      async () =>
        aiModel.doGenerate({ prompt: [{ role: 'user', content: [{ type: 'text', text: 'Say hello.' }] }] }),
      () => ai.generate({ messages }),
      20_000,
    ),
  );
  rows.push(
    await compare(
      'AiSdkModel.stream vs doStream (20 deltas)',
      async () => drainReadable((await aiModel.doStream({ prompt: [] })).stream),
      () => drain(ai.stream({ messages })),
      5000,
    ),
  );

  const resilient = withResilience(constant);
  rows.push(
    await compare(
      'withResilience.generate vs bare',
      () => constant.generate({ messages }),
      () => resilient.generate({ messages }),
      20_000,
    ),
  );
  rows.push(
    await compare(
      'withResilience.stream vs bare (20 deltas)',
      () => drain(constant.stream({ messages })),
      () => drain(resilient.stream({ messages })),
      5000,
    ),
  );
  const fallback = fallbackModel([constant]);
  rows.push(
    await compare(
      'fallbackModel.generate vs bare',
      () => constant.generate({ messages }),
      () => fallback.generate({ messages }),
      20_000,
    ),
  );

  const direct = await mcpPair();
  const registry = new ToolRegistry();
  const source = await McpToolSource.connect({
    name: 'bench',
    transport: {
      type: 'custom',
      create: () => {
        const [c, s] = InMemoryTransport.createLinkedPair();
        void mcpServer().connect(s);
        return c;
      },
    },
    registry,
  });
  const add = registry.get('bench.add');
  if (add === undefined) throw new Error('bench.add not registered');
  rows.push(
    await compare(
      'MCP tool invoke vs client.callTool (in-memory)',
      () => direct.client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }),
      () => add.invoke({ a: 1, b: 2 }, toolCtx),
      3000,
    ),
  );
  await source.close();
  await direct.client.close();

  console.table(rows);
  const out = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(out, { recursive: true });
  writeFileSync(
    `${out}llm-adapters.json`,
    JSON.stringify({ at: new Date().toISOString(), node: process.version, rows }, null, 2),
  );
}

await main();
