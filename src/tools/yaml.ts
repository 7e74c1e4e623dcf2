/**
 * YAML tool files: one tool per file, or several as a list (multi-document files work too).
 *
 * Every problem is reported as a {@link ToolDefinitionError} with the file, the line and column of the
 * offending key, the key path and what was expected. A file is never all-or-nothing for its siblings:
 * the valid definitions of a file load even when another one in it is broken. The parser's alias limit
 * stays at its default (`maxAliasCount: 100`), so "billion laughs" documents are refused.
 *
 * When the optional peer `js-yaml` is installed, plain, valid files take a fast path (`js-yaml` with the
 * YAML 1.2 core schema, no positions); any file that could contain anchors, aliases, tags, merge keys or
 * several documents, or that has any problem — and every file when `js-yaml` is absent — is parsed by the
 * `yaml` package, which enforces the alias limit and locates every error. Both paths give the same tools
 * and the same errors.
 *
 * @packageDocumentation
 */
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type jsyamlType from 'js-yaml';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document } from 'yaml';
import { z } from 'zod';
import type { Json, JsonObject } from '../model/json.js';
import {
  checkJsonValue,
  contentVersion,
  HttpHandlerSpecSchema,
  toolMetaFields,
  toolMetaShape,
} from './define.js';
import {
  checkHttpSpec,
  createHttpInvoker,
  type HttpHandlerOptions,
  type HttpHandlerSpec,
} from './handlers/http.js';
import { createModuleInvoker, resolveModulePath } from './handlers/module.js';
import { compileJsonSchema, formatPath, zodIssueList, type JsonSchemaLimits } from './json-schema.js';
import type { ToolDefinitionError, ToolHandle } from './types.js';

/** The zod schema of one YAML tool definition (BRIEF §4). */
export const YamlToolDefinitionSchema = z.strictObject({
  ...toolMetaShape,
  /** Input JSON Schema (default `{ type: object }`). */
  input: z.unknown().optional(),
  /** Output JSON Schema. */
  output: z.unknown().optional(),
  /** What runs the tool: exactly one of `module` (with an optional `export`) or `http`. */
  handler: z
    .strictObject({
      /**
       * A JavaScript module, relative to the YAML file (`./handlers/report.js`) or absolute; imported on the
       * tool's first call, so loading many tools imports nothing.
       */
      module: z.string().min(1).optional(),
      /** The module's export to call with `(input, ctx)` (default `default`); only with `module`. */
      export: z.string().min(1).optional(),
      /** An HTTP endpoint to call instead of a module (URL template, method, headers, response mapping). */
      http: HttpHandlerSpecSchema.optional(),
    })
    .superRefine((h, ctx) => {
      if ((h.module === undefined) === (h.http === undefined)) {
        ctx.addIssue({ code: 'custom', message: 'expected exactly one of "module" or "http"' });
      } else if (h.export !== undefined && h.module === undefined) {
        ctx.addIssue({ code: 'custom', path: ['export'], message: '"export" goes with "module"' });
      }
    }),
});
/** One YAML tool definition, as written. */
export type YamlToolDefinition = z.input<typeof YamlToolDefinitionSchema>;

/** The default size limit of one tool file (256 KiB). */
export const DEFAULT_MAX_TOOL_FILE_BYTES = 256 * 1024;

/** Options for loading tool files. */
export interface ToolFileOptions {
  /** Bounds on input/output JSON Schemas. */
  schemaLimits?: JsonSchemaLimits;
  /** Largest accepted file, in bytes (default 256 KiB: YAML parsing costs a few µs per byte, and tool files are small). */
  maxFileBytes?: number;
  /** Options of http handlers (env, fetch). */
  http?: HttpHandlerOptions;
}

/** What loading one file produced. */
export interface ToolFileResult {
  /** The file, as given to the loader. */
  file: string;
  /** The valid tools of the file. */
  tools: ToolHandle[];
  /** Every problem found. */
  errors: ToolDefinitionError[];
  /** True when nothing in the file could be read (syntax error, too large, alias bomb). */
  fatal: boolean;
  /** Where each valid tool's `name` key is (for messages about the tool as a whole). */
  nameLines?: Record<
    string,
    {
      /** 1-based line of the `name` key. */
      line: number;
      /** 1-based column of the `name` key. */
      column: number;
    }
  >;
}

/**
 * Formats a definition error as `file:line:column path: message`.
 *
 * @param e - the error
 * @returns one line
 */
export function formatToolDefinitionError(e: ToolDefinitionError): string {
  return `${e.file}:${e.line}:${e.column} ${e.path === '' ? '' : `${e.path}: `}${e.message}`;
}

/**
 * Reads and parses a tool file.
 *
 * @param file - path of a `.yaml`/`.yml` file (module handlers resolve relative to it)
 * @param options - limits and handler options
 * @returns the tools and errors; never throws for a bad file
 */
export async function loadToolFile(file: string, options: ToolFileOptions = {}): Promise<ToolFileResult> {
  const max = options.maxFileBytes ?? DEFAULT_MAX_TOOL_FILE_BYTES;
  try {
    const st = await stat(file);
    if (st.size > max) return fatal(file, `file is too large (${st.size} bytes; the limit is ${max})`);
    return parseToolFile(await readFile(file, 'utf8'), file, options);
  } catch (e) {
    return fatal(file, `cannot read the file: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function fatal(file: string, message: string, line = 1, column = 1): ToolFileResult {
  return { file, tools: [], errors: [{ file, line, column, path: '', message }], fatal: true };
}

/**
 * Parses the text of a tool file.
 *
 * @param text - YAML text
 * @param file - its path (for messages and for resolving module handlers)
 * @param options - limits and handler options
 * @returns the tools and errors; never throws for bad content
 * @example
 * ```ts
 * const { tools, errors } = parseToolFile(text, '/srv/tools/sales.yaml');
 * for (const e of errors) console.error(formatToolDefinitionError(e));
 * ```
 */
export function parseToolFile(text: string, file: string, options: ToolFileOptions = {}): ToolFileResult {
  const max = options.maxFileBytes ?? DEFAULT_MAX_TOOL_FILE_BYTES;
  if (Buffer.byteLength(text) > max)
    return fatal(file, `file is too large (${Buffer.byteLength(text)} bytes; the limit is ${max})`);
  return parseToolFileFast(text, file, options) ?? parseToolFileWithPositions(text, file, options);
}

/**
 * The fast path of {@link parseToolFile}: the common file — valid tools as a top-level mapping or
 * list, written in the plain subset of YAML (see `fastPathEligible`) — parsed with the optional peer
 * `js-yaml` when it is installed (about 20× faster than the `yaml` package with positions). Returns `undefined` whenever anything could differ from
 * {@link parseToolFileWithPositions} or anything is wrong (syntax, schema, handler…): the caller then
 * takes the positional path, so every error keeps its `file:line:column`. Does not check the file size.
 *
 * @param text - YAML text
 * @param file - its path
 * @param options - limits and handler options
 * @returns the result, or undefined to take the positional path
 * @internal
 */
export function parseToolFileFast(
  text: string,
  file: string,
  options: ToolFileOptions = {},
): ToolFileResult | undefined {
  if (!fastPathEligible(text)) return undefined;
  const fast = fastParser();
  if (fast === undefined) return undefined;
  let raw: unknown;
  try {
    raw = fast.jsyaml.load(text, { schema: fast.schema, filename: file });
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null || !keysAreSafe(raw)) return undefined;
  const items: unknown[] = Array.isArray(raw) ? raw : [raw];
  const namePositions = nameKeyPositions(text, Array.isArray(raw));
  if (namePositions?.length !== items.length) return undefined;
  const entries: Entry[] = items.map((item, i) => {
    const pos = namePositions[i] as { line: number; column: number };
    return { raw: item, prefix: Array.isArray(raw) ? [i] : [], position: () => pos };
  });
  let r: ReturnType<typeof buildTools>;
  try {
    r = buildTools(entries, file, options);
  } catch {
    return undefined; // let the positional path behave as it does
  }
  if (r.errors.length > 0 || r.tools.length !== items.length) return undefined;
  return { file, tools: r.tools, errors: [], fatal: false, nameLines: r.nameLines };
}

/**
 * The positional path of {@link parseToolFile} (the `yaml` package with a line counter): handles every
 * file and locates every error. Does not check the file size.
 *
 * @param text - YAML text
 * @param file - its path
 * @param options - limits and handler options
 * @returns the tools and errors
 * @internal
 */
export function parseToolFileWithPositions(
  text: string,
  file: string,
  options: ToolFileOptions = {},
): ToolFileResult {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter });
  if (!Array.isArray(docs)) return { file, tools: [], errors: [], fatal: false }; // empty stream
  const errors: ToolDefinitionError[] = [];
  const at = (offset: number): { line: number; column: number } => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  for (const doc of docs) {
    for (const err of doc.errors) {
      const pos = err.linePos?.[0] ?? { line: 1, col: 1 };
      const message = (err.message.split('\n')[0] ?? err.message).replace(/ at line \d+, column \d+:?$/, '');
      errors.push({
        file,
        line: pos.line,
        column: pos.col,
        path: '',
        message: `YAML syntax error: ${message}`,
      });
    }
  }
  if (errors.length > 0) return { file, tools: [], errors, fatal: true };

  const entries: Entry[] = [];
  for (const doc of docs) {
    let js: unknown;
    try {
      js = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      const start = doc.contents?.range?.[0] ?? 0;
      return fatal(
        file,
        `cannot read the document: ${e instanceof Error ? e.message : String(e)}`,
        at(start).line,
        at(start).column,
      );
    }
    if (js === null || js === undefined) continue;
    const position = (path: readonly (string | number)[]): { line: number; column: number } =>
      at(locate(doc, path));
    if (Array.isArray(js)) js.forEach((raw, i) => entries.push({ raw, prefix: [i], position }));
    else entries.push({ raw: js, prefix: [], position });
  }
  const built = buildTools(entries, file, options);
  errors.push(...built.errors);
  errors.sort((a, b) => a.line - b.line || a.column - b.column);
  return { file, tools: built.tools, errors, fatal: false, nameLines: built.nameLines };
}

/** One tool definition to check: its JS value, its path prefix in the file, and how to locate paths. */
interface Entry {
  raw: unknown;
  prefix: (string | number)[];
  /** The position of the key (or item) at a full path (prefix included). */
  position: (path: readonly (string | number)[]) => { line: number; column: number };
}

/** Validates definitions and builds their handles (shared by both paths). Errors are not sorted. */
function buildTools(
  entries: readonly Entry[],
  file: string,
  options: ToolFileOptions,
): {
  tools: ToolHandle[];
  errors: ToolDefinitionError[];
  nameLines: Record<string, { line: number; column: number }>;
} {
  const errors: ToolDefinitionError[] = [];

  const tools: ToolHandle[] = [];
  const nameLines: Record<string, { line: number; column: number }> = {};
  const seen = new Map<string, number>();
  for (const { raw, prefix, position } of entries) {
    const report = (segments: (string | number)[], message: string): void => {
      const full = [...prefix, ...segments];
      errors.push({ file, ...position(full), path: formatPath(full), message });
    };
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      report(
        [],
        `expected a tool definition (a mapping), got ${raw === null ? 'null' : Array.isArray(raw) ? 'a list' : typeof raw}`,
      );
      continue;
    }
    const before = errors.length;
    // Tool definitions are JSON at heart: YAML's .inf/.nan (or an overflowing 1e400) cannot be
    // canonicalised or sent anywhere, so they are a definition error, never a crash.
    const nonFinite = findNonFinite(raw, []);
    if (nonFinite)
      report(nonFinite, 'expected a finite number (.inf, .nan and overflowing numbers are not allowed)');
    const parsed = YamlToolDefinitionSchema.safeParse(raw);
    if (!parsed.success) {
      for (const i of zodIssueList(parsed.error.issues, raw)) report(i.segments, i.message);
    }
    // The schemas are checked even when other fields are wrong, so one pass reports every problem.
    const rawInput = (raw as Record<string, unknown>)['input'];
    const rawOutput = (raw as Record<string, unknown>)['output'];
    const input = compileJsonSchema(rawInput ?? { type: 'object' }, options.schemaLimits);
    if (!input.ok) for (const i of input.issues) report(['input', ...i.path], i.message);
    const output = rawOutput === undefined ? undefined : compileJsonSchema(rawOutput, options.schemaLimits);
    if (output && !output.ok) for (const i of output.issues) report(['output', ...i.path], i.message);
    if (!parsed.success) continue;
    const def = parsed.data;

    let invoke: ToolHandle['invoke'] | undefined;
    if (def.handler.module !== undefined) {
      const spec = {
        module: def.handler.module,
        ...(def.handler.export === undefined ? {} : { export: def.handler.export }),
      };
      const resolved = resolveModulePath(spec, file);
      if ('error' in resolved) report(['handler', 'module'], resolved.error);
      else invoke = createModuleInvoker(def.name, spec, resolved.path);
    } else if (def.handler.http !== undefined) {
      const spec = def.handler.http as HttpHandlerSpec;
      const issues = checkHttpSpec(spec);
      for (const i of issues) report(['handler', 'http', ...i.path], i.message);
      if (issues.length === 0) invoke = createHttpInvoker(def.name, spec, options.http);
    }

    const dupLine = seen.get(def.name);
    if (dupLine !== undefined)
      report(['name'], `duplicate tool name "${def.name}" (first defined at line ${dupLine})`);
    else seen.set(def.name, position([...prefix, 'name']).line);
    const namePos = position([...prefix, 'name']);

    if (errors.length > before || !input.ok || invoke === undefined || (output !== undefined && !output.ok))
      continue;
    const revision = contentVersion(raw as Json);
    nameLines[def.name] = namePos;
    const handle: ToolHandle = {
      ...toolMetaFields(def),
      version: def.version === undefined ? revision : String(def.version),
      revision,
      inputSchema: (def.input ?? { type: 'object' }) as JsonObject,
      source: file,
      validateInput: input.validator.validate,
      validateOutput: output?.ok ? output.validator.validate : checkJsonValue,
      invoke,
    };
    if (def.output !== undefined) handle.outputSchema = def.output as JsonObject;
    tools.push(Object.freeze(handle));
  }
  return { tools, errors, nameLines };
}

/** The offset of the key (or item) at `path`, or of the deepest existing ancestor. */
function locate(doc: Document, path: readonly (string | number)[]): number {
  let node: unknown = doc.contents;
  let pos = rangeStart(node) ?? 0;
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(seg));
      if (pair === undefined) break;
      pos = rangeStart(pair.key) ?? pos;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item: unknown = node.items[seg];
      if (item === undefined) break;
      pos = rangeStart(item) ?? pos;
      node = item;
    } else {
      break;
    }
  }
  return pos;
}

function rangeStart(node: unknown): number | undefined {
  if (typeof node !== 'object' || node === null || !('range' in node)) return undefined;
  const range = (node as { range?: [number, number, number] | null }).range;
  return range?.[0];
}

// --- Fast path ---------------------------------------------------------------------------------------

// The YAML 1.2 core schema exactly as the `yaml` package resolves plain scalars (yaml/dist/schema/core),
// so that both parsers type every scalar alike: `yes`/`on` stay strings, `0o17` is 15, `.inf` is
// Infinity, timestamps stay strings, `<<` is an ordinary key. Quoted scalars are never resolved.
const CORE_NULL = /^(?:~|[Nn]ull|NULL)?$/;
const CORE_BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const CORE_INT_OCT = /^0o[0-7]+$/;
const CORE_INT = /^[-+]?[0-9]+$/;
const CORE_INT_HEX = /^0x[0-9a-fA-F]+$/;
const CORE_FLOAT_NAN = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const CORE_FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const CORE_FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

const isStr = (d: unknown): d is string => typeof d === 'string';

/** The optional fast parser: `js-yaml` and the YAML 1.2 core schema built on it, or null when absent. */
let fastParserCache: { jsyaml: typeof jsyamlType; schema: jsyamlType.Schema } | null | undefined;

/**
 * Loads the optional peer `js-yaml` once (synchronously, from ESM and CommonJS alike) and builds the
 * YAML 1.2 core schema on it. Returns undefined when it is not installed: every file then takes the
 * positional path, with the same results.
 */
function fastParser(): { jsyaml: typeof jsyamlType; schema: jsyamlType.Schema } | undefined {
  if (fastParserCache !== undefined) return fastParserCache ?? undefined;
  let jsyaml: typeof jsyamlType;
  try {
    jsyaml = createRequire(import.meta.url)('js-yaml') as typeof jsyamlType;
  } catch {
    fastParserCache = null;
    return undefined;
  }
  const schema = jsyaml.FAILSAFE_SCHEMA.extend({
    implicit: [
      new jsyaml.Type('tag:yaml.org,2002:null', {
        kind: 'scalar',
        resolve: (d: unknown) => d === null || (isStr(d) && CORE_NULL.test(d)),
        construct: () => null,
      }),
      new jsyaml.Type('tag:yaml.org,2002:bool', {
        kind: 'scalar',
        resolve: (d: unknown) => isStr(d) && CORE_BOOL.test(d),
        construct: (d: string) => d[0] === 't' || d[0] === 'T',
      }),
      new jsyaml.Type('tag:yaml.org,2002:int', {
        kind: 'scalar',
        resolve: (d: unknown) =>
          isStr(d) && (CORE_INT_OCT.test(d) || CORE_INT.test(d) || CORE_INT_HEX.test(d)),
        construct: (d: string) =>
          CORE_INT_OCT.test(d)
            ? parseInt(d.substring(2), 8)
            : CORE_INT_HEX.test(d)
              ? parseInt(d.substring(2), 16)
              : parseInt(d, 10),
      }),
      new jsyaml.Type('tag:yaml.org,2002:float', {
        kind: 'scalar',
        resolve: (d: unknown) =>
          isStr(d) && (CORE_FLOAT_NAN.test(d) || CORE_FLOAT_EXP.test(d) || CORE_FLOAT.test(d)),
        construct: (d: string) =>
          CORE_FLOAT_NAN.test(d)
            ? d.slice(-3).toLowerCase() === 'nan'
              ? NaN
              : d.startsWith('-')
                ? Number.NEGATIVE_INFINITY
                : Number.POSITIVE_INFINITY
            : parseFloat(d),
      }),
    ],
  });
  fastParserCache = { jsyaml, schema };
  return fastParserCache;
}

/** Whether a key could have been written as a non-string scalar (the parsers stringify those differently). */
function keyIsAmbiguous(k: string): boolean {
  return (
    k === '__proto__' ||
    k === 'Infinity' ||
    k === '-Infinity' ||
    k === 'NaN' ||
    CORE_NULL.test(k) ||
    CORE_BOOL.test(k) ||
    CORE_INT_OCT.test(k) ||
    CORE_INT.test(k) ||
    CORE_INT_HEX.test(k) ||
    CORE_FLOAT_NAN.test(k) ||
    CORE_FLOAT_EXP.test(k) ||
    CORE_FLOAT.test(k)
  );
}

/** Whether every mapping key of a parsed value is one both parsers produce alike. */
function keysAreSafe(v: unknown): boolean {
  const stack: unknown[] = [v];
  while (stack.length > 0) {
    const cur = stack.pop();
    if (Array.isArray(cur)) stack.push(...(cur as unknown[]));
    else if (typeof cur === 'object' && cur !== null) {
      for (const [k, child] of Object.entries(cur)) {
        if (keyIsAmbiguous(k)) return false;
        stack.push(child);
      }
    }
  }
  return true;
}

const TOKEN_PREFIX = ' [{,:-';
const INDICATORS = /[&*!?@`%"'[\]{}]/;

/**
 * A conservative textual check that a file is in the subset of YAML where `js-yaml` and the `yaml`
 * package agree: one document (no `---`/`...` markers, no `%` directives), no anchors, aliases, tags,
 * merge keys or explicit `?` keys (so the alias limit of the positional path is never bypassed), no
 * tabs or BOM, no line over 1,000 characters (implicit keys are limited to 1,024), and every flow
 * collection and quoted scalar closed on the line where it opens, followed by a separator (`js-yaml`
 * accepts under-indented continuation lines and `'a'#c`, which `yaml` rejects). False rejects a file
 * that would parse alike: it only costs the positional path.
 */
function fastPathEligible(text: string): boolean {
  if (text.includes('\t') || text.includes('\uFEFF') || text.includes('<<')) return false;
  for (const rawLine of text.split('\n')) {
    if (rawLine.length > 1000) return false;
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (/^(?:---|\.\.\.|%)/.test(line)) return false;
    if (!INDICATORS.test(line)) continue; // nothing below can reject the line
    let depth = 0;
    let i = 0;
    // `after` checks what follows a closed quote or bracket.
    const after = (j: number): boolean => {
      const n = line[j];
      return n === undefined || n === ' ' || n === ',' || n === ']' || n === '}' || (n === ':' && depth > 0);
    };
    while (i < line.length) {
      const c = line[i] as string;
      const prev = i === 0 ? ' ' : (line[i - 1] as string);
      const tokenStart = TOKEN_PREFIX.includes(prev);
      if (c === '#' && prev === ' ') break; // comment
      if (c === '#' && i === 0) break;
      if (tokenStart && (c === '&' || c === '*' || c === '!' || c === '@' || c === '`' || c === '%'))
        return false;
      if (tokenStart && c === '?' && (line[i + 1] === undefined || line[i + 1] === ' ')) return false;
      if (tokenStart && (c === '"' || c === "'")) {
        let j = i + 1;
        for (;;) {
          const q = line[j];
          if (q === undefined) return false; // multi-line quoted scalar
          if (c === '"' && q === '\\') j += 2;
          else if (c === "'" && q === "'" && line[j + 1] === "'") j += 2;
          else if (q === c) break;
          else j++;
        }
        if (!after(j + 1) && line[j + 1] !== ':') return false;
        i = j + 1;
        continue;
      }
      if (tokenStart && (c === '[' || c === '{')) depth++;
      else if (depth > 0 && (c === ']' || c === '}')) {
        depth--;
        // A flow collection as a key (`[a]: b`) or followed by anything but a separator.
        if (depth === 0 && (/^ *:/.test(line.slice(i + 1)) || !after(i + 1))) return false;
        if (depth > 0 && !after(i + 1)) return false;
      }
      i++;
    }
    if (depth !== 0) return false; // multi-line flow collection
  }
  return true;
}

/**
 * The positions of the `name` keys of the tools of a file, cheaply: for a top-level block mapping, the
 * only line starting with `name:`; for a top-level block sequence (`- name: …` items at column 1, keys
 * at column 3), the only such key of each item. Undefined when the layout is anything else (the
 * positional path then locates them).
 */
function nameKeyPositions(text: string, list: boolean): { line: number; column: number }[] | undefined {
  const lines = text.split('\n');
  const key = list
    ? /^(?:- | {2})(?:name|"name"|'name') *:(?: |\r?$)/
    : /^(?:name|"name"|'name') *:(?: |\r?$)/;
  const out: ({ line: number; column: number } | undefined)[] = list ? [] : [undefined];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (list && line.startsWith('-')) {
      if (!/^- \S/.test(line)) return undefined; // e.g. "-\n  name: …"
      out.push(undefined);
    }
    if (!key.test(line)) continue;
    if (out.length === 0 || out[out.length - 1] !== undefined) return undefined; // twice in one tool
    out[out.length - 1] = { line: i + 1, column: list ? 3 : 1 };
  }
  return out.every((p) => p !== undefined) ? out : undefined;
}

/** The path of the first non-finite number inside a parsed YAML value, if any. */
function findNonFinite(value: unknown, path: (string | number)[]): (string | number)[] | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : path;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const found = findNonFinite(v, [...path, i]);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      const found = findNonFinite(v, [...path, k]);
      if (found) return found;
    }
  }
  return undefined;
}
