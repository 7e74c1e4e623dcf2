import { z } from 'zod';
import {
  AGENT_EVENT_TYPES,
  CommandSchema,
  ERROR_CODES,
  PlanSchema,
  REQUEST_KINDS,
  RUN_STATUSES,
  SESSION_STATUSES,
  TODO_STATUSES,
} from 'dream-agent';
import { ROUTES } from './handler.js';
import { EventsQuerySchema, ListQuerySchema, NewTurnSchema, StartTurnSchema } from './schemas.js';

type JsonSchemaObject = Record<string, unknown>;

/** Converts a zod schema to JSON Schema, moving its `$defs` into the shared components. */
function schemaOf(schema: z.ZodType, name: string, defs: Record<string, JsonSchemaObject>): JsonSchemaObject {
  const js = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
    target: 'draft-2020-12',
  }) as JsonSchemaObject;
  delete js['$schema'];
  const local = js['$defs'] as Record<string, JsonSchemaObject> | undefined;
  delete js['$defs'];
  let text = JSON.stringify(js);
  if (local) {
    for (const [k, v] of Object.entries(local)) {
      const id = `${name}_${k.replace(/[^A-Za-z0-9_]/g, '')}`;
      text = text.split(`"#/$defs/${k}"`).join(`"#/components/schemas/${id}"`);
      defs[id] = JSON.parse(
        JSON.stringify(v).split(`"#/$defs/${k}"`).join(`"#/components/schemas/${id}"`),
      ) as JsonSchemaObject;
    }
  }
  return JSON.parse(text) as JsonSchemaObject;
}

const ref = (name: string): JsonSchemaObject => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: JsonSchemaObject): JsonSchemaObject => ({ 'application/json': { schema } });

function errorResponses(...statuses: number[]): Record<string, JsonSchemaObject> {
  const text: Record<number, string> = {
    400: 'Invalid body, query or path (`INVALID_INPUT` with `details.issues`), or a refused plan edit (`INVALID_EDIT`)',
    401: 'Missing or invalid credentials (`UNAUTHENTICATED`)',
    403: 'The caller lacks the role (`FORBIDDEN`)',
    404: 'Unknown session or request (`SESSION_NOT_FOUND`, `REQUEST_NOT_FOUND`)',
    409: 'Stale plan version (`STALE_VERSION`), a session mid-turn (`SESSION_BUSY`), a command that does not fit the state (`INVALID_STATE`) or a concurrent writer (`CONFLICT`)',
    413: 'Body over the limit (`PAYLOAD_TOO_LARGE`)',
    429: 'Rate limited (`RATE_LIMITED`)',
    503: 'Store unreachable or the agent is closing (`UNAVAILABLE`, `CLOSED`)',
  };
  const out: Record<string, JsonSchemaObject> = {};
  for (const s of statuses) out[String(s)] = { description: text[s] ?? 'Error', content: json(ref('Error')) };
  return out;
}

const sessionIdParam = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$' },
};
const waitParam = {
  name: 'wait',
  in: 'query',
  required: false,
  description:
    '`true`: answer 200 with the RunResult once the session rests; otherwise 202 as soon as the request was accepted',
  schema: { type: 'string', enum: ['true', 'false', '1', '0'] },
};

function queryParams(schema: z.ZodObject, defs: Record<string, JsonSchemaObject>): JsonSchemaObject[] {
  const js = schemaOf(schema, 'q', defs);
  const props = (js['properties'] ?? {}) as Record<string, JsonSchemaObject>;
  return Object.entries(props).map(([name, s]) => ({ name, in: 'query', required: false, schema: s }));
}

/**
 * Builds the OpenAPI 3.1 document of the REST API from the core's zod schemas (commands, plans) and
 * the transport's own (request bodies, queries). `adapters/http/openapi.json` is this output; a test
 * keeps the two identical.
 *
 * @param options - server URL and title
 * @returns the OpenAPI document
 */
export function buildOpenApiDocument(
  options: { serverUrl?: string; title?: string } = {},
): Record<string, unknown> {
  const defs: Record<string, JsonSchemaObject> = {};
  const schemas: Record<string, JsonSchemaObject> = {
    Command: schemaOf(CommandSchema, 'Command', defs),
    StartTurn: schemaOf(StartTurnSchema, 'StartTurn', defs),
    NewTurn: schemaOf(NewTurnSchema, 'NewTurn', defs),
    Plan: schemaOf(PlanSchema, 'Plan', defs),
    Error: {
      type: 'object',
      required: ['error'],
      properties: {
        error: {
          type: 'object',
          required: ['code', 'message', 'details'],
          properties: {
            code: { type: 'string', enum: [...ERROR_CODES, 'ROUTE_NOT_FOUND', 'METHOD_NOT_ALLOWED'] },
            message: { type: 'string' },
            details: { type: 'object', description: 'e.g. `issues: [{ path, message }]` for INVALID_INPUT' },
          },
        },
      },
    },
    Accepted: {
      type: 'object',
      required: ['status', 'sessionId', 'firstSeq'],
      properties: {
        status: { const: 'accepted' },
        sessionId: { type: 'string' },
        firstSeq: {
          type: 'integer',
          description: 'seq of the first event caused; stream with after = firstSeq - 1',
        },
      },
    },
    HitlRequest: {
      type: 'object',
      required: ['id', 'kind', 'turnId', 'prompt', 'createdAt'],
      properties: {
        id: { type: 'string' },
        kind: { type: 'string', enum: [...REQUEST_KINDS] },
        turnId: { type: 'string' },
        todoId: { type: 'string' },
        prompt: { type: 'string' },
        schema: { type: 'object' },
        risk: { type: 'string', enum: ['low', 'medium', 'high'] },
        roles: { type: 'array', items: { type: 'string' } },
        options: { type: 'array', items: { type: 'string' } },
        createdAt: { type: 'integer' },
        expiresAt: { type: 'integer' },
        details: { type: 'object' },
      },
    },
    RunResult: {
      type: 'object',
      required: ['status', 'sessionId', 'turnId', 'pending', 'lastSeq'],
      properties: {
        status: { type: 'string', enum: [...RUN_STATUSES] },
        sessionId: { type: 'string' },
        turnId: { type: ['string', 'null'] },
        answer: { type: 'string' },
        pending: { type: 'array', items: ref('HitlRequest') },
        error: { type: 'object' },
        lastSeq: { type: 'integer' },
      },
    },
    TodoRecord: {
      type: 'object',
      required: ['todoId', 'status', 'attempts', 'idempotencyKey'],
      properties: {
        todoId: { type: 'string' },
        status: { type: 'string', enum: [...TODO_STATUSES] },
        attempts: { type: 'integer' },
        idempotencyKey: { type: 'string' },
        output: {},
        error: { type: 'object' },
        skipReason: { type: 'string' },
        reason: { type: 'string' },
        cached: { type: 'boolean' },
        approvedBy: { type: 'string' },
        startedAt: { type: 'integer' },
        finishedAt: { type: 'integer' },
      },
    },
    SessionSnapshot: {
      type: 'object',
      required: ['id', 'status', 'version', 'lastSeq', 'turn', 'plan', 'planHistory', 'todos', 'pending'],
      properties: {
        id: { type: 'string' },
        status: { type: 'string', enum: [...SESSION_STATUSES] },
        version: { type: 'integer' },
        lastSeq: { type: 'integer' },
        turn: {
          type: ['object', 'null'],
          description: 'the current (or last) turn: phase, intent, pending, outcome, answer',
        },
        plan: { oneOf: [ref('Plan'), { type: 'null' }] },
        planHistory: {
          type: 'array',
          description: 'versions of the current plan, oldest first (all with `history=full`)',
          items: {
            type: 'object',
            properties: {
              plan: ref('Plan'),
              edits: { type: 'array' },
              actor: { type: 'string' },
              createdAt: { type: 'integer' },
            },
          },
        },
        planChanges: {
          type: 'array',
          description:
            'with `history=changes` or `history=N`: per version its actor, edits and the ids of the todos it added, removed or changed',
          items: {
            type: 'object',
            properties: {
              planId: { type: 'string' },
              version: { type: 'integer' },
              turnId: { type: 'string' },
              actor: { type: 'string' },
              createdAt: { type: 'integer' },
              edits: { type: 'array' },
              diff: { type: ['object', 'null'] },
            },
          },
        },
        planChangesPage: {
          type: 'object',
          description:
            'with `changesLimit` or `changesBefore`: where the page of `planChanges` sits in the whole list',
          properties: {
            total: { type: 'integer' },
            older: { type: 'integer', description: 'changes older than the page' },
            newer: { type: 'integer', description: 'changes newer than the page' },
          },
        },
        todos: { type: 'array', items: ref('TodoRecord') },
        pending: { type: 'array', items: ref('HitlRequest') },
        dialogue: { type: 'array' },
        lease: { type: 'object' },
        createdAt: { type: 'integer' },
        updatedAt: { type: 'integer' },
      },
    },
    SessionSummary: {
      type: 'object',
      properties: {
        id: { type: 'string' },
        status: { type: 'string', enum: [...SESSION_STATUSES] },
        turnId: { type: ['string', 'null'] },
        input: { type: ['string', 'null'] },
        pending: { type: 'integer' },
        updatedAt: { type: 'integer' },
      },
    },
    AgentEvent: {
      type: 'object',
      description: 'An event: the envelope plus the payload of its type (see docs/protocol.md)',
      required: ['type', 'sessionId', 'turnId', 'seq', 'at'],
      properties: {
        type: { type: 'string', enum: [...AGENT_EVENT_TYPES] },
        sessionId: { type: 'string' },
        turnId: { type: ['string', 'null'] },
        seq: { type: 'integer', minimum: 1, description: 'strictly increasing per session, no gaps' },
        at: { type: 'integer' },
      },
      additionalProperties: true,
    },
  };
  const startResponses = {
    '200': { description: 'With wait=true: the session came to rest', content: json(ref('RunResult')) },
    '202': { description: 'Accepted; events follow on the stream', content: json(ref('Accepted')) },
  };
  const ops: Record<string, JsonSchemaObject> = {
    'GET /openapi.json': {
      operationId: 'getOpenApi',
      summary: 'This document',
      security: [],
      responses: { '200': { description: 'OpenAPI 3.1 document' } },
    },
    'GET /sessions': {
      operationId: 'listSessions',
      summary: 'List sessions across every node sharing the Store, e.g. `?status=waiting`',
      parameters: queryParams(ListQuerySchema, defs),
      responses: {
        '200': {
          description: 'Sessions, ids ascending',
          content: json({
            type: 'object',
            properties: { sessions: { type: 'array', items: ref('SessionSummary') } },
          }),
        },
        ...errorResponses(400, 401, 403),
      },
    },
    'POST /sessions': {
      operationId: 'startTurn',
      summary: 'Start a turn: a new session, or a new turn of an idle session',
      parameters: [waitParam],
      requestBody: { required: true, content: json(ref('StartTurn')) },
      responses: { ...startResponses, ...errorResponses(400, 401, 403, 409, 413, 429, 503) },
    },
    'GET /sessions/:id': {
      operationId: 'getSession',
      summary:
        'A session: status, plan, plan history, todos, pending requests. `history=full` (default): every plan version whole; `history=changes`: `planChanges` (actor, edits, ids changed per version) and the current plan only — use it for big sessions, with `/plans` for versions; `history=N`: `planChanges` and the last N versions',
      parameters: [
        sessionIdParam,
        {
          name: 'history',
          in: 'query',
          required: false,
          schema: {
            oneOf: [
              { type: 'string', enum: ['full', 'changes'] },
              { type: 'integer', minimum: 0, maximum: 1000 },
            ],
          },
        },
        {
          name: 'edits',
          in: 'query',
          required: false,
          description:
            "with `history=changes` or `history=N`: `false` leaves each change's `edits` empty (its `diff` still names the todos)",
          schema: { type: 'string', enum: ['true', 'false'] },
        },
        {
          name: 'changesLimit',
          in: 'query',
          required: false,
          description:
            'with `history=changes` or `history=N`: at most this many changes in `planChanges`, the newest of those selected; the response then carries `planChangesPage`',
          schema: { type: 'integer', minimum: 1, maximum: 1000 },
        },
        {
          name: 'changesBefore',
          in: 'query',
          required: false,
          description:
            'with `history=changes` or `history=N`: only changes that produced a version below this one (pass the oldest version you hold to load older changes)',
          schema: { type: 'integer', minimum: 1 },
        },
      ],
      responses: {
        '200': { description: 'The snapshot', content: json(ref('SessionSnapshot')) },
        ...errorResponses(400, 401, 403, 404),
      },
    },
    'GET /sessions/:id/plans': {
      operationId: 'getPlanVersions',
      summary: "Chosen versions of the current turn's plan (e.g. two to diff), without the whole history",
      parameters: [
        sessionIdParam,
        {
          name: 'versions',
          in: 'query',
          required: true,
          schema: { type: 'string', pattern: '^\\d{1,9}(,\\d{1,9}){0,19}$' },
        },
      ],
      responses: {
        '200': {
          description: 'The plan versions found, oldest first',
          content: json({
            type: 'object',
            properties: { plans: { type: 'array', items: { type: 'object' } } },
            required: ['plans'],
          }),
        },
        ...errorResponses(400, 401, 403, 404),
      },
    },
    'POST /sessions/:id/turns': {
      operationId: 'newTurn',
      summary: 'Start a new turn of an existing, idle session',
      parameters: [sessionIdParam, waitParam],
      requestBody: { required: true, content: json(ref('NewTurn')) },
      responses: { ...startResponses, ...errorResponses(400, 401, 403, 404, 409, 413, 429, 503) },
    },
    'POST /sessions/:id/commands': {
      operationId: 'sendCommand',
      summary:
        'Send any Command (the same JSON as the in-process API and WebSocket); the actor is the authenticated caller',
      parameters: [sessionIdParam, waitParam],
      requestBody: { required: true, content: json(ref('Command')) },
      responses: { ...startResponses, ...errorResponses(400, 401, 403, 404, 409, 413, 429, 503) },
    },
    'POST /sessions/:id/resume': {
      operationId: 'resumeSession',
      summary: 'Continue a session after a restart or a crash (a paused session is resumed)',
      parameters: [sessionIdParam, waitParam],
      responses: { ...startResponses, ...errorResponses(400, 401, 403, 404, 409, 503) },
    },
    'GET /sessions/:id/events': {
      operationId: 'replayEvents',
      summary: 'Replay events from the durable log (seq > after)',
      parameters: [sessionIdParam, ...queryParams(EventsQuerySchema, defs)],
      responses: {
        '200': {
          description: 'A page of events',
          content: json({
            type: 'object',
            properties: {
              events: { type: 'array', items: ref('AgentEvent') },
              lastSeq: { type: 'integer' },
              hasMore: { type: 'boolean' },
            },
          }),
        },
        ...errorResponses(400, 401, 403, 404),
      },
    },
    'GET /sessions/:id/stream': {
      operationId: 'streamEvents',
      summary: 'Server-sent events: replay after `Last-Event-ID` (or `after`), then live; `id:` is the seq',
      parameters: [
        sessionIdParam,
        { name: 'after', in: 'query', required: false, schema: { type: 'integer', minimum: 0 } },
        {
          name: 'Last-Event-ID',
          in: 'header',
          required: false,
          schema: { type: 'string', pattern: '^\\d+$' },
        },
      ],
      responses: {
        '200': {
          description: 'text/event-stream; `event:` is the event type, `data:` the AgentEvent JSON',
          content: { 'text/event-stream': { schema: { type: 'string' } } },
        },
        ...errorResponses(400, 401, 403, 404),
      },
    },
  };
  const paths: Record<string, Record<string, JsonSchemaObject>> = {};
  for (const r of ROUTES) {
    const key = `${r.method} ${r.path}`;
    const op = ops[key];
    if (!op) throw new Error(`route ${key} is not documented`);
    const p = r.path.replace(/:([A-Za-z]+)/g, '{$1}');
    paths[p] = { ...(paths[p] ?? {}), [r.method.toLowerCase()]: op };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: options.title ?? 'dream-agent REST API',
      version: '0.1.0',
      description:
        'Start turns, read sessions, send Commands, replay and stream events. Errors are `{ error: { code, message, details } }`; see docs/protocol.md.',
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    security: [{ bearer: [] }, { apiKey: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT or API key' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
      schemas: { ...schemas, ...defs },
    },
  };
}
