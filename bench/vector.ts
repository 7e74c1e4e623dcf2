/**
 * Vector store benchmark, side by side in one run: the memory store, FAISS through the adapter (flat,
 * HNSW) and directly through faiss-node (the adapter's overhead), Chroma (a real `chroma run` server),
 * and hnswlib-node and usearch as reference ANN libraries.
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
 * (RSS growth while building) and disk (saved size).
 *
 * HNSW build parameters: `--hnsw HNSW32` (the index description; its number is M, the graph degree),
 * `--efc N` (efConstruction, FAISS's default 40 when absent) and `--ef N` (efSearch, default 64).
 *
 * Usage: `tsx bench/vector.ts [--n 10000] [--queries 200] [--data spectrum|noise] [--hnsw HNSW32]
 * [--efc 40] [--ef 64] [--only memory,faiss-hnsw,…] [--json] [--out FILE] [--cache DIR]`.
 *
 * `--cache DIR` keeps the FAISS indexes built by the adapter in `DIR` (the data is deterministic, seed
 * 42): the first run builds and saves them, later runs open them from disk (their row says `cached` and
 * repeats the build's insert rate), and the raw faiss-node rows load the very same index files — so a
 * 100k run fits in about two minutes on a small machine once built, and the overhead compares one
 * index. With both FAISS HNSW rows present, the adapter overhead is also measured interleaved (adapter
 * and faiss-node answer each query in turn, several rounds) so that load on a shared machine hits both
 * alike.
 */
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
const DIM = 384;
const K = 10;
const only = arg('only', '').split(',').filter(Boolean);
const CACHE = arg('cache', '');
const OUT = arg('out', '');
/** HNSW search breadth (faiss `efSearch`) for the adapter and the raw faiss-node rows alike. */
const EF = Number(arg('ef', '64'));
/** HNSW index description (M is its number) and build breadth (undefined: FAISS's default 40). */
const HNSW = arg('hnsw', 'HNSW32');
const EFC = arg('efc', '') === '' ? undefined : Number(arg('efc', ''));
const DATA = arg('data', 'spectrum');
if (!['spectrum', 'noise', 'clinc'].includes(DATA))
  throw new Error(`--data must be spectrum, noise or clinc, got ${DATA}`);
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
const generated =
  DATA === 'clinc'
    ? await clincData()
    : {
        data: Array.from({ length: N }, () => unit(point())),
        queries: Array.from({ length: Q }, () => unit(point())),
      };
const data = generated.data;
const queries = generated.queries;
const ids = data.map((_, i) => `v${i}`);

// ------------------------------------------------------------------ harness

interface Row {
  store: string;
  insertPerSec: number;
  p50: number;
  p99: number;
  recall: number;
  memoryMB: number;
  diskMB: number | null;
  /** True when the index was opened from the `--cache` directory (insert rate and memory from its build). */
  cached?: boolean;
}

const rows: Row[] = [];
let truth: string[][] = [];

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

async function measure(name: string, make: () => Promise<Subject>): Promise<void> {
  if (!wanted(name)) return;
  const before = rss();
  const subject = await make();
  const t0 = performance.now();
  const cached = await subject.insert();
  const insertMs = performance.now() - t0;
  const memoryMB = cached ? cached.memoryMB : (rss() - before) / 1e6;
  if (!cached) await subject.built?.({ insertPerSec: Math.round(N / (insertMs / 1000)), memoryMB });
  for (const q of queries.slice(0, 10)) await subject.search(q);
  const times: number[] = [];
  let hits = 0;
  for (const [i, q] of queries.entries()) {
    const t = performance.now();
    const got = await subject.search(q);
    times.push(performance.now() - t);
    const expected = new Set(truth[i]);
    hits += got.filter((id) => expected.has(id)).length;
  }
  const diskMB = subject.disk ? (await subject.disk()) / 1e6 : null;
  await subject.close?.();
  rows.push({
    store: name,
    insertPerSec: cached ? cached.insertPerSec : Math.round(N / (insertMs / 1000)),
    p50: pct(times, 0.5),
    p99: pct(times, 0.99),
    recall: hits / (K * queries.length),
    memoryMB,
    diskMB,
    ...(cached ? { cached: true } : {}),
  });
  console.error(`${name}: done`);
  // Written after every row: a long run stopped midway keeps what it measured.
  writeReport();
}

/** The report so far; written to `--out` when given. */
function writeReport(): object {
  const report = {
    n: N,
    dim: DIM,
    queries: Q,
    k: K,
    data: DATA,
    hnsw: HNSW,
    efConstruction: EFC ?? 40,
    efSearch: EF,
    rows,
    interleaved,
    at: new Date().toISOString(),
  };
  if (OUT !== '') writeFileSync(OUT, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

/** p50 of two searches answering the same queries in turn (several rounds), and their ratio. */
interface Interleaved {
  adapterP50: number;
  rawP50: number;
  overheadPct: number;
  rounds: number;
}
const interleaved: Record<string, Interleaved> = {};

async function interleave(
  name: string,
  adapter: (q: number[]) => Promise<unknown>,
  raw: (q: number[]) => unknown,
  rounds = 5,
): Promise<void> {
  const a: number[] = [];
  const r: number[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const q of queries) {
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
  interleaved[name] = { adapterP50, rawP50, overheadPct: (adapterP50 / rawP50 - 1) * 100, rounds };
}

/** The cache directory of one FAISS configuration (undefined without `--cache`). */
const cacheDir = (name: string): string | undefined => {
  if (CACHE === '') return undefined;
  const build = name.includes('hnsw') ? `-${HNSW.replace(/[^A-Za-z0-9]/g, '_')}-efc${EFC ?? 40}` : '';
  return join(CACHE, `${name}-n${N}-d${DIM}-${DATA}${build}-seed42`);
};
const META = 'bench-build.json';

const BATCH = 1000;
const items = (from: number, to: number) =>
  data.slice(from, to).map((vector, j) => ({ id: ids[from + j]!, vector, metadata: { i: from + j } }));

function storeSubject(
  store: VectorStore,
  disk?: () => Promise<number>,
  close?: () => Promise<void>,
): Subject {
  return {
    insert: async () => {
      for (let i = 0; i < N; i += BATCH)
        await store.upsert(items(i, Math.min(N, i + BATCH)), { namespace: 'bench' });
    },
    search: async (q) => (await store.query(q, K, undefined, { namespace: 'bench' })).map((m) => m.id),
    ...(disk ? { disk } : {}),
    ...(close ? { close } : {}),
  };
}

// ------------------------------------------------------------------ stores

const require = createRequire(import.meta.url);

async function main(): Promise<void> {
  console.error(`vector bench: n=${N} dim=${DIM} queries=${Q} k=${K}`);
  // Ground truth: exact search (the memory store is exact).
  const exact = new MemoryVectorStore();
  for (let i = 0; i < N; i += BATCH) await exact.upsert(items(i, Math.min(N, i + BATCH)));
  truth = await Promise.all(queries.map(async (q) => (await exact.query(q, K)).map((m) => m.id)));

  await measure('memory', () => Promise.resolve(storeSubject(new MemoryVectorStore())));

  const faissSkip = ensureFaissNode();
  if (faissSkip === undefined) {
    const opened = new Map<string, FaissVectorStore>();
    for (const [name, index] of [
      ['faiss-flat', 'Flat'],
      ['faiss-hnsw', HNSW],
    ] as const) {
      await measure(name, async () => {
        const cache = cacheDir(name);
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
          ...(index !== 'Flat' && EFC !== undefined ? { efConstruction: EFC } : {}),
        });
        const subject = storeSubject(
          store,
          async () => {
            if (!hit) await store.save();
            return dirSize(directory);
          },
          async () => {
            if (cache === undefined) {
              await store.close();
              rmSync(directory, { recursive: true, force: true });
            } else opened.set(name, store);
          },
        );
        if (hit) {
          const build = JSON.parse(readFileSync(join(cache, META), 'utf8')) as CachedBuild;
          return { ...subject, insert: () => Promise.resolve(build) };
        }
        if (cache === undefined) return subject;
        // A fresh build into the cache: saved with its numbers once measured.
        return {
          ...subject,
          built: async (build: CachedBuild) => {
            await store.save();
            writeFileSync(join(cache, META), JSON.stringify(build));
          },
        };
      });
    }
    // faiss-node directly, asking for as many neighbours as the adapter does (efSearch 64).
    const faiss = require('faiss-node') as {
      Index: {
        fromFactory(
          d: number,
          s: string,
          m: number,
        ): {
          add(x: number[]): void;
          search(x: number[], k: number): { labels: number[] };
          toBuffer(): Buffer;
        };
        fromBuffer(b: Buffer): {
          add(x: number[]): void;
          search(x: number[], k: number): { labels: number[] };
          toBuffer(): Buffer;
        };
      };
    };
    // A raw index built here gets the adapter's efConstruction the way the adapter sets it: patched
    // into the empty index's serialised form (faiss-node has no setter; see the adapter's source).
    const rawIndex = (index: string): ReturnType<typeof faiss.Index.fromFactory> => {
      const empty = faiss.Index.fromFactory(DIM, index, 0);
      if (index === 'Flat' || EFC === undefined) return empty;
      const buf = empty.toBuffer();
      let offset = 37;
      for (const size of [8, 4, 4, 8, 4]) offset += 8 + Number(buf.readBigUInt64LE(offset)) * size;
      buf.writeInt32LE(EFC, offset + 8);
      return faiss.Index.fromBuffer(buf);
    };
    for (const [name, index, breadth, source] of [
      ['faiss-raw-flat', 'Flat', K, 'faiss-flat'],
      ['faiss-raw-hnsw', HNSW, EF, 'faiss-hnsw'],
    ] as const) {
      // With a cache, the very index the adapter built and saved (its labels are the insertion order).
      const cache = cacheDir(source);
      const file =
        cache !== undefined && existsSync(join(cache, META))
          ? readdirSync(join(cache, 'index'))
              .map((f) => join('index', f))
              .find((f) => f.endsWith('.faiss'))
          : undefined;
      let idx: ReturnType<typeof faiss.Index.fromFactory> | undefined;
      const search = (q: number[]): string[] =>
        idx!
          .search(q, Math.min(N, breadth))
          .labels.slice(0, K)
          .map((l) => ids[l]!);
      await measure(name, () => {
        idx = file !== undefined ? faiss.Index.fromBuffer(readFileSync(join(cache!, file))) : rawIndex(index);
        return Promise.resolve({
          insert: async (): Promise<CachedBuild | undefined> => {
            await Promise.resolve();
            if (file !== undefined) {
              return JSON.parse(readFileSync(join(cache!, META), 'utf8')) as CachedBuild;
            }
            for (let i = 0; i < N; i += BATCH) idx!.add(data.slice(i, i + BATCH).flat());
            return undefined;
          },
          search: (q) => Promise.resolve(search(q)),
          disk: async () => {
            await Promise.resolve();
            return idx!.toBuffer().length;
          },
        });
      });
      const store = opened.get(source);
      if (store !== undefined && idx !== undefined) {
        // Flat scans every vector per query: one interleaved round is plenty (and keeps 100k short).
        const rounds = index === 'Flat' ? 1 : 5;
        await interleave(source, (q) => store.query(q, K, undefined, { namespace: 'bench' }), search, rounds);
      }
    }
    for (const store of opened.values()) await store.close();
  } else {
    console.error(`faiss skipped: ${faissSkip}`);
  }

  if (wanted('hnswlib')) {
    const { HierarchicalNSW } = require('hnswlib-node') as typeof HnswlibModule;
    await measure('hnswlib', () => {
      const index = new HierarchicalNSW('ip', DIM);
      index.initIndex(N, 16, 200);
      index.setEf(64);
      return Promise.resolve({
        insert: async () => {
          await Promise.resolve();
          for (let i = 0; i < N; i++) index.addPoint(data[i]!, i);
        },
        search: async (q) => {
          await Promise.resolve();
          return index.searchKnn(q, K).neighbors.map((l) => ids[l]!);
        },
        disk: async () => {
          const dir = mkdtempSync(join(tmpdir(), 'bench-hnswlib-'));
          await index.writeIndex(join(dir, 'index.bin'));
          const size = dirSize(dir);
          rmSync(dir, { recursive: true, force: true });
          return size;
        },
      });
    });
  }

  if (wanted('usearch')) {
    const { Index, MetricKind } = require('usearch') as typeof UsearchModule;
    await measure('usearch', () => {
      const index = new Index({
        metric: MetricKind.Cos,
        connectivity: 16,
        dimensions: DIM,
      } as unknown as ConstructorParameters<typeof Index>[0]);
      return Promise.resolve({
        insert: async () => {
          await Promise.resolve();
          const flat = new Float32Array(N * DIM);
          data.forEach((v, i) => flat.set(v, i * DIM));
          index.add(
            BigUint64Array.from({ length: N }, (_, i) => BigInt(i)),
            flat,
          );
        },
        search: async (q) => {
          await Promise.resolve();
          const m = index.search(Float32Array.from(q), K, 0);
          return Array.from(m.keys, (key) => ids[Number(key)]!);
        },
        disk: async () => {
          const dir = mkdtempSync(join(tmpdir(), 'bench-usearch-'));
          index.save(join(dir, 'index.usearch'));
          const size = dirSize(dir);
          rmSync(dir, { recursive: true, force: true });
          await Promise.resolve();
          return size;
        },
      });
    });
  }

  if (wanted('chroma')) {
    const skip = serviceSkipReason('chroma');
    if (skip === undefined) {
      // With --cache, the server keeps its data directory and the collection is built once.
      const cache = cacheDir('chroma');
      const hit = cache !== undefined && existsSync(join(cache, META));
      if (cache !== undefined && !hit) {
        rmSync(cache, { recursive: true, force: true });
        mkdirSync(join(cache, 'data'), { recursive: true });
      }
      const server = await startChroma(cache !== undefined ? { path: join(cache, 'data') } : {});
      await measure('chroma', () => {
        const subject = storeSubject(new ChromaVectorStore({ url: server.url, collectionPrefix: 'bench' }));
        if (hit) {
          const build = JSON.parse(readFileSync(join(cache, META), 'utf8')) as CachedBuild;
          return Promise.resolve({ ...subject, insert: () => Promise.resolve(build) });
        }
        if (cache === undefined) return Promise.resolve(subject);
        return Promise.resolve({
          ...subject,
          built: async (build: CachedBuild) => {
            await Promise.resolve();
            writeFileSync(join(cache, META), JSON.stringify(build));
          },
          disk: async () => {
            await Promise.resolve();
            return dirSize(join(cache, 'data'));
          },
        });
      });
      await server.stop();
    } else console.error(`chroma skipped: ${skip}`);
  }

  const report = writeReport();
  if (args.includes('--json')) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  console.log(
    `\nn=${N} dim=${DIM} queries=${Q} k=${K} data=${DATA} ${HNSW} efConstruction=${EFC ?? 40} efSearch=${EF} (RSS growth is approximate, the exact set is held throughout)`,
  );
  console.log('| store | insert/s | p50 ms | p99 ms | recall@10 | memory MB | disk MB |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(
      `| ${r.store}${r.cached ? ' (cached)' : ''} | ${r.insertPerSec.toLocaleString('en')} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.recall.toFixed(3)} | ${r.memoryMB.toFixed(0)} | ${r.diskMB === null ? '–' : r.diskMB.toFixed(1)} |`,
    );
  }
  const adapter = rows.find((r) => r.store === 'faiss-hnsw');
  const raw = rows.find((r) => r.store === 'faiss-raw-hnsw');
  if (adapter && raw) {
    console.log(
      `\nadapter overhead (HNSW, p50): ${((adapter.p50 / raw.p50 - 1) * 100).toFixed(1)}% over faiss-node directly`,
    );
  }
  for (const [name, o] of Object.entries(interleaved)) {
    console.log(
      `adapter overhead (${name}, interleaved ×${o.rounds}, p50): ${o.overheadPct.toFixed(1)}% (${o.adapterP50.toFixed(3)} vs ${o.rawP50.toFixed(3)} ms)`,
    );
  }
  const aflat = rows.find((r) => r.store === 'faiss-flat');
  const rflat = rows.find((r) => r.store === 'faiss-raw-flat');
  if (aflat && rflat) {
    console.log(
      `adapter overhead (Flat, p50): ${((aflat.p50 / rflat.p50 - 1) * 100).toFixed(1)}% over faiss-node directly`,
    );
  }
}

await main();
