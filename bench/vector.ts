/**
 * Vector store benchmark, side by side in one run: the memory store, FAISS through the adapter (flat,
 * HNSW at one or more M) and directly through faiss-node (the adapter's overhead, interleaved), Chroma
 * (a real `chroma run` server), and hnswlib-node and usearch as reference ANN libraries.
 *
 * Data (`--data`, seeded, queries from the same distribution), 100 Gaussian clusters in 384 dimensions:
 * - `spectrum` (default): dimension i scaled by (1 + i)^-0.5, so the variance falls off as 1/(1 + i) —
 *   most of it in a few dozen directions, a long tail of small ones. Embeddings of text look like this
 *   (low intrinsic dimension: a handful of directions carry most of the variance); HNSW is rotation
 *   invariant, so the axes need not be rotated.
 * - `clinc`: real text — the CLINC150 utterances through the project's offline (hashing) embedder; see
 *   `clincData` below.
 * - `noise`: the same clusters with every dimension at full scale — within a cluster the points are
 *   i.i.d. noise in all 384 dimensions, the worst case for any graph index (nearest neighbours are barely
 *   nearer than the rest). Reported for honesty, not because embeddings look like it.
 * Reported per store: insert throughput, query p50/p99 (k = 10), recall@10 against exact search, memory
 * (RSS growth of the store's own process while building) and disk (saved size).
 *
 * How a run is organised, so that a 100k run finishes on a small shared machine:
 * - the parent generates the data once and computes the exact ground truth once (FAISS `Flat`, all
 *   queries in one batched call; the memory store without faiss-node), both written to the work
 *   directory (`--cache DIR`, or a temporary one) and shared by every store;
 * - each store runs in its own child process, one after another (`--timeout S` each, default 600; a
 *   store over it is stopped and its row says so), so one store's memory and threads never disturb the
 *   next, and RSS growth is the store's own;
 * - the exact stores (memory, FAISS Flat) answer only the first `--exact-queries` queries (default 50
 *   at 50k vectors and more), the approximate ones all `--queries`;
 * - the report is written after every row (`--out FILE`), so a run stopped midway keeps what it measured.
 *
 * HNSW build parameters: `--hnsw HNSW32,HNSW64` (index descriptions, one FAISS row pair each; the number
 * is M, the graph degree), `--efc N` (efConstruction, FAISS's default 40 when absent), `--ef N`
 * (efSearch, default 64) and `--sweep 16,32,64` (for each HNSW index, recall and latency of faiss-node
 * at each efSearch, interleaved query by query — the recall-vs-latency curve).
 *
 * Usage: `tsx bench/vector.ts [--n 10000] [--queries 200] [--exact-queries 50] [--data spectrum|noise|clinc]
 * [--hnsw HNSW32] [--efc 40] [--ef 64] [--sweep 64,256] [--only memory,faiss-hnsw,…] [--json] [--out FILE]
 * [--cache DIR] [--timeout 600] [--vs-hnswlib]`.
 *
 * `--vs-hnswlib` (with `--cache`, after an `--only hnswlib` run into it): each FAISS HNSW row is also
 * timed against hnswlib-node's index of the same data, the two answering each query in turn (5 rounds),
 * reported as `faiss-HNSW… vs hnswlib` in the interleaved section (overheadPct is then FAISS's p50
 * over hnswlib's).
 *
 * `--cache DIR` keeps the data, the ground truth and the indexes (FAISS through the adapter, Chroma's
 * data directory, hnswlib and usearch files) in `DIR` (the data is deterministic, seed 42): the first run
 * builds and saves them, later runs open them from disk (their row says `cached` and repeats the
 * build's insert rate and memory), and the raw faiss-node rows load the very same FAISS index files — so
 * the adapter-vs-faiss-node overhead compares one index, measured interleaved (adapter and faiss-node
 * answer each query in turn, several rounds) so that load on a shared machine hits both alike.
 */
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChromaVectorStore } from '@dream-agent/chroma';
import { FaissVectorStore } from '@dream-agent/faiss';
import { HashingEmbedder } from '../src/cognitive/offline/embedder.js';
import { MemoryVectorStore } from '../src/ports/memory/vector.js';
import type { VectorStore } from '../src/ports/vector.js';
import type * as HnswlibModule from 'hnswlib-node';
import type * as UsearchModule from 'usearch';
import { ensureFaissNode, serviceSkipReason, startChroma } from '../test/setup/services.js';

// Passive OpenMP waiting for FAISS (the adapter sets the same default; see its README).
process.env['OMP_WAIT_POLICY'] ??= 'PASSIVE';
const args = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const N = Number(arg('n', '10000'));
const Q = Number(arg('queries', '200'));
const EXACT_Q = Math.min(Q, Number(arg('exact-queries', N >= 50_000 ? '50' : String(Q))));
const DIM = 384;
const K = 10;
const only = arg('only', '').split(',').filter(Boolean);
const CACHE = arg('cache', '');
const OUT = arg('out', '');
const TIMEOUT_S = Number(arg('timeout', '600'));
/** HNSW search breadth (faiss `efSearch`) for the adapter and the raw faiss-node rows alike. */
const EF = Number(arg('ef', '64'));
/** HNSW index descriptions (M is the number) and build breadth (undefined: FAISS's default 40). */
const HNSWS = arg('hnsw', 'HNSW32').split(',').filter(Boolean);
const EFC = arg('efc', '') === '' ? undefined : Number(arg('efc', ''));
const SWEEP = arg('sweep', '').split(',').filter(Boolean).map(Number);
const DATA = arg('data', 'spectrum');
/** Interleave each FAISS HNSW row with the cached hnswlib-node index of the same data (see child). */
const VS_HNSWLIB = args.includes('--vs-hnswlib');
if (!['spectrum', 'noise', 'clinc'].includes(DATA))
  throw new Error(`--data must be spectrum, noise or clinc, got ${DATA}`);
/** Set in a child process: the one subject it measures, and where the parent keeps the shared files. */
const CHILD = arg('child', '');
const WORK = arg('work', '');
const RESULT = arg('result', '');
const wanted = (name: string): boolean => only.length === 0 || only.includes(name);

// ------------------------------------------------------------------ data

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(42);
const gauss = (): number => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
const centers = Array.from({ length: 100 }, () => Array.from({ length: DIM }, gauss));
/** Per-dimension scale: a decaying spectrum (variance ∝ 1/(1+i)), or flat for the i.i.d. worst case. */
const scale = Array.from({ length: DIM }, (_, i) => (DATA === 'noise' ? 1 : (1 + i) ** -0.5));
const point = (): number[] => {
  const c = centers[Math.floor(rand() * centers.length)]!;
  return c.map((x, i) => scale[i]! * (x + 0.6 * gauss()));
};
const unit = (v: number[]): number[] => {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / n);
};
/**
 * Real text: the CLINC150 utterances (read in place from `../shared/data/clinc150/`, or
 * `CLINC150_PATH`) through the project's offline embedder (hashed word and character n-grams, IDF from
 * the train split) at 384 dimensions. Queries are test-split utterances, kept out of the data; past the
 * ~23k other utterances, items are two utterances joined (a seeded pairing), as longer texts would be.
 */
async function clincData(): Promise<{ data: number[][]; queries: number[][] }> {
  const path =
    process.env['CLINC150_PATH'] ??
    fileURLToPath(new URL('../../shared/data/clinc150/data_full.json', import.meta.url));
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, [string, string][]>;
  const test = (raw['test'] ?? []).map(([t]) => t);
  const pick = new Set<number>();
  while (pick.size < Math.min(Q, test.length)) pick.add(Math.floor(rand() * test.length));
  const queryTexts = [...pick].map((i) => test[i]!);
  const held = new Set(queryTexts);
  const texts = Object.values(raw)
    .flat()
    .map(([t]) => t)
    .filter((t) => !held.has(t));
  const base = [...new Set(texts)];
  const all = base.slice(0, N);
  while (all.length < N) {
    const a = base[Math.floor(rand() * base.length)]!;
    const b = base[Math.floor(rand() * base.length)]!;
    all.push(`${a}. ${b}`);
  }
  const embedder = new HashingEmbedder({ dimensions: DIM, corpus: (raw['train'] ?? []).map(([t]) => t) });
  const embed = async (xs: string[]): Promise<number[][]> => {
    const out: number[][] = [];
    for (let i = 0; i < xs.length; i += 1000) out.push(...(await embedder.embed(xs.slice(i, i + 1000))));
    return out;
  };
  return { data: await embed(all), queries: await embed(queryTexts) };
}
/** The data and queries of this run, generated (seeded) — by the parent only; children read the files. */
async function generate(): Promise<{ data: number[][]; queries: number[][] }> {
  if (DATA === 'clinc') return clincData();
  const data = Array.from({ length: N }, () => unit(point()));
  return { data, queries: Array.from({ length: Q }, () => unit(point())) };
}

// ------------------------------------------------------------------ shared files

const require = createRequire(import.meta.url);
const dataName = `n${N}-d${DIM}-${DATA}-q${Q}-seed42`;

interface FaissIndex {
  add(x: number[]): void;
  search(x: number[], k: number): { labels: number[] };
  toBuffer(): Buffer;
}
interface FaissModule {
  Index: {
    fromFactory(d: number, s: string, m: number): FaissIndex;
    fromBuffer(b: Buffer): FaissIndex;
  };
}

/**
 * Writes `efSearch` into a serialised FAISS HNSW index, as the adapter does (faiss-node has no setter,
 * and asking a search for more neighbours does not widen it). The layout is FAISS `write_HNSW`'s: after
 * the index header, five vectors (each a uint64 count then items of 8, 4, 4, 8, 4 bytes), then
 * entry_point, max_level, efConstruction, efSearch.
 */
function patchEfSearch(buf: Buffer, efSearch: number): boolean {
  if (buf.toString('latin1', 0, 3) !== 'IHN') return false;
  let offset = 37 + (buf.readInt32LE(33) > 1 ? 4 : 0);
  for (const size of [8, 4, 4, 8, 4]) offset += 8 + Number(buf.readBigUInt64LE(offset)) * size;
  buf.writeInt32LE(efSearch, offset + 12);
  return true;
}

/** Writes the data and queries (float32, one file) and the exact top-k of every query. */
async function prepare(work: string): Promise<void> {
  const dataFile = join(work, `data-${dataName}.f32`);
  const truthFile = join(work, `truth-${dataName}-k${K}.json`);
  if (existsSync(dataFile) && existsSync(truthFile)) return;
  const t0 = performance.now();
  const { data, queries } = await generate();
  const flat = new Float32Array((N + Q) * DIM);
  [...data, ...queries].forEach((v, i) => flat.set(v, i * DIM));
  writeFileSync(dataFile, flat);
  let truth: number[][];
  if (ensureFaissNode() === undefined) {
    // Exact inner product over unit vectors = cosine; all queries in one batched call.
    const faiss = require('faiss-node') as FaissModule;
    const index = faiss.Index.fromFactory(DIM, 'Flat', 0);
    for (let i = 0; i < N; i += 10_000) index.add(data.slice(i, i + 10_000).flat());
    const labels = index.search(queries.flat(), K).labels;
    truth = queries.map((_, q) => labels.slice(q * K, (q + 1) * K));
  } else {
    const exact = new MemoryVectorStore();
    for (let i = 0; i < N; i += 1000)
      await exact.upsert(data.slice(i, i + 1000).map((vector, j) => ({ id: String(i + j), vector })));
    truth = await Promise.all(queries.map(async (q) => (await exact.query(q, K)).map((m) => Number(m.id))));
  }
  writeFileSync(truthFile, JSON.stringify(truth));
  console.error(`data and ground truth: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

function load(work: string): { data: number[][]; queries: number[][]; truth: string[][] } {
  const raw = readFileSync(join(work, `data-${dataName}.f32`));
  const flat = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const rowsOf = (from: number, to: number): number[][] =>
    Array.from({ length: to - from }, (_, i) =>
      Array.from(flat.subarray((from + i) * DIM, (from + i + 1) * DIM)),
    );
  const truth = (
    JSON.parse(readFileSync(join(work, `truth-${dataName}-k${K}.json`), 'utf8')) as number[][]
  ).map((labels) => labels.map((l) => `v${l}`));
  return { data: rowsOf(0, N), queries: rowsOf(N, N + Q), truth };
}

// ------------------------------------------------------------------ harness

interface Row {
  store: string;
  insertPerSec: number;
  p50: number;
  p99: number;
  recall: number;
  memoryMB: number;
  diskMB: number | null;
  /** How many queries this row answered (the exact stores answer fewer). */
  queries: number;
  /** True when the index was opened from the `--cache` directory (insert rate and memory from its build). */
  cached?: boolean;
}
/** A store that did not finish (its child timed out or failed). */
interface Failed {
  store: string;
  error: string;
}
/** p50 of two searches answering the same queries in turn (several rounds), and their ratio. */
interface Interleaved {
  adapterP50: number;
  rawP50: number;
  overheadPct: number;
  rounds: number;
  queries: number;
}
/** Recall and latency of one HNSW index at one efSearch (faiss-node directly). */
interface SweepPoint {
  efSearch: number;
  p50: number;
  p99: number;
  recall: number;
}
/** What one child process reports. */
interface ChildResult {
  rows: Row[];
  interleaved: Record<string, Interleaved>;
  sweeps: Record<string, SweepPoint[]>;
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};
const dirSize = (dir: string): number => {
  let total = 0;
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const st = statSync(join(dir, name));
    if (st.isFile()) total += st.size;
  }
  return total;
};
const rss = (): number => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss;
};

/** What a cached subject reports instead of a fresh build. */
interface CachedBuild {
  insertPerSec: number;
  memoryMB: number;
}

interface Subject {
  /** Builds the index; a subject opened from the cache returns its build's numbers instead. */
  insert(): Promise<void | CachedBuild>;
  search(q: number[]): Promise<string[]>;
  disk?(): Promise<number>;
  /** Called with the measured build (a subject building into the cache saves it). */
  built?(build: CachedBuild): Promise<void>;
  close?(): Promise<void>;
}

/** The cache directory of one configuration (undefined without `--cache`). */
const cacheDir = (name: string, build = ''): string | undefined =>
  CACHE === '' ? undefined : join(CACHE, `${name}-n${N}-d${DIM}-${DATA}${build}-seed42`);
const hnswBuild = (hnsw: string): string => `-${hnsw.replace(/[^A-Za-z0-9]/g, '_')}-efc${EFC ?? 40}`;
const META = 'bench-build.json';
const readBuild = (dir: string): CachedBuild =>
  JSON.parse(readFileSync(join(dir, META), 'utf8')) as CachedBuild;

const BATCH = 1000;

/** Runs one child's subject(s); everything it measures lands in `result`. */
async function child(name: string): Promise<ChildResult> {
  const { data, queries, truth } = load(WORK);
  const ids = data.map((_, i) => `v${i}`);
  const result: ChildResult = { rows: [], interleaved: {}, sweeps: {} };
  const items = (from: number, to: number) =>
    data.slice(from, to).map((vector, j) => ({ id: ids[from + j]!, vector, metadata: { i: from + j } }));

  async function measure(store: string, make: () => Promise<Subject>, nq = Q): Promise<void> {
    const before = rss();
    const subject = await make();
    const t0 = performance.now();
    const cached = await subject.insert();
    const insertMs = performance.now() - t0;
    const memoryMB = cached ? cached.memoryMB : (rss() - before) / 1e6;
    if (!cached) await subject.built?.({ insertPerSec: Math.round(N / (insertMs / 1000)), memoryMB });
    const qs = queries.slice(0, nq);
    for (const q of qs.slice(0, 5)) await subject.search(q);
    const times: number[] = [];
    let hits = 0;
    for (const [i, q] of qs.entries()) {
      const t = performance.now();
      const got = await subject.search(q);
      times.push(performance.now() - t);
      const expected = new Set(truth[i]);
      hits += got.filter((id) => expected.has(id)).length;
    }
    const diskMB = subject.disk ? (await subject.disk()) / 1e6 : null;
    await subject.close?.();
    result.rows.push({
      store,
      insertPerSec: cached ? cached.insertPerSec : Math.round(N / (insertMs / 1000)),
      p50: pct(times, 0.5),
      p99: pct(times, 0.99),
      recall: hits / (K * qs.length),
      memoryMB,
      diskMB,
      queries: qs.length,
      ...(cached ? { cached: true } : {}),
    });
  }

  async function interleave(
    key: string,
    adapter: (q: number[]) => Promise<unknown>,
    raw: (q: number[]) => unknown,
    rounds: number,
    nq: number,
  ): Promise<void> {
    const a: number[] = [];
    const r: number[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const q of queries.slice(0, nq)) {
        // Alternate which goes first, so neither always runs on a warmer cache.
        const first = (round + a.length) % 2 === 0;
        for (const which of first ? ['a', 'r'] : ['r', 'a']) {
          const t = performance.now();
          if (which === 'a') await adapter(q);
          else raw(q);
          (which === 'a' ? a : r).push(performance.now() - t);
        }
      }
    }
    const adapterP50 = pct(a, 0.5);
    const rawP50 = pct(r, 0.5);
    result.interleaved[key] = {
      adapterP50,
      rawP50,
      overheadPct: (adapterP50 / rawP50 - 1) * 100,
      rounds,
      queries: nq,
    };
  }

  const storeSubject = (
    store: VectorStore,
    disk?: () => Promise<number>,
    close?: () => Promise<void>,
  ): Subject => ({
    insert: async () => {
      for (let i = 0; i < N; i += BATCH)
        await store.upsert(items(i, Math.min(N, i + BATCH)), { namespace: 'bench' });
    },
    search: async (q) => (await store.query(q, K, undefined, { namespace: 'bench' })).map((m) => m.id),
    ...(disk ? { disk } : {}),
    ...(close ? { close } : {}),
  });

  if (name === 'memory') {
    await measure('memory', () => Promise.resolve(storeSubject(new MemoryVectorStore())), EXACT_Q);
    return result;
  }

  if (name.startsWith('faiss-')) {
    const skip = ensureFaissNode();
    if (skip !== undefined) throw new Error(`faiss skipped: ${skip}`);
    const flat = name === 'faiss-flat';
    const index = flat ? 'Flat' : name.slice('faiss-hnsw:'.length);
    const label = flat ? 'faiss-flat' : `faiss-${index}`;
    const nq = flat ? EXACT_Q : Q;
    const cache = cacheDir(flat ? 'faiss-flat' : 'faiss-hnsw', flat ? '' : hnswBuild(index));
    const hit = cache !== undefined && existsSync(join(cache, META));
    // The store's own directory is a subdirectory: its saves remove files they do not know.
    const directory =
      cache !== undefined ? join(cache, 'index') : mkdtempSync(join(tmpdir(), 'bench-faiss-'));
    if (cache !== undefined && !hit) {
      rmSync(cache, { recursive: true, force: true });
      mkdirSync(join(cache, 'index'), { recursive: true });
    }
    const store = await FaissVectorStore.open({
      directory,
      index,
      efSearch: EF,
      ...(!flat && EFC !== undefined ? { efConstruction: EFC } : {}),
    });
    await measure(
      label,
      () => {
        const subject = storeSubject(store, async () => {
          if (!hit) await store.save();
          return dirSize(directory);
        });
        if (hit) return Promise.resolve({ ...subject, insert: () => Promise.resolve(readBuild(cache)) });
        if (cache === undefined) return Promise.resolve(subject);
        // A fresh build into the cache: saved with its numbers once measured.
        return Promise.resolve({
          ...subject,
          built: async (build: CachedBuild) => {
            await store.save();
            writeFileSync(join(cache, META), JSON.stringify(build));
          },
        });
      },
      nq,
    );
    // faiss-node directly, on the very index the adapter saved (its labels are the insertion order),
    // with the adapter's efSearch written into it.
    await store.save();
    const file = readdirSync(directory).find((f) => f.endsWith('.faiss'));
    const faiss = require('faiss-node') as FaissModule;
    const indexFile = readFileSync(join(directory, file!));
    /** The saved index read by faiss-node, with `efSearch` written into it as the adapter does. */
    const rawIndex = (ef: number): FaissIndex => {
      const buf = Buffer.from(indexFile);
      if (!flat && !patchEfSearch(buf, ef))
        throw new Error(`${label}: not an HNSW index layout the bench knows`);
      return faiss.Index.fromBuffer(buf);
    };
    const raw = rawIndex(EF);
    const search = (q: number[], index = raw): string[] =>
      index
        .search(q, K)
        .labels.slice(0, K)
        .map((l) => ids[l]!);
    // The same index as the adapter's row: its build numbers are the adapter's.
    const { insertPerSec, memoryMB } = result.rows.at(-1)!;
    const built: CachedBuild = { insertPerSec, memoryMB };
    await measure(
      `${label} (faiss-node)`,
      () =>
        Promise.resolve({
          insert: () => Promise.resolve(built),
          search: (q) => Promise.resolve(search(q)),
          disk: () => Promise.resolve(raw.toBuffer().length),
        }),
      nq,
    );
    // The raw row is "cached" exactly when the adapter's was: it repeats the adapter's build.
    const adapterRow = result.rows.at(-2)!;
    const rawRow = result.rows.at(-1)!;
    if (adapterRow.cached === true) rawRow.cached = true;
    else delete rawRow.cached;
    // Flat scans every vector per query: one interleaved round is plenty.
    await interleave(
      label,
      (q) => store.query(q, K, undefined, { namespace: 'bench' }),
      (q) => search(q),
      flat ? 1 : 5,
      nq,
    );
    // The reference in the same process: hnswlib-node's cached index of the same data (built by an
    // earlier `--only hnswlib` run into this `--cache`), interleaved query by query with the adapter,
    // so the FAISS/hnswlib ratio holds however loaded the machine is. `--vs-hnswlib`.
    const refDir = cacheDir('hnswlib', '-M16-efc200');
    if (!flat && VS_HNSWLIB && refDir !== undefined && existsSync(join(refDir, META))) {
      const { HierarchicalNSW } = require('hnswlib-node') as typeof HnswlibModule;
      const ref = new HierarchicalNSW('ip', DIM);
      await ref.readIndex(join(refDir, 'index.bin'));
      ref.setEf(EF);
      await interleave(
        `${label} vs hnswlib (M 16, efC 200)`,
        (q) => store.query(q, K, undefined, { namespace: 'bench' }),
        (q) => ref.searchKnn(q, K),
        5,
        nq,
      );
    }
    if (!flat && SWEEP.length > 0) {
      // Every efSearch answers each query in turn (rotating which goes first), several rounds, so the
      // machine's load hits all of them alike: the p50s are comparable within the curve.
      const indexes = SWEEP.map((ef) => rawIndex(ef));
      const times = SWEEP.map((): number[] => []);
      const hits = SWEEP.map(() => 0);
      const rounds = 3;
      for (let round = 0; round < rounds; round++) {
        for (const [i, q] of queries.entries()) {
          const expected = new Set(truth[i]);
          for (let j = 0; j < SWEEP.length; j++) {
            const which = (i + j + round) % SWEEP.length;
            const t = performance.now();
            const got = search(q, indexes[which]);
            times[which]!.push(performance.now() - t);
            if (round === 0) hits[which]! += got.filter((id) => expected.has(id)).length;
          }
        }
      }
      result.sweeps[label] = SWEEP.map((efSearch, j) => ({
        efSearch,
        p50: pct(times[j]!, 0.5),
        p99: pct(times[j]!, 0.99),
        recall: hits[j]! / (K * Q),
      }));
      for (const p of result.sweeps[label])
        console.error(
          `${label} efSearch ${p.efSearch}: recall ${p.recall.toFixed(3)} p50 ${p.p50.toFixed(3)} ms`,
        );
    }
    await store.close();
    if (cache === undefined) rmSync(directory, { recursive: true, force: true });
    return result;
  }

  if (name === 'hnswlib') {
    const { HierarchicalNSW } = require('hnswlib-node') as typeof HnswlibModule;
    const cache = cacheDir('hnswlib', '-M16-efc200');
    const hit = cache !== undefined && existsSync(join(cache, META));
    const dir = cache ?? mkdtempSync(join(tmpdir(), 'bench-hnswlib-'));
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'index.bin');
    const index = new HierarchicalNSW('ip', DIM);
    await measure('hnswlib (M 16, efC 200)', () =>
      Promise.resolve({
        insert: async () => {
          if (hit) {
            await index.readIndex(file);
            index.setEf(EF);
            return readBuild(dir);
          }
          index.initIndex(N, 16, 200);
          index.setEf(EF);
          for (let i = 0; i < N; i++) index.addPoint(data[i]!, i);
          return undefined;
        },
        built: async (build) => {
          await index.writeIndex(file);
          writeFileSync(join(dir, META), JSON.stringify(build));
        },
        search: (q) => Promise.resolve(index.searchKnn(q, K).neighbors.map((l) => ids[l]!)),
        disk: async () => {
          if (!existsSync(file)) await index.writeIndex(file);
          return statSync(file).size;
        },
        close: () => {
          if (cache === undefined) rmSync(dir, { recursive: true, force: true });
          return Promise.resolve();
        },
      }),
    );
    return result;
  }

  if (name === 'usearch') {
    const { Index, MetricKind } = require('usearch') as typeof UsearchModule;
    // usearch's own defaults spelled out (expansion_add 128 is its efConstruction), search breadth as
    // the other HNSW rows. One thread for add and search, as hnswlib's addPoint loop and every single
    // query here: usearch's "0 = automatic" starts a thread pool per call, which on a loaded 2-core
    // machine made one 100k add of the whole matrix run past 600 s (session 5).
    const cache = cacheDir('usearch', '-M16-efc128');
    const hit = cache !== undefined && existsSync(join(cache, META));
    const dir = cache ?? mkdtempSync(join(tmpdir(), 'bench-usearch-'));
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'index.usearch');
    const index = new Index({
      metric: MetricKind.Cos,
      connectivity: 16,
      dimensions: DIM,
      expansion_add: 128,
      expansion_search: EF,
    } as unknown as ConstructorParameters<typeof Index>[0]);
    await measure('usearch (M 16, efC 128)', () =>
      Promise.resolve({
        insert: () => {
          if (hit) {
            index.load(file);
            return Promise.resolve(readBuild(dir));
          }
          // In batches, so progress is visible and a slow machine shows how far the build got.
          const started = performance.now();
          for (let i = 0; i < N; i += 10_000) {
            const end = Math.min(N, i + 10_000);
            const flat = new Float32Array((end - i) * DIM);
            for (let j = i; j < end; j++) flat.set(data[j]!, (j - i) * DIM);
            index.add(
              BigUint64Array.from({ length: end - i }, (_, j) => BigInt(i + j)),
              flat,
              1,
            );
            if (N > 10_000)
              console.error(`usearch: ${end} added, ${((performance.now() - started) / 1000).toFixed(0)} s`);
          }
          return Promise.resolve(undefined);
        },
        built: (build) => {
          index.save(file);
          writeFileSync(join(dir, META), JSON.stringify(build));
          return Promise.resolve();
        },
        search: (q) => {
          const m = index.search(Float32Array.from(q), K, 1);
          return Promise.resolve(Array.from(m.keys, (key) => ids[Number(key)]!));
        },
        disk: () => {
          if (!existsSync(file)) index.save(file);
          return Promise.resolve(statSync(file).size);
        },
        close: () => {
          if (cache === undefined) rmSync(dir, { recursive: true, force: true });
          return Promise.resolve();
        },
      }),
    );
    return result;
  }

  if (name === 'chroma') {
    const skip = serviceSkipReason('chroma');
    if (skip !== undefined) throw new Error(`chroma skipped: ${skip}`);
    // With --cache, the server keeps its data directory and the collection is built once.
    const cache = cacheDir('chroma');
    const hit = cache !== undefined && existsSync(join(cache, META));
    const path = cache !== undefined ? join(cache, 'data') : mkdtempSync(join(tmpdir(), 'bench-chroma-'));
    if (cache !== undefined && !hit) {
      rmSync(cache, { recursive: true, force: true });
      mkdirSync(path, { recursive: true });
    }
    const server = await startChroma({ path });
    try {
      await measure('chroma', () => {
        const subject = storeSubject(
          new ChromaVectorStore({ url: server.url, collectionPrefix: 'bench' }),
          () => Promise.resolve(dirSize(path)),
        );
        if (hit) return Promise.resolve({ ...subject, insert: () => Promise.resolve(readBuild(cache)) });
        return Promise.resolve({
          ...subject,
          built: (build: CachedBuild) => {
            if (cache !== undefined) writeFileSync(join(cache, META), JSON.stringify(build));
            return Promise.resolve();
          },
        });
      });
    } finally {
      await server.stop();
      if (cache === undefined) rmSync(path, { recursive: true, force: true });
    }
    return result;
  }
  throw new Error(`unknown store ${name}`);
}

// ------------------------------------------------------------------ parent

/** Runs one child process to completion or to the timeout; resolves with what it reported. */
function runChild(name: string, work: string): Promise<ChildResult | Failed> {
  const resultFile = join(work, `result-${process.pid}-${name.replace(/[^A-Za-z0-9]/g, '_')}.json`);
  rmSync(resultFile, { force: true });
  const script = fileURLToPath(import.meta.url);
  const childArgs = [...args, '--child', name, '--work', work, '--result', resultFile];
  return new Promise((resolve) => {
    const started = performance.now();
    const proc = spawn(process.execPath, ['--expose-gc', ...process.execArgv, script, ...childArgs], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill('SIGTERM');
      setTimeout(() => proc.kill('SIGKILL'), 5000).unref();
    }, TIMEOUT_S * 1000);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      const s = ((performance.now() - started) / 1000).toFixed(0);
      if (!timedOut && code === 0 && existsSync(resultFile)) {
        console.error(`${name}: done in ${s} s`);
        resolve(JSON.parse(readFileSync(resultFile, 'utf8')) as ChildResult);
      } else {
        const error = timedOut ? `stopped at the ${TIMEOUT_S} s limit` : `exited with ${code ?? signal}`;
        console.error(`${name}: ${error}`);
        resolve({ store: name, error });
      }
      rmSync(resultFile, { force: true });
    });
  });
}

async function main(): Promise<void> {
  if (CHILD !== '') {
    writeFileSync(RESULT, JSON.stringify(await child(CHILD)));
    return;
  }
  console.error(`vector bench: n=${N} dim=${DIM} queries=${Q} (exact stores ${EXACT_Q}) k=${K} data=${DATA}`);
  const work = CACHE !== '' ? CACHE : mkdtempSync(join(tmpdir(), 'bench-vector-'));
  mkdirSync(work, { recursive: true });
  await prepare(work);
  const subjects = [
    'memory',
    'faiss-flat',
    ...HNSWS.map((h) => `faiss-hnsw:${h}`),
    'chroma',
    'usearch',
    'hnswlib',
  ].filter((s) => wanted(s.split(':')[0]!) || wanted(s));
  const rows: Row[] = [];
  const failed: Failed[] = [];
  const interleaved: Record<string, Interleaved> = {};
  const sweeps: Record<string, SweepPoint[]> = {};
  const report = (): object => {
    const out = {
      n: N,
      dim: DIM,
      queries: Q,
      exactQueries: EXACT_Q,
      k: K,
      data: DATA,
      hnsw: HNSWS,
      efConstruction: EFC ?? 40,
      efSearch: EF,
      rows,
      failed,
      interleaved,
      sweeps,
      at: new Date().toISOString(),
    };
    // Written after every store: a long run stopped midway keeps what it measured.
    if (OUT !== '') writeFileSync(OUT, `${JSON.stringify(out, null, 2)}\n`);
    return out;
  };
  for (const subject of subjects) {
    const got = await runChild(subject, work);
    if ('error' in got) failed.push(got);
    else {
      rows.push(...got.rows);
      Object.assign(interleaved, got.interleaved);
      Object.assign(sweeps, got.sweeps);
    }
    report();
  }
  if (CACHE === '') rmSync(work, { recursive: true, force: true });
  const out = report();
  if (args.includes('--json')) {
    console.log(JSON.stringify(out, null, 2));
    return;
  }
  console.log(
    `\nn=${N} dim=${DIM} queries=${Q} (exact stores: ${EXACT_Q}) k=${K} data=${DATA} efConstruction=${EFC ?? 40} efSearch=${EF}`,
  );
  console.log('| store | insert/s | p50 ms | p99 ms | recall@10 | memory MB | disk MB |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(
      `| ${r.store}${r.cached ? ' (cached)' : ''} | ${r.insertPerSec.toLocaleString('en')} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.recall.toFixed(3)} | ${r.memoryMB.toFixed(0)} | ${r.diskMB === null ? '–' : r.diskMB.toFixed(1)} |`,
    );
  }
  for (const f of failed) console.log(`| ${f.store} | ${f.error} | | | | | |`);
  for (const [name, o] of Object.entries(interleaved)) {
    console.log(
      `adapter overhead (${name}, interleaved ×${o.rounds} over ${o.queries} queries, p50): ${o.overheadPct.toFixed(1)}% (${o.adapterP50.toFixed(3)} vs ${o.rawP50.toFixed(3)} ms)`,
    );
  }
  for (const [name, points] of Object.entries(sweeps)) {
    console.log(`\n${name}, faiss-node by efSearch: | efSearch | recall@10 | p50 ms | p99 ms |`);
    for (const p of points)
      console.log(`| ${p.efSearch} | ${p.recall.toFixed(3)} | ${p.p50.toFixed(3)} | ${p.p99.toFixed(3)} |`);
  }
}

await main();
