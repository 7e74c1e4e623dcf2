/**
 * dream-agent quick start: a full human-in-the-loop session in the terminal, offline, no API key.
 *
 *   npm run demo                                   # asks you at every step
 *   npm run demo -- --yes                          # answers every prompt itself
 *   npm run demo -- "do the numbers thing"         # a vague request: the clarification loop
 *   npm run demo -- --json --yes                   # events as JSON lines (used by the tests)
 *   npm run demo -- --resume                       # continue the last session where you left it
 *
 * Sessions are kept in a local SQLite file ($DREAM_AGENT_DB, default examples/quickstart/.sessions/
 * demo.sqlite). Ctrl-C or the end of the input never approves anything: the session rests, waiting,
 * and `--resume` picks it up — in this process or any other sharing the file.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface, type Interface } from 'node:readline/promises';
import { stdin, stdout } from 'node:process';
import type { AgentEvent, HitlRequest, Plan, RunResult, Run, TodoInput } from 'dream-agent';
import { SqliteStore } from '@dream-agent/sqlite';
import { createDemoAgent } from './agent.js';

const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith('--')));
const yes = flags.has('--yes') || flags.has('-y');
const json = flags.has('--json');
const resume = flags.has('--resume');
const dbPath =
  process.env['DREAM_AGENT_DB'] ?? fileURLToPath(new URL('../.sessions/demo.sqlite', import.meta.url));
const lastSessionFile = `${dbPath}.last-session`;
const request =
  args.filter((a) => !a.startsWith('-')).join(' ') ||
  "Analyse last quarter's sales by region and email the report to the team";
const followUp = 'Now do the same for EMEA';
const color = stdout.isTTY && !json && process.env['NO_COLOR'] === undefined;
const c = (code: number) => (s: string) => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
const bold = c(1);
const dim = c(2);
const green = c(32);
const yellow = c(33);
const cyan = c(36);
const red = c(31);

const out = (line = ''): void => {
  if (!json) stdout.write(`${line}\n`);
};

let rl: Interface | undefined;
let lines: AsyncIterator<string> | undefined;
/** Set when the input ended or Ctrl-C was pressed: nothing is answered any more, the session rests. */
let closed = false;
let interrupt: (() => void) | undefined;

/**
 * Asks a question. Returns `undefined` when the input is closed (end of file, Ctrl-C): the caller then
 * rests the session instead of answering anything — a closed terminal never approves.
 */
async function ask(question: string, auto: string): Promise<string | undefined> {
  if (yes) {
    out(`${question} ${dim(`→ ${auto} (--yes)`)}`);
    return auto;
  }
  if (closed) return undefined;
  // One line iterator for the whole session: piped input (scripts, tests) may arrive all at once, and
  // readline's question() would drop lines that came before it was asked.
  if (!rl) {
    rl = createInterface({ input: stdin, output: stdout, terminal: stdin.isTTY });
    rl.on('SIGINT', () => {
      closed = true;
      interrupt?.();
    });
    lines = rl[Symbol.asyncIterator]();
  }
  if (!json) stdout.write(`${question} `);
  const next = await Promise.race([
    lines?.next() ?? Promise.resolve({ done: true as const, value: undefined }),
    new Promise<{ done: true; value: undefined }>((resolve) => {
      interrupt = () => resolve({ done: true, value: undefined });
    }),
  ]);
  interrupt = undefined;
  if (next.done) {
    closed = true;
    if (!json) stdout.write('\n');
    return undefined;
  }
  if (!stdin.isTTY && !json) stdout.write(`${next.value}\n`);
  return next.value.trim();
}

/** Whether a todo needs a human's approval: its own flag, or its tool's. */
let needsApproval: (todo: Plan['todos'][number]) => boolean = (t) =>
  t.approval === true || (typeof t.approval === 'object' && t.approval.required);

function printPlan(plan: Plan): void {
  out(
    bold(`Plan v${plan.version} — ${plan.todos.length} step${plan.todos.length === 1 ? '' : 's'}`) +
      (plan.rationale ? dim(`  (${plan.rationale})`) : ''),
  );
  plan.todos.forEach((t, i) => {
    const gate = needsApproval(t) ? yellow(' ⚠ needs your approval') : '';
    const deps = t.dependsOn.length ? dim(` ← ${t.dependsOn.join(', ')}`) : '';
    out(
      `  ${String(i + 1).padStart(2)}. ${cyan(t.id.padEnd(9))} ${t.title} ${dim(`[${t.domain}${t.tool ? ` · ${t.tool}` : ''}]`)}${gate}${deps}`,
    );
  });
}

let progressLine = false;
const answered = new Set<string>();
function render(e: AgentEvent): void {
  if (json) {
    stdout.write(`${JSON.stringify(e)}\n`);
    return;
  }
  const clear = (): void => {
    if (progressLine && stdout.isTTY) stdout.write('\r\u001b[2K');
    progressLine = false;
  };
  switch (e.type) {
    case 'intent.detected': {
      const slots = Object.entries(e.intent.slots)
        .map(
          ([k, v]) =>
            `${k}=${typeof v === 'object' && v !== null && !Array.isArray(v) && 'from' in v ? `${String(v['from'])}…${String(v['to'])}` : JSON.stringify(v)}`,
        )
        .join(' ');
      out(dim(`understood: ${e.intent.name} (${Math.round(e.intent.confidence * 100)}%) ${slots}`));
      break;
    }
    case 'todo.started': {
      clear();
      // A step that asked for input starts again with the answer: that is not a retry.
      const note = answered.delete(e.todoId)
        ? dim(' (continuing with your answer)')
        : e.attempt > 1
          ? dim(` (attempt ${e.attempt})`)
          : '';
      out(`${cyan('▶')} ${e.todoId}${note}`);
      break;
    }
    case 'input.received':
      answered.add(e.todoId);
      break;
    case 'todo.progress': {
      const pct = e.pct ?? 0;
      const bar = '█'.repeat(Math.round(pct / 10)).padEnd(10, '░');
      if (stdout.isTTY) {
        stdout.write(`\r\u001b[2K  ${bar} ${String(pct).padStart(3)}% ${dim(e.message)}`);
        progressLine = true;
      } else out(`  ${bar} ${String(pct).padStart(3)}% ${e.message}`);
      break;
    }
    case 'todo.completed':
      clear();
      out(`${green('✓')} ${e.todoId}${e.cached ? dim(' (cached)') : ''} ${dim(`${e.durationMs} ms`)}`);
      break;
    case 'todo.failed':
      clear();
      out(`${red('✗')} ${e.todoId}: ${e.error.message}`);
      break;
    case 'todo.skipped':
      out(`${yellow('○')} ${e.todoId} skipped (${e.reason})`);
      break;
    case 'plan.updated':
      out(dim(`plan updated to v${e.plan.version} by ${e.actor}`));
      break;
    case 'run.paused':
      out(yellow('paused'));
      break;
    case 'response.completed':
      out();
      out(e.text);
      break;
    case 'turn.failed':
      out(red(`turn failed: ${e.error.message}`));
      break;
    default:
      break;
  }
}

async function follow(run: Run): Promise<RunResult> {
  for await (const e of run) render(e);
  return run.result();
}

/** Turns a terminal line into plan edits: approve | remove <id> | add <tool> [after <id>] | move <id> before|after <id> | reject. */
function parseReview(
  line: string,
  plan: Plan,
  registry: { get(n: string): { name: string; inputSchema: Record<string, unknown> } | undefined },
): { type: string; [k: string]: unknown } | string {
  const [verb = 'approve', ...rest] = line.trim().split(/\s+/);
  const v = verb.toLowerCase();
  if (v === '' || v === 'a' || v === 'approve' || v === 'y' || v === 'yes')
    return { type: 'plan.approve', actor: 'you' };
  if (v === 'x' || v === 'reject')
    return { type: 'plan.reject', actor: 'you', reason: rest.join(' ') || 'rejected in the terminal' };
  if (v === 'r' || v === 'remove')
    return {
      type: 'plan.edit',
      actor: 'you',
      baseVersion: plan.version,
      edits: [{ op: 'remove', todoId: rest[0] ?? '' }],
    };
  if (v === 'm' || v === 'move') {
    const [todoId = '', where = 'before', other = ''] = rest;
    return {
      type: 'plan.edit',
      actor: 'you',
      baseVersion: plan.version,
      edits: [{ op: 'move', todoId, [where === 'after' ? 'after' : 'before']: other }],
    };
  }
  if (v === '+' || v === 'add') {
    const [toolName = '', kw, after] = rest;
    const tool = registry.get(toolName);
    if (!tool) return `unknown tool "${toolName}"`;
    const dep = kw === 'after' && after ? after : undefined;
    const props = (tool.inputSchema['properties'] ?? {}) as Record<string, unknown>;
    const id = `${toolName.split('.').at(-1) ?? 'step'}${plan.todos.length + 1}`;
    const todo: TodoInput = {
      id,
      title: `${toolName} (added by you)`,
      domain: 'data',
      tool: toolName,
      dependsOn: dep ? [dep] : [],
      input: dep && 'rows' in props ? { rows: { $ref: dep, path: 'rows' } } : {},
    };
    const known = plan.todos.find((t) => t.tool === toolName);
    if (known) Object.assign(todo, { domain: known.domain, input: { ...known.input, ...todo.input } });
    else todo.domain = (registry.get(toolName) as unknown as { domain: string }).domain;
    return {
      type: 'plan.edit',
      actor: 'you',
      baseVersion: plan.version,
      edits: [{ op: 'add', todo, ...(dep ? { after: dep } : {}) }],
    };
  }
  return `unknown review command "${verb}"`;
}

/** What the demo does when the input is closed: nothing is sent, the session stays as it is. */
const REST = Symbol('rest');

/**
 * The effect an approval covers: `request.effect` when the engine gives it, else the request details.
 * Values a human provided after an earlier grant (a recipient asked for when the step ran) are part of
 * the effect, shown as `provided …` lines: the second approval covers exactly them.
 */
function effectLines(req: HitlRequest): string[] {
  const effect = (
    req as {
      effect?: { tool?: string; input?: Record<string, unknown>; provided?: Record<string, unknown> };
    }
  ).effect;
  const input = effect?.input ?? {};
  const details = req.details ?? {};
  const lines: string[] = [];
  const tool = effect?.tool ?? details['tool'];
  if (tool !== undefined) lines.push(`tool: ${String(tool)}`);
  const show = (k: string, v: unknown): void => {
    if (v === undefined || v === null || v === '') return;
    lines.push(
      `${k}: ${Array.isArray(v) ? v.map(String).join(', ') : typeof v === 'object' ? JSON.stringify(v) : String(v)}`,
    );
  };
  show('to', input['to'] ?? details['to']);
  show('subject', input['subject'] ?? details['subject']);
  show('attachments', input['attachments'] ?? details['attachments']);
  for (const [key, value] of Object.entries(effect?.provided ?? {})) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) show(`provided ${k}`, v);
    } else show(`provided ${key}`, value);
  }
  if (!effect) lines.push(dim('(the recipient is asked for or resolved when the step runs)'));
  return lines;
}

async function answer(
  req: HitlRequest,
  plan: Plan | null,
  registry: Parameters<typeof parseReview>[2],
): Promise<unknown> {
  switch (req.kind) {
    case 'plan_review': {
      if (plan) printPlan(plan);
      const line = await ask(
        bold(
          'Review: [a]pprove · [r]emove <id> · [+] add <tool> [after <id>] · [m]ove <id> before|after <id> · [x] reject >',
        ),
        'approve',
      );
      if (line === undefined) return REST;
      return parseReview(line, plan ?? { id: '', version: 1, todos: [] }, registry);
    }
    case 'approval': {
      out(yellow(`⚠ ${req.prompt}`) + dim(` (risk ${req.risk ?? 'n/a'})`));
      for (const l of effectLines(req)) out(`    ${l}`);
      const line = await ask('Approve? [y/N] >', 'y');
      if (line === undefined) return REST;
      const digest = (req as { digest?: string }).digest;
      return /^y(es)?$/i.test(line)
        ? { type: 'approval.grant', requestId: req.id, actor: 'you', ...(digest ? { digest } : {}) }
        : {
            type: 'approval.deny',
            requestId: req.id,
            actor: 'you',
            reason: line && !/^n(o)?$/i.test(line) ? line : 'declined in the terminal',
          };
    }
    case 'input': {
      const value = await ask(`${req.prompt} >`, 'team@example.com');
      if (value === undefined) return REST;
      return { type: 'input.provide', requestId: req.id, value, actor: 'you' };
    }
    case 'clarification': {
      const options = req.options ?? [];
      out(`${bold('?')} ${req.prompt}`);
      options.forEach((o, i) => out(`   ${i + 1}. ${o}`));
      const text = await ask(
        options.length ? dim('Answer with a number, yes, or in your own words >') : '>',
        "yes, analyse last quarter's sales",
      );
      if (text === undefined) return REST;
      return { type: 'clarification.answer', requestId: req.id, answer: text || 'yes', actor: 'you' };
    }
    case 'recovery': {
      const text = await ask(`${req.prompt} [retry/mark_done/skip] >`, 'retry');
      if (text === undefined) return REST;
      return {
        type: 'recovery.resolve',
        requestId: req.id,
        decision: ['retry', 'mark_done', 'skip'].includes(text) ? text : 'retry',
        actor: 'you',
      };
    }
  }
}

/** Answers the session's pending requests until the turn ends or the input closes. */
async function drive(
  demo: Awaited<ReturnType<typeof createDemoAgent>>,
  sessionId: string,
  start: RunResult,
): Promise<RunResult | typeof REST> {
  let result = start;
  for (let guard = 0; result.status === 'waiting' && guard < 50; guard += 1) {
    const req = result.pending[0];
    if (!req) break;
    const session = await demo.agent.getSession(sessionId);
    const command = await answer(req, session.plan, demo.registry);
    if (command === REST) return REST;
    if (typeof command === 'string') {
      out(red(command));
      continue;
    }
    const run = demo.agent.send(sessionId, command as Parameters<typeof demo.agent.send>[1]);
    try {
      result = await follow(run);
    } catch (e) {
      out(red(`refused: ${(e as Error).message}`));
      result = { ...result, pending: (await demo.agent.getSession(sessionId)).pending };
    }
  }
  return result;
}

function ended(result: RunResult | typeof REST, sessionId: string): void {
  if (result === REST) {
    out(
      yellow(`\n● input closed: nothing was approved or sent. The session rests, waiting for you.`) +
        dim(`\n  Continue with: npm run demo -- --resume   (session ${sessionId})`),
    );
    return;
  }
  if (result.status === 'completed')
    out(green(`\n● turn completed`) + dim(` (session ${sessionId}, ${result.lastSeq} events)`));
  else out(yellow(`\n● turn ended: ${result.status}${result.error ? ` — ${result.error.message}` : ''}`));
}

async function turn(
  demo: Awaited<ReturnType<typeof createDemoAgent>>,
  input: string,
  sessionId: string,
): Promise<RunResult | typeof REST> {
  out();
  out(`${bold('You:')} ${input}`);
  const result = await drive(demo, sessionId, await follow(demo.agent.run(input, { sessionId })));
  ended(result, sessionId);
  return result;
}

async function main(): Promise<void> {
  mkdirSync(dirname(dbPath), { recursive: true });
  const store = new SqliteStore(dbPath);
  const demo = await createDemoAgent({ store });
  const own = needsApproval;
  needsApproval = (t) => {
    if (own(t)) return true;
    if (t.approval === false || (typeof t.approval === 'object' && !t.approval.required)) return false;
    const approval = t.tool ? demo.registry.get(t.tool)?.approval : undefined;
    return approval !== undefined && approval.required;
  };
  out(
    bold('dream-agent quick start') +
      dim(' — offline: intents, recipes, tools and answers all run locally; no API key.'),
  );
  out(
    dim(
      `tools: ${demo.registry
        .list()
        .map((t) => t.name)
        .join(', ')} · sessions: ${dbPath}`,
    ),
  );
  let sessionId: string;
  let first: RunResult | typeof REST;
  if (resume) {
    let last = '';
    try {
      last = readFileSync(lastSessionFile, 'utf8').trim();
    } catch {
      // no session yet
    }
    if (last === '') {
      out(red('nothing to resume: no session was started with this sessions file yet'));
      await demo.agent.close();
      await store.close();
      return;
    }
    sessionId = last;
    const session = await demo.agent.getSession(sessionId);
    out(dim(`resuming session ${sessionId} (${session.status})`));
    const start =
      session.status === 'waiting'
        ? ({ status: 'waiting', pending: session.pending } as unknown as RunResult)
        : await follow(demo.agent.resume(sessionId));
    first = await drive(demo, sessionId, start);
    ended(first, sessionId);
  } else {
    sessionId = `demo-${Date.now().toString(36)}`;
    writeFileSync(lastSessionFile, `${sessionId}\n`);
    first = await turn(demo, request, sessionId);
  }
  if (first !== REST && first.status === 'completed') {
    const next = yes
      ? resume
        ? undefined
        : followUp
      : await ask(`\n${bold('Anything else?')} (e.g. "${followUp}", empty to quit) >`, '');
    if (next) await turn(demo, next, sessionId);
  }
  out(dim(`\nfiles are in ${process.env['DREAM_AGENT_OUTPUT'] ?? 'output'}/${sessionId}`));
  rl?.close();
  await demo.agent.close();
  await store.close();
}

main().catch((e: unknown) => {
  process.stderr.write(`demo failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
