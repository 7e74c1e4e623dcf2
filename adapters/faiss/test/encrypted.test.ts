import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AesGcmCodec, StaticKeyring, encryptedVectorStore, isDreamAgentError } from 'dream-agent';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureFaissNode } from '@dream-agent/test-services';
import { FaissVectorStore } from '../src/index.js';

const skipReason = ensureFaissNode();
const CANARY = 'CANARY-faiss-7f3e-iban-DE89370400440532013000';
const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'dream-faiss-enc-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Every file under `dir`, recursively, as raw bytes. */
function rawFiles(dir: string): { path: string; bytes: Buffer }[] {
  const out: { path: string; bytes: Buffer }[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...rawFiles(path));
    else if (entry.isFile()) out.push({ path, bytes: readFileSync(path) });
  }
  return out;
}

/** The files whose bytes contain the needle (as UTF-8, and as UTF-16LE in case a layer writes that). */
const holding = (dir: string, needle: string): string[] =>
  rawFiles(dir)
    .filter(({ bytes }) => bytes.includes(needle, 0, 'utf8') || bytes.includes(needle, 0, 'utf16le'))
    .map((f) => f.path);

const codec = (): AesGcmCodec =>
  new AesGcmCodec(new StaticKeyring({ keys: { k1: new Uint8Array(randomBytes(32)) }, current: 'k1' }));

const docs = [
  {
    id: 'doc-1#0',
    vector: [1, 0, 0],
    metadata: {
      documentId: 'doc-1',
      sessionId: 's1',
      text: `wire the refund to ${CANARY}`,
      source: { title: `statement of ${CANARY}`, page: 3 },
    },
  },
  {
    id: 'doc-2#0',
    vector: [0, 1, 0],
    metadata: { documentId: 'doc-2', sessionId: 's2', text: 'the handbook says hello' },
  },
  { id: 'doc-3#0', vector: [0, 0, 1], metadata: { documentId: 'doc-3', sessionId: 's1', text: 'more' } },
];

describe.skipIf(skipReason !== undefined)(
  `encryptedVectorStore over FAISS on disk${skipReason ? ` — skipped: ${skipReason}` : ''}`,
  () => {
    it('the scan finds the canary in the files of an unencrypted store (the control)', async () => {
      const directory = tempDir();
      const store = await FaissVectorStore.open({ directory });
      await store.upsert(docs, { namespace: 'tenant:acme' });
      await store.close();
      expect(rawFiles(directory).length).toBeGreaterThan(0);
      expect(holding(directory, CANARY).length).toBeGreaterThan(0);
    });

    it.each(['Flat', 'HNSW32'])(
      '%s: no file written holds the canary; clear filter fields still filter after a reopen',
      async (index) => {
        const directory = tempDir();
        const c = codec();
        const scope = { namespace: 'tenant:acme' };
        let backend = await FaissVectorStore.open({ directory, index });
        let store = encryptedVectorStore(backend, { codec: c });
        await store.upsert(docs, scope);
        await backend.save();
        expect(rawFiles(directory).length).toBeGreaterThan(0);
        expect(holding(directory, CANARY)).toEqual([]);
        // The readable filter fields are on disk as documented; the sealed ones are not.
        expect(holding(directory, 'doc-2')).not.toEqual([]);
        expect(holding(directory, 'handbook')).toEqual([]);
        await backend.close();

        backend = await FaissVectorStore.open({ directory, index });
        store = encryptedVectorStore(backend, { codec: c });
        const hits = await store.query([1, 0, 0], 3, { sessionId: 's1' }, scope);
        expect(hits.map((h) => h.id).sort()).toEqual(['doc-1#0', 'doc-3#0']);
        expect(hits.find((h) => h.id === 'doc-1#0')?.metadata).toEqual(docs[0]!.metadata);
        expect((await store.query([0, 1, 0], 1, { documentId: 'doc-2' }, scope))[0]?.metadata).toEqual(
          docs[1]!.metadata,
        );
        // A filter on a sealed field cannot be answered by the backend: refused, not silently empty.
        const refused = await store.query([1, 0, 0], 1, { text: 'more' }, scope).then(
          () => undefined,
          (e: unknown) => (isDreamAgentError(e) ? e.code : String(e)),
        );
        expect(refused).toBe('INVALID_INPUT');
        expect(await store.deleteWhere?.({ documentId: 'doc-1' }, scope)).toBe(1);
        await backend.close();
        expect(holding(directory, CANARY)).toEqual([]);
        expect(holding(directory, 'doc-1#0')).toEqual([]);

        // Opened with another key, the rows on disk do not decrypt to anything.
        backend = await FaissVectorStore.open({ directory, index });
        const wrong = encryptedVectorStore(backend, { codec: codec() });
        const code = await wrong.query([0, 0, 1], 1, undefined, scope).then(
          () => undefined,
          (e: unknown) => (isDreamAgentError(e) ? e.code : String(e)),
        );
        expect(code).toBe('DECRYPTION_FAILED');
        await backend.close();
      },
    );
  },
);
