/**
 * Encryption at rest: a small codec port and its AES-256-GCM implementation on `node:crypto`.
 *
 * A sealed value is one string, `da1.<keyId>.<nonce>.<ciphertext+tag>` (base64url parts), so it fits any
 * column that holds JSON. The key id travels with the ciphertext: after a rotation old rows still open
 * with the key they were sealed with, and new writes use the current key. Every ciphertext is bound to
 * the record it belongs to through GCM's associated data (session id + record kind + record key), so a
 * row copied into another session, or onto another record of the same session, fails to open instead of
 * decrypting to someone else's data.
 *
 * @packageDocumentation
 */
import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  randomBytes,
  randomFillSync,
  type KeyObject,
} from 'node:crypto';
import { DreamAgentError } from '../errors/index.js';
import type { Json } from '../model/json.js';

/** Who a sealed value belongs to: lets a key provider choose per-tenant keys. */
export interface CodecContext {
  /** The session whose record is sealed or opened. */
  sessionId: string;
  /** The session's tenant, when known. */
  tenantId?: string;
}

/**
 * Seals and opens JSON values. Implementations must bind each ciphertext to `aad` (opening with a
 * different `aad` fails) and must fail with `DECRYPTION_FAILED`, never return garbage.
 */
export interface Codec {
  /**
   * @param value - the plaintext JSON value
   * @param aad - associated data identifying the record (checked on open)
   * @param context - session and tenant
   * @returns the sealed string
   */
  seal(value: Json, aad: string, context: CodecContext): Promise<string>;
  /**
   * @param sealed - a string returned by `seal`
   * @param aad - the same associated data as at seal time
   * @param context - session and tenant
   * @returns the plaintext value, revived as data only (no prototypes, no classes)
   * @throws `DECRYPTION_FAILED` on a wrong key, an unknown key id, tampering or a foreign record
   */
  open(sealed: string, aad: string, context: CodecContext): Promise<Json>;
  /**
   * Optional: seals a text that is already JSON (saves a parse and a re-serialisation when a caller
   * assembles a payload from parts, as `encryptedStore` does for one commit's small records).
   *
   * @param text - JSON text
   * @param aad - associated data identifying the record
   * @param context - session and tenant
   * @returns the sealed string (opened by `open` or `openText`)
   */
  sealText?(text: string, aad: string, context: CodecContext): Promise<string>;
  /**
   * Optional: opens a sealed value to its JSON text, not parsed.
   *
   * @throws `DECRYPTION_FAILED` as `open` does
   */
  openText?(sealed: string, aad: string, context: CodecContext): Promise<string>;
  /**
   * Optional: whether a sealed value was written with the key `seal` would use now for this context.
   * `reencryptStore` skips such values; without this method it re-seals every value.
   *
   * @param sealed - a sealed value
   * @param context - session and tenant
   * @returns true when re-sealing would change nothing but the nonce
   */
  isCurrent?(sealed: string, context: CodecContext): boolean | Promise<boolean>;
}

/** A data key: its id (stored beside every ciphertext) and 32 key bytes. */
export interface DataKey {
  /**
   * The key's id, `[A-Za-z0-9_-]`: written beside every ciphertext so the right key opens it after a
   * rotation.
   */
  id: string;
  /** The AES-256 key: exactly 32 bytes. */
  key: Uint8Array;
}

/**
 * Where keys come from. `current` is the key new writes use (it may differ per tenant); `byId` returns
 * any key that may still be needed to open old rows.
 */
export interface KeyProvider {
  /** @returns the key for new writes in this context */
  current(context: CodecContext): DataKey | Promise<DataKey>;
  /** @returns the key with that id, or undefined when it is unknown (retired or never existed) */
  byId(id: string, context: CodecContext): Uint8Array | undefined | Promise<Uint8Array | undefined>;
}

const KEY_ID = /^[A-Za-z0-9_-]{1,512}$/;

function keyBytes(id: string, key: Uint8Array | string): Uint8Array {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'base64') : key;
  if (bytes.length !== 32) {
    throw new DreamAgentError('INVALID_INPUT', `key "${id}" has ${bytes.length} bytes; AES-256 needs 32`, {
      details: { keyId: id, bytes: bytes.length },
    });
  }
  return bytes;
}

/** Options of {@link StaticKeyring}. */
export interface StaticKeyringOptions {
  /** Keys by id: 32 bytes, or their base64. Old ids stay here as long as rows sealed with them exist. */
  keys: Record<string, Uint8Array | string>;
  /** The id of the key new writes use. */
  current: string;
}

/**
 * A fixed set of keys, for keys held in configuration or a secret manager. Rotate by adding a key and
 * making it `current`; keep the old key until `reencrypt` has moved every row.
 *
 * @example
 * ```ts
 * const keys = new StaticKeyring({ keys: { k1: process.env.KEY_1!, k2: process.env.KEY_2! }, current: 'k2' });
 * ```
 */
export class StaticKeyring implements KeyProvider {
  readonly #keys = new Map<string, Uint8Array>();
  readonly #current: DataKey;

  /**
   * @param options - keys and the current id
   * @throws `INVALID_INPUT` when a key is not 32 bytes, an id is not `[A-Za-z0-9_-]`, or `current` is unknown
   */
  constructor(options: StaticKeyringOptions) {
    for (const [id, key] of Object.entries(options.keys)) {
      if (!KEY_ID.test(id)) throw new DreamAgentError('INVALID_INPUT', `key id "${id}" must match ${KEY_ID}`);
      this.#keys.set(id, keyBytes(id, key));
    }
    const current = this.#keys.get(options.current);
    if (!current) {
      throw new DreamAgentError('INVALID_INPUT', `current key "${options.current}" is not among the keys`);
    }
    this.#current = { id: options.current, key: current };
  }

  /** @returns the current key */
  current(): DataKey {
    return this.#current;
  }

  /** @returns the key with that id, if any */
  byId(id: string): Uint8Array | undefined {
    return this.#keys.get(id);
  }
}

/**
 * A key-management service as envelope encryption needs it: it wraps and unwraps data keys with a master
 * key that never leaves it (AWS KMS, GCP KMS, Vault transit…).
 */
export interface Kms {
  /**
   * @param dataKey - 32 fresh bytes
   * @param tenantId - the tenant the data key is for (or undefined for sessions without a tenant)
   * @returns the wrapped key, base64url (it is stored inside every ciphertext's key id)
   */
  wrap(dataKey: Uint8Array, tenantId: string | undefined): Promise<string>;
  /** @returns the data key for a wrapped key, or throws when it cannot */
  unwrap(wrapped: string, tenantId: string | undefined): Promise<Uint8Array>;
}

/**
 * Envelope keys per tenant: each tenant gets its own data key, wrapped by the KMS; the wrapped key is the
 * key id, so any node can open any row by asking the KMS to unwrap it (unwrapped keys are cached).
 * `rotate(tenantId)` starts a new data key for that tenant.
 */
export class EnvelopeKeyProvider implements KeyProvider {
  readonly #kms: Kms;
  readonly #current = new Map<string, Promise<DataKey>>();
  readonly #opened = new Map<string, Promise<Uint8Array>>();
  readonly #maxCached: number;

  /**
   * @param kms - wraps and unwraps data keys
   * @param options - `maxCachedKeys` bounds the cache of unwrapped keys (default 1000)
   */
  constructor(kms: Kms, options: { maxCachedKeys?: number } = {}) {
    this.#kms = kms;
    this.#maxCached = options.maxCachedKeys ?? 1000;
  }

  /** @returns the tenant's current data key, creating and wrapping one on first use */
  current(context: CodecContext): Promise<DataKey> {
    const tenant = context.tenantId ?? '';
    let key = this.#current.get(tenant);
    if (!key) {
      key = this.#fresh(context.tenantId);
      this.#current.set(tenant, key);
      key.catch(() => this.#current.delete(tenant));
    }
    return key;
  }

  /** Starts a new data key for a tenant; rows sealed with the old one keep opening. */
  rotate(tenantId?: string): void {
    this.#current.delete(tenantId ?? '');
  }

  /** @returns the unwrapped data key for a key id (the wrapped key) */
  async byId(id: string, context: CodecContext): Promise<Uint8Array | undefined> {
    const cacheKey = `${context.tenantId ?? ''}\u0000${id}`;
    let key = this.#opened.get(cacheKey);
    if (!key) {
      if (this.#opened.size >= this.#maxCached) {
        const oldest = this.#opened.keys().next();
        if (!oldest.done) this.#opened.delete(oldest.value);
      }
      key = this.#kms.unwrap(id, context.tenantId).then((k) => keyBytes('(unwrapped)', k));
      this.#opened.set(cacheKey, key);
      key.catch(() => this.#opened.delete(cacheKey));
    }
    try {
      return await key;
    } catch {
      return undefined;
    }
  }

  async #fresh(tenantId: string | undefined): Promise<DataKey> {
    const key = new Uint8Array(randomBytes(32));
    const id = await this.#kms.wrap(key, tenantId);
    if (!KEY_ID.test(id)) {
      throw new DreamAgentError('INVALID_INPUT', 'the KMS returned a wrapped key that is not base64url');
    }
    this.#opened.set(`${tenantId ?? ''}\u0000${id}`, Promise.resolve(key));
    return { id, key };
  }
}

const PREFIX = 'da1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Nonces come from a pool of random bytes refilled 4 KiB at a time: one `randomBytes(12)` call per value
 * cost about a third as much as the cipher itself (measured in `bench/security.ts`). Each nonce is a
 * fresh, never reused slice of CSPRNG output, so the 96-bit random-nonce bound of GCM is unchanged; the
 * slice is copied out so no caller can hold a view onto bytes handed out again later.
 */
const NONCE_POOL = Buffer.alloc(4096);
let noncePoolOffset = NONCE_POOL.length;

function nextNonce(): Buffer {
  if (noncePoolOffset + NONCE_BYTES > NONCE_POOL.length) {
    randomFillSync(NONCE_POOL);
    noncePoolOffset = 0;
  }
  const nonce = Buffer.from(NONCE_POOL.subarray(noncePoolOffset, noncePoolOffset + NONCE_BYTES));
  // Wipe what was handed out: the pool never holds a nonce that is already in use.
  NONCE_POOL.fill(0, noncePoolOffset, noncePoolOffset + NONCE_BYTES);
  noncePoolOffset += NONCE_BYTES;
  return nonce;
}

function failed(message: string, details: Record<string, Json>): DreamAgentError {
  return new DreamAgentError('DECRYPTION_FAILED', message, { details });
}

/**
 * Revives decrypted JSON as plain data: `__proto__` keys are dropped, so a crafted plaintext can never
 * change the prototype of an object it is later merged into.
 *
 * @internal
 * @param text - JSON text
 * @returns the value
 * @throws SyntaxError when the text is not JSON
 */
export function reviveData(text: string): Json {
  return JSON.parse(text, (key, value: unknown) => (key === '__proto__' ? undefined : value)) as Json;
}

/**
 * AES-256-GCM with a random 96-bit nonce per value, the key id in the clear beside the ciphertext and the
 * record identity as associated data.
 *
 * @example
 * ```ts
 * const codec = new AesGcmCodec(new StaticKeyring({ keys: { k1: key }, current: 'k1' }));
 * const store = encryptedStore(new SqliteStore('agent.db'), { codec });
 * ```
 */
export class AesGcmCodec implements Codec {
  readonly #keys: KeyProvider;
  /** Key bytes → prepared KeyObject (skips re-importing the key for every value). */
  readonly #prepared = new WeakMap<Uint8Array, KeyObject>();

  #key(bytes: Uint8Array): KeyObject {
    let k = this.#prepared.get(bytes);
    if (!k) {
      k = createSecretKey(bytes);
      this.#prepared.set(bytes, k);
    }
    return k;
  }

  /** @param keys - where the keys come from */
  constructor(keys: KeyProvider) {
    this.#keys = keys;
  }

  /** @returns whether a value looks like something this codec sealed (it may still fail to open) */
  static isSealed(value: unknown): value is string {
    return typeof value === 'string' && value.startsWith(`${PREFIX}.`);
  }

  /** Seals a value (see {@link Codec.seal}). */
  async seal(value: Json, aad: string, context: CodecContext): Promise<string> {
    return this.sealText(JSON.stringify(value), aad, context);
  }

  /** Seals a JSON text (see {@link Codec.sealText}). */
  async sealText(text: string, aad: string, context: CodecContext): Promise<string> {
    const current = this.#keys.current(context);
    // StaticKeyring answers synchronously: no extra microtask per value then.
    const { id, key } = current instanceof Promise ? await current : current;
    const nonce = nextNonce();
    const cipher = createCipheriv('aes-256-gcm', this.#key(key), nonce);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${PREFIX}.${id}.${nonce.toString('base64url')}.${body.toString('base64url')}`;
  }

  /** Opens a sealed value (see {@link Codec.open}). */
  async open(sealed: string, aad: string, context: CodecContext): Promise<Json> {
    const text = await this.openText(sealed, aad, context);
    try {
      return reviveData(text);
    } catch {
      throw failed('decrypted value is not JSON', { aad });
    }
  }

  /** Opens a sealed value to its JSON text (see {@link Codec.openText}). */
  async openText(sealed: string, aad: string, context: CodecContext): Promise<string> {
    const parts = sealed.split('.');
    if (parts.length !== 4 || parts[0] !== PREFIX) {
      throw failed('not a sealed value (plaintext rows are refused once encryption is on)', { aad });
    }
    const [, id = '', nonceText = '', bodyText = ''] = parts;
    const found = this.#keys.byId(id, context);
    const key = found instanceof Promise ? await found : found;
    if (!key) throw failed(`unknown key id "${id.slice(0, 32)}"`, { aad, keyId: id.slice(0, 64) });
    const nonce = Buffer.from(nonceText, 'base64url');
    const body = Buffer.from(bodyText, 'base64url');
    if (nonce.length !== NONCE_BYTES || body.length < TAG_BYTES)
      throw failed('truncated ciphertext', { aad });
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key(key), nonce);
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(body.subarray(0, body.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw failed('ciphertext does not authenticate (wrong key, tampered, or another record)', {
        aad,
        keyId: id.slice(0, 64),
      });
    }
  }

  /**
   * Whether `sealed` was written with the current key for `context` (rotation jobs skip those).
   *
   * @param sealed - a sealed value
   * @param context - session and tenant
   * @returns true when its key id is the key provider's current one
   */
  async isCurrent(sealed: string, context: CodecContext): Promise<boolean> {
    const current = this.#keys.current(context);
    const { id } = current instanceof Promise ? await current : current;
    return AesGcmCodec.keyIdOf(sealed) === id;
  }

  /** @returns the key id a sealed value was written with (for rotation jobs), or undefined */
  static keyIdOf(sealed: string): string | undefined {
    const parts = sealed.split('.');
    return parts.length === 4 && parts[0] === PREFIX ? parts[1] : undefined;
  }
}
