/**
 * `dream-agent demo`: a human-in-the-loop run in the terminal, offline, with nothing to configure — a
 * three-step plan (fetch → summarise → send) that asks for plan review and for approval before the step
 * with an effect. `--yes` approves everything (for scripts); a closed stdin approves nothing.
 */
import { Agent } from '../agent/agent.js';
import { FunctionPlanner } from '../agent/defaults.js';
import type { AgentEvent } from '../model/events.js';
import type { RunResult } from '../model/session.js';
import { defineTool } from '../tools/define.js';
import { ToolRegistry } from '../tools/registry.js';
import { z } from 'zod';
import type { CliIo } from './main.js';

const REGIONS = { north: 1200, south: 950, east: 1430, west: 780 } as const;

function demoAgent(): Agent {
  const tools = new ToolRegistry();
  tools.register(
    defineTool({
      name: 'sales.query',
      description: 'Sales by region for a period',
      domain: 'data',
      input: z.object({ period: z.string() }),
      handler: ({ period }) => ({
        period,
        rows: Object.entries(REGIONS).map(([region, total]) => ({ region, total })),
      }),
      idempotent: true,
    }),
  );
  tools.register(
    defineTool({
      name: 'report.summarise',
      description: 'Summarises sales rows',
      domain: 'insight',
      input: z.object({ rows: z.array(z.object({ region: z.string(), total: z.number() })) }),
      handler: ({ rows }) => {
        const best = rows.reduce((a, b) => (b.total > a.total ? b : a));
        const total = rows.reduce((n, r) => n + r.total, 0);
        return { text: `Total ${total}; best region ${best.region} (${best.total}).` };
      },
      idempotent: true,
    }),
  );
  tools.register(
    defineTool({
      name: 'email.send',
      description: 'Sends the report by e-mail',
      domain: 'ops',
      input: z.object({ to: z.string(), body: z.string() }),
      handler: ({ to }) => ({ sent: true, to }),
      approval: { required: true, risk: 'medium', reason: 'Sends an e-mail outside the agent' },
    }),
  );
  const planner = new FunctionPlanner(() => ({
    todos: [
      {
        id: 'fetch',
        title: 'Fetch Q3 sales',
        domain: 'data',
        tool: 'sales.query',
        input: { period: '2026-Q3' },
        dependsOn: [],
      },
      {
        id: 'summarise',
        title: 'Summarise by region',
        domain: 'insight',
        tool: 'report.summarise',
        input: { rows: { $ref: 'fetch', path: 'rows' } },
        dependsOn: ['fetch'],
      },
      {
        id: 'send',
        title: 'E-mail the team',
        domain: 'ops',
        tool: 'email.send',
        input: { to: 'team@example.com', body: { $ref: 'summarise', path: 'text' } },
        dependsOn: ['summarise'],
      },
    ],
  }));
  return new Agent({ tools, planner, hitl: { planReview: 'always' } });
}

function describeEvent(e: AgentEvent): string | undefined {
  switch (e.type) {
    case 'plan.created':
      return `plan v${e.plan.version}: ${e.plan.todos.map((t) => t.title).join(' → ')}`;
    case 'todo.started':
      return `▶ ${e.todoId}`;
    case 'todo.completed':
      return `✔ ${e.todoId} ${JSON.stringify(e.output)}`;
    case 'approval.requested':
      return `? approval needed for ${e.request.todoId ?? 'a step'}: ${e.request.prompt}`;
    case 'todo.skipped':
      return `⤼ ${e.todoId} skipped (${e.reason})`;
    case 'todo.failed':
      return `✖ ${e.todoId}: ${e.error.message}`;
    case 'turn.completed':
      return `answer: ${e.answer}`;
    default:
      return undefined;
  }
}

/**
 * Runs the demo session to its end.
 *
 * @param options - `yes` approves every request; `json` prints events as JSON lines
 * @returns the exit code: 0 when the turn completed, 1 otherwise
 */
export async function runDemo(options: { yes: boolean; json: boolean; io: CliIo }): Promise<number> {
  const { io } = options;
  const agent = demoAgent();
  const sessionId = `demo-${Date.now().toString(36)}`;
  const show = async (
    run: AsyncIterable<AgentEvent> & { result(): Promise<RunResult> },
  ): Promise<RunResult> => {
    for await (const e of run) {
      if (options.json) io.stdout(JSON.stringify(e));
      else {
        const line = describeEvent(e);
        if (line !== undefined) io.stdout(line);
      }
    }
    return run.result();
  };
  const ask = async (prompt: string): Promise<boolean> => {
    if (options.yes) return true;
    const answer = await io.readLine?.(`${prompt} [y/N] `);
    return answer !== undefined && /^y(es)?$/i.test(answer.trim());
  };
  try {
    if (!options.json) io.stdout('dream-agent demo: "analyse Q3 sales by region and e-mail the team"');
    let result = await show(agent.run('analyse Q3 sales by region and e-mail the team', { sessionId }));
    while (result.status === 'waiting') {
      const request = result.pending[0];
      if (request === undefined) break;
      const approved = await ask(request.prompt);
      const command =
        request.kind === 'plan_review'
          ? approved
            ? ({ type: 'plan.approve' } as const)
            : ({ type: 'plan.reject', reason: 'declined in the demo' } as const)
          : request.kind === 'approval'
            ? approved
              ? ({ type: 'approval.grant', requestId: request.id } as const)
              : ({ type: 'approval.deny', requestId: request.id, reason: 'declined in the demo' } as const)
            : undefined;
      if (command === undefined) break;
      result = await show(agent.send(sessionId, command));
    }
    if (!options.json) io.stdout(`session ${sessionId}: ${result.status}`);
    return result.status === 'completed' ? 0 : 1;
  } finally {
    await agent.close();
  }
}
