/**
 * Module handlers: `handler: { module: ./handlers/x.js, export: fn }`, resolved relative to the YAML file
 * and imported lazily on first use, so loading a thousand tools imports nothing.
 *
 * @packageDocumentation
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DreamAgentError } from '../../errors/index.js';
import type { Json } from '../../model/json.js';
import type { ToolContext } from '../types.js';

/** A handler function: receives the validated input and the tool context, returns the output. */
export type ToolHandlerFn = (input: Json, ctx: ToolContext) => Json | Promise<Json>;

/** `handler: { module, export }` in a tool definition. */
export interface ModuleHandlerSpec {
  /** A file path, relative to the definition file (`./handlers/x.js`) or absolute. */
  module: string;
  /** The named export to call (default: `default`). */
  export?: string;
}

/**
 * Resolves a module handler path against the definition file.
 *
 * @param spec - the handler spec
 * @param definitionFile - the YAML file the spec came from
 * @returns the absolute module path, or an error message
 */
export function resolveModulePath(
  spec: ModuleHandlerSpec,
  definitionFile: string,
): { path: string } | { error: string } {
  const m = spec.module;
  if (!(m.startsWith('./') || m.startsWith('../') || isAbsolute(m))) {
    return { error: `expected a relative ("./…") or absolute file path, got ${JSON.stringify(m)}` };
  }
  const path = resolve(dirname(definitionFile), m);
  if (!existsSync(path)) return { error: `module file not found: ${m}` };
  return { path };
}

/**
 * Creates the invoker of a module handler. Nothing is imported until the first call; a failed import is
 * retried on the next call (the file may be fixed meanwhile).
 *
 * @param toolName - the tool (for error messages)
 * @param spec - the handler spec
 * @param modulePath - the absolute module path (see {@link resolveModulePath})
 * @returns an invoke function
 */
export function createModuleInvoker(
  toolName: string,
  spec: ModuleHandlerSpec,
  modulePath: string,
): (input: Json, ctx: ToolContext) => Promise<Json> {
  const exportName = spec.export ?? 'default';
  let loading: Promise<ToolHandlerFn> | undefined;
  const load = async (): Promise<ToolHandlerFn> => {
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(modulePath).href)) as Record<string, unknown>;
    } catch (e) {
      throw new DreamAgentError(
        'TOOL_INVALID',
        `tool "${toolName}": cannot load handler module ${spec.module}`,
        {
          cause: e,
          retryable: false,
          details: { tool: toolName, module: spec.module },
        },
      );
    }
    const fn = mod[exportName];
    if (typeof fn !== 'function') {
      throw new DreamAgentError(
        'TOOL_INVALID',
        `tool "${toolName}": handler module ${spec.module} has no function export "${exportName}"`,
        { retryable: false, details: { tool: toolName, module: spec.module, export: exportName } },
      );
    }
    return fn as ToolHandlerFn;
  };
  return async (input, ctx) => {
    loading ??= load();
    let fn: ToolHandlerFn;
    try {
      fn = await loading;
    } catch (e) {
      loading = undefined;
      throw e;
    }
    return fn(input, ctx);
  };
}
