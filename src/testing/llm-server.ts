/**
 * A scripted local HTTP server that speaks the OpenAI Chat Completions (+ Embeddings) and Anthropic
 * Messages wire protocols — JSON and SSE streaming, tool calls, usage — with injected faults: an HTTP
 * status with headers (429 + Retry-After, 401, 500…), malformed JSON, a stream cut mid-way, a slow
 * first byte. The official SDK clients (or any OpenAI-compatible client) talk to it over real HTTP on
 * loopback, so an agent's LLM wiring is tested end to end without a key or a network.
 *
 * Each chat request consumes the next scripted step whose `route` matches (or that has none). A chat
 * request with nothing scripted gets a non-retryable 500 so that a test fails loudly.
 *
 * @packageDocumentation
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** Which protocol endpoint a request hit. */
export type WireRoute = 'openai' | 'anthropic' | 'embeddings';

/** A scripted tool call. */
export interface WireToolCall {
  /** The call id the provider reports (default: generated). */
  id?: string;
  /** The tool's name. */
  name: string;
  /** A JSON value (serialised) or raw argument text (sent as is, even if invalid JSON). */
  arguments: unknown;
}

/** A scripted model answer. */
export interface WireReply {
  /** The assistant's text. */
  text?: string;
  /** Tool calls the model makes. */
  toolCalls?: WireToolCall[];
  /** OpenAI-style reason; mapped to Anthropic's stop_reason. Default: tool_calls if any, else stop. */
  finishReason?: 'stop' | 'length' | 'tool_calls' | 'content_filter';
  /** Token usage to report (default: 11 input, 7 output). */
  usage?: {
    /** Input (prompt) tokens. */
    input: number;
    /** Output (completion) tokens. */
    output: number;
  };
  /** How the text is split into stream deltas (default: words). */
  chunks?: string[];
  /** Embedding vectors (embeddings route); default: deterministic vectors from the input text. */
  embeddings?: number[][];
}

/** Reply with this status and an error body in the provider's format. */
export interface WireStatusFault {
  /** The fault's kind. */
  type: 'status';
  /** The HTTP status (429, 401, 500…). */
  status: number;
  /** Response headers, e.g. `{ 'retry-after': '2' }`. */
  headers?: Record<string, string>;
  /** The error message in the body. */
  message?: string;
  /** The provider's error code in the body. */
  code?: string;
}

/** 200 with a body that is not JSON (JSON replies), or an SSE event whose data is not JSON (streams). */
export interface WireMalformedFault {
  /** The fault's kind. */
  type: 'malformed';
}

/** Streams only: stop after `afterEvents` SSE events. */
export interface WireCutFault {
  /** The fault's kind. */
  type: 'cut';
  /** How many events are sent first. */
  afterEvents: number;
  /** Destroy the socket (`destroy`, default) or end the response cleanly without the terminal events. */
  mode?: 'destroy' | 'end';
}

/** Streams only: after `afterEvents` events, send the provider's in-stream error event and end. */
export interface WireStreamErrorFault {
  /** The fault's kind. */
  type: 'stream-error';
  /** How many events are sent first. */
  afterEvents: number;
  /** The error event's message. */
  message?: string;
}

/**
 * Send the status line and headers, then (streams) `afterEvents` SSE events, then nothing: the response
 * stays open until the client closes the connection (a provider stalled after its headers).
 */
export interface WireStallFault {
  /** The fault's kind. */
  type: 'stall';
  /** How many events are sent before the stall (streams; default 0). */
  afterEvents?: number;
}

/** An injected fault. */
export type WireFault =
  WireStatusFault | WireMalformedFault | WireCutFault | WireStreamErrorFault | WireStallFault;

/** One scripted step: a reply, or a fault, optionally delayed. */
export interface WireStep {
  /** Only requests to this route consume the step (default: any chat route). */
  route?: WireRoute;
  /** The answer to send. */
  reply?: WireReply;
  /** The fault to inject instead of (or, for streams, in the middle of) the reply. */
  fault?: WireFault;
  /** Milliseconds before the status line is written (slow first byte). */
  delayMs?: number;
}

/** A request the server received. */
export interface RecordedRequest {
  /** The protocol endpoint it hit. */
  route: WireRoute;
  /** The request path. */
  path: string;
  /** The request headers (lower-case names). */
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body. */
  body: Record<string, unknown>;
  /** `Date.now()` when the response closed (finished, or the client dropped the connection). */
  closedAt?: number;
}

/** The running server. */
export interface LlmServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Base URL for the OpenAI client (`…/v1`). */
  openaiBaseURL: string;
  /** Base URL for the Anthropic client. */
  anthropicBaseURL: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /**
   * Appends steps to the script.
   *
   * @param steps - the steps, consumed in order
   */
  script(...steps: WireStep[]): void;
  /** @returns how many scripted steps are not consumed yet */
  pending(): number;
  /** Forgets the script and the recorded requests. */
  reset(): void;
  /** Stops the server, ending open connections. */
  close(): Promise<void>;
}

/**
 * Starts the server on 127.0.0.1 and a free port.
 *
 * @returns the server handle; `close()` it when done
 * @example
 * ```ts
 * import OpenAI from 'openai';
 * import { startLlmServer } from 'dream-agent/testing';
 *
 * const server = await startLlmServer();
 * server.script({ reply: { text: 'Hello!' } });
 * const client = new OpenAI({ apiKey: 'test', baseURL: server.openaiBaseURL });
 * // … run your agent with a model over `client`, then:
 * await server.close();
 * ```
 */
export async function startLlmServer(): Promise<LlmServer> {
  const steps: WireStep[] = [];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let counter = 0;

  const take = (route: WireRoute): WireStep | undefined => {
    const i = steps.findIndex((s) => s.route === route || (s.route === undefined && route !== 'embeddings'));
    if (i < 0) return undefined;
    return steps.splice(i, 1)[0];
  };

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `llm-server bug: ${String(error)}` } }));
      } else res.destroy();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = (req.url ?? '').split('?')[0] ?? '';
    const route: WireRoute | undefined =
      path === '/v1/chat/completions'
        ? 'openai'
        : path === '/v1/messages'
          ? 'anthropic'
          : path === '/v1/embeddings'
            ? 'embeddings'
            : undefined;
    if (route === undefined || req.method !== 'POST') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `no route ${req.method ?? ''} ${path}` } }));
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'request body is not JSON' } }));
      return;
    }
    const recorded: RecordedRequest = { route, path, headers: { ...req.headers }, body };
    requests.push(recorded);
    res.on('close', () => {
      recorded.closedAt = Date.now();
    });
    counter += 1;
    const id = counter;
    const step = take(route);
    if (step?.delayMs !== undefined) {
      await new Promise((r) => setTimeout(r, step.delayMs));
      if (res.destroyed || req.socket.destroyed) return;
    }
    if (step === undefined && route !== 'embeddings') {
      writeError(
        res,
        route,
        500,
        { 'x-should-retry': 'false' },
        'llm-server: no scripted step for this request',
      );
      return;
    }
    const fault = step?.fault;
    if (fault?.type === 'status') {
      writeError(
        res,
        route,
        fault.status,
        fault.headers ?? {},
        fault.message ?? `scripted status ${fault.status}`,
        fault.code,
      );
      return;
    }
    const reply = step?.reply ?? {};
    if (route === 'embeddings') {
      writeEmbeddings(res, body, reply, fault);
      return;
    }
    const stream = body['stream'] === true;
    if (fault?.type === 'stall' && !stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      return; // never ends: the client has to give up
    }
    if (!stream) {
      if (fault?.type === 'malformed') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"id": "broken", "choices": [ {"message": ');
        return;
      }
      const json = route === 'openai' ? openaiCompletion(id, body, reply) : anthropicMessage(id, body, reply);
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': `req_${id}` });
      res.end(JSON.stringify(json));
      return;
    }
    const events = route === 'openai' ? openaiEvents(id, body, reply) : anthropicEvents(id, body, reply);
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'x-request-id': `req_${id}`,
    });
    res.flushHeaders();
    for (const [n, event] of events.entries()) {
      if (fault?.type === 'stall' && n >= (fault.afterEvents ?? 0)) return; // stays open
      if (fault?.type === 'cut' && n >= fault.afterEvents) {
        if (fault.mode === 'end') res.end();
        else res.destroy();
        return;
      }
      if (fault?.type === 'stream-error' && n >= fault.afterEvents) {
        const message = fault.message ?? 'Overloaded';
        res.write(
          route === 'openai'
            ? `data: ${JSON.stringify({ error: { message, type: 'server_error', param: null, code: null } })}\n\n`
            : `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message } })}\n\n`,
        );
        res.end();
        return;
      }
      if (fault?.type === 'malformed' && n === 1) {
        res.write(
          route === 'openai' ? 'data: {"choices": [\n\n' : 'event: content_block_delta\ndata: {"type": \n\n',
        );
        res.end();
        return;
      }
      res.write(event);
      // Separate writes so the client sees several network chunks, as from a real provider.
      await new Promise((r) => setImmediate(r));
      if (res.destroyed) return;
    }
    res.end();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    openaiBaseURL: `${url}/v1`,
    anthropicBaseURL: url,
    requests,
    script: (...more) => {
      steps.push(...more);
    },
    pending: () => steps.length,
    reset: () => {
      steps.length = 0;
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const s of sockets) s.destroy();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function writeError(
  res: ServerResponse,
  route: WireRoute,
  status: number,
  headers: Record<string, string>,
  message: string,
  code: string | null = null,
): void {
  const body =
    route === 'anthropic'
      ? { type: 'error', error: { type: anthropicErrorType(status), message } }
      : {
          error: {
            message,
            type: status === 429 ? 'rate_limit_exceeded' : 'server_error',
            param: null,
            code,
          },
        };
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function anthropicErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 529) return 'overloaded_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

function argsText(call: WireToolCall): string {
  return typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments);
}

function words(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}

function finishOf(reply: WireReply): NonNullable<WireReply['finishReason']> {
  return reply.finishReason ?? ((reply.toolCalls ?? []).length > 0 ? 'tool_calls' : 'stop');
}

function usageOf(reply: WireReply): { input: number; output: number } {
  return reply.usage ?? { input: 11, output: 7 };
}

function modelOf(body: Record<string, unknown>): string {
  return typeof body['model'] === 'string' ? body['model'] : 'unknown-model';
}

// ---- OpenAI Chat Completions -------------------------------------------------------------------

function openaiCompletion(id: number, body: Record<string, unknown>, reply: WireReply): unknown {
  const usage = usageOf(reply);
  const toolCalls = (reply.toolCalls ?? []).map((c, i) => ({
    id: c.id ?? `call_${id}_${i}`,
    type: 'function',
    function: { name: c.name, arguments: argsText(c) },
  }));
  return {
    id: `chatcmpl-${id}`,
    object: 'chat.completion',
    created: 1_700_000_000,
    model: modelOf(body),
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: reply.text ?? (toolCalls.length > 0 ? null : ''),
          refusal: null,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
        logprobs: null,
        finish_reason: finishOf(reply),
      },
    ],
    usage: {
      prompt_tokens: usage.input,
      completion_tokens: usage.output,
      total_tokens: usage.input + usage.output,
    },
    system_fingerprint: 'fp_local',
  };
}

function openaiEvents(id: number, body: Record<string, unknown>, reply: WireReply): string[] {
  const base = {
    id: `chatcmpl-${id}`,
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model: modelOf(body),
  };
  const includeUsage =
    typeof body['stream_options'] === 'object' &&
    body['stream_options'] !== null &&
    (body['stream_options'] as Record<string, unknown>)['include_usage'] === true;
  const usageField = includeUsage ? { usage: null } : {};
  const chunk = (delta: Record<string, unknown>, finish: string | null = null): string =>
    `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...usageField })}\n\n`;
  const events: string[] = [chunk({ role: 'assistant', content: '', refusal: null })];
  for (const piece of reply.chunks ?? words(reply.text ?? '')) events.push(chunk({ content: piece }));
  for (const [i, c] of (reply.toolCalls ?? []).entries()) {
    const args = argsText(c);
    events.push(
      chunk({
        tool_calls: [
          {
            index: i,
            id: c.id ?? `call_${id}_${i}`,
            type: 'function',
            function: { name: c.name, arguments: '' },
          },
        ],
      }),
    );
    const mid = Math.ceil(args.length / 2);
    for (const part of [args.slice(0, mid), args.slice(mid)]) {
      if (part !== '') events.push(chunk({ tool_calls: [{ index: i, function: { arguments: part } }] }));
    }
  }
  events.push(chunk({}, finishOf(reply)));
  if (includeUsage) {
    const usage = usageOf(reply);
    events.push(
      `data: ${JSON.stringify({
        ...base,
        choices: [],
        usage: {
          prompt_tokens: usage.input,
          completion_tokens: usage.output,
          total_tokens: usage.input + usage.output,
        },
      })}\n\n`,
    );
  }
  events.push('data: [DONE]\n\n');
  return events;
}

// ---- Anthropic Messages ------------------------------------------------------------------------

const STOP_REASONS = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  content_filter: 'refusal',
} as const;

function anthropicMessage(id: number, body: Record<string, unknown>, reply: WireReply): unknown {
  const usage = usageOf(reply);
  const content: unknown[] = [];
  if (reply.text !== undefined && reply.text !== '')
    content.push({ type: 'text', text: reply.text, citations: null });
  for (const [i, c] of (reply.toolCalls ?? []).entries()) {
    // A real API always sends an object here; raw text that is not JSON is sent as a string to simulate garbage.
    let input: unknown;
    try {
      input = typeof c.arguments === 'string' ? JSON.parse(c.arguments) : c.arguments;
    } catch {
      input = c.arguments;
    }
    content.push({ type: 'tool_use', id: c.id ?? `toolu_${id}_${i}`, name: c.name, input });
  }
  return {
    id: `msg_${id}`,
    type: 'message',
    role: 'assistant',
    model: modelOf(body),
    content,
    stop_reason: STOP_REASONS[finishOf(reply)],
    stop_sequence: null,
    usage: {
      input_tokens: usage.input,
      output_tokens: usage.output,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    },
  };
}

function anthropicEvents(id: number, body: Record<string, unknown>, reply: WireReply): string[] {
  const usage = usageOf(reply);
  const ev = (type: string, data: Record<string, unknown>): string =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const events: string[] = [
    ev('message_start', {
      message: {
        id: `msg_${id}`,
        type: 'message',
        role: 'assistant',
        model: modelOf(body),
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: usage.input,
          output_tokens: 1,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
        },
      },
    }),
    'event: ping\ndata: {"type": "ping"}\n\n',
  ];
  let index = 0;
  if (reply.text !== undefined && reply.text !== '') {
    events.push(
      ev('content_block_start', { index, content_block: { type: 'text', text: '', citations: null } }),
    );
    for (const piece of reply.chunks ?? words(reply.text)) {
      events.push(ev('content_block_delta', { index, delta: { type: 'text_delta', text: piece } }));
    }
    events.push(ev('content_block_stop', { index }));
    index += 1;
  }
  for (const [i, c] of (reply.toolCalls ?? []).entries()) {
    const args = argsText(c);
    events.push(
      ev('content_block_start', {
        index,
        content_block: { type: 'tool_use', id: c.id ?? `toolu_${id}_${i}`, name: c.name, input: {} },
      }),
    );
    const mid = Math.ceil(args.length / 2);
    for (const part of [args.slice(0, mid), args.slice(mid)]) {
      if (part !== '')
        events.push(
          ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: part } }),
        );
    }
    events.push(ev('content_block_stop', { index }));
    index += 1;
  }
  events.push(
    ev('message_delta', {
      delta: { stop_reason: STOP_REASONS[finishOf(reply)], stop_sequence: null },
      usage: { output_tokens: usage.output },
    }),
    ev('message_stop', {}),
  );
  return events;
}

// ---- OpenAI Embeddings -------------------------------------------------------------------------

function writeEmbeddings(
  res: ServerResponse,
  body: Record<string, unknown>,
  reply: WireReply,
  fault: WireFault | undefined,
): void {
  if (fault?.type === 'malformed') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"data": [');
    return;
  }
  const input = body['input'];
  const texts = Array.isArray(input) ? input.map(String) : [String(input)];
  const dims = typeof body['dimensions'] === 'number' ? body['dimensions'] : 8;
  const vectors = reply.embeddings ?? texts.map((t) => deterministicVector(t, dims));
  const base64 = body['encoding_format'] === 'base64';
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      object: 'list',
      model: modelOf(body),
      data: vectors.map((v, index) => ({
        object: 'embedding',
        index,
        embedding: base64 ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v,
      })),
      usage: { prompt_tokens: texts.join(' ').length, total_tokens: texts.join(' ').length },
    }),
  );
}

/**
 * A deterministic unit vector for a text (character trigram hashing), so tests can check that equal
 * texts embed equally and that vectors arrive decoded.
 *
 * @param text - the text
 * @param dims - vector length
 * @returns the vector
 */
export function deterministicVector(text: string, dims: number): number[] {
  const v = new Array<number>(dims).fill(0);
  const t = ` ${text.toLowerCase()} `;
  for (let i = 0; i + 3 <= t.length; i++) {
    let h = 2166136261;
    for (const ch of t.slice(i, i + 3)) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
    v[(h >>> 0) % dims] = (v[(h >>> 0) % dims] as number) + 1;
  }
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => Math.fround(x / norm));
}
