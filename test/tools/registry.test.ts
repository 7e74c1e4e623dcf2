import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { JsonObject } from '../../src/model/json.js';
import type { Embedder, VectorMatch, VectorStore } from '../../src/ports/vector.js';
import { defineTool } from '../../src/tools/define.js';
import { ToolRegistry, type ToolRegistryEvents } from '../../src/tools/registry.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));

const tool = (
  name: string,
  extra: { version?: string; domain?: string; tags?: string[]; description?: string } = {},
) =>
  defineTool({
    name,
    description: extra.description ?? `The ${name} tool`,
    domain: extra.domain ?? 'data',
    ...(extra.version === undefined ? {} : { version: extra.version }),
    tags: extra.tags ?? [],
    input: z.object({}),
    handler: () => ({ name }),
  });

function record(reg: ToolRegistry): string[] {
  const log: string[] = [];
  reg.on('tool.registered', ({ tool: t }) => log.push(`registered ${t.name}@${t.version}`));
  reg.on('tool.updated', ({ tool: t, previous }) =>
    log.push(`updated ${t.name}@${previous.version}->${t.version}`),
  );
  reg.on('tool.removed', ({ name, version }) =>
    log.push(`removed ${name}${version === undefined ? '' : `@${version}`}`),
  );
  reg.on('tool.invalid', ({ errors }) => log.push(`invalid ${errors.length}`));
  return log;
}

describe('ToolRegistry', () => {
  it('registers, updates, gets by version, lists with filters and unregisters, emitting events', () => {
    const reg = new ToolRegistry({ keepVersions: 2 });
    const log = record(reg);
    reg.register(tool('a', { version: '1', domain: 'data', tags: ['x'] }));
    reg.register(tool('b', { version: '1', domain: 'ops' }));
    reg.register(tool('a', { version: '1', domain: 'data', tags: ['x'] })); // same revision: no-op
    reg.register(tool('a', { version: '2', domain: 'data', tags: ['x', 'y'] }));
    reg.register(tool('a', { version: '3', domain: 'data', tags: ['y'] }));
    expect(reg.get('a')?.version).toBe('3');
    expect(reg.get('a', '2')?.version).toBe('2');
    expect(reg.get('a', '1')).toBeUndefined(); // only the last 2 versions are kept
    expect(reg.versions('a')).toEqual(['2', '3']);
    expect(reg.list().map((t) => t.name)).toEqual(['a', 'b']);
    expect(reg.list({ domain: 'ops' }).map((t) => t.name)).toEqual(['b']);
    expect(reg.list({ tag: 'y' }).map((t) => t.name)).toEqual(['a']);
    expect(reg.list({ tag: 'x' })).toEqual([]); // latest version only
    expect(reg.unregister('a', '3')).toBe(true);
    expect(reg.get('a')?.version).toBe('2');
    expect(reg.unregister('b')).toBe(true);
    expect(reg.unregister('b')).toBe(false);
    expect(log).toEqual([
      'registered a@1',
      'registered b@1',
      'updated a@1->2',
      'updated a@2->3',
      'removed a@3',
      'removed b',
    ]);
  });

  it('a throwing listener neither stops other listeners nor the registry', () => {
    const reg = new ToolRegistry();
    const seen: string[] = [];
    reg.on('tool.registered', () => {
      throw new Error('observer bug');
    });
    const off = reg.on('tool.registered', ({ tool: t }) => seen.push(t.name));
    reg.register(tool('a'));
    off();
    reg.register(tool('b'));
    expect(seen).toEqual(['a']);
    expect(reg.get('b')).toBeDefined();
  });

  it('discovers a directory recursively; a broken file reports tool.invalid and the others load', async () => {
    const reg = new ToolRegistry();
    const invalid: ToolRegistryEvents['tool.invalid'][] = [];
    reg.on('tool.invalid', (e) => invalid.push(e));
    const r = await reg.discover(fixtures);
    expect(r.files).toBe(7);
    expect(reg.list().map((t) => t.name)).toEqual([
      'good.sibling',
      'math.add',
      'math.multiply',
      'orders.create',
      'util.echo',
    ]);
    expect(invalid.map((i) => i.file.slice(fixtures.length)).sort()).toEqual([
      'invalid/bomb.yaml',
      'invalid/fields.yaml',
      'invalid/handler.yaml',
      'invalid/schema.yaml',
    ]);
    expect(r.errors.length).toBe(invalid.reduce((n, i) => n + i.errors.length, 0));
    await expect(reg.discover(`${fixtures}/nope`)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('keeps names unique across YAML files and code', async () => {
    const reg = new ToolRegistry();
    await reg.discover(`${fixtures}/valid`);
    expect(() => reg.register(tool('util.echo'))).toThrow(
      /^tool "util.echo" is already defined in .*echo\.yaml$/,
    );
  });

  it('searches lexically by name, tags and description', async () => {
    const reg = new ToolRegistry();
    reg.register(
      tool('sales.query', {
        description: 'Query sales rows for a period and region',
        tags: ['sales', 'sql'],
      }),
    );
    reg.register(
      tool('report.draft', { description: 'Draft a report document from findings', tags: ['writing'] }),
    );
    reg.register(tool('email.send', { description: 'Send an email to recipients', tags: ['mail'] }));
    expect((await reg.search('draft the quarterly report', 2)).map((h) => h.tool.name)).toEqual([
      'report.draft',
    ]);
    expect((await reg.search('sales by region'))[0]?.tool.name).toBe('sales.query');
    expect((await reg.search('emails'))[0]?.tool.name).toBe('email.send');
    expect(await reg.search('zebra')).toEqual([]);
    reg.unregister('email.send');
    expect(await reg.search('email')).toEqual([]);
  });

  it('searches through the Embedder and VectorStore ports when configured, and falls back to lexical', async () => {
    const embedder: Embedder = {
      dimensions: 3,
      embed: (texts) =>
        Promise.resolve(
          texts.map((t) => {
            const l = t.toLowerCase();
            return [
              /sales|revenue|money/.test(l) ? 1 : 0,
              /report|draft|text/.test(l) ? 1 : 0,
              /email|mail|inbox/.test(l) ? 1 : 0,
            ];
          }),
        ),
    };
    const items = new Map<string, { vector: number[]; metadata?: JsonObject }>();
    let embedCalls = 0;
    let fail = false;
    const store: VectorStore = {
      upsert: (xs) => {
        for (const x of xs)
          items.set(x.id, { vector: x.vector, ...(x.metadata ? { metadata: x.metadata } : {}) });
        return Promise.resolve();
      },
      delete: (ids) => {
        for (const id of ids) items.delete(id);
        return Promise.resolve();
      },
      query: (v, k, filter) => {
        if (fail) return Promise.reject(new Error('vector store down'));
        const out: VectorMatch[] = [];
        for (const [id, it] of items) {
          if (filter && Object.entries(filter).some(([fk, fv]) => it.metadata?.[fk] !== fv)) continue;
          const score = it.vector.reduce((s, x, i) => s + x * (v[i] ?? 0), 0);
          out.push({ id, score, ...(it.metadata ? { metadata: it.metadata } : {}) });
        }
        return Promise.resolve(out.sort((a, b) => b.score - a.score).slice(0, k));
      },
    };
    const counting: Embedder = { dimensions: 3, embed: (t) => (embedCalls++, embedder.embed(t)) };
    const reg = new ToolRegistry({ embedder: counting, vectorStore: store });
    reg.register(tool('sales.query', { description: 'Query revenue' }));
    reg.register(tool('report.draft', { description: 'Write a document' }));
    reg.register(tool('email.send', { description: 'Send to an inbox' }));
    // "mailbox" shares no token with any tool: only the vector path can find it.
    expect((await reg.search('check my mailbox', 1)).map((h) => h.tool.name)).toEqual(['email.send']);
    expect(embedCalls).toBe(2); // one batch for the three tools, one for the query
    expect([...items.keys()].sort()).toEqual(['tool:email.send', 'tool:report.draft', 'tool:sales.query']);
    reg.unregister('email.send');
    await reg.search('x');
    expect(items.has('tool:email.send')).toBe(false);
    fail = true;
    expect((await reg.search('revenue', 1)).map((h) => h.tool.name)).toEqual(['sales.query']); // lexical fallback
    await reg.close();
  });
});
