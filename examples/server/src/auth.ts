/**
 * Authentication and role-based authorisation for the example server.
 *
 * - JWTs (jose): HS256 only (the algorithm is pinned, so `alg: none` and algorithm confusion fail),
 *   `exp` required, `nbf`, `iss` and `aud` checked. Roles come from the `roles` claim.
 * - API keys: `dak_<id>_<secret>`; only a SHA-256 of the secret is stored, compared in constant time;
 *   keys are revocable and carry roles.
 * - Roles: viewer (read), operator (start turns, edit plans, answer input and clarifications,
 *   pause/resume/cancel), approver (read + approve/deny gates and plans, resolve recoveries), admin (all,
 *   plus key management and the audit log). Per-request approver roles (e.g. a tool that needs
 *   `finance`) are enforced by the core against the actor's roles.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { DreamAgentError, type Command } from 'dream-agent';
import type { Operation, Principal } from '@dream-agent/http';
import { MemoryApiKeyStore, type ApiKeyStore } from './keys.js';

/** The four built-in roles. */
export const ROLES = ['viewer', 'operator', 'approver', 'admin'] as const;
/** A built-in role. */
export type Role = (typeof ROLES)[number];

/** What a role allows. */
export type Permission = 'read' | 'start' | 'operate' | 'approve' | 'admin';

const GRANTS: Record<Role, readonly Permission[]> = {
  viewer: ['read'],
  operator: ['read', 'start', 'operate'],
  approver: ['read', 'approve'],
  admin: ['read', 'start', 'operate', 'approve', 'admin'],
};

/** Roles an admin holds implicitly, so per-request role lists naming `approver` accept admins too. */
const IMPLIED: Partial<Record<string, readonly string[]>> = { admin: ['approver', 'operator', 'viewer'] };

const APPROVE_COMMANDS: ReadonlySet<Command['type']> = new Set([
  'plan.approve',
  'plan.reject',
  'approval.grant',
  'approval.deny',
  'recovery.resolve',
]);

/**
 * The permissions an operation needs.
 *
 * @param op - the operation
 * @returns every permission required (all must be held)
 */
export function permissionsFor(op: Operation): Permission[] {
  switch (op.kind) {
    case 'read':
      return ['read'];
    case 'write':
      return []; // any of start/operate/approve: checked in Auth.authorize
    case 'start':
      return ['start'];
    case 'resume':
      return ['operate'];
    case 'command': {
      if (!APPROVE_COMMANDS.has(op.command.type)) return ['operate'];
      // Approving with edits also edits the plan.
      if (op.command.type === 'plan.approve' && (op.command.edits?.length ?? 0) > 0)
        return ['approve', 'operate'];
      return ['approve'];
    }
  }
}

/** Whether the principal's roles grant a permission. */
export function can(principal: Principal, permission: Permission): boolean {
  return principal.roles.some((r) => (GRANTS[r as Role] ?? []).includes(permission));
}

/** A stored API key (the secret itself is never stored). */
export interface ApiKeyRecord {
  id: string;
  name: string;
  /** `dak_<id>`: shown in lists so a key can be recognised. */
  prefix: string;
  /** Hex SHA-256 of the secret. */
  hash: string;
  roles: string[];
  createdAt: number;
  createdBy: string;
  revokedAt?: number;
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Options of {@link Auth}. */
export interface AuthOptions {
  secret: string;
  issuer: string;
  audience: string;
  /** Longest token lifetime accepted (`exp - iat`), seconds (default 12 h); longer-lived tokens are refused. */
  maxTokenTtlSeconds?: number;
  /** Where API keys live (default: memory, one node). Share it between nodes so revocation is seen everywhere. */
  keys?: ApiKeyStore;
  /** How long a looked-up key record is reused, ms (default 1000): the delay before a revocation bites. */
  keyCacheMs?: number;
}

/** An authenticated caller and, for a JWT, when its credentials stop being valid. */
export interface AuthenticatedPrincipal extends Principal {
  /** Epoch ms at which the token expires (JWTs); absent for API keys. */
  expiresAt?: number;
}

/** Verifies credentials and decides permissions. */
export class Auth {
  readonly #key: Uint8Array;
  readonly #options: AuthOptions;
  readonly #keys: ApiKeyStore;
  readonly #cache = new Map<string, { record: ApiKeyRecord | undefined; at: number }>();
  readonly #maxTtl: number;

  /** @param options - the HS256 secret, issuer and audience, the key store, the lifetime cap */
  constructor(options: AuthOptions) {
    this.#options = options;
    this.#key = new TextEncoder().encode(options.secret);
    this.#keys = options.keys ?? new MemoryApiKeyStore();
    this.#maxTtl = options.maxTokenTtlSeconds ?? 12 * 3600;
  }

  /**
   * Identifies the caller from a bearer token (a JWT or an API key).
   *
   * @param token - the token, or undefined when none was sent
   * @returns the principal, with implied roles expanded, and when a JWT expires
   * @throws `UNAUTHENTICATED` for a missing, malformed, expired, revoked or wrongly signed token, or a
   *   JWT whose lifetime (`exp - iat`) exceeds the configured maximum
   */
  async authenticate(token: string | undefined): Promise<AuthenticatedPrincipal> {
    if (!token)
      throw new DreamAgentError(
        'UNAUTHENTICATED',
        'missing credentials: send "Authorization: Bearer <token>"',
      );
    if (token.startsWith('dak_')) return this.#apiKey(token);
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        algorithms: ['HS256'],
        issuer: this.#options.issuer,
        audience: this.#options.audience,
        requiredClaims: ['exp', 'sub'],
        clockTolerance: 5,
      });
      const exp = payload.exp ?? 0;
      // A stolen long-lived token is a standing key: cap the lifetime (from iat, or from now without one).
      const lifetime = exp - (payload.iat ?? Math.floor(Date.now() / 1000));
      if (lifetime > this.#maxTtl)
        throw new DreamAgentError(
          'UNAUTHENTICATED',
          `token lifetime ${lifetime}s exceeds the maximum of ${this.#maxTtl}s`,
        );
      const roles = Array.isArray(payload['roles'])
        ? payload['roles'].filter((r): r is string => typeof r === 'string')
        : [];
      return { id: String(payload.sub), roles: expand(roles), expiresAt: exp * 1000 };
    } catch (e) {
      if (e instanceof DreamAgentError) throw e;
      const why =
        e instanceof joseErrors.JWTExpired
          ? 'token expired'
          : e instanceof joseErrors.JWTClaimValidationFailed
            ? `token claim "${e.claim}" invalid`
            : 'invalid token';
      throw new DreamAgentError('UNAUTHENTICATED', why);
    }
  }

  /**
   * Refuses operations the principal's roles do not allow.
   *
   * @throws `FORBIDDEN`
   */
  authorize(principal: Principal, op: Operation): void {
    if (op.kind === 'write' && !(['start', 'operate', 'approve'] as const).some((p) => can(principal, p)))
      throw new DreamAgentError('FORBIDDEN', `"${principal.id}" may not send commands or start turns`, {
        details: { permission: 'operate', roles: [...principal.roles] },
      });
    for (const p of permissionsFor(op)) {
      if (!can(principal, p)) {
        const what = op.kind === 'command' ? op.command.type : op.kind;
        throw new DreamAgentError(
          'FORBIDDEN',
          `"${principal.id}" may not ${what}: needs the "${p}" permission`,
          { details: { permission: p, roles: [...principal.roles] } },
        );
      }
    }
  }

  /**
   * Signs a JWT (dev sign-in and tests).
   *
   * @param sub - the user id
   * @param roles - its roles
   * @param ttlSeconds - lifetime (default 8 h)
   * @returns the compact JWT
   */
  async sign(sub: string, roles: string[], ttlSeconds = 8 * 3600): Promise<string> {
    return new SignJWT({ roles })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(sub)
      .setIssuer(this.#options.issuer)
      .setAudience(this.#options.audience)
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`)
      .sign(this.#key);
  }

  /**
   * Creates an API key. The full key is returned once; only its hash is kept (in the shared key store).
   *
   * @returns the key (`dak_<id>_<secret>`) and its record
   */
  async createApiKey(
    name: string,
    roles: string[],
    createdBy: string,
  ): Promise<{ key: string; record: ApiKeyRecord }> {
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(24).toString('base64url').replace(/_/g, 'x');
    const record: ApiKeyRecord = {
      id,
      name,
      prefix: `dak_${id}`,
      hash: sha256(secret),
      roles: [...roles],
      createdAt: Date.now(),
      createdBy,
    };
    await this.#keys.put(record);
    return { key: `dak_${id}_${secret}`, record: { ...record } };
  }

  /** @returns every key record (hashes included: callers strip them before display) */
  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return (await this.#keys.list()).sort((a, b) => a.createdAt - b.createdAt);
  }

  /**
   * Revokes a key: this node refuses it at once, every node sharing the key store within `keyCacheMs`.
   *
   * @returns false when there is no such key
   */
  async revokeApiKey(id: string): Promise<boolean> {
    const k = await this.#keys.get(id);
    if (!k) return false;
    k.revokedAt ??= Date.now();
    await this.#keys.put(k);
    this.#cache.delete(id);
    return true;
  }

  /** Closes the key store's connection. */
  async close(): Promise<void> {
    await this.#keys.close?.();
  }

  async #record(id: string): Promise<ApiKeyRecord | undefined> {
    const hit = this.#cache.get(id);
    const ttl = this.#options.keyCacheMs ?? 1000;
    if (hit && Date.now() - hit.at < ttl) return hit.record;
    const record = /^[0-9a-f]{12}$/.test(id) ? await this.#keys.get(id) : undefined;
    if (this.#cache.size > 10_000) this.#cache.clear(); // bounded: unknown ids must not grow it forever
    this.#cache.set(id, { record, at: Date.now() });
    return record;
  }

  async #apiKey(token: string): Promise<Principal> {
    const m = /^dak_([0-9a-f]{12})_([A-Za-z0-9-]{16,64})$/.exec(token);
    const rec = m ? await this.#record(m[1] ?? '') : undefined;
    const given = Buffer.from(sha256(m?.[2] ?? ''), 'hex');
    const stored = Buffer.from(rec?.hash ?? sha256('-'), 'hex');
    // Always compare, so an unknown id and a wrong secret take the same time.
    const ok = timingSafeEqual(given, stored) && rec !== undefined;
    if (!ok || !rec) throw new DreamAgentError('UNAUTHENTICATED', 'invalid API key');
    if (rec.revokedAt !== undefined) throw new DreamAgentError('UNAUTHENTICATED', 'API key revoked');
    return { id: `key:${rec.name}`, roles: expand(rec.roles) };
  }
}

function expand(roles: string[]): string[] {
  const out = new Set(roles);
  for (const r of roles) for (const i of IMPLIED[r] ?? []) out.add(i);
  return [...out];
}
