import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileJsonSchema } from '../../src/tools/json-schema.js';
import { formatToolDefinitionError, loadToolFile, parseToolFile } from '../../src/tools/yaml.js';

const fixture = (p: string): string => fileURLToPath(new URL(`./fixtures/${p}`, import.meta.url));
const messages = async (p: string): Promise<string[]> =>
  (await loadToolFile(fixture(p))).errors.map((e) => formatToolDefinitionError({ ...e, file: p }));

describe('YAML tool files', () => {
  it('loads a single-tool file with every field mapped onto the handle', async () => {
    const r = await loadToolFile(fixture('valid/echo.yaml'));
    expect(r.errors).toEqual([]);
    const [echo] = r.tools;
    expect(echo).toMatchObject({
      name: 'util.echo',
      version: '1',
      domain: 'data',
      idempotent: true,
      cacheTtlSeconds: 60,
      tags: ['util', 'text'],
      approval: { required: false },
      source: fixture('valid/echo.yaml'),
    });
    expect(echo?.inputSchema).toMatchObject({ required: ['text'] });
    expect(echo?.validateInput({ text: 'hi' })).toEqual({ ok: true, value: { text: 'hi' } });
    expect(echo?.validateInput({ text: 1, extra: true })).toEqual({
      ok: false,
      issues: [
        { path: 'text', message: 'expected string, got integer' },
        { path: 'extra', message: 'is not an allowed property' },
      ],
    });
  });

  it('loads several tools from a list, with retries, timeout and approval settings', async () => {
    const r = await loadToolFile(fixture('valid/nested/math.yml'));
    expect(r.errors).toEqual([]);
    expect(r.tools.map((t) => t.name)).toEqual(['math.add', 'math.multiply']);
    expect(r.tools[0]).toMatchObject({
      retries: { max: 2, backoffMs: 10 },
      timeoutMs: 1000,
      domain: 'insight',
    });
    expect(r.tools[1]?.approval).toEqual({
      required: true,
      reason: 'multiplication is risky',
      risk: 'high',
      roles: ['admin'],
    });
    // No explicit version: a content hash, stable across loads.
    expect(r.tools[0]?.version).toMatch(/^[0-9a-f]{12}$/);
    expect((await loadToolFile(fixture('valid/nested/math.yml'))).tools[0]?.version).toBe(
      r.tools[0]?.version,
    );
  });

  it('parses approval: true and http handlers', async () => {
    const r = await loadToolFile(fixture('valid/http.yaml'));
    expect(r.errors).toEqual([]);
    expect(r.tools[0]?.approval).toEqual({ required: true });
  });

  it('reports a syntax error with its line and loads nothing from the file', () => {
    // Inline rather than a fixture file: the formatter cannot parse a broken YAML file.
    const r = parseToolFile('name: broken.syntax\ndescription: [unclosed\ndomain: data\n', 'syntax.yaml');
    expect(r.fatal).toBe(true);
    expect(r.tools).toEqual([]);
    expect(r.errors.map(formatToolDefinitionError)).toEqual([
      'syntax.yaml:3:1 YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
  });

  it('reports every bad field with line, column, key path and what was expected', async () => {
    expect(await messages('invalid/fields.yaml')).toEqual([
      'invalid/fields.yaml:1:1 name: expected a letter followed by letters, digits, "_", ".", ":" or "-" (at most 128 characters)',
      'invalid/fields.yaml:2:1 description: expected a non-empty string',
      'invalid/fields.yaml:4:1 handler: expected exactly one of "module" or "http"',
      'invalid/fields.yaml:5:13 approval.risk: expected one of "low", "medium", "high", got "extreme"',
      'invalid/fields.yaml:6:10 cache.ttl: expected a number > 0',
      'invalid/fields.yaml:7:12 retries.max: expected a number <= 10',
      'invalid/fields.yaml:8:1 descripton: is not an allowed property',
    ]);
  });

  it('reports JSON Schema mistakes at the offending keyword', async () => {
    expect(await messages('invalid/schema.yaml')).toEqual([
      'invalid/schema.yaml:7:15 input.properties.period.type: unsupported type "strin" (expected one of string, number, integer, boolean, object, array, null)',
      'invalid/schema.yaml:8:27 input.properties.code.pattern: backreferences (\\1…) are not supported',
      'invalid/schema.yaml:9:29 input.properties.count.minimum: expected a number, got string',
      'invalid/schema.yaml:10:12 input.properties.ref.$ref: reference "#/$defs/missing" does not resolve',
      'invalid/schema.yaml:11:3 input.required: expected a list of property names, got string',
    ]);
  });

  it('keeps the valid siblings of broken definitions in the same file', async () => {
    const r = await loadToolFile(fixture('invalid/handler.yaml'));
    expect(r.fatal).toBe(false);
    expect(r.tools.map((t) => t.name)).toEqual(['good.sibling']);
    expect(await messages('invalid/handler.yaml')).toEqual([
      'invalid/handler.yaml:4:14 [0].handler.module: module file not found: ./nope.mjs',
      'invalid/handler.yaml:8:22 [1].handler.http.url: expected an absolute http(s) URL, got "not a url"',
      'invalid/handler.yaml:8:51 [1].handler.http.headers.X-Key: unsupported substitution ${KEY} (expected ${env:NAME})',
    ]);
  });

  it('refuses alias bombs (billion laughs) quickly', async () => {
    const started = performance.now();
    const r = await loadToolFile(fixture('invalid/bomb.yaml'));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(r.fatal).toBe(true);
    expect(r.errors[0]?.message).toBe(
      'cannot read the document: Excessive alias count indicates a resource exhaustion attack',
    );
  });

  it('refuses oversized files, duplicate names, non-mapping entries and bare module specifiers', () => {
    expect(parseToolFile('x'.repeat(200), 'big.yaml', { maxFileBytes: 100 }).errors[0]?.message).toBe(
      'file is too large (200 bytes; the limit is 100)',
    );
    const text = [
      '- { name: a, description: A, domain: data, handler: { http: { url: "https://x.example" } } }',
      '- { name: a, description: B, domain: data, handler: { http: { url: "https://x.example" } } }',
      '- 42',
      '- { name: b, description: B, domain: data, handler: { module: lodash } }',
    ].join('\n');
    const r = parseToolFile(text, '/tmp/x.yaml');
    expect(r.tools.map((t) => t.name)).toEqual(['a']);
    expect(r.errors.map((e) => `${e.line}:${e.column} ${e.path}: ${e.message}`)).toEqual([
      '2:5 [1].name: duplicate tool name "a" (first defined at line 1)',
      '3:3 [2]: expected a tool definition (a mapping), got number',
      '4:55 [3].handler.module: expected a relative ("./…") or absolute file path, got "lodash"',
    ]);
  });

  it('treats an empty file as no tools and no errors; supports multi-document files', () => {
    expect(parseToolFile('', 'e.yaml')).toMatchObject({ tools: [], errors: [], fatal: false });
    const multi = [
      'name: one\ndescription: One\ndomain: data\nhandler: { http: { url: "https://x.example" } }',
      'name: two\ndescription: Two\ndomain: data\nhandler: { http: { url: "https://x.example" } }',
    ].join('\n---\n');
    expect(parseToolFile(multi, 'm.yaml').tools.map((t) => t.name)).toEqual(['one', 'two']);
  });

  it('rejects hostile schemas: too deep, too large, too long a pattern', () => {
    let deep: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 40; i++) deep = { type: 'array', items: deep };
    const big = {
      type: 'object',
      properties: Object.fromEntries(Array.from({ length: 6000 }, (_, i) => [`p${i}`, { type: 'string' }])),
    };
    const tool = (input: unknown): string =>
      JSON.stringify({
        name: 'h',
        description: 'H',
        domain: 'data',
        input,
        handler: { http: { url: 'https://x.example' } },
      });
    expect(parseToolFile(tool(deep), 'd.yaml').errors[0]?.message).toBe(
      'schema is nested too deeply (more than 32 levels)',
    );
    expect(compileJsonSchema(big)).toEqual({
      ok: false,
      issues: [{ path: [], message: 'schema is too large (more than 10000 nodes)' }],
    });
    expect(
      parseToolFile(tool({ type: 'string', pattern: 'a'.repeat(1001) }), 'p.yaml').errors[0]?.message,
    ).toBe('pattern is too long (more than 1000 characters)');
  });
});
