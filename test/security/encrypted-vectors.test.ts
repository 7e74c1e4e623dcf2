import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  AesGcmCodec,
  MemoryVectorStore,
  StaticKeyring,
  encryptedVectorStore,
  isDreamAgentError,
  type VectorStore,
} from 'dream-agent';

const CANARY = 'CANARY-vec-5a1b-iban-DE89370400440532013000';
const codec = (): AesGcmCodec =>
  new AesGcmCodec(new StaticKeyring({ keys: { k1: new Uint8Array(randomBytes(32)) }, current: 'k1' }));

async function code(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => (isDreamAgentError(e) ? e.code : String(e)),
  );
}

describe('encryptedVectorStore', () => {
  it('seals every metadata field but the filter fields; queries and filters work; the backend holds no canary', async () => {
    const inner = new MemoryVectorStore();
    const store: VectorStore = encryptedVectorStore(inner, { codec: codec() });
    const scope = { namespace: 'acme' };
    await store.upsert(
      [
        { id: 'a', vector: [1, 0], metadata: { sessionId: 's1', kind: 'turn', text: `pay ${CANARY}` } },
        { id: 'b', vector: [0, 1], metadata: { sessionId: 's2', kind: 'turn', text: 'hello' } },
      ],
      scope,
    );
    const raw = await inner.query([1, 0], 10, {}, scope);
    expect(JSON.stringify(raw)).not.toContain(CANARY);
    expect(raw.find((m) => m.id === 'a')?.metadata).toMatchObject({ sessionId: 's1', kind: 'turn' });
    expect(raw.find((m) => m.id === 'a')?.metadata?.['text']).toBeUndefined();

    const hits = await store.query([1, 0], 1, { sessionId: 's1' }, scope);
    expect(hits.map((m) => [m.id, m.metadata])).toEqual([
      ['a', { sessionId: 's1', kind: 'turn', text: `pay ${CANARY}` }],
    ]);
    expect(await code(store.query([1, 0], 1, { text: 'hello' }, scope))).toBe('INVALID_INPUT');
    expect(await code(store.query([1, 0], 1, { $or: [{ sessionId: 's1' }, { text: 'x' }] }, scope))).toBe(
      'INVALID_INPUT',
    );
    expect(await store.deleteWhere?.({ sessionId: 's2' }, scope)).toBe(1);
    expect((await store.query([0, 1], 10, {}, scope)).map((m) => m.id)).toEqual(['a']);
  });

  it('metadata moved onto another vector or namespace, a wrong key or plaintext metadata → DECRYPTION_FAILED', async () => {
    const inner = new MemoryVectorStore();
    const c = codec();
    const store = encryptedVectorStore(inner, { codec: c });
    await store.upsert([{ id: 'a', vector: [1, 0], metadata: { sessionId: 's1', text: CANARY } }]);
    const [raw] = await inner.query([1, 0], 1);
    await inner.upsert([{ id: 'b', vector: [1, 0], metadata: raw!.metadata! }]);
    await inner.delete(['a']);
    expect(await code(store.query([1, 0], 1))).toBe('DECRYPTION_FAILED');
    await inner.delete(['b']);
    await inner.upsert([{ id: 'a', vector: [1, 0], metadata: raw!.metadata! }], { namespace: 'other' });
    expect(await code(store.query([1, 0], 1, {}, { namespace: 'other' }))).toBe('DECRYPTION_FAILED');
    await inner.upsert([{ id: 'a', vector: [1, 0], metadata: raw!.metadata! }]);
    expect(await code(encryptedVectorStore(inner, { codec: codec() }).query([1, 0], 1))).toBe(
      'DECRYPTION_FAILED',
    );
    expect((await store.query([1, 0], 1))[0]?.metadata).toEqual({ sessionId: 's1', text: CANARY });
    await inner.upsert([{ id: 'a', vector: [1, 0], metadata: { sessionId: 's1', text: 'forged' } }]);
    expect(await code(store.query([1, 0], 1))).toBe('DECRYPTION_FAILED');
  });
});
