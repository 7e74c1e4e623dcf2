import type { ModelPrice } from 'dream-agent';

/** Everything the example server reads from its environment, parsed once. */
export interface ServerConfig {
  host: string;
  port: number;
  /** `memory`, `sqlite` (default: embedded and durable) or `postgres` (when DATABASE_URL is set). */
  store: 'memory' | 'sqlite' | 'postgres';
  sqlitePath: string;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  /** HS256 secret for JWTs (≥ 32 bytes). */
  jwtSecret: string;
  jwtIssuer: string;
  jwtAudience: string;
  /**
   * Mint sign-in tokens at `POST /auth/dev-token` (the UI's dev sign-in). Off unless `DEV_AUTH=1`;
   * refused together with `NODE_ENV=production`.
   */
  devAuth: boolean;
  /** Longest JWT lifetime accepted (`exp - iat`), seconds (JWT_MAX_TTL_SECONDS, default 43 200 = 12 h). */
  jwtMaxTtlSeconds: number;
  /**
   * A bearer token for `GET /metrics` (METRICS_TOKEN). Without one, `/metrics` needs an admin's
   * credentials; it is never public.
   */
  metricsToken: string | undefined;
  /** Browser origins allowed by CORS and the WebSocket Origin check (the server's own origin is always allowed). */
  allowedOrigins: string[];
  /** Largest accepted request body / WebSocket message, bytes. */
  maxBodyBytes: number;
  /** Requests per minute per client IP on the API. */
  rateLimitPerMinute: number;
  /**
   * Which layers serve requests: `offline` (default: the offline classifier, recipes and the demo's
   * business tools, as in `npm run demo`), `llm` (an OpenAI-compatible model plans over the same tools;
   * the default when OPENAI_BASE_URL or OPENAI_API_KEY is set), or `scripted` (a fixed scenario for tests).
   */
  layers: 'offline' | 'llm' | 'scripted';
  /** Model id for `llm` layers (LLM_MODEL, default gpt-4.1-mini). */
  llmModel: string;
  /** Simulated work per step in the scripted scenario, ms (makes progress visible in the UI). */
  stepDelayMs: number;
  /** Per-connection WebSocket send queue limit, bytes. */
  wsMaxBufferedBytes: number;
  wsHeartbeatMs: number;
  /** How long a lagging WebSocket/SSE client may take to drain its queue before it is dropped, ms. */
  drainTimeoutMs: number;
  /** Messages per second per WebSocket connection (burst: twice that). */
  wsMessagesPerSecond: number;
  logLevel: string;
  /** How long graceful shutdown waits for runs to drain, ms. */
  shutdownTimeoutMs: number;
  /** Node id in leases (several nodes share one Postgres). */
  nodeId: string | undefined;
  /** An OpenAI-compatible endpoint for the LLM layers (OPENAI_BASE_URL). */
  llmBaseUrl: string | undefined;
  llmApiKey: string | undefined;
  /** Express `trust proxy` (behind a load balancer: the number of proxy hops, e.g. 1). */
  trustProxy: number;
  /**
   * The tenant of tokens without a `tenant` claim and of API keys made without one (DEFAULT_TENANT,
   * default `default`): a single-tenant deployment needs nothing else.
   */
  defaultTenant: string;
  /** Four eyes (FOUR_EYES=1): nobody approves a plan or a step of a session they own. Default off. */
  fourEyes: boolean;
  /**
   * USD prices per model id (LLM_PRICES, JSON: `{"gpt-4.1-mini":{"inputPerMTok":0.4,"outputPerMTok":1.6}}`),
   * so `/metrics` reports `dream_agent_llm_cost_usd_total` and the step inspector each call's cost.
   */
  llmPrices: Record<string, ModelPrice> | undefined;
}

/**
 * Parses LLM_PRICES: a JSON object of model id → `{ inputPerMTok, outputPerMTok }` (USD per million
 * tokens, finite and ≥ 0).
 *
 * @param text - the variable's value (undefined or empty: no prices)
 * @returns the price table, or undefined
 * @throws when the value is not such an object
 */
export function parsePrices(text: string | undefined): Record<string, ModelPrice> | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error('LLM_PRICES must be JSON: {"<model>":{"inputPerMTok":n,"outputPerMTok":n}}');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new Error('LLM_PRICES must be a JSON object of model id → price');
  const out: Record<string, ModelPrice> = {};
  for (const [model, price] of Object.entries(value as Record<string, unknown>)) {
    const p = price as Partial<Record<keyof ModelPrice, unknown>> | null;
    const ok = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0;
    if (p === null || typeof p !== 'object' || !ok(p.inputPerMTok) || !ok(p.outputPerMTok))
      throw new Error(`LLM_PRICES["${model}"] must be { inputPerMTok, outputPerMTok }, numbers ≥ 0`);
    out[model] = { inputPerMTok: p.inputPerMTok, outputPerMTok: p.outputPerMTok };
  }
  return out;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${v}"`);
  return n;
}

/**
 * Reads the configuration from environment variables (see docs/server.md for the list).
 *
 * @param env - the environment (default `process.env`)
 * @param overrides - values that win over the environment (tests)
 * @returns the configuration
 * @throws when a value is malformed, or JWT_SECRET is missing in production
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<ServerConfig> = {},
): ServerConfig {
  const production = env['NODE_ENV'] === 'production';
  const jwtSecret = env['JWT_SECRET'] ?? (production ? '' : 'dev-only-secret-change-me-0123456789abcdef');
  if (Buffer.byteLength(overrides.jwtSecret ?? jwtSecret) < 32)
    throw new Error('JWT_SECRET must be at least 32 bytes');
  if (production && env['DEV_AUTH'] === '1')
    throw new Error('DEV_AUTH=1 mints admin tokens for anyone: it is refused with NODE_ENV=production');
  const databaseUrl = env['DATABASE_URL'] || undefined;
  const store = (env['STORE'] as ServerConfig['store'] | undefined) ?? (databaseUrl ? 'postgres' : 'sqlite');
  if (!['memory', 'sqlite', 'postgres'].includes(store))
    throw new Error(`STORE must be memory, sqlite or postgres, got "${store}"`);
  const llmConfigured = Boolean(env['OPENAI_BASE_URL'] || env['OPENAI_API_KEY']);
  const layers = (env['LAYERS'] as ServerConfig['layers'] | undefined) ?? (llmConfigured ? 'llm' : 'offline');
  if (!['offline', 'llm', 'scripted'].includes(layers))
    throw new Error(`LAYERS must be offline, llm or scripted, got "${layers}"`);
  return {
    layers,
    llmModel: env['LLM_MODEL'] ?? 'gpt-4.1-mini',
    host: env['HOST'] ?? '127.0.0.1',
    port: int(env, 'PORT', 3000),
    store,
    sqlitePath: env['SQLITE_PATH'] ?? './data/dream-agent.db',
    databaseUrl,
    redisUrl: env['REDIS_URL'] || undefined,
    jwtSecret,
    jwtIssuer: env['JWT_ISSUER'] ?? 'dream-agent-example',
    jwtAudience: env['JWT_AUDIENCE'] ?? 'dream-agent',
    // Off unless asked for: an open sign-in that mints admin tokens must never be a default.
    devAuth: env['DEV_AUTH'] === '1',
    jwtMaxTtlSeconds: int(env, 'JWT_MAX_TTL_SECONDS', 12 * 3600),
    metricsToken: env['METRICS_TOKEN'] || undefined,
    allowedOrigins: (env['CORS_ORIGINS'] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
    maxBodyBytes: int(env, 'MAX_BODY_BYTES', 256 * 1024),
    rateLimitPerMinute: int(env, 'RATE_LIMIT_PER_MINUTE', 600),
    stepDelayMs: int(env, 'STEP_DELAY_MS', 400),
    wsMaxBufferedBytes: int(env, 'WS_MAX_BUFFERED_BYTES', 1024 * 1024),
    wsHeartbeatMs: int(env, 'WS_HEARTBEAT_MS', 30_000),
    drainTimeoutMs: int(env, 'DRAIN_TIMEOUT_MS', 10_000),
    wsMessagesPerSecond: int(env, 'WS_MESSAGES_PER_SECOND', 50),
    logLevel: env['LOG_LEVEL'] ?? 'info',
    shutdownTimeoutMs: int(env, 'SHUTDOWN_TIMEOUT_MS', 25_000),
    nodeId: env['NODE_ID'] || undefined,
    llmBaseUrl: env['OPENAI_BASE_URL'] || undefined,
    llmApiKey: env['OPENAI_API_KEY'] || undefined,
    trustProxy: int(env, 'TRUST_PROXY', 0),
    defaultTenant: env['DEFAULT_TENANT'] || 'default',
    fourEyes: env['FOUR_EYES'] === '1',
    llmPrices: parsePrices(env['LLM_PRICES']),
    ...overrides,
  };
}
