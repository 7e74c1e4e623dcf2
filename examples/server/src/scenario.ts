/**
 * A small, self-contained scripted scenario so the server runs fully offline before the offline
 * cognitive layer and recipe planner are wired in (see agent.ts): a report request is understood by
 * keywords, planned as a DAG (collect → analyse → chart/draft → recipient → send), and executed by
 * simulated executors that report progress, stream output, ask for input and sit behind approval gates.
 */
import {
  PlanDraftSchema,
  type Cognitive,
  type Executor,
  type Intent,
  type Json,
  type Planner,
  type TodoInput,
} from 'dream-agent';

const PERIOD =
  /\b(last|this|next)\s+(quarter|month|year|week)\b|\bq[1-4]\b|\b(19|20)\d\d\b|\b(january|february|march|april|may|june|july|august|september|october|november|december)\b/i;
const REGION = /\b(europe|emea|americas|asia|apac|north|south|east|west)\b/gi;

/** Understands report requests by keywords; asks which period when none is given. */
export class ScenarioCognitive implements Cognitive {
  async understand(
    input: string,
    ctx: { clarifications: { answer: string; slot?: string }[] },
  ): Promise<Intent> {
    await Promise.resolve();
    const answered = ctx.clarifications.find((c) => c.slot === 'period')?.answer;
    const period = PERIOD.exec(input)?.[0] ?? answered;
    const regions = [...new Set((input.match(REGION) ?? []).map((r) => r.toLowerCase()))];
    const slots: Record<string, Json> = {
      ...(period ? { period } : {}),
      ...(regions.length ? { regions } : {}),
    };
    const intent: Intent = {
      name: /\b(pay|refund|invoice)\b/i.test(input) ? 'finance.payment' : 'sales.report',
      confidence: 0.9,
      entities: period ? [{ type: 'period', value: period, text: period }] : [],
      slots,
      missingSlots: period ? [] : ['period'],
    };
    if (!period)
      intent.clarification = {
        question: 'Which period should I cover?',
        slot: 'period',
        options: ['last quarter', 'last month', 'this year'],
      };
    return intent;
  }
}

/** Plans the report DAG from the intent's slots and a few keywords. */
export class ScenarioPlanner implements Planner {
  async plan(intent: Intent, ctx: { input: string }) {
    await Promise.resolve();
    const period = String(intent.slots['period'] ?? 'last quarter');
    const wantsMail = /\b(e-?mail|mail|send|share)\b/i.test(ctx.input);
    const todos: TodoInput[] = [
      {
        id: 'collect',
        title: `Collect sales data for ${period}`,
        domain: 'data',
        input: { period, kind: 'collect' },
        idempotent: true,
      },
      {
        id: 'analyse',
        title: 'Analyse by region',
        domain: 'insight',
        dependsOn: ['collect'],
        input: { rows: { $ref: 'collect', path: 'rows' }, kind: 'analyse' },
        idempotent: true,
      },
      {
        id: 'chart',
        title: 'Draw the regional chart',
        domain: 'content',
        dependsOn: ['analyse'],
        input: { kind: 'chart' },
        idempotent: true,
      },
      {
        id: 'draft',
        title: 'Draft the report',
        domain: 'content',
        dependsOn: ['analyse', 'chart'],
        input: { summary: { $ref: 'analyse' }, kind: 'draft' },
        idempotent: true,
      },
    ];
    if (intent.name === 'finance.payment') {
      todos.push({
        id: 'pay',
        title: 'Issue the payment',
        domain: 'ops',
        dependsOn: ['draft'],
        input: { kind: 'pay' },
        approval: {
          required: true,
          risk: 'high',
          reason: 'Moves money: finance approval required',
          roles: ['finance'],
        },
      });
    }
    if (wantsMail) {
      todos.push(
        {
          id: 'recipient',
          title: 'Ask who receives the report',
          domain: 'ops',
          dependsOn: ['draft'],
          input: { kind: 'ask' },
        },
        {
          id: 'send',
          title: 'E-mail the report',
          domain: 'ops',
          dependsOn: ['recipient'],
          input: { to: { $ref: 'recipient', path: 'to' }, kind: 'send' },
          approval: {
            required: true,
            risk: 'medium',
            reason: 'Sends an e-mail outside the team',
            roles: ['approver'],
          },
        },
      );
    }
    return PlanDraftSchema.parse({
      todos,
      rationale: `Report for ${period}${wantsMail ? ', then e-mail it' : ''}.`,
    });
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (ms <= 0) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason as Error);
    });
  });
}

/**
 * One simulated executor for every domain, chosen by `input.kind`. Unknown kinds (todos a human added
 * in plan review) complete with an echo of their input.
 *
 * @param stepDelayMs - simulated work per step
 */
export function scenarioExecutor(stepDelayMs: number): Executor {
  return {
    async execute(todo, input, ctx) {
      const kind = typeof input['kind'] === 'string' ? input['kind'] : 'custom';
      if (kind === 'ask') {
        const to = await ctx.requestInput({
          prompt: 'Who should receive the report? (e-mail address)',
          schema: { type: 'string', format: 'email', minLength: 3 },
          key: 'recipient',
        });
        return { output: { to } };
      }
      ctx.progress(`${todo.title}…`, 10);
      await sleep(stepDelayMs / 2, ctx.signal);
      ctx.progress(`${todo.title}: halfway`, 50);
      await sleep(stepDelayMs / 2, ctx.signal);
      switch (kind) {
        case 'collect': {
          const rows = ['EMEA', 'Americas', 'APAC'].map((region, i) => ({
            region,
            revenue: 120_000 + i * 35_000,
            deals: 40 + i * 7,
          }));
          ctx.delta(`Fetched ${rows.length} regions for ${String(input['period'])}`);
          return { output: { rows, period: input['period'] ?? null } };
        }
        case 'analyse': {
          const rows = Array.isArray(input['rows'])
            ? (input['rows'] as { region: string; revenue: number }[])
            : [];
          const total = rows.reduce((s, r) => s + r.revenue, 0);
          const top = rows.reduce<{ region: string; revenue: number } | undefined>(
            (best, r) => (!best || r.revenue > best.revenue ? r : best),
            undefined,
          );
          ctx.delta(`Total revenue ${total}; top region ${top?.region ?? 'n/a'}`);
          return { output: { total, top: top?.region ?? null, regions: rows.length } };
        }
        case 'chart':
          return { output: { chart: 'bar', url: '/charts/regional.svg' } };
        case 'draft': {
          const text = `Sales report: total ${JSON.stringify(input['summary'])}.`;
          for (const word of text.split(' ')) ctx.delta(`${word} `);
          return { output: { text } };
        }
        case 'send':
          return {
            output: { sent: true, to: input['to'] ?? null, messageId: ctx.idempotencyKey.slice(0, 16) },
          };
        case 'pay':
          return { output: { paid: true, reference: ctx.idempotencyKey.slice(0, 12) } };
        default:
          return { output: { done: true, input } };
      }
    },
  };
}
