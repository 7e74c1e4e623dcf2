import { existsSync } from 'node:fs';
/**
 * The example server: Express + the REST/SSE router + the WebSocket transport over one agent, with
 * JWT/API-key auth and roles, tenant and owner isolation (every read and command goes through the core's
 * `scopedAgent` for the caller), the core's tamper-evident audit trail, security headers, CORS allow-list,
 * body and rate limits, structured logs, Prometheus metrics from the core's metrics sink,
 * health/readiness, graceful shutdown, and the web UI.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import { rateLimit } from 'express-rate-limit';
import { pino, type Logger as PinoLogger } from 'pino';
import { build } from 'esbuild';
import {
  DreamAgentError,
  isDreamAgentError,
  scopedAgent,
  type Agent,
  type AuditedStore,
  type Logger,
  type ScopedAgent,
} from 'dream-agent';
import {
  buildOpenApiDocument,
  createRouter,
  errorResponse,
  tokenOf,
  type CommandRecord,
  type Operation,
  type Principal,
} from '@dream-agent/http';
import { createWsServer, type AgentWsServer, type WsCommandRecord } from '@dream-agent/ws';
import { createAgent, type AgentWiring } from './agent.js';
import { Auth, ROLES, TENANT_PATTERN, ownershipPolicy } from './auth.js';
import { createApiKeyStore } from './keys.js';
import { handshakeLimiter } from './limits.js';
import type { ServerConfig } from './config.js';
import { createMetrics, type Metrics } from './metrics.js';

/** A started server. */
export interface RunningServer {
  /** `http://host:port`. */
  url: string;
  http: http.Server;
  agent: Agent;
  auth: Auth;
  /** The store's audit trail (absent when a test passes an agent of its own). */
  audit: AuditedStore | undefined;
  ws: AgentWsServer;
  metrics: Metrics;
  storeName: string;
  /** Graceful shutdown: not ready → stop accepting → close sockets (1001) → drain runs → close ports. */
  close(): Promise<void>;
}

function asLogger(log: PinoLogger): Logger {
  return {
    debug: (o, m) => log.debug(o, m),
    info: (o, m) => log.info(o, m),
    warn: (o, m) => log.warn(o, m),
    error: (o, m) => log.error(o, m),
  };
}

function sendError(res: Response, e: unknown): void {
  const { status, body } = errorResponse(e);
  res.status(status).json(body);
}

/** `ws://host` / `wss://host` of the request's own Host (sanitised), for CSP `connect-src`. */
function ownSocketOrigins(req: IncomingMessage): string {
  const host = req.headers.host ?? '';
  if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host)) return '';
  return `ws://${host} wss://${host}`;
}

/** Route label for metrics, without ids (bounded cardinality). */
function routeLabel(req: Request): string {
  const p = (req.originalUrl.split('?')[0] ?? '/').replace(/\/+$/, '') || '/';
  if (p.startsWith('/api/sessions/'))
    return `/api/sessions/:id${p.split('/').length > 4 ? `/${p.split('/')[4] ?? ''}` : ''}`;
  if (p.startsWith('/api/admin/keys/')) return '/api/admin/keys/:id';
  if (p.startsWith('/api') || p.startsWith('/auth') || ['/healthz', '/readyz', '/metrics', '/'].includes(p))
    return p.slice(0, 40);
  return 'static';
}

async function clientBundle(): Promise<string> {
  // Inside the monorepo the adapter's source is right there (a fresh clone has no dist/ until a build);
  // an installed server resolves the published package's built client.
  const source = fileURLToPath(new URL('../../../adapters/ws/src/client.ts', import.meta.url));
  let entry = source;
  if (!existsSync(source)) entry = fileURLToPath(import.meta.resolve('@dream-agent/ws/client'));
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    minify: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0]?.text ?? '';
}

/**
 * Builds and starts the server.
 *
 * @param config - the configuration (see config.ts)
 * @param options - a logger to use instead of a new pino instance; an agent to serve instead of agent.ts's (tests)
 * @returns the running server
 */
export async function startServer(
  config: ServerConfig,
  options: { log?: PinoLogger; wiring?: AgentWiring } = {},
): Promise<RunningServer> {
  const log = options.log ?? pino({ level: config.logLevel, base: { service: 'dream-agent-example' } });
  const logger = asLogger(log);
  const transports: { ws?: AgentWsServer } = {};
  const metrics = createMetrics(() => transports.ws);
  const wiring = options.wiring ?? (await createAgent(config, logger, metrics.sink));
  const { agent, storeName, closePorts } = wiring;
  const auth = new Auth({
    secret: config.jwtSecret,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    maxTokenTtlSeconds: config.jwtMaxTtlSeconds,
    keys: await createApiKeyStore(config.redisUrl),
    defaultTenant: config.defaultTenant,
  });
  const handshakes = handshakeLimiter(config.rateLimitPerMinute, config.trustProxy);
  const security = log.child({ component: 'security' });
  // Every read and command of a caller goes through the agent as that caller sees it: its tenant's
  // sessions only, its own unless a role allows more; a session it may not read does not exist for it.
  const policy = ownershipPolicy({ fourEyes: config.fourEyes, defaultTenant: config.defaultTenant });
  const scope = (p: Principal): ScopedAgent =>
    scopedAgent(
      agent,
      { id: p.id, tenantId: p.tenantId ?? '', roles: [...p.roles] },
      { authorize: policy, hideUnreadable: true },
    );
  let ready = false;
  let stopping = false;
  const publicDir = fileURLToPath(new URL('../public/', import.meta.url));
  const clientJs = await clientBundle();

  // ---- hooks shared by both transports
  const authenticate =
    (transport: 'http' | 'ws') =>
    async (c: { token: string | undefined }): Promise<Principal & { expiresAt?: number }> => {
      try {
        return await auth.authenticate(c.token);
      } catch (e) {
        metrics.authFailure({ transport, reason: isDreamAgentError(e) ? e.message.slice(0, 40) : 'error' });
        throw e;
      }
    };
  const authorize =
    (transport: 'http' | 'ws') =>
    (principal: Principal, op: Operation): void => {
      try {
        auth.authorize(principal, op);
      } catch (e) {
        metrics.refusal({ transport, code: 'FORBIDDEN' });
        // Refused before anything reached the agent, so the store's audit trail never sees it: it goes
        // to the security log (ship it to your log store). `write`: refused before its body was read.
        security.warn(
          {
            refused: {
              actor: principal.id,
              tenant: principal.tenantId ?? null,
              roles: [...principal.roles],
              transport,
              sessionId: 'sessionId' in op ? (op.sessionId ?? null) : null,
              action: op.kind === 'command' ? op.command.type : op.kind === 'start' ? 'turn.start' : op.kind,
            },
          },
          'forbidden by role',
        );
        throw e;
      }
    };
  // Applied commands are in the store's hash-chained audit trail (with their actor); refused ones are
  // logged here as well, with the reason.
  const onCommand = (r: CommandRecord | WsCommandRecord): void => {
    metrics.command({ transport: r.transport, type: r.type, outcome: r.outcome });
    if (r.outcome === 'rejected')
      security.info(
        {
          rejected: {
            actor: r.principal.id,
            tenant: r.principal.tenantId ?? null,
            transport: r.transport,
            sessionId: r.sessionId ?? null,
            action: r.type,
            commandId: r.commandId ?? null,
            error: r.error?.code ?? null,
          },
        },
        'command rejected',
      );
  };

  // ---- the app
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.use((req, res, next) => {
    const start = process.hrtime.bigint();
    // Read the client address now: once the socket is gone (a refused upload closes it) `req.ip`
    // throws, and a throw in a 'finish' listener ends the process.
    let ip: string | undefined;
    try {
      ip = req.ip;
    } catch {
      ip = undefined;
    }
    res.on('finish', () => {
      const route = routeLabel(req);
      const secs = Number(process.hrtime.bigint() - start) / 1e9;
      metrics.request({ method: req.method, route, status: String(res.statusCode) }, secs * 1000);
      if (route !== 'static')
        log.info(
          {
            method: req.method,
            url: req.originalUrl.split('?')[0],
            status: res.statusCode,
            ms: Math.round(secs * 1000),
            ip,
          },
          'request',
        );
    });
    next();
  });
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: true,
        directives: {
          'default-src': ["'self'"],
          'script-src': ["'self'"],
          'style-src': ["'self'"],
          // blob: for charts and files the console fetched with its token and shows inline
          'img-src': ["'self'", 'data:', 'blob:'],
          // The server's own origin only (its WebSocket included), never any ws:/wss: host.
          'connect-src': ["'self'", (req) => ownSocketOrigins(req as IncomingMessage)],
          'upgrade-insecure-requests': null,
        },
      },
      crossOriginEmbedderPolicy: false,
    }),
  );
  // CORS: an explicit allow-list; other origins get no CORS headers (browsers then block the response).
  app.use((req, res, next) => {
    const origin = req.headers.origin;
    if (typeof origin === 'string' && config.allowedOrigins.includes(origin)) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('vary', 'Origin');
      res.setHeader('access-control-allow-headers', 'authorization, content-type, x-api-key, last-event-id');
      res.setHeader('access-control-allow-methods', 'GET, POST, DELETE');
      res.setHeader('access-control-max-age', '600');
    }
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next();
  });

  // Nothing that needs or carries credentials may be cached (above all a new API key's secret).
  app.use(['/api', '/auth', '/metrics', '/config.json'], (_req, res, next) => {
    res.setHeader('cache-control', 'no-store');
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    if (!ready || stopping) {
      res.status(503).json({ status: stopping ? 'stopping' : 'starting' });
      return;
    }
    agent.listSessions({ limit: 1 }).then(
      () => res.json({ status: 'ready', store: storeName }),
      (e: unknown) =>
        res
          .status(503)
          .json({ status: 'store unavailable', error: e instanceof Error ? e.message : String(e) }),
    );
  });
  app.get('/metrics', (req, res) => {
    metricsAllowed(tokenOf(req)).then(
      () => res.type(metrics.contentType).send(metrics.render()),
      (e: unknown) => sendError(res, e),
    );
  });

  const limiter = rateLimit({
    windowMs: 60_000,
    limit: config.rateLimitPerMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (_req, res) =>
      sendError(res, new DreamAgentError('RATE_LIMITED', 'too many requests; slow down')),
  });
  app.use(['/api', '/auth'], limiter);

  const json = express.json({ limit: config.maxBodyBytes, strict: true });
  const jsonErrors = (err: unknown, _req: Request, res: Response, next: NextFunction): void => {
    if (!err) return next();
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large')
      sendError(res, new DreamAgentError('PAYLOAD_TOO_LARGE', `body exceeds ${config.maxBodyBytes} bytes`));
    else sendError(res, new DreamAgentError('INVALID_INPUT', 'the body is not valid JSON'));
  };

  if (config.devAuth) {
    log.warn(
      {},
      'DEV_AUTH is on: POST /auth/dev-token mints tokens for any role — never enable it in production',
    );
    app.post('/auth/dev-token', json, jsonErrors, (req: Request, res: Response) => {
      const body = (req.body ?? {}) as { user?: unknown; roles?: unknown; tenant?: unknown };
      const tenant =
        body.tenant === undefined
          ? undefined
          : typeof body.tenant === 'string' && TENANT_PATTERN.test(body.tenant)
            ? body.tenant
            : null;
      const user =
        typeof body.user === 'string' && /^[A-Za-z0-9_.@-]{1,64}$/.test(body.user) ? body.user : undefined;
      const roles =
        Array.isArray(body.roles) &&
        body.roles.length <= 8 &&
        body.roles.every((r) => typeof r === 'string' && /^[a-z][a-z0-9_-]{0,31}$/.test(r))
          ? (body.roles as string[])
          : undefined;
      if (!user || !roles || tenant === null) {
        sendError(
          res,
          new DreamAgentError('INVALID_INPUT', 'expected { user, roles: string[], tenant?: string }', {
            details: { knownRoles: [...ROLES] },
          }),
        );
        return;
      }
      auth.sign(user, roles, undefined, tenant).then(
        (token) => res.json({ token, user, roles, tenant: tenant ?? config.defaultTenant }),
        (e: unknown) => sendError(res, e),
      );
    });
  }

  // ---- authenticated admin endpoints (keys, audit) and "who am I"
  const principalOf = async (req: Request): Promise<Principal> =>
    authenticate('http')({ token: tokenOf(req) });
  const admin =
    (fn: (req: Request, res: Response, p: Principal) => void | Promise<void>) =>
    (req: Request, res: Response) => {
      principalOf(req)
        .then(async (p) => {
          if (!p.roles.includes('admin')) throw new DreamAgentError('FORBIDDEN', 'admins only');
          await fn(req, res, p);
        })
        .catch((e: unknown) => sendError(res, e));
    };
  /** `/metrics`: the configured scrape token, or an admin's credentials. */
  const metricsAllowed = async (token: string | undefined): Promise<void> => {
    if (config.metricsToken !== undefined && token !== undefined) {
      const a = Buffer.from(createHash('sha256').update(token).digest('hex'));
      const b = Buffer.from(createHash('sha256').update(config.metricsToken).digest('hex'));
      if (timingSafeEqual(a, b)) return;
    }
    const p = await authenticate('http')({ token });
    if (!p.roles.includes('admin'))
      throw new DreamAgentError('FORBIDDEN', 'metrics need the scrape token or an admin');
  };
  app.get('/api/me', (req, res) => {
    principalOf(req).then(
      (p) => res.json({ id: p.id, roles: p.roles, tenantId: p.tenantId ?? config.defaultTenant }),
      (e: unknown) => sendError(res, e),
    );
  });
  app.get(
    '/api/admin/keys',
    admin(async (_req, res, p) => {
      // An admin manages its own tenant's keys only.
      const mine = (await auth.listApiKeys()).filter(
        (k) => (k.tenantId ?? config.defaultTenant) === p.tenantId,
      );
      res.json({ keys: mine.map(({ hash: _hash, ...k }) => k) });
    }),
  );
  app.post(
    '/api/admin/keys',
    json,
    jsonErrors,
    admin(async (req, res, p) => {
      const body = (req.body ?? {}) as { name?: unknown; roles?: unknown };
      const okRoles =
        Array.isArray(body.roles) &&
        body.roles.length > 0 &&
        body.roles.length <= 8 &&
        body.roles.every((r) => typeof r === 'string' && /^[a-z][a-z0-9_-]{0,31}$/.test(r));
      if (typeof body.name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(body.name) || !okRoles) {
        sendError(res, new DreamAgentError('INVALID_INPUT', 'expected { name, roles: string[] }'));
        return;
      }
      const tenant = p.tenantId ?? config.defaultTenant;
      const { key, record } = await auth.createApiKey(body.name, body.roles as string[], p.id, tenant);
      security.info({ apikey: { action: 'create', id: record.id, actor: p.id, tenant } }, 'API key created');
      const { hash: _hash, ...shown } = record;
      res.status(201).json({ key, record: shown });
    }),
  );
  app.delete(
    '/api/admin/keys/:id',
    admin(async (req, res, p) => {
      const id = String(req.params['id']);
      const tenant = p.tenantId ?? config.defaultTenant;
      const existing = (await auth.listApiKeys()).find((k) => k.id === id);
      // Another tenant's key is not found, as if it did not exist.
      if (
        !existing ||
        (existing.tenantId ?? config.defaultTenant) !== tenant ||
        !(await auth.revokeApiKey(id))
      ) {
        res.status(404).json({
          error: { code: 'REQUEST_NOT_FOUND', message: `no API key "${id.slice(0, 64)}"`, details: {} },
        });
        return;
      }
      security.info({ apikey: { action: 'revoke', id, actor: p.id, tenant } }, 'API key revoked');
      res.json({ revoked: id });
    }),
  );
  // The core's hash-chained trail of one session (of the admin's tenant), verified on every read.
  app.get(
    '/api/audit',
    admin(async (req, res, p) => {
      const sessionId = req.query['sessionId'];
      if (typeof sessionId !== 'string' || !/^[A-Za-z0-9_.:-]{1,128}$/.test(sessionId))
        throw new DreamAgentError('INVALID_INPUT', 'expected ?sessionId=<session id>');
      const trail = wiring.audit;
      if (!trail) throw new DreamAgentError('REQUEST_NOT_FOUND', 'this server keeps no audit trail');
      await scope(p).getSession(sessionId); // another tenant's session is not found
      const limit = Math.min(Math.max(Number(req.query['limit'] ?? 1000) || 1000, 1), 10_000);
      const entries: unknown[] = [];
      for await (const line of trail.exportAudit(sessionId)) {
        if (entries.length >= limit) break;
        entries.push(JSON.parse(line));
      }
      res.json({ sessionId, verify: await trail.verifyAudit(sessionId), entries });
    }),
  );

  // ---- what the console needs beyond the REST API: the tool list, and files tools produced
  app.get('/api/tools', (req, res) => {
    principalOf(req)
      .then((p) => {
        auth.authorize(p, { kind: 'read' });
        const tools = (wiring.tools?.list() ?? []).map((t) => ({
          name: t.name,
          version: t.version,
          description: t.description,
          domain: t.domain,
          approval: t.approval,
          input: t.inputSchema,
        }));
        res.json({ tools });
      })
      .catch((e: unknown) => sendError(res, e));
  });
  app.get('/api/sessions/:id/files/:turn/:name', (req, res) => {
    const id = String(req.params['id']);
    const turn = String(req.params['turn']);
    const name = String(req.params['name']);
    principalOf(req)
      .then(async (p) => {
        auth.authorize(p, { kind: 'read', sessionId: id });
        const safe = /^[A-Za-z0-9_.:-]{1,128}$/;
        if (!safe.test(id) || !safe.test(turn) || !/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/.test(name))
          throw new DreamAgentError('INVALID_INPUT', 'bad file reference');
        await scope(p).getSession(id); // 404 for an unknown session or one the caller may not read
        const root = wiring.outputDir;
        if (!root) throw new DreamAgentError('REQUEST_NOT_FOUND', 'this server keeps no files');
        const file = join(root, id, turn, name);
        const content = await readFile(file).catch(() => {
          throw new DreamAgentError('REQUEST_NOT_FOUND', `no file "${name}"`);
        });
        const ext = name.slice(name.lastIndexOf('.') + 1).toLowerCase();
        const type =
          ext === 'svg'
            ? 'image/svg+xml'
            : ext === 'md'
              ? 'text/markdown; charset=utf-8'
              : ext === 'json'
                ? 'application/json'
                : 'application/octet-stream';
        // Produced files are data, never pages: no scripts even if one is opened directly.
        res.setHeader('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox");
        res.setHeader('x-content-type-options', 'nosniff');
        res.setHeader(
          'content-disposition',
          `${ext === 'svg' ? 'inline' : 'attachment'}; filename="${name}"`,
        );
        res.type(type).send(content);
      })
      .catch((e: unknown) => sendError(res, e));
  });

  // ---- the REST API
  app.use(
    '/api',
    createRouter(agent, {
      authenticate: authenticate('http'),
      authorize: authorize('http'),
      scope,
      onCommand,
      maxBodyBytes: config.maxBodyBytes,
      sseMaxBufferedBytes: config.wsMaxBufferedBytes,
      sseDrainTimeoutMs: config.drainTimeoutMs,
      openapi: buildOpenApiDocument({ serverUrl: '/api', title: 'dream-agent example server' }),
      logger,
    }),
  );
  app.use('/api', (req, res) => {
    res.status(404).json({
      error: {
        code: 'ROUTE_NOT_FOUND',
        message: `no route for ${req.method} ${req.path.slice(0, 200)}`,
        details: {},
      },
    });
  });

  // ---- the web UI
  app.get('/vendor/client.js', (_req, res) => {
    res.type('text/javascript').setHeader('cache-control', 'no-cache');
    res.send(clientJs);
  });
  app.get('/config.json', (_req, res) => {
    res.json({ devAuth: config.devAuth, roles: ROLES, wsPath: '/ws' });
  });
  app.use(express.static(publicDir, { index: 'index.html', fallthrough: true }));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    // Express and its parsers flag client mistakes with a 4xx `status` (a malformed %-escape in the path
    // is a URIError with status 400): those are the client's, not ours — 400 without a stack trace.
    const status = (err as { status?: unknown; statusCode?: unknown } | null)?.status;
    if (!isDreamAgentError(err) && typeof status === 'number' && status >= 400 && status < 500) {
      sendError(
        res,
        new DreamAgentError(
          status === 413 ? 'PAYLOAD_TOO_LARGE' : 'INVALID_INPUT',
          err instanceof URIError ? 'the request path is not valid percent-encoding' : 'malformed request',
        ),
      );
      return;
    }
    if (!isDreamAgentError(err))
      log.error({ err: err instanceof Error ? err.stack : String(err) }, 'unhandled error');
    sendError(res, err);
  });

  // ---- the HTTP server and the WebSocket transport
  const server = http.createServer(app);
  // Idle keep-alive sockets live longer than a client's reuse window (and a load balancer's 60 s): with
  // Node's 5 s default a client reusing a socket just as the server closes it gets ECONNRESET — the load
  // bench saw 3 in 300 sessions on a loaded machine. headersTimeout must stay above keepAliveTimeout.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 0; // SSE streams are long-lived; idle sockets are still reaped by keepAliveTimeout
  const ws = createWsServer(agent, {
    server,
    path: '/ws',
    authenticate: (c) => {
      // Handshakes are rate-limited per client address like REST requests (checked before the token,
      // so guessing credentials over WebSocket is throttled too). Re-checks on live sockets are not.
      handshakes.take(c.req);
      return authenticate('ws')(c);
    },
    authorize: authorize('ws'),
    scope,
    allowedOrigins: (origin, req) => {
      if (config.allowedOrigins.includes(origin)) return true;
      try {
        return new URL(origin).host === req.headers.host;
      } catch {
        return false;
      }
    },
    maxPayloadBytes: config.maxBodyBytes,
    maxBufferedBytes: config.wsMaxBufferedBytes,
    messagesPerSecond: config.wsMessagesPerSecond,
    drainTimeoutMs: config.drainTimeoutMs,
    heartbeatMs: config.wsHeartbeatMs,
    onCommand,
    onDisconnect: (d) => {
      if (d.reason !== 'closed')
        log.warn({ principal: d.principal.id, reason: d.reason, code: d.code }, 'ws: connection dropped');
    },
    logger,
  });
  transports.ws = ws;
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.address}:${addr.port}`;
  const claimed = await agent.recover().catch(() => []);
  ready = true;
  log.info(
    { url, store: storeName, recovered: claimed.length, devAuth: config.devAuth },
    'dream-agent example server listening',
  );

  let closing: Promise<void> | undefined;
  return {
    url,
    http: server,
    agent,
    auth,
    audit: wiring.audit,
    ws,
    metrics,
    storeName,
    close() {
      closing ??= (async () => {
        stopping = true;
        log.info({}, 'shutting down: draining runs');
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await ws.close();
        const drained = agent.close({ drain: true });
        const timeout = new Promise<'timeout'>((resolve) =>
          setTimeout(() => resolve('timeout'), config.shutdownTimeoutMs).unref(),
        );
        if ((await Promise.race([drained.then(() => 'ok' as const), timeout])) === 'timeout')
          log.warn({}, 'drain timed out; leases expire and another node recovers the sessions');
        server.closeAllConnections();
        await serverClosed;
        await closePorts().catch(() => undefined);
        await auth.close().catch(() => undefined);
        log.info({}, 'stopped');
      })();
      return closing;
    },
  };
}
