/**
 * Peer ranges are checked at the type level too: a user with openai 7 or ioredis 5 has only that
 * version installed, so the adapters' types must compile against it and the user's client must be
 * accepted. Here `openai` and `ioredis` resolve to the aliased older/newer copies (`openai-v7`,
 * `ioredis-v5`) while the adapters' sources and a small user program are type-checked (strict). The
 * runtime side is in `adapters/openai/test/openai-v7.test.ts` and `adapters/redis/test/ioredis-v5.test.ts`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

let resolved: string[] = [];

function check(files: Record<string, string>, paths: Record<string, string[]>): string[] {
  const dir = join(root, '.tmp/peer-types');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  const names = Object.entries(files).map(([name, code]) => {
    const p = join(dir, name);
    writeFileSync(p, code);
    return p;
  });
  const config = ts.readConfigFile(join(root, 'tsconfig.json'), (p) => ts.sys.readFile(p));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  const program = ts.createProgram(names, {
    ...parsed.options,
    noEmit: true,
    paths: { ...parsed.options.paths, ...paths },
  });
  resolved = program.getSourceFiles().map((f) => f.fileName);
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

describe('adapter types against the edges of their peer ranges', () => {
  it('@dream-agent/openai compiles against openai 7, @dream-agent/redis against ioredis 5, and each takes such a client', () => {
    // One program (the core's sources are the slow part of a type-check).
    const problems = check(
      {
        'openai7.ts': `
import OpenAI from 'openai';
import { OpenAIEmbedder, OpenAIModel } from '@dream-agent/openai';
const client = new OpenAI({ apiKey: 'k' });
export const llm = new OpenAIModel({ model: 'gpt-test', client });
export const embedder = new OpenAIEmbedder({ client, dimensions: 8 });
export const same: OpenAI = llm.client;
`,
        'ioredis5.ts': `
import { Redis } from 'ioredis';
import { RedisCache, RedisEventBus } from '@dream-agent/redis';
const client = new Redis('redis://127.0.0.1:1');
export const cache = new RedisCache({ client });
export const bus = new RedisEventBus({ client });
`,
      },
      {
        openai: ['./node_modules/openai-v7/index.d.mts'],
        'openai/*': ['./node_modules/openai-v7/*'],
        ioredis: ['./node_modules/ioredis-v5/built/index.d.ts'],
      },
    );
    expect(problems).toEqual([]);
    // The mapping took effect: the v7 and v5 copies are what the program resolved.
    expect(resolved.some((f) => f.includes('node_modules/openai-v7/'))).toBe(true);
    expect(resolved.some((f) => f.includes('node_modules/ioredis-v5/'))).toBe(true);
    expect(resolved.some((f) => /node_modules\/(openai|ioredis)\//.test(f))).toBe(false);
  }, 400_000);
});
