/**
 * WebSocket transport for dream-agent. The server attaches to an `http.Server` (or takes upgrades you
 * route to it): token auth at the handshake, Origin check, message size and rate limits, a per-connection
 * send-queue limit (slow clients are dropped with close code 4008), heartbeats, and resumable
 * subscriptions (`after: seq`). The client (also importable alone as `@dream-agent/ws/client`, browser-safe)
 * exposes events as async iterators and reconnects with resume.
 *
 * @packageDocumentation
 */
export { createWsServer } from './server.js';
export type {
  AgentWsServer,
  WsServerOptions,
  WsPrincipal,
  WsSessionApi,
  WsOperation,
  WsCommandRecord,
  WsStats,
  DropReason,
} from './server.js';
export { AgentClient, AgentClientError } from './client.js';
export type {
  AgentClientOptions,
  ConnectionState,
  EventSubscription,
  WebSocketLike,
  WebSocketFactory,
} from './client.js';
export { PROTOCOL, BEARER_PREFIX, CLOSE_CODES } from './protocol.js';
export type {
  ClientMessage,
  ServerMessage,
  SubscribeMessage,
  UnsubscribeMessage,
  CommandMessage,
  StartMessage,
  GetMessage,
  ListMessage,
  WelcomeMessage,
  SubscribedMessage,
  UnsubscribedMessage,
  EventMessage,
  ResultMessage,
  ErrorMessage,
  AcceptedResult,
} from './protocol.js';
