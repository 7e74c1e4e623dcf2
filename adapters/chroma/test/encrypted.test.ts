import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AesGcmCodec, StaticKeyring, encryptedVectorStore, isDreamAgentError } from 'dream-agent';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceSkipReason, startChroma, type ChromaService } from '@dream-agent/test-services';
import { ChromaVectorStore } from '../src/index.js';

const skipReason = serviceSkipReason('chroma');
const PLAIN_CANARY = 'CANARY-chroma-plain-0c4d-DE89370400440532013000';
const CANARY = 'CANARY-chroma-sealed-9b2a-DE89370400440532013000';

/** Every file under `dir`, recursively, as raw bytes (the SQLite file, its WAL, the segment files). */
function rawFiles(dir: string): Buffer[] {
  const out: Buffer[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...rawFiles(path));
    else if (entry.isFile()) out.push(readFileSync(path));
  }
  return out;
}
const found = (dir: string, needle: string): boolean =>
  rawFiles(dir).some((b) => b.includes(needle, 0, 'utf8') || b.includes(needle, 0, 'utf16le'));

const codec = (): AesGcmCodec =>
  new AesGcmCodec(new StaticKeyring({ keys: { k1: new Uint8Array(randomBytes(32)) }, current: 'k1' }));

describe.skipIf(skipReason !== undefined)(
  `encryptedVectorStore over Chroma's data directory${skipReason ? ` — skipped: ${skipReason}` : ''}`,
  () => {
    let chroma: ChromaService | undefined;
    let dir = '';
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'dream-chroma-enc-'));
      chroma = await startChroma({ path: dir });
    });
    afterAll(async () => {
      await chroma?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('a canary in metadata is in no file of the data directory when sealed (and is, unsealed: the control)', async () => {
      const url = chroma!.url;
      const scope = { namespace: 'tenant:acme' };
      const plain = new ChromaVectorStore({ url, collectionPrefix: 'plainctl' });
      await plain.upsert([{ id: 'p', vector: [1, 0], metadata: { text: PLAIN_CANARY } }], scope);

      const c = codec();
      const store = encryptedVectorStore(new ChromaVectorStore({ url, collectionPrefix: 'sealed' }), {
        codec: c,
      });
      await store.upsert(
        [
          {
            id: 'doc-1#0',
            vector: [1, 0],
            metadata: { documentId: 'doc-1', sessionId: 's1', text: `refund to ${CANARY}`, page: 3 },
          },
          { id: 'doc-2#0', vector: [0, 1], metadata: { documentId: 'doc-2', sessionId: 's2', text: 'hi' } },
        ],
        scope,
      );
      // Chroma writes through its SQLite log; wait until the control row is on disk, then scan.
      const started = Date.now();
      while (!found(dir, PLAIN_CANARY) && Date.now() - started < 60_000) {
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(found(dir, PLAIN_CANARY)).toBe(true);
      expect(found(dir, CANARY)).toBe(false);

      // The readable fields still filter on the server; the sealed ones open again through the wrapper.
      const hits = await store.query([1, 0], 2, { sessionId: 's1' }, scope);
      expect(hits.map((h) => [h.id, h.metadata])).toEqual([
        ['doc-1#0', { documentId: 'doc-1', sessionId: 's1', text: `refund to ${CANARY}`, page: 3 }],
      ]);
      const refused = await store.query([1, 0], 1, { text: 'hi' }, scope).then(
        () => undefined,
        (e: unknown) => (isDreamAgentError(e) ? e.code : String(e)),
      );
      expect(refused).toBe('INVALID_INPUT');
      const wrong = encryptedVectorStore(new ChromaVectorStore({ url, collectionPrefix: 'sealed' }), {
        codec: codec(),
      });
      const code = await wrong.query([1, 0], 1, undefined, scope).then(
        () => undefined,
        (e: unknown) => (isDreamAgentError(e) ? e.code : String(e)),
      );
      expect(code).toBe('DECRYPTION_FAILED');
      await chroma!.stop();
      chroma = undefined;
      // After a clean shutdown (everything flushed), still nowhere on disk.
      expect(found(dir, CANARY)).toBe(false);
      expect(found(dir, PLAIN_CANARY)).toBe(true);
    });
  },
);
