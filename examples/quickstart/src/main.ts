/**
 * dream-agent quick start: a full human-in-the-loop session in the terminal, offline, no API key.
 *
 *   npm run demo                                   # asks you at every step
 *   npm run demo -- --yes                          # answers every prompt itself
 *   npm run demo -- "do the numbers thing"         # a vague request: the clarification loop
 *   npm run demo -- --json --yes                   # events as JSON lines (used by the tests)
 */
import { createInterface, type Interface } from 'node:readline/promises';
import { stdin, stdout } from 'node:process';
import type { AgentEvent, CommandInput, HitlRequest, Plan, RunResult, Run, TodoInput } from 'dream-agent';
import { createDemoAgent } from './agent.js';

const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith('--')));
const yes = flags.has('--yes') || flags.has('-y');
const json = flags.has('--json');
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
async function ask(question: string, auto: string): Promise<string> {
  if (yes) {
    out(`${question} ${dim(`→ ${auto} (--yes)`)}`);
    return auto;
  }
  // One line iterator for the whole session: piped input (scripts, tests) may arrive all at once, and
  // readline's question() would drop lines that came before it was asked.
  rl ??= createInterface({ input: stdin, output: stdout, terminal: stdin.isTTY });
  lines ??= rl[Symbol.asyncIterator]();
  stdout.write(`${question} `);
  const next = await lines.next();
  if (!stdin.isTTY) stdout.write(`${next.done ? '' : next.value}\n`);
  return next.done ? '' : next.value.trim();
}

function printPlan(plan: Plan): void {
  out(
    bold(`Plan v${plan.version} — ${plan.todos.length} step${plan.todos.length === 1 ? '' : 's'}`) +
      (plan.rationale ? dim(`  (${plan.rationale})`) : ''),
  );
  plan.todos.forEach((t, i) => {
    const gate =
      t.approval === true || (typeof t.approval === 'object' && t.approval.required)
        ? yellow(' ⚠ approval')
        : '';
    const deps = t.dependsOn.length ? dim(` ← ${t.dependsOn.join(', ')}`) : '';
    out(
      `  ${String(i + 1).padStart(2)}. ${cyan(t.id.padEnd(9))} ${t.title} ${dim(`[${t.domain}${t.tool ? ` · ${t.tool}` : ''}]`)}${gate}${deps}`,
    );
  });
}

let progressLine = false;
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
    case 'todo.started':
      clear();
      out(`${cyan('▶')} ${e.todoId}${e.attempt > 1 ? dim(` (attempt ${e.attempt})`) : ''}`);
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
      return parseReview(line, plan ?? { id: '', version: 1, todos: [] }, registry);
    }
    case 'approval': {
      const details = req.details ?? {};
      out(
        yellow(`⚠ ${req.prompt}`) +
          dim(` (${String(details['tool'] ?? req.todoId)}, risk ${req.risk ?? 'n/a'})`),
      );
      const line = await ask('Approve? [y/N] >', 'y');
      return /^y(es)?$/i.test(line)
        ? { type: 'approval.grant', requestId: req.id, actor: 'you' }
        : {
            type: 'approval.deny',
            requestId: req.id,
            actor: 'you',
            reason: line && !/^n(o)?$/i.test(line) ? line : 'declined in the terminal',
          };
    }
    case 'input': {
      const value = await ask(`${req.prompt} >`, 'team@example.com');
      return { type: 'input.provide', requestId: req.id, value, actor: 'you' };
    }
    case 'clarification': {
      const text = await ask(
        `${bold('?')} ${req.prompt}${req.options?.length ? dim(` (e.g. ${req.options.join(', ')})`) : ''} >`,
        "yes, analyse last quarter's sales",
      );
      return { type: 'clarification.answer', requestId: req.id, answer: text || 'yes', actor: 'you' };
    }
    case 'recovery': {
      const text = await ask(`${req.prompt} [retry/mark_done/skip] >`, 'retry');
      return {
        type: 'recovery.resolve',
        requestId: req.id,
        decision: ['retry', 'mark_done', 'skip'].includes(text) ? text : 'retry',
        actor: 'you',
      };
    }
  }
}

async function turn(
  demo: Awaited<ReturnType<typeof createDemoAgent>>,
  input: string,
  sessionId: string,
): Promise<RunResult> {
  out();
  out(`${bold('You:')} ${input}`);
  let result = await follow(demo.agent.run(input, { sessionId }));
  for (let guard = 0; result.status === 'waiting' && guard < 50; guard += 1) {
    const req = result.pending[0];
    if (!req) break;
    const session = await demo.agent.getSession(sessionId);
    const command = await answer(req, session.plan, demo.registry);
    if (typeof command === 'string') {
      out(red(command));
      continue;
    }
    const run = demo.agent.send(sessionId, command as CommandInput);
    try {
      result = await follow(run);
    } catch (e) {
      out(red(`refused: ${(e as Error).message}`));
      result = { ...result, pending: (await demo.agent.getSession(sessionId)).pending };
    }
  }
  if (result.status === 'completed')
    out(green(`\n● turn completed`) + dim(` (session ${sessionId}, ${result.lastSeq} events)`));
  else out(yellow(`\n● turn ended: ${result.status}${result.error ? ` — ${result.error.message}` : ''}`));
  return result;
}

async function main(): Promise<void> {
  const demo = await createDemoAgent();
  out(
    bold('dream-agent quick start') +
      dim(' — offline: intents, recipes, tools and answers all run locally; no API key.'),
  );
  out(
    dim(
      `tools: ${demo.registry
        .list()
        .map((t) => t.name)
        .join(', ')}`,
    ),
  );
  const sessionId = `demo-${Date.now().toString(36)}`;
  const first = await turn(demo, request, sessionId);
  if (first.status === 'completed') {
    const next = yes
      ? followUp
      : await ask(`\n${bold('Anything else?')} (e.g. "${followUp}", empty to quit) >`, '');
    if (next) await turn(demo, next, sessionId);
  }
  out(dim(`\nfiles are in ${process.env['DREAM_AGENT_OUTPUT'] ?? 'output'}/${sessionId}`));
  rl?.close();
  await demo.agent.close();
}

main().catch((e: unknown) => {
  process.stderr.write(`demo failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
