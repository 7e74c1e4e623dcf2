/**
 * `@dream-agent/faiss`: a {@link VectorStore} on FAISS through `faiss-node`.
 *
 * One FAISS index per namespace, built with the index factory (`Flat`, `HNSW32`, `IVF256,Flat`, …)
 * for cosine (inner product over normalised vectors), inner product or L2. String ids map to FAISS's
 * integer labels (positions); metadata and a float32 copy of every vector are kept beside the index so
 * that deletes, replacements, metadata filters and rebuilds work on every index type (HNSW cannot
 * remove vectors: a delete marks a tombstone, and the index is rebuilt once tombstones pass a share).
 * Persistence goes to a directory written atomically: new index, metadata and vector files under a new
 * generation name, then a manifest written to a temp file and renamed over the old one, so a crash at
 * any point leaves the previous generation or the new one — never a mismatched pair.
 *
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DreamAgentError } from 'dream-agent';
import {
  checkK,
  checkSpaceChange,
  checkUpsert,
  checkVector,
  compileVectorFilter,
  TopK,
  vectorNamespace,
} from 'dream-agent/adapter-kit';
import type {
  JsonObject,
  VectorFilter,
  VectorItem,
  VectorMatch,
  VectorScope,
  VectorSpaceInfo,
  VectorStore,
} from 'dream-agent';

/** The part of a faiss-node `Index` this adapter uses (structural, so faiss types stay optional). */
export interface FaissIndex {
  ntotal(): number;
  getDimension(): number;
  isTrained(): boolean;
  add(x: number[]): void;
  train(x: number[]): void;
  search(x: number[], k: number): { distances: number[]; labels: number[] };
  toBuffer(): Buffer;
}

/** The part of the `faiss-node` module this adapter uses. */
export interface FaissModule {
  Index: {
    fromFactory(dims: number, descriptor: string, metric?: number): FaissIndex;
    fromBuffer(src: Buffer): FaissIndex;
  };
}

/** How similarity is measured. */
export type FaissMetric = 'cosine' | 'ip' | 'l2';

/** Options of {@link FaissVectorStore}. */
export interface FaissVectorStoreOptions {
  /**
   * Directory the store persists to (created if missing; loaded if it holds a store). Without it the
   * store lives in memory only.
   */
  directory?: string;
  /**
   * `cosine` (default: vectors are normalised, inner product, score = cosine in [-1, 1]), `ip` (raw
   * inner product, score = inner product) or `l2` (score = −squared L2 distance, so higher is closer).
   */
  metric?: FaissMetric;
  /**
   * FAISS index factory description (default `Flat`: exact). `HNSW32` (approximate, no training),
   * `IVF<n>,Flat` (trained on the first `trainSize` vectors; exact search until then), or any other
   * description faiss accepts. Applies to namespaces created by this instance; loaded ones keep theirs.
   */
  index?: string;
  /**
   * HNSW: search breadth (faiss `efSearch`), written into each HNSW index this instance creates or
   * opens (a reopened namespace searches with the value of the instance that opened it). Default 64.
   * Raising it trades query time for recall on a built graph; it cannot make up for a sparse graph
   * (see `efConstruction` and the M in `HNSW<M>`). faiss-node has no setter: the store writes the value
   * into the serialised index, and checks once per binary at open that the binary reads back what was
   * written (a binary that does not is refused when this option is set with an HNSW `index`; otherwise
   * HNSW indexes keep FAISS's own efSearch, 16, and a `DREAM_AGENT_FAISS_HNSW_PARAMS` process warning
   * says so).
   */
  efSearch?: number;
  /**
   * HNSW: build breadth (faiss `efConstruction`, FAISS's default 40) of indexes this instance creates —
   * how many candidates each insert considers when choosing its links. Higher builds a better graph
   * (higher recall at the same `efSearch`) at a build time roughly proportional to it; 100–200 is usual
   * for hard data. The graph's degree is the M of the description (`HNSW16`, `HNSW32`, `HNSW64`: 2·M
   * links per vector on the base layer, memory and build time grow with it). faiss-node exposes neither
   * setting, so it is written into the new, empty index's serialised form and read back; it is saved
   * with the index, so a reopened namespace keeps building with the value it was created with (a
   * compaction rebuilds with this instance's value). Applies to `HNSW<M>`, `HNSW<M>,Flat`, `,SQ8`,
   * `,PQ<m>` descriptions; any other description with this option is refused.
   */
  efConstruction?: number;
  /** IVF: lists probed per query (default 8). */
  nprobe?: number;
  /** IVF: vectors gathered before training (default `max(256, 40 × nlist)`). */
  trainSize?: number;
  /** Rebuild a namespace's index when this share of its labels are tombstones (default 0.3). */
  compactAt?: number;
  /** Save after every write, coalesced (default false: call {@link FaissVectorStore.save} or `close`). */
  autosave?: boolean;
  /** The faiss-node module (default: `import('faiss-node')`). */
  faiss?: FaissModule;
}

const METRIC_INNER_PRODUCT = 0;
const METRIC_L2 = 1;
const MANIFEST = 'manifest.json';
const FORMAT = 1;

interface ManifestSpace {
  file: string;
  dimensions: number;
  model?: string;
  metric: FaissMetric;
  index: string;
  count: number;
}

interface Manifest {
  format: number;
  generation: number;
  spaces: Record<string, ManifestSpace>;
}

/** One namespace: a FAISS index over labels 0..n-1, and per label its id, metadata and vector. */
class Space {
  index: FaissIndex | undefined;
  /** Labels added to `index` (labels past it wait for IVF training). */
  indexed = 0;
  ids: (string | null)[] = [];
  metadata: (JsonObject | undefined)[] = [];
  /** The same metadata as JSON, for returning private copies cheaply. */
  metadataJson: (string | undefined)[] = [];
  vectors = new Float32Array(0);
  readonly labelOf = new Map<string, number>();
  tombstones = 0;
  /** Reused for every query of this namespace (see `FaissVectorStore#prepare`). */
  readonly query: number[];

  constructor(
    readonly dim: number,
    readonly metric: FaissMetric,
    readonly description: string,
    public model: string | undefined,
  ) {
    this.query = new Array<number>(dim).fill(0);
  }

  get count(): number {
    return this.labelOf.size;
  }

  get labels(): number {
    return this.ids.length;
  }

  vector(label: number): Float32Array {
    return this.vectors.subarray(label * this.dim, label * this.dim + this.dim);
  }

  append(id: string, vector: readonly number[], metadata: JsonObject | undefined): void {
    const label = this.ids.length;
    const need = (label + 1) * this.dim;
    if (this.vectors.length < need) {
      const next = new Float32Array(Math.max(need, 2 * this.vectors.length, 64 * this.dim));
      next.set(this.vectors);
      this.vectors = next;
    }
    let scale = 1;
    if (this.metric === 'cosine') {
      let norm = 0;
      for (const v of vector) norm += v * v;
      scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    }
    const base = label * this.dim;
    for (let i = 0; i < this.dim; i++) this.vectors[base + i] = vector[i]! * scale;
    this.ids.push(id);
    const json = metadata === undefined ? undefined : JSON.stringify(metadata);
    this.metadataJson.push(json);
    this.metadata.push(json === undefined ? undefined : (JSON.parse(json) as JsonObject));
    this.labelOf.set(id, label);
  }

  kill(id: string): boolean {
    const label = this.labelOf.get(id);
    if (label === undefined) return false;
    this.labelOf.delete(id);
    this.ids[label] = null;
    this.metadata[label] = undefined;
    this.metadataJson[label] = undefined;
    this.tombstones += 1;
    return true;
  }
}

/** Turns a namespace into a file-name stem (any namespace character outside [A-Za-z0-9-] is hex-escaped). */
const fileStem = (ns: string): string =>
  ns.replace(/[^A-Za-z0-9-]/g, (c) => `_${c.charCodeAt(0).toString(16)}`);

async function writeDurably(path: string, data: Buffer | string): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    /* some filesystems do not sync directories; the rename is still atomic */
  }
}

/**
 * IVF `nprobe` is not exposed by faiss-node; it is stored in the serialised index (FAISS
 * `write_ivf_header`: the index header, then nlist and nprobe), so it is set by patching that field
 * and reading the index back.
 */
function withNprobe(faiss: FaissModule, index: FaissIndex, nprobe: number): FaissIndex {
  const buf = index.toBuffer();
  const fourcc = buf.toString('latin1', 0, 4);
  if (!fourcc.startsWith('Iw')) return index;
  // After the index header: nlist, then nprobe (both size_t).
  buf.writeBigUInt64LE(BigInt(nprobe), headerLength(buf) + 8);
  return faiss.Index.fromBuffer(buf);
}

/** Byte length of FAISS's `write_index_header` (fourcc included), which every serialised index starts with. */
function headerLength(buf: Buffer): number {
  // fourcc, d (int32), ntotal (int64), two int64 dummies, is_trained (1 byte), metric_type (int32), and
  // metric_arg (float) for metrics past L2.
  return 37 + (buf.readInt32LE(33) > METRIC_L2 ? 4 : 0);
}

/**
 * Where FAISS `write_HNSW` puts `entry_point` in a serialised HNSW index (after the index header: the
 * vectors assign_probas (double), cum_nneighbor_per_level (int), levels (int), offsets (size_t) and
 * neighbors (int32), each a uint64 count then its items; then entry_point, max_level, efConstruction,
 * efSearch, upper_beam as int32).
 *
 * @returns the offset, or undefined when the buffer is not an HNSW index this layout describes
 */
function hnswFieldsAt(buf: Buffer): number | undefined {
  // IHNf (flat), IHNs (scalar quantizer), IHNp (product quantizer), IHN2 (two-level).
  if (buf.length < 41 || buf.toString('latin1', 0, 3) !== 'IHN') return undefined;
  let offset = headerLength(buf);
  for (const size of [8, 4, 4, 8, 4]) {
    if (offset + 8 > buf.length) return undefined;
    offset += 8 + Number(buf.readBigUInt64LE(offset)) * size;
  }
  return offset + 20 <= buf.length ? offset : undefined;
}

/**
 * Sets HNSW `efConstruction` and/or `efSearch` in a serialised index, in place. faiss-node exposes no
 * setter for either; FAISS reads both back with the index. (`efSearch` must be set in the index: asking
 * a search for more neighbours widens only its result heap — FAISS stops exploring once `efSearch`
 * visited candidates are nearer than the next one, so recall stays where the stored value, 16 by
 * default, puts it.)
 *
 * @returns true when the fields were written, false when the buffer is not an HNSW index this layout
 *   describes
 */
function patchHnsw(buf: Buffer, params: { efConstruction?: number; efSearch?: number }): boolean {
  const at = hnswFieldsAt(buf);
  if (at === undefined) return false;
  if (params.efConstruction !== undefined) buf.writeInt32LE(params.efConstruction, at + 8);
  if (params.efSearch !== undefined) buf.writeInt32LE(params.efSearch, at + 12);
  return true;
}

/** HNSW indexes whose `efSearch` the store wrote (see {@link patchHnsw}). */
const searchTuned = new WeakSet<FaissIndex>();

/** FAISS's defaults for a new HNSW index, which the probe expects to find where the layout says. */
const FAISS_DEFAULT_EF_CONSTRUCTION = 40;
const FAISS_DEFAULT_EF_SEARCH = 16;

/** Per faiss-node module: why it cannot be tuned (a string), or undefined when the probe passed. */
const hnswProbes = new WeakMap<FaissModule, { reason: string | undefined }>();

/**
 * Checks once per faiss-node module that the HNSW fields the store writes are the ones the binary
 * reads: a new, empty HNSW index must show FAISS's defaults (efConstruction 40, efSearch 16) where
 * {@link hnswFieldsAt} looks, and values written there must come back from the index read in and
 * serialised again. A binary built from another FAISS whose layout differs fails here, before the
 * store writes into (and so corrupts) a real index.
 *
 * @returns undefined when the binary honours the fields, else the reason it does not
 */
function probeHnsw(faiss: FaissModule): string | undefined {
  const known = hnswProbes.get(faiss);
  if (known !== undefined) return known.reason;
  let reason: string | undefined;
  try {
    const buf = faiss.Index.fromFactory(8, 'HNSW4', METRIC_INNER_PRODUCT).toBuffer();
    const at = hnswFieldsAt(buf);
    if (at === undefined) {
      reason = 'its serialised HNSW index has a layout the store does not know';
    } else if (
      buf.readInt32LE(at + 8) !== FAISS_DEFAULT_EF_CONSTRUCTION ||
      buf.readInt32LE(at + 12) !== FAISS_DEFAULT_EF_SEARCH
    ) {
      reason = `a new HNSW index reads efConstruction ${buf.readInt32LE(at + 8)} and efSearch ${buf.readInt32LE(at + 12)} where FAISS's defaults (${FAISS_DEFAULT_EF_CONSTRUCTION}, ${FAISS_DEFAULT_EF_SEARCH}) belong`;
    } else {
      patchHnsw(buf, { efConstruction: 57, efSearch: 43 });
      const back = faiss.Index.fromBuffer(buf).toBuffer();
      const again = hnswFieldsAt(back);
      const got =
        again === undefined ? undefined : [back.readInt32LE(again + 8), back.readInt32LE(again + 12)];
      if (got?.[0] !== 57 || got[1] !== 43) {
        reason = `an HNSW index given efConstruction 57 and efSearch 43 reads back ${got === undefined ? 'an unknown layout' : `${got[0]} and ${got[1]}`}`;
      }
    }
  } catch (cause) {
    reason = `probing its HNSW index failed: ${String(cause)}`;
  }
  hnswProbes.set(faiss, { reason });
  return reason;
}

/** Warning code emitted (once per faiss-node module) when HNSW indexes fall back to FAISS's efSearch. */
const HNSW_WARNING = 'DREAM_AGENT_FAISS_HNSW_PARAMS';
const warned = new WeakSet<FaissModule>();

function nlistOf(description: string): number | undefined {
  const m = /(?:^|,)IVF(\d+)/.exec(description);
  return m ? Number(m[1]) : undefined;
}

/**
 * A {@link VectorStore} on FAISS (faiss-node), persisted atomically to a directory.
 *
 * @example
 * ```ts
 * import { FaissVectorStore } from '@dream-agent/faiss';
 * const store = await FaissVectorStore.open({ directory: './data/vectors', index: 'HNSW32' });
 * await store.upsert([{ id: 'doc-1#0', vector, metadata: { source: 'handbook.md' } }], { namespace: 'tenant:acme' });
 * const hits = await store.query(queryVector, 5, { source: 'handbook.md' }, { namespace: 'tenant:acme' });
 * await store.close(); // saves
 * ```
 */
export class FaissVectorStore implements VectorStore {
  readonly #options: FaissVectorStoreOptions;
  readonly #spaces = new Map<string, Space>();
  /** Namespaces changed since the last save (their files are rewritten; the others are reused). */
  readonly #dirty = new Set<string>();
  #faiss: FaissModule | undefined;
  #manifest: Manifest = { format: FORMAT, generation: 0, spaces: {} };
  #saving: Promise<void> = Promise.resolve();
  #autosaveScheduled = false;
  #closed = false;

  /** Use {@link FaissVectorStore.open}. */
  private constructor(options: FaissVectorStoreOptions) {
    this.#options = options;
  }

  /**
   * Opens a store: loads faiss-node and, with a `directory`, the namespaces saved there.
   *
   * @param options - directory, metric, index description and tuning
   * @returns the store
   * @throws DreamAgentError `INVALID_INPUT` for bad options; `UNAVAILABLE` when faiss-node cannot be
   *   loaded (run `scripts/build-faiss-node.sh` where no prebuilt binary exists), or when `efConstruction`
   *   (or `efSearch` with an HNSW `index`) is set and the binary does not keep the HNSW fields the store
   *   writes (checked at open on a tiny index; details `reason: 'hnsw_params_ignored'`); `INVALID_STATE`
   *   for a directory whose manifest or files are unreadable
   */
  static async open(options: FaissVectorStoreOptions = {}): Promise<FaissVectorStore> {
    const metric = options.metric ?? 'cosine';
    if (!['cosine', 'ip', 'l2'].includes(metric)) {
      throw new DreamAgentError('INVALID_INPUT', `metric must be cosine, ip or l2, got ${String(metric)}`);
    }
    for (const key of ['efSearch', 'efConstruction', 'nprobe', 'trainSize'] as const) {
      const v = options[key];
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
        throw new DreamAgentError('INVALID_INPUT', `${key} must be a positive integer, got ${String(v)}`);
      }
    }
    if (options.efConstruction !== undefined && !/HNSW/.test(options.index ?? 'Flat')) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `efConstruction applies to HNSW indexes; index is "${options.index ?? 'Flat'}"`,
      );
    }
    const compactAt = options.compactAt;
    if (compactAt !== undefined && !(compactAt > 0 && compactAt <= 1)) {
      throw new DreamAgentError('INVALID_INPUT', `compactAt must be in (0, 1], got ${String(compactAt)}`);
    }
    const store = new FaissVectorStore(options);
    store.#faiss = options.faiss ?? (await loadFaiss());
    // The binary must keep the HNSW fields the store writes (see probeHnsw). Asked for explicitly on
    // one that does not, that is an error now; by default, HNSW indexes search with FAISS's own
    // efSearch and a warning says so.
    const wantsHnsw =
      options.efConstruction !== undefined ||
      (options.efSearch !== undefined && /HNSW/.test(options.index ?? ''));
    const refused = wantsHnsw ? probeHnsw(store.#faiss) : undefined;
    if (refused !== undefined) {
      throw new DreamAgentError(
        'UNAVAILABLE',
        `this faiss-node binary cannot take HNSW ${options.efConstruction !== undefined ? 'efConstruction/' : ''}efSearch from the store: ${refused}. Build faiss-node against the system FAISS (scripts/build-faiss-node.sh), or leave both options unset to search with FAISS's own efSearch`,
        { details: { reason: 'hnsw_params_ignored' } },
      );
    }
    if (options.directory !== undefined) await store.#load(options.directory);
    return store;
  }

  #create(dim: number, description: string, metric: FaissMetric): FaissIndex {
    let index: FaissIndex;
    try {
      index = this.#faiss!.Index.fromFactory(
        dim,
        description,
        metric === 'l2' ? METRIC_L2 : METRIC_INNER_PRODUCT,
      );
    } catch (cause) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `faiss cannot build index "${description}": ${String(cause)}`,
        {
          cause,
        },
      );
    }
    const efConstruction = this.#options.efConstruction;
    if (efConstruction === undefined && !/HNSW/.test(description)) return index;
    if (!this.#hnswTunable()) return index;
    const buf = index.toBuffer();
    if (
      !patchHnsw(buf, {
        efSearch: this.#efSearch,
        ...(efConstruction !== undefined ? { efConstruction } : {}),
      })
    ) {
      if (efConstruction === undefined) return index;
      throw new DreamAgentError(
        'INVALID_INPUT',
        `efConstruction applies to HNSW indexes (HNSW<M>, HNSW<M>,Flat, HNSW<M>,SQ8, HNSW<M>,PQ<m>), not "${description}"`,
      );
    }
    return this.#tuned(buf);
  }

  /**
   * Whether this binary keeps the HNSW fields the store writes (the probe, once per module). When it
   * does not, HNSW indexes are used as FAISS made them (a query asks for max(k, efSearch) neighbours,
   * which widens only the result heap) and a process warning says so once.
   */
  #hnswTunable(): boolean {
    const reason = probeHnsw(this.#faiss!);
    if (reason === undefined) return true;
    if (!warned.has(this.#faiss!)) {
      warned.add(this.#faiss!);
      process.emitWarning(
        `faiss-node cannot take HNSW efSearch from the store (${reason}); HNSW indexes search with FAISS's own efSearch (16)`,
        { code: HNSW_WARNING },
      );
    }
    return false;
  }

  /** HNSW search breadth of this instance (`efSearch`, default 64). */
  get #efSearch(): number {
    return this.#options.efSearch ?? 64;
  }

  /** Reads back an HNSW index whose `efSearch` was written into `buf`, and remembers that it was. */
  #tuned(buf: Buffer): FaissIndex {
    const index = this.#faiss!.Index.fromBuffer(buf);
    searchTuned.add(index);
    return index;
  }

  #check(): void {
    if (this.#closed) throw new DreamAgentError('CLOSED', 'the FAISS vector store is closed');
  }

  #space(scope: VectorScope | undefined): Space | undefined {
    return this.#spaces.get(vectorNamespace(scope));
  }

  /** Adds labels [indexed, labels) to the FAISS index, training an IVF index first when it is due. */
  #sync(space: Space): void {
    if (space.index === undefined) space.index = this.#create(space.dim, space.description, space.metric);
    let index = space.index;
    if (!index.isTrained()) {
      const nlist = nlistOf(space.description) ?? 1;
      const due = this.#options.trainSize ?? Math.max(256, 40 * nlist);
      if (space.labels - space.tombstones < Math.max(due, nlist)) return;
      index.train(Array.from(this.#liveVectors(space)));
      if (nlistOf(space.description) !== undefined)
        index = withNprobe(this.#faiss!, index, this.#options.nprobe ?? 8);
      space.index = index;
      // Dead labels are added too: labels are positions, and the FAISS index must stay aligned with them.
    }
    const dim = space.dim;
    const CHUNK = 2048;
    while (space.indexed < space.labels) {
      const end = Math.min(space.labels, space.indexed + CHUNK);
      index.add(Array.from(space.vectors.subarray(space.indexed * dim, end * dim)));
      space.indexed = end;
    }
  }

  *#liveVectors(space: Space): Generator<number> {
    for (let label = 0; label < space.labels; label++) {
      if (space.ids[label] === null) continue;
      yield* space.vector(label);
    }
  }

  /** Rebuilds a namespace without its tombstones (labels are renumbered). */
  #compact(space: Space, ns: string): Space {
    const fresh = new Space(space.dim, space.metric, space.description, space.model);
    for (let label = 0; label < space.labels; label++) {
      const id = space.ids[label];
      if (id === null || id === undefined) continue;
      // Vectors are already normalised for cosine; re-normalising a unit vector changes nothing.
      fresh.append(id, Array.from(space.vector(label)), space.metadata[label]);
    }
    this.#sync(fresh);
    this.#spaces.set(ns, fresh);
    return fresh;
  }

  #maybeCompact(space: Space, ns: string): void {
    const share = this.#options.compactAt ?? 0.3;
    if (space.tombstones > 64 && space.tombstones >= share * space.labels) this.#compact(space, ns);
  }

  #touched(ns: string): void {
    this.#dirty.add(ns);
    if (this.#options.autosave !== true || this.#options.directory === undefined || this.#autosaveScheduled)
      return;
    this.#autosaveScheduled = true;
    queueMicrotask(() => {
      this.#autosaveScheduled = false;
      this.save().catch(() => {
        /* the next save retries; close() reports */
      });
    });
  }

  /**
   * Inserts or replaces vectors by id.
   *
   * @param items - the vectors
   * @param scope - the namespace
   * @throws DreamAgentError `INVALID_INPUT` for a bad id or vector, or a length other than the namespace's
   */
  async upsert(items: VectorItem[], scope?: VectorScope): Promise<void> {
    await Promise.resolve();
    this.#check();
    const ns = vectorNamespace(scope);
    let space = this.#spaces.get(ns);
    const dim = checkUpsert(items, space?.dim);
    if (dim === undefined) return;
    const created = space === undefined;
    space ??= new Space(dim, this.#options.metric ?? 'cosine', this.#options.index ?? 'Flat', undefined);
    // Build the FAISS index before changing anything: a description faiss refuses leaves no trace.
    space.index ??= this.#create(space.dim, space.description, space.metric);
    if (created) this.#spaces.set(ns, space);
    for (const item of items) {
      space.kill(item.id);
      space.append(item.id, item.vector, item.metadata);
    }
    this.#sync(space);
    this.#maybeCompact(space, ns);
    this.#touched(ns);
  }

  /**
   * Returns the `k` nearest vectors whose metadata matches `filter`. Filtered queries ask the index
   * for more neighbours and fall back to an exact scan of the matching vectors when the index's
   * candidates run out, so a selective filter still gets its `k` matches.
   *
   * @param vector - the query
   * @param k - how many at most
   * @param filter - a metadata filter
   * @param scope - the namespace
   * @returns matches, best first (ties by id); scores as documented for the metric
   * @throws DreamAgentError `INVALID_INPUT` for a bad vector, `k` or filter
   */
  async query(
    vector: number[],
    k: number,
    filter?: VectorFilter,
    scope?: VectorScope,
  ): Promise<VectorMatch[]> {
    await Promise.resolve();
    this.#check();
    checkK(k);
    const space = this.#space(scope);
    checkVector(vector, space?.dim, 'query');
    const match = compileVectorFilter(filter);
    if (space === undefined || space.count === 0 || k === 0) return [];
    const q = this.#prepare(space, vector);
    const index = space.index;
    const results: { label: number; score: number }[] = [];
    // Labels reach the index only once it is trained, so `indexed > 0` means trained; `indexed` is its
    // ntotal (no native call per query).
    if (index !== undefined && space.indexed > 0) {
      const total = space.indexed;
      // An HNSW index carries this instance's efSearch (written into it, see patchHnsw). One whose layout
      // the store does not know is asked for max(k, efSearch) neighbours, which at least widens its
      // result heap. Every index gets room for tombstones.
      const breadth =
        /HNSW/.test(space.description) && !searchTuned.has(index) ? Math.max(k, this.#efSearch) : k;
      let want = Math.min(total, breadth + space.tombstones);
      for (;;) {
        const { distances, labels } = index.search(q, want);
        results.length = 0;
        for (let i = 0; i < labels.length; i++) {
          const label = labels[i]!;
          if (label < 0) continue;
          if (space.ids[label] === null || space.ids[label] === undefined) continue;
          if (match !== undefined && !match(space.metadata[label])) continue;
          results.push({ label, score: this.#score(space, distances[i]!) });
        }
        if (results.length >= k || (match === undefined && results.length >= space.count)) break;
        // The index ran out of candidates (HNSW may not reach every node) or a selective filter keeps
        // rejecting them: past a few rounds an exact scan of the matching vectors is cheaper and exact.
        if (want >= total || (match !== undefined && (want * 4 >= total || want >= 4096))) {
          return this.#exact(space, q, k, match);
        }
        want = Math.min(total, want * 4);
      }
    }
    // Labels not yet in the index (IVF before training) are scanned exactly.
    if (space.indexed < space.labels) {
      return this.#exact(space, q, k, match, results);
    }
    // FAISS returns neighbours best first: keep the first k, then order equal scores by id.
    const best = results.slice(0, k);
    best.sort((a, b) => b.score - a.score || (space.ids[a.label]! < space.ids[b.label]! ? -1 : 1));
    return best.map((r) => this.#match(space, r.label, r.score));
  }

  /**
   * The query as FAISS gets it: normalised for cosine, written into the namespace's reused query array
   * (faiss-node copies its input during the synchronous search, so one array per namespace is safe and
   * a query allocates none). The caller's array is never changed.
   */
  #prepare(space: Space, vector: readonly number[]): number[] {
    const q = space.query;
    const dim = space.dim;
    let inv = 1;
    if (space.metric === 'cosine') {
      let norm = 0;
      for (let i = 0; i < dim; i++) norm += vector[i]! * vector[i]!;
      inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    }
    for (let i = 0; i < dim; i++) q[i] = vector[i]! * inv;
    return q;
  }

  #score(space: Space, distance: number): number {
    return space.metric === 'l2' ? -distance : distance;
  }

  #match(space: Space, label: number, score: number): VectorMatch {
    const m: VectorMatch = { id: space.ids[label]!, score };
    const json = space.metadataJson[label];
    // Parsing the stored JSON is a cheaper private copy than structuredClone of the object.
    if (json !== undefined) m.metadata = JSON.parse(json) as JsonObject;
    return m;
  }

  /** Exact scan over the stored vectors (all labels, or only those past the index plus `seed`). */
  #exact(
    space: Space,
    q: readonly number[],
    k: number,
    match: ((m: JsonObject | undefined) => boolean) | undefined,
    seed?: { label: number; score: number }[],
  ): VectorMatch[] {
    const top = new TopK(k, (label) => space.ids[label]!);
    const from = seed === undefined ? 0 : space.indexed;
    if (seed !== undefined) for (const r of seed) top.push(r.score, r.label);
    const dim = space.dim;
    const data = space.vectors;
    for (let label = from; label < space.labels; label++) {
      if (space.ids[label] === null) continue;
      if (match !== undefined && !match(space.metadata[label])) continue;
      let s = 0;
      const base = label * dim;
      if (space.metric === 'l2') {
        for (let i = 0; i < dim; i++) {
          const d = data[base + i]! - q[i]!;
          s += d * d;
        }
        s = -s;
      } else {
        for (let i = 0; i < dim; i++) s += data[base + i]! * q[i]!;
      }
      top.push(s, label);
    }
    return top.sorted().map(({ row, score }) => this.#match(space, row, score));
  }

  /**
   * Removes vectors by id; unknown ids are ignored.
   *
   * @param ids - the ids
   * @param scope - the namespace
   */
  async delete(ids: string[], scope?: VectorScope): Promise<void> {
    await Promise.resolve();
    this.#check();
    const ns = vectorNamespace(scope);
    const space = this.#spaces.get(ns);
    if (space === undefined) return;
    let changed = false;
    for (const id of ids) changed = space.kill(id) || changed;
    if (!changed) return;
    this.#maybeCompact(space, ns);
    this.#touched(ns);
  }

  /**
   * Deletes every vector of a namespace whose metadata matches.
   *
   * @param filter - a metadata filter
   * @param scope - the namespace
   * @returns how many were deleted
   */
  async deleteWhere(filter: VectorFilter, scope?: VectorScope): Promise<number> {
    await Promise.resolve();
    this.#check();
    const match = compileVectorFilter(filter) ?? ((): boolean => true);
    const ns = vectorNamespace(scope);
    const space = this.#spaces.get(ns);
    if (space === undefined) return 0;
    const doomed = [...space.labelOf].filter(([, label]) => match(space.metadata[label])).map(([id]) => id);
    for (const id of doomed) space.kill(id);
    if (doomed.length > 0) {
      this.#maybeCompact(space, ns);
      this.#touched(ns);
    }
    return doomed.length;
  }

  /**
   * Drops a namespace (its files go at the next save).
   *
   * @param namespace - the namespace
   */
  async dropNamespace(namespace: string): Promise<void> {
    await Promise.resolve();
    this.#check();
    const ns = vectorNamespace({ namespace });
    if (this.#spaces.delete(ns)) this.#touched(ns);
  }

  /** @returns the namespaces holding vectors or a recorded space, sorted */
  async namespaces(): Promise<string[]> {
    await Promise.resolve();
    return [...this.#spaces]
      .filter(([, s]) => s.count > 0 || s.model !== undefined)
      .map(([ns]) => ns)
      .sort();
  }

  /**
   * @param scope - the namespace
   * @returns its dimensions, model and count
   */
  async describe(scope?: VectorScope): Promise<VectorSpaceInfo> {
    await Promise.resolve();
    const space = this.#space(scope);
    if (space === undefined) return { count: 0 };
    const info: VectorSpaceInfo = { dimensions: space.dim, count: space.count };
    if (space.model !== undefined) info.model = space.model;
    return info;
  }

  /**
   * Records the embedding space of a namespace (creating the namespace when absent).
   *
   * @param wanted - dimensions and model
   * @param scope - the namespace
   * @throws DreamAgentError `INVALID_STATE` when the non-empty namespace holds another model or size
   */
  async setSpace(wanted: { dimensions: number; model?: string }, scope?: VectorScope): Promise<void> {
    await Promise.resolve();
    this.#check();
    const ns = vectorNamespace(scope);
    const space = this.#spaces.get(ns);
    checkSpaceChange(ns, { dimensions: space?.dim, model: space?.model, count: space?.count ?? 0 }, wanted);
    if (space !== undefined && space.dim === wanted.dimensions) {
      if (wanted.model !== undefined && space.model !== wanted.model) {
        space.model = wanted.model;
        this.#touched(ns);
      }
      return;
    }
    this.#spaces.set(
      ns,
      new Space(
        wanted.dimensions,
        this.#options.metric ?? 'cosine',
        this.#options.index ?? 'Flat',
        wanted.model,
      ),
    );
    this.#touched(ns);
  }

  /**
   * Writes the changed namespaces to the directory atomically (see the package docs). Saves are
   * serialised; the data saved is the state when the save starts.
   *
   * @throws DreamAgentError `INVALID_STATE` without a directory; `UNAVAILABLE` when writing fails
   */
  save(): Promise<void> {
    const dir = this.#options.directory;
    if (dir === undefined) {
      return Promise.reject(
        new DreamAgentError('INVALID_STATE', 'this FAISS store has no directory to save to'),
      );
    }
    const run = this.#saving.then(() => this.#save(dir));
    this.#saving = run.catch(() => undefined);
    return run;
  }

  async #save(dir: string): Promise<void> {
    if (this.#dirty.size === 0) return;
    // Snapshot synchronously: later writes do not leak into this generation.
    const generation = this.#manifest.generation + 1;
    const tag = `${generation.toString(36)}-${randomBytes(3).toString('hex')}`;
    const spaces: Record<string, ManifestSpace> = {};
    const files: [string, Buffer | string][] = [];
    const dirty = new Set(this.#dirty);
    this.#dirty.clear();
    for (const [ns, space] of this.#spaces) {
      const previous = this.#manifest.spaces[ns];
      if (!dirty.has(ns) && previous !== undefined) {
        spaces[ns] = previous;
        continue;
      }
      // Tombstones are saved as null ids (labels stay positions); compaction happens on its own schedule.
      const file = `${fileStem(ns)}.${tag}`;
      const entry: ManifestSpace = {
        file,
        dimensions: space.dim,
        metric: space.metric,
        index: space.description,
        count: space.count,
      };
      if (space.model !== undefined) entry.model = space.model;
      spaces[ns] = entry;
      const vectors = space.vectors.subarray(0, space.labels * space.dim);
      files.push([`${file}.f32`, Buffer.from(vectors.buffer, vectors.byteOffset, vectors.byteLength)]);
      files.push([
        `${file}.json`,
        JSON.stringify({ ids: space.ids, metadata: space.metadata.map((m) => m ?? null) }),
      ]);
      if (space.index !== undefined && space.indexed > 0)
        files.push([`${file}.faiss`, space.index.toBuffer()]);
    }
    const manifest: Manifest = { format: FORMAT, generation, spaces };
    try {
      await mkdir(dir, { recursive: true });
      for (const [name, data] of files) await writeDurably(join(dir, name), data);
      await syncDir(dir);
      const tmp = join(dir, `${MANIFEST}.${tag}.tmp`);
      await writeDurably(tmp, JSON.stringify(manifest));
      await rename(tmp, join(dir, MANIFEST));
      await syncDir(dir);
    } catch (cause) {
      for (const ns of dirty) this.#dirty.add(ns);
      throw new DreamAgentError('UNAVAILABLE', `saving the FAISS store to ${dir} failed: ${String(cause)}`, {
        cause,
      });
    }
    this.#manifest = manifest;
    await removeUnreferenced(dir, manifest);
  }

  async #load(dir: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(join(dir, MANIFEST), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new DreamAgentError('UNAVAILABLE', `cannot read ${join(dir, MANIFEST)}: ${String(e)}`, {
        cause: e,
      });
    }
    let manifest: Manifest;
    try {
      manifest = JSON.parse(text) as Manifest;
      if (manifest.format !== FORMAT) throw new Error(`format ${String(manifest.format)}`);
      for (const [ns, entry] of Object.entries(manifest.spaces)) {
        const space = new Space(entry.dimensions, entry.metric, entry.index, entry.model);
        const body = JSON.parse(await readFile(join(dir, `${entry.file}.json`), 'utf8')) as {
          ids: (string | null)[];
          metadata: (JsonObject | null)[];
        };
        const raw = await readFile(join(dir, `${entry.file}.f32`));
        space.vectors = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
        if (space.vectors.length !== body.ids.length * entry.dimensions)
          throw new Error(`${entry.file}: size mismatch`);
        body.ids.forEach((id, label) => {
          space.ids.push(id);
          const meta = body.metadata[label] ?? undefined;
          space.metadata.push(meta);
          space.metadataJson.push(meta === undefined ? undefined : JSON.stringify(meta));
          if (id === null) space.tombstones += 1;
          else space.labelOf.set(id, label);
        });
        if (body.ids.length > 0) {
          try {
            const buf = await readFile(join(dir, `${entry.file}.faiss`));
            // A loaded HNSW index searches with this instance's efSearch (its build breadth stays).
            const tune = hnswFieldsAt(buf) !== undefined && this.#hnswTunable();
            if (tune) patchHnsw(buf, { efSearch: this.#efSearch });
            space.index = tune ? this.#tuned(buf) : this.#faiss!.Index.fromBuffer(buf);
            space.indexed = space.index.ntotal();
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
            // Not indexed yet (an IVF namespace before training).
          }
          if (space.indexed > space.labels)
            throw new Error(`${entry.file}: the index holds more vectors than ids`);
        }
        this.#spaces.set(ns, space);
      }
    } catch (cause) {
      throw new DreamAgentError(
        'INVALID_STATE',
        `the FAISS store in ${dir} is unreadable: ${String(cause)}`,
        {
          cause,
        },
      );
    }
    this.#manifest = manifest;
    await removeUnreferenced(dir, manifest);
  }

  /** Saves (when persisted) and refuses further calls. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#options.directory !== undefined) await this.save();
    this.#closed = true;
  }
}

/** Deletes files of older generations and temp files of interrupted saves. */
async function removeUnreferenced(dir: string, manifest: Manifest): Promise<void> {
  const keep = new Set<string>([MANIFEST]);
  for (const entry of Object.values(manifest.spaces)) {
    for (const ext of ['.f32', '.json', '.faiss']) keep.add(`${entry.file}${ext}`);
  }
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  await Promise.all(
    names
      .filter((n) => !keep.has(n) && /\.(f32|json|faiss|tmp)$/.test(n))
      .map((n) => rm(join(dir, n), { force: true })),
  );
}

async function loadFaiss(): Promise<FaissModule> {
  // A variable specifier: faiss-node is an optional peer, and its absence must be a typed error at
  // run time rather than a compile error for users who never open a FAISS store.
  const specifier = 'faiss-node';
  // FAISS runs on OpenMP, whose idle threads spin by default; on a small machine they take the cores
  // from Node's own thread and single queries stall for tens of ms (measured: p99 ×20). Passive
  // waiting costs nothing here. Read once by libgomp when the addon loads; an explicit setting wins.
  process.env['OMP_WAIT_POLICY'] ??= 'PASSIVE';
  try {
    const mod = (await import(specifier)) as { default?: FaissModule } & Partial<FaissModule>;
    const faiss = (mod.Index ? mod : mod.default) as FaissModule | undefined;
    if (faiss?.Index === undefined) throw new Error('faiss-node has no Index export');
    return faiss;
  } catch (cause) {
    throw new DreamAgentError(
      'UNAVAILABLE',
      `faiss-node cannot be loaded (${String(cause)}). Install it (npm i faiss-node); where its prebuilt binary cannot be downloaded, build it against the system FAISS with scripts/build-faiss-node.sh`,
      { cause },
    );
  }
}
