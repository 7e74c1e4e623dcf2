/**
 * The WebSocket protocol of dream-agent, shared by the server and the client. Types and constants
 * only: this module is safe to load in browsers.
 *
 * @packageDocumentation
 */
import type {
  AgentEvent,
  CommandInput,
  JsonObject,
  PlanVersionRecord,
  RunResult,
  SessionSnapshot,
  SessionStatus,
  SessionSummary,
} from 'dream-agent';

/** The subprotocol both sides speak (`Sec-WebSocket-Protocol`). */
export const PROTOCOL = 'dream-agent.v1';

/**
 * Prefix of the subprotocol entry that carries a bearer token from browsers, which cannot set headers
 * on a WebSocket: `new WebSocket(url, ['dream-agent.v1', 'bearer.' + token])`. The server never echoes it.
 */
export const BEARER_PREFIX = 'bearer.';

/** Close codes the server uses. */
export const CLOSE_CODES = {
  /** Normal closure. */
  NORMAL: 1000,
  /** The server is shutting down; reconnect to another node. */
  GOING_AWAY: 1001,
  /** A message broke the protocol badly enough to end the connection. */
  POLICY_VIOLATION: 1008,
  /** A message exceeded `maxPayloadBytes`. */
  MESSAGE_TOO_BIG: 1009,
  /** The client read too slowly: its send queue exceeded `maxBufferedBytes`. Reconnect and resume with `after`. */
  SLOW_CONSUMER: 4008,
  /** The client missed heartbeats. */
  HEARTBEAT_TIMEOUT: 4009,
  /**
   * The connection's credentials expired or were revoked. Reconnecting with the same token fails; get a
   * fresh one first (the client's `token` option may be a function for this).
   */
  UNAUTHENTICATED: 4001,
} as const;

/** Subscribe to a session's events; replayed from the Store after `after`, then live. Re-subscribing replaces the subscription. */
export interface SubscribeMessage {
  type: 'subscribe';
  id?: string;
  sessionId: string;
  /** Only events with a greater seq (default 0: everything). */
  after?: number;
}
/** Stop receiving a session's events. */
export interface UnsubscribeMessage {
  type: 'unsubscribe';
  id?: string;
  sessionId: string;
}
/** Send a Command — the same JSON as the in-process API and REST. */
export interface CommandMessage {
  type: 'command';
  id?: string;
  sessionId: string;
  command: CommandInput;
  /** Answer when the session rests (a RunResult) instead of on acceptance. */
  wait?: boolean;
}
/** Start a turn (a new session, or a new turn of an idle one). */
export interface StartMessage {
  type: 'start';
  id?: string;
  input: string;
  sessionId?: string;
  metadata?: JsonObject;
  wait?: boolean;
}
/** Read a session snapshot. */
export interface GetMessage {
  type: 'get';
  id?: string;
  sessionId: string;
  /**
   * How much plan history: `'full'` (default) every version whole in `planHistory`; `'changes'` none
   * whole but `planChanges` (actor, edits, ids changed per version) — what big sessions should use; a
   * number N: `planChanges` and the last N versions whole. Older versions come with a `plans` message.
   */
  history?: number | 'full' | 'changes';
  /**
   * With `history` `'changes'` or a number: `false` leaves each change's `edits` empty (its `diff` still
   * names the todos added, removed and changed; a version's edits come with `plans`). Default true.
   */
  edits?: boolean;
  /**
   * With `history` `'changes'` or a number: at most this many changes (1–1000), the newest of those
   * selected; the snapshot then carries `planChangesPage` (`total`, `older`, `newer`). Without it, all.
   */
  changesLimit?: number;
  /**
   * With `history` `'changes'` or a number: only changes that produced a version below this one — pass
   * the oldest version you hold to load the page before it.
   */
  changesBefore?: number;
}
/** Read chosen plan versions of the current turn (e.g. two, to diff them); answers `{ plans }`. */
export interface PlansMessage {
  type: 'plans';
  id?: string;
  sessionId: string;
  /** Plan versions (1–20 of them). */
  versions: number[];
}
/** List sessions (e.g. those waiting for a human). */
export interface ListMessage {
  type: 'list';
  id?: string;
  status?: SessionStatus[];
  after?: string;
  limit?: number;
}
/** Every message a client may send. */
export type ClientMessage =
  | SubscribeMessage
  | UnsubscribeMessage
  | CommandMessage
  | StartMessage
  | GetMessage
  | PlansMessage
  | ListMessage;

/** What a command or start answers without `wait`. */
export interface AcceptedResult {
  status: 'accepted';
  sessionId: string;
  /** Seq of the first event it caused. */
  firstSeq: number;
}

/** The server's first message after the handshake. */
export interface WelcomeMessage {
  type: 'welcome';
  protocol: typeof PROTOCOL;
  principal: { id: string; roles: string[] };
  heartbeatMs: number;
  maxPayloadBytes: number;
}
/** A subscription is live (replay follows). */
export interface SubscribedMessage {
  type: 'subscribed';
  id?: string;
  sessionId: string;
  after: number;
}
/** A subscription ended. */
export interface UnsubscribedMessage {
  type: 'unsubscribed';
  id?: string;
  sessionId: string;
}
/** One event of a subscribed session. `event.seq` is what a reconnecting client resumes `after`. */
export interface EventMessage {
  type: 'event';
  event: AgentEvent;
}
/** The answer to a request with an `id`. */
export interface ResultMessage {
  type: 'result';
  id?: string;
  result:
    | AcceptedResult
    | RunResult
    | SessionSnapshot
    | { sessions: SessionSummary[] }
    | { plans: PlanVersionRecord[] };
}
/** A refused message: `{ code, message, details }` as in the REST API. Nothing changed. */
export interface ErrorMessage {
  type: 'error';
  id?: string;
  /** The session of a failed subscription, when it was one. */
  sessionId?: string;
  error: { code: string; message: string; details: Record<string, unknown> };
}
/**
 * One piece of a server message too big for one frame (over the server's `maxMessageBytes`): join the
 * `data` of segments `0..count-1` of one `segmentId` and parse the result as a {@link ServerMessage}.
 * Segments of one message arrive in order; segments of different messages may interleave.
 */
export interface SegmentMessage {
  type: 'segment';
  segmentId: string;
  index: number;
  count: number;
  data: string;
}
/** Every message the server sends. */
export type ServerMessage =
  | WelcomeMessage
  | SubscribedMessage
  | UnsubscribedMessage
  | EventMessage
  | ResultMessage
  | ErrorMessage
  | SegmentMessage;
