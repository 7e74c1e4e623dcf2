/**
 * The tool registry: every tool the agent can run, from YAML files and from code, with versions, hot
 * reload and search.
 *
 * Versions: each name keeps its last `keepVersions` versions addressable through `get(name, version)`,
 * so a todo that started with version N (the executor resolves the handle once, and the engine may pin
 * the version on the todo) finishes with version N even if the file changes meanwhile.
 *
 * Reload semantics, per file: a changed file is re-validated and its tools swapped in one synchronous
 * step (readers never see half a file). A file with errors reports `tool.invalid` and keeps the previous
 * version of every tool it held; its valid definitions still update. A deleted file unregisters its
 * tools. Tool names are unique across files: a second file defining the same name is reported invalid.
 *
 * @packageDocumentation
 */
import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { EventEmitter } from 'eventemitter3';
import { DreamAgentError } from '../errors/index.js';
import { silentLogger, type Logger } from '../ports/logger.js';
import type { Embedder, VectorStore } from '../ports/vector.js';
import { sha256Hex } from './canonical.js';
import { LexicalToolIndex, toolSearchText } from './search.js';
import type { ToolCatalog, ToolDefinitionError, ToolHandle, ToolSearchHit } from './types.js';
import {
  DEFAULT_MAX_TOOL_FILE_BYTES,
  parseToolFile,
  type ToolFileOptions,
  type ToolFileResult,
} from './yaml.js';

/** Payloads of the registry's events. */
export interface ToolRegistryEvents {
  /** A name was registered for the first time. */
  'tool.registered': {
    /** The tool as registered. */
    tool: ToolHandle;
  };
  /** A new version (or revision) of a tool became the latest. */
  'tool.updated': {
    /** The new latest version. */
    tool: ToolHandle;
    /** The version that was the latest before (still addressable while within `keepVersions`). */
    previous: ToolHandle;
  };
  /** A tool (or one version of it) was removed. */
  'tool.removed': {
    /** The tool's name. */
    name: string;
    /** The version removed; absent when the whole tool (every version) was removed. */
    version?: string;
    /** The removed handle (the latest one when the whole tool was removed). */
    tool: ToolHandle;
  };
  /** A file (or part of it) failed to load; previous versions of its tools stay registered. */
  'tool.invalid': {
    /** The file that failed, as given to the loader. */
    file: string;
    /** Every problem found, with line, column and key path. */
    errors: ToolDefinitionError[];
  };
}

/** A registry event name. */
export type ToolRegistryEventName = keyof ToolRegistryEvents;

type Listeners = { [K in ToolRegistryEventName]: (payload: ToolRegistryEvents[K]) => void };

/** Filters for {@link ToolRegistry.list}. */
export interface ToolFilter {
  /** Only tools of this domain (exact match). */
  domain?: string;
  /** Only tools carrying this tag (exact match). */
  tag?: string;
  /** The defining file (absolute path) or `<code>`. */
  source?: string;
}

/** Options of the {@link ToolRegistry}. */
export interface ToolRegistryOptions {
  /** Where load and reload problems are logged (default: silent). */
  logger?: Logger;
  /** Versions kept addressable per tool name (default 5, at least 1). */
  keepVersions?: number;
  /** With `vectorStore`, makes `search` semantic. */
  embedder?: Embedder;
  /** With `embedder`, where the tools' description vectors are kept for semantic `search`. */
  vectorStore?: VectorStore;
  /** Options for loading YAML files (schema limits, http env/fetch, file size). */
  files?: ToolFileOptions;
}

/** Options of {@link ToolRegistry.watch}. */
export interface WatchOptions {
  /** Quiet time after the last change before reloading (default 25 ms). */
  debounceMs?: number;
  /**
   * Poll instead of using `fs.watch` (a number is the interval in ms, default 500). Polling is also
   * the fallback when `fs.watch` is unavailable or fails.
   */
  poll?: boolean | number;
}

/** A running watch; `close` stops it. */
export interface ToolWatcher {
  /** The absolute directory watched. */
  readonly dir: string;
  /** Applies pending changes now and resolves when they are applied. */
  flush(): Promise<void>;
  /**
   * Stops watching: releases the file watcher and timers and waits for a reload in progress; later changes
   * are not applied.
   */
  close(): Promise<void>;
}

/** The outcome of {@link ToolRegistry.discover}. */
export interface DiscoverResult {
  /** Tool files found. */
  files: number;
  /** Tools registered or updated by this call. */
  tools: ToolHandle[];
  /** Every definition error found. */
  errors: ToolDefinitionError[];
}

interface Entry {
  owner: string;
  /** Oldest first; the last one is the latest. */
  versions: Map<string, ToolHandle>;
  latest: ToolHandle;
}

interface FileRecord {
  names: Set<string>;
  hash: string;
  mtimeMs: number;
  size: number;
}

type LoadedFile = ToolFileResult & { hash: string; mtimeMs: number; size: number };

const CODE = '<code>';
const VECTOR_KIND = 'dream-agent.tool';
const isToolFile = (name: string): boolean => {
  const ext = extname(name).toLowerCase();
  return ext === '.yaml' || ext === '.yml';
};

/**
 * The tool registry.
 *
 * @example
 * ```ts
 * const tools = new ToolRegistry({ logger });
 * tools.on('tool.invalid', ({ file, errors }) => errors.forEach((e) => logger.warn(e)));
 * await tools.watch('./tools');      // discover + hot reload
 * tools.register(defineTool({ … })); // code tools live beside YAML tools
 * const agent = new Agent({ tools });
 * ```
 */
export class ToolRegistry implements ToolCatalog {
  private readonly entries = new Map<string, Entry>();
  private readonly files = new Map<string, FileRecord>();
  private readonly emitter = new EventEmitter<Listeners>();
  private readonly logger: Logger;
  private readonly keep: number;
  private readonly watchers = new Set<ToolWatcher>();
  private lexical: LexicalToolIndex | undefined;
  private readonly vectorPending = new Map<string, ToolHandle | null>();
  private vectorFlush: Promise<void> = Promise.resolve();
  private vectorScheduled = false;
  /** While a file is swapped in, events wait here so observers only ever see the whole new state. */
  private deferred: (() => void)[] | undefined;

  /** @param options - logger, versions kept, vector search, file options */
  constructor(private readonly options: ToolRegistryOptions = {}) {
    this.logger = options.logger ?? silentLogger;
    this.keep = Math.max(1, options.keepVersions ?? 5);
  }

  /**
   * Subscribes to a registry event.
   *
   * @param event - `tool.registered`, `tool.updated`, `tool.removed` or `tool.invalid`
   * @param fn - called with the event's payload (exceptions are logged, not propagated)
   * @returns a function that unsubscribes
   */
  on<K extends ToolRegistryEventName>(event: K, fn: (payload: ToolRegistryEvents[K]) => void): () => void {
    const listener = fn as unknown as Listeners[K];
    this.emitter.on(event, listener as never);
    return () => {
      this.emitter.off(event, listener as never);
    };
  }

  /**
   * @param name - the tool name
   * @param version - a specific version (one of the last few); the latest when omitted
   * @returns the tool, or undefined
   */
  get(name: string, version?: string): ToolHandle | undefined {
    const e = this.entries.get(name);
    if (e === undefined) return undefined;
    return version === undefined ? e.latest : e.versions.get(version);
  }

  /**
   * @param name - the tool name
   * @returns the versions still addressable, oldest first
   */
  versions(name: string): string[] {
    return [...(this.entries.get(name)?.versions.keys() ?? [])];
  }

  /**
   * @param filter - domain, tag and/or source to match
   * @returns the latest version of each matching tool, sorted by name
   */
  list(filter: ToolFilter = {}): ToolHandle[] {
    const out: ToolHandle[] = [];
    for (const e of this.entries.values()) {
      const t = e.latest;
      if (filter.domain !== undefined && t.domain !== filter.domain) continue;
      if (filter.tag !== undefined && !t.tags.includes(filter.tag)) continue;
      if (filter.source !== undefined && (t.source ?? CODE) !== filter.source) continue;
      out.push(t);
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Registers a tool made in code (`defineTool`) or a {@link ToolHandle} built by hand. Registering a
   * new version of a name makes it the latest; the same version and revision again is a no-op.
   *
   * @param tool - the tool
   * @returns the registered tool
   * @throws DreamAgentError `TOOL_INVALID` when the name belongs to a YAML file
   */
  register(tool: ToolHandle): ToolHandle {
    const owner = this.entries.get(tool.name)?.owner;
    if (owner !== undefined && owner !== CODE) {
      throw new DreamAgentError('TOOL_INVALID', `tool "${tool.name}" is already defined in ${owner}`, {
        retryable: false,
        details: { tool: tool.name, source: owner },
      });
    }
    this.upsert(tool, CODE);
    return this.get(tool.name, tool.version) ?? tool;
  }

  /**
   * Removes a tool, or one version of it.
   *
   * @param name - the tool name
   * @param version - one version to remove; every version when omitted
   * @returns whether something was removed
   */
  unregister(name: string, version?: string): boolean {
    const e = this.entries.get(name);
    if (e === undefined) return false;
    if (version === undefined) {
      this.entries.delete(name);
      this.files.get(e.owner)?.names.delete(name);
      this.changed(name, null);
      this.emit('tool.removed', { name, tool: e.latest });
      return true;
    }
    const tool = e.versions.get(version);
    if (tool === undefined) return false;
    e.versions.delete(version);
    const last = [...e.versions.values()].at(-1);
    if (last === undefined) {
      this.entries.delete(name);
      this.files.get(e.owner)?.names.delete(name);
      this.changed(name, null);
    } else if (e.latest === tool) {
      e.latest = last;
      this.changed(name, last);
    }
    this.emit('tool.removed', { name, version, tool });
    return true;
  }

  /**
   * Loads (or reloads) one YAML file.
   *
   * @param file - the file path
   * @returns what the file produced (errors are also emitted as `tool.invalid`)
   */
  async loadFile(file: string): Promise<ToolFileResult> {
    const abs = resolve(file);
    const st = await stat(abs).catch(() => undefined);
    if (st === undefined) {
      this.removeFile(abs);
      return { file: abs, tools: [], errors: [], fatal: false };
    }
    return (
      (await this.syncFile(abs, { mtimeMs: st.mtimeMs, size: st.size }, true)) ?? {
        file: abs,
        tools: [],
        errors: [],
        fatal: false,
      }
    );
  }

  /**
   * Loads every `*.yaml`/`*.yml` file under a directory (recursively; dot-directories and
   * `node_modules` are skipped). Files loaded from this directory before and now gone are unregistered.
   *
   * @param dir - the directory
   * @returns counts, the tools loaded and every error (bad files never throw)
   * @throws DreamAgentError `INVALID_INPUT` when the directory does not exist
   */
  async discover(dir: string): Promise<DiscoverResult> {
    const abs = resolve(dir);
    const st = await stat(abs).catch(() => undefined);
    if (!st?.isDirectory()) {
      throw new DreamAgentError('INVALID_INPUT', `tool directory not found: ${dir}`, { details: { dir } });
    }
    return this.syncDir(abs, true);
  }

  /**
   * Discovers a directory and keeps it loaded: changes are re-validated and swapped in, broken files keep
   * the previous versions (and emit `tool.invalid`), deleted files unregister their tools.
   *
   * @param dir - the directory
   * @param options - debounce and polling
   * @returns the watcher (also closed by {@link ToolRegistry.close})
   * @throws DreamAgentError `INVALID_INPUT` when the directory does not exist
   */
  async watch(dir: string, options: WatchOptions = {}): Promise<ToolWatcher> {
    const abs = resolve(dir);
    const st = await stat(abs).catch(() => undefined);
    if (!st?.isDirectory()) {
      throw new DreamAgentError('INVALID_INPUT', `tool directory not found: ${dir}`, { details: { dir } });
    }
    const debounceMs = options.debounceMs ?? 25;
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    let pollTimer: NodeJS.Timeout | undefined;
    let fsw: FSWatcher | undefined;
    let running: Promise<void> | undefined;
    let again = false;
    // Paths reported by fs.watch since the last run; `null` means "rescan everything".
    let changed: Set<string> | null = new Set();
    // Follow-up rescans after a directory change (see run), cleared on close.
    const settle = new Set<NodeJS.Timeout>();

    const run = async (): Promise<void> => {
      if (running) {
        again = true;
        return running;
      }
      const paths = changed;
      changed = new Set();
      running = (async () => {
        try {
          let dirChanged = false;
          if (paths === null) await this.syncDir(abs, false);
          else {
            // Paths that are gone first, as in syncDir: a file renamed within the tree (sub/b.yml →
            // c.yaml) reports both paths in one batch, in either order; reading the new path first
            // would refuse its tools as defined twice and then drop them with the old path.
            const list = [...paths];
            const gone = await Promise.all(
              list.map((p) =>
                stat(p).then(
                  () => false,
                  () => true,
                ),
              ),
            );
            const ordered = [...list.filter((_, i) => gone[i]), ...list.filter((_, i) => !gone[i])];
            for (const p of ordered) dirChanged = (await this.syncPath(abs, p)) || dirChanged;
          }
          // A recursive fs.watch attaches to a new directory only after it appears (Node emulates it
          // per directory on Linux): a file written into it before then raises no event at all. Look
          // again once the watcher has caught up, so such a file is never missed.
          if (dirChanged && !closed) {
            for (const ms of [100, 1000]) {
              const t = setTimeout(() => {
                settle.delete(t);
                schedule(null);
              }, ms).unref();
              settle.add(t);
            }
          }
        } catch (e) {
          this.logger.error({ err: e, dir: abs }, 'tool reload failed');
        }
      })();
      await running;
      running = undefined;
      if (again && !closed) {
        again = false;
        await run();
      }
    };
    const schedule = (path: string | null): void => {
      if (closed) return;
      if (path === null) changed = null;
      else changed?.add(path);
      clearTimeout(timer);
      timer = setTimeout(() => void run(), debounceMs);
    };
    const startPolling = (interval: number): void => {
      pollTimer = setInterval(() => schedule(null), interval);
    };

    if (options.poll !== undefined && options.poll !== false) {
      startPolling(typeof options.poll === 'number' ? options.poll : 500);
    } else {
      try {
        fsw = fsWatch(abs, { recursive: true }, (_event, filename) =>
          schedule(filename === null ? null : join(abs, filename.toString())),
        );
        fsw.on('error', (err) => {
          this.logger.warn({ err, dir: abs }, 'fs.watch failed; polling the tool directory instead');
          fsw?.close();
          fsw = undefined;
          if (!closed) startPolling(500);
        });
      } catch (err) {
        this.logger.warn({ err, dir: abs }, 'fs.watch is unavailable; polling the tool directory instead');
        startPolling(500);
      }
    }
    await this.syncDir(abs, false);

    const watcher: ToolWatcher = {
      dir: abs,
      flush: async () => {
        clearTimeout(timer);
        changed = null;
        await run();
      },
      close: async () => {
        closed = true;
        clearTimeout(timer);
        clearInterval(pollTimer);
        for (const t of settle) clearTimeout(t);
        fsw?.close();
        this.watchers.delete(watcher);
        await running;
      },
    };
    this.watchers.add(watcher);
    return watcher;
  }

  /**
   * Finds tools for a query: semantic through the VectorStore + Embedder when configured, lexical (BM25
   * over names, tags, descriptions) otherwise or when the vector path fails.
   *
   * @param query - free text
   * @param k - how many hits at most (default 5)
   * @returns the hits, best first
   */
  async search(query: string, k = 5): Promise<ToolSearchHit[]> {
    const { embedder, vectorStore } = this.options;
    if (embedder !== undefined && vectorStore !== undefined) {
      try {
        await this.vectorFlush;
        const [vector] = await embedder.embed([query]);
        if (vector === undefined) throw new Error('the embedder returned no vector');
        const matches = await vectorStore.query(vector, k, { kind: VECTOR_KIND });
        const hits: ToolSearchHit[] = [];
        for (const m of matches) {
          const name =
            typeof m.metadata?.['name'] === 'string' ? m.metadata['name'] : m.id.replace(/^tool:/, '');
          const tool = this.get(name);
          if (tool !== undefined) hits.push({ tool, score: m.score });
        }
        return hits;
      } catch (err) {
        this.logger.warn({ err }, 'vector tool search failed; using lexical search');
      }
    }
    this.lexical ??= new LexicalToolIndex(this.list());
    return this.lexical.search(query, k);
  }

  /** Stops every watcher and waits for pending vector-index writes. */
  async close(): Promise<void> {
    await Promise.all([...this.watchers].map((w) => w.close()));
    await this.vectorFlush;
  }

  // ---------------------------------------------------------------------------------------------

  private emit<K extends ToolRegistryEventName>(event: K, payload: ToolRegistryEvents[K]): void {
    if (this.deferred !== undefined) {
      this.deferred.push(() => this.emit(event, payload));
      return;
    }
    // Listeners are called one by one so that a throwing observer cannot stop the others — or leave
    // the registry half-updated.
    for (const fn of this.emitter.listeners(event)) {
      try {
        (fn as (p: ToolRegistryEvents[K]) => void)(payload);
      } catch (err) {
        this.logger.error({ err, event }, 'tool registry listener threw');
      }
    }
  }

  /** Inserts or updates one tool; returns whether anything changed. */
  private upsert(tool: ToolHandle, owner: string): 'registered' | 'updated' | 'unchanged' {
    const e = this.entries.get(tool.name);
    if (e === undefined) {
      this.entries.set(tool.name, { owner, versions: new Map([[tool.version, tool]]), latest: tool });
      this.changed(tool.name, tool);
      this.emit('tool.registered', { tool });
      return 'registered';
    }
    const same = e.versions.get(tool.version);
    if (
      same === tool ||
      (same !== undefined &&
        same === e.latest &&
        same.revision !== undefined &&
        same.revision === tool.revision)
    ) {
      return 'unchanged';
    }
    const previous = e.latest;
    e.versions.delete(tool.version);
    e.versions.set(tool.version, tool);
    e.latest = tool;
    e.owner = owner;
    while (e.versions.size > this.keep) {
      const oldest = e.versions.keys().next().value as string;
      e.versions.delete(oldest);
    }
    this.changed(tool.name, tool);
    this.emit('tool.updated', { tool, previous });
    return 'updated';
  }

  /** Marks the search indexes stale for a name (`null`: removed). */
  private changed(name: string, tool: ToolHandle | null): void {
    this.lexical = undefined;
    if (this.options.embedder === undefined || this.options.vectorStore === undefined) return;
    this.vectorPending.set(name, tool);
    if (this.vectorScheduled) return;
    this.vectorScheduled = true;
    // Batched: discovering a thousand files makes a handful of embed calls, not a thousand.
    this.vectorFlush = this.vectorFlush
      .then(() => new Promise<void>((r) => setImmediate(r)))
      .then(() => this.flushVectors());
  }

  private async flushVectors(): Promise<void> {
    this.vectorScheduled = false;
    const { embedder, vectorStore } = this.options;
    if (embedder === undefined || vectorStore === undefined) return;
    const batch = [...this.vectorPending];
    this.vectorPending.clear();
    const upserts = batch.filter((b): b is [string, ToolHandle] => b[1] !== null);
    const deletes = batch.filter((b) => b[1] === null).map(([name]) => `tool:${name}`);
    try {
      for (let i = 0; i < upserts.length; i += 128) {
        const chunk = upserts.slice(i, i + 128);
        const vectors = await embedder.embed(chunk.map(([, t]) => toolSearchText(t)));
        await vectorStore.upsert(
          chunk.map(([name, t], j) => ({
            id: `tool:${name}`,
            vector: vectors[j] ?? [],
            metadata: { kind: VECTOR_KIND, name, version: t.version },
          })),
        );
      }
      if (deletes.length > 0) await vectorStore.delete(deletes);
    } catch (err) {
      this.logger.warn({ err }, 'indexing tools in the vector store failed');
    }
  }

  private async syncDir(dir: string, force: boolean): Promise<DiscoverResult> {
    const found = await walk(dir);
    const foundSet = new Set(found);
    // Removals first, so that a file renamed (a.yaml → b.yaml) does not conflict with itself.
    for (const file of [...this.files.keys()]) {
      if (file.startsWith(dir + sep) && !foundSet.has(file)) this.removeFile(file);
    }
    const stats = await Promise.all(
      found.map(async (f) => {
        const st = await stat(f).catch(() => undefined);
        return st === undefined ? undefined : { file: f, mtimeMs: st.mtimeMs, size: st.size };
      }),
    );
    const result: DiscoverResult = { files: found.length, tools: [], errors: [] };
    const live = stats.filter((s) => s !== undefined);
    // Read in parallel (bounded), apply in a deterministic order.
    const loaded = new Array<LoadedFile | undefined>(live.length);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(32, live.length) }, async () => {
        while (next < live.length) {
          const i = next++;
          const s = live[i] as { file: string; mtimeMs: number; size: number };
          loaded[i] = await this.readChanged(s.file, s, force);
        }
      }),
    );
    for (let i = 0; i < live.length; i++) {
      const r = loaded[i];
      if (r === undefined) continue;
      const applied = this.applyFile(r);
      result.tools.push(...applied.tools);
      result.errors.push(...applied.errors);
    }
    return result;
  }

  /**
   * Handles one path reported by fs.watch.
   * @returns whether a directory appeared, vanished or was renamed (the whole tree was rescanned)
   */
  private async syncPath(dir: string, path: string): Promise<boolean> {
    const st = await stat(path).catch(() => undefined);
    if (st?.isDirectory() || (st === undefined && !isToolFile(path))) {
      await this.syncDir(dir, false); // a directory appeared, vanished or was renamed
      return true;
    }
    if (!isToolFile(path) || path.split(sep).some((s) => s.startsWith('.') || s === 'node_modules'))
      return false;
    if (st === undefined) this.removeFile(path);
    else await this.syncFile(path, { mtimeMs: st.mtimeMs, size: st.size }, false);
    return false;
  }

  private async syncFile(
    file: string,
    st: { mtimeMs: number; size: number },
    force: boolean,
  ): Promise<ToolFileResult | undefined> {
    const r = await this.readChanged(file, st, force);
    if (r === undefined) return undefined;
    const applied = this.applyFile(r);
    return { ...r, errors: applied.errors };
  }

  /** Reads and parses a file unless it is unchanged since the last load. */
  private async readChanged(
    file: string,
    st: { mtimeMs: number; size: number },
    force: boolean,
  ): Promise<LoadedFile | undefined> {
    const prev = this.files.get(file);
    if (!force && prev !== undefined && prev.mtimeMs === st.mtimeMs && prev.size === st.size)
      return undefined;
    const max = this.options.files?.maxFileBytes ?? DEFAULT_MAX_TOOL_FILE_BYTES;
    let text: string;
    try {
      text = st.size > max ? '' : await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        this.removeFile(file);
        return undefined;
      }
      throw e;
    }
    if (!force && text.trim() === '' && prev !== undefined && prev.names.size > 0) {
      // Editors and writeFile truncate before writing: an empty read is almost always a save in
      // progress, not a request to drop every tool. The write that follows triggers another event.
      // (To remove the tools, delete the file.)
      return undefined;
    }
    const hash = sha256Hex(text);
    if (!force && prev !== undefined && prev.hash === hash) {
      prev.mtimeMs = st.mtimeMs;
      prev.size = st.size;
      return undefined;
    }
    const parsed =
      st.size > max
        ? {
            file,
            tools: [],
            errors: [
              {
                file,
                line: 1,
                column: 1,
                path: '',
                message: `file is too large (${st.size} bytes; the limit is ${max})`,
              },
            ],
            fatal: true,
          }
        : parseToolFile(text, file, this.options.files);
    return { ...parsed, hash, mtimeMs: st.mtimeMs, size: st.size };
  }

  /** Swaps a file's tools in, synchronously (atomic for every reader). */
  private applyFile(r: LoadedFile): {
    tools: ToolHandle[];
    errors: ToolDefinitionError[];
  } {
    this.deferred = [];
    try {
      return this.swapFile(r);
    } finally {
      const events = this.deferred;
      this.deferred = undefined;
      for (const fire of events) fire();
    }
  }

  private swapFile(r: LoadedFile): { tools: ToolHandle[]; errors: ToolDefinitionError[] } {
    const file = r.file;
    const errors = [...r.errors];
    const prev = this.files.get(file);
    const prevNames = prev?.names ?? new Set<string>();
    const accepted: ToolHandle[] = [];
    for (const tool of r.tools) {
      const owner = this.entries.get(tool.name)?.owner;
      if (owner !== undefined && owner !== file) {
        const pos = r.nameLines?.[tool.name] ?? { line: 1, column: 1 };
        errors.push({
          file,
          line: pos.line,
          column: pos.column,
          path: 'name',
          message: `tool "${tool.name}" is already defined in ${owner}`,
        });
      } else {
        accepted.push(tool);
      }
    }
    const names = new Set(accepted.map((t) => t.name));
    const changedTools: ToolHandle[] = [];
    for (const tool of accepted) {
      if (this.upsert(tool, file) !== 'unchanged') changedTools.push(tool);
    }
    if (!r.fatal && errors.length === 0) {
      // Only a clean file removes tools: a broken one keeps what it had.
      for (const name of prevNames) {
        if (!names.has(name) && this.entries.get(name)?.owner === file) this.unregister(name);
      }
    } else {
      for (const name of prevNames) if (this.entries.get(name)?.owner === file) names.add(name);
    }
    this.files.set(file, { names, hash: r.hash, mtimeMs: r.mtimeMs, size: r.size });
    if (errors.length > 0) {
      errors.sort((a, b) => a.line - b.line || a.column - b.column);
      this.logger.warn({ file, errors }, `invalid tool file ${file}`);
      this.emit('tool.invalid', { file, errors });
    }
    return { tools: changedTools, errors };
  }

  private removeFile(file: string): void {
    const rec = this.files.get(file);
    if (rec === undefined) return;
    this.files.delete(file);
    for (const name of rec.names) if (this.entries.get(name)?.owner === file) this.unregister(name);
  }
}

async function walk(dir: string, depth = 0): Promise<string[]> {
  if (depth > 32) return [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  const subdirs: Promise<string[]>[] = [];
  for (const d of entries) {
    if (d.name.startsWith('.') || d.name === 'node_modules') continue;
    const p = join(dir, d.name);
    if (d.isDirectory()) subdirs.push(walk(p, depth + 1));
    else if (d.isFile() && isToolFile(d.name)) out.push(p);
  }
  for (const s of await Promise.all(subdirs)) out.push(...s);
  return out.sort();
}
