/**
 * YAML tool files: one tool per file, or several as a list (multi-document files work too).
 *
 * Every problem is reported as a {@link ToolDefinitionError} with the file, the line and column of the
 * offending key, the key path and what was expected. A file is never all-or-nothing for its siblings:
 * the valid definitions of a file load even when another one in it is broken. The parser's alias limit
 * stays at its default (`maxAliasCount: 100`), so "billion laughs" documents are refused.
 *
 * @packageDocumentation
 */
import { readFile, stat } from 'node:fs/promises';
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
  handler: z
    .strictObject({
      module: z.string().min(1).optional(),
      export: z.string().min(1).optional(),
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
  file: string;
  /** The valid tools of the file. */
  tools: ToolHandle[];
  /** Every problem found. */
  errors: ToolDefinitionError[];
  /** True when nothing in the file could be read (syntax error, too large, alias bomb). */
  fatal: boolean;
  /** Where each valid tool's `name` key is (for messages about the tool as a whole). */
  nameLines?: Record<string, { line: number; column: number }>;
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

  const entries: { raw: unknown; prefix: (string | number)[]; doc: Document }[] = [];
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
    if (Array.isArray(js)) js.forEach((raw, i) => entries.push({ raw, prefix: [i], doc }));
    else entries.push({ raw: js, prefix: [], doc });
  }

  const tools: ToolHandle[] = [];
  const nameLines: Record<string, { line: number; column: number }> = {};
  const seen = new Map<string, number>();
  for (const { raw, prefix, doc } of entries) {
    const report = (segments: (string | number)[], message: string): void => {
      const full = [...prefix, ...segments];
      errors.push({ file, ...at(locate(doc, full)), path: formatPath(full), message });
    };
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      report(
        [],
        `expected a tool definition (a mapping), got ${raw === null ? 'null' : Array.isArray(raw) ? 'a list' : typeof raw}`,
      );
      continue;
    }
    const before = errors.length;
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
    else seen.set(def.name, at(locate(doc, [...prefix, 'name'])).line);
    const namePos = at(locate(doc, [...prefix, 'name']));

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
  errors.sort((a, b) => a.line - b.line || a.column - b.column);
  return { file, tools, errors, fatal: false, nameLines };
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
