import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileJsonSchema } from '../../src/tools/json-schema.js';
import type { ToolHandle } from '../../src/tools/types.js';
import {
  parseToolFile,
  parseToolFileFast,
  parseToolFileWithPositions,
  type ToolFileResult,
} from '../../src/tools/yaml.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? yamlFiles(join(dir, d.name)) : /\.ya?ml$/.test(d.name) ? [join(dir, d.name)] : [],
  );
}

/** A handle without its functions (validators and invokers are closures, never equal). */
const data = (t: ToolHandle): Record<string, unknown> =>
  Object.fromEntries(Object.entries(t).filter(([, v]) => typeof v !== 'function'));

/** What a result says, comparable across paths. */
const comparable = (r: ToolFileResult): Record<string, unknown> => ({
  file: r.file,
  tools: r.tools.map(data),
  errors: r.errors,
  fatal: r.fatal,
  nameLines: r.nameLines,
});

const outcome = (f: () => ToolFileResult): Record<string, unknown> => {
  try {
    return comparable(f());
  } catch (e) {
    return { threw: e instanceof Error ? e.message : String(e) };
  }
};

const tool = (extra: string, name = 'fast.tool'): string =>
  `name: ${name}\ndescription: A tool\ndomain: data\nhandler: { http: { url: 'https://x.example/a' } }\n${extra}`;

describe('YAML fast path', () => {
  const files = yamlFiles(fixtures);

  it.each(files.map((f) => [f.slice(fixtures.length), f]))(
    'gives the same tools and errors as the positional path on %s',
    (_name, file) => {
      const text = readFileSync(file, 'utf8');
      const fast = parseToolFile(text, file);
      const slow = parseToolFileWithPositions(text, file);
      expect(comparable(fast)).toEqual(comparable(slow));
      // Valid fixtures (one tool or a list) take the fast path; a fixture with any error never does.
      if (slow.errors.length === 0) expect(parseToolFileFast(text, file)).toBeDefined();
      else expect(parseToolFileFast(text, file)).toBeUndefined();
    },
  );

  it('types scalars as the YAML 1.2 core schema does (like the positional path)', () => {
    const values = [
      'yes',
      'no',
      'on',
      'off',
      'y',
      'n',
      'True',
      'FALSE',
      'tRue',
      '~',
      'null',
      'Null',
      'NULL',
      'nULL',
      '',
      '0o17',
      '017',
      '0x1F',
      '0X1F',
      '0b101',
      '+12',
      '-0',
      '1_000',
      '1e3',
      '1.5e-3',
      '.5',
      '5.',
      '1.50',
      '2024-01-01',
      '2024-01-01T10:00:00Z',
      '12:30',
      '1:20:30',
      '0.1.2',
      '9007199254740993',
      "'quoted'",
      '"2"',
      'x y',
      '-x',
      'a:b',
    ];
    const text = tool(
      `input:\n  type: object\n  properties:\n    v:\n      enum:\n${values.map((v) => `        - ${v}\n`).join('')}`,
    );
    expect(parseToolFileFast(text, '/t/scalars.yaml')).toBeDefined();
    expect(comparable(parseToolFile(text, '/t/scalars.yaml'))).toEqual(
      comparable(parseToolFileWithPositions(text, '/t/scalars.yaml')),
    );
    const schema = parseToolFile(text, '/t/scalars.yaml').tools[0]?.inputSchema as {
      properties: { v: { enum: unknown[] } };
    };
    expect(schema.properties.v.enum.slice(0, 4)).toEqual(['yes', 'no', 'on', 'off']);
    expect(schema.properties.v.enum).toContain('2024-01-01');
    expect(schema.properties.v.enum).toContain(15); // 0o17
  });

  it.each([
    ['an anchor and alias', 'tags: &t [a]\nretries: { max: *t }\n'],
    ['a tag', 'tags: [!!str 1]\n'],
    ['a merge key', 'cache: { <<: { ttl: 1 } }\n'],
    ['a second document', '---\nname: other\n'],
    ['a directive', '%YAML 1.2\n'],
    ['an explicit key', '? tags\n: [a]\n'],
    ['a multi-line flow collection', 'tags: [a,\nb]\n'],
    ['a multi-line quoted scalar', "tags: ['a\nb']\n"],
    ['a comment glued to a quoted scalar', "tags: ['a']#c\n"],
    ['a flow collection as a key', 'tags: { [a]: b }\n'],
    ['a tab', 'tags: [a]\t\n'],
    ['a non-string key', 'input: { type: object, properties: { 1: { type: string } } }\n'],
    ['a __proto__ key', 'input: { type: object, properties: { __proto__: { type: string } } }\n'],
    ['a very long line', `tags: [${'a'.repeat(1001)}]\n`],
  ])('leaves %s to the positional path', (_what, extra) => {
    const text = tool(extra);
    expect(parseToolFileFast(text, '/t/x.yaml')).toBeUndefined();
    expect(comparable(parseToolFile(text, '/t/x.yaml'))).toEqual(
      comparable(parseToolFileWithPositions(text, '/t/x.yaml')),
    );
  });

  it('leaves empty files, duplicate keys and unusual layouts to the positional path', () => {
    const indented = tool('').replace(/^|\n(?=.)/g, (m) => `${m}  `);
    for (const text of ['', '# nothing\n', tool('name: again\n'), `top:\n${indented}`, `-\n${indented}`]) {
      expect(parseToolFileFast(text, '/t/x.yaml')).toBeUndefined();
      expect(comparable(parseToolFile(text, '/t/x.yaml'))).toEqual(
        comparable(parseToolFileWithPositions(text, '/t/x.yaml')),
      );
    }
  });

  it('takes the fast path for a list of tools and locates each name', () => {
    const item = (n: string): string => `- ${tool('', n).replace(/\n(?=.)/g, '\n  ')}`;
    const text = `# tools\n${item('a.one')}${item('a.two')}`;
    const fast = parseToolFileFast(text, '/t/x.yaml');
    expect(fast?.nameLines).toEqual({ 'a.one': { line: 2, column: 3 }, 'a.two': { line: 6, column: 3 } });
    expect(comparable(fast as ToolFileResult)).toEqual(
      comparable(parseToolFileWithPositions(text, '/t/x.yaml')),
    );
  });

  it('reports the line of the name key', () => {
    const text = `# header\n\ndescription: A tool\nname: fast.tool\ndomain: data\nhandler: { http: { url: 'https://x.example/a' } }\n`;
    expect(parseToolFileFast(text, '/t/x.yaml')?.nameLines).toEqual({ 'fast.tool': { line: 4, column: 1 } });
    expect(parseToolFileWithPositions(text, '/t/x.yaml').nameLines).toEqual({
      'fast.tool': { line: 4, column: 1 },
    });
  });

  it('reports non-finite numbers as a definition error (never throws), like the positional path', () => {
    for (const v of ['.inf', '-.Inf', '+.INF', '.nan', '.NaN', '1e400']) {
      const text = tool(`input: { type: object, properties: { v: { enum: [${v}] } } }\n`);
      const fast = outcome(() => parseToolFile(text, '/t/x.yaml'));
      expect(fast).toEqual(outcome(() => parseToolFileWithPositions(text, '/t/x.yaml')));
      const r = parseToolFile(text, '/t/x.yaml');
      expect(r.tools).toEqual([]);
      expect(r.errors.map((e) => `${e.path}: ${e.message}`)).toContain(
        'input.properties.v.enum[0]: expected a finite number (.inf, .nan and overflowing numbers are not allowed)',
      );
    }
  });

  it('agrees with the positional path on generated tool files', () => {
    // Scalars written plain, single- or double-quoted: numbers, booleans, nulls, dates, odd characters.
    const word = fc.stringMatching(/^[A-Za-z0-9 .:#'"+\-_~,?&*!%@|>[\]{}]{0,12}$/);
    const scalar = fc.oneof(
      word,
      fc.constantFrom(
        'yes',
        'no',
        'on',
        'true',
        'False',
        '~',
        'null',
        '0o17',
        '0x1F',
        '.inf',
        '-.inf',
        '.nan',
      ),
      fc.constantFrom('1e3', '+5', '-0', '1_000', '2024-01-01', '12:30', '0.5', '5.', '017', '0b11', '7'),
    );
    const style = fc.constantFrom('plain', 'plain', 'single', 'double');
    const render = (s: fc.Arbitrary<string>): fc.Arbitrary<string> =>
      fc
        .tuple(s, style)
        .map(([v, st]) =>
          st === 'plain' ? v : st === 'single' ? `'${v.replace(/'/g, "''")}'` : JSON.stringify(v),
        );
    const text = fc.stringMatching(/^[A-Za-z][A-Za-z0-9 .,:'"#-]{0,30}[A-Za-z0-9.]$/);
    const description = fc.oneof(
      render(text),
      fc
        .tuple(fc.constantFrom('|', '|-', '>', '>-', '|+'), fc.array(word, { minLength: 1, maxLength: 3 }))
        .map(([b, lines]) => `${b}\n${lines.map((l) => `    ${l}`).join('\n')}`),
    );
    const flowList = (s: fc.Arbitrary<string>): fc.Arbitrary<string> =>
      fc.array(render(s), { maxLength: 4 }).map((xs) => `[${xs.join(', ')}]`);
    const blockList = (s: fc.Arbitrary<string>, indent: string): fc.Arbitrary<string> =>
      fc
        .array(render(s), { minLength: 1, maxLength: 4 })
        .map((xs) => `\n${xs.map((x) => `${indent}  - ${x}`).join('\n')}`);
    const ident = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.-]{0,12}$/);
    const num = fc.integer({ min: 1, max: 5000 }).map(String);
    const optional = (indent: string): fc.Arbitrary<Partial<Record<string, string>>> =>
      fc.record(
        {
          version: render(fc.oneof(ident, num)),
          idempotent: fc.constantFrom('true', 'false', 'True', 'FALSE'),
          timeout: fc.constantFrom('100', '0x10', '0o17', '+5', '1e3', '30000'),
          cache: fc.constantFrom('{ ttl: 60 }', '{ ttl: .5 }', '{ ttl: 1e2 }'),
          retries: fc.constantFrom(`\n${indent}  max: 2\n${indent}  backoff: 10`, '{ max: 0 }'),
          tags: fc.oneof(flowList(text), blockList(text, indent)),
          input: fc
            .tuple(fc.uniqueArray(ident, { maxLength: 3 }), flowList(scalar))
            .map(
              ([props, en]) =>
                `\n${indent}  type: object\n${indent}  properties:${props.length === 0 ? ' {}' : ''}${props.map((k) => `\n${indent}    ${k}: { description: x, enum: ${en} }`).join('')}`,
            ),
        },
        { requiredKeys: [] },
      );
    const definition = (indent: string): fc.Arbitrary<string[]> =>
      fc
        .tuple(ident, description, fc.constantFrom('data', 'ops', 'insight'), optional(indent))
        .chain(([n, d, dom, opt]) =>
          fc.shuffledSubarray(
            [
              `name: ${n}`,
              `description: ${d.replace(/\n {4}/g, `\n${indent}    `)}`,
              `domain: ${dom}`,
              ...Object.entries(opt).map(([k, v]) => `${k}: ${v ?? ''}`),
              `handler: { http: { url: "https://x.example/${n}", method: post } }`,
            ],
            { minLength: 4 + Object.keys(opt).length },
          ),
        );
    const file = fc.oneof(
      fc
        .tuple(definition(''), fc.boolean())
        .map(([lines, comment]) => [...(comment ? ['# a tool', ''] : []), ...lines, ''].join('\n')),
      fc
        .array(definition('  '), { minLength: 1, maxLength: 3 })
        .map((defs) => defs.map((lines) => `- ${lines.join('\n  ')}\n`).join('')),
    );
    // Mutations (a character inserted, deleted or replaced, a line re-indented) make files that are
    // often invalid or parse differently: the fast path must decline them or agree.
    const mutated = fc
      .tuple(
        file,
        fc.array(
          fc.tuple(
            fc.nat(),
            fc.constantFrom('insert', 'delete', 'replace', 'indent', 'dedent'),
            fc.constantFrom(' ', '\n', ':', '-', '#', "'", '"', '[', ']', '{', '}', ',', '|', '>', 'x', '  '),
          ),
          { minLength: 1, maxLength: 3 },
        ),
      )
      .map(([yaml, edits]) =>
        edits.reduce((t, [at, op, ch]) => {
          const i = t.length === 0 ? 0 : at % t.length;
          const bol = t.lastIndexOf('\n', i - 1) + 1;
          switch (op) {
            case 'insert':
              return t.slice(0, i) + ch + t.slice(i);
            case 'delete':
              return t.slice(0, i) + t.slice(i + 1);
            case 'replace':
              return t.slice(0, i) + ch + t.slice(i + 1);
            case 'indent':
              return `${t.slice(0, bol)} ${t.slice(bol)}`;
            default:
              return t[bol] === ' ' ? t.slice(0, bol) + t.slice(bol + 1) : t;
          }
        }, yaml),
      );
    let fastCount = 0;
    fc.assert(
      fc.property(fc.oneof(file, mutated), (yaml) => {
        const fast = parseToolFileFast(yaml, '/t/gen.yaml');
        if (fast === undefined) return;
        fastCount++;
        expect(comparable(fast)).toEqual(comparable(parseToolFileWithPositions(yaml, '/t/gen.yaml')));
      }),
      { numRuns: Number(process.env['FAST_RUNS'] ?? 1000) },
    );
    expect(fastCount).toBeGreaterThan(100); // the property is not vacuous
  });

  it('keeps compiling schemas at load: zod rejects schemas the structural check accepts', () => {
    // Building validators lazily would move these errors from load time to the first call.
    for (const schema of [
      { not: { type: 'string' } },
      { if: { type: 'string' }, then: {} },
      { unevaluatedProperties: false },
      { dependentSchemas: { a: {} } },
    ]) {
      const r = compileJsonSchema(schema);
      expect(r.ok).toBe(false);
      expect(r.ok ? '' : r.issues[0]?.message).toMatch(/^unsupported schema: /);
    }
  });
});
