import type { IncomingMessage } from 'node:http';
import type {
  AgentEvent,
  Command,
  EventsOptions,
  JsonObject,
  PlanVersionRecord,
  Run,
  SerializedError,
  SessionSnapshot,
  SessionStatus,
  SessionSummary,
} from 'dream-agent';

/** The authenticated caller, as the host's `authenticate` hook returns it. */
export interface Principal {
  /** Stable id; stamped as the `actor` of every command the caller sends. */
  id: string;
  /** Roles; passed with the actor so per-request approver roles are enforced by the core. */
  roles: readonly string[];
  /**
   * The tenant the caller acts in. Needed when the transport scopes every call to the caller (the
   * `scope` hook, e.g. with the core's `scopedAgent`); ignored otherwise.
   */
  tenantId?: string;
}

/**
 * The part of the agent a transport calls on a caller's behalf. An `Agent` is one; so is the core's
 * `scopedAgent(agent, principal)`, which authorizes each call for one principal (tenant and owner).
 */
export interface SessionApi {
  /** Starts a turn (a new session, or a new turn of `options.sessionId`). */
  run(input: string, options?: { sessionId?: string; metadata?: JsonObject }): Run;
  /** Sends a command to a session. */
  send(sessionId: string, command: Command): Run;
  /** Resumes a session. */
  resume(sessionId: string): Run;
  /**
   * The session's snapshot (rejects `SESSION_NOT_FOUND`); `history: 'changes'` lists `planChanges`
   * instead of every plan version whole (see the core's `Agent.getSession`).
   */
  getSession(sessionId: string, options?: { history?: 'full' | 'changes' }): Promise<SessionSnapshot>;
  /**
   * One plan version whole (the current turn's plan by default). Optional: without it the transport
   * reads versions from the full snapshot.
   */
  getPlanVersion?(
    sessionId: string,
    version?: number,
    planId?: string,
  ): Promise<PlanVersionRecord | undefined>;
  /** The session's events after `options.after`, then live with `follow`. */
  events(sessionId: string, options?: EventsOptions): AsyncIterable<AgentEvent>;
  /** Sessions the caller may see. */
  listSessions(query?: {
    status?: SessionStatus[];
    after?: string;
    limit?: number;
  }): Promise<SessionSummary[]>;
}

/** What a caller is about to do; given to the host's `authorize` hook. */
export type Operation =
  | { kind: 'read'; sessionId?: string }
  /**
   * About to read a request body that starts a turn or carries a command. Checked before the body is
   * read, so a caller who may do neither is refused without the server reading its upload; the precise
   * operation (`start` or `command`) is authorised again once the body is parsed.
   */
  | { kind: 'write'; sessionId?: string }
  | { kind: 'start'; sessionId?: string; input: string }
  | { kind: 'command'; sessionId: string; command: Command }
  | { kind: 'resume'; sessionId: string };

/** Credentials found on a request: a bearer token (`Authorization: Bearer …` or `X-API-Key`). */
export interface Credentials {
  /** The token, when one was sent. Query strings are never read: they end up in logs. */
  token: string | undefined;
  /** The raw request, for hosts that authenticate on other headers (mTLS, cookies…). */
  req: IncomingMessage;
}

/** One accepted or refused command (or turn start), reported to the host's audit hook. */
export interface CommandRecord {
  transport: 'http' | 'ws';
  principal: Principal;
  sessionId: string | undefined;
  /** The command type, or `turn.start` for a new turn. */
  type: string;
  commandId: string | undefined;
  outcome: 'accepted' | 'rejected';
  error?: SerializedError;
  /** The command (or `{ input }` for a turn start) as applied, with the actor stamped. */
  payload: unknown;
}

/** Authentication, authorisation and audit hooks shared by the HTTP and WebSocket transports. */
export interface TransportHooks {
  /**
   * Identifies the caller. Throw a `UNAUTHENTICATED` DreamAgentError to refuse (401). When omitted,
   * every caller is `anonymous` and a command's own `actor` field is kept — only for trusted networks.
   */
  authenticate?: (credentials: Credentials) => Principal | Promise<Principal>;
  /** Decides whether the principal may perform the operation; throw `FORBIDDEN` to refuse (403). */
  authorize?: (principal: Principal, operation: Operation) => void | Promise<void>;
  /** Called for every command and turn start, accepted or refused (audit log, metrics). */
  onCommand?: (record: CommandRecord) => void;
  /**
   * The agent as one authenticated caller may use it: every read and command of a request goes through
   * what this returns, after `authorize` (roles) has allowed the operation. Pass
   * `(p) => scopedAgent(agent, { id: p.id, tenantId: p.tenantId ?? '', roles: p.roles })` so a caller
   * sees and commands only its tenant's sessions and only its own unless a role allows more (another
   * tenant's session answers `404 SESSION_NOT_FOUND`, another owner's `403 FORBIDDEN`). Without it every
   * authenticated caller reaches every session — only for single-user deployments.
   *
   * @throws whatever it throws (e.g. `UNAUTHENTICATED` for a principal without a tenant) is the answer
   */
  scope?: (principal: Principal) => SessionApi;
}
