/**
 * Authentication and role-based authorisation for the example server.
 *
 * - JWTs (jose): HS256 only (the algorithm is pinned, so `alg: none` and algorithm confusion fail),
 *   `exp` required, `nbf`, `iss` and `aud` checked. Roles come from the `roles` claim.
 * - API keys: `dak_<id>_<secret>`; only a SHA-256 of the secret is stored, compared in constant time;
 *   keys are revocable and carry roles.
 * - Roles: viewer (read), operator (start turns, edit plans, answer input and clarifications,
 *   pause/resume/cancel), approver (read + approve/deny gates and plans, resolve recoveries), supervisor
 *   (operator + approver over every session of its tenant), admin (all, plus key management and the
 *   audit trail). Per-request approver roles (e.g. a tool that needs `finance`) are enforced by the core
 *   against the actor's roles.
 * - Tenants: every principal acts in one tenant — a JWT's `tenant` claim (the configured default tenant
 *   when absent), an API key's tenant. What a role allows on *which* sessions (own, the tenant's, never
 *   another tenant's) is {@link ownershipPolicy}, enforced by the core's `scopedAgent`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';

/** How many verified JWTs the server remembers (see `Auth.authenticate`). */
const VERIFIED_CACHE_SIZE = 1024;
import { DreamAgentError, type Authorize, type Command } from 'dream-agent';
import type { Operation, Principal } from '@dream-agent/http';
import { MemoryApiKeyStore, type ApiKeyStore } from './keys.js';

/** The built-in roles. */
export const ROLES = ['viewer', 'operator', 'approver', 'supervisor', 'admin'] as const;
/** A built-in role. */
export type Role = (typeof ROLES)[number];

/** What a role allows. */
export type Permission = 'read' | 'start' | 'operate' | 'approve' | 'admin';

const GRANTS: Record<Role, readonly Permission[]> = {
  viewer: ['read'],
  operator: ['read', 'start', 'operate'],
  approver: ['read', 'approve'],
  supervisor: ['read', 'start', 'operate', 'approve'],
  admin: ['read', 'start', 'operate', 'approve', 'admin'],
};

/** Roles held implicitly, so per-request role lists naming `approver` accept supervisors and admins too. */
const IMPLIED: Partial<Record<string, readonly string[]>> = {
  admin: ['supervisor', 'approver', 'operator', 'viewer'],
  supervisor: ['approver', 'operator', 'viewer'],
};

/** Tenant ids: what a `tenant` claim, an API key's tenant and the default tenant may be. */
export const TENANT_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

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
  /** The tenant the key acts in (keys made before tenants existed act in the default tenant). */
  tenantId?: string;
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
  /** The tenant of a JWT without a `tenant` claim and of an API key without one (default `default`). */
  defaultTenant?: string;
}

/** An authenticated caller and, for a JWT, when its credentials stop being valid. */
export interface AuthenticatedPrincipal extends Principal {
  /** The tenant it acts in (always set by {@link Auth.authenticate}). */
  tenantId: string;
  /** Epoch ms at which the token expires (JWTs); absent for API keys. */
  expiresAt?: number;
}

/** Verifies credentials and decides permissions. */
export class Auth {
  readonly #key: Uint8Array;
  /**
   * JWTs already verified, until they expire: a JWT's verdict depends only on the token and the clock
   * (JWTs are not revocable one by one; API keys are, and are never cached), so a client sending the same
   * token on every request costs one HMAC check, not one per request. Bounded; the oldest entry goes first.
   */
  readonly #verified = new Map<string, AuthenticatedPrincipal>();
  readonly #options: AuthOptions;
  readonly #keys: ApiKeyStore;
  readonly #cache = new Map<string, { record: ApiKeyRecord | undefined; at: number }>();
  readonly #maxTtl: number;
  readonly #defaultTenant: string;

  /**
   * @param options - the HS256 secret, issuer and audience, the key store, the lifetime cap, the default tenant
   * @throws Error when the default tenant is not a valid tenant id
   */
  constructor(options: AuthOptions) {
    this.#options = options;
    this.#defaultTenant = options.defaultTenant ?? 'default';
    if (!TENANT_PATTERN.test(this.#defaultTenant))
      throw new Error(`the default tenant must match ${String(TENANT_PATTERN)}`);
    this.#key = new TextEncoder().encode(options.secret);
    this.#keys = options.keys ?? new MemoryApiKeyStore();
    this.#maxTtl = options.maxTokenTtlSeconds ?? 12 * 3600;
  }

  /**
   * Identifies the caller from a bearer token (a JWT or an API key).
   *
   * @param token - the token, or undefined when none was sent
   * @returns the principal, with implied roles expanded, its tenant, and when a JWT expires
   * @throws `UNAUTHENTICATED` for a missing, malformed, expired, revoked or wrongly signed token, a
   *   JWT whose lifetime (`exp - iat`) exceeds the configured maximum, or a malformed `tenant` claim
   */
  async authenticate(token: string | undefined): Promise<AuthenticatedPrincipal> {
    if (!token)
      throw new DreamAgentError(
        'UNAUTHENTICATED',
        'missing credentials: send "Authorization: Bearer <token>"',
      );
    if (token.startsWith('dak_')) return this.#apiKey(token);
    const known = this.#verified.get(token);
    if (known && Date.now() < (known.expiresAt ?? 0)) return { ...known, roles: [...known.roles] };
    if (known) this.#verified.delete(token);
    const principal = await this.#verifyJwt(token);
    if (this.#verified.size >= VERIFIED_CACHE_SIZE) {
      const oldest = this.#verified.keys().next().value;
      if (oldest !== undefined) this.#verified.delete(oldest);
    }
    this.#verified.set(token, principal);
    return { ...principal, roles: [...principal.roles] };
  }

  /** Verifies a JWT: signature, issuer, audience, expiry, lifetime cap and claims. */
  async #verifyJwt(token: string): Promise<AuthenticatedPrincipal> {
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
      const tenant = payload['tenant'];
      if (tenant !== undefined && (typeof tenant !== 'string' || !TENANT_PATTERN.test(tenant)))
        throw new DreamAgentError('UNAUTHENTICATED', 'token claim "tenant" invalid');
      return {
        id: String(payload.sub),
        roles: expand(roles),
        tenantId: tenant ?? this.#defaultTenant,
        expiresAt: exp * 1000,
      };
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
   * Signs a JWT (dev sign-in, `npm run token` and tests).
   *
   * @param sub - the user id
   * @param roles - its roles
   * @param ttlSeconds - lifetime (default 8 h)
   * @param tenant - the tenant claim (default: none, i.e. the default tenant)
   * @returns the compact JWT
   * @throws `INVALID_INPUT` for a malformed tenant id
   */
  async sign(sub: string, roles: string[], ttlSeconds = 8 * 3600, tenant?: string): Promise<string> {
    if (tenant !== undefined && !TENANT_PATTERN.test(tenant))
      throw new DreamAgentError('INVALID_INPUT', `tenant ids match ${String(TENANT_PATTERN)}`);
    return new SignJWT({ roles, ...(tenant !== undefined ? { tenant } : {}) })
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
   * @param name - a label
   * @param roles - the key's roles
   * @param createdBy - who made it
   * @param tenantId - the tenant it acts in (default: the default tenant)
   * @returns the key (`dak_<id>_<secret>`) and its record
   */
  async createApiKey(
    name: string,
    roles: string[],
    createdBy: string,
    tenantId: string = this.#defaultTenant,
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
      tenantId,
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

  async #apiKey(token: string): Promise<AuthenticatedPrincipal> {
    const m = /^dak_([0-9a-f]{12})_([A-Za-z0-9-]{16,64})$/.exec(token);
    const rec = m ? await this.#record(m[1] ?? '') : undefined;
    const given = Buffer.from(sha256(m?.[2] ?? ''), 'hex');
    const stored = Buffer.from(rec?.hash ?? sha256('-'), 'hex');
    // Always compare, so an unknown id and a wrong secret take the same time.
    const ok = timingSafeEqual(given, stored) && rec !== undefined;
    if (!ok || !rec) throw new DreamAgentError('UNAUTHENTICATED', 'invalid API key');
    if (rec.revokedAt !== undefined) throw new DreamAgentError('UNAUTHENTICATED', 'API key revoked');
    return { id: `key:${rec.name}`, roles: expand(rec.roles), tenantId: rec.tenantId ?? this.#defaultTenant };
  }
}

/** Roles that read every session of their tenant (everyone else reads only its own). */
const TENANT_READERS: ReadonlySet<string> = new Set(['viewer', 'approver', 'supervisor', 'admin']);
/** Roles that command every session of their tenant. */
const TENANT_COMMANDERS: ReadonlySet<string> = new Set(['supervisor', 'admin']);
/** Commands that approve something: what four eyes forbids the session's owner. */
const APPROVALS: ReadonlySet<string> = new Set(['plan.approve', 'approval.grant']);

/** Options of {@link ownershipPolicy}. */
export interface OwnershipPolicyOptions {
  /** The owner of a session may not approve its plan or its gated steps (default false). */
  fourEyes?: boolean;
  /**
   * The tenant of sessions stored without one (made before tenancy, or by code that calls the agent
   * directly): readable by that tenant's readers and commanded by its supervisors and admins. Default:
   * none — such sessions are visible to nobody through the server.
   */
  defaultTenant?: string;
}

/**
 * Which sessions a principal may read and command, given its roles (what it may do at all is
 * {@link Auth.authorize}). Never another tenant's session. Within the tenant: its own sessions; viewers,
 * approvers, supervisors and admins read every session; approvers send approval commands (approve,
 * reject, grant, deny, resolve) to every session; supervisors and admins command every session. With
 * four eyes, nobody — an admin included — approves a plan or a step of a session they own.
 *
 * @param options - four eyes, the tenant of sessions stored without one
 * @returns the `authorize` function given to the core's `scopedAgent`
 */
export function ownershipPolicy(options: OwnershipPolicyOptions = {}): Authorize {
  return ({ principal, action, session, commandType }) => {
    if (!session) return true; // create / list: the roles decided; listed rows are checked one by one
    if ((session.tenantId ?? options.defaultTenant) !== principal.tenantId) return 'another tenant';
    const roles = principal.roles ?? [];
    const own = session.ownerId === principal.id;
    if (action === 'read') return own || roles.some((r) => TENANT_READERS.has(r)) || 'another owner';
    const type = commandType ?? '';
    if (action === 'command' && options.fourEyes && own && APPROVALS.has(type))
      return 'four eyes: the owner of a session may not approve its own plan or steps';
    if (own || roles.some((r) => TENANT_COMMANDERS.has(r))) return true;
    if (action === 'command' && roles.includes('approver') && APPROVE_COMMANDS.has(type as Command['type']))
      return true;
    return 'another owner';
  };
}

function expand(roles: string[]): string[] {
  const out = new Set(roles);
  for (const r of roles) for (const i of IMPLIED[r] ?? []) out.add(i);
  return [...out];
}
