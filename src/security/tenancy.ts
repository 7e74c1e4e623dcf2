/**
 * Tenancy and ownership: every session belongs to a tenant and an owner, and every read and command goes
 * through an authorization check before anything changes. `scopedAgent(agent, principal)` is the agent as
 * one caller sees it: sessions it creates are stamped with the caller's tenant and id, reads and commands
 * on other sessions are refused with `FORBIDDEN` (or `SESSION_NOT_FOUND` for another tenant's session, so
 * ids of other tenants cannot be probed), and the actor of every command is the authenticated caller —
 * never what the client wrote.
 *
 * @packageDocumentation
 */
import { DreamAgentError, isDreamAgentError } from '../errors/index.js';
import type { AgentEvent } from '../model/events.js';
import type { JsonObject } from '../model/json.js';
import type { SessionSnapshot, SessionStatus } from '../model/session.js';
import type { PlanVersionRecord } from '../model/plan.js';
import type { Agent, EventsOptions, SessionSummary } from '../agent/agent.js';
import { Run } from '../agent/run.js';
import { newId } from '../agent/ids.js';

/** An authenticated caller. */
export interface Principal {
  /** Stable id of the user or service. */
  id: string;
  /** The tenant it acts in. */
  tenantId: string;
  /** Roles within that tenant (e.g. `operator`, `approver`, `supervisor`, `admin`). */
  roles?: readonly string[];
}

/** What a principal wants to do. */
export type AgentAction = 'create' | 'read' | 'list' | 'command' | 'delete';

/** The session an authorization is about. */
export interface SessionOwnership {
  /** The session id. */
  id: string;
  /** The tenant the session was created in; absent for sessions created without one. */
  tenantId?: string;
  /** The principal that owns the session; absent for sessions created without one. */
  ownerId?: string;
}

/** What an {@link Authorize} function sees. */
export interface AuthorizeRequest {
  /** Who is asking: their id, tenant and roles. */
  principal: Principal;
  /** What they want to do: `create`, `read`, `list`, `command` or `delete`. */
  action: AgentAction;
  /** The session (absent for `create` of a new session and for `list`). */
  session?: SessionOwnership;
  /** The command type, for `command`. */
  commandType?: string;
}

/** Allows (true) or refuses (false, or the reason as a string). */
export type Authorize = (request: AuthorizeRequest) => boolean | string | Promise<boolean | string>;

/** Options of {@link defaultAuthorize}. */
export interface DefaultAuthorizeOptions {
  /** Roles that may read and command sessions of other owners in the same tenant (default supervisor, admin). */
  crossOwnerRoles?: readonly string[];
  /** Roles that may only read (default viewer): they are refused every command. */
  readOnlyRoles?: readonly string[];
}

/**
 * The default policy: a principal sees and commands only its own tenant's sessions, and only its own
 * sessions unless one of its roles is a cross-owner role; read-only roles may not command or create.
 *
 * @param options - which roles cross owners and which only read
 * @returns an {@link Authorize} function
 */
export function defaultAuthorize(options: DefaultAuthorizeOptions = {}): Authorize {
  const cross = new Set(options.crossOwnerRoles ?? ['supervisor', 'admin']);
  const readOnly = new Set(options.readOnlyRoles ?? ['viewer']);
  return ({ principal, action, session }) => {
    const roles = principal.roles ?? [];
    const onlyReads = roles.length > 0 && roles.every((r) => readOnly.has(r));
    if (onlyReads && (action === 'create' || action === 'command' || action === 'delete')) {
      return `role ${roles.join(', ')} may only read`;
    }
    if (!session) return true;
    if (session.tenantId !== principal.tenantId) return 'another tenant';
    if (session.ownerId === principal.id) return true;
    return roles.some((r) => cross.has(r)) || 'another owner';
  };
}

/** Options of {@link scopedAgent}. */
export interface ScopedAgentOptions {
  /** The policy (default {@link defaultAuthorize}). */
  authorize?: Authorize;
  /**
   * Four eyes: an approval (`approval.grant`) must come from someone other than the session's owner
   * (default false).
   */
  fourEyes?: boolean;
  /** Most sessions of one tenant running at once; a new turn beyond it is refused `RATE_LIMITED`. */
  maxRunningPerTenant?: number;
  /**
   * Report a session the principal may not even read as absent — `SESSION_NOT_FOUND` for every action
   * on it, as for another tenant's session — so ids of other owners' sessions cannot be probed either
   * (default false: another owner's session is `FORBIDDEN`). A session it may read but not command
   * still answers `FORBIDDEN` to a command.
   */
  hideUnreadable?: boolean;
}

/** Forwards a run that only starts after an asynchronous check. */
function deferredRun(sessionId: string, start: () => Promise<Run>): Run {
  const outer = new Run(sessionId);
  start().then(
    (inner) => {
      inner.onAny((e) => outer.push(e));
      inner.result().then(
        (r) => outer.finish(r),
        (e: unknown) => outer.fail(e),
      );
    },
    (e: unknown) => outer.fail(e),
  );
  return outer;
}

/**
 * The agent as one authenticated principal sees it. See the module description.
 *
 * @param agent - the agent
 * @param principal - the authenticated caller
 * @param options - policy, four eyes, per-tenant limit
 * @returns a scoped view with the same methods, each authorized first
 * @example
 * ```ts
 * const mine = scopedAgent(agent, { id: 'alice', tenantId: 'acme', roles: ['operator'] });
 * const run = mine.run('analyse Q3 sales'); // stamped tenant acme, owner alice
 * await scopedAgent(agent, { id: 'eve', tenantId: 'other' }).getSession(run.sessionId); // SESSION_NOT_FOUND
 * ```
 */
export function scopedAgent(
  agent: Agent,
  principal: Principal,
  options: ScopedAgentOptions = {},
): ScopedAgent {
  return new ScopedAgent(agent, principal, options);
}

/** See {@link scopedAgent}. */
export class ScopedAgent {
  readonly #agent: Agent;
  readonly #principal: Principal;
  readonly #authorize: Authorize;
  readonly #fourEyes: boolean;
  readonly #maxRunning: number | undefined;
  readonly #hide: boolean;

  /** Use {@link scopedAgent}. */
  constructor(agent: Agent, principal: Principal, options: ScopedAgentOptions = {}) {
    if (!principal.id || !principal.tenantId) {
      throw new DreamAgentError('UNAUTHENTICATED', 'a principal needs an id and a tenant');
    }
    this.#agent = agent;
    this.#principal = { ...principal, roles: [...(principal.roles ?? [])] };
    this.#authorize = options.authorize ?? defaultAuthorize();
    this.#fourEyes = options.fourEyes ?? false;
    this.#maxRunning = options.maxRunningPerTenant;
    this.#hide = options.hideUnreadable ?? false;
  }

  /** The caller. */
  get principal(): Principal {
    return this.#principal;
  }

  async #ownership(sessionId: string): Promise<SessionOwnership | undefined> {
    const rec = await this.#agent.store.getSession(sessionId);
    if (!rec) return undefined;
    const o: SessionOwnership = { id: rec.id };
    if (rec.tenantId !== undefined) o.tenantId = rec.tenantId;
    if (rec.ownerId !== undefined) o.ownerId = rec.ownerId;
    return o;
  }

  async #check(
    action: AgentAction,
    session: SessionOwnership | undefined,
    commandType?: string,
  ): Promise<void> {
    const request: AuthorizeRequest = { principal: this.#principal, action };
    if (session) request.session = session;
    if (commandType) request.commandType = commandType;
    let verdict: boolean | string;
    try {
      verdict = await this.#authorize(request);
    } catch (e) {
      throw new DreamAgentError('FORBIDDEN', 'the authorization policy failed', { cause: e });
    }
    if (verdict === true) return;
    // Another tenant's session is reported as absent: its id is not confirmed to exist.
    if (
      session &&
      (session.tenantId !== this.#principal.tenantId ||
        (this.#hide && session.id !== '*' && !(await this.#mayRead(session))))
    ) {
      throw new DreamAgentError('SESSION_NOT_FOUND', `no session "${session.id}"`, {
        details: { sessionId: session.id },
      });
    }
    throw new DreamAgentError(
      'FORBIDDEN',
      `${this.#principal.id} may not ${action} ${session ? `session "${session.id}"` : 'sessions'}${typeof verdict === 'string' ? `: ${verdict}` : ''}`,
      {
        details: { action, principal: this.#principal.id, ...(session ? { sessionId: session.id } : {}) },
      },
    );
  }

  async #mayRead(session: SessionOwnership): Promise<boolean> {
    try {
      return (await this.#authorize({ principal: this.#principal, action: 'read', session })) === true;
    } catch {
      return false;
    }
  }

  async #existing(sessionId: string, action: AgentAction, commandType?: string): Promise<SessionOwnership> {
    const o = await this.#ownership(sessionId);
    if (!o)
      throw new DreamAgentError('SESSION_NOT_FOUND', `no session "${sessionId}"`, { details: { sessionId } });
    await this.#check(action, o, commandType);
    return o;
  }

  async #underLimit(): Promise<void> {
    if (this.#maxRunning === undefined) return;
    const running = await this.#agent.store.listSessions({
      tenantId: this.#principal.tenantId,
      status: ['running'],
      limit: this.#maxRunning + 1,
    });
    if (running.length >= this.#maxRunning) {
      throw new DreamAgentError(
        'RATE_LIMITED',
        `tenant "${this.#principal.tenantId}" has ${running.length} running sessions (limit ${this.#maxRunning})`,
        {
          details: { tenantId: this.#principal.tenantId, limit: this.#maxRunning },
        },
      );
    }
  }

  /**
   * Starts a turn in a new session owned by the caller, or a new turn of a session the caller may command.
   *
   * @param input - the request
   * @param options - session id and metadata
   * @returns the run (fails with `FORBIDDEN`, `SESSION_NOT_FOUND` or `RATE_LIMITED` before anything changes)
   */
  run(input: string, options: { sessionId?: string; metadata?: JsonObject } = {}): Run {
    // The id is chosen here (as `agent.run` would) so the returned run names its session from the start.
    const sessionId = options.sessionId ?? newId('ses');
    return deferredRun(sessionId, async () => {
      if (options.sessionId) {
        const o = await this.#ownership(options.sessionId);
        if (o) await this.#check('command', o, 'turn.start');
        else await this.#check('create', undefined);
      } else {
        await this.#check('create', undefined);
      }
      await this.#underLimit();
      return this.#agent.run(input, {
        ...options,
        sessionId,
        tenantId: this.#principal.tenantId,
        ownerId: this.#principal.id,
      });
    });
  }

  /**
   * Sends a command as the caller (its `actor` is replaced by the principal).
   *
   * @param sessionId - the session
   * @param command - the command
   * @returns the run (fails with `FORBIDDEN` / `SESSION_NOT_FOUND` before anything changes)
   */
  send(sessionId: string, command: unknown): Run {
    const type =
      command !== null &&
      typeof command === 'object' &&
      typeof (command as { type?: unknown }).type === 'string'
        ? (command as { type: string }).type
        : '';
    return deferredRun(sessionId, async () => {
      const o = await this.#existing(sessionId, 'command', type);
      if (this.#fourEyes && type === 'approval.grant' && o.ownerId === this.#principal.id) {
        throw new DreamAgentError(
          'FORBIDDEN',
          'four eyes: the owner of a session may not approve its own steps',
          {
            details: { sessionId, principal: this.#principal.id },
          },
        );
      }
      const actor = { id: this.#principal.id, roles: [...(this.#principal.roles ?? [])] };
      const stamped =
        command !== null && typeof command === 'object'
          ? { ...(command as Record<string, unknown>), actor }
          : command;
      return this.#agent.send(sessionId, stamped as Parameters<Agent['send']>[1]);
    });
  }

  /** Resumes a session the caller may command. */
  resume(sessionId: string): Run {
    return deferredRun(sessionId, async () => {
      await this.#existing(sessionId, 'command', 'resume');
      return this.#agent.resume(sessionId);
    });
  }

  /**
   * @param sessionId - the session
   * @param options - `history`: `'full'` (default) or `'changes'`, as {@link Agent.getSession}
   * @returns the snapshot of a session the caller may read
   * @throws `SESSION_NOT_FOUND` (absent or another tenant's), `FORBIDDEN`
   */
  async getSession(
    sessionId: string,
    options: { history?: 'full' | 'changes' } = {},
  ): Promise<SessionSnapshot> {
    await this.#existing(sessionId, 'read');
    const snap = await this.#agent.getSession(sessionId, options);
    if (!snap)
      throw new DreamAgentError('SESSION_NOT_FOUND', `no session "${sessionId}"`, { details: { sessionId } });
    return snap;
  }

  /**
   * One plan version of a session the caller may read, as {@link Agent.getPlanVersion}.
   *
   * @param sessionId - the session
   * @param version - the plan version (the latest when omitted)
   * @param planId - the plan (default: the current turn's)
   * @returns the version, or undefined when there is no such version
   * @throws `SESSION_NOT_FOUND` (absent or another tenant's), `FORBIDDEN`
   */
  async getPlanVersion(
    sessionId: string,
    version?: number,
    planId?: string,
  ): Promise<PlanVersionRecord | undefined> {
    await this.#existing(sessionId, 'read');
    return this.#agent.getPlanVersion(sessionId, version, planId);
  }

  /** Events of a session the caller may read (checked before the first event). */
  events(sessionId: string, options: EventsOptions = {}): AsyncIterable<AgentEvent> {
    const agent = this.#agent;
    const check = (): Promise<SessionOwnership> => this.#existing(sessionId, 'read');
    return {
      async *[Symbol.asyncIterator]() {
        await check();
        yield* agent.events(sessionId, options);
      },
    };
  }

  /**
   * Lists the caller's tenant's sessions: its own, or all of the tenant's with a cross-owner role (as the
   * policy decides for each).
   */
  async listSessions(
    query: { status?: SessionStatus[]; after?: string; limit?: number } = {},
  ): Promise<SessionSummary[]> {
    await this.#check('list', undefined);
    const own = await this.#check('read', { id: '*', tenantId: this.#principal.tenantId, ownerId: '' }).then(
      () => false,
      () => true,
    );
    const rows = await this.#agent.listSessions({
      ...query,
      tenantId: this.#principal.tenantId,
      ...(own ? { ownerId: this.#principal.id } : {}),
    });
    const out: SessionSummary[] = [];
    for (const r of rows) {
      const verdict = await this.#authorize({
        principal: this.#principal,
        action: 'read',
        session: {
          id: r.id,
          ...(r.tenantId ? { tenantId: r.tenantId } : {}),
          ...(r.ownerId ? { ownerId: r.ownerId } : {}),
        },
      });
      if (verdict === true) out.push(r);
    }
    return out;
  }

  /**
   * Deletes a session the caller may delete, with everything stored for it.
   *
   * @returns whether it existed
   */
  async deleteSession(sessionId: string): Promise<boolean> {
    await this.#existing(sessionId, 'delete');
    return this.#agent.deleteSession(sessionId);
  }
}

/** Options of {@link expireSessions}. */
export interface ExpireSessionsOptions {
  /** Sessions whose last change is older than this many ms are erased. */
  olderThanMs: number;
  /** Which statuses may expire (default `idle`: sessions with no turn in progress). */
  statuses?: SessionStatus[];
  /** Only this tenant's sessions. */
  tenantId?: string;
  /** The time to measure from (default `Date.now()`; pass the agent's clock in tests). */
  now?: number;
  /** Most sessions erased in one call (default 1000). */
  limit?: number;
}

/**
 * Retention: erases sessions that have not changed for `olderThanMs` (by default only finished, `idle`
 * ones), with everything stored for them. Run it from a scheduled job on any node; sessions driven right
 * now are skipped.
 *
 * @param agent - the agent (its store must implement `deleteSession`)
 * @param options - age, statuses, tenant, clock, bound
 * @returns the ids erased
 */
export async function expireSessions(agent: Agent, options: ExpireSessionsOptions): Promise<string[]> {
  const cutoff = (options.now ?? Date.now()) - options.olderThanMs;
  const limit = options.limit ?? 1000;
  const erased: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await agent.listSessions({
      status: options.statuses ?? ['idle'],
      limit: 500,
      ...(after !== undefined ? { after } : {}),
      ...(options.tenantId !== undefined ? { tenantId: options.tenantId } : {}),
    });
    for (const s of page) {
      if (erased.length >= limit) return erased;
      if (s.updatedAt >= cutoff) continue;
      try {
        if (await agent.deleteSession(s.id)) erased.push(s.id);
      } catch (e) {
        if (!isDreamAgentError(e, 'SESSION_BUSY')) throw e;
      }
    }
    if (page.length < 500) return erased;
    after = page[page.length - 1]?.id;
  }
}
