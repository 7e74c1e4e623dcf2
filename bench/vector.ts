/**
 * Vector store benchmark, side by side in one run: the memory store, FAISS through the adapter (flat,
 * HNSW) and directly through faiss-node (the adapter's overhead), Chroma (a real `chroma run` server),
 * and hnswlib-node and usearch as reference ANN libraries.
 *
 * Data: clustered vectors of dimension 384 (100 Gaussian clusters — closer to embeddings than uniform
 * noise); queries from the same distribution. Reported per store: insert throughput, query p50/p99
 * (k = 10), recall@10 against exact search, memory (RSS growth while building) and disk (saved size).
 *
 * Usage: `tsx bench/vector.ts [--n 10000] [--queries 200] [--only memory,faiss-hnsw,…] [--json]`.
 * Keep each run under a minute on a small machine: `--n 100000 --queries 100 --only memory,faiss-flat,faiss-hnsw,faiss-raw-hnsw,usearch`.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChromaVectorStore } from '@dream-agent/chroma';
import { FaissVectorStore } from '@dream-agent/faiss';
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
const point = (): number[] => {
  const c = centers[Math.floor(rand() * centers.length)]!;
  return c.map((x) => x + 0.6 * gauss());
};
const unit = (v: number[]): number[] => {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / n);
};
const data = Array.from({ length: N }, () => unit(point()));
const queries = Array.from({ length: Q }, () => unit(point()));
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

interface Subject {
  insert(): Promise<void>;
  search(q: number[]): Promise<string[]>;
  disk?(): Promise<number>;
  close?(): Promise<void>;
}

async function measure(name: string, make: () => Promise<Subject>): Promise<void> {
  if (!wanted(name)) return;
  const before = rss();
  const subject = await make();
  const t0 = performance.now();
  await subject.insert();
  const insertMs = performance.now() - t0;
  const memoryMB = (rss() - before) / 1e6;
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
    insertPerSec: Math.round(N / (insertMs / 1000)),
    p50: pct(times, 0.5),
    p99: pct(times, 0.99),
    recall: hits / (K * queries.length),
    memoryMB,
    diskMB,
  });
  console.error(`${name}: done`);
}

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
    for (const [name, index] of [
      ['faiss-flat', 'Flat'],
      ['faiss-hnsw', 'HNSW32'],
    ] as const) {
      await measure(name, async () => {
        const directory = mkdtempSync(join(tmpdir(), 'bench-faiss-'));
        const store = await FaissVectorStore.open({ directory, index });
        return storeSubject(
          store,
          async () => {
            await store.save();
            return dirSize(directory);
          },
          async () => {
            await store.close();
            rmSync(directory, { recursive: true, force: true });
          },
        );
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
      };
    };
    for (const [name, index, breadth] of [
      ['faiss-raw-flat', 'Flat', K],
      ['faiss-raw-hnsw', 'HNSW32', 64],
    ] as const) {
      await measure(name, () => {
        const idx = faiss.Index.fromFactory(DIM, index, 0);
        return Promise.resolve({
          insert: async () => {
            await Promise.resolve();
            for (let i = 0; i < N; i += BATCH) idx.add(data.slice(i, i + BATCH).flat());
          },
          search: async (q) => {
            await Promise.resolve();
            return idx
              .search(q, Math.min(N, breadth))
              .labels.slice(0, K)
              .map((l) => ids[l]!);
          },
          disk: async () => {
            await Promise.resolve();
            return idx.toBuffer().length;
          },
        });
      });
    }
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
      const server = await startChroma();
      await measure('chroma', () =>
        Promise.resolve(storeSubject(new ChromaVectorStore({ url: server.url, collectionPrefix: 'bench' }))),
      );
      await server.stop();
    } else console.error(`chroma skipped: ${skip}`);
  }

  if (args.includes('--json')) {
    console.log(JSON.stringify({ n: N, dim: DIM, queries: Q, k: K, rows }, null, 2));
    return;
  }
  console.log(
    `\nn=${N} dim=${DIM} queries=${Q} k=${K} (clustered data; RSS growth is approximate, the exact set is held throughout)`,
  );
  console.log('| store | insert/s | p50 ms | p99 ms | recall@10 | memory MB | disk MB |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(
      `| ${r.store} | ${r.insertPerSec.toLocaleString('en')} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.recall.toFixed(3)} | ${r.memoryMB.toFixed(0)} | ${r.diskMB === null ? '–' : r.diskMB.toFixed(1)} |`,
    );
  }
  const adapter = rows.find((r) => r.store === 'faiss-hnsw');
  const raw = rows.find((r) => r.store === 'faiss-raw-hnsw');
  if (adapter && raw) {
    console.log(
      `\nadapter overhead (HNSW, p50): ${((adapter.p50 / raw.p50 - 1) * 100).toFixed(1)}% over faiss-node directly`,
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
